import type { LocalObjectStore } from '../../../src/adapters/object-store/local.js';
import { MARTS } from '../../../src/catalog/index.js';
import { goldDataset, runPrefix } from '../../../src/lake/layout.js';
import { assertRunId } from '../../../src/lake/run-id.js';
import { ident } from '../../../src/sql/fragment.js';
import type { LocalDuck } from './duck.js';

/**
 * The endpoint's stand-in for the Glue catalog: the Gold database holds one
 * table per published run, named as the Athena transforms name them
 * (`goldRunTable`: `{mart}__v{N}__{run token}`), over the run's files in a
 * local folder store laid out as `lake.md` says:
 *
 *   "gold_db"."customer_360__v1__20261121t061500z_7f3a"
 *     -> {lake}/gold/customer_360/schema_v=1/run_id=20261121T061500Z-7f3a/**.parquet
 *
 * The run token is the run id lower-cased with its `-` made `_`; the id's
 * shape (`YYYYMMDDTHHMMSSZ-suffix`, suffix lower-case) makes that reversible.
 * A table is loaded into DuckDB (schema = database) on first use, from the
 * run's Parquet files, bound as a parameter; a run with no files is a missing
 * table, as a run never written would be on Athena. Runs are immutable, so a
 * table once loaded stays right.
 */

const RUN_TABLE = /^([a-z][a-z0-9_]*?)__v([1-9][0-9]*)__([0-9]{8})t([0-9]{6})z_([a-z0-9]{4,24})$/;

/** A Gold run named by an Athena table. */
export interface GoldRunTable {
  readonly database: string;
  readonly table: string;
  readonly mart: string;
  readonly schemaVersion: number;
  readonly runId: string;
  /** The run's prefix in the lake (`gold/{mart}/schema_v={N}/run_id={RUN}/`). */
  readonly prefix: string;
}

/** The run a Gold table name stands for, or `undefined` for any other name. */
export function parseRunTable(database: string, table: string): GoldRunTable | undefined {
  const m = RUN_TABLE.exec(table);
  if (!m) return undefined;
  const [, mart, version, day, time, suffix] = m as unknown as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const runId = assertRunId(`${day}T${time}Z-${suffix}`);
  const schemaVersion = Number(version);
  return {
    database,
    table,
    mart,
    schemaVersion,
    runId,
    prefix: runPrefix(goldDataset(mart, schemaVersion), runId),
  };
}

const QUALIFIED =
  /"([a-z_][a-z0-9_]*)"\s*\.\s*"([a-z_][a-z0-9_]*)"|\b([a-z_][a-z0-9_]*)\s*\.\s*([a-z_][a-z0-9_]*)\b/gi;
const QUOTED_TEXT = /'(?:[^']|'')*'|--[^\n]*|\/\*[\s\S]*?\*\//g;

/** Result of preparing a statement's tables. */
export type Prepared =
  | { readonly ok: true; readonly bytes: number; readonly tables: readonly GoldRunTable[] }
  | { readonly ok: false; readonly missing: string };

/** The Gold database's run tables, loaded on demand into the endpoint's DuckDB. */
export class LocalGoldCatalog {
  private readonly loaded = new Map<string, Promise<number>>();
  /** DuckDB refuses two catalog changes at once (write-write conflict): loads run one by one. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly duck: LocalDuck,
    private readonly store: LocalObjectStore,
    readonly database: string,
  ) {}

  /** A run table created by a statement (CTAS): it is in DuckDB already and must not be loaded from files. */
  adopt(table: string, bytes = 0): void {
    this.loaded.set(table, Promise.resolve(bytes));
  }

  /** Make one Gold run table ready; `undefined` when the name is not a run or the run has no files. */
  async ensure(table: string): Promise<number | undefined> {
    const run = parseRunTable(this.database, table);
    return run ? this.load(run) : undefined;
  }

  /** Load every Gold table the statement names; the bytes of their files stand for the bytes scanned. */
  async prepare(text: string): Promise<Prepared> {
    const names = new Map<string, GoldRunTable | undefined>();
    const visible = text.replace(QUOTED_TEXT, (m) => ' '.repeat(m.length));
    for (const m of visible.matchAll(QUALIFIED)) {
      const database = (m[1] ?? m[3] ?? '').toLowerCase();
      const table = (m[2] ?? m[4] ?? '').toLowerCase();
      if (database !== this.database) continue;
      names.set(table, parseRunTable(database, table));
    }
    let bytes = 0;
    const tables: GoldRunTable[] = [];
    for (const [table, run] of names) {
      if (!run) return { ok: false, missing: `${this.database}.${table}` };
      const size = await this.load(run);
      if (size === undefined) return { ok: false, missing: `${this.database}.${table}` };
      bytes += size;
      tables.push(run);
    }
    return { ok: true, bytes, tables };
  }

  private async load(run: GoldRunTable): Promise<number | undefined> {
    let pending = this.loaded.get(run.table);
    if (!pending) {
      pending = this.queue.then(() => this.register(run));
      this.queue = pending.catch(() => undefined);
      this.loaded.set(run.table, pending);
      // A run written later must be found then: forget misses.
      pending.then(
        (size) => size < 0 && this.loaded.delete(run.table),
        () => this.loaded.delete(run.table),
      );
    }
    const size = await pending;
    return size < 0 ? undefined : size;
  }

  /** `-1` when the run has no Parquet files. */
  private async register(run: GoldRunTable): Promise<number> {
    const files: string[] = [];
    let size = 0;
    for await (const info of this.store.list(run.prefix)) {
      // Athena's rule: files whose name starts with `_` or `.` are hidden (its CTAS names data files without an extension).
      const name = info.key.slice(info.key.lastIndexOf('/') + 1);
      if (name.startsWith('_') || name.startsWith('.')) continue;
      files.push(this.store.locationOf(info.key));
      size += info.size;
    }
    if (files.length === 0) return -1;
    const schema = ident(run.database);
    await this.duck.run(`CREATE SCHEMA IF NOT EXISTS ${schema}`, []);
    const source = 'read_parquet(?, hive_partitioning = false, filename = true)';
    const described = await this.duck.run(`DESCRIBE SELECT * FROM ${source}`, [files]);
    const inFiles = new Set(described.rows.map((r) => String(r.column_name)));
    // Athena's CTAS keeps partition columns in the `key=value/` folders only (a Hive table); the
    // embedded writer keeps them in the files too. Columns missing from the files come from the path.
    const mart = MARTS.find((m) => m.name === run.mart && m.schemaVersion === run.schemaVersion);
    const fromPath = (mart?.partitionBy ?? [])
      .filter((c) => !inFiles.has(c))
      .map((c) => {
        const type = mart?.columns.find((col) => col.name === c)?.sqlType ?? 'VARCHAR';
        return `CAST(regexp_extract(filename, '/${c}=([^/]+)/', 1) AS ${type}) AS ${ident(c)}`;
      });
    await this.duck.run(
      `CREATE TABLE IF NOT EXISTS ${schema}.${ident(run.table)} AS SELECT * EXCLUDE (filename)${fromPath.map((c) => `, ${c}`).join('')} FROM ${source}`,
      [files],
    );
    return size;
  }
}
