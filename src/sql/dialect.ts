import { join, param, raw, type SqlFragment, type SqlValue, sql } from './fragment.js';

/**
 * The few constructs where DuckDB (embedded) and Trino (Athena) differ. Gold
 * models are written once against this interface; everything else they use
 * (CASE, coalesce, window functions, `count(*) FILTER (WHERE ...)`,
 * `date_trunc`, `date_diff`, `CAST`) is spelled the same in both.
 */
export interface SqlDialect {
  readonly name: 'duckdb' | 'trino';
  /** `expr IN (?, ?, ...)` with each value bound (optionally cast). */
  inList(expr: SqlFragment, values: readonly SqlValue[], castTo?: string): SqlFragment;
  /** The DATE `n` days after `date` (n may be negative or an expression). */
  addDays(date: SqlFragment, n: SqlFragment | number): SqlFragment;
  /** The DATE `n` months after `date`. */
  addMonths(date: SqlFragment, n: SqlFragment | number): SqlFragment;
  /** A table expression `(... ) AS alias(column)` of DATEs from start to end inclusive, by step. */
  dateSeries(
    start: SqlFragment,
    end: SqlFragment,
    step: 'day' | 'week' | 'month',
    alias: string,
    column: string,
  ): SqlFragment;
  /**
   * A lateral join over a JSON array of objects held in a column:
   * `FROM t <joinJsonArray> ` exposes `alias.field` for each declared field.
   */
  joinJsonArray(
    json: SqlFragment,
    alias: string,
    fields: ReadonlyArray<readonly [name: string, type: 'VARCHAR' | 'DOUBLE' | 'BIGINT']>,
  ): SqlFragment;
}

function amount(n: SqlFragment | number): SqlFragment {
  return typeof n === 'number' ? raw(String(Math.trunc(n))) : n;
}

const INTERVAL_UNIT = { day: 'DAY', week: 'WEEK', month: 'MONTH' } as const;

/** DuckDB, the embedded engine. */
export const duckdbDialect: SqlDialect = {
  name: 'duckdb',
  inList: (expr, values, castTo) =>
    values.length === 0
      ? raw('FALSE')
      : sql`${expr} IN (${join(
          values.map((v) => param(v, castTo)),
          ', ',
        )})`,
  addDays: (date, n) => sql`CAST(${date} + (${amount(n)}) * INTERVAL 1 DAY AS DATE)`,
  addMonths: (date, n) => sql`CAST(${date} + (${amount(n)}) * INTERVAL 1 MONTH AS DATE)`,
  dateSeries: (start, end, step, alias, column) =>
    sql`(SELECT CAST(unnest(generate_series(CAST(${start} AS DATE), CAST(${end} AS DATE), INTERVAL 1 ${raw(INTERVAL_UNIT[step])})) AS DATE) AS ${raw(column)}) AS ${raw(alias)}`,
  joinJsonArray: (json, alias, fields) => {
    const shape = `[{${fields.map(([name, type]) => `"${name}":"${type}"`).join(',')}}]`;
    return sql`CROSS JOIN (SELECT unnest(from_json(${json}, ${raw(`'${shape}'`)}), recursive := true)) AS ${raw(alias)}`;
  },
};

/** Trino, as Athena engine v3 speaks it. */
export const trinoDialect: SqlDialect = {
  name: 'trino',
  inList: duckdbDialect.inList,
  addDays: (date, n) => sql`date_add('day', ${amount(n)}, ${date})`,
  addMonths: (date, n) => sql`date_add('month', ${amount(n)}, ${date})`,
  dateSeries: (start, end, step, alias, column) =>
    sql`UNNEST(sequence(CAST(${start} AS DATE), CAST(${end} AS DATE), INTERVAL '1' ${raw(INTERVAL_UNIT[step])})) AS ${raw(alias)}(${raw(column)})`,
  joinJsonArray: (json, alias, fields) =>
    sql`CROSS JOIN UNNEST(CAST(json_parse(${json}) AS ARRAY(ROW(${raw(fields.map(([n, t]) => `${n} ${t}`).join(', '))})))) AS ${raw(alias)}(${raw(fields.map(([n]) => n).join(', '))})`,
};
