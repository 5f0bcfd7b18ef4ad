import type { Context, ScheduledEvent } from 'aws-lambda';
import { loadConfig } from '../config/index.js';
import {
  createZohoClientFromSettings,
  parseZohoSettings,
  type ZohoBooksClient,
  type ZohoSettings,
} from '../ingest/zoho/client.js';
import { ZohoIngestFailedError } from '../ingest/zoho/errors.js';
import { reconcileZoho, silverKeysFromEngine } from '../ingest/zoho/reconcile.js';
import { logger, withCorrelation } from '../runtime/logger.js';
import { createObjectStore, createQueryEngine } from '../runtime/stores.js';

/** What the scheduled reconciliation reports. */
export interface ZohoReconcileHandlerResult {
  readonly status: 'complete' | 'failed';
  readonly entities: ReadonlyArray<{
    readonly entity: string;
    readonly status: string;
    readonly deleted: number;
    readonly sourceIds: number;
    readonly silverIds: number;
    readonly error?: string;
  }>;
}

let settings: ZohoSettings | undefined;
let client: ZohoBooksClient | undefined;

/**
 * Lambda entry point of the scheduled Zoho reconciliation: lands `D` events
 * for keys Silver holds that Zoho no longer lists. A failed entity fails the
 * invocation after the others ran.
 */
export async function handler(event: ScheduledEvent, context: Context): Promise<ZohoReconcileHandlerResult> {
  const log = withCorrelation(context.awsRequestId, { trigger: event.id ?? 'manual', job: 'zoho_reconcile' });
  settings ??= parseZohoSettings();
  // The client outlives this invocation, so it logs without the invocation's correlation id.
  client ??= await createZohoClientFromSettings(settings, { log: logger });
  const config = loadConfig();
  const store = createObjectStore(config);
  const engine = await createQueryEngine(config, store);
  try {
    const result = await reconcileZoho({
      store,
      client,
      silverKeys: silverKeysFromEngine(store, engine),
      ...(settings.entities ? { entities: settings.entities } : {}),
      maxDeleteRatio: settings.maxDeleteRatio,
      lockTtlMs: context.getRemainingTimeInMillis() + 60_000,
      log,
    });
    const summary: ZohoReconcileHandlerResult = {
      status: result.entities.some((e) => e.status === 'failed') ? 'failed' : 'complete',
      entities: result.entities.map((e) => ({
        entity: e.entity,
        status: e.status,
        deleted: e.deleted,
        sourceIds: e.sourceIds,
        silverIds: e.silverIds,
        ...(e.error ? { error: e.error.code } : {}),
      })),
    };
    log.info('zoho reconcile finished', { ...summary });
    if (summary.status === 'failed') {
      const failed = result.entities
        .filter((e) => e.status === 'failed')
        .map((e) => `${e.entity}: ${e.error?.code}`);
      throw new ZohoIngestFailedError(`zoho reconcile failed for ${failed.join(', ')}`);
    }
    return summary;
  } finally {
    await engine.close();
  }
}
