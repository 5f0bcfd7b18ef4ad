import { z } from 'zod';
import type { ObjectStore } from '../adapters/object-store/port.js';
import type { QueryEngine } from '../adapters/query-engine/port.js';
import { describeError, isGoldgateError } from '../errors.js';
import { PublishBlockedError } from '../lake/errors.js';
import { jsonBody } from '../lake/json.js';
import {
  goldDataset,
  runPrefix,
  runReportKey,
  silverDataset,
  type VersionedDataset,
} from '../lake/layout.js';
import { acquireLock } from '../lake/lock.js';
import {
  type CheckResult,
  confirmServed,
  failedBlockingChecks,
  type GoldLineage,
  type LatestPointer,
  publishRun,
  type RunManifest,
  readRunManifest,
  resolveLatest,
  type SilverInput,
} from '../lake/publish.js';
import { newRunId, utcDate } from '../lake/run-id.js';
import { logger } from '../runtime/logger.js';
import { duckdbDialect, type SqlDialect } from '../sql/dialect.js';
import type { SqlFragment } from '../sql/fragment.js';
import { type CommittedBronzeRun, listCommittedBronzeRuns } from './bronze-runs.js';
import { runMartChecks } from './checks.js';
import { ENTITIES, type EntityContract } from './entities.js';
import { TransformError } from './errors.js';
import { goldBuildKey, goldDefinitionKey } from './gold/build-key.js';
import { GOLD_MODELS, type GoldModel } from './gold/index.js';
import { inlineRollup, inputEntity, isRollup } from './gold/rollups.js';
import { earlierVersionModels, goldStepName } from './gold/versions.js';
import {
  buildGoldIncrementally,
  type IncrementalBuild,
  type IncrementalBuildInput,
  writeGoldFiles,
} from './gold-incremental.js';
import {
  emptySilverRelation,
  mergeSilver,
  newestSourceTsQuery,
  readSilverChanges,
  readSilverVersion,
  silverRelation,
} from './silver.js';
import { type RollupWritten, silverRollupRelations, writeSilverRollups } from './silver-rollups.js';
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
  /** Rows set aside this step: newly quarantined plus condemned. */
  readonly quarantined: number;
  /** Of `quarantined`, rows that failed their last attempt (Silver steps). */
  readonly condemned?: number;
  /** Rows retried from quarantine that now pass (Silver steps). */
  readonly recovered?: number;
  readonly durationMs: number;
  /** The run served after this step (a Gold step that reused the served run names that run). */
  readonly runId?: string;
  /**
   * A Gold step whose build key matched the served run's: nothing was built,
   * its checks were run again and it is served as of this run.
   */
  readonly reused?: boolean;
  readonly checks: readonly CheckResult[];
  readonly inputs?: Record<string, unknown>;
}

/** Why a run stopped before its end; codes only, never paths or SQL. */
export interface PipelineFailure {
  /** The step that was running. */
  readonly step: string;
  readonly code: string;
  /** The code of the underlying goldgate error, when there is one. */
  readonly causeCode?: string;
  readonly message: string;
}

/**
 * The report of one pipeline run (`_runs/pipeline/{RUN_ID}.json`). A run that
 * stopped on an error is recorded too, as `failed`, with the steps it finished.
 */
export interface PipelineReport {
  readonly runId: string;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly status: 'succeeded' | 'blocked' | 'failed';
  readonly steps: readonly StepReport[];
  readonly error?: PipelineFailure;
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
  /**
   * Build every Gold mart even when the served run has the same build key
   * (default false: such a mart is checked again and served as of this run,
   * with no build). For operators after a change the key cannot see.
   */
  readonly rebuildGold?: boolean;
  /** Where the steps run (default: the embedded engine over `store`, `embeddedHome`). */
  readonly home?: TransformHome;
}

/** What one Silver merge is asked to apply. */
export interface SilverMergeInput {
  readonly contract: EntityContract;
  /** Committed Bronze runs not merged yet. */
  readonly pending: readonly CommittedBronzeRun[];
  /** Quarantine files whose rows are retried (the Silver state's `open` list). */
  readonly retried: readonly string[];
  /** The served Silver version, if any. */
  readonly previous: LatestPointer | undefined;
  readonly runId: string;
  /** The run's date: the `ingest_date` of what it quarantines. */
  readonly ingestDate: string;
}

/** What one Silver merge did; the version is published by the pipeline. */
export interface SilverMergeOutcome {
  readonly eventsIn: number;
  readonly skipped: number;
  readonly quarantined: number;
  readonly condemned: number;
  readonly recovered: number;
  readonly liveRows: number;
  readonly tombstones: number;
  readonly checks: CheckResult[];
  /** Quarantine files written (retried next run). */
  readonly quarantineKeys: readonly string[];
  /** Condemned files written. */
  readonly condemnedKeys: readonly string[];
  /** Facts for the version's manifest (`_SUCCESS`) that only this home knows. */
  readonly details: Record<string, unknown>;
}

/** A published Silver version as Gold reads it. */
export interface SilverRead {
  /** Its live rows (or the entity's typed empty relation when nothing was published). */
  readonly relation: SqlFragment;
  /** The newest `source_ts` it holds, tombstones included, as `YYYY-MM-DDTHH:MM:SS.mmmZ`. */
  readonly newestSourceTs: string | null;
  /** Rollups this home keeps for the version, by rollup name; the others are computed inline. */
  readonly rollups?: Readonly<Record<string, SqlFragment>>;
}

/**
 * Where the pipeline's steps run. The orchestration (lock, checkpoint,
 * Silver then Gold, checks, publication, run report) is the same in every
 * home; a home decides how Silver is merged and read and how a Gold run is
 * written. Embedded: DuckDB snapshots in the folder store (`embeddedHome`).
 * AWS: Iceberg tables kept with MERGE and Gold CTAS on Athena (`transform/athena/run.ts`).
 */
export interface TransformHome {
  /** The SQL flavour Gold models are rendered in here. */
  readonly dialect: SqlDialect;
  /** Under the lock, before the first step: clear a crashed run's scratch, create what is missing. */
  prepare(runId: string): Promise<void>;
  /** Apply the input to the entity's next Silver version, not yet published. */
  mergeSilver(input: SilverMergeInput): Promise<SilverMergeOutcome>;
  /**
   * After a merge, before publication: keep the new version's rollups
   * (`gold/rollups.ts`) beside it, or nothing where Gold computes them inline.
   */
  rollUp(contract: EntityContract, runId: string): Promise<readonly RollupWritten[]>;
  /** After an entity's step is recorded: its scratch can go. */
  afterSilverStep(runId: string, contract: EntityContract): Promise<void>;
  /** The Silver version `pointer` names (none: the entity's empty relation). */
  readSilver(contract: EntityContract, pointer: LatestPointer | undefined): Promise<SilverRead>;
  /** Write a Gold run's data under `prefix` (`gold/{mart}/schema_v=N/run_id=R/`). */
  buildGold(input: {
    readonly model: GoldModel;
    readonly inputs: Readonly<Record<string, SqlFragment>>;
    readonly runId: string;
    readonly asOf: string;
    readonly prefix: string;
  }): Promise<void>;
  /** After `_LATEST.json` moved to the run: whatever else must follow it (the catalog view on Athena). */
  published(model: GoldModel, runId: string): Promise<void>;
  /**
   * The rows of the keys changed between two Silver versions of an entity
   * (`readSilverChanges`), or `undefined` when the home cannot tell cheaply.
   * A home without it builds every Gold run whole.
   */
  silverChanges?(contract: EntityContract, fromRun: string, toRun: string): Promise<SqlFragment | undefined>;
  /**
   * Write a Gold run from the served run and its inputs' changes
   * (`buildGoldIncrementally`); `undefined` when a full build is the better way.
   */
  buildGoldIncremental?(input: IncrementalBuildInput): Promise<IncrementalBuild | undefined>;
}

/** The embedded home: Silver versions and Gold runs as Parquet in the folder store, written by DuckDB. */
export function embeddedHome(options: {
  readonly store: ObjectStore;
  readonly engine: QueryEngine;
  /** Share of its base past which a Silver delta is compacted (default `DELTA_COMPACT_AT`). */
  readonly compactAt?: number;
}): TransformHome {
  const { store, engine } = options;
  return {
    dialect: duckdbDialect,
    // A merge's scratch is a table inside the engine, gone with it: nothing to clear or create.
    prepare: async () => {},
    mergeSilver: async (input) => {
      const result = await mergeSilver({
        store,
        engine,
        contract: input.contract,
        bronzeKeys: input.pending.flatMap((run) => run.parts),
        quarantineKeys: input.retried,
        previous: input.previous
          ? await readSilverVersion(store, input.contract, input.previous.run_id)
          : undefined,
        runId: input.runId,
        ingestDate: input.ingestDate,
        ...(options.compactAt === undefined ? {} : { compactAt: options.compactAt }),
      });
      return {
        ...result,
        quarantineKeys: result.quarantineKey ? [result.quarantineKey] : [],
        condemnedKeys: result.condemnedKey ? [result.condemnedKey] : [],
        details: {
          quarantine_key: result.quarantineKey ?? null,
          condemned_key: result.condemnedKey ?? null,
        },
      };
    },
    rollUp: (contract, runId) => writeSilverRollups({ store, engine, contract, runId }),
    afterSilverStep: async () => {},
    readSilver: async (contract, pointer) => {
      if (!pointer) return { relation: emptySilverRelation(contract), newestSourceTs: null };
      const version = await readSilverVersion(store, contract, pointer.run_id);
      const { rows } = await engine.query({
        sql: newestSourceTsQuery(version),
        label: `lineage.${contract.source}.${contract.entity}`,
      });
      const newest = rows[0]?.newest;
      return {
        relation: silverRelation(version),
        newestSourceTs: typeof newest === 'string' ? newest : null,
        rollups: await silverRollupRelations(store, contract, pointer.run_id),
      };
    },
    buildGold: async ({ model, inputs, asOf, prefix }) => {
      const rows = model.query({ inputs, asOf, dialect: duckdbDialect });
      await writeGoldFiles({ store, engine, model, rows, prefix });
    },
    silverChanges: (contract, fromRun, toRun) => readSilverChanges(store, contract, fromRun, toRun),
    buildGoldIncremental: (input) => buildGoldIncrementally({ store, engine, ...input }),
    published: async () => {},
  };
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
  const home = options.home ?? embeddedHome(options);
  const now = options.now ?? (() => new Date());
  const startedAt = now();
  const runId = newRunId(startedAt);
  const lock = await acquireLock(store, PIPELINE_JOB, {
    ttlMs: options.lockTtlMs ?? 15 * 60_000,
    now: startedAt,
  });
  const steps: StepReport[] = [];
  const latest = options.models ?? GOLD_MODELS;
  // Earlier schema versions still served are rebuilt after their current version, every run.
  const models = [...latest, ...earlierVersionModels(latest)];
  const total = ENTITIES.length + models.length;
  let index = 0;
  const progress = (step: string, detail: string): void =>
    options.onProgress?.({ step, detail, index, total });
  let current = 'staging';
  try {
    await home.prepare(runId);
    let checkpoint = await readSilverState(store);
    for (const contract of ENTITIES) {
      index += 1;
      const step = `silver.${contract.source}.${contract.entity}`;
      current = step;
      progress(step, 'merging new Bronze runs');
      const result = await runStep(step, () =>
        silverStep(options, home, contract, checkpoint, runId, startedAt),
      );
      steps.push(result.report);
      if (result.rollup) {
        steps.push(result.rollup);
        progress(result.rollup.step, `${result.rollup.status}: ${result.rollup.rowsOut} rows`);
      }
      if (result.checkpoint) {
        await lock.assertHeld(now());
        checkpoint = result.checkpoint;
        await writeSilverState(store, checkpoint);
      }
      await home.afterSilverStep(runId, contract);
      progress(
        step,
        `${result.report.status}: ${result.report.rowsIn} events in, ${result.report.rowsOut} rows`,
      );
    }
    // Silver is final for this run from here on: each entity's version and lineage is read once for every mart.
    const silverInputs = new Map<string, Promise<ReadSilver>>();
    const silverInput = (contract: EntityContract): Promise<ReadSilver> => {
      const key = entityKeyOf(contract);
      let input = silverInputs.get(key);
      if (!input) {
        input = readSilverInput(options, home, contract, checkpoint);
        silverInputs.set(key, input);
      }
      return input;
    };
    for (const model of models) {
      index += 1;
      const step = goldStepName(model.mart);
      current = step;
      progress(step, 'building');
      const report = await runStep(step, () =>
        goldStep(options, home, model, runId, startedAt, silverInput, async () => {
          const at = now();
          await lock.assertHeld(at);
          return at;
        }),
      );
      steps.push(report);
      progress(
        step,
        report.reused
          ? `${report.status}: ${report.rowsOut} rows, unchanged: run ${report.runId} reused`
          : `${report.status}: ${report.rowsOut} rows${incrementalDetail(report)}`,
      );
    }
    const report: PipelineReport = {
      runId,
      startedAt: startedAt.toISOString(),
      finishedAt: now().toISOString(),
      status: steps.some((s) => s.status === 'blocked') ? 'blocked' : 'succeeded',
      steps,
    };
    current = 'report';
    await store.put(runReportKey(PIPELINE_JOB, runId), jsonBody(report));
    return report;
  } catch (error) {
    await recordFailure(store, {
      runId,
      startedAt: startedAt.toISOString(),
      finishedAt: now().toISOString(),
      status: 'failed',
      steps,
      error: failureOf(error, current),
    });
    throw error;
  } finally {
    await lock.release(now());
  }
}

/** Keep a failed run in the history; the run's own error is what the caller must see, so this never throws. */
async function recordFailure(store: ObjectStore, report: PipelineReport): Promise<void> {
  try {
    await store.put(runReportKey(PIPELINE_JOB, report.runId), jsonBody(report));
  } catch {
    // A store that cannot take the report cannot take anything else either: the thrown error says why.
  }
}

function failureOf(error: unknown, current: string): PipelineFailure {
  const cause = error instanceof Error ? error.cause : undefined;
  return {
    step: error instanceof TransformError ? error.step : current,
    code: isGoldgateError(error) ? error.code : 'UNEXPECTED',
    ...(isGoldgateError(cause) ? { causeCode: cause.code } : {}),
    message: isGoldgateError(error) ? error.message : 'unexpected error',
  };
}

/** A Silver version as Gold reads it: its live rows and what it was built from. */
interface ReadSilver {
  readonly relation: SqlFragment;
  readonly rollups?: Readonly<Record<string, SqlFragment>>;
  readonly lineage: SilverInput;
}

/**
 * The served Silver version of an entity with its lineage: the Bronze runs the
 * Silver state records as merged (the checkpoint moves with every published
 * version, so within a run it names exactly the runs in the served snapshot)
 * and the newest `source_ts` it holds, tombstones included (a delete is a change).
 */
async function readSilverInput(
  options: PipelineOptions,
  home: TransformHome,
  contract: EntityContract,
  checkpoint: SilverState,
): Promise<ReadSilver> {
  const entity = entityKeyOf(contract);
  const pointer = await resolveLatest(options.store, silverDataset(contract.source, contract.entity));
  const read = await home.readSilver(contract, pointer);
  return {
    relation: read.relation,
    ...(read.rollups ? { rollups: read.rollups } : {}),
    lineage: pointer
      ? {
          entity,
          source: contract.source,
          run_id: pointer.run_id,
          row_count: pointer.row_count,
          newest_source_ts: read.newestSourceTs,
          bronze_runs: [...(checkpoint.merged[entity] ?? [])].sort(),
        }
      : {
          entity,
          source: contract.source,
          run_id: null,
          row_count: 0,
          newest_source_ts: null,
          bronze_runs: [],
        },
  };
}

/** A Gold run's lineage from the Silver versions it read. */
function goldLineage(inputs: readonly ReadSilver[]): GoldLineage {
  const newest: Record<string, string> = {};
  const silver: SilverInput[] = [];
  const seen = new Set<string>();
  for (const { lineage } of inputs) {
    // Two inputs of a model may be the same entity: it is one Silver version.
    if (seen.has(lineage.entity)) continue;
    seen.add(lineage.entity);
    silver.push(lineage);
    const ts = lineage.newest_source_ts;
    const known = newest[lineage.source];
    if (ts !== null && (known === undefined || ts > known)) newest[lineage.source] = ts;
  }
  return { silver: silver.sort((a, b) => a.entity.localeCompare(b.entity)), newest_source_change: newest };
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
  home: TransformHome,
  contract: EntityContract,
  checkpoint: SilverState,
  runId: string,
  startedAt: Date,
): Promise<{ report: StepReport; rollup?: StepReport; checkpoint?: SilverState }> {
  const { store } = options;
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
  // The rollups are a step of their own in the report: they prepare Gold, they are not the merge.
  let rollupMs = 0;
  const report = (status: StepReport['status'], extra: Partial<StepReport>): StepReport => ({
    step,
    status,
    rowsIn: 0,
    rowsOut: latest?.row_count ?? 0,
    quarantined: 0,
    durationMs: Date.now() - began - rollupMs,
    checks: [],
    ...extra,
  });
  if (pending.length === 0 && retried.length === 0) {
    return { report: report('skipped', latest ? { runId: latest.run_id } : {}) };
  }
  {
    const result = await home.mergeSilver({
      contract,
      pending,
      retried,
      previous: latest,
      runId,
      ingestDate: utcDate(startedAt),
    });
    const rollupStarted = Date.now();
    const rolled = await home.rollUp(contract, runId);
    rollupMs = Date.now() - rollupStarted;
    const rollupReport = (status: StepReport['status']): StepReport | undefined =>
      rolled.length === 0
        ? undefined
        : {
            step: `rollup.${contract.source}.${contract.entity}`,
            status,
            rowsIn: result.liveRows,
            rowsOut: rolled.reduce((sum, r) => sum + r.rows, 0),
            quarantined: 0,
            durationMs: rollupMs,
            runId,
            checks: [],
            inputs: { rollups: Object.fromEntries(rolled.map((r) => [r.id, r.mode])) },
          };
    const counts = {
      rowsIn: result.eventsIn,
      rowsOut: result.liveRows,
      quarantined: result.quarantined + result.condemned,
      condemned: result.condemned,
      recovered: result.recovered,
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
          ...result.details,
        },
      });
    } catch (error) {
      // A blocked Silver version is not served and its runs stay pending: Gold reads the previous one.
      if (error instanceof PublishBlockedError) {
        const rollup = rollupReport('blocked');
        return { report: report('blocked', counts), ...(rollup ? { rollup } : {}) };
      }
      throw error;
    }
    const condemned = checkpoint.quarantine.condemned[entityKey] ?? [];
    const rollup = rollupReport('published');
    return {
      report: report('published', counts),
      ...(rollup ? { rollup } : {}),
      checkpoint: {
        ...checkpoint,
        merged: { ...checkpoint.merged, [entityKey]: [...merged, ...pending.map((run) => run.key)].sort() },
        quarantine: {
          ...checkpoint.quarantine,
          open: {
            ...checkpoint.quarantine.open,
            [entityKey]: [...result.quarantineKeys],
          },
          condemned: {
            ...checkpoint.quarantine.condemned,
            [entityKey]: [...condemned, ...result.condemnedKeys],
          },
        },
      },
    };
  }
}

async function goldStep(
  options: PipelineOptions,
  home: TransformHome,
  model: GoldModel,
  runId: string,
  startedAt: Date,
  silverInput: (contract: EntityContract) => Promise<ReadSilver>,
  /** Throws unless the lock is still held; returns the time it checked (the publication time). */
  assertHeld: () => Promise<Date>,
): Promise<StepReport> {
  const { store, engine } = options;
  const began = Date.now();
  const step = goldStepName(model.mart);
  const relations: Record<string, SqlFragment> = {};
  const silverRuns: Record<string, string> = {};
  const read: ReadSilver[] = [];
  for (const [name, declared] of Object.entries(model.inputs)) {
    const contract = inputEntity(declared);
    const input = await silverInput(contract);
    read.push(input);
    // An entity that never received an event is empty, not missing: the mart still builds.
    relations[name] = isRollup(declared)
      ? (input.rollups?.[declared.name] ?? inlineRollup(declared, input.relation, home.dialect))
      : input.relation;
    silverRuns[`${contract.source}/${contract.entity}`] = input.lineage.run_id ?? 'none';
  }
  const lineage = goldLineage(read);
  const rowsIn = lineage.silver.reduce((sum, s) => sum + s.row_count, 0);
  const dataset = goldDataset(model.mart.name, model.mart.schemaVersion);
  const asOf = utcDate(startedAt);
  const buildKey = goldBuildKey({
    model,
    query: model.query({ inputs: relations, asOf, dialect: home.dialect }),
    dialect: home.dialect.name,
    silverRuns,
    asOf,
  });
  const checkRun = async (target: { runId: string; prefix: string }) => {
    const relation = engine.martRelation({
      mart: model.mart.name,
      schemaVersion: model.mart.schemaVersion,
      runId: target.runId,
      prefix: target.prefix,
    });
    const others: Record<string, SqlFragment> = {};
    for (const ref of model.mart.checks?.references ?? []) {
      const other = GOLD_MODELS.find((m) => m.mart.name === ref.mart)?.mart;
      const pointer = other
        ? await resolveLatest(store, goldDataset(other.name, other.schemaVersion))
        : undefined;
      if (other && pointer) {
        others[ref.mart] = engine.martRelation({
          mart: other.name,
          schemaVersion: other.schemaVersion,
          runId: pointer.run_id,
          prefix: pointer.path,
        });
      }
    }
    return runMartChecks(engine, model.mart, relation, others);
  };

  const reusable = options.rebuildGold ? undefined : await reusableRun(store, dataset, buildKey);
  let refused: string | undefined;
  if (reusable) {
    // The served run is what a build would write, if its files are still what was published: check it again.
    const { pointer, manifest } = reusable;
    let failure: unknown;
    const result = await checkRun({ runId: pointer.run_id, prefix: pointer.path }).catch((error: unknown) => {
      failure = error;
      return undefined;
    });
    refused = !result
      ? 'checks_failed_to_run'
      : failedBlockingChecks(result.checks).length > 0
        ? 'blocking_check_failed'
        : result.rowCount !== manifest.row_count
          ? 'row_count_changed'
          : undefined;
    if (result && !refused) {
      const readyAt = await assertHeld();
      await confirmServed(store, dataset, {
        confirmedBy: runId,
        served: pointer,
        rowCount: result.rowCount,
        checks: result.checks,
        now: startedAt,
        readyAt,
      });
      // Idempotent: a view left behind by a failed publication earlier is moved to the served run.
      await home.published(model, pointer.run_id);
      return {
        step,
        status: 'published',
        rowsIn,
        rowsOut: result.rowCount,
        quarantined: 0,
        durationMs: Date.now() - began,
        runId: pointer.run_id,
        reused: true,
        checks: result.checks,
        inputs: { silver_runs: silverRuns },
      };
    }
    // The served files no longer pass: build afresh, which heals them.
    logger.warn('gold run not reused: building afresh', {
      mart: model.mart.name,
      run_id: pointer.run_id,
      reason: refused,
      ...(failure === undefined ? {} : { error: describeError(failure) }),
    });
  }

  const prefix = runPrefix(dataset, runId);
  const definitionKey = goldDefinitionKey(model, home.dialect, asOf);
  let incremental: Awaited<ReturnType<typeof buildIncrementally>>;
  // A served run that reuse refused (its files no longer pass) is no base to build on: build whole, which heals it.
  if (!options.rebuildGold && refused === undefined) {
    try {
      incremental = await buildIncrementally(store, home, model, {
        dataset,
        relations,
        silverRuns,
        definitionKey,
        asOf,
        prefix,
      });
    } catch (error) {
      // It starts from the served run's files; a full build needs none of them, so it heals what they broke.
      logger.warn('incremental gold build failed: building whole', {
        mart: model.mart.name,
        error: describeError(error),
      });
    }
  }
  if (!incremental) await home.buildGold({ model, inputs: relations, runId, asOf, prefix });
  const build = incremental
    ? {
        mode: 'incremental',
        from_run: incremental.fromRun,
        affected_keys: incremental.affectedKeys,
        files_reused: incremental.filesReused,
        files_rewritten: incremental.filesRewritten,
      }
    : { mode: 'full' };
  const { rowCount, checks } = await checkRun({ runId, prefix });
  const readyAt = await assertHeld();
  let status: StepReport['status'] = 'published';
  try {
    await publishRun(store, dataset, {
      runId,
      rowCount,
      checks,
      now: startedAt,
      readyAt,
      details: {
        silver_runs: silverRuns,
        as_of: asOf,
        build_key: buildKey,
        definition_key: definitionKey,
        build,
      },
      lineage,
    });
  } catch (error) {
    // A blocked run keeps its check results beside it; the previous version keeps serving.
    if (!(error instanceof PublishBlockedError)) throw error;
    status = 'blocked';
  }
  if (status === 'published') await home.published(model, runId);
  return {
    step,
    status,
    rowsIn,
    rowsOut: rowCount,
    quarantined: 0,
    durationMs: Date.now() - began,
    runId,
    checks,
    inputs: { silver_runs: silverRuns, build, ...(refused ? { not_reused: refused } : {}) },
  };
}

const servedSilverRunsSchema = z.record(z.string(), z.string());

const incrementalBuildSchema = z.object({
  mode: z.literal('incremental'),
  affected_keys: z.number(),
  files_reused: z.number(),
  files_rewritten: z.number(),
});

/** For the progress line of a Gold step built incrementally: what it recomputed and what it reused. */
function incrementalDetail(report: StepReport): string {
  const build = incrementalBuildSchema.safeParse(report.inputs?.build);
  if (!build.success) return '';
  const b = build.data;
  return ` (incremental: ${b.affected_keys} keys recomputed, ${b.files_reused} files reused, ${b.files_rewritten} rewritten)`;
}

/**
 * Build a mart's run from the served run and its inputs' changes when the
 * model can be (`GoldModel.incremental`), the home can, and the served run was
 * built by the same definition (same SQL, `as_of` and layout) from Silver
 * versions whose changes the home can still tell. `undefined`: build it whole.
 */
async function buildIncrementally(
  store: ObjectStore,
  home: TransformHome,
  model: GoldModel,
  target: {
    readonly dataset: VersionedDataset;
    readonly relations: Readonly<Record<string, SqlFragment>>;
    readonly silverRuns: Readonly<Record<string, string>>;
    readonly definitionKey: string;
    readonly asOf: string;
    readonly prefix: string;
  },
): Promise<(IncrementalBuild & { readonly fromRun: string }) | undefined> {
  const spec = model.incremental;
  if (!spec || !home.silverChanges || !home.buildGoldIncremental) return undefined;
  // After a rollback an operator chose the served version by hand: start afresh, as reuse does.
  const pointer = await resolveLatest(store, target.dataset);
  if (!pointer || pointer.rolled_back_from !== undefined) return undefined;
  // Run ids are unique to the second plus 2 random bytes; the served run's folder is never written into.
  if (pointer.path === target.prefix) return undefined;
  const manifest = await readRunManifest(store, target.dataset, pointer.run_id);
  if (!manifest || manifest.details.definition_key !== target.definitionKey) return undefined;
  const served = servedSilverRunsSchema.safeParse(manifest.details.silver_runs);
  if (!served.success) return undefined;
  const changed: Record<string, SqlFragment> = {};
  for (const [name, declared] of Object.entries(model.inputs)) {
    // A rollup's changes are not rows of Silver keys: marts reading one are built whole.
    if (isRollup(declared)) return undefined;
    const entity = `${declared.source}/${declared.entity}`;
    const from = served.data[entity];
    const to = target.silverRuns[entity];
    if (from === undefined || to === undefined) return undefined;
    if (from === to) {
      changed[name] = emptySilverRelation(declared);
      continue;
    }
    if (from === 'none' || to === 'none') return undefined;
    const rows = await home.silverChanges(declared, from, to);
    if (!rows) return undefined;
    changed[name] = rows;
  }
  let result: IncrementalBuild | undefined;
  try {
    result = await home.buildGoldIncremental({
      model,
      spec,
      inputs: target.relations,
      changed,
      asOf: target.asOf,
      prefix: target.prefix,
      served: { prefix: pointer.path, rowCount: manifest.row_count },
    });
  } catch (error) {
    // Every write the attempt started has settled by now: clear them, so the full build starts from an empty folder.
    for await (const info of store.list(target.prefix)) await store.delete(info.key);
    throw error;
  }
  return result ? { ...result, fromRun: pointer.run_id } : undefined;
}

/**
 * The served run of a Gold dataset when it was built with `buildKey`: a
 * build now would write the same rows. Not after a rollback: an operator
 * chose that version by hand, and the next run builds afresh.
 */
async function reusableRun(
  store: ObjectStore,
  dataset: VersionedDataset,
  buildKey: string,
): Promise<{ readonly pointer: LatestPointer; readonly manifest: RunManifest } | undefined> {
  const pointer = await resolveLatest(store, dataset);
  if (!pointer || pointer.rolled_back_from !== undefined) return undefined;
  const manifest = await readRunManifest(store, dataset, pointer.run_id);
  return manifest?.details.build_key === buildKey ? { pointer, manifest } : undefined;
}
