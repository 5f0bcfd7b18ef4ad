import { createHash } from 'node:crypto';
import type { ObjectStore } from '../adapters/object-store/port.js';
import type { QueryEngine } from '../adapters/query-engine/port.js';
import { GOLD_PARQUET } from '../lake/parquet.js';
import { duckdbDialect } from '../sql/dialect.js';
import { ident, join, raw, type SqlFragment, sql } from '../sql/fragment.js';
import type { GoldModel, IncrementalSpec } from './gold/model.js';
import { goldStepName } from './gold/versions.js';

/**
 * A partition folder holding this many files is rewritten whole by the next
 * incremental build that touches the mart, so readers never open more than
 * this many (plus one) small files per partition.
 */
export const MAX_FILES_PER_PARTITION = 8;

/**
 * Past this many affected driver keys per served row, an incremental build
 * would rewrite most files anyway: the mart is rebuilt instead. (Keys against
 * rows: for a mart with several rows per key, payments, a looser bound.)
 */
export const MAX_AFFECTED_SHARE = 0.25;

/** What an incremental Gold build did, for the step report. */
export interface IncrementalBuild {
  /** Distinct driver keys whose rows were recomputed. */
  readonly affectedKeys: number;
  /** Files of the served run copied unchanged into the new run. */
  readonly filesReused: number;
  /** Files of the served run whose surviving rows were written again (they held an affected key, or their partition was crowded). */
  readonly filesRewritten: number;
}

/** What an incremental build of one mart's run is given. */
export interface IncrementalBuildInput {
  readonly model: GoldModel;
  readonly spec: IncrementalSpec;
  /** The model's inputs as a full build reads them. */
  readonly inputs: Readonly<Record<string, SqlFragment>>;
  /** Per input, the rows of its keys changed since the served run (`IncrementalContext.changed`). */
  readonly changed: Readonly<Record<string, SqlFragment>>;
  readonly asOf: string;
  /** The new run's prefix. */
  readonly prefix: string;
  readonly served: ServedGoldRun;
}

/** The served run an incremental build starts from. */
export interface ServedGoldRun {
  readonly prefix: string;
  readonly rowCount: number;
}

/**
 * Write a Gold run under `prefix` from the served run and the rows of the
 * affected keys (copy-on-write at file level, as Iceberg's copy-on-write
 * mode does): the mart's rows of every affected driver key are computed
 * afresh; files of the served run holding none of them are copied as they
 * are (a hard link on the folder store, a server-side copy on S3); the other
 * files' surviving rows are written again with the new rows. The result is
 * the same rows as a full build over the same inputs. Returns `undefined`,
 * writing nothing, when too many keys changed for this to pay.
 */
export async function buildGoldIncrementally(
  options: IncrementalBuildInput & { readonly store: ObjectStore; readonly engine: QueryEngine },
): Promise<IncrementalBuild | undefined> {
  const { store, engine, model, spec, asOf, prefix, served } = options;
  const step = goldStepName(model.mart);
  const driver = options.inputs[spec.driver];
  if (!driver) throw new TypeError(`missing driver input ${spec.driver}`);
  const table = raw(ident(`gold_affected_${model.mart.name}`));
  const onKeys = (left: string, right: string): SqlFragment =>
    raw(spec.keys.map((k) => `${left}.${ident(k)} = ${right}.${ident(k)}`).join(' AND '));
  const keyList = raw(spec.keys.map((k) => ident(k)).join(', '));
  const ctx = { inputs: options.inputs, asOf, dialect: duckdbDialect };
  await engine.execute({
    sql: sql`CREATE OR REPLACE TABLE ${table} AS
      SELECT DISTINCT ${keyList} FROM (${spec.affected({ ...ctx, changed: options.changed })}) AS a`,
    label: `${step}.affected`,
  });
  try {
    const { rows } = await engine.query({
      sql: sql`SELECT count(*) AS n FROM ${table}`,
      label: `${step}.affected.count`,
    });
    const affectedKeys = Number(rows[0]?.n ?? 0);
    if (served.rowCount > 0 && affectedKeys > MAX_AFFECTED_SHARE * served.rowCount) return undefined;

    const files: Array<{ key: string; folder: string }> = [];
    for await (const info of store.list(served.prefix)) {
      if (!info.key.endsWith('.parquet')) continue;
      const relative = info.key.slice(served.prefix.length);
      const slash = relative.lastIndexOf('/');
      files.push({ key: info.key, folder: slash < 0 ? '' : relative.slice(0, slash + 1) });
    }
    const byLocation = new Map(files.map((f) => [store.locationOf(f.key), f.key]));
    const servedLocations = [...byLocation.keys()];
    // The served files must still hold what was published (a file lost or broken since would be carried on):
    // their row count, from Parquet metadata alone, before anything is written.
    const { rows: counted } =
      files.length > 0
        ? await engine.query({
            sql: sql`SELECT count(*) AS n FROM read_parquet(${servedLocations}, hive_partitioning = false)`,
            label: `${step}.served.count`,
          })
        : { rows: [{ n: 0 }] };
    if (Number(counted[0]?.n ?? -1) !== served.rowCount) return undefined;
    const dirty = new Set<string>();
    if (affectedKeys > 0 && files.length > 0) {
      const { rows: hit } = await engine.query({
        sql: sql`SELECT DISTINCT f.filename AS file
          FROM read_parquet(${servedLocations}, filename = true, hive_partitioning = false) AS f
          SEMI JOIN ${table} AS a ON ${onKeys('a', 'f')}`,
        label: `${step}.affected.files`,
      });
      for (const row of hit) {
        const key = byLocation.get(String(row.file));
        // A file the listing did not name cannot be: rebuild rather than guess.
        if (key === undefined) return undefined;
        dirty.add(key);
      }
    }
    const perFolder = new Map<string, number>();
    for (const f of files) perFolder.set(f.folder, (perFolder.get(f.folder) ?? 0) + 1);
    for (const f of files) if ((perFolder.get(f.folder) ?? 0) >= MAX_FILES_PER_PARTITION) dirty.add(f.key);

    const restricted = {
      ...options.inputs,
      [spec.driver]: sql`(SELECT d.* FROM ${driver} AS d SEMI JOIN ${table} AS a ON ${onKeys('a', 'd')})`,
    };
    const columns = raw(model.mart.columns.map((c) => ident(c.name)).join(', '));
    const parts: SqlFragment[] = [
      sql`SELECT ${columns} FROM (${model.query({ ...ctx, inputs: restricted })}) AS q`,
    ];
    if (dirty.size > 0) {
      const locations = [...dirty].map((key) => store.locationOf(key));
      parts.push(sql`SELECT ${columns} FROM read_parquet(${locations}, hive_partitioning = false) AS f
        ANTI JOIN ${table} AS a ON ${onKeys('a', 'f')}`);
    }
    const rowsToWrite = sql`SELECT * FROM (${join(parts, '\nUNION ALL\n')}) AS w
      ORDER BY ${raw(model.mart.key.map((k) => ident(k)).join(', '))}`;
    const reused = files.filter((f) => !dirty.has(f.key));
    // New files are named by DuckDB (`data_N`), reused ones `f-<hash>`: the two never collide.
    await writeGoldFiles({ store, engine, model, rows: rowsToWrite, prefix, reusedFiles: reused.length });
    await inBatches(reused, 8, (f) => {
      const name = createHash('sha256').update(f.key).digest('hex').slice(0, 16);
      return store.copy(f.key, `${prefix}${f.folder}f-${name}.parquet`);
    });
    return { affectedKeys, filesReused: reused.length, filesRewritten: dirty.size };
  } finally {
    // A table left behind is replaced by the next build; the build's own error is what matters.
    await engine
      .execute({ sql: sql`DROP TABLE IF EXISTS ${table}`, label: `${step}.affected.drop` })
      .catch(() => undefined);
  }
}

/**
 * Write a mart's rows as Parquet under a run prefix: one folder per
 * partition value, or one file for an unpartitioned mart. A run must hold at
 * least its typed data file: a partitioned COPY of no rows writes none, so
 * then the file of no rows is written, unless the run gets `reusedFiles`
 * files of an earlier run too.
 */
export async function writeGoldFiles(options: {
  readonly store: ObjectStore;
  readonly engine: QueryEngine;
  readonly model: GoldModel;
  readonly rows: SqlFragment;
  readonly prefix: string;
  readonly reusedFiles?: number;
}): Promise<void> {
  const { store, engine, model, rows, prefix } = options;
  const step = goldStepName(model.mart);
  const location = await store.prepareWrite(prefix);
  const partitions = model.mart.partitionBy.map((c) => ident(c)).join(', ');
  // Partition columns stay inside the files too: readers never depend on `key=value` folder names.
  await engine.execute({
    sql: partitions
      ? sql`COPY (${rows}) TO ${location} (${GOLD_PARQUET}, PARTITION_BY (${raw(partitions)}), WRITE_PARTITION_COLUMNS true)`
      : sql`COPY (${rows}) TO ${`${location}/part-00000.parquet`} (${GOLD_PARQUET})`,
    label: `${step}.build`,
  });
  if (partitions && (options.reusedFiles ?? 0) === 0 && !(await hasParquet(store, prefix))) {
    await engine.execute({
      sql: sql`COPY (SELECT * FROM (${rows}) AS q WHERE FALSE) TO ${`${location}/part-00000.parquet`} (${GOLD_PARQUET})`,
      label: `${step}.build.empty`,
    });
  }
}

/** Whether a prefix holds any Parquet file. */
async function hasParquet(store: ObjectStore, prefix: string): Promise<boolean> {
  for await (const info of store.list(prefix)) if (info.key.endsWith('.parquet')) return true;
  return false;
}

/**
 * Run `each` over `items`, `size` at a time. Every call of a batch settles
 * before the first failure is thrown: a caller that cleans up after a failure
 * must not race a write still in flight.
 */
async function inBatches<T>(
  items: readonly T[],
  size: number,
  each: (item: T) => Promise<void>,
): Promise<void> {
  for (let i = 0; i < items.length; i += size) {
    const settled = await Promise.allSettled(items.slice(i, i + size).map(each));
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }
}
