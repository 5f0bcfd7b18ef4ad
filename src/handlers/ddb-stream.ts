import type { DynamoDBBatchResponse, DynamoDBStreamHandler } from 'aws-lambda';
import { z } from 'zod';
import type { ObjectStore } from '../adapters/object-store/port.js';
import { ConfigError } from '../config/errors.js';
import { describeError } from '../errors.js';
import { consumeStreamBatch } from '../ingest/dynamodb/consumer.js';
import { logger } from '../runtime/logger.js';
import { createObjectStoreFromEnv } from '../runtime/stores.js';

const tablesSchema = z
  .record(
    z.string().regex(/^[A-Za-z0-9_.-]{3,255}$/, 'not a DynamoDB table name'),
    z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, 'not an entity name'),
  )
  .refine((tables) => Object.keys(tables).length > 0, 'map at least one table');

const envSchema = z.object({
  GOLDGATE_DDB_TABLES: z
    .string({ error: 'required: JSON such as {"Accounts":"accounts"}' })
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'not JSON' });
        return z.NEVER;
      }
    })
    .pipe(tablesSchema),
});

/** The table -> entity map of `GOLDGATE_DDB_TABLES`; throws `ConfigError` naming what is wrong. */
export function parseStreamTables(env: NodeJS.ProcessEnv = process.env): Readonly<Record<string, string>> {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`));
  }
  return parsed.data.GOLDGATE_DDB_TABLES;
}

// Built on first use, then kept for the life of the container: cold start pays once.
let tables: Readonly<Record<string, string>> | undefined;
let store: ObjectStore | undefined;

/**
 * Lambda entry point for DynamoDB Streams: land the batch in Bronze and answer
 * the partial batch response naming where Lambda must resume (the event source
 * mapping needs `FunctionResponseTypes: [ReportBatchItemFailures]`, or Lambda
 * ignores the answer and a failed record is skipped).
 */
export const handler: DynamoDBStreamHandler = async (event, context): Promise<DynamoDBBatchResponse> => {
  logger.addContext(context);
  try {
    tables ??= parseStreamTables();
    store ??= createObjectStoreFromEnv();
    const result = await consumeStreamBatch(store, event, { tables });
    for (const failure of result.failures) {
      logger.warn('stream record not landed', {
        item_identifier: failure.itemIdentifier,
        event_id: failure.eventID,
        code: failure.code,
        reason: failure.reason,
        entity: failure.entity,
      });
    }
    logger.info('stream batch consumed', {
      records: event.Records.length,
      landed: result.landed,
      ttl_expiries: result.ttlExpiries,
      keys_only: result.keysOnly,
      failed: result.failures.length,
      resume_from: result.batchItemFailures[0]?.itemIdentifier,
      runs: result.runs,
    });
    return { batchItemFailures: result.batchItemFailures };
  } catch (error) {
    // Rethrown so that Lambda retries the whole batch: nothing may be skipped silently.
    logger.error('stream batch failed', { error: describeError(error) });
    throw error;
  }
};
