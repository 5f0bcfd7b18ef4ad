import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { ColumnMeta, Row } from '../../../src/adapters/query-engine/port.js';
import type { SqlValue } from '../../../src/sql/fragment.js';
import type { LocalGoldCatalog } from './catalog.js';
import type { LocalDuck, SessionRun } from './duck.js';
import {
  duckName,
  ICEBERG_SCHEMA,
  type Plan,
  quoteIdent,
  snapshotCopyName,
  snapshotLogName,
  type TableName,
  type Translation,
} from './trino.js';

/**
 * The endpoint's stand-in for Glue and S3 when it runs Athena's SQL (`trino`
 * mode): which tables exist, what kind each is, and where its files are.
 *
 * - **Iceberg tables** (`CREATE TABLE ... WITH (table_type = 'ICEBERG')`)
 *   are DuckDB tables. Every write (INSERT, MERGE, DELETE) commits in one
 *   transaction together with a snapshot: a row in the table's `$snapshots`
 *   log and a copy of the table, so `FOR VERSION AS OF` reads that version.
 * - **Text tables**: the Bronze external tables (Hive DDL, partition
 *   projection) and the quarantine tables (CTAS `format = 'TEXTFILE'`), one
 *   string column over gzip JSON lines under `key=value/` partition folders.
 *   They are DuckDB views, rebuilt over the files present before every
 *   statement that names them; INSERT INTO writes new `.gz` files.
 * - **Hive Parquet tables** (CTAS `format = 'PARQUET'` with an
 *   `external_location`, the Gold runs): the rows go to DuckDB and to Parquet
 *   files at the location, partition columns only in the folder names, files
 *   named without an extension, as Athena writes them. A location that holds
 *   files already is refused (`HIVE_PATH_ALREADY_EXISTS`), and a statement
 *   writing more than 100 partitions fails (`HIVE_TOO_MANY_OPEN_PARTITIONS`).
 * - **Views**: DuckDB views.
 * - **OPTIMIZE / VACUUM**: accepted on Iceberg tables and recorded (`maintenance`).
 *
 * S3 locations map to local folders through `s3Roots`; a location outside
 * them is refused, as a bucket the workgroup cannot write would be.
 */

/** Athena's limit of partitions one CTAS or INSERT INTO writes. */
export const MAX_OPEN_PARTITIONS = 100;

/** A failure with Athena's error name first (`NAME: message`), shown as the StateChangeReason. */
export class AthenaFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AthenaFailure';
  }
}

interface TextTable {
  readonly kind: 'text';
  readonly columns: readonly string[];
  readonly partitions: readonly string[];
  readonly dir: string;
  /** Partition columns whose values a read must name (`projection.<col>.type = injected`). */
  readonly injected: readonly string[];
}

interface IcebergTable {
  readonly kind: 'iceberg';
  readonly dir: string;
  snapshot: string | null;
}

interface HiveTable {
  readonly kind: 'hive';
  readonly dir: string;
  readonly partitions: readonly string[];
}

interface ViewTable {
  readonly kind: 'view';
}

type Table = TextTable | IcebergTable | HiveTable | ViewTable;

/** One OPTIMIZE or VACUUM the endpoint accepted. */
export interface MaintenanceRecord {
  readonly op: 'OPTIMIZE' | 'VACUUM';
  readonly table: string;
  readonly snapshot: string | null;
}

export interface LocalLakeOptions {
  /** `s3://bucket/` or `s3://bucket/prefix/` -> the local folder its keys live in. */
  readonly s3Roots: Readonly<Record<string, string>>;
  /** The Glue databases (DuckDB schemas) statements may name. */
  readonly databases: readonly string[];
}

type Result = { columns: ColumnMeta[]; rows: Row[] };

const EMPTY: Result = { columns: [], rows: [] };

/** The tables, files and snapshots behind the endpoint's `trino` mode (see the comment above). */
export class LocalLake {
  private readonly tables = new Map<string, Table>();
  private ready: Promise<void> | undefined;
  private nextSnapshot = 7_000_000_000_000_000n + BigInt(Math.floor(Math.random() * 1_000_000));
  private lastCommit = 0;
  /** Every OPTIMIZE and VACUUM accepted, in order. */
  readonly maintenance: MaintenanceRecord[] = [];

  constructor(
    private readonly duck: LocalDuck,
    private readonly gold: LocalGoldCatalog,
    private readonly options: LocalLakeOptions,
  ) {}

  /** The databases statements may name. */
  databases(): ReadonlySet<string> {
    return new Set([...this.options.databases, this.gold.database]);
  }

  /** Whether a table exists (any kind), for tests. */
  has(name: TableName): boolean {
    return this.tables.has(key(name));
  }

  /** Run a translated statement; `execution` names the files it writes. */
  async execute(
    translation: Translation,
    values: readonly SqlValue[],
    signal: AbortSignal,
    execution: string,
  ): Promise<Result> {
    this.ready ??= this.createSchemas();
    await this.ready;
    const { plan } = translation;
    const target = 'target' in plan ? plan.target : undefined;
    for (const name of translation.tables) {
      if (target && key(name) === key(target) && plan.kind !== 'query') continue;
      await this.prepareRead(name, plan);
    }
    for (const { table, snapshotId } of translation.snapshotReads) {
      const t = this.tables.get(key(table));
      if (t?.kind !== 'iceberg')
        throw new AthenaFailure(`TABLE_NOT_FOUND: ${key(table)} is not an Iceberg table`);
      const exists = await this.duck.run(
        'SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = ? AND table_name = ?',
        [ICEBERG_SCHEMA, `${table.db}.${table.table}$${snapshotId}`],
      );
      if (Number(exists.rows[0]?.n ?? 0) === 0)
        throw new AthenaFailure(
          `ICEBERG_INVALID_SNAPSHOT_ID: snapshot ${snapshotId} of ${key(table)} not found`,
        );
    }
    return this.duck.session(signal, (run) => this.apply(plan, values, run, execution), {
      trinoDivision: true,
    });
  }

  private async createSchemas(): Promise<void> {
    for (const db of [...this.databases(), ICEBERG_SCHEMA])
      await this.duck.run(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(db)}`, []);
  }

  /** Make a table a statement reads current: text tables over the files present, Gold runs loaded. */
  private async prepareRead(name: TableName, plan: Plan): Promise<void> {
    const table = this.tables.get(key(name));
    if (table?.kind === 'text') {
      for (const column of table.injected) {
        // Partition projection of type `injected`: Athena needs the values in the query to find the files.
        if (!new RegExp(`"${column}"\\s+IN\\s*\\(|"${column}"\\s*=`, 'i').test(planSql(plan)))
          throw new AthenaFailure(
            `CONSTRAINT_VIOLATION: For the injected projected partition column ${column}, the WHERE clause must contain only static equality conditions`,
          );
      }
      await this.refreshText(name, table);
      return;
    }
    if (!table && name.db === this.gold.database) await this.gold.ensure(name.table);
  }

  private async apply(
    plan: Plan,
    values: readonly SqlValue[],
    run: SessionRun,
    execution: string,
  ): Promise<Result> {
    switch (plan.kind) {
      case 'query':
        return run(plan.sql, values);
      case 'external-table':
        return this.createExternal(plan, run);
      case 'ctas':
        return this.ctas(plan, values, run, execution);
      case 'insert':
        return this.insert(plan, values, run, execution);
      case 'merge':
      case 'delete': {
        const table = this.iceberg(plan.target, plan.kind.toUpperCase());
        return this.commit(run, plan.target, table, plan.kind, () => run(plan.sql, values));
      }
      case 'view': {
        if (values.length > 0) throw new AthenaFailure('NOT_SUPPORTED: a view takes no parameters');
        const existing = this.tables.get(key(plan.target));
        if (existing && existing.kind !== 'view')
          throw new AthenaFailure(`TABLE_ALREADY_EXISTS: ${key(plan.target)} is a table, not a view`);
        await run(`CREATE OR REPLACE VIEW ${duckName(plan.target)} AS ${plan.sql}`);
        this.tables.set(key(plan.target), { kind: 'view' });
        return EMPTY;
      }
      case 'maintenance': {
        const table = this.iceberg(plan.target, plan.op);
        this.maintenance.push({ op: plan.op, table: key(plan.target), snapshot: table.snapshot });
        return EMPTY;
      }
    }
  }

  private iceberg(name: TableName, what: string): IcebergTable {
    const table = this.tables.get(key(name));
    if (!table)
      throw new AthenaFailure(
        `TABLE_NOT_FOUND: line 1:1: Table 'awsdatacatalog.${key(name)}' does not exist`,
      );
    if (table.kind !== 'iceberg')
      throw new AthenaFailure(`NOT_SUPPORTED: ${what} is supported for Iceberg tables only`);
    return table;
  }

  private assertAbsent(name: TableName): void {
    if (this.tables.has(key(name)))
      throw new AthenaFailure(
        `TABLE_ALREADY_EXISTS: line 1:1: Table 'awsdatacatalog.${key(name)}' already exists`,
      );
  }

  /** The local folder of an S3 location, or a failure when it is outside every root. */
  localDir(location: string): string {
    const withSlash = location.endsWith('/') ? location : `${location}/`;
    for (const [root, dir] of Object.entries(this.options.s3Roots)) {
      const r = root.endsWith('/') ? root : `${root}/`;
      if (withSlash.startsWith(r)) {
        const rest = withSlash.slice(r.length);
        if (rest.split('/').some((p) => p === '..' || p === '.'))
          throw new AthenaFailure(`INVALID_INPUT: bad location ${location}`);
        return join(dir, ...rest.split('/').filter(Boolean));
      }
    }
    throw new AthenaFailure(`HIVE_PATH_ALREADY_EXISTS: Access denied to location ${location}`);
  }

  private async createExternal(
    plan: Extract<Plan, { kind: 'external-table' }>,
    run: SessionRun,
  ): Promise<Result> {
    if (this.tables.has(key(plan.target))) {
      if (plan.ifNotExists) return EMPTY;
      this.assertAbsent(plan.target);
    }
    if (plan.properties['projection.enabled'] !== 'true')
      throw new AthenaFailure('NOT_SUPPORTED: external tables are translated with partition projection only');
    const injected = plan.partitions.filter((p) => plan.properties[`projection.${p}.type`] === 'injected');
    const template = plan.properties['storage.location.template'];
    const expected = `${plan.location}${plan.partitions.map((p) => `${p}=\${${p}}/`).join('')}`;
    if (template !== expected)
      throw new AthenaFailure('NOT_SUPPORTED: storage.location.template must follow the key=value layout');
    const table: TextTable = {
      kind: 'text',
      columns: plan.columns,
      partitions: plan.partitions,
      dir: this.localDir(plan.location),
      injected,
    };
    await run(`CREATE OR REPLACE VIEW ${duckName(plan.target)} AS ${emptyText(table)}`);
    this.tables.set(key(plan.target), table);
    return EMPTY;
  }

  private async ctas(
    plan: Extract<Plan, { kind: 'ctas' }>,
    values: readonly SqlValue[],
    run: SessionRun,
    execution: string,
  ): Promise<Result> {
    this.assertAbsent(plan.target);
    const p = plan.properties;
    const partitions = (p.partitioned_by as readonly string[] | undefined) ?? [];
    if (p.table_type === 'ICEBERG') {
      if (typeof p.location !== 'string' || p.is_external !== false || p.format !== 'PARQUET')
        throw new AthenaFailure(
          'NOT_SUPPORTED: Iceberg tables need location, is_external = false, format PARQUET',
        );
      const table: IcebergTable = { kind: 'iceberg', dir: this.localDir(p.location), snapshot: null };
      await run('BEGIN TRANSACTION');
      try {
        await run(
          `CREATE TABLE ${duckName(plan.target)} AS ${plan.sql}${plan.withNoData ? ' WITH NO DATA' : ''}`,
          values,
        );
        await run(
          `CREATE TABLE ${snapshotLogName(plan.target)} (committed_at TIMESTAMPTZ, snapshot_id BIGINT, parent_id BIGINT, operation VARCHAR)`,
        );
        if (!plan.withNoData) table.snapshot = await this.snapshot(run, plan.target, table, 'append');
        await run('COMMIT');
      } catch (error) {
        await run('ROLLBACK').catch(() => undefined);
        throw error;
      }
      this.tables.set(key(plan.target), table);
      return EMPTY;
    }
    if (typeof p.external_location !== 'string')
      throw new AthenaFailure('NOT_SUPPORTED: tables other than Iceberg need an external_location');
    const dir = this.localDir(p.external_location);
    if ((await filesUnder(dir)).length > 0)
      throw new AthenaFailure(
        `HIVE_PATH_ALREADY_EXISTS: Target directory for table '${key(plan.target)}' already exists: ${p.external_location}`,
      );
    const described = await run(`DESCRIBE ${plan.sql}`, values);
    const columns = described.rows.map((r) => String(r.column_name));
    if (partitions.length > 0 && columns.slice(-partitions.length).join() !== partitions.join())
      throw new AthenaFailure(
        'HIVE_COLUMN_ORDER_MISMATCH: Partition keys must be the last columns in the table',
      );
    if (p.format === 'TEXTFILE') {
      if (!plan.withNoData)
        throw new AthenaFailure('NOT_SUPPORTED: TEXTFILE tables are created WITH NO DATA here');
      if (p.write_compression !== 'GZIP' || columns.length !== partitions.length + 1)
        throw new AthenaFailure('NOT_SUPPORTED: TEXTFILE tables are one GZIP text column plus partitions');
      const table: TextTable = { kind: 'text', columns: columns.slice(0, 1), partitions, dir, injected: [] };
      await run(`CREATE OR REPLACE VIEW ${duckName(plan.target)} AS ${emptyText(table)}`);
      this.tables.set(key(plan.target), table);
      return EMPTY;
    }
    if (p.format !== 'PARQUET') throw new AthenaFailure(`NOT_SUPPORTED: format ${String(p.format)}`);
    const table: HiveTable = { kind: 'hive', dir, partitions };
    await run('BEGIN TRANSACTION');
    try {
      await run(
        `CREATE TABLE ${duckName(plan.target)} AS ${plan.sql}${plan.withNoData ? ' WITH NO DATA' : ''}`,
        values,
      );
      await this.writeParquet(run, duckName(plan.target), table, execution, false);
      await run('COMMIT');
    } catch (error) {
      await run('ROLLBACK').catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
    this.tables.set(key(plan.target), table);
    if (plan.target.db === this.gold.database) this.gold.adopt(plan.target.table);
    return EMPTY;
  }

  private async insert(
    plan: Extract<Plan, { kind: 'insert' }>,
    values: readonly SqlValue[],
    run: SessionRun,
    execution: string,
  ): Promise<Result> {
    const table = this.tables.get(key(plan.target));
    if (!table) this.iceberg(plan.target, 'INSERT');
    const columns = plan.columns.map(quoteIdent).join(', ');
    if (table?.kind === 'iceberg') {
      return this.commit(run, plan.target, table, 'append', () =>
        run(`INSERT INTO ${duckName(plan.target)} (${columns}) ${plan.sql}`, values),
      );
    }
    const staged = quoteIdent(`__insert_${execution.replaceAll('-', '_')}`);
    if (table?.kind === 'text') {
      if (plan.columns.join() !== [...table.columns, ...table.partitions].join())
        throw new AthenaFailure('NOT_SUPPORTED: INSERT INTO a text table names its columns in table order');
      await run(`CREATE TEMP TABLE ${staged} AS SELECT * FROM (${plan.sql}) AS q(${columns})`, values);
      await this.assertPartitionLimit(run, staged, table.partitions);
      const partitionBy = table.partitions.map(quoteIdent).join(', ');
      await mkdir(table.dir, { recursive: true });
      // One JSON line per row, written as is: no quoting, no escaping, a delimiter JSON text never holds.
      await run(
        `COPY ${staged} TO '${sqlText(table.dir)}' (FORMAT csv, HEADER false, QUOTE '', ESCAPE '', DELIMITER '\u0001', COMPRESSION gzip, FILE_EXTENSION 'gz', PARTITION_BY (${partitionBy}), APPEND, FILENAME_PATTERN '${execution}_{uuid}')`,
      );
      return EMPTY;
    }
    if (table?.kind === 'hive') {
      await run(`CREATE TEMP TABLE ${staged} AS SELECT * FROM (${plan.sql}) AS q(${columns})`, values);
      const order = (await run(`DESCRIBE ${duckName(plan.target)}`)).rows.map((r) =>
        quoteIdent(String(r.column_name)),
      );
      await run('BEGIN TRANSACTION');
      try {
        await run(`INSERT INTO ${duckName(plan.target)} (${columns}) SELECT * FROM ${staged}`);
        await this.writeParquet(run, `(SELECT ${order.join(', ')} FROM ${staged})`, table, execution, true);
        await run('COMMIT');
      } catch (error) {
        await run('ROLLBACK').catch(() => undefined);
        throw error;
      }
      return EMPTY;
    }
    throw new AthenaFailure(`NOT_SUPPORTED: INSERT INTO a ${table?.kind ?? 'missing'} table`);
  }

  /** Write the rows of `relation` as Parquet at the table's location, as Athena names and lays out the files. */
  private async writeParquet(
    run: SessionRun,
    relation: string,
    table: HiveTable,
    execution: string,
    append: boolean,
  ): Promise<void> {
    const count = Number((await run(`SELECT count(*) AS n FROM ${relation} AS r`)).rows[0]?.n ?? 0);
    // Athena writes no file for no rows: the table exists in the catalog only.
    if (count === 0) return;
    await this.assertPartitionLimit(run, relation, table.partitions);
    await mkdir(table.dir, { recursive: true });
    const options = ['FORMAT parquet', 'COMPRESSION snappy', "FILE_EXTENSION ''"];
    if (table.partitions.length > 0) {
      options.push(
        `PARTITION_BY (${table.partitions.map(quoteIdent).join(', ')})`,
        `FILENAME_PATTERN '${execution}_{uuid}'`,
      );
      if (append) options.push('APPEND');
      await run(`COPY (SELECT * FROM ${relation} AS r) TO '${sqlText(table.dir)}' (${options.join(', ')})`);
    } else {
      await run(
        `COPY (SELECT * FROM ${relation} AS r) TO '${sqlText(join(table.dir, `${execution}_${randomUUID()}`))}' (${options.join(', ')})`,
      );
    }
  }

  private async assertPartitionLimit(
    run: SessionRun,
    relation: string,
    partitions: readonly string[],
  ): Promise<void> {
    if (partitions.length === 0) return;
    const cols = partitions.map(quoteIdent).join(', ');
    const n = Number(
      (await run(`SELECT count(*) AS n FROM (SELECT DISTINCT ${cols} FROM ${relation} AS r) AS d`)).rows[0]
        ?.n ?? 0,
    );
    if (n > MAX_OPEN_PARTITIONS)
      throw new AthenaFailure(
        `HIVE_TOO_MANY_OPEN_PARTITIONS: Exceeded limit of ${MAX_OPEN_PARTITIONS} open writers for partitions/buckets (${n})`,
      );
  }

  /** One Iceberg commit: the change and its snapshot together, or neither. */
  private async commit(
    run: SessionRun,
    name: TableName,
    table: IcebergTable,
    operation: string,
    change: () => Promise<Result>,
  ): Promise<Result> {
    await run('BEGIN TRANSACTION');
    let snapshot: string;
    try {
      await change();
      snapshot = await this.snapshot(run, name, table, operation);
      await run('COMMIT');
    } catch (error) {
      await run('ROLLBACK').catch(() => undefined);
      throw error;
    }
    table.snapshot = snapshot;
    return EMPTY;
  }

  private async snapshot(
    run: SessionRun,
    name: TableName,
    table: IcebergTable,
    operation: string,
  ): Promise<string> {
    this.nextSnapshot += 1n + BigInt(Math.floor(Math.random() * 1000));
    const id = this.nextSnapshot.toString();
    // Commit times strictly increase, so `max_by(snapshot_id, committed_at)` names the newest.
    const at = Math.max(Date.now(), this.lastCommit + 1);
    this.lastCommit = at;
    await run(`CREATE TABLE ${snapshotCopyName(name, id)} AS SELECT * FROM ${duckName(name)}`);
    await run(
      `INSERT INTO ${snapshotLogName(name)} VALUES (to_timestamp(CAST($1 AS DOUBLE) / 1000.0), CAST($2 AS BIGINT), CAST($3 AS BIGINT), $4)`,
      [at, id, table.snapshot, operation],
    );
    return id;
  }

  private async refreshText(name: TableName, table: TextTable): Promise<void> {
    const files = (await filesUnder(table.dir)).filter((f) => partitionValues(table, f) !== undefined);
    const view =
      files.length === 0
        ? emptyText(table)
        : `SELECT line AS ${quoteIdent(table.columns[0] as string)}${table.partitions
            .map((p) => `, regexp_extract(filename, '/${p}=([^/]+)/', 1) AS ${quoteIdent(p)}`)
            .join(
              '',
            )} FROM read_csv([${files.map((f) => `'${sqlText(join(table.dir, f))}'`).join(', ')}], columns = {'line': 'VARCHAR'}, delim = '\u0001', quote = '', escape = '', header = false, auto_detect = false, compression = 'auto', hive_partitioning = false, filename = true)`;
    await this.duck.run(`CREATE OR REPLACE VIEW ${duckName(name)} AS ${view}`, []);
  }
}

function key(name: TableName): string {
  return `${name.db}.${name.table}`;
}

function planSql(plan: Plan): string {
  return 'sql' in plan ? plan.sql : '';
}

function sqlText(text: string): string {
  return text.replaceAll("'", "''");
}

function emptyText(table: TextTable): string {
  return `SELECT ${[...table.columns, ...table.partitions].map((c) => `CAST(NULL AS VARCHAR) AS ${quoteIdent(c)}`).join(', ')} WHERE FALSE`;
}

/** The partition values of a file below the table folder, or `undefined` if it is not a data file of a partition. */
function partitionValues(table: TextTable, file: string): string[] | undefined {
  const parts = file.split('/');
  const name = parts.pop() ?? '';
  if (name.startsWith('_') || name.startsWith('.')) return undefined;
  if (parts.length !== table.partitions.length) return undefined;
  const values: string[] = [];
  for (const [i, p] of table.partitions.entries()) {
    const m = new RegExp(`^${p}=(.+)$`).exec(parts[i] as string);
    if (!m) return undefined;
    values.push(m[1] as string);
  }
  return values;
}

/** Files below a folder, as `/`-separated paths relative to it (none when it does not exist). */
async function filesUnder(dir: string): Promise<string[]> {
  try {
    if (!(await stat(dir)).isDirectory()) return [];
  } catch {
    return [];
  }
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/'))
    .sort();
}
