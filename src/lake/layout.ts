import { InvalidNameError } from './errors.js';
import { assertRunId, RUN_ID_PATTERN } from './run-id.js';

/**
 * Every object key goldgate writes, in one place. The same key strings are
 * used on disk and on S3 (`../shared/spec/lake.md`, "Two homes, one layout").
 */

const NAME = /^[a-z][a-z0-9_]{0,62}$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

function name(value: string, what: string): string {
  if (!NAME.test(value)) throw new InvalidNameError(`invalid ${what}`);
  return value;
}

function date(value: string): string {
  if (!DATE.test(value)) throw new InvalidNameError('invalid ingest date');
  return value;
}

/** Where one Bronze run of one entity lives. */
export interface BronzeRunRef {
  readonly source: string;
  readonly entity: string;
  readonly ingestDate: string;
  readonly runId: string;
}

/** `bronze/{source}/{entity}/` */
export function bronzeEntityPrefix(source: string, entity: string): string {
  return `bronze/${name(source, 'source')}/${name(entity, 'entity')}/`;
}

/** `bronze/{source}/{entity}/ingest_date=YYYY-MM-DD/run_id={RUN_ID}/` */
export function bronzeRunPrefix(ref: BronzeRunRef): string {
  return `${bronzeEntityPrefix(ref.source, ref.entity)}ingest_date=${date(ref.ingestDate)}/run_id=${assertRunId(ref.runId)}/`;
}

/** `.../part-NNNNN.jsonl.gz` */
export function bronzePartKey(ref: BronzeRunRef, part: number): string {
  if (!Number.isInteger(part) || part < 0 || part > 99_999) throw new InvalidNameError('invalid part number');
  return `${bronzeRunPrefix(ref)}part-${String(part).padStart(5, '0')}.jsonl.gz`;
}

const BRONZE_KEY =
  /^bronze\/([a-z][a-z0-9_]*)\/([a-z][a-z0-9_]*)\/ingest_date=(\d{4}-\d{2}-\d{2})\/run_id=([^/]+)\/([^/]+)$/;

/** Parse a Bronze object key; `undefined` for keys of another shape. */
export function parseBronzeKey(key: string): (BronzeRunRef & { readonly file: string }) | undefined {
  const m = BRONZE_KEY.exec(key);
  if (!m) return undefined;
  const [, source, entity, ingestDate, runId, file] = m;
  if (!source || !entity || !ingestDate || !runId || !file) return undefined;
  // A stray `run_id=manual/` folder is not a run: only ids the writers could have made count.
  if (!RUN_ID_PATTERN.test(runId)) return undefined;
  return { source, entity, ingestDate, runId, file };
}

/** A stable id for a Bronze run, used in checkpoints and lineage. */
export function bronzeRunKey(ref: BronzeRunRef): string {
  return `${ref.source}/${ref.entity}/${ref.ingestDate}/${ref.runId}`;
}

/**
 * A versioned dataset: a Silver entity or a Gold mart at one schema version.
 * Each holds immutable runs and one `_LATEST.json` pointer.
 */
export interface VersionedDataset {
  /** e.g. `gold/customer_360/schema_v=1/` or `silver/zoho_books/contacts/` */
  readonly prefix: string;
  /** Shown in errors and logs. */
  readonly label: string;
  readonly schemaVersion: number;
}

/** The Gold dataset of a mart at a schema version. */
export function goldDataset(mart: string, schemaVersion: number): VersionedDataset {
  if (!Number.isInteger(schemaVersion) || schemaVersion < 1)
    throw new InvalidNameError('invalid schema version');
  return {
    prefix: `gold/${name(mart, 'mart')}/schema_v=${schemaVersion}/`,
    label: `gold ${mart} v${schemaVersion}`,
    schemaVersion,
  };
}

/** The Silver dataset of a source entity. */
export function silverDataset(source: string, entity: string, schemaVersion = 1): VersionedDataset {
  return {
    prefix: `silver/${name(source, 'source')}/${name(entity, 'entity')}/`,
    label: `silver ${source}.${entity}`,
    schemaVersion,
  };
}

/** `{dataset}run_id={RUN_ID}/` */
export function runPrefix(dataset: VersionedDataset, runId: string): string {
  return `${dataset.prefix}run_id=${assertRunId(runId)}/`;
}

/** `{dataset}_LATEST.json` */
export function latestKey(dataset: VersionedDataset): string {
  return `${dataset.prefix}_LATEST.json`;
}

/**
 * `{dataset}_confirmed/{RUN_ID}.json`: a pipeline run that served the dataset's
 * current run again as of its own start (Gold reuse), for SLA history.
 */
export function confirmationKey(dataset: VersionedDataset, runId: string): string {
  return `${dataset.prefix}_confirmed/${assertRunId(runId)}.json`;
}

/** `quarantine/{source}/{entity}/ingest_date=.../run_id=.../rows.jsonl.gz` */
export function quarantineKey(ref: BronzeRunRef): string {
  return `quarantine/${name(ref.source, 'source')}/${name(ref.entity, 'entity')}/ingest_date=${date(ref.ingestDate)}/run_id=${assertRunId(ref.runId)}/rows.jsonl.gz`;
}

/** `quarantine/condemned/{source}/{entity}/ingest_date=.../run_id=.../rows.jsonl.gz`: rows no longer retried. */
export function condemnedKey(ref: BronzeRunRef): string {
  return `quarantine/condemned/${quarantineKey(ref).slice('quarantine/'.length)}`;
}

/** `_checkpoints/{job}.json` */
export function checkpointKey(job: string): string {
  return `_checkpoints/${jobName(job)}.json`;
}

/** `_locks/{job}/` */
export function lockPrefix(job: string): string {
  return `_locks/${jobName(job)}/`;
}

/** `_runs/{job}/{RUN_ID}.json`: the report of one pipeline run. */
export function runReportKey(job: string, runId: string): string {
  return `_runs/${jobName(job)}/${assertRunId(runId)}.json`;
}

function jobName(job: string): string {
  if (!/^[a-z][a-z0-9_.-]{0,62}$/.test(job)) throw new InvalidNameError('invalid job name');
  return job;
}
