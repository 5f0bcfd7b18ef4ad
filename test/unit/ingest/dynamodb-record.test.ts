import { describe, expect, it } from 'vitest';
import { type RecordOutcome, stableKey, streamRecordToEvent } from '../../../src/ingest/dynamodb/record.js';
import type { StreamViewType } from '../../../src/ingest/dynamodb/stream-event.js';
import { padSequence } from '../../../src/ingest/envelope.js';
import {
  av,
  insertRecord,
  keysOnlyRecord,
  modifyRecord,
  removeRecord,
  sequenceNumber,
  ttlRemoveRecord,
} from '../../support/builders/dynamodb.js';

const TABLES = { Accounts: 'accounts' } as const;
const INGESTED_AT = '2026-11-21T06:15:00.000Z';
const KEYS = { id: av.S('a1') };
const IMAGE = { id: av.S('a1'), seats: av.N('5') };
const OLD = { id: av.S('a1'), seats: av.N('4') };

function accepted(outcome: RecordOutcome) {
  if ('failure' in outcome) throw new Error(`expected an event, got ${outcome.failure.reason}`);
  return outcome.accepted;
}

function failed(outcome: RecordOutcome) {
  if (!('failure' in outcome)) throw new Error('expected a failure');
  return outcome.failure;
}

describe('streamRecordToEvent', () => {
  it('maps a record to the Bronze envelope', () => {
    const record = insertRecord({
      table: 'Accounts',
      keys: KEYS,
      image: IMAGE,
      seq: 7,
      at: '2026-11-21T01:02:03Z',
    });
    const a = accepted(streamRecordToEvent(record, TABLES, INGESTED_AT));
    expect(a.draft).toEqual({
      source: 'dynamodb',
      entity: 'accounts',
      key: 'a1',
      op: 'I',
      source_ts: '2026-11-21T01:02:03.000Z',
      seq: padSequence(sequenceNumber(7)),
      ingested_at: INGESTED_AT,
      payload: { id: 'a1', seats: '5' },
    });
    expect([a.sequenceNumber, a.timed, a.ttlExpiry, a.keysOnly]).toEqual([
      sequenceNumber(7),
      true,
      false,
      false,
    ]);
  });

  // What lands for each event on each view type: the payload's source and the meta marks.
  const cases: [StreamViewType, 'INSERT' | 'MODIFY' | 'REMOVE', 'I' | 'U' | 'D', 'new' | 'old' | 'keys'][] = [
    ['NEW_AND_OLD_IMAGES', 'INSERT', 'I', 'new'],
    ['NEW_AND_OLD_IMAGES', 'MODIFY', 'U', 'new'],
    ['NEW_AND_OLD_IMAGES', 'REMOVE', 'D', 'old'],
    ['NEW_IMAGE', 'INSERT', 'I', 'new'],
    ['NEW_IMAGE', 'MODIFY', 'U', 'new'],
    ['NEW_IMAGE', 'REMOVE', 'D', 'keys'],
    ['OLD_IMAGE', 'INSERT', 'I', 'keys'],
    ['OLD_IMAGE', 'MODIFY', 'U', 'keys'],
    ['OLD_IMAGE', 'REMOVE', 'D', 'old'],
    ['KEYS_ONLY', 'INSERT', 'I', 'keys'],
    ['KEYS_ONLY', 'MODIFY', 'U', 'keys'],
    ['KEYS_ONLY', 'REMOVE', 'D', 'keys'],
  ];

  it.each(cases)('on a %s stream lands %s as %s with the %s payload', (viewType, eventName, op, from) => {
    const common = { table: 'Accounts', keys: KEYS, seq: 1, viewType };
    const record =
      eventName === 'INSERT'
        ? insertRecord({ ...common, image: IMAGE })
        : eventName === 'MODIFY'
          ? modifyRecord({ ...common, image: IMAGE, oldImage: OLD })
          : removeRecord({ ...common, oldImage: OLD });
    const a = accepted(streamRecordToEvent(record, TABLES, INGESTED_AT));
    const payloads = { new: { id: 'a1', seats: '5' }, old: { id: 'a1', seats: '4' }, keys: { id: 'a1' } };
    expect(a.draft.op).toBe(op);
    expect(a.draft.payload).toEqual(payloads[from]);
    expect(a.draft.meta).toEqual(from === 'keys' ? { keys_only: true } : undefined);
    expect(a.keysOnly).toBe(from === 'keys');
  });

  it('marks a TTL expiry, with or without its old image', () => {
    const withImage = accepted(
      streamRecordToEvent(
        ttlRemoveRecord({ table: 'Accounts', keys: KEYS, oldImage: OLD, seq: 1 }),
        TABLES,
        INGESTED_AT,
      ),
    );
    expect(withImage.draft.meta).toEqual({ ttl_expiry: true });
    const keysOnly = {
      ...keysOnlyRecord({ eventName: 'REMOVE', table: 'Accounts', keys: KEYS, seq: 2 }),
      userIdentity: { type: 'Service', principalId: 'dynamodb.amazonaws.com' },
    };
    expect(accepted(streamRecordToEvent(keysOnly, TABLES, INGESTED_AT)).draft.meta).toEqual({
      ttl_expiry: true,
      keys_only: true,
    });
  });

  it('takes source_ts from ApproximateCreationDateTime, fractions included, else the ingest time', () => {
    const record = insertRecord({ table: 'Accounts', keys: KEYS, image: IMAGE, seq: 1 });
    const at = (seconds: number | undefined) =>
      streamRecordToEvent(
        { ...record, dynamodb: { ...record.dynamodb, ApproximateCreationDateTime: seconds } },
        TABLES,
        INGESTED_AT,
      );
    expect(accepted(at(1693997155.25)).draft.source_ts).toBe('2023-09-06T10:45:55.250Z');
    expect(accepted(at(0)).draft.source_ts).toBe('1970-01-01T00:00:00.000Z');
    const untimed = accepted(at(undefined));
    expect([untimed.draft.source_ts, untimed.timed]).toEqual([INGESTED_AT, false]);
  });

  it.each([
    ['milliseconds by mistake', 1731924555370],
    ['past what a Date can hold', 1e20],
  ])('fails a record whose ApproximateCreationDateTime is %s, without throwing', (_what, seconds) => {
    const record = insertRecord({ table: 'Accounts', keys: KEYS, image: IMAGE, seq: 3 });
    const f = failed(
      streamRecordToEvent(
        { ...record, dynamodb: { ...record.dynamodb, ApproximateCreationDateTime: seconds } },
        TABLES,
        INGESTED_AT,
      ),
    );
    expect([f.itemIdentifier, f.code, f.reason]).toEqual([
      sequenceNumber(3),
      'INVALID_RECORD',
      'ApproximateCreationDateTime is past the year 9999',
    ]);
  });

  it('refuses a table mapped to something that is not an entity name', () => {
    const record = insertRecord({ table: 'Accounts', keys: KEYS, image: IMAGE, seq: 4 });
    const f = failed(streamRecordToEvent(record, { Accounts: '../x' }, INGESTED_AT));
    expect(f.code).toBe('UNKNOWN_TABLE');
  });

  it('reports a record without a usable sequence number with the empty identifier', () => {
    const record = insertRecord({ table: 'Accounts', keys: KEYS, image: IMAGE, seq: 5 });
    for (const SequenceNumber of [undefined, 'abc', '1'.repeat(41), 12]) {
      const f = failed(
        streamRecordToEvent(
          { ...record, dynamodb: { ...record.dynamodb, SequenceNumber } },
          TABLES,
          INGESTED_AT,
        ),
      );
      expect([f.itemIdentifier, f.code]).toEqual(['', 'INVALID_RECORD']);
    }
  });
});

describe('stableKey', () => {
  it('is the value of a single key, whatever its type', () => {
    expect(stableKey({ id: 'a1' })).toBe('a1');
    expect(stableKey({ n: '12345678901234567890' })).toBe('12345678901234567890');
  });

  it('joins a composite key sorted by name, escaping the separators', () => {
    expect(stableKey({ sk: 'x', pk: 'a&b=c%' })).toBe('pk=a%26b%3Dc%25&sk=x');
    expect(stableKey({ 'p=k': '1', a: '2' })).toBe('a=2&p%3Dk=1');
  });

  it('refuses a key attribute that is not a string, number or binary', () => {
    expect(() => stableKey({ id: true })).toThrow(/\$\.Keys\.id/);
    expect(() => stableKey({ id: null })).toThrow(/\$\.Keys\.id/);
  });
});
