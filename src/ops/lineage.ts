import { z } from 'zod';
import type { ObjectStore } from '../adapters/object-store/port.js';
import { findMart } from '../catalog/index.js';
import { bronzeManifestSchema } from '../ingest/bronze-writer.js';
import { RunNotFoundError } from '../lake/errors.js';
import { readJson } from '../lake/json.js';
import { type BronzeRunRef, bronzeRunPrefix, goldDataset, runPrefix, silverDataset } from '../lake/layout.js';
import {
  type CheckResult,
  type GoldLineage,
  type RunManifest,
  readRunManifest,
  resolveLatest,
  runManifestSchema,
} from '../lake/publish.js';
import { assertRunId, RUN_ID_PATTERN } from '../lake/run-id.js';
import { LineageUnavailableError, UnknownMartError } from './errors.js';

/** One Bronze run a Gold run was built from, with the objects it holds. */
export interface LineageBronzeRun {
  /** `source/entity/ingest_date/run_id`, as checkpoints and manifests name it. */
  readonly key: string;
  /** `null` for a key of another shape (the lineage names it, but it points nowhere). */
  readonly ref: BronzeRunRef | null;
  /** From the run's `_SUCCESS`; `null` if it is no longer readable. */
  readonly eventCount: number | null;
  readonly sourceTs: { readonly min: string | null; readonly max: string | null } | null;
  /** The run's objects (`part-*.jsonl.gz`, `_SUCCESS`), when asked for. */
  readonly objects: ReadonlyArray<{ readonly key: string; readonly size: number }>;
}

/** One Silver version a Gold run read. */
export interface LineageSilver {
  /** `source/entity`. */
  readonly entity: string;
  readonly source: string;
  /** `null`: the entity had no Silver version and was read as empty. */
  readonly runId: string | null;
  readonly rowCount: number | null;
  readonly newestSourceTs: string | null;
  readonly bronzeRuns: readonly LineageBronzeRun[];
}

/** A Gold run and everything it was built from, down to Bronze objects. */
export interface MartLineage {
  readonly mart: string;
  readonly schemaVersion: number;
  readonly runId: string;
  /** `complete` runs have `_SUCCESS`; `blocked` ones failed a blocking check and were never served. */
  readonly status: 'complete' | 'blocked';
  readonly served: boolean;
  readonly builtAt: string;
  /**
   * When the run is served and a later pipeline run served it again unchanged
   * (Gold reuse): the as-of time that run gave it, later than `builtAt`.
   * Null otherwise.
   */
  readonly confirmedAsOf: string | null;
  readonly readyAt: string | null;
  readonly rowCount: number;
  readonly checks: readonly CheckResult[];
  readonly newestSourceChange: Readonly<Record<string, string>>;
  readonly silver: readonly LineageSilver[];
  /**
   * `manifest`: as the run recorded it. `silver_history`: a run from before
   * lineage was recorded, rebuilt from the Silver versions it names and their
   * manifests (each names the Bronze runs it merged and its predecessor).
   */
  readonly recordedIn: 'manifest' | 'silver_history';
}

/** How much of the chain to read. */
export interface LineageOptions {
  /** List each Bronze run's objects (one listing per run). Default true. */
  readonly objects?: boolean;
  readonly schemaVersion?: number;
}

const BRONZE_RUN_KEY = /^([a-z][a-z0-9_]*)\/([a-z][a-z0-9_]*)\/(\d{4}-\d{2}-\d{2})\/([^/]+)$/;

/** The reference of a Bronze run key (`source/entity/ingest_date/run_id`), or `undefined`. */
export function parseBronzeRunKey(key: string): BronzeRunRef | undefined {
  const m = BRONZE_RUN_KEY.exec(key);
  if (!m?.[1] || !m[2] || !m[3] || !m[4] || !RUN_ID_PATTERN.test(m[4])) return undefined;
  return { source: m[1], entity: m[2], ingestDate: m[3], runId: m[4] };
}

const silverDetailsSchema = z.looseObject({
  bronze_runs: z.array(z.string()).default([]),
  previous_run: z.string().nullable().default(null),
});

/**
 * The Bronze runs merged into a Silver version, from the Silver manifests
 * alone: each names the runs it merged and the version it built on.
 */
export async function silverBronzeRuns(store: ObjectStore, entity: string, runId: string): Promise<string[]> {
  const [source, name] = entity.split('/');
  if (!source || !name) return [];
  const dataset = silverDataset(source, name);
  const runs = new Set<string>();
  const visited = new Set<string>();
  let current: string | null = runId;
  while (current && !visited.has(current)) {
    visited.add(current);
    const manifest = await readRunManifest(store, dataset, current);
    if (!manifest) break;
    const details = silverDetailsSchema.parse(manifest.details);
    for (const run of details.bronze_runs) runs.add(run);
    current = details.previous_run;
  }
  return [...runs].sort();
}

const goldDetailsSchema = z.looseObject({ silver_runs: z.record(z.string(), z.string()).optional() });

/**
 * The lineage of a Gold run (default: the one served): the Silver versions it
 * read and the Bronze runs and objects behind them. Throws `UnknownMartError`,
 * `RunNotFoundError` (no such run, or nothing published) or
 * `LineageUnavailableError` (a run that names no Silver inputs).
 */
export async function readLineage(
  store: ObjectStore,
  mart: string,
  runId?: string,
  options: LineageOptions = {},
): Promise<MartLineage> {
  const def = findMart(mart);
  if (!def) throw new UnknownMartError(mart);
  const schemaVersion = options.schemaVersion ?? def.schemaVersion;
  const dataset = goldDataset(def.name, schemaVersion);
  const pointer = await resolveLatest(store, dataset);
  const id = runId === undefined ? pointer?.run_id : assertRunId(runId);
  if (!id) throw new RunNotFoundError(dataset.label, 'latest');
  let status: MartLineage['status'] = 'complete';
  let manifest: RunManifest | undefined = await readRunManifest(store, dataset, id);
  if (!manifest) {
    manifest = await readJson(store, `${runPrefix(dataset, id)}_CHECKS.json`, runManifestSchema);
    status = 'blocked';
  }
  if (!manifest) throw new RunNotFoundError(dataset.label, id);
  const recorded = await recordedLineage(store, def.name, id, manifest);
  const withObjects = options.objects ?? true;
  const silver: LineageSilver[] = [];
  for (const input of recorded.lineage.silver) {
    const bronzeRuns = await mapLimit(input.bronze_runs, 8, (key) => bronzeRun(store, key, withObjects));
    silver.push({
      entity: input.entity,
      source: input.source,
      runId: input.run_id,
      rowCount: recorded.from === 'manifest' ? input.row_count : null,
      newestSourceTs: input.newest_source_ts,
      bronzeRuns,
    });
  }
  return {
    mart: def.name,
    schemaVersion,
    runId: id,
    status,
    served: pointer?.run_id === id,
    builtAt: manifest.completed_at,
    confirmedAsOf:
      pointer?.run_id === id && pointer.built_at && pointer.built_at !== manifest.completed_at
        ? pointer.built_at
        : null,
    readyAt: manifest.ready_at ?? null,
    rowCount: manifest.row_count,
    checks: manifest.checks,
    newestSourceChange: recorded.lineage.newest_source_change,
    silver,
    recordedIn: recorded.from,
  };
}

async function recordedLineage(
  store: ObjectStore,
  mart: string,
  runId: string,
  manifest: RunManifest,
): Promise<{ lineage: GoldLineage; from: 'manifest' | 'silver_history' }> {
  if (manifest.lineage) return { lineage: manifest.lineage, from: 'manifest' };
  const silverRuns = goldDetailsSchema.parse(manifest.details).silver_runs;
  if (!silverRuns) throw new LineageUnavailableError(mart, runId);
  const silver: GoldLineage['silver'] = [];
  for (const [entity, run] of Object.entries(silverRuns).sort(([a], [b]) => a.localeCompare(b))) {
    const source = entity.split('/')[0] ?? '';
    const known = run !== 'none' && RUN_ID_PATTERN.test(run);
    silver.push({
      entity,
      source,
      run_id: known ? run : null,
      row_count: 0,
      newest_source_ts: null,
      bronze_runs: known ? await silverBronzeRuns(store, entity, run) : [],
    });
  }
  return { lineage: { silver, newest_source_change: {} }, from: 'silver_history' };
}

async function bronzeRun(store: ObjectStore, key: string, withObjects: boolean): Promise<LineageBronzeRun> {
  const ref = parseBronzeRunKey(key);
  if (!ref) {
    return { key, ref: null, eventCount: null, sourceTs: null, objects: [] };
  }
  const prefix = bronzeRunPrefix(ref);
  const success = await readJson(store, `${prefix}_SUCCESS`, bronzeManifestSchema).catch(() => undefined);
  const objects: Array<{ key: string; size: number }> = [];
  if (withObjects)
    for await (const info of store.list(prefix)) objects.push({ key: info.key, size: info.size });
  return {
    key,
    ref,
    eventCount: success?.event_count ?? null,
    sourceTs: success ? { min: success.min_source_ts, max: success.max_source_ts } : null,
    objects,
  };
}

/** `fn` over `items` with at most `limit` calls in flight, results in input order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
