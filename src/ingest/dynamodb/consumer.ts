import type { z } from 'zod';
import type { ObjectStore } from '../../adapters/object-store/port.js';
import { describeError } from '../../errors.js';
import type { BronzeRunRef } from '../../lake/layout.js';
import { deterministicRunId, utcDate } from '../../lake/run-id.js';
import { writeBronzeRun } from '../bronze-writer.js';
import { type BronzeEvent, bronzeEventSchema, padSequence, toUtcInstant } from '../envelope.js';
import { InvalidSourceRecordError } from '../errors.js';
import {
  type DynamoDBStreamRecord,
  dynamoDBStreamRecordSchema,
  isTtlExpiry,
  streamBatchSchema,
  tableNameFromStreamArn,
} from './stream-event.js';
import { type JsonValue, unmarshall } from './unmarshall.js';

const SOURCE = 'dynamodb';

export interface StreamConsumerOptions {
  /** DynamoDB table name -> Bronze entity (`{"Accounts": "accounts"}`). */
  readonly tables: Readonly<Record<string, string>>;
  /** The clock: `ingested_at`, and `source_ts` of records without `ApproximateCreationDateTime`. */
  readonly now?: Date;
}

/** One entry of Lambda's partial batch response. */
export interface BatchItemFailure {
  readonly itemIdentifier: string;
}

/** Why a record was not landed, for the caller to log. */
export interface StreamRecordFailure {
  /**
   * The record's `SequenceNumber`, or `''` when it has none: Lambda treats an
   * empty identifier as a failure of the whole batch, the only safe answer
   * for a record it cannot point at.
   */
  readonly itemIdentifier: string;
  readonly eventID: string | undefined;
  readonly code: 'INVALID_RECORD' | 'UNKNOWN_TABLE' | 'WRITE_FAILED';
  readonly reason: string;
  readonly entity?: string;
}

/** One Bronze run this batch wrote (or found already written by an earlier delivery). */
export interface StreamRunReport {
  readonly entity: string;
  readonly ingestDate: string;
  readonly runId: string;
  readonly events: number;
  readonly alreadyCommitted: boolean;
}

/** What a batch did. `batchItemFailures` is the Lambda partial batch response. */
export interface StreamBatchResult {
  readonly batchItemFailures: BatchItemFailure[];
  /** Events landed (or found landed) per entity. */
  readonly landed: Record<string, number>;
  /** TTL-expiry REMOVEs among the landed events. */
  readonly ttlExpiries: number;
  readonly failures: readonly StreamRecordFailure[];
  readonly runs: readonly StreamRunReport[];
}

/** An event before its run is known. */
type DraftEvent = Omit<BronzeEvent, 'run_id'>;

interface Accepted {
  readonly sequenceNumber: string;
  readonly eventID: string;
  readonly arn: string;
  readonly draft: DraftEvent;
  /** The record carried `ApproximateCreationDateTime`: its time may name the run. */
  readonly timed: boolean;
  readonly ttlExpiry: boolean;
}

const draftSchema = bronzeEventSchema.omit({ run_id: true });

/**
 * Land one Lambda DynamoDB Streams batch in Bronze, one deterministic run per
 * entity, and say which records Lambda must deliver again.
 */
export async function consumeStreamBatch(
  store: ObjectStore,
  event: unknown,
  options: StreamConsumerOptions,
): Promise<StreamBatchResult> {
  const batch = streamBatchSchema.safeParse(event);
  // Without a record list nothing can be pointed at: throwing fails the whole batch, which Lambda retries.
  if (!batch.success) throw new InvalidSourceRecordError('not a stream event: expected a Records array');
  const now = options.now ?? new Date();
  const ingestedAt = now.toISOString();

  const failures: StreamRecordFailure[] = [];
  const byEntity = new Map<string, Accepted[]>();
  for (const raw of batch.data.Records) {
    const outcome = acceptRecord(raw, options.tables, ingestedAt);
    if ('failure' in outcome) {
      failures.push(outcome.failure);
      continue;
    }
    const group = byEntity.get(outcome.accepted.draft.entity);
    if (group) group.push(outcome.accepted);
    else byEntity.set(outcome.accepted.draft.entity, [outcome.accepted]);
  }

  const landed: Record<string, number> = {};
  const runs: StreamRunReport[] = [];
  let ttlExpiries = 0;
  for (const [entity, group] of byEntity) {
    const ref = runRef(entity, group, now);
    const events: BronzeEvent[] = group.map((a) => ({ ...a.draft, run_id: ref.runId }));
    try {
      const { alreadyCommitted } = await writeBronzeRun(store, ref, events, { now });
      landed[entity] = events.length;
      ttlExpiries += group.filter((a) => a.ttlExpiry).length;
      runs.push({
        entity,
        ingestDate: ref.ingestDate,
        runId: ref.runId,
        events: events.length,
        alreadyCommitted,
      });
    } catch (error) {
      const reason = describeError(error).message;
      for (const a of group) {
        failures.push({
          itemIdentifier: a.sequenceNumber,
          eventID: a.eventID,
          code: 'WRITE_FAILED',
          reason,
          entity,
        });
      }
    }
  }

  const seen = new Set<string>();
  const batchItemFailures: BatchItemFailure[] = [];
  for (const failure of failures) {
    if (seen.has(failure.itemIdentifier)) continue;
    seen.add(failure.itemIdentifier);
    batchItemFailures.push({ itemIdentifier: failure.itemIdentifier });
  }
  return { batchItemFailures, landed, ttlExpiries, failures, runs };
}

type Outcome = { readonly accepted: Accepted } | { readonly failure: StreamRecordFailure };

function acceptRecord(raw: unknown, tables: StreamConsumerOptions['tables'], ingestedAt: string): Outcome {
  const parsed = dynamoDBStreamRecordSchema.safeParse(raw);
  if (!parsed.success) {
    return {
      failure: {
        itemIdentifier: rawSequenceNumber(raw),
        eventID: rawEventId(raw),
        code: 'INVALID_RECORD',
        reason: summarize(parsed.error),
      },
    };
  }
  const record = parsed.data;
  const sequenceNumber = record.dynamodb.SequenceNumber;
  const table = tableNameFromStreamArn(record.eventSourceARN);
  // hasOwn: a table called `constructor` must not find Object.prototype's.
  const entity = table !== undefined && Object.hasOwn(tables, table) ? tables[table] : undefined;
  if (entity === undefined) {
    return {
      failure: {
        itemIdentifier: sequenceNumber,
        eventID: record.eventID,
        code: 'UNKNOWN_TABLE',
        reason:
          table === undefined
            ? 'eventSourceARN is not a DynamoDB stream ARN'
            : `table ${table} is not mapped to an entity`,
      },
    };
  }
  try {
    const ttlExpiry = isTtlExpiry(record);
    const draft = toDraft(record, entity, ingestedAt, ttlExpiry);
    const checked = draftSchema.safeParse(draft);
    if (!checked.success) throw new InvalidSourceRecordError(summarize(checked.error));
    return {
      accepted: {
        sequenceNumber,
        eventID: record.eventID,
        arn: record.eventSourceARN,
        // The draft, not zod's copy: the copy would be rebuilt by assignment, and an
        // attribute named `__proto__` must stay an attribute.
        draft,
        timed: record.dynamodb.ApproximateCreationDateTime !== undefined,
        ttlExpiry,
      },
    };
  } catch (error) {
    if (!(error instanceof InvalidSourceRecordError)) throw error;
    return {
      failure: {
        itemIdentifier: sequenceNumber,
        eventID: record.eventID,
        code: 'INVALID_RECORD',
        reason: error.message,
        entity,
      },
    };
  }
}

function toDraft(
  record: DynamoDBStreamRecord,
  entity: string,
  ingestedAt: string,
  ttlExpiry: boolean,
): DraftEvent {
  const change = record.dynamodb;
  const keys = unmarshall(change.Keys, '$.Keys');
  let op: BronzeEvent['op'];
  let payload: { [key: string]: JsonValue };
  if (record.eventName === 'REMOVE') {
    op = 'D';
    payload = change.OldImage ? unmarshall(change.OldImage, '$.OldImage') : keys;
  } else {
    op = record.eventName === 'INSERT' ? 'I' : 'U';
    // Landing the keys alone would let Silver overwrite a whole row with an empty one.
    if (!change.NewImage) {
      throw new InvalidSourceRecordError(
        `${record.eventName} without NewImage: the stream view type must include new images`,
      );
    }
    payload = unmarshall(change.NewImage, '$.NewImage');
  }
  const sourceTs =
    change.ApproximateCreationDateTime === undefined
      ? ingestedAt
      : toUtcInstant(change.ApproximateCreationDateTime);
  if (sourceTs === undefined) throw new InvalidSourceRecordError('unreadable ApproximateCreationDateTime');
  return {
    source: SOURCE,
    entity,
    key: stableKey(keys),
    op,
    source_ts: sourceTs,
    seq: padSequence(change.SequenceNumber),
    ingested_at: ingestedAt,
    payload,
    ...(ttlExpiry ? { meta: { ttl_expiry: true } } : {}),
  };
}

/**
 * The business key of a DynamoDB item: a single key attribute as its value;
 * a composite key as `name=value` pairs sorted by name and joined with `&`,
 * with `%`, `&` and `=` percent-encoded so that no two keys collide.
 */
export function stableKey(keys: { readonly [name: string]: JsonValue }): string {
  const names = Object.keys(keys).sort(compareCodeUnits);
  const parts = names.map((name) => {
    const value = keys[name];
    // Key attributes are S, N or B, so anything else is not a key.
    if (typeof value !== 'string' && typeof value !== 'number') {
      throw new InvalidSourceRecordError(
        `$.Keys.${name}: a key attribute must be a string, number or binary`,
      );
    }
    return [name, String(value)] as const;
  });
  const only = parts[0];
  if (parts.length === 1 && only) return only[1];
  return parts.map(([name, value]) => `${escapeKeyPart(name)}=${escapeKeyPart(value)}`).join('&');
}

function escapeKeyPart(text: string): string {
  return text.replace(/[%&=]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Locale-independent, so the same keys give the same string on every machine. */
function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The run of one entity's events: named by the first record's time and the
 * batch's sequence range, so that a redelivered batch gets the same run, whose
 * `_SUCCESS` already exists.
 */
function runRef(entity: string, group: readonly Accepted[], now: Date): BronzeRunRef {
  const ordered = [...group].sort((a, b) => compareCodeUnits(a.draft.seq, b.draft.seq));
  const first = ordered[0];
  const last = ordered[ordered.length - 1];
  if (!first || !last) throw new Error('a run needs at least one event');
  // Records without a time (the AWS samples) fall back to the clock; real stream records always carry one.
  const timed = ordered.find((a) => a.timed);
  const at = timed ? new Date(timed.draft.source_ts) : now;
  return {
    source: SOURCE,
    entity,
    ingestDate: utcDate(at),
    runId: deterministicRunId(at, first.arn, first.draft.seq, last.draft.seq, entity),
  };
}

function rawSequenceNumber(raw: unknown): string {
  const change = field(raw, 'dynamodb');
  const sequence = field(change, 'SequenceNumber');
  return typeof sequence === 'string' ? sequence : '';
}

function rawEventId(raw: unknown): string | undefined {
  const id = field(raw, 'eventID');
  return typeof id === 'string' ? id : undefined;
}

function field(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[name] : undefined;
}

/** Paths and messages of a validation error; never the values, which may be personal data. */
function summarize(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.join('.') || '(record)'}: ${issue.message}`).join('; ');
}
