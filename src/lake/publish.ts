import { z } from 'zod';
import type { ObjectStore } from '../adapters/object-store/port.js';
import { PublishBlockedError, RunNotFoundError } from './errors.js';
import { jsonBody, readJson } from './json.js';
import { confirmationKey, latestKey, runPrefix, type VersionedDataset } from './layout.js';
import { assertRunId } from './run-id.js';

/** The outcome of one data-quality check, recorded beside the run and in the pointer. */
export const checkResultSchema = z.object({
  name: z.string(),
  passed: z.boolean(),
  blocking: z.boolean(),
  detail: z.string().optional(),
});
export type CheckResult = z.infer<typeof checkResultSchema>;

/** One Silver input of a Gold run: the version it read and the Bronze runs merged into that version. */
export const silverInputSchema = z.object({
  /** `source/entity`, as the Silver state names it. */
  entity: z.string(),
  source: z.string(),
  /** The Silver version read; `null` when the entity had none yet (read as empty). */
  run_id: z.string().nullable(),
  row_count: z.number().int().nonnegative(),
  /** The newest `source_ts` in that version, deletes included. */
  newest_source_ts: z.string().nullable(),
  /** Keys (`source/entity/ingest_date/run_id`) of every Bronze run merged into that version. */
  bronze_runs: z.array(z.string()),
});
export type SilverInput = z.infer<typeof silverInputSchema>;

/** What a Gold run was built from, down to the Bronze runs (recorded in its manifest). */
export const goldLineageSchema = z.object({
  silver: z.array(silverInputSchema),
  /** Per source, the newest `source_ts` the run includes. */
  newest_source_change: z.record(z.string(), z.string()),
});
export type GoldLineage = z.infer<typeof goldLineageSchema>;

/** `_SUCCESS`: written last inside a run; a run without it does not exist for readers. */
export const runManifestSchema = z.object({
  run_id: z.string(),
  schema_version: z.number().int(),
  completed_at: z.string(),
  row_count: z.number().int().nonnegative(),
  checks: z.array(checkResultSchema),
  /** Free-form facts about the run (inputs, lineage) for later tooling. */
  details: z.record(z.string(), z.unknown()).default({}),
  /** When the run was made servable; `completed_at` is the data's as-of time, which can be earlier. */
  ready_at: z.string().optional(),
  lineage: goldLineageSchema.optional(),
});
export type RunManifest = z.infer<typeof runManifestSchema>;

/** `_LATEST.json`: the one pointer readers follow. */
export const latestPointerSchema = z.object({
  run_id: z.string(),
  schema_version: z.number().int(),
  published_at: z.string(),
  path: z.string(),
  row_count: z.number().int().nonnegative(),
  checks: z.array(checkResultSchema),
  rolled_back_from: z.string().optional(),
  /** When the run was made servable (absent on pointers written before it was recorded, and on rollbacks). */
  ready_at: z.string().optional(),
  /** The served run's data as-of time (its manifest's `completed_at`), so freshness needs no other read. */
  built_at: z.string().optional(),
  /** Per source, the newest `source_ts` the served run includes (from its lineage). */
  newest_source_change: z.record(z.string(), z.string()).optional(),
});
export type LatestPointer = z.infer<typeof latestPointerSchema>;

/** The names of the blocking checks that failed: any one keeps a run from being served. */
export function failedBlockingChecks(checks: readonly CheckResult[]): string[] {
  return checks.filter((c) => c.blocking && !c.passed).map((c) => c.name);
}

/** What `publishRun` needs once the run's data objects are written. */
export interface PublishRequest {
  readonly runId: string;
  readonly rowCount: number;
  readonly checks: readonly CheckResult[];
  readonly details?: Record<string, unknown>;
  readonly now?: Date;
  /** The moment of publication, when `now` is the data's as-of time instead (the pipeline's run start). */
  readonly readyAt?: Date;
  readonly lineage?: GoldLineage;
}

/**
 * Publish a run whose data is already written under its run prefix:
 * 1. refuse if a blocking check failed (nothing becomes visible);
 * 2. write `_SUCCESS` with the manifest (the run is now complete);
 * 3. swap `_LATEST.json` in one write (the run is now served).
 * A crash before 3 leaves the previous version serving; a rerun publishes anew.
 */
export async function publishRun(
  store: ObjectStore,
  dataset: VersionedDataset,
  request: PublishRequest,
): Promise<LatestPointer> {
  const runId = assertRunId(request.runId);
  const failed = failedBlockingChecks(request.checks);
  const prefix = runPrefix(dataset, runId);
  const now = (request.now ?? new Date()).toISOString();
  const manifest: RunManifest = {
    run_id: runId,
    schema_version: dataset.schemaVersion,
    completed_at: now,
    row_count: request.rowCount,
    checks: [...request.checks],
    details: request.details ?? {},
    ...(request.readyAt ? { ready_at: request.readyAt.toISOString() } : {}),
    ...(request.lineage ? { lineage: request.lineage } : {}),
  };
  if (failed.length > 0) {
    // Results are kept beside the run for inspection, but no _SUCCESS: the run stays invisible.
    await store.put(`${prefix}_CHECKS.json`, jsonBody(manifest));
    throw new PublishBlockedError(dataset.label, failed);
  }
  await store.put(`${prefix}_SUCCESS`, jsonBody(manifest));
  const pointer: LatestPointer = {
    run_id: runId,
    schema_version: dataset.schemaVersion,
    published_at: now,
    path: prefix,
    row_count: request.rowCount,
    checks: [...request.checks],
    ...(request.readyAt ? { ready_at: request.readyAt.toISOString() } : {}),
    built_at: now,
    ...(request.lineage ? { newest_source_change: request.lineage.newest_source_change } : {}),
  };
  await store.replace(latestKey(dataset), jsonBody(pointer));
  return pointer;
}

/**
 * `_confirmed/{RUN_ID}.json`: one confirmation by the pipeline run `RUN_ID`.
 * Run folders record builds; these record the times a run was served anew
 * without one, so a deadline SLA can find the first version covering a day.
 */
export const confirmationSchema = z.object({
  /** The Gold run served again. */
  run_id: z.string(),
  built_at: z.string(),
  ready_at: z.string(),
});
export type Confirmation = z.infer<typeof confirmationSchema>;

/** What `confirmServed` needs: the served run's checks run again, and the times of this confirmation. */
export interface ConfirmRequest {
  /** The pipeline run confirming (names its `_confirmed/` record). */
  readonly confirmedBy: string;
  /** The pointer read before the checks: its run's data is what a build now would write again. */
  readonly served: LatestPointer;
  readonly rowCount: number;
  readonly checks: readonly CheckResult[];
  /** The data's new as-of time (the pipeline's run start). */
  readonly now: Date;
  /** The moment of the confirmation. */
  readonly readyAt: Date;
}

/**
 * Serve the same run again as of `now`, when a build now would write exactly
 * its data (the pipeline's Gold reuse): no new run, one pointer write, so
 * freshness (`built_at`) moves on with the data's as-of time while the files
 * stay those of the run. The served run's checks were run again first: a
 * failed blocking check leaves the pointer as it is (`PublishBlockedError`),
 * as it leaves a new run unpublished. The run's manifest is not touched: a
 * complete run never changes; `_confirmed/{confirmedBy}.json` records the
 * confirmation for SLA history, written after the pointer so that it never
 * claims a version that was not served. Like `publishRun`, it runs under the
 * pipeline lock, and the last pointer write wins.
 */
export async function confirmServed(
  store: ObjectStore,
  dataset: VersionedDataset,
  request: ConfirmRequest,
): Promise<LatestPointer> {
  const { served } = request;
  const runId = assertRunId(served.run_id);
  const failed = failedBlockingChecks(request.checks);
  if (failed.length > 0) throw new PublishBlockedError(dataset.label, failed);
  const now = request.now.toISOString();
  const readyAt = request.readyAt.toISOString();
  const pointer: LatestPointer = {
    run_id: runId,
    schema_version: dataset.schemaVersion,
    published_at: now,
    path: runPrefix(dataset, runId),
    row_count: request.rowCount,
    checks: [...request.checks],
    ready_at: readyAt,
    built_at: now,
    ...(served.newest_source_change ? { newest_source_change: served.newest_source_change } : {}),
  };
  await store.replace(latestKey(dataset), jsonBody(pointer));
  const confirmation: Confirmation = { run_id: runId, built_at: now, ready_at: readyAt };
  await store.put(confirmationKey(dataset, request.confirmedBy), jsonBody(confirmation));
  return pointer;
}

/** The version readers must use now, or `undefined` if nothing was ever published. */
export async function resolveLatest(
  store: ObjectStore,
  dataset: VersionedDataset,
): Promise<LatestPointer | undefined> {
  return readJson(store, latestKey(dataset), latestPointerSchema);
}

/** The manifest of a complete run, or `undefined` if the run is absent or incomplete. */
export async function readRunManifest(
  store: ObjectStore,
  dataset: VersionedDataset,
  runId: string,
): Promise<RunManifest | undefined> {
  return readJson(store, `${runPrefix(dataset, runId)}_SUCCESS`, runManifestSchema);
}

/** Every complete run of a dataset, oldest first. */
export async function listCompleteRuns(store: ObjectStore, dataset: VersionedDataset): Promise<string[]> {
  const runs: string[] = [];
  for await (const info of store.list(`${dataset.prefix}run_id=`)) {
    const m = /run_id=([^/]+)\/_SUCCESS$/.exec(info.key);
    if (m?.[1]) runs.push(m[1]);
  }
  return runs.sort();
}

/** Point `_LATEST.json` back at an earlier complete run. */
export async function rollbackTo(
  store: ObjectStore,
  dataset: VersionedDataset,
  runId: string,
  now: Date = new Date(),
): Promise<LatestPointer> {
  const manifest = await readRunManifest(store, dataset, assertRunId(runId));
  if (!manifest) throw new RunNotFoundError(dataset.label, runId);
  const current = await resolveLatest(store, dataset);
  const pointer: LatestPointer = {
    run_id: runId,
    schema_version: manifest.schema_version,
    published_at: now.toISOString(),
    path: runPrefix(dataset, runId),
    row_count: manifest.row_count,
    checks: manifest.checks,
    ...(current && current.run_id !== runId ? { rolled_back_from: current.run_id } : {}),
    built_at: manifest.completed_at,
    ...(manifest.lineage ? { newest_source_change: manifest.lineage.newest_source_change } : {}),
  };
  await store.replace(latestKey(dataset), jsonBody(pointer));
  return pointer;
}
