/**
 * The operations view's core: freshness and SLAs per mart, lineage of Gold
 * runs, pipeline run history. Transport-free: the API and the CLI render it.
 */
export { LineageUnavailableError, SlaConfigError, UnknownMartError } from './errors.js';
export { formatFreshness, formatLineage, formatRuns } from './format.js';
export {
  type FreshnessOptions,
  freshness,
  freshnessOfAll,
  type MartFreshness,
  type ServedVersion,
  type SlaStatus,
  slaConfigOfProcess,
} from './freshness.js';
export {
  type LineageBronzeRun,
  type LineageOptions,
  type LineageSilver,
  type MartLineage,
  parseBronzeRunKey,
  readLineage,
  silverBronzeRuns,
} from './lineage.js';
export { type FailedCheck, listPipelineRuns, type RunStep, type RunSummary } from './runs.js';
export {
  evaluateSla,
  type MartFacts,
  type PublishedVersion,
  SLA_STATES,
  type SlaEvaluation,
  type SlaState,
} from './sla.js';
export {
  DEFAULT_SLAS,
  type DeadlineSla,
  describeSla,
  loadSlaConfig,
  type MaxAgeSla,
  type Sla,
  type SlaConfig,
  validateSlaConfig,
} from './sla-config.js';
export {
  checkSlas,
  checkSlasAfterRun,
  powertoolsSlaMetrics,
  SLA_METRICS,
  type SlaCheckOptions,
  type SlaCheckResult,
  type SlaMetricsSink,
  type SlaTrigger,
  slaMetricsForEnvironment,
} from './sla-monitor.js';
