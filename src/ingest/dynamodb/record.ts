import type { z } from 'zod';
import type { BronzeEvent } from '../envelope.js';
import { padSequence } from '../envelope.js';
import { InvalidSourceRecordError } from '../errors.js';
import {
  carriesNewImage,
  type DynamoDBStreamRecord,
  dynamoDBStreamRecordSchema,
  isTtlExpiry,
  tableNameFromStreamArn,
} from './stream-event.js';
import { type ItemValue, unmarshall } from './unmarshall.js';

/**
 * One stream record -> one Bronze event, with no I/O: what the consumer's
 * record handler does for each record of a batch.
 */

/** The last instant a four-digit-year UTC instant (the envelope's `source_ts`) can hold. */
const LAST_INSTANT_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** An event before its run is known. */
export type DraftEvent = Omit<BronzeEvent, 'run_id'>;

/** Why a record was not landed, for the caller to log. */
export interface StreamRecordFailure {
  /**
   * The record's `SequenceNumber`, or `''` when it has none: Lambda treats an
   * empty identifier as a failure of the whole batch, the only safe answer
   * for a record it cannot point at.
   */
  readonly itemIdentifier: string;
  readonly eventID: string | undefined;
  /**
   * `INVALID_RECORD`: not a readable DynamoDB stream record; `UNKNOWN_TABLE`:
   * its table is not configured; `WRITE_FAILED`: its Bronze run could not be
   * written; `PROCESSING_FAILED`: an unexpected error (a bug) while reading it.
   */
  readonly code: 'INVALID_RECORD' | 'UNKNOWN_TABLE' | 'WRITE_FAILED' | 'PROCESSING_FAILED';
  readonly reason: string;
  readonly entity?: string;
}

/** A record turned into its Bronze event. */
export interface AcceptedRecord {
  readonly sequenceNumber: string;
  readonly eventID: string;
  readonly arn: string;
  readonly draft: DraftEvent;
  /** The record carried `ApproximateCreationDateTime`: its time may name the run. */
  readonly timed: boolean;
  readonly ttlExpiry: boolean;
  readonly keysOnly: boolean;
}

/** What became of one record. */
export type RecordOutcome = { readonly accepted: AcceptedRecord } | { readonly failure: StreamRecordFailure };

/** DynamoDB table name -> Bronze entity. */
export type TableEntities = Readonly<Record<string, string>>;

const SOURCE = 'dynamodb';
const ENTITY = /^[a-z][a-z0-9_]*$/;

/**
 * Validate one raw stream record and map it to its Bronze event: INSERT,
 * MODIFY, REMOVE -> I, U, D; the new image as payload (the old image, or the
 * keys, for a delete); TTL expiries and keys-only events marked in `meta`.
 * Never throws for a bad record: it says why in a failure.
 */
export function streamRecordToEvent(raw: unknown, tables: TableEntities, ingestedAt: string): RecordOutcome {
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
  if (entity === undefined || !ENTITY.test(entity)) {
    return {
      failure: {
        itemIdentifier: sequenceNumber,
        eventID: record.eventID,
        code: 'UNKNOWN_TABLE',
        reason:
          table === undefined
            ? 'eventSourceARN is not a DynamoDB stream ARN'
            : entity === undefined
              ? `table ${table} is not mapped to an entity`
              : `table ${table} is mapped to ${JSON.stringify(entity)}, which is not an entity name`,
      },
    };
  }
  try {
    const ttlExpiry = isTtlExpiry(record);
    const { draft, keysOnly } = toDraft(record, entity, ingestedAt, ttlExpiry);
    return {
      accepted: {
        sequenceNumber,
        eventID: record.eventID,
        arn: record.eventSourceARN,
        draft,
        timed: record.dynamodb.ApproximateCreationDateTime !== undefined,
        ttlExpiry,
        keysOnly,
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
): { draft: DraftEvent; keysOnly: boolean } {
  const change = record.dynamodb;
  const keys = unmarshall(change.Keys, '$.Keys');
  const key = stableKey(keys);
  let op: BronzeEvent['op'];
  let payload: { [key: string]: ItemValue } = keys;
  if (record.eventName === 'REMOVE') {
    op = 'D';
    if (change.OldImage) payload = unmarshall(change.OldImage, '$.OldImage');
  } else {
    op = record.eventName === 'INSERT' ? 'I' : 'U';
    if (change.NewImage) {
      payload = unmarshall(change.NewImage, '$.NewImage');
    } else if (carriesNewImage(change.StreamViewType) !== false) {
      // The stream promised a new image (or did not say) and it is missing: landing the keys
      // alone would hide an update, so the record fails and Lambda delivers it again.
      throw new InvalidSourceRecordError(
        `${record.eventName} without NewImage on a ${change.StreamViewType ? `${change.StreamViewType} stream` : 'stream of unstated view type'}`,
      );
    }
    // Otherwise a KEYS_ONLY or OLD_IMAGE stream: the change is landed with its keys and marked,
    // so that Bronze keeps the fact of the change while Silver, which cannot make a row of keys, skips it.
  }
  // No image was found for the payload: it holds the keys and nothing else.
  const keysOnly = payload === keys;
  const sourceTs = sourceInstant(change.ApproximateCreationDateTime, ingestedAt);
  const draft: DraftEvent = {
    source: SOURCE,
    entity,
    key,
    op,
    source_ts: sourceTs,
    seq: padSequence(change.SequenceNumber),
    ingested_at: ingestedAt,
    payload,
  };
  // No `meta` at all on a plain change, so that ordinary events stay as small as before.
  if (ttlExpiry || keysOnly) {
    draft.meta = { ...(ttlExpiry ? { ttl_expiry: true } : {}), ...(keysOnly ? { keys_only: true } : {}) };
  }
  return { draft, keysOnly };
}

/** `ApproximateCreationDateTime` (epoch seconds) as a UTC instant; the ingest time when absent. */
function sourceInstant(seconds: number | undefined, ingestedAt: string): string {
  if (seconds === undefined) return ingestedAt;
  // The records of a batch share a handful of seconds, and printing an instant is costly.
  if (seconds === lastInstant.seconds) return lastInstant.iso;
  const ms = Math.floor(seconds * 1000);
  // Milliseconds sent by mistake (Kinesis-wrapped changes carry them) read as a year past 9999,
  // which the envelope's instant cannot hold, or `toISOString` cannot even print.
  if (ms > LAST_INSTANT_MS)
    throw new InvalidSourceRecordError('ApproximateCreationDateTime is past the year 9999');
  const iso = new Date(ms).toISOString();
  lastInstant = { seconds, iso };
  return iso;
}

let lastInstant: { readonly seconds: number; readonly iso: string } = { seconds: Number.NaN, iso: '' };

/**
 * The business key of a DynamoDB item: a single key attribute as its value;
 * a composite key as `name=value` pairs sorted by name and joined with `&`,
 * with `%`, `&` and `=` percent-encoded so that no two keys collide.
 */
export function stableKey(keys: { readonly [name: string]: ItemValue }): string {
  const names = Object.keys(keys).sort(compareCodeUnits);
  const parts = names.map((name) => {
    const value = keys[name];
    // Key attributes are S, N or B, which all unmarshall to strings.
    if (typeof value !== 'string') {
      throw new InvalidSourceRecordError(
        `$.Keys.${name}: a key attribute must be a string, number or binary`,
      );
    }
    return [name, value] as const;
  });
  const only = parts[0];
  if (parts.length === 1 && only) return only[1];
  return parts.map(([name, value]) => `${escapeKeyPart(name)}=${escapeKeyPart(value)}`).join('&');
}

function escapeKeyPart(text: string): string {
  return text.replace(/[%&=]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Locale-independent, so the same keys give the same string on every machine. */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The `SequenceNumber` of a record that failed validation, if it has a usable one. */
export function rawSequenceNumber(raw: unknown): string {
  const sequence = field(field(raw, 'dynamodb'), 'SequenceNumber');
  // Only a sequence number Lambda could have sent: anything else would be an identifier not
  // in the batch, which Lambda also reads as a failure of the whole batch, but less plainly.
  return typeof sequence === 'string' && /^\d{1,40}$/.test(sequence) ? sequence : '';
}

/** The `eventID` of a record that failed validation, if it has one. */
export function rawEventId(raw: unknown): string | undefined {
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
