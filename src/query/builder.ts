import type { MartAccess } from '../auth/access.js';
import type { ColumnDef } from '../catalog/types.js';
import { ident, join, param, raw, type SqlFragment, sql } from '../sql/fragment.js';
import { BadUserInputError } from './errors.js';
import { bindableValue } from './values.js';

/** Comparison operators of a column filter (one input type per column type). */
export const FILTER_OPS = [
  'eq',
  'ne',
  'in',
  'lt',
  'lte',
  'gt',
  'gte',
  'isNull',
  'contains',
  'startsWith',
] as const;
export type FilterOp = (typeof FILTER_OPS)[number];
export type ColumnFilter = Partial<Record<FilterOp, unknown>>;

/** Filters by snake_case column name; all must hold. */
export type MartFilter = Readonly<Record<string, ColumnFilter | undefined>>;

/** At most this many values in one `in` list (also keeps Athena partition pruning fast). */
export const MAX_IN_VALUES = 500;

/** A page of a mart for one caller. */
export interface PageQuery {
  readonly access: MartAccess;
  /** The published version to read (from the engine's `martRelation`). */
  readonly relation: SqlFragment;
  /** Columns to return (the key is always added). */
  readonly columns: readonly string[];
  readonly filter: MartFilter;
  readonly first: number;
  readonly after?: string | undefined;
}

function column(access: MartAccess, name: string): ColumnDef {
  const def = access.mart.columns.find((c) => c.name === name);
  // Hidden and missing columns read the same.
  if (!def || !access.columns.has(name)) throw new BadUserInputError(`unknown field ${name}`);
  return def;
}

/**
 * `CAST(? AS type)`: values are always bound and typed. Decimals bind at the
 * widest scale the API accepts, so `gt: "2387.986"` is compared exactly instead
 * of being rounded to the column's cents.
 */
function typedParam(def: ColumnDef, value: unknown): SqlFragment {
  return param(bindableValue(def, value), def.apiType === 'Decimal' ? FILTER_DECIMAL : def.sqlType);
}

/** Holds every value the Decimal scalar accepts (16 integer digits, 6 decimals). */
const FILTER_DECIMAL = 'DECIMAL(38,6)';

function predicate(def: ColumnDef, op: FilterOp, value: unknown): SqlFragment {
  const col = raw(ident(def.name));
  switch (op) {
    case 'eq':
      return sql`${col} = ${typedParam(def, value)}`;
    case 'ne':
      return sql`(${col} <> ${typedParam(def, value)} OR ${col} IS NULL)`;
    case 'lt':
      return sql`${col} < ${typedParam(def, value)}`;
    case 'lte':
      return sql`${col} <= ${typedParam(def, value)}`;
    case 'gt':
      return sql`${col} > ${typedParam(def, value)}`;
    case 'gte':
      return sql`${col} >= ${typedParam(def, value)}`;
    case 'isNull':
      if (typeof value !== 'boolean') throw new BadUserInputError(`isNull on ${def.name} takes a boolean`);
      return raw(`${ident(def.name)} IS ${value ? '' : 'NOT '}NULL`);
    case 'in': {
      if (!Array.isArray(value) || value.length === 0 || value.length > MAX_IN_VALUES) {
        throw new BadUserInputError(`in on ${def.name} takes 1 to ${MAX_IN_VALUES} values`);
      }
      return sql`${col} IN (${join(
        value.map((v) => typedParam(def, v)),
        ', ',
      )})`;
    }
    case 'contains':
    case 'startsWith': {
      if (def.apiType !== 'String' && def.apiType !== 'ID') {
        throw new BadUserInputError(`${op} applies to text fields only`);
      }
      const text = bindableValue(def, value);
      return op === 'contains' ? sql`strpos(${col}, ${text}) > 0` : sql`starts_with(${col}, ${text})`;
    }
  }
}

/** The policy's row scope as one condition, or nothing when every row is visible. */
export function rowScopeCondition(access: MartAccess): SqlFragment | undefined {
  if (access.rows === null) return undefined;
  // No alternative grants nothing: `IN ()` is invalid SQL, so say false.
  if (access.rows.length === 0) return raw('FALSE');
  const alternatives = access.rows.map((predicates) => {
    if (predicates.length === 0) return raw('TRUE');
    return join(
      predicates.map((rule) => {
        const def = access.mart.columns.find((c) => c.name === rule.column);
        if (!def) throw new TypeError(`policy names unknown column ${rule.column}`);
        return rule.values.length === 0
          ? raw('FALSE')
          : sql`${raw(ident(def.name))} IN (${join(
              rule.values.map((v) => param(v, def.sqlType)),
              ', ',
            )})`;
      }),
      ' AND ',
    );
  });
  return alternatives.length === 1
    ? sql`(${alternatives[0] as SqlFragment})`
    : sql`((${join(alternatives, ') OR (')}))`;
}

/** The WHERE conditions of a caller's filter plus the policy's row scope. */
export function whereClause(access: MartAccess, filter: MartFilter): SqlFragment[] {
  const parts: SqlFragment[] = [];
  const scope = rowScopeCondition(access);
  if (scope) parts.push(scope);
  for (const [name, ops] of Object.entries(filter)) {
    if (!ops) continue;
    const def = column(access, name);
    for (const [op, value] of Object.entries(ops)) {
      if (value === undefined || value === null) continue;
      if (!(FILTER_OPS as readonly string[]).includes(op))
        throw new BadUserInputError(`unknown operator ${op}`);
      parts.push(predicate(def, op as FilterOp, value));
    }
  }
  return parts;
}

/** Opaque cursor: the key values of the last row of a page. */
export function encodeCursor(values: readonly unknown[]): string {
  return Buffer.from(JSON.stringify(values)).toString('base64url');
}

function decodeCursor(access: MartAccess, cursor: string): unknown[] {
  try {
    const values: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(values) && values.length === access.mart.key.length) return values;
  } catch {
    // fall through to the error below
  }
  throw new BadUserInputError('invalid cursor');
}

/** The page query: keyset pagination in key order, one row more than asked to tell if more exist. */
export function pageQuery(q: PageQuery): SqlFragment {
  const key = q.access.mart.key;
  const wanted = [...new Set([...key, ...q.columns])].map((name) => column(q.access, name));
  const conditions = whereClause(q.access, q.filter);
  if (q.after !== undefined) {
    const values = decodeCursor(q.access, q.after);
    const keyDefs = key.map((name) => column(q.access, name));
    const left = raw(`(${keyDefs.map((d) => ident(d.name)).join(', ')})`);
    const right = join(
      keyDefs.map((d, i) => typedParam(d, values[i])),
      ', ',
    );
    conditions.push(sql`${left} > (${right})`);
  }
  const where = conditions.length ? sql` WHERE ${join(conditions, ' AND ')}` : sql``;
  const select = raw(wanted.map((d) => ident(d.name)).join(', '));
  const order = raw(key.map((k) => ident(k)).join(', '));
  return sql`SELECT ${select} FROM ${q.relation} AS m${where} ORDER BY ${order} LIMIT ${q.first + 1}`;
}

/** The row count under the same filter and policy. */
export function countQuery(q: Omit<PageQuery, 'columns' | 'first' | 'after'>): SqlFragment {
  const conditions = whereClause(q.access, q.filter);
  const where = conditions.length ? sql` WHERE ${join(conditions, ' AND ')}` : sql``;
  return sql`SELECT count(*) AS total FROM ${q.relation} AS m${where}`;
}
