import type { Context, ScheduledEvent } from 'aws-lambda';
import { loadConfig } from '../config/index.js';
import { LockHeldError } from '../lake/errors.js';
import { withCorrelation } from '../runtime/logger.js';
import { createObjectStore, createQueryEngine } from '../runtime/stores.js';
import { athenaConfigOf, runSilverMaintenance } from '../transform/athena/run.js';

/**
 * Lambda entry point of the daily Iceberg upkeep: OPTIMIZE (bin-pack) then
 * VACUUM every Silver table, under the pipeline's lock. A pipeline run holding
 * the lock makes this invocation a no-op, not a failure; so does the embedded
 * home, which has no Iceberg tables.
 */
export async function handler(
  event: ScheduledEvent,
  context: Context,
): Promise<{ status: 'done' | 'skipped'; statements: number }> {
  const config = loadConfig();
  const log = withCorrelation(context.awsRequestId, { trigger: event.id ?? 'manual', job: 'maintenance' });
  if (config.home !== 'aws') {
    log.info('maintenance skipped: the embedded home keeps no Iceberg tables');
    return { status: 'skipped', statements: 0 };
  }
  const athena = athenaConfigOf(config);
  const store = createObjectStore(config);
  const engine = await createQueryEngine(config, store);
  try {
    const report = await runSilverMaintenance({
      store,
      engine,
      config: athena,
      lockTtlMs: config.pipeline.lockTtlMs,
    });
    log.info('maintenance finished', { statements: report.statements.map((s) => s.label) });
    return { status: 'done', statements: report.statements.length };
  } catch (error) {
    if (error instanceof LockHeldError) {
      log.warn('maintenance skipped: a pipeline run holds the lock', {
        holder: error.holder,
        expires_at: error.expiresAt,
      });
      return { status: 'skipped', statements: 0 };
    }
    throw error;
  } finally {
    await engine.close();
  }
}
