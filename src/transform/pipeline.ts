import type { ObjectStore } from '../adapters/object-store/port.js';
import type { QueryEngine } from '../adapters/query-engine/port.js';
import { PublishBlockedError } from '../lake/errors.js';
import { jsonBody } from '../lake/json.js';
import { goldDataset, runPrefix, runReportKey, silverDataset } from '../lake/layout.js';
import { acquireLock } from '../lake/lock.js';
import { type CheckResult, publishRun, resolveLatest } from '../lake/publish.js';
import { newRunId, utcDate } from '../lake/run-id.js';
import { duckdbDialect } from '../sql/dialect.js';
import { ident, raw, type SqlFragment, sql } from '../sql/fragment.js';
import { listCommittedBronzeRuns } from './bronze-runs.js';
import { runMartChecks } from './checks.js';
import { ENTITIES, type EntityContract } from './entities.js';
import { TransformError } from './errors.js';
import { GOLD_MODELS, type GoldModel } from './gold/index.js';
import { emptySilverRelation, mergeSilver, STAGING_ROOT, silverRelation, stagingPrefixOf } from './silver.js';
import { entityKeyOf, readSilverState, type SilverState, writeSilverState } from './state.js';

export const PIPELINE_JOB = 'pipeline';

/** One line of progress, for the CLI and logs. */
export interface ProgressEvent {
  readonly step: string;
  readonly detail: string;
  readonly index: number;
  readonly total: number;
}

/** What one step did, kept in the run report. */
export interface StepReport {
  readonly step: string;
  readonly status: 'published' | 'skipped' | 'blocked';
  readonly rowsIn: number;
  readonly rowsOut: number;
  readonly quarantined: number;
  readonly durationMs: number;
  readonly runId?: string;
  readonly checks: readonly CheckResult[];
  readonly inputs?: Record<string, unknown>;
}

/** The report of one pipeline run (`_runs/pipeline/{RUN_ID}.json`). */
export interface PipelineReport {
  readonly runId: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly status: 'succeeded' | 'blocked';
  readonly steps: readonly StepReport[];
}

export interface PipelineOptions {
  readonly store: ObjectStore;
  readonly engine: QueryEngine;
  readonly lockTtlMs?: number;
  /** The clock; also fixes Gold's `as_of` date. */
  readonly now?: () => Date;
  readonly onProgress?: (event: ProgressEvent) => void;
  /** Build only these Gold models (default: all). For operators and for tests of the mechanics. */
  readonly models?: readonly GoldModel[];
}

/**
 * Bronze -> Silver -> Gold under the pipeline lock. Each Silver entity is
 * published, then checkpointed; each Gold mart is built under a fresh run,
 * checked, then published by swapping its pointer. A crash anywhere leaves the
 * previous versions serving, and a rerun finishes the work (merges are
 * idempotent, so re-merging a run whose checkpoint was not written is harmless).
 */
export async function runPipeline(options: PipelineOptions): Promise<PipelineReport> {
  const { store } = options;
  const now = options.now ?? (() => new Date());
  const startedAt = now();
  const runId = newRunId(startedAt);
  const lock = await acquireLock(store, PIPELINE_JOB, {
    ttlMs: options.lockTtlMs ?? 15 * 60_000,
    now: startedAt,
  });
  const steps: StepReport[] = [];
  const models = options.models ?? GOLD_MODELS;
  const total = ENTITIES.length + models.length;
  let index = 0;
  const progress = (step: string, detail: string): void =>
    options.onProgress?.({ step, detail, index, total });
  try {
    // Scratch left by a run that crashed: only this run, holding the lock, can be writing staging now.
    await removeStaging(store, STAGING_ROOT);
    let checkpoint = await readSilverState(store);
    for (const contract of ENTITIES) {
      index += 1;
      const step = `silver.${contract.source}.${contract.entity}`;
      progress(step, 'merging new Bronze runs');
      const result = await runStep(step, () => silverStep(options, contract, checkpoint, runId, startedAt));
      steps.push(result.report);
      if (result.checkpoint) {
        await lock.assertHeld(now());
        checkpoint = result.checkpoint;
        await writeSilverState(store, checkpoint);
      }
      await removeStaging(store, stagingPrefixOf(runId, contract));
      progress(
        step,
        `${result.report.status}: ${result.report.rowsIn} events in, ${result.report.rowsOut} rows`,
      );
    }
    for (const model of models) {
      index += 1;
      const step = `gold.${model.mart.name}`;
      progress(step, 'building');
      const report = await runStep(step, () =>
        goldStep(options, model, runId, startedAt, () => lock.assertHeld(now())),
      );
      steps.push(report);
      progress(step, `${report.status}: ${report.rowsOut} rows`);
    }
    const report: PipelineReport = {
      runId,
      startedAt: startedAt.toISOString(),
      finishedAt: now().toISOString(),
      status: steps.some((s) => s.status === 'blocked') ? 'blocked' : 'succeeded',
      steps,
    };
    await store.put(runReportKey(PIPELINE_JOB, runId), jsonBody(report));
    return report;
  } finally {
    await lock.release(now());
  }
}

async function runStep<T>(step: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof TransformError) throw error;
    throw new TransformError(step, { cause: error });
  }
}

async function silverStep(
  options: PipelineOptions,
  contract: EntityContract,
  checkpoint: SilverState,
  runId: string,
  startedAt: Date,
): Promise<{ report: StepReport; checkpoint?: SilverState }> {
  const { store, engine } = options;
  const began = Date.now();
  const step = `silver.${contract.source}.${contract.entity}`;
  const entityKey = entityKeyOf(contract);
  const dataset = silverDataset(contract.source, contract.entity);
  const merged = new Set(checkpoint.merged[entityKey] ?? []);
  const pending = (await listCommittedBronzeRuns(store, contract.source, contract.entity)).filter(
    (run) => !merged.has(run.key),
  );
  const retried = checkpoint.quarantine.open[entityKey] ?? [];
  const latest = await resolveLatest(store, dataset);
  const report = (status: StepReport['status'], extra: Partial<StepReport>): StepReport => ({
    step,
    status,
    rowsIn: 0,
    rowsOut: latest?.row_count ?? 0,
    quarantined: 0,
    durationMs: Date.now() - began,
    checks: [],
    ...extra,
  });
  if (pending.length === 0 && retried.length === 0) {
    return { report: report('skipped', latest ? { runId: latest.run_id } : {}) };
  }
  {
    const result = await mergeSilver({
      store,
      engine,
      contract,
      bronzeKeys: pending.flatMap((run) => run.parts),
      quarantineKeys: retried,
      previousPrefix: latest?.path,
      runId,
      ingestDate: utcDate(startedAt),
    });
    const counts = {
      rowsIn: result.eventsIn,
      rowsOut: result.liveRows,
      quarantined: result.quarantined + result.condemned,
      runId,
      checks: result.checks,
      inputs: { bronze_runs: pending.map((run) => run.key), quarantine_retried: retried },
    };
    try {
      await publishRun(store, dataset, {
        runId,
        rowCount: result.liveRows,
        checks: result.checks,
        now: startedAt,
        details: {
          bronze_runs: pending.map((run) => run.key),
          previous_run: latest?.run_id ?? null,
          events_in: result.eventsIn,
          skipped: result.skipped,
          quarantined: result.quarantined,
          condemned: result.condemned,
          recovered: result.recovered,
          tombstones: result.tombstones,
          quarantine_key: result.quarantineKey ?? null,
          condemned_key: result.condemnedKey ?? null,
        },
      });
    } catch (error) {
      // A blocked Silver version is not served and its runs stay pending: Gold reads the previous one.
      if (error instanceof PublishBlockedError) return { report: report('blocked', counts) };
      throw error;
    }
    const condemned = checkpoint.quarantine.condemned[entityKey] ?? [];
    return {
      report: report('published', counts),
      checkpoint: {
        ...checkpoint,
        merged: { ...checkpoint.merged, [entityKey]: [...merged, ...pending.map((run) => run.key)].sort() },
        quarantine: {
          ...checkpoint.quarantine,
          open: {
            ...checkpoint.quarantine.open,
            [entityKey]: result.quarantineKey ? [result.quarantineKey] : [],
          },
          condemned: {
            ...checkpoint.quarantine.condemned,
            [entityKey]: result.condemnedKey ? [...condemned, result.condemnedKey] : condemned,
          },
        },
      },
    };
  }
}

async function hasParquet(store: ObjectStore, prefix: string): Promise<boolean> {
  for await (const info of store.list(prefix)) if (info.key.endsWith('.parquet')) return true;
  return false;
}

/** Staging files are scratch: removed once their run is recorded (or, after a crash, by the next run). */
async function removeStaging(store: ObjectStore, prefix: string): Promise<void> {
  for await (const info of store.list(prefix)) await store.delete(info.key);
}

async function goldStep(
  options: PipelineOptions,
  model: GoldModel,
  runId: string,
  startedAt: Date,
  assertHeld: () => Promise<void>,
): Promise<StepReport> {
  const { store, engine } = options;
  const began = Date.now();
  const step = `gold.${model.mart.name}`;
  const relations: Record<string, ReturnType<typeof silverRelation>> = {};
  const silverRuns: Record<string, string> = {};
  for (const [name, contract] of Object.entries(model.inputs)) {
    const pointer = await resolveLatest(store, silverDataset(contract.source, contract.entity));
    // An entity that never received an event is empty, not missing: the mart still builds.
    relations[name] = pointer ? silverRelation(store, pointer.path) : emptySilverRelation(contract);
    silverRuns[`${contract.source}/${contract.entity}`] = pointer?.run_id ?? 'none';
  }
  const dataset = goldDataset(model.mart.name, model.mart.schemaVersion);
  const prefix = runPrefix(dataset, runId);
  const location = await store.prepareWrite(prefix);
  const query = model.query({ inputs: relations, asOf: utcDate(startedAt), dialect: duckdbDialect });
  const partitions = model.mart.partitionBy.map((c) => ident(c)).join(', ');
  // Partition columns stay inside the files too: readers never depend on `key=value` folder names.
  const build = partitions
    ? sql`COPY (${query}) TO ${location} (FORMAT parquet, PARTITION_BY (${raw(partitions)}), WRITE_PARTITION_COLUMNS true)`
    : sql`COPY (${query}) TO ${`${location}/part-00000.parquet`} (FORMAT parquet)`;
  await engine.execute({ sql: build, label: `${step}.build` });
  if (partitions && !(await hasParquet(store, prefix))) {
    // A partitioned COPY of no rows writes no file; an empty run must still have its (typed) data file.
    await engine.execute({
      sql: sql`COPY (SELECT * FROM (${query}) AS q WHERE FALSE) TO ${`${location}/part-00000.parquet`} (FORMAT parquet)`,
      label: `${step}.build.empty`,
    });
  }
  const relation = engine.martRelation({
    mart: model.mart.name,
    schemaVersion: model.mart.schemaVersion,
    runId,
    prefix,
  });
  const others: Record<string, SqlFragment> = {};
  for (const ref of model.mart.checks?.references ?? []) {
    const target = GOLD_MODELS.find((m) => m.mart.name === ref.mart)?.mart;
    const pointer = target
      ? await resolveLatest(store, goldDataset(target.name, target.schemaVersion))
      : undefined;
    if (target && pointer) {
      others[ref.mart] = engine.martRelation({
        mart: target.name,
        schemaVersion: target.schemaVersion,
        runId: pointer.run_id,
        prefix: pointer.path,
      });
    }
  }
  const { rowCount, checks } = await runMartChecks(engine, model.mart, relation, others);
  await assertHeld();
  let status: StepReport['status'] = 'published';
  try {
    await publishRun(store, dataset, {
      runId,
      rowCount,
      checks,
      now: startedAt,
      details: { silver_runs: silverRuns, as_of: utcDate(startedAt) },
    });
  } catch (error) {
    // A blocked run keeps its check results beside it; the previous version keeps serving.
    if (!(error instanceof PublishBlockedError)) throw error;
    status = 'blocked';
  }
  return {
    step,
    status,
    rowsIn: 0,
    rowsOut: rowCount,
    quarantined: 0,
    durationMs: Date.now() - began,
    runId,
    checks,
    inputs: { silver_runs: silverRuns },
  };
}
