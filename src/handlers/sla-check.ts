import type { Context, ScheduledEvent } from 'aws-lambda';
import { checkSlas, slaMetricsForEnvironment } from '../ops/index.js';
import { withCorrelation } from '../runtime/logger.js';
import { createObjectStoreFromEnv } from '../runtime/stores.js';

/** What the scheduled SLA check reports (also the Lambda's return value). */
export interface SlaCheckHandlerResult {
  readonly evaluatedAt: string;
  readonly marts: number;
  readonly breached: readonly string[];
  readonly late: readonly string[];
}

/**
 * Lambda entry point of the scheduled SLA check: every mart's freshness
 * against its SLA, one log line per late or breached mart and one EMF metric
 * record per mart (the `SlaBreached` alarms in serverless.yml read them). A
 * breach is a metric, not a failure: the invocation fails only when the lake
 * cannot be read.
 */
export async function handler(event: ScheduledEvent, context: Context): Promise<SlaCheckHandlerResult> {
  const log = withCorrelation(context.awsRequestId, { trigger: event.id ?? 'manual', job: 'sla_check' });
  const result = await checkSlas(
    createObjectStoreFromEnv(),
    { kind: 'schedule' },
    { logger: log, metrics: slaMetricsForEnvironment() ?? null },
  );
  const summary: SlaCheckHandlerResult = {
    evaluatedAt: result.evaluatedAt,
    marts: result.marts.length,
    breached: result.breached,
    late: result.late,
  };
  log.info('sla check finished', { ...summary });
  return summary;
}
