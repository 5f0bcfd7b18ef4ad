import type { QueryEngine } from '../adapters/query-engine/port.js';
import type { MartDef } from '../catalog/types.js';
import type { CheckResult } from '../lake/publish.js';
import { ident, join, raw, type SqlFragment, sql } from '../sql/fragment.js';

/**
 * Data-quality checks derived from the mart catalog (one source of truth):
 * key columns not null and unique together, non-nullable columns not null,
 * enumerations within their values. All are blocking.
 */
export async function runMartChecks(
  engine: QueryEngine,
  mart: MartDef,
  relation: SqlFragment,
  /** Relations of other marts, for declared references (built earlier in the run, or served). */
  others: Readonly<Record<string, SqlFragment>> = {},
): Promise<{ rowCount: number; checks: CheckResult[] }> {
  const keyCols = raw(mart.key.map(ident).join(', '));
  const measures: Array<{ name: string; expr: SqlFragment }> = [
    { name: 'row_count', expr: raw('count(*)') },
    {
      name: 'duplicate_keys',
      expr: sql`count(*) - (SELECT count(*) FROM (SELECT DISTINCT ${keyCols} FROM ${relation} AS d) AS k)`,
    },
  ];
  for (const column of mart.columns) {
    if (!column.nullable || mart.key.includes(column.name)) {
      measures.push({
        name: `null_${column.name}`,
        expr: raw(`count(*) FILTER (WHERE ${ident(column.name)} IS NULL)`),
      });
    }
    if (column.values) {
      const col = raw(ident(column.name));
      const allowed =
        column.values.length === 0
          ? raw('FALSE')
          : sql`${col} IN (${join(
              column.values.map((v) => sql`${v}`),
              ', ',
            )})`;
      measures.push({
        name: `bad_${column.name}`,
        // `IN` with one bound value each: the same in DuckDB and Trino (Athena has no list_contains).
        expr: sql`count(*) FILTER (WHERE ${col} IS NOT NULL AND NOT ${allowed})`,
      });
    }
  }
  for (const range of mart.checks?.ranges ?? []) {
    const column = mart.columns.find((c) => c.name === range.column);
    if (!column) throw new TypeError(`${mart.name}: range check on unknown column ${range.column}`);
    const col = raw(ident(column.name));
    const below =
      range.min === undefined ? raw('FALSE') : sql`${col} < CAST(${range.min} AS ${raw(column.sqlType)})`;
    const above =
      range.max === undefined ? raw('FALSE') : sql`${col} > CAST(${range.max} AS ${raw(column.sqlType)})`;
    measures.push({ name: `range_${column.name}`, expr: sql`count(*) FILTER (WHERE ${below} OR ${above})` });
  }
  for (const ref of mart.checks?.references ?? []) {
    const target = others[ref.mart];
    if (!target) continue;
    measures.push({
      name: `ref_${ref.column}`,
      expr: sql`count(*) FILTER (WHERE ${raw(ident(ref.column))} IS NOT NULL AND ${raw(ident(ref.column))} NOT IN (SELECT ${raw(ident(ref.targetColumn))} FROM ${target} AS t WHERE ${raw(ident(ref.targetColumn))} IS NOT NULL))`,
    });
  }
  const select = join(
    measures.map((m) => sql`${m.expr} AS ${raw(ident(m.name))}`),
    ', ',
  );
  const { rows } = await engine.query({
    sql: sql`SELECT ${select} FROM ${relation} AS m`,
    label: `checks.${mart.name}`,
  });
  const row = rows[0] ?? {};
  const value = (name: string): number => Number(row[name] ?? 0);
  const checks: CheckResult[] = [
    {
      name: 'unique_key',
      blocking: true,
      passed: value('duplicate_keys') === 0,
      detail: `${value('duplicate_keys')} duplicates`,
    },
  ];
  for (const m of measures) {
    if (m.name.startsWith('null_')) {
      const col = m.name.slice(5);
      checks.push({
        name: `not_null_${col}`,
        blocking: true,
        passed: value(m.name) === 0,
        detail: `${value(m.name)} nulls`,
      });
    } else if (m.name.startsWith('range_')) {
      const col = m.name.slice(6);
      checks.push({
        name: `range_${col}`,
        blocking: true,
        passed: value(m.name) === 0,
        detail: `${value(m.name)} rows out of range`,
      });
    } else if (m.name.startsWith('ref_')) {
      const ref = mart.checks?.references?.find((r) => r.column === m.name.slice(4));
      checks.push({
        name: `references_${ref?.mart}.${ref?.targetColumn}`,
        blocking: ref?.blocking ?? true,
        passed: value(m.name) === 0,
        detail: `${value(m.name)} rows whose ${ref?.column} has no match`,
      });
    } else if (m.name.startsWith('bad_')) {
      const col = m.name.slice(4);
      checks.push({
        name: `allowed_values_${col}`,
        blocking: true,
        passed: value(m.name) === 0,
        detail: `${value(m.name)} rows outside the allowed values`,
      });
    }
  }
  return { rowCount: value('row_count'), checks };
}
