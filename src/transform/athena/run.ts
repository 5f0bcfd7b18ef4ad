import type { ObjectStore } from '../../adapters/object-store/port.js';
import { LAKE_LAYERS } from '../../adapters/object-store/s3-layout.js';
import type { Cell, QueryEngine, QueryStats } from '../../adapters/query-engine/port.js';
import type { Config } from '../../config/index.js';
import { condemnedKey, goldDataset, quarantineKey, runPrefix, silverDataset } from '../../lake/layout.js';
import { acquireLock } from '../../lake/lock.js';
import { readRunManifest } from '../../lake/publish.js';
import { trinoDialect } from '../../sql/dialect.js';
import { ENTITIES, type EntityContract } from '../entities.js';
import type { GoldModel } from '../gold/index.js';
import {
  PIPELINE_JOB,
  type SilverMergeInput,
  type SilverMergeOutcome,
  type SilverRead,
  type TransformHome,
} from '../pipeline.js';
import { reconciled } from '../silver.js';
import {
  type AthenaConfig,
  type AthenaStatement,
  defineAthenaConfig,
  existingTablesQuery,
  goldRunLocation,
} from './config.js';
import { AthenaLakeStateError, AthenaTransformConfigError } from './errors.js';
import {
  goldBuildStatements,
  goldPublishStatement,
  type PartitionValue,
  partitionValuesQuery,
} from './gold.js';
import { silverMaintenanceStatements } from './maintenance.js';
import {
  type BronzePartition,
  emptySilverRelation,
  newestSourceQuery,
  reconcileQuery,
  type SilverBatch,
  silverMergeStatements,
  silverRelation,
  silverSetupStatements,
  silverSnapshotQuery,
} from './silver.js';

/**
 * The pipeline's AWS home: the statements of this folder, executed in order
 * through the QueryEngine port (the Athena adapter on AWS), with the lake's
 * objects (`_SUCCESS`, `_LATEST.json`, checkpoints, locks) in the object
 * store. The orchestration (lock, checkpoint, steps, checks, publication, run
 * report) is `runPipeline`'s; this file only says how each step runs here:
 *
 * - setup: the tables an entity needs (Bronze external table, Silver and
 *   staging Iceberg tables, quarantine tables), created when missing;
 * - Silver: stage, `MERGE INTO`, quarantine (`silverMergeStatements`), then
 *   the reconciliation counts and the Iceberg snapshot the merge committed.
 *   The snapshot id goes into the Silver version's manifest, and Gold reads
 *   Silver `FOR VERSION AS OF` the published snapshot: a merge whose version
 *   was blocked is in the table but never read, as on the embedded engine;
 * - Gold: a CTAS into the run-scoped table and location
 *   (`gold/{mart}/schema_v=N/run_id=R/`), then INSERT INTO per further range
 *   of at most 100 partitions; checks run on the run table; once
 *   `_LATEST.json` names the run, the mart's view is moved to it.
 *
 * Every statement is safe to repeat after a crash: staging is rebuilt, the
 * merge only moves a key forward, and a Gold run is new under each run id.
 */

/** What the AWS home runs with. */
export interface AthenaHomeOptions {
  readonly store: ObjectStore;
  /** An engine that speaks Athena's SQL (`AthenaQueryEngine`), whose database is the Gold one. */
  readonly engine: QueryEngine;
  readonly config: AthenaConfig;
  /** The entities whose tables setup creates (default: every contract). */
  readonly contracts?: readonly EntityContract[];
}

/** The Athena home of `runPipeline`. */
export function athenaHome(options: AthenaHomeOptions): TransformHome {
  const { store, engine, config } = options;
  const contracts = options.contracts ?? ENTITIES;
  const execute = (statement: AthenaStatement): Promise<QueryStats> =>
    engine.execute({ sql: statement.sql, label: statement.label });
  const query = async (statement: AthenaStatement) =>
    (await engine.query({ sql: statement.sql, label: statement.label })).rows;

  return {
    dialect: trinoDialect,
    async prepare() {
      const existing = new Set(
        (await query(existingTablesQuery(config))).map(
          (r) => `${String(r.table_schema)}.${String(r.table_name)}`,
        ),
      );
      for (const contract of contracts) {
        for (const statement of silverSetupStatements(config, contract)) {
          const target = statement.target;
          if (target && existing.has(`${target.db}.${target.table}`)) continue;
          await execute(statement);
        }
      }
    },

    async mergeSilver(input: SilverMergeInput): Promise<SilverMergeOutcome> {
      const { contract } = input;
      const retried = input.retried.map((key) => quarantinePartition(key, contract));
      const batch: SilverBatch = {
        bronzeRuns: input.pending.map((run) => ({ ingestDate: run.ref.ingestDate, runId: run.ref.runId })),
        quarantineRuns: retried.filter((p) => !p.condemned),
        condemnedRuns: retried.filter((p) => p.condemned),
        runId: input.runId,
        ingestDate: input.ingestDate,
      };
      for (const statement of silverMergeStatements(config, contract, batch)) await execute(statement);
      const r = (await query(reconcileQuery(config, contract)))[0] ?? {};
      const n = (v: Cell | undefined): number => Number(v ?? 0);
      const snapshot = (await query(silverSnapshotQuery(config, contract)))[0]?.snapshot_id;
      const ref = {
        source: contract.source,
        entity: contract.entity,
        ingestDate: input.ingestDate,
        runId: input.runId,
      };
      // Athena names the files it writes: the state records them, as it records the embedded engine's one file.
      const quarantineKeys = n(r.quarantined) > 0 ? await dataFiles(store, folderOf(quarantineKey(ref))) : [];
      const condemnedKeys = n(r.condemned) > 0 ? await dataFiles(store, folderOf(condemnedKey(ref))) : [];
      return {
        ...reconciled(r),
        quarantineKeys,
        condemnedKeys,
        details: {
          iceberg_snapshot_id: typeof snapshot === 'string' ? snapshot : null,
          quarantine_keys: quarantineKeys,
          condemned_keys: condemnedKeys,
        },
      };
    },

    async rollUp() {
      // Gold computes rollups inline on Athena (see athenaGoldContext): no files to keep.
      return [];
    },

    async afterSilverStep() {
      // Staging is an Iceberg table cleared by the next merge: nothing to remove here.
    },

    async readSilver(contract, pointer): Promise<SilverRead> {
      if (!pointer) return { relation: emptySilverRelation(config, contract), newestSourceTs: null };
      const manifest = await readRunManifest(
        store,
        silverDataset(contract.source, contract.entity),
        pointer.run_id,
      );
      const snapshot = manifest?.details.iceberg_snapshot_id;
      if (typeof snapshot !== 'string') {
        throw new AthenaLakeStateError(
          `silver ${contract.source}.${contract.entity}: the served version records no Iceberg snapshot`,
        );
      }
      const newest = (await query(newestSourceQuery(config, contract, snapshot)))[0]?.newest;
      return {
        relation: silverRelation(config, contract, snapshot),
        newestSourceTs: typeof newest === 'string' ? isoMillis(newest) : null,
      };
    },

    async buildGold({ model, inputs, runId, asOf, prefix }) {
      const location = goldRunLocation(config, model.mart.name, model.mart.schemaVersion, runId);
      if (
        !location.endsWith(prefix) ||
        prefix !== runPrefix(goldDataset(model.mart.name, model.mart.schemaVersion), runId)
      )
        throw new TypeError(`${model.mart.name}: the run prefix and the CTAS location disagree`);
      const ctx = { inputs, asOf, dialect: trinoDialect };
      const distinct = partitionValuesQuery(model, ctx);
      const partitionValues = distinct
        ? (await query(distinct)).map((row) => partitionTuple(model, row))
        : [];
      for (const statement of goldBuildStatements(config, model, { runId, ctx, partitionValues }))
        await execute(statement);
    },

    async published(model: GoldModel, runId: string) {
      await execute(goldPublishStatement(config, model.mart, runId));
    },
  };
}

const QUARANTINE_KEY =
  /^quarantine\/(condemned\/)?([a-z][a-z0-9_]*)\/([a-z][a-z0-9_]*)\/ingest_date=(\d{4}-\d{2}-\d{2})\/run_id=([^/]+)\//;

/** The partition of a quarantine file the Silver state names (open or condemned). */
function quarantinePartition(
  key: string,
  contract: EntityContract,
): BronzePartition & { readonly condemned: boolean } {
  const m = QUARANTINE_KEY.exec(key);
  if (!m || m[2] !== contract.source || m[3] !== contract.entity) {
    throw new AthenaLakeStateError(
      `silver ${contract.source}.${contract.entity}: a retried quarantine file has another layout`,
    );
  }
  return { condemned: m[1] !== undefined, ingestDate: m[4] as string, runId: m[5] as string };
}

function folderOf(key: string): string {
  return key.slice(0, key.lastIndexOf('/') + 1);
}

/** Data files under a prefix: Athena's rule, names starting with `_` or `.` are not data. */
async function dataFiles(store: ObjectStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of store.list(prefix)) {
    const name = info.key.slice(info.key.lastIndexOf('/') + 1);
    if (!name.startsWith('_') && !name.startsWith('.')) keys.push(info.key);
  }
  return keys.sort();
}

/** A result row's partition values in the mart's partition order. */
function partitionTuple(model: GoldModel, row: Readonly<Record<string, Cell>>): PartitionValue[] {
  return model.mart.partitionBy.map((column) => {
    const value = row[column];
    if (value === undefined || (typeof value === 'object' && value !== null))
      throw new TypeError(`${model.mart.name}: partition value of ${column} is not a scalar`);
    return value;
  });
}

/** `2026-11-21 06:15:00.12` (a TIMESTAMP cell) -> `2026-11-21T06:15:00.120Z`, as the embedded lineage writes it. */
function isoMillis(cell: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d+))?/.exec(cell);
  if (!m) throw new TypeError(`not a timestamp: ${JSON.stringify(cell)}`);
  return `${m[1]}T${m[2]}.${(m[3] ?? '').padEnd(3, '0').slice(0, 3)}Z`;
}

/**
 * The Athena settings of the aws home: the Glue database of each layer
 * (`GOLDGATE_GLUE_DATABASES`) and each layer's S3 root, from the same bucket
 * settings as the S3 object store (`GOLDGATE_S3_BUCKET(S)`, `GOLDGATE_S3_PREFIX`),
 * so the tables sit over exactly the keys the store writes.
 */
export function athenaConfigOf(config: Config): AthenaConfig {
  const dbs = config.athena.glueDatabases;
  const missing = LAKE_LAYERS.filter((layer) => !dbs[layer]);
  const problems = missing.map((layer) => `GOLDGATE_GLUE_DATABASES: no database for the ${layer} layer`);
  const root = (layer: (typeof LAKE_LAYERS)[number]): string => {
    const bucket = config.s3.layerBuckets[layer] ?? config.s3.bucket;
    if (!bucket) problems.push(`GOLDGATE_S3_BUCKET(S): no bucket for the ${layer} layer`);
    return `s3://${bucket ?? 'missing'}/${config.s3.prefix}`;
  };
  const locations = {
    bronze: root('bronze'),
    silver: root('silver'),
    gold: root('gold'),
    quarantine: root('quarantine'),
  };
  if (problems.length > 0) throw new AthenaTransformConfigError(problems.join('; '));
  if (config.athena.database && config.athena.database !== dbs.gold) {
    throw new AthenaTransformConfigError(
      'GOLDGATE_ATHENA_DATABASE must be the Gold database of GOLDGATE_GLUE_DATABASES',
    );
  }
  try {
    return defineAthenaConfig({
      bronzeDb: dbs.bronze as string,
      silverDb: dbs.silver as string,
      goldDb: dbs.gold as string,
      quarantineDb: dbs.quarantine as string,
      locations,
      bronzeProjectionStart: config.athena.bronzeProjectionStart,
    });
  } catch (error) {
    throw new AthenaTransformConfigError('the Athena settings do not make valid table names and locations', {
      cause: error,
    });
  }
}

/**
 * The pipeline's home for the configured one: the Athena home on `aws`
 * (whose engine must query in the Gold database, where the run tables are),
 * `undefined` for the embedded default.
 */
export function transformHomeFor(
  config: Config,
  store: ObjectStore,
  engine: QueryEngine,
): TransformHome | undefined {
  if (config.home !== 'aws') return undefined;
  const athena = athenaConfigOf(config);
  if (config.athena.database !== athena.goldDb) {
    throw new AthenaTransformConfigError(
      'GOLDGATE_ATHENA_DATABASE must be the gold database of GOLDGATE_GLUE_DATABASES for the pipeline',
    );
  }
  return athenaHome({ store, engine, config: athena });
}

/** What the maintenance job did. */
export interface MaintenanceReport {
  readonly statements: ReadonlyArray<{ readonly label: string; readonly queryId: string }>;
}

/**
 * OPTIMIZE (bin-pack) then VACUUM every Silver and staging Iceberg table
 * that exists. Under the pipeline's lock: a compaction racing a MERGE would
 * make one of the two commits fail. A held lock skips the run (the next
 * schedule compacts); it is not a failure.
 */
export async function runSilverMaintenance(options: {
  readonly store: ObjectStore;
  readonly engine: QueryEngine;
  readonly config: AthenaConfig;
  readonly lockTtlMs: number;
  readonly contracts?: readonly EntityContract[];
}): Promise<MaintenanceReport> {
  const { engine, config } = options;
  const lock = await acquireLock(options.store, PIPELINE_JOB, { ttlMs: options.lockTtlMs });
  try {
    // Only Silver's database: the maintenance role reads no other.
    const statement = existingTablesQuery(config, [config.silverDb]);
    const existing = new Set(
      (await engine.query({ sql: statement.sql, label: statement.label })).rows.map(
        (r) => `${String(r.table_schema)}.${String(r.table_name)}`,
      ),
    );
    const done: Array<{ label: string; queryId: string }> = [];
    for (const s of silverMaintenanceStatements(config, options.contracts ?? ENTITIES)) {
      if (s.target && !existing.has(`${s.target.db}.${s.target.table}`)) continue;
      await lock.assertHeld();
      const stats = await engine.execute({ sql: s.sql, label: s.label });
      done.push({ label: s.label, queryId: stats.queryId });
    }
    return { statements: done };
  } finally {
    await lock.release();
  }
}
