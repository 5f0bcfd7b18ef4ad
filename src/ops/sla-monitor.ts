import type { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { z } from 'zod';
import type { ObjectStore } from '../adapters/object-store/port.js';
import type { MartDef } from '../catalog/types.js';
import { logger as processLogger } from '../runtime/logger.js';
import type { PipelineReport } from '../transform/pipeline.js';
import { freshnessOfAll, type MartFreshness } from './freshness.js';
import type { SlaConfig } from './sla-config.js';

/** Where SLA verdicts go besides the log: CloudWatch metrics on AWS. */
export interface SlaMetricsSink {
  /** Record one mart's verdict. */
  record(freshness: MartFreshness, now: Date): void;
}

/** Metric names, for the alarms in `serverless.yml` (dimension `mart`). */
export const SLA_METRICS = {
  breached: 'SlaBreached',
  late: 'SlaLate',
  unknown: 'SlaUnknown',
  dataAge: 'ServedDataAgeSeconds',
} as const;

/**
 * A sink writing CloudWatch embedded-metric-format lines through Powertools:
 * per mart, 0/1 for breached, late and unknown (0s too, so an alarm sees
 * recovery rather than missing data) and the age of the served data.
 */
export function powertoolsSlaMetrics(
  metrics: Metrics = new Metrics({
    namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? 'goldgate',
    serviceName: 'goldgate',
  }),
): SlaMetricsSink {
  return {
    record(f, now) {
      metrics.addDimension('mart', f.mart);
      metrics.addMetric(SLA_METRICS.breached, MetricUnit.Count, f.sla.state === 'breached' ? 1 : 0);
      metrics.addMetric(SLA_METRICS.late, MetricUnit.Count, f.sla.state === 'late' ? 1 : 0);
      metrics.addMetric(SLA_METRICS.unknown, MetricUnit.Count, f.sla.state === 'unknown' ? 1 : 0);
      if (f.served) {
        const age = Math.max(0, Math.floor((now.getTime() - Date.parse(f.served.builtAt)) / 1000));
        metrics.addMetric(SLA_METRICS.dataAge, MetricUnit.Seconds, age);
      }
      // One EMF line per mart: publishing clears the dimension for the next one.
      metrics.publishStoredMetrics();
    },
  };
}

const awsEnvSchema = z.object({
  GOLDGATE_HOME: z.enum(['embedded', 'aws']).default('embedded'),
  AWS_LAMBDA_FUNCTION_NAME: z.string().min(1).optional(),
});

/** The metrics sink for this process: Powertools EMF when running on AWS, none on a laptop. */
export function slaMetricsForEnvironment(env: NodeJS.ProcessEnv = process.env): SlaMetricsSink | undefined {
  const parsed = awsEnvSchema.safeParse(env);
  const onAws =
    parsed.success && (parsed.data.GOLDGATE_HOME === 'aws' || !!parsed.data.AWS_LAMBDA_FUNCTION_NAME);
  return onAws ? powertoolsSlaMetrics() : undefined;
}

/** What triggered an SLA check, for the log lines. */
export type SlaTrigger =
  | { readonly kind: 'pipeline'; readonly runId: string }
  | { readonly kind: 'schedule' };

/** How an SLA check runs; every field has a default suited to the running process. */
export interface SlaCheckOptions {
  readonly now?: Date;
  readonly slas?: SlaConfig;
  readonly marts?: readonly MartDef[];
  readonly logger?: Logger;
  /** Default: `slaMetricsForEnvironment()`. Pass `null` for none. */
  readonly metrics?: SlaMetricsSink | null;
}

/** The outcome of an SLA check. */
export interface SlaCheckResult {
  readonly evaluatedAt: string;
  readonly marts: readonly MartFreshness[];
  readonly breached: readonly string[];
  readonly late: readonly string[];
}

/**
 * Evaluate every mart's SLA now: one structured log line per breach (warn) and
 * per late mart (info), and one metric record per mart when a sink is set.
 * The function a schedule calls (`trigger: schedule`) and the pipeline
 * handler calls after each run (`checkSlasAfterRun`).
 */
export async function checkSlas(
  store: ObjectStore,
  trigger: SlaTrigger,
  options: SlaCheckOptions = {},
): Promise<SlaCheckResult> {
  const now = options.now ?? new Date();
  const log = options.logger ?? processLogger;
  const sink = options.metrics === undefined ? slaMetricsForEnvironment() : options.metrics;
  const marts = await freshnessOfAll(store, now, {
    ...(options.slas ? { slas: options.slas } : {}),
    ...(options.marts ? { marts: options.marts } : {}),
  });
  const context =
    trigger.kind === 'pipeline' ? { trigger: 'pipeline', run_id: trigger.runId } : { trigger: 'schedule' };
  for (const f of marts) {
    const line = {
      ...context,
      mart: f.mart,
      schema_version: f.schemaVersion,
      sla: f.sla.description,
      state: f.sla.state,
      reasons: f.sla.reasons,
      due_at: f.sla.dueAt,
      breached_since: f.sla.breachedSince,
      age_seconds: f.sla.ageSeconds,
      served_run_id: f.served?.runId ?? null,
    };
    if (f.sla.state === 'breached') log.warn('sla breached', line);
    else if (f.sla.state === 'late') log.info('sla late', line);
    sink?.record(f, now);
  }
  return {
    evaluatedAt: now.toISOString(),
    marts,
    breached: marts.filter((f) => f.sla.state === 'breached').map((f) => f.mart),
    late: marts.filter((f) => f.sla.state === 'late').map((f) => f.mart),
  };
}

/** `checkSlas` after a pipeline run, tagged with its run id (failed runs too: they are when SLAs slip). */
export async function checkSlasAfterRun(
  store: ObjectStore,
  report: Pick<PipelineReport, 'runId'>,
  options: SlaCheckOptions = {},
): Promise<SlaCheckResult> {
  return checkSlas(store, { kind: 'pipeline', runId: report.runId }, options);
}
