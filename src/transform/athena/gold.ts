import type { ColumnDef, MartDef } from '../../catalog/types.js';
import { trinoDialect } from '../../sql/dialect.js';
import { ident, raw, type SqlFragment, sql } from '../../sql/fragment.js';
import type { GoldContext, GoldModel } from '../gold/model.js';
import { inlineRollup, inputEntity, isRollup } from '../gold/rollups.js';
import { bindInWhereOnly } from './bind.js';
import {
  type AthenaConfig,
  type AthenaStatement,
  goldRunLocation,
  goldRunTable,
  literal,
  qualified,
} from './config.js';
import { silverRelation } from './silver.js';

/**
 * Gold on Athena: each run of a mart is a CTAS into its own run-scoped table
 * and location (`gold/{mart}/schema_v={N}/run_id={RUN}/`, the embedded
 * layout), never changed afterwards. Publishing points the mart's view at the
 * run; the API reads the run table named by `_LATEST.json` directly.
 *
 * The models bind values anywhere; Athena binds them only in WHERE clauses,
 * so every Gold statement goes through `bindInWhereOnly` (`bind.ts`).
 *
 * Gold tables are Hive Parquet, not Iceberg (`lake.md` lists Iceberg for
 * both): a Gold run is written once and never updated, so Iceberg would add
 * metadata files without a use, and plain Parquet keeps the same keys on S3
 * as on disk. Partition columns live in the `key=value/` paths there, as
 * Hive tables require, and Athena readers go through the Glue table.
 *
 * Athena writes at most 100 partitions per statement, so a partitioned mart is
 * built by one CTAS and then INSERT INTO statements, each restricted to a
 * contiguous range of at most 100 partition values. The ranges come from the
 * values the run will write (`partitionValuesQuery` first), sorted in the
 * engine's order; consecutive ranges share their boundary, half-open, so every
 * row lands in exactly one statement.
 */

/** Athena's limit of partitions written by one CTAS or INSERT INTO. */
export const MAX_PARTITIONS_PER_STATEMENT = 100;

/** One value of a partition column, as a result row carries it. */
export type PartitionValue = string | number | bigint | boolean | null;

/** The Gold context on Athena: the Trino dialect and the live rows of each input's Silver table. */
export function athenaGoldContext(
  config: AthenaConfig,
  model: GoldModel,
  asOf: string,
  /** Iceberg snapshot ids by `source/entity`, to read one Silver version throughout a run. */
  snapshots?: Readonly<Record<string, string>>,
): GoldContext {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(asOf))
    throw new TypeError(`as-of must be YYYY-MM-DD: ${JSON.stringify(asOf)}`);
  const inputs: Record<string, SqlFragment> = {};
  for (const [name, declared] of Object.entries(model.inputs)) {
    const contract = inputEntity(declared);
    const relation = silverRelation(config, contract, snapshots?.[`${contract.source}/${contract.entity}`]);
    // Athena keeps no rollup tables: a rollup is its query over the Silver table, run where Gold reads it.
    inputs[name] = isRollup(declared) ? inlineRollup(declared, relation, trinoDialect) : relation;
  }
  return { inputs, asOf, dialect: trinoDialect };
}

function partitionColumns(mart: MartDef): ColumnDef[] {
  return mart.partitionBy.map((name) => {
    const column = mart.columns.find((c) => c.name === name);
    if (!column) throw new TypeError(`${mart.name}: partition column ${name} is not a column`);
    return column;
  });
}

/** The mart's columns with the partition columns last, as a Hive CTAS requires. */
function writeOrder(mart: MartDef): string[] {
  const partitions = new Set(mart.partitionBy);
  return [...mart.columns.map((c) => c.name).filter((n) => !partitions.has(n)), ...mart.partitionBy];
}

/** The distinct partition values a run will write, to plan its statements; no statement for unpartitioned marts. */
export function partitionValuesQuery(model: GoldModel, ctx: GoldContext): AthenaStatement | undefined {
  const { mart } = model;
  if (mart.partitionBy.length === 0) return undefined;
  const columns = raw(mart.partitionBy.map((c) => ident(c)).join(', '));
  return {
    label: `gold.${mart.name}.partition_values`,
    grammar: 'trino',
    sql: bindInWhereOnly(sql`SELECT DISTINCT ${columns}
FROM (
${model.query(ctx)}
) AS m
ORDER BY ${columns}`),
  };
}

/** A contiguous range of partition values: from `lower` (inclusive) to `upper` (exclusive); open ends are absent. */
export interface PartitionBatch {
  readonly lower?: readonly PartitionValue[];
  readonly upper?: readonly PartitionValue[];
  /** The partition values the range holds (at most the limit). */
  readonly values: ReadonlyArray<readonly PartitionValue[]>;
}

/**
 * Sort the values in the engine's order, drop duplicates and cut them into
 * ranges of at most `max` values. The first range is open below and the last
 * open above, so rows are never lost at the ends; with no values, one open
 * range.
 */
export function planPartitionBatches(
  mart: MartDef,
  values: ReadonlyArray<readonly PartitionValue[]>,
  max = MAX_PARTITIONS_PER_STATEMENT,
): PartitionBatch[] {
  if (!Number.isInteger(max) || max < 1) throw new TypeError('max must be a positive integer');
  const columns = partitionColumns(mart);
  const keyed = values.map((tuple) => {
    if (tuple.length !== columns.length) {
      throw new TypeError(`${mart.name}: expected ${columns.length} partition values, got ${tuple.length}`);
    }
    return { tuple, key: tuple.map((v, i) => sortKey(v, columns[i] as ColumnDef)) };
  });
  keyed.sort((a, b) => compareKeys(a.key, b.key));
  const distinct = keyed.filter(
    (v, i) => i === 0 || compareKeys(v.key, (keyed[i - 1] as typeof v).key) !== 0,
  );
  const batches: PartitionBatch[] = [];
  for (let start = 0; start < distinct.length || batches.length === 0; start += max) {
    const chunk = distinct.slice(start, start + max).map((v) => v.tuple);
    const next = distinct[start + max];
    batches.push({
      ...(start > 0 && chunk[0] ? { lower: chunk[0] } : {}),
      ...(next ? { upper: next.tuple } : {}),
      values: chunk,
    });
    if (!next) break;
  }
  return batches;
}

type SortKey =
  | { readonly kind: 'null' }
  | { readonly kind: 'value'; readonly value: bigint | number | Buffer };

/**
 * A value's position in the engine's order for the column's type. A wrong
 * order would make two ranges overlap, so values of the wrong shape throw.
 */
function sortKey(value: PartitionValue, column: ColumnDef): SortKey {
  if (value === null) return { kind: 'null' };
  const bad = (): never => {
    throw new TypeError(`partition value ${String(value)} does not fit ${column.name} ${column.sqlType}`);
  };
  switch (column.sqlType) {
    case 'BIGINT':
    case 'INTEGER': {
      const text = String(value);
      if (!/^-?\d+$/.test(text)) bad();
      return { kind: 'value', value: BigInt(text) };
    }
    case 'DOUBLE':
    case 'DECIMAL(18,2)': {
      const n = typeof value === 'number' ? value : Number(String(value));
      if (typeof value === 'boolean' || !Number.isFinite(n)) bad();
      return { kind: 'value', value: n };
    }
    case 'BOOLEAN': {
      const text = String(value);
      if (text !== 'true' && text !== 'false') bad();
      return { kind: 'value', value: text === 'true' ? 1 : 0 };
    }
    case 'DATE':
      if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(value)) bad();
      return { kind: 'value', value: Buffer.from(String(value)) };
    case 'TIMESTAMP':
      if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,9})?$/.test(value))
        bad();
      return { kind: 'value', value: Buffer.from(String(value)) };
    case 'VARCHAR':
      // Trino orders VARCHAR by UTF-8 bytes, which JavaScript's UTF-16 order does not match.
      if (typeof value !== 'string') bad();
      return { kind: 'value', value: Buffer.from(String(value), 'utf8') };
  }
}

function compareKeys(a: readonly SortKey[], b: readonly SortKey[]): number {
  for (let i = 0; i < a.length; i += 1) {
    const x = a[i] as SortKey;
    const y = b[i] as SortKey;
    // NULL sorts first, as NULLS FIRST would; the range predicates below agree.
    if (x.kind === 'null' || y.kind === 'null') {
      if (x.kind !== y.kind) return x.kind === 'null' ? -1 : 1;
      continue;
    }
    const c =
      Buffer.isBuffer(x.value) && Buffer.isBuffer(y.value)
        ? Buffer.compare(x.value, y.value)
        : x.value < y.value
          ? -1
          : x.value > y.value
            ? 1
            : 0;
    if (c !== 0) return c;
  }
  return 0;
}

/** A boolean condition with constant folding, so open ranges read simply. */
type Condition = boolean | SqlFragment;

function and(a: Condition, b: Condition): Condition {
  if (a === false || b === false) return false;
  if (a === true) return b;
  if (b === true) return a;
  return sql`(${a} AND ${b})`;
}

function or(a: Condition, b: Condition): Condition {
  if (a === true || b === true) return true;
  if (a === false) return b;
  if (b === false) return a;
  return sql`(${a} OR ${b})`;
}

function bound(value: PartitionValue, column: ColumnDef): SqlFragment {
  const text = typeof value === 'string' ? value : String(value);
  return column.sqlType === 'VARCHAR' ? sql`${text}` : sql`CAST(${text} AS ${raw(column.sqlType)})`;
}

/** Per column, with NULL ordered first: `c = v`, `c > v`, `c < v`. */
function eq(column: ColumnDef, value: PartitionValue): Condition {
  const c = ident(column.name);
  return value === null ? raw(`${c} IS NULL`) : sql`${raw(c)} = ${bound(value, column)}`;
}

function gt(column: ColumnDef, value: PartitionValue): Condition {
  const c = ident(column.name);
  return value === null ? raw(`${c} IS NOT NULL`) : sql`${raw(c)} > ${bound(value, column)}`;
}

function ge(column: ColumnDef, value: PartitionValue): Condition {
  return value === null ? true : sql`${raw(ident(column.name))} >= ${bound(value, column)}`;
}

function lt(column: ColumnDef, value: PartitionValue): Condition {
  const c = ident(column.name);
  return value === null ? false : sql`(${raw(c)} IS NULL OR ${raw(c)} < ${bound(value, column)})`;
}

/** Lexicographic `(c1, c2, ...) >= (v1, v2, ...)`. */
function tupleGe(columns: readonly ColumnDef[], values: readonly PartitionValue[], i = 0): Condition {
  const column = columns[i] as ColumnDef;
  const value = values[i] as PartitionValue;
  if (i === columns.length - 1) return ge(column, value);
  return or(gt(column, value), and(eq(column, value), tupleGe(columns, values, i + 1)));
}

/** Lexicographic `(c1, c2, ...) < (v1, v2, ...)`. */
function tupleLt(columns: readonly ColumnDef[], values: readonly PartitionValue[], i = 0): Condition {
  const column = columns[i] as ColumnDef;
  const value = values[i] as PartitionValue;
  if (i === columns.length - 1) return lt(column, value);
  return or(lt(column, value), and(eq(column, value), tupleLt(columns, values, i + 1)));
}

/** The WHERE condition selecting one batch's rows (`TRUE` for a single open range). */
export function batchPredicate(mart: MartDef, batch: PartitionBatch): SqlFragment {
  const columns = partitionColumns(mart);
  const lower = batch.lower ? tupleGe(columns, batch.lower) : true;
  const upper = batch.upper ? tupleLt(columns, batch.upper) : true;
  const condition = and(lower, upper);
  return typeof condition === 'boolean' ? raw(condition ? 'TRUE' : 'FALSE') : condition;
}

/**
 * The statements writing one Gold run: a CTAS (the first range) and an
 * INSERT INTO per further range. `partitionValues` are the rows of
 * `partitionValuesQuery` for the same context; unpartitioned marts need none.
 */
export function goldBuildStatements(
  config: AthenaConfig,
  model: GoldModel,
  input: {
    readonly runId: string;
    readonly ctx: GoldContext;
    readonly partitionValues?: ReadonlyArray<readonly PartitionValue[]>;
  },
): AthenaStatement[] {
  const { mart } = model;
  const table = qualified(config.goldDb, goldRunTable(mart.name, mart.schemaVersion, input.runId));
  const location = goldRunLocation(config, mart.name, mart.schemaVersion, input.runId);
  const columns = raw(
    writeOrder(mart)
      .map((c) => ident(c))
      .join(', '),
  );
  const partitioned = mart.partitionBy.length > 0;
  const batches = partitioned ? planPartitionBatches(mart, input.partitionValues ?? []) : [{ values: [] }];
  // Column names in `partitioned_by` are string literals; `ident` has checked their shape.
  const partitionNames = raw(mart.partitionBy.map((c) => `'${ident(c).slice(1, -1)}'`).join(', '));
  const properties = partitioned
    ? sql`format = 'PARQUET', write_compression = 'SNAPPY', external_location = ${literal(location)}, partitioned_by = ARRAY[${partitionNames}]`
    : sql`format = 'PARQUET', write_compression = 'SNAPPY', external_location = ${literal(location)}`;
  return batches.map((batch, i) => {
    const predicate = batchPredicate(mart, batch);
    const where = predicate.text === 'TRUE' ? sql`` : sql`\nWHERE ${predicate}`;
    // The model renders afresh for each statement: each carries its own parameters.
    const select = sql`SELECT ${columns}
FROM (
${model.query(input.ctx)}
) AS m${where}`;
    if (i === 0) {
      return {
        label: `gold.${mart.name}.build`,
        grammar: 'trino',
        sql: bindInWhereOnly(sql`CREATE TABLE ${table}
WITH (${properties})
AS ${select}`),
      } satisfies AthenaStatement;
    }
    return {
      label: `gold.${mart.name}.build.${i + 1}`,
      grammar: 'trino',
      sql: bindInWhereOnly(sql`INSERT INTO ${table} (${columns})
${select}`),
    } satisfies AthenaStatement;
  });
}

/** Point the mart's view at a run, columns in catalog order (readers of the view see one run only). */
export function goldPublishStatement(config: AthenaConfig, mart: MartDef, runId: string): AthenaStatement {
  const columns = raw(mart.columns.map((c) => ident(c.name)).join(', '));
  return {
    label: `gold.${mart.name}.publish`,
    grammar: 'trino',
    // An earlier schema version kept for old callers has its own view beside the current one.
    sql: sql`CREATE OR REPLACE VIEW ${qualified(config.goldDb, mart.projectedFrom ? `${mart.name}_v${mart.schemaVersion}` : mart.name)} AS
SELECT ${columns}
FROM ${qualified(config.goldDb, goldRunTable(mart.name, mart.schemaVersion, runId))}`,
  };
}

/**
 * Forget a run's table (retention, or a run that was never published). Hive
 * DDL, so the names are left unquoted: both are checked snake_case. The files
 * stay: the table is external, and the object store's retention removes them.
 */
export function goldDropRunStatement(config: AthenaConfig, mart: MartDef, runId: string): AthenaStatement {
  const name = `${ident(config.goldDb).slice(1, -1)}.${ident(goldRunTable(mart.name, mart.schemaVersion, runId)).slice(1, -1)}`;
  return {
    label: `gold.${mart.name}.drop_run`,
    grammar: 'hive',
    sql: raw(`DROP TABLE IF EXISTS ${name}`),
  };
}
