import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { BatchProcessor, EventType } from '@aws-lambda-powertools/batch';
import { DuckDBInstance } from '@duckdb/node-api';
import type { Context } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { ObjectStoreError } from '../../../src/adapters/object-store/errors.js';
import { LocalObjectStore } from '../../../src/adapters/object-store/local.js';
import type { ObjectStore } from '../../../src/adapters/object-store/port.js';
import { bronzeManifestSchema } from '../../../src/ingest/bronze-writer.js';
import { consumeStreamBatch } from '../../../src/ingest/dynamodb/consumer.js';
import { type BronzeEvent, bronzeEventSchema, padSequence } from '../../../src/ingest/envelope.js';
import { InvalidSourceRecordError } from '../../../src/ingest/errors.js';
import { parseBronzeKey } from '../../../src/lake/layout.js';
import {
  av,
  compositeKeys,
  insertRecord,
  keysOnlyRecord,
  modifyRecord,
  removeRecord,
  sequenceNumber,
  streamArn,
  streamEvent,
  ttlRemoveRecord,
} from '../../support/builders/dynamodb.js';
import { fixturesDir } from '../../support/fixtures.js';

const FIXTURES = fixturesDir('dynamodb');
const NOW = new Date('2026-11-21T06:15:00.000Z');
const TABLES = { Accounts: 'accounts', Users: 'users', UsageEvents: 'usage_events' } as const;

let dir: string;
let store: LocalObjectStore;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'goldgate-ddb-'));
  store = new LocalObjectStore(dir);
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function listKeys(target: ObjectStore = store): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of target.list('')) keys.push(info.key);
  return keys;
}

/** Every envelope of every committed Bronze run, read back from the gzip JSONL parts. */
async function readBronze(target: ObjectStore = store): Promise<BronzeEvent[]> {
  const events: BronzeEvent[] = [];
  for (const key of await listKeys(target)) {
    const ref = parseBronzeKey(key);
    if (!ref?.file.startsWith('part-')) continue;
    const prefix = key.slice(0, key.lastIndexOf('/') + 1);
    expect(await target.head(`${prefix}_SUCCESS`), `${key} belongs to a committed run`).toBeDefined();
    const text = gunzipSync(await target.get(key)).toString('utf8');
    for (const line of text.split('\n')) {
      if (line === '') continue;
      const event = bronzeEventSchema.parse(JSON.parse(line));
      expect(event.run_id).toBe(ref.runId);
      expect(event.entity).toBe(ref.entity);
      events.push(event);
    }
  }
  return events;
}

// ---------------------------------------------------------------------------
// The AWS samples

const partialResponseSchema = z.strictObject({
  batchItemFailures: z.array(z.strictObject({ itemIdentifier: z.string() })),
});

const rawRecordSchema = z.looseObject({
  eventSource: z.string().optional(),
  eventSourceARN: z.string(),
  dynamodb: z.looseObject({ SequenceNumber: z.string() }).optional(),
  kinesis: z.looseObject({ sequenceNumber: z.string() }).optional(),
});
const rawEventSchema = z.looseObject({ Records: z.array(rawRecordSchema) });
type RawEvent = z.infer<typeof rawEventSchema>;

type Fixture =
  | { readonly kind: 'dynamodb-stream'; readonly file: string; readonly event: RawEvent }
  | { readonly kind: 'kinesis-wrapped'; readonly file: string; readonly event: RawEvent }
  | {
      readonly kind: 'partial-response';
      readonly file: string;
      readonly response: z.infer<typeof partialResponseSchema>;
    };

/** Sort every JSON file of the fixture folder by what it is; a file of no known kind fails the suite. */
function loadFixtures(): Fixture[] {
  const files = readdirSync(fileURLToPath(FIXTURES))
    .filter((name) => name.endsWith('.json'))
    .sort();
  return files.map((file): Fixture => {
    const json: unknown = JSON.parse(readFileSync(new URL(file, FIXTURES), 'utf8'));
    const response = partialResponseSchema.safeParse(json);
    if (response.success) return { kind: 'partial-response', file, response: response.data };
    const event = rawEventSchema.parse(json);
    if (
      event.Records.length > 0 &&
      event.Records.every((r) => r.eventSource === 'aws:dynamodb' && r.dynamodb)
    ) {
      return { kind: 'dynamodb-stream', file, event };
    }
    if (event.Records.length > 0 && event.Records.every((r) => r.kinesis)) {
      return { kind: 'kinesis-wrapped', file, event };
    }
    throw new Error(`${file}: not a fixture kind this suite knows`);
  });
}

const fixtures = loadFixtures();
const streamFixtures = fixtures.flatMap((f) => (f.kind === 'dynamodb-stream' ? [f] : []));
const kinesisFixtures = fixtures.flatMap((f) => (f.kind === 'kinesis-wrapped' ? [f] : []));
const responseFixtures = fixtures.flatMap((f) => (f.kind === 'partial-response' ? [f] : []));

const SAMPLE_EVENT = 'powertools-ts_examples_snippets_batch_samples_sampleDynamoDBStreamsEvent.json';
const SAMPLE_RESPONSE = 'powertools-ts_examples_snippets_batch_samples_sampleDynamoDBStreamsResponse.json';

type Expected = Pick<BronzeEvent, 'key' | 'op' | 'source_ts' | 'seq' | 'payload'>;

/** What each AWS sample must land as, written out by hand (the samples omit times on some records). */
const EXPECTED: Record<string, { readonly ingestDate: string; readonly events: readonly Expected[] }> = {
  [SAMPLE_EVENT]: {
    ingestDate: '2026-11-21',
    events: [
      {
        key: '101',
        op: 'I',
        source_ts: NOW.toISOString(),
        seq: padSequence('3275880929'),
        payload: { Message: 'failure' },
      },
      {
        key: '101',
        op: 'I',
        source_ts: NOW.toISOString(),
        seq: padSequence('8640712661'),
        payload: { SomethingElse: 'success' },
      },
    ],
  },
  'powertools-ts_examples_snippets_parser_samples_exampleDynamoDBStreamPayload.json': {
    ingestDate: '2023-09-06',
    events: [
      {
        key: '101',
        op: 'I',
        source_ts: '2023-09-06T10:45:55.000Z',
        seq: padSequence('111'),
        payload: { Message: 'New item!', Id: '101' },
      },
      {
        key: '101',
        op: 'U',
        source_ts: NOW.toISOString(),
        seq: padSequence('222'),
        payload: { Message: 'This item has changed', Id: '101' },
      },
    ],
  },
  'powertools-ts_packages_parser_tests_events_dynamodb_base.json': {
    ingestDate: '2023-09-06',
    events: [
      {
        key: '101',
        op: 'I',
        source_ts: '2023-09-06T10:45:55.000Z',
        seq: padSequence('111'),
        payload: { Message: 'New item!', Id: '101' },
      },
      {
        key: '101',
        op: 'U',
        source_ts: NOW.toISOString(),
        seq: padSequence('222'),
        payload: { Message: 'This item has changed', Id: '101' },
      },
    ],
  },
};

/** The sample with every record's ARN replaced by a configured table's stream ARN. */
function onTable(event: RawEvent, table: string): RawEvent {
  return { ...event, Records: event.Records.map((r) => ({ ...r, eventSourceARN: streamArn(table) })) };
}

function sequenceNumbers(event: RawEvent): string[] {
  return event.Records.map((r) => r.dynamodb?.SequenceNumber ?? '');
}

describe('the AWS sample events', () => {
  it('are all accounted for: three stream events, one Kinesis-wrapped event, one partial response', () => {
    expect(streamFixtures.map((f) => f.file).sort()).toEqual(Object.keys(EXPECTED).sort());
    expect(kinesisFixtures).toHaveLength(1);
    expect(responseFixtures.map((f) => f.file)).toEqual([SAMPLE_RESPONSE]);
  });

  describe.each(streamFixtures)('$file', ({ file, event }) => {
    it('fails every record when its table is not configured, and resumes at the first', async () => {
      // The samples' ARNs (`eventsource_arn`, `source_arn`) name no table at all.
      const result = await consumeStreamBatch(store, event, { tables: TABLES, now: NOW });
      expect(result.batchItemFailures).toEqual([{ itemIdentifier: sequenceNumbers(event)[0] }]);
      expect(result.failures.map((f) => [f.itemIdentifier, f.code])).toEqual(
        sequenceNumbers(event).map((seq) => [seq, 'UNKNOWN_TABLE']),
      );
      expect(result.landed).toEqual({});
      expect(await listKeys()).toEqual([]);
    });

    it('lands every record as a Bronze envelope once its table is configured', async () => {
      const result = await consumeStreamBatch(store, onTable(event, 'Accounts'), {
        tables: TABLES,
        now: NOW,
      });
      expect(result.batchItemFailures).toEqual([]);
      expect(result.landed).toEqual({ accounts: event.Records.length });
      expect(result.runs).toHaveLength(1);

      const expected = EXPECTED[file];
      if (!expected) throw new Error(`no expectations for ${file}`);
      const runId = result.runs[0]?.runId;
      expect(runId).toBeDefined();
      const events = await readBronze();
      expect(events).toEqual(
        expected.events.map((e) => ({
          source: 'dynamodb',
          entity: 'accounts',
          ...e,
          ingested_at: NOW.toISOString(),
          run_id: runId,
        })),
      );

      const prefix = `bronze/dynamodb/accounts/ingest_date=${expected.ingestDate}/run_id=${runId}/`;
      expect(await listKeys()).toEqual([`${prefix}_SUCCESS`, `${prefix}part-00000.jsonl.gz`]);
      const manifest = bronzeManifestSchema.parse(
        JSON.parse((await store.get(`${prefix}_SUCCESS`)).toString()),
      );
      expect(manifest.event_count).toBe(event.Records.length);
    });
  });

  describe.each(streamFixtures)('$file delivered again', ({ event }) => {
    const later = new Date(NOW.getTime() + 3 * 3_600_000);

    it('adds no Bronze object and gives the same answer', async () => {
      const configured = onTable(event, 'Accounts');
      const first = await consumeStreamBatch(store, configured, { tables: TABLES, now: NOW });
      const keys = await listKeys();
      const bodies = await Promise.all(keys.map((k) => store.get(k)));
      // Later the same day, as Lambda retries: records without a time name their run by the day.
      const again = await consumeStreamBatch(store, configured, { tables: TABLES, now: later });
      expect(await listKeys()).toEqual(keys);
      expect(await Promise.all(keys.map((k) => store.get(k)))).toEqual(bodies);
      expect(again.batchItemFailures).toEqual(first.batchItemFailures);
      expect(again.runs.map((r) => [r.runId, r.alreadyCommitted])).toEqual(
        first.runs.map((r) => [r.runId, true]),
      );
    });

    it('still lands nothing, and answers the same, while its table is not configured', async () => {
      const first = await consumeStreamBatch(store, event, { tables: TABLES, now: NOW });
      const again = await consumeStreamBatch(store, event, { tables: TABLES, now: later });
      expect(again.batchItemFailures).toEqual(first.batchItemFailures);
      expect(await listKeys()).toEqual([]);
    });
  });

  it("answers exactly the sample partial response when the sample handler's record fails", async () => {
    const sample = streamFixtures.find((f) => f.file === SAMPLE_EVENT);
    const response = responseFixtures[0]?.response;
    if (!sample || !response) throw new Error('sample event and response are both needed');
    // The sample's handler fails its second record; here the second record's table is not configured.
    const [first, second] = onTable(sample.event, 'Accounts').Records;
    if (!first || !second) throw new Error('the sample has two records');
    const event = { Records: [first, { ...second, eventSourceARN: streamArn('Orders') }] };
    const result = await consumeStreamBatch(store, event, { tables: TABLES, now: NOW });
    expect(partialResponseSchema.parse({ batchItemFailures: result.batchItemFailures })).toEqual(response);
    expect(result.landed).toEqual({ accounts: 1 });
  });

  it('rejects the Kinesis-wrapped DynamoDB change: every record a failure, nothing landed', async () => {
    const kinesis = kinesisFixtures[0];
    if (!kinesis) throw new Error('the Kinesis-wrapped sample is missing');
    const result = await consumeStreamBatch(store, kinesis.event, { tables: TABLES, now: NOW });
    expect(result.failures).toHaveLength(kinesis.event.Records.length);
    expect(result.failures.every((f) => f.code === 'INVALID_RECORD')).toBe(true);
    // No DynamoDB sequence number to point at: the empty identifier fails the whole batch.
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: '' }]);
    expect(result.landed).toEqual({});
    expect(await listKeys()).toEqual([]);
  });
});

// ---------------------------------------------------------------------------
// Built batches

const account = (id: string, extra: Record<string, ReturnType<typeof av.S>> = {}) => ({
  id: av.S(id),
  plan: av.S('pro'),
  seats: av.N(5),
  ...extra,
});

describe('consumeStreamBatch', () => {
  it('maps INSERT/MODIFY/REMOVE to I/U/D with ApproximateCreationDateTime as source_ts', async () => {
    const event = streamEvent(
      insertRecord({
        table: 'Accounts',
        keys: { id: av.S('a1') },
        image: account('a1'),
        seq: 1,
        at: '2026-11-20T23:59:59Z',
      }),
      modifyRecord({
        table: 'Accounts',
        keys: { id: av.S('a1') },
        image: account('a1', { plan: av.S('team') }),
        oldImage: account('a1'),
        seq: 2,
        at: '2026-11-21T00:00:01Z',
      }),
      removeRecord({
        table: 'Accounts',
        keys: { id: av.S('a1') },
        oldImage: account('a1'),
        seq: 3,
        at: '2026-11-21T00:00:02Z',
      }),
      removeRecord({ table: 'Accounts', keys: { id: av.S('a2') }, seq: 4, at: '2026-11-21T00:00:03Z' }),
    );
    const result = await consumeStreamBatch(store, event, { tables: TABLES, now: NOW });
    expect(result.batchItemFailures).toEqual([]);
    const events = await readBronze();
    expect(events.map((e) => [e.op, e.key, e.source_ts, e.seq])).toEqual([
      ['I', 'a1', '2026-11-20T23:59:59.000Z', padSequence(sequenceNumber(1))],
      ['U', 'a1', '2026-11-21T00:00:01.000Z', padSequence(sequenceNumber(2))],
      ['D', 'a1', '2026-11-21T00:00:02.000Z', padSequence(sequenceNumber(3))],
      ['D', 'a2', '2026-11-21T00:00:03.000Z', padSequence(sequenceNumber(4))],
    ]);
    // Numbers stay the decimal strings DynamoDB sent.
    expect(events[1]?.payload).toEqual({ id: 'a1', plan: 'team', seats: '5' });
    // A delete carries its old image when the stream has one, else only its keys, marked as such.
    expect(events[2]?.payload).toEqual({ id: 'a1', plan: 'pro', seats: '5' });
    expect(events[3]?.payload).toEqual({ id: 'a2' });
    expect(events.map((e) => e.meta)).toEqual([undefined, undefined, undefined, { keys_only: true }]);

    // The run is named after its first record, not the clock.
    const run = result.runs[0];
    expect(run?.ingestDate).toBe('2026-11-20');
    expect(run?.runId.startsWith('20261120T235959Z-')).toBe(true);
  });

  it('lands TTL expiries, marked so that Silver can tell them from deletes', async () => {
    const event = streamEvent(
      insertRecord({
        table: 'Users',
        keys: { id: av.S('u1') },
        image: { id: av.S('u1') },
        seq: 10,
        at: '2026-11-21T01:00:00Z',
      }),
      removeRecord({
        table: 'Users',
        keys: { id: av.S('u2') },
        oldImage: { id: av.S('u2') },
        seq: 11,
        at: '2026-11-21T01:00:01Z',
      }),
      ttlRemoveRecord({
        table: 'Users',
        keys: { id: av.S('u3') },
        oldImage: { id: av.S('u3'), expires_at: av.N(1763686800) },
        seq: 12,
        at: '2026-11-21T01:00:02Z',
      }),
      ttlRemoveRecord({ table: 'Users', keys: { id: av.S('u4') }, seq: 13, at: '2026-11-21T01:00:03Z' }),
    );
    const result = await consumeStreamBatch(store, event, { tables: TABLES, now: NOW });
    expect(result.batchItemFailures).toEqual([]);
    expect(result.ttlExpiries).toBe(2);
    expect(result.landed).toEqual({ users: 4 });
    const events = await readBronze();
    expect(events.map((e) => [e.key, e.op, e.meta])).toEqual([
      ['u1', 'I', undefined],
      ['u2', 'D', undefined],
      ['u3', 'D', { ttl_expiry: true }],
      ['u4', 'D', { ttl_expiry: true, keys_only: true }],
    ]);
    expect(events[2]?.payload).toEqual({ id: 'u3', expires_at: '1763686800' });
    expect(events[3]?.payload).toEqual({ id: 'u4' });
  });

  it('does not take a REMOVE by another service principal, or a MODIFY, for a TTL expiry', async () => {
    const other = {
      ...removeRecord({ table: 'Users', keys: { id: av.S('u5') }, seq: 20 }),
      userIdentity: { type: 'Service', principalId: 'someone.else.amazonaws.com' },
    };
    const modify = {
      ...modifyRecord({ table: 'Users', keys: { id: av.S('u6') }, image: { id: av.S('u6') }, seq: 21 }),
      userIdentity: { type: 'Service', principalId: 'dynamodb.amazonaws.com' },
    };
    const result = await consumeStreamBatch(store, streamEvent(other, modify), { tables: TABLES, now: NOW });
    expect(result.ttlExpiries).toBe(0);
    expect((await readBronze()).map((e) => e.meta)).toEqual([{ keys_only: true }, undefined]);
  });

  it('joins composite keys stably: sorted by name, reserved characters escaped', async () => {
    const event = streamEvent(
      insertRecord({
        table: 'UsageEvents',
        // Given sort key first: the order in the record must not matter.
        keys: { sk: av.S('EVENT#2026-11-21#7'), pk: av.S('ACCOUNT#a1') },
        image: { pk: av.S('ACCOUNT#a1'), sk: av.S('EVENT#2026-11-21#7'), units: av.N(3) },
        seq: 30,
        at: '2026-11-21T02:00:00Z',
      }),
      insertRecord({
        table: 'UsageEvents',
        keys: compositeKeys('a&b=c%', 'x'),
        image: compositeKeys('a&b=c%', 'x'),
        seq: 31,
        at: '2026-11-21T02:00:01Z',
      }),
      insertRecord({
        table: 'UsageEvents',
        keys: { account: av.S('a1'), ts: av.N('123456789012345678901234567890') },
        image: { account: av.S('a1'), ts: av.N('123456789012345678901234567890') },
        seq: 32,
        at: '2026-11-21T02:00:02Z',
      }),
      insertRecord({ table: 'UsageEvents', keys: { n: av.N(42) }, image: { n: av.N(42) }, seq: 33 }),
    );
    const result = await consumeStreamBatch(store, event, { tables: TABLES, now: NOW });
    expect(result.batchItemFailures).toEqual([]);
    expect((await readBronze()).map((e) => e.key)).toEqual([
      'pk=ACCOUNT#a1&sk=EVENT#2026-11-21#7',
      'pk=a%26b%3Dc%25&sk=x',
      'account=a1&ts=123456789012345678901234567890',
      '42',
    ]);
  });

  it('reports records of an unconfigured table by sequence number and lands the rest', async () => {
    const orders = insertRecord({
      table: 'Orders',
      keys: { id: av.S('o1') },
      image: { id: av.S('o1') },
      seq: 41,
    });
    const notAStream = {
      ...orders,
      eventSourceARN: 'arn:aws:dynamodb:eu-west-1:123456789012:table/Accounts',
    };
    const event = streamEvent(
      insertRecord({ table: 'Accounts', keys: { id: av.S('a1') }, image: account('a1'), seq: 40 }),
      orders,
      { ...notAStream, dynamodb: { ...notAStream.dynamodb, SequenceNumber: sequenceNumber(42) } },
      insertRecord({ table: 'Accounts', keys: { id: av.S('a2') }, image: account('a2'), seq: 43 }),
    );
    const result = await consumeStreamBatch(store, event, { tables: TABLES, now: NOW });
    // Lambda resumes at the first failure and delivers 42 and 43 again from there.
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: sequenceNumber(41) }]);
    expect(result.failures.map((f) => [f.code, f.reason])).toEqual([
      ['UNKNOWN_TABLE', 'table Orders is not mapped to an entity'],
      ['UNKNOWN_TABLE', 'eventSourceARN is not a DynamoDB stream ARN'],
    ]);
    expect(result.landed).toEqual({ accounts: 2 });
    expect((await readBronze()).map((e) => e.key)).toEqual(['a1', 'a2']);
  });

  it('does not mistake a table named like an Object.prototype member for a configured one', async () => {
    const record = insertRecord({
      table: 'constructor',
      keys: { id: av.S('x') },
      image: { id: av.S('x') },
      seq: 45,
    });
    const result = await consumeStreamBatch(store, streamEvent(record), { tables: TABLES, now: NOW });
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: sequenceNumber(45) }]);
  });

  it('reports invalid records instead of dropping them', async () => {
    const good = insertRecord({ table: 'Accounts', keys: { id: av.S('a1') }, image: account('a1'), seq: 50 });
    const badAttribute = insertRecord({
      table: 'Accounts',
      keys: { id: av.S('a2') },
      image: account('a2'),
      seq: 51,
    });
    const badEventName = {
      ...good,
      eventName: 'UPDATE',
      dynamodb: { ...good.dynamodb, SequenceNumber: sequenceNumber(52) },
    };
    const keysOnlyModify = {
      ...modifyRecord({ table: 'Accounts', keys: { id: av.S('a3') }, image: account('a3'), seq: 53 }),
    };
    const { NewImage: _dropped, ...keysOnlyChange } = keysOnlyModify.dynamodb;
    const boolKey = insertRecord({
      table: 'Accounts',
      keys: { id: av.BOOL(true) },
      image: account('a4'),
      seq: 54,
    });
    const noSequence = { ...good, dynamodb: { Keys: good.dynamodb.Keys, NewImage: good.dynamodb.NewImage } };
    const event = {
      Records: [
        good,
        { ...badAttribute, dynamodb: { ...badAttribute.dynamodb, NewImage: { id: { X: 'a2' } } } },
        badEventName,
        { ...keysOnlyModify, dynamodb: keysOnlyChange },
        boolKey,
        noSequence,
      ],
    };
    const result = await consumeStreamBatch(store, event, { tables: TABLES, now: NOW });
    expect(result.failures.map((f) => [f.itemIdentifier, f.code])).toEqual([
      [sequenceNumber(51), 'INVALID_RECORD'],
      [sequenceNumber(52), 'INVALID_RECORD'],
      [sequenceNumber(53), 'INVALID_RECORD'],
      [sequenceNumber(54), 'INVALID_RECORD'],
      ['', 'INVALID_RECORD'],
    ]);
    expect(result.failures[0]?.reason).toBe('$.NewImage.id: unknown type descriptor');
    expect(result.failures[2]?.reason).toMatch(/MODIFY without NewImage/);
    // One record has no sequence number to resume from: the whole batch is delivered again.
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: '' }]);
    expect(result.landed).toEqual({ accounts: 1 });
  });

  it('writes one run per entity', async () => {
    const event = streamEvent(
      insertRecord({
        table: 'Accounts',
        keys: { id: av.S('a1') },
        image: account('a1'),
        seq: 60,
        at: '2026-11-21T03:00:00Z',
      }),
      insertRecord({
        table: 'Users',
        keys: { id: av.S('u1') },
        image: { id: av.S('u1') },
        seq: 61,
        at: '2026-11-21T03:00:01Z',
      }),
      insertRecord({
        table: 'Accounts',
        keys: { id: av.S('a2') },
        image: account('a2'),
        seq: 62,
        at: '2026-11-21T03:00:02Z',
      }),
    );
    const result = await consumeStreamBatch(store, event, { tables: TABLES, now: NOW });
    expect(result.landed).toEqual({ accounts: 2, users: 1 });
    expect(result.runs.map((r) => [r.entity, r.events, r.alreadyCommitted])).toEqual([
      ['accounts', 2, false],
      ['users', 1, false],
    ]);
    const successes = (await listKeys()).filter((k) => k.endsWith('/_SUCCESS'));
    expect(successes).toHaveLength(2);
    expect(successes.map((k) => parseBronzeKey(k)?.entity)).toEqual(['accounts', 'users']);
  });

  it('adds no Bronze object when the same batch is delivered again', async () => {
    const event = streamEvent(
      insertRecord({
        table: 'Accounts',
        keys: { id: av.S('a1') },
        image: account('a1'),
        seq: 70,
        at: '2026-11-21T04:00:00Z',
      }),
      ttlRemoveRecord({ table: 'Users', keys: { id: av.S('u1') }, seq: 71, at: '2026-11-21T04:00:01Z' }),
    );
    const first = await consumeStreamBatch(store, event, { tables: TABLES, now: NOW });
    const before = await listKeys();
    expect(before).toHaveLength(4);
    const bodies = await Promise.all(before.map((k) => store.get(k)));

    const again = await consumeStreamBatch(store, event, {
      tables: TABLES,
      now: new Date('2026-11-21T09:00:00.000Z'),
    });
    expect(await listKeys()).toEqual(before);
    expect(await Promise.all(before.map((k) => store.get(k)))).toEqual(bodies);
    expect(again.batchItemFailures).toEqual([]);
    expect(again.landed).toEqual(first.landed);
    expect(again.ttlExpiries).toBe(1);
    expect(again.runs.map((r) => r.runId)).toEqual(first.runs.map((r) => r.runId));
    expect(again.runs.every((r) => r.alreadyCommitted)).toBe(true);

    // A batch that differs (Lambda resumed mid-way) is a new run, not a lost one.
    const resumed = streamEvent(
      insertRecord({
        table: 'Accounts',
        keys: { id: av.S('a2') },
        image: account('a2'),
        seq: 72,
        at: '2026-11-21T04:00:02Z',
      }),
    );
    await consumeStreamBatch(store, resumed, { tables: TABLES, now: NOW });
    expect((await listKeys()).length).toBe(before.length + 2);
  });

  it('reports every record of an entity whose run could not be written', async () => {
    class FailingStore extends LocalObjectStore {
      override async put(key: string, body: Uint8Array | string): Promise<void> {
        if (key.startsWith('bronze/dynamodb/users/')) throw new ObjectStoreError('write failed');
        return super.put(key, body);
      }
    }
    const failing = new FailingStore(dir);
    const event = streamEvent(
      insertRecord({ table: 'Accounts', keys: { id: av.S('a1') }, image: account('a1'), seq: 80 }),
      insertRecord({ table: 'Users', keys: { id: av.S('u1') }, image: { id: av.S('u1') }, seq: 81 }),
      ttlRemoveRecord({ table: 'Users', keys: { id: av.S('u2') }, seq: 82 }),
      insertRecord({ table: 'Accounts', keys: { id: av.S('a2') }, image: account('a2'), seq: 83 }),
    );
    const result = await consumeStreamBatch(failing, event, { tables: TABLES, now: NOW });
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: sequenceNumber(81) }]);
    expect(result.failures.map((f) => f.itemIdentifier)).toEqual([sequenceNumber(81), sequenceNumber(82)]);
    expect(result.failures.every((f) => f.code === 'WRITE_FAILED' && f.entity === 'users')).toBe(true);
    expect(result.landed).toEqual({ accounts: 2 });
    expect(result.ttlExpiries).toBe(0);
    expect((await readBronze(failing)).map((e) => e.entity)).toEqual(['accounts', 'accounts']);

    // Redelivered to a healthy store, the failed entity lands and the landed one is not written twice.
    const retry = await consumeStreamBatch(store, event, { tables: TABLES, now: NOW });
    expect(retry.batchItemFailures).toEqual([]);
    expect(retry.runs.map((r) => [r.entity, r.alreadyCommitted])).toEqual([
      ['accounts', true],
      ['users', false],
    ]);
  });

  it('writes nothing for an empty batch and throws for something that is not a stream event', async () => {
    const result = await consumeStreamBatch(store, { Records: [] }, { tables: TABLES, now: NOW });
    expect(result).toEqual({
      batchItemFailures: [],
      landed: {},
      ttlExpiries: 0,
      keysOnly: 0,
      failures: [],
      runs: [],
    });
    for (const notAnEvent of [{ records: [] }, { Records: [null] }, { Records: ['x'] }, null]) {
      await expect(consumeStreamBatch(store, notAnEvent, { tables: TABLES })).rejects.toThrow(
        InvalidSourceRecordError,
      );
    }
    expect(await listKeys()).toEqual([]);
  });
});

// ---------------------------------------------------------------------------
// Stream view types: KEYS_ONLY streams and missing images

describe('stream view types', () => {
  it('lands every change of a KEYS_ONLY stream with its keys, marked keys-only', async () => {
    const keys = { id: av.S('a1') };
    const event = streamEvent(
      keysOnlyRecord({ eventName: 'INSERT', table: 'Accounts', keys, seq: 100, at: '2026-11-21T05:00:00Z' }),
      keysOnlyRecord({ eventName: 'MODIFY', table: 'Accounts', keys, seq: 101, at: '2026-11-21T05:00:01Z' }),
      keysOnlyRecord({ eventName: 'REMOVE', table: 'Accounts', keys, seq: 102, at: '2026-11-21T05:00:02Z' }),
      {
        ...keysOnlyRecord({ eventName: 'REMOVE', table: 'Accounts', keys: { id: av.S('a2') }, seq: 103 }),
        userIdentity: { type: 'Service', principalId: 'dynamodb.amazonaws.com' },
      },
    );
    const result = await consumeStreamBatch(store, event, { tables: TABLES, now: NOW });
    expect(result.batchItemFailures).toEqual([]);
    expect(result.keysOnly).toBe(4);
    expect(result.ttlExpiries).toBe(1);
    expect((await readBronze()).map((e) => [e.op, e.key, e.payload, e.meta])).toEqual([
      ['I', 'a1', { id: 'a1' }, { keys_only: true }],
      ['U', 'a1', { id: 'a1' }, { keys_only: true }],
      ['D', 'a1', { id: 'a1' }, { keys_only: true }],
      ['D', 'a2', { id: 'a2' }, { ttl_expiry: true, keys_only: true }],
    ]);
  });

  it("never lands an old image as the state after an OLD_IMAGE stream's INSERT or MODIFY", async () => {
    const event = streamEvent(
      insertRecord({
        viewType: 'OLD_IMAGE',
        table: 'Accounts',
        keys: { id: av.S('a1') },
        image: account('a1'),
        seq: 110,
      }),
      modifyRecord({
        viewType: 'OLD_IMAGE',
        table: 'Accounts',
        keys: { id: av.S('a1') },
        image: account('a1', { plan: av.S('team') }),
        oldImage: account('a1'),
        seq: 111,
      }),
      removeRecord({
        viewType: 'OLD_IMAGE',
        table: 'Accounts',
        keys: { id: av.S('a1') },
        oldImage: account('a1'),
        seq: 112,
      }),
    );
    const result = await consumeStreamBatch(store, event, { tables: TABLES, now: NOW });
    expect(result.batchItemFailures).toEqual([]);
    expect((await readBronze()).map((e) => [e.op, e.payload, e.meta])).toEqual([
      ['I', { id: 'a1' }, { keys_only: true }],
      ['U', { id: 'a1' }, { keys_only: true }],
      ['D', { id: 'a1', plan: 'pro', seats: '5' }, undefined],
    ]);
  });

  it("lands a NEW_IMAGE stream's changes whole and its deletes keys-only", async () => {
    const event = streamEvent(
      modifyRecord({
        viewType: 'NEW_IMAGE',
        table: 'Accounts',
        keys: { id: av.S('a1') },
        image: account('a1'),
        oldImage: account('a1'),
        seq: 120,
      }),
      removeRecord({
        viewType: 'NEW_IMAGE',
        table: 'Accounts',
        keys: { id: av.S('a1') },
        oldImage: account('a1'),
        seq: 121,
      }),
    );
    await consumeStreamBatch(store, event, { tables: TABLES, now: NOW });
    expect((await readBronze()).map((e) => [e.op, e.payload, e.meta])).toEqual([
      ['U', { id: 'a1', plan: 'pro', seats: '5' }, undefined],
      ['D', { id: 'a1' }, { keys_only: true }],
    ]);
  });

  it('fails an INSERT or MODIFY whose promised (or unstated) new image is missing', async () => {
    const promised = modifyRecord({
      table: 'Accounts',
      keys: { id: av.S('a1') },
      image: account('a1'),
      seq: 130,
    });
    const { NewImage: _dropped, ...withoutImage } = promised.dynamodb;
    const { StreamViewType: _unstated, ...unstated } = withoutImage;
    const event = {
      Records: [
        { ...promised, dynamodb: withoutImage },
        { ...promised, dynamodb: { ...unstated, SequenceNumber: sequenceNumber(131) } },
        {
          ...promised,
          dynamodb: { ...withoutImage, StreamViewType: 'NEW_IMAGE', SequenceNumber: sequenceNumber(132) },
        },
      ],
    };
    const result = await consumeStreamBatch(store, event, { tables: TABLES, now: NOW });
    expect(result.failures.map((f) => [f.itemIdentifier, f.code, f.reason])).toEqual([
      [sequenceNumber(130), 'INVALID_RECORD', 'MODIFY without NewImage on a NEW_AND_OLD_IMAGES stream'],
      [sequenceNumber(131), 'INVALID_RECORD', 'MODIFY without NewImage on a stream of unstated view type'],
      [sequenceNumber(132), 'INVALID_RECORD', 'MODIFY without NewImage on a NEW_IMAGE stream'],
    ]);
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: sequenceNumber(130) }]);
    expect(await listKeys()).toEqual([]);
  });
});

// ---------------------------------------------------------------------------
// Numbers: exact from the stream to the typed value Silver reads

describe('numbers', () => {
  const values = {
    tenth: '0.1',
    third: '0.3',
    money: '1234567.89',
    beyond_double: '12345678901234567890.123456789',
    max_digits: '99999999999999999999999999999999999999',
    tiny: '1E-18',
    negative_zero: '-0',
  };

  it('land as the decimal text DynamoDB sent, which a SQL cast reads exactly', async () => {
    const image = Object.fromEntries(Object.entries(values).map(([name, text]) => [name, av.N(text)]));
    const event = streamEvent(
      insertRecord({
        table: 'Accounts',
        keys: { id: av.S('n1') },
        image: { id: av.S('n1'), ...image },
        seq: 140,
      }),
    );
    const result = await consumeStreamBatch(store, event, { tables: TABLES, now: NOW });
    expect(result.batchItemFailures).toEqual([]);
    const [landed] = await readBronze();
    expect(landed?.payload).toEqual({ id: 'n1', ...values });

    // Silver's way: the payload read as JSON, each field taken as text and cast to its contract type.
    const part = (await listKeys()).find((k) => k.endsWith('.jsonl.gz'));
    if (!part) throw new Error('no Bronze part');
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    try {
      const casts = Object.keys(values)
        .map(
          (name) =>
            `TRY_CAST(json_extract_string(payload, '$.${name}') AS DECIMAL(38, 18))::VARCHAR AS ${name}`,
        )
        .join(', ');
      const reader = await connection.runAndReadAll(
        `SELECT ${casts} FROM read_json('${join(dir, part)}', format = 'newline_delimited', compression = 'gzip', columns = {payload: 'JSON'})`,
      );
      expect(reader.getRowObjectsJson()).toEqual([
        {
          tenth: '0.100000000000000000',
          third: '0.300000000000000000',
          money: '1234567.890000000000000000',
          beyond_double: '12345678901234567890.123456789000000000',
          // 38 integer digits leave no room for 18 decimals: a wide enough type reads it, below.
          max_digits: null,
          tiny: '0.000000000000000001',
          negative_zero: '0.000000000000000000',
        },
      ]);
      const wide = await connection.runAndReadAll(
        `SELECT CAST(json_extract_string(payload, '$.max_digits') AS DECIMAL(38, 0))::VARCHAR AS v FROM read_json('${join(dir, part)}', format = 'newline_delimited', compression = 'gzip', columns = {payload: 'JSON'})`,
      );
      expect(wide.getRowObjectsJson()).toEqual([{ v: values.max_digits }]);
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  });
});

// ---------------------------------------------------------------------------
// Order, partial batch responses and redelivery

describe('in-order processing and the partial batch response', () => {
  it('reads the records with a Powertools BatchProcessor for DynamoDB Streams, one at a time', async () => {
    const register = vi.spyOn(BatchProcessor.prototype, 'register');
    const original = BatchProcessor.prototype.processRecord;
    let inFlight = 0;
    let mostInFlight = 0;
    vi.spyOn(BatchProcessor.prototype, 'processRecord').mockImplementation(async function (
      this: BatchProcessor,
      record,
    ) {
      inFlight++;
      mostInFlight = Math.max(mostInFlight, inFlight);
      try {
        // Give a parallel processor every chance to start the next record meanwhile.
        await new Promise((resolve) => setTimeout(resolve, 1));
        return await original.call(this, record);
      } finally {
        inFlight--;
      }
    });
    try {
      const event = streamEvent(
        ...[0, 1, 2, 3, 4].map((n) =>
          insertRecord({
            table: 'Accounts',
            keys: { id: av.S(`a${n}`) },
            image: account(`a${n}`),
            seq: 150 + n,
          }),
        ),
      );
      await consumeStreamBatch(store, event, { tables: TABLES, now: NOW });
      expect(mostInFlight).toBe(1);
      expect(register).toHaveBeenCalledTimes(1);
      const processor = register.mock.contexts[0];
      expect(processor).toBeInstanceOf(BatchProcessor);
      expect(processor).toMatchObject({ eventType: EventType.DynamoDBStreams });
      expect(register.mock.calls[0]?.[2]).toMatchObject({ processInParallel: false });
    } finally {
      vi.restoreAllMocks();
    }
  });

  it('keeps the batch order in Bronze, lands the records after a failure and resumes at the first', async () => {
    const event = streamEvent(
      insertRecord({ table: 'Accounts', keys: { id: av.S('a1') }, image: account('a1'), seq: 160 }),
      insertRecord({ table: 'Users', keys: { id: av.S('u1') }, image: { id: av.S('u1') }, seq: 161 }),
      modifyRecord({
        table: 'Accounts',
        keys: { id: av.S('a1') },
        image: account('a1', { plan: av.S('team') }),
        seq: 162,
      }),
      insertRecord({ table: 'Orders', keys: { id: av.S('o1') }, image: { id: av.S('o1') }, seq: 163 }),
      removeRecord({ table: 'Accounts', keys: { id: av.S('a1') }, seq: 164 }),
      insertRecord({ table: 'Orders', keys: { id: av.S('o2') }, image: { id: av.S('o2') }, seq: 165 }),
      insertRecord({ table: 'Users', keys: { id: av.S('u2') }, image: { id: av.S('u2') }, seq: 166 }),
    );
    const result = await consumeStreamBatch(store, event, { tables: TABLES, now: NOW });
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: sequenceNumber(163) }]);
    expect(result.failures.map((f) => f.itemIdentifier)).toEqual([sequenceNumber(163), sequenceNumber(165)]);
    expect(result.landed).toEqual({ accounts: 3, users: 2 });
    const events = await readBronze();
    expect(events.filter((e) => e.entity === 'accounts').map((e) => [e.op, e.seq])).toEqual([
      ['I', padSequence(sequenceNumber(160))],
      ['U', padSequence(sequenceNumber(162))],
      ['D', padSequence(sequenceNumber(164))],
    ]);
    expect(events.filter((e) => e.entity === 'users').map((e) => e.key)).toEqual(['u1', 'u2']);
  });

  it('answers a batch whose every record failed like any other: resume at its first record', async () => {
    const event = streamEvent(
      insertRecord({ table: 'Orders', keys: { id: av.S('o1') }, image: { id: av.S('o1') }, seq: 170 }),
      insertRecord({ table: 'Orders', keys: { id: av.S('o2') }, image: { id: av.S('o2') }, seq: 171 }),
    );
    const result = await consumeStreamBatch(store, event, { tables: TABLES, now: NOW });
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: sequenceNumber(170) }]);
    expect(result.failures).toHaveLength(2);
  });

  it('loses nothing when a redelivered batch lands a record that failed the first time', async () => {
    const event = streamEvent(
      insertRecord({
        table: 'Accounts',
        keys: { id: av.S('a1') },
        image: account('a1'),
        seq: 180,
        at: '2026-11-21T05:10:00Z',
      }),
      insertRecord({
        table: 'Billing',
        keys: { id: av.S('a1') },
        image: account('a1'),
        seq: 181,
        at: '2026-11-21T05:10:01Z',
      }),
      insertRecord({
        table: 'Accounts',
        keys: { id: av.S('a2') },
        image: account('a2'),
        seq: 182,
        at: '2026-11-21T05:10:02Z',
      }),
    );
    const first = await consumeStreamBatch(store, event, { tables: TABLES, now: NOW });
    expect(first.batchItemFailures).toEqual([{ itemIdentifier: sequenceNumber(181) }]);
    // The same records again (the whole batch, as after a timeout), now with Billing configured:
    // the accounts run holds other records than before, so it is a new run, not one already done.
    const fixed = { ...TABLES, Billing: 'accounts' };
    const again = await consumeStreamBatch(store, event, { tables: fixed, now: NOW });
    expect(again.batchItemFailures).toEqual([]);
    expect(again.runs.map((r) => r.alreadyCommitted)).toEqual([false]);
    expect(again.runs[0]?.runId).not.toBe(first.runs[0]?.runId);
    const seqs = (await readBronze()).map((e) => e.seq);
    expect(new Set(seqs)).toEqual(new Set([180, 181, 182].map((n) => padSequence(sequenceNumber(n)))));
  });

  it('fails a record on an unexpected error instead of failing the batch', async () => {
    const tables = Object.defineProperty({ ...TABLES }, 'Broken', {
      enumerable: true,
      get: () => {
        throw new Error('configuration bug');
      },
    });
    const event = streamEvent(
      insertRecord({ table: 'Accounts', keys: { id: av.S('a1') }, image: account('a1'), seq: 190 }),
      insertRecord({ table: 'Broken', keys: { id: av.S('b1') }, image: { id: av.S('b1') }, seq: 191 }),
    );
    const result = await consumeStreamBatch(store, event, { tables, now: NOW });
    expect(result.failures.map((f) => [f.itemIdentifier, f.code, f.reason])).toEqual([
      [sequenceNumber(191), 'PROCESSING_FAILED', 'configuration bug'],
    ]);
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: sequenceNumber(191) }]);
    expect(result.landed).toEqual({ accounts: 1 });
  });
});

// ---------------------------------------------------------------------------
// The Lambda handler, wired to the embedded store

describe('ddb-stream handler', () => {
  const context = {
    callbackWaitsForEmptyEventLoop: false,
    functionName: 'goldgate-ddb-stream',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:goldgate-ddb-stream',
    memoryLimitInMB: '256',
    awsRequestId: 'req-1',
    logGroupName: '/aws/lambda/goldgate-ddb-stream',
    logStreamName: 'stream',
    getRemainingTimeInMillis: () => 30_000,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  } satisfies Context;

  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });

  it('lands a batch, logs each failure and answers only the partial batch response', async () => {
    vi.stubEnv('GOLDGATE_HOME', 'embedded');
    vi.stubEnv('GOLDGATE_LAKE_DIR', dir);
    vi.stubEnv('GOLDGATE_LOG_LEVEL', 'SILENT');
    vi.stubEnv('GOLDGATE_DDB_TABLES', JSON.stringify({ Accounts: 'accounts' }));
    const { logger } = await import('../../../src/runtime/logger.js');
    const { handler } = await import('../../../src/handlers/ddb-stream.js');
    const warn = vi.spyOn(logger, 'warn');

    const event = streamEvent(
      insertRecord({ table: 'Accounts', keys: { id: av.S('a1') }, image: account('a1'), seq: 90 }),
      insertRecord({ table: 'Orders', keys: { id: av.S('o1') }, image: { id: av.S('o1') }, seq: 91 }),
    );
    // The handler takes @types/aws-lambda's event, which is what the builders produce.
    const response = await handler(event as Parameters<typeof handler>[0], context, () => undefined);
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: sequenceNumber(91) }] });
    expect(warn).toHaveBeenCalledTimes(1);
    expect((await readBronze()).map((e) => e.key)).toEqual(['a1']);
  });
});

describe('GOLDGATE_DDB_TABLES', () => {
  it('is read as JSON mapping table names to entities', async () => {
    const { parseStreamTables } = await import('../../../src/handlers/ddb-stream.js');
    expect(
      parseStreamTables({ GOLDGATE_DDB_TABLES: '{"Accounts":"accounts","usage-events.v2":"usage_events"}' }),
    ).toEqual({
      Accounts: 'accounts',
      'usage-events.v2': 'usage_events',
    });
  });

  it.each([
    ['missing', undefined],
    ['not JSON', '{Accounts: accounts}'],
    ['not a map', '["accounts"]'],
    ['empty', '{}'],
    ['an entity that is not a lake name', '{"Accounts":"Accounts"}'],
    ['a table name DynamoDB would refuse', '{"a b":"accounts"}'],
  ])('is refused when %s, naming the setting', async (_what, value) => {
    const { parseStreamTables } = await import('../../../src/handlers/ddb-stream.js');
    const { ConfigError } = await import('../../../src/config/errors.js');
    const env = value === undefined ? {} : { GOLDGATE_DDB_TABLES: value };
    expect(() => parseStreamTables(env)).toThrow(ConfigError);
    expect(() => parseStreamTables(env)).toThrow(/GOLDGATE_DDB_TABLES/);
  });
});
