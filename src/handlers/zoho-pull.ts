import type { Context, ScheduledEvent } from 'aws-lambda';
import type { ObjectStore } from '../adapters/object-store/port.js';
import {
  createZohoClientFromSettings,
  parseZohoSettings,
  type ZohoBooksClient,
  type ZohoSettings,
} from '../ingest/zoho/client.js';
import { ZohoIngestFailedError } from '../ingest/zoho/errors.js';
import { pullZoho } from '../ingest/zoho/pull.js';
import { logger, withCorrelation } from '../runtime/logger.js';
import { createObjectStoreFromEnv } from '../runtime/stores.js';

/** What the scheduled pull reports (also the Lambda's return value). */
export interface ZohoPullHandlerResult {
  readonly status: 'complete' | 'partial' | 'failed';
  readonly requests: number;
  readonly entities: ReadonlyArray<{
    readonly entity: string;
    readonly status: string;
    readonly events: number;
    readonly watermark: string | null;
    readonly error?: string;
  }>;
}

// Kept for the life of the container: the client holds the cached access token and the budget.
let settings: ZohoSettings | undefined;
let client: ZohoBooksClient | undefined;
let store: ObjectStore | undefined;

/** Time kept back from the Lambda deadline to finish the chunk in progress and write the checkpoint. */
const RESERVE_MS = 90_000;

/**
 * Lambda entry point of the scheduled Zoho Books pull: every entity once,
 * incrementally, stopping cleanly before the function's deadline. A failed
 * entity fails the invocation (so that alarms see it) after the others ran.
 */
export async function handler(event: ScheduledEvent, context: Context): Promise<ZohoPullHandlerResult> {
  const log = withCorrelation(context.awsRequestId, { trigger: event.id ?? 'manual', job: 'zoho_pull' });
  settings ??= parseZohoSettings();
  // The client outlives this invocation, so it logs without the invocation's correlation id.
  client ??= await createZohoClientFromSettings(settings, { log: logger });
  store ??= createObjectStoreFromEnv();
  const remaining = context.getRemainingTimeInMillis();
  const result = await pullZoho({
    store,
    client,
    ...(settings.entities ? { entities: settings.entities } : {}),
    overlapMs: settings.overlapMs,
    pagesPerRun: settings.pagesPerRun,
    lockTtlMs: remaining + 60_000,
    deadline: new Date(Date.now() + Math.max(remaining - RESERVE_MS, remaining / 2)),
    log,
    onProgress: (p) => log.debug('zoho pull progress', { entity: p.entity, page: p.page, events: p.events }),
  });
  const summary: ZohoPullHandlerResult = {
    status: result.entities.some((e) => e.status === 'failed')
      ? 'failed'
      : result.entities.some((e) => e.status === 'partial')
        ? 'partial'
        : 'complete',
    requests: result.requests,
    entities: result.entities.map((e) => ({
      entity: e.entity,
      status: e.status,
      events: e.events,
      watermark: e.watermark,
      ...(e.error ? { error: e.error.code } : {}),
    })),
  };
  log.info('zoho pull finished', { ...summary, budget: result.budget });
  if (summary.status === 'failed') {
    const failed = result.entities
      .filter((e) => e.status === 'failed')
      .map((e) => `${e.entity}: ${e.error?.code}`);
    throw new ZohoIngestFailedError(`zoho pull failed for ${failed.join(', ')}`);
  }
  return summary;
}
