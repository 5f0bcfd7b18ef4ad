import { BatchProcessor, EventType } from '@aws-lambda-powertools/batch';
import type { ObjectStore } from '../../adapters/object-store/port.js';
import { describeError } from '../../errors.js';
import type { BronzeRunRef } from '../../lake/layout.js';
import { deterministicRunId, utcDate } from '../../lake/run-id.js';
import { writeBronzeRun } from '../bronze-writer.js';
import { type BronzeEvent, padSequence } from '../envelope.js';
import { InvalidSourceRecordError } from '../errors.js';
import { StreamBatchProcessingError, StreamRecordRejectedError } from './errors.js';
import {
  type AcceptedRecord,
  type DraftEvent,
  type RecordOutcome,
  rawEventId,
  rawSequenceNumber,
  type StreamRecordFailure,
  streamRecordToEvent,
  type TableEntities,
} from './record.js';
import { streamBatchSchema } from './stream-event.js';

export type { StreamRecordFailure } from './record.js';
// Where it lived before the record mapping had its own module; other modules import it from here.
export { stableKey } from './record.js';

const SOURCE = 'dynamodb';

export interface StreamConsumerOptions {
  /** DynamoDB table name -> Bronze entity (`{"Accounts": "accounts"}`). */
  readonly tables: TableEntities;
  /** The clock: `ingested_at`, and `source_ts` of records without `ApproximateCreationDateTime`. */
  readonly now?: Date;
}

/** One entry of Lambda's partial batch response. */
export interface BatchItemFailure {
  readonly itemIdentifier: string;
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
  /** Empty, or the one record Lambda must resume from (see `partialBatchResponse`). */
  readonly batchItemFailures: BatchItemFailure[];
  /** Events landed (or found landed) per entity. */
  readonly landed: Record<string, number>;
  /** TTL-expiry REMOVEs among the landed events. */
  readonly ttlExpiries: number;
  /** Keys-only events (no image) among the landed events. */
  readonly keysOnly: number;
  /** Every record not landed, in batch order (write failures after record failures). */
  readonly failures: readonly StreamRecordFailure[];
  readonly runs: readonly StreamRunReport[];
}

/**
 * Land one Lambda DynamoDB Streams batch in Bronze and say where Lambda must
 * resume. Records are read in order by a Powertools `BatchProcessor`, one at
 * a time; the records that pass land together, one deterministic run per
 * entity (a stream maps one table, so in practice one run per batch).
 */
export async function consumeStreamBatch(
  store: ObjectStore,
  event: unknown,
  options: StreamConsumerOptions,
): Promise<StreamBatchResult> {
  const batch = streamBatchSchema.safeParse(event);
  // Without a record list nothing can be pointed at: throwing fails the whole batch, which Lambda retries.
  if (!batch.success) {
    throw new InvalidSourceRecordError('not a stream event: expected a Records array of record objects');
  }
  const now = options.now ?? new Date();
  const ingestedAt = now.toISOString();
  const outcomes = await readRecords(batch.data.Records, options.tables, ingestedAt);

  const failures: StreamRecordFailure[] = [];
  const byEntity = new Map<string, AcceptedRecord[]>();
  for (const outcome of outcomes) {
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
  let keysOnly = 0;
  for (const [entity, group] of byEntity) {
    const ref = runRef(entity, group, now);
    const events = group.map((a) => withRunId(a.draft, ref.runId));
    try {
      const { alreadyCommitted } = await writeBronzeRun(store, ref, events, { now });
      landed[entity] = events.length;
      for (const a of group) {
        if (a.ttlExpiry) ttlExpiries++;
        if (a.keysOnly) keysOnly++;
      }
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
  return { batchItemFailures: partialBatchResponse(failures), landed, ttlExpiries, keysOnly, failures, runs };
}

/** The draft with its run. Spelled out: object spread costs about a microsecond an event, 10 ms a full batch. */
function withRunId(d: DraftEvent, runId: string): BronzeEvent {
  const event: BronzeEvent = {
    source: d.source,
    entity: d.entity,
    key: d.key,
    op: d.op,
    source_ts: d.source_ts,
    seq: d.seq,
    ingested_at: d.ingested_at,
    run_id: runId,
    payload: d.payload,
  };
  if (d.meta) event.meta = d.meta;
  return event;
}

/**
 * Read every record with a Powertools `BatchProcessor`, in order and one at a
 * time: a record that fails is recorded and the next one is read. Returns one
 * outcome per record, in batch order.
 */
async function readRecords(
  records: Record<string, unknown>[],
  tables: TableEntities,
  ingestedAt: string,
): Promise<RecordOutcome[]> {
  const outcomes: RecordOutcome[] = [];
  const recordHandler = (record: unknown): void => {
    let outcome: RecordOutcome;
    try {
      outcome = streamRecordToEvent(record, tables, ingestedAt);
    } catch (error) {
      // A bug, not a bad record: still this record's failure, so Lambda resumes here and the
      // records before it are not delivered again for nothing.
      outcome = {
        failure: {
          itemIdentifier: rawSequenceNumber(record),
          eventID: rawEventId(record),
          code: 'PROCESSING_FAILED',
          reason: describeError(error).message,
        },
      };
    }
    outcomes.push(outcome);
    if ('failure' in outcome) {
      throw new StreamRecordRejectedError(`${outcome.failure.code}: ${outcome.failure.reason}`);
    }
  };
  // A fresh processor per batch: its state is per batch, and a Lambda instance may one day
  // serve several invocations at once.
  const processor = new BatchProcessor(EventType.DynamoDBStreams);
  processor.register(records, recordHandler, {
    // In stream order: Bronze lines keep the order of the shard, and outcomes line up with records.
    processInParallel: false,
    // A batch whose every record failed is answered like any other (resume at its first record),
    // not thrown, so that the handler logs each record's reason.
    throwOnFullBatchFailure: false,
  });
  const processed = await processor.process();
  if (processed.length !== outcomes.length) {
    throw new StreamBatchProcessingError(`read ${outcomes.length} outcomes for ${processed.length} records`);
  }
  return outcomes;
}

/**
 * Lambda's partial batch response for stream failures: empty when every
 * record landed, else the single record to resume from. Lambda checkpoints at
 * the lowest sequence number reported and delivers everything from there
 * again, so naming the first failed record (the lowest sequence number; in a
 * shard's batch also the first by position) says all there is to say. A
 * failed record without a sequence number gives `''`, which Lambda reads as a
 * failure of the whole batch: its place in the stream is unknown.
 */
export function partialBatchResponse(
  failures: readonly { readonly itemIdentifier: string }[],
): BatchItemFailure[] {
  let lowest: string | undefined;
  for (const { itemIdentifier } of failures) {
    if (itemIdentifier === '') return [{ itemIdentifier: '' }];
    if (lowest === undefined || padSequence(itemIdentifier) < padSequence(lowest)) lowest = itemIdentifier;
  }
  return lowest === undefined ? [] : [{ itemIdentifier: lowest }];
}

/**
 * The run of one entity's events, derived from the batch: named by the first
 * record's time and a digest of the stream and of the sequence numbers of the
 * very records it holds. A redelivered batch with the same outcome finds its
 * run's `_SUCCESS` and adds nothing; a redelivery in which a record that
 * failed now passes holds other records, so it is a new run, not a skipped one.
 */
function runRef(entity: string, group: readonly AcceptedRecord[], now: Date): BronzeRunRef {
  const timed = group.find((a) => a.timed);
  // Records without a time (only hand-written samples; real records always carry one) name
  // their run after the day of delivery, so that a redelivery the same day finds it.
  const at = timed ? new Date(timed.draft.source_ts) : new Date(`${utcDate(now)}T00:00:00.000Z`);
  const streams = [...new Set(group.map((a) => a.arn))].join('\n');
  const sequences = group.map((a) => a.sequenceNumber).join(',');
  return {
    source: SOURCE,
    entity,
    ingestDate: utcDate(at),
    runId: deterministicRunId(at, SOURCE, entity, streams, sequences),
  };
}
