import type { Context, ScheduledEvent } from 'aws-lambda';
import { z } from 'zod';
import { loadConfig } from '../config/index.js';
import { describeError } from '../errors.js';
import { LockHeldError } from '../lake/errors.js';
import { checkSlas, checkSlasAfterRun } from '../ops/index.js';
import { withCorrelation } from '../runtime/logger.js';
import { createObjectStore, createQueryEngine } from '../runtime/stores.js';
import { transformHomeFor } from '../transform/athena/run.js';
import { runPipeline } from '../transform/pipeline.js';
import { InvalidInvocationError } from './errors.js';

/**
 * What the function reads from its event: the schedule's EventBridge event,
 * or a manual invocation's payload. `rebuildGold: true` builds every mart,
 * even those whose served run would be reused (after a change the build key
 * cannot see).
 */
const invocationSchema = z.looseObject({
  id: z.string().optional(),
  rebuildGold: z.boolean().optional(),
});

function parseInvocation(event: unknown): z.infer<typeof invocationSchema> {
  const parsed = invocationSchema.safeParse(event ?? {});
  if (!parsed.success) {
    const fields = [...new Set(parsed.error.issues.map((i) => i.path.join('.') || '(event)'))].join(', ');
    throw new InvalidInvocationError(`pipeline invocation not understood: ${fields}`, {
      cause: parsed.error,
    });
  }
  return parsed.data;
}

/**
 * Lambda entry point of the scheduled pipeline: Bronze -> Silver -> Gold, then
 * the SLA check (logs and EMF metrics) so that a slipped mart shows at once.
 * A run still holding the lock makes this invocation a no-op, not a failure.
 */
export async function handler(
  event: ScheduledEvent,
  context: Context,
): Promise<{ status: string; runId?: string }> {
  const invocation = parseInvocation(event);
  const config = loadConfig();
  const log = withCorrelation(context.awsRequestId, { trigger: invocation.id ?? 'manual' });
  // The SLA verdict is a report on the run, never its outcome: its own failure is only logged.
  const slaCheckFailed = (error: unknown): void =>
    log.warn('sla check failed', { error: describeError(error) });
  const store = createObjectStore(config);
  const engine = await createQueryEngine(config, store);
  try {
    const home = transformHomeFor(config, store, engine);
    const report = await runPipeline({
      store,
      engine,
      ...(home ? { home } : {}),
      lockTtlMs: config.pipeline.lockTtlMs,
      ...(invocation.rebuildGold ? { rebuildGold: true } : {}),
      onProgress: (e) =>
        log.info('pipeline progress', { step: e.step, detail: e.detail, index: e.index, total: e.total }),
    });
    log.info('pipeline finished', {
      run_id: report.runId,
      status: report.status,
      steps: report.steps.length,
      gold_reused: report.steps.filter((s) => s.reused).length,
    });
    await checkSlasAfterRun(store, report, { logger: log }).catch(slaCheckFailed);
    return { status: report.status, runId: report.runId };
  } catch (error) {
    if (error instanceof LockHeldError) {
      log.warn('pipeline skipped: another run holds the lock', {
        holder: error.holder,
        expires_at: error.expiresAt,
      });
      return { status: 'skipped' };
    }
    // A run that threw is when SLAs slip: report them now rather than at the next schedule.
    await checkSlas(store, { kind: 'schedule' }, { logger: log }).catch(slaCheckFailed);
    throw error;
  } finally {
    await engine.close();
  }
}
