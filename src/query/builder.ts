import type { MartAccess, RowPredicate } from '../auth/access.js';
import type { ApiType, ColumnDef } from '../catalog/types.js';
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

/**
 * The filter operators a column type takes: the same rule as the GraphQL
 * filter inputs (ordered comparisons except on booleans and ids, text matching
 * on text and ids).
 */
export function operatorsFor(api: ApiType): readonly FilterOp[] {
  const ordered = api !== 'Boolean' && api !== 'ID';
  const text = api === 'String' || api === 'ID';
  return [
    'eq',
    'ne',
    'in',
    ...(ordered ? (['lt', 'lte', 'gt', 'gte'] as const) : []),
    'isNull',
    ...(text ? (['contains', 'startsWith'] as const) : []),
  ];
}

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

/** What a caller wants to do with a column; masked columns may only be selected (and hash-grouped). */
export type ColumnUse = 'select' | 'filter' | 'sort' | 'group' | 'measure';

/** A column the caller may use this way, or a BAD_USER_INPUT that reads the same for hidden and missing. */
export function usableColumn(access: MartAccess, name: string, use: ColumnUse): ColumnDef {
  const def = access.mart.columns.find((c) => c.name === name);
  // Hidden and missing columns read the same.
  if (!def || !access.columns.has(name)) throw new BadUserInputError(`unknown field ${name}`);
  const mask = access.masks.get(name);
  // A hashed value still groups like the clear one (HMAC is one-to-one in practice); nothing else may touch clear values.
  if (mask && use !== 'select' && !(use === 'group' && mask === 'hash')) {
    throw new BadUserInputError(`field ${name} is masked for you: it cannot be used to ${use}`);
  }
  return def;
}

function column(access: MartAccess, name: string): ColumnDef {
  return usableColumn(access, name, 'filter');
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

/**
 * Values a column is pinned to by conditions ANDed with the row scope: every
 * row that passes them holds one of these values in that column. Only values
 * bound exactly as the scope binds its own (same text, same cast) count.
 */
export type PinnedValues = ReadonlyMap<string, ReadonlySet<string>>;

/**
 * The policy's row scope as one condition, or nothing when every row is
 * visible. A scope predicate that `pinned` already implies (the caller's
 * filter keeps only values the predicate allows) is left out, and a scope
 * alternative left with no predicate lets every row through: the WHERE
 * clause selects exactly the same rows without re-checking them.
 */
export function rowScopeCondition(
  access: MartAccess,
  pinned: PinnedValues = new Map(),
): SqlFragment | undefined {
  if (access.rows === null) return undefined;
  // No alternative grants nothing: `IN ()` is invalid SQL, so say false.
  if (access.rows.length === 0) return raw('FALSE');
  const implied = (rule: RowPredicate): boolean => {
    const values = pinned.get(rule.column);
    if (!values || values.size === 0) return false;
    for (const v of values) if (!rule.values.includes(v)) return false;
    return true;
  };
  const alternatives: SqlFragment[] = [];
  for (const predicates of access.rows) {
    const remaining = predicates.filter((rule) => !implied(rule));
    // An alternative the filter satisfies in full: the scope adds nothing to the filter.
    if (remaining.length === 0) return undefined;
    alternatives.push(
      join(
        remaining.map((rule) => {
          const def = access.mart.columns.find((c) => c.name === rule.column);
          if (!def) throw new TypeError(`policy names unknown column ${rule.column}`);
          const col = raw(ident(def.name));
          if (rule.values.length === 0) return raw('FALSE');
          // One value: `=` reads the same as `IN` (NULL included) and is the form every engine prunes on.
          if (rule.values.length === 1) return sql`${col} = ${param(rule.values[0] as string, def.sqlType)}`;
          return sql`${col} IN (${join(
            rule.values.map((v) => param(v, def.sqlType)),
            ', ',
          )})`;
        }),
        ' AND ',
      ),
    );
  }
  return alternatives.length === 1
    ? sql`(${alternatives[0] as SqlFragment})`
    : sql`((${join(alternatives, ') OR (')}))`;
}

/**
 * What an `eq` or `in` filter pins a column to, as the scope would bind the
 * values: text only, and not for Decimal columns (filters cast those wider
 * than the column). `undefined` when the operator pins nothing comparable.
 */
function pinnedBy(def: ColumnDef, op: string, value: unknown): Set<string> | undefined {
  if (def.apiType === 'Decimal') return undefined;
  const values = op === 'eq' ? [value] : op === 'in' && Array.isArray(value) ? value : undefined;
  if (!values || values.length === 0) return undefined;
  const out = new Set<string>();
  for (const v of values) {
    const bound = bindableValue(def, v);
    if (typeof bound !== 'string') return undefined;
    out.add(bound);
  }
  return out;
}

/** The WHERE conditions of a caller's filter plus the policy's row scope (ANDed). */
export function whereClause(access: MartAccess, filter: MartFilter): SqlFragment[] {
  const parts: SqlFragment[] = [];
  const pinned = new Map<string, Set<string>>();
  for (const [name, ops] of Object.entries(filter)) {
    if (!ops) continue;
    const def = column(access, name);
    for (const [op, value] of Object.entries(ops)) {
      if (value === undefined || value === null) continue;
      if (!(FILTER_OPS as readonly string[]).includes(op))
        throw new BadUserInputError(`unknown operator ${op}`);
      parts.push(predicate(def, op as FilterOp, value));
      const values = pinnedBy(def, op, value);
      // Two pinning operators on one column: rows hold values both allow; keeping the smaller set is enough.
      const known = pinned.get(def.name);
      if (values && (!known || values.size < known.size)) pinned.set(def.name, values);
    }
  }
  const scope = rowScopeCondition(access, pinned);
  if (scope) parts.unshift(scope);
  return parts;
}

/** One sort term; nulls always sort last, in both directions. */
export interface OrderTerm {
  readonly column: string;
  readonly desc: boolean;
}

interface ResolvedTerm {
  readonly def: ColumnDef;
  readonly desc: boolean;
}

/**
 * The full sort: the caller's terms, then the key (ascending) so every order is
 * total and pages never repeat or skip a row.
 */
export function resolveOrder(access: MartAccess, orderBy: readonly OrderTerm[] = []): ResolvedTerm[] {
  const seen = new Set<string>();
  const terms: ResolvedTerm[] = [];
  for (const term of orderBy) {
    if (seen.has(term.column)) throw new BadUserInputError(`${term.column} is sorted on twice`);
    seen.add(term.column);
    terms.push({ def: usableColumn(access, term.column, 'sort'), desc: term.desc });
  }
  if (terms.length > 4) throw new BadUserInputError('sort on at most 4 fields');
  for (const k of access.mart.key) {
    if (!seen.has(k)) terms.push({ def: usableColumn(access, k, 'select'), desc: false });
  }
  return terms;
}

function orderByClause(terms: readonly ResolvedTerm[], prefix = ''): string {
  return terms.map((t) => `${prefix}${ident(t.def.name)} ${t.desc ? 'DESC' : 'ASC'} NULLS LAST`).join(', ');
}

/**
 * Rows strictly after the cursor row in `terms` order, nulls last: row r is
 * after v when, for some i, r equals v on the first i-1 terms and r[i] comes
 * after v[i]. Written out as an OR chain because row-value comparison cannot mix
 * directions or handle nulls.
 */
function afterCondition(terms: readonly ResolvedTerm[], values: readonly unknown[]): SqlFragment {
  const alternatives: SqlFragment[] = [];
  for (let i = 0; i < terms.length; i += 1) {
    const term = terms[i] as ResolvedTerm;
    const value = values[i];
    // Nothing sorts after a null: nulls are last.
    if (value === null || value === undefined) continue;
    const col = raw(ident(term.def.name));
    const beyond = sql`(${col} ${raw(term.desc ? '<' : '>')} ${typedParam(term.def, value)} OR ${col} IS NULL)`;
    const equalBefore = terms.slice(0, i).map((t, j) => {
      const v = values[j];
      const c = raw(ident(t.def.name));
      return v === null || v === undefined ? sql`${c} IS NULL` : sql`${c} = ${typedParam(t.def, v)}`;
    });
    alternatives.push(join([...equalBefore, beyond], ' AND '));
  }
  return alternatives.length === 0 ? raw('FALSE') : sql`(${join(alternatives, ' OR ')})`;
}

/** Opaque cursor: the sort values of the last row of a page. */
export function encodeCursor(values: readonly unknown[]): string {
  return Buffer.from(JSON.stringify(values)).toString('base64url');
}

/** The cursor of a row under a sort. */
export function cursorOf(terms: readonly ResolvedTerm[], row: Readonly<Record<string, unknown>>): string {
  return encodeCursor(
    terms.map((t) => {
      const v = row[t.def.name] ?? null;
      // Engines hand 64-bit integers over as text; the cursor carries them as the API types them.
      return v !== null && (t.def.apiType === 'Int' || t.def.apiType === 'Float') ? Number(v) : v;
    }),
  );
}

function decodeCursor(terms: readonly ResolvedTerm[], cursor: string): unknown[] {
  try {
    const values: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (
      Array.isArray(values) &&
      values.length === terms.length &&
      values.every((v, i) => {
        const def = terms[i]?.def;
        if (v === null) return def?.nullable === true;
        if (!def || !['string', 'number', 'boolean'].includes(typeof v)) return false;
        // Throws BAD_USER_INPUT when the value does not fit the column's type.
        bindableValue(def, v);
        return true;
      })
    ) {
      return values;
    }
  } catch {
    // fall through to the error below
  }
  throw new BadUserInputError('invalid cursor (it belongs to another sort or mart)');
}

function whereOf(conditions: readonly SqlFragment[]): SqlFragment {
  return conditions.length ? sql` WHERE ${join(conditions, ' AND ')}` : sql``;
}

function selectList(access: MartAccess, columns: readonly string[], terms: readonly ResolvedTerm[]): string {
  const names = [...new Set([...access.mart.key, ...terms.map((t) => t.def.name), ...columns])];
  return names.map((name) => ident(usableColumn(access, name, 'select').name)).join(', ');
}

/** A page query plus the sort it used (to cut cursors from its rows). */
export interface BuiltPage {
  readonly sql: SqlFragment;
  readonly terms: readonly ResolvedTerm[];
}

/** The page query: keyset pagination in the asked order, one row more than asked to tell if more exist. */
export function pageQuery(q: PageQuery & { readonly orderBy?: readonly OrderTerm[] }): SqlFragment {
  return buildPage(q).sql;
}

/** `pageQuery` with its resolved sort. */
export function buildPage(q: PageQuery & { readonly orderBy?: readonly OrderTerm[] }): BuiltPage {
  const terms = resolveOrder(q.access, q.orderBy);
  const conditions = whereClause(q.access, q.filter);
  if (q.after !== undefined) conditions.push(afterCondition(terms, decodeCursor(terms, q.after)));
  const text = sql`SELECT ${raw(selectList(q.access, q.columns, terms))} FROM ${q.relation} AS m${whereOf(
    conditions,
  )} ORDER BY ${raw(orderByClause(terms))} LIMIT ${q.first + 1}`;
  return { sql: text, terms };
}

/** The row count under the same filter and policy. */
export function countQuery(q: Omit<PageQuery, 'columns' | 'first' | 'after'>): SqlFragment {
  return sql`SELECT count(*) AS total FROM ${q.relation} AS m${whereOf(whereClause(q.access, q.filter))}`;
}

/** Every matching row for streamed exports: in the asked order, or as stored when no sort is asked. */
export function exportQuery(q: {
  readonly access: MartAccess;
  readonly relation: SqlFragment;
  readonly columns: readonly string[];
  readonly filter: MartFilter;
  readonly orderBy?: readonly OrderTerm[];
  readonly limit?: number;
}): SqlFragment {
  const terms = resolveOrder(q.access, q.orderBy);
  const limit = q.limit === undefined ? sql`` : sql` LIMIT ${q.limit}`;
  // A sort makes the engine hold the whole result before the first row: without one asked, rows stream as stored.
  const order = q.orderBy && q.orderBy.length > 0 ? raw(` ORDER BY ${orderByClause(terms)}`) : raw('');
  return sql`SELECT ${raw(selectList(q.access, q.columns, terms))} FROM ${q.relation} AS m${whereOf(
    whereClause(q.access, q.filter),
  )}${order}${limit}`;
}

/**
 * Children of many parents in one statement: rows of the target mart whose
 * `childColumn` is in `parentValues`, at most `perParent` per parent (plus one,
 * to tell if more exist), in the asked order. The target's own row scope applies,
 * exactly as if it were queried directly.
 */
export function relationQuery(q: {
  readonly access: MartAccess;
  readonly relation: SqlFragment;
  readonly childColumn: string;
  readonly parentValues: readonly string[];
  readonly columns: readonly string[];
  readonly filter: MartFilter;
  readonly orderBy?: readonly OrderTerm[];
  readonly perParent: number;
}): SqlFragment {
  const link = usableColumn(q.access, q.childColumn, 'select');
  if (q.parentValues.length === 0 || q.parentValues.length > MAX_IN_VALUES) {
    throw new TypeError(`relation batch of ${q.parentValues.length} parents`);
  }
  const terms = resolveOrder(q.access, q.orderBy);
  const conditions = whereClause(q.access, q.filter);
  conditions.push(
    sql`${raw(ident(link.name))} IN (${join(
      q.parentValues.map((v) => param(v, link.sqlType)),
      ', ',
    )})`,
  );
  const names = [
    ...new Set([link.name, ...q.access.mart.key, ...terms.map((t) => t.def.name), ...q.columns]),
  ];
  const select = names.map((n) => ident(usableColumn(q.access, n, 'select').name)).join(', ');
  const outer = names.map((n) => `c.${ident(n)}`).join(', ');
  return sql`SELECT ${raw(outer)} FROM (SELECT ${raw(select)}, row_number() OVER (PARTITION BY ${raw(
    ident(link.name),
  )} ORDER BY ${raw(orderByClause(terms))}) AS gg_rank FROM ${q.relation} AS m${whereOf(
    conditions,
  )}) AS c WHERE c.gg_rank <= ${q.perParent + 1} ORDER BY ${raw(ident(link.name))}, ${raw(
    orderByClause(terms, 'c.'),
  )}`;
}

/** Aggregate functions over measures. */
export const AGGREGATE_FUNCTIONS = ['sum', 'avg', 'min', 'max'] as const;
export type AggregateFunction = (typeof AGGREGATE_FUNCTIONS)[number];

/** A measure: `fn(column)`, returned under the alias `<fn>__<column>`. */
export interface Measure {
  readonly fn: AggregateFunction;
  readonly column: string;
}

/** Numeric columns are measures; everything else may be a dimension. */
export function isMeasureColumn(def: ColumnDef): boolean {
  return def.apiType === 'Int' || def.apiType === 'Float' || def.apiType === 'Decimal';
}

/** The alias a measure's value comes back under. */
export function measureAlias(m: Measure): string {
  return `${m.fn}__${m.column}`;
}

/** At most this many groups in one aggregate answer. */
export const MAX_GROUPS = 10_000;

/**
 * `GROUP BY` over permitted dimensions with count and measures, under the
 * caller's filter and row scope; groups smaller than the policy's minimum size
 * are suppressed in SQL, so they never leave the engine.
 */
export function aggregateQuery(q: {
  readonly access: MartAccess;
  readonly relation: SqlFragment;
  readonly filter: MartFilter;
  readonly groupBy: readonly string[];
  readonly measures: readonly Measure[];
  readonly limit: number;
}): SqlFragment {
  if (!q.access.aggregates.allowed) throw new BadUserInputError('aggregates of this mart are not granted');
  if (q.groupBy.length > 4) throw new BadUserInputError('group by at most 4 fields');
  const dims = [...new Set(q.groupBy)].map((name) => {
    const def = usableColumn(q.access, name, 'group');
    if (isMeasureColumn(def)) throw new BadUserInputError(`${name} is a measure: it cannot be grouped by`);
    return def;
  });
  const measures = q.measures.map((m) => {
    const def = usableColumn(q.access, m.column, 'measure');
    const ordered = def.apiType === 'Date' || def.apiType === 'DateTime';
    if (!isMeasureColumn(def) && !(ordered && (m.fn === 'min' || m.fn === 'max'))) {
      throw new BadUserInputError(`${m.fn} does not apply to ${m.column}`);
    }
    const col = ident(def.name);
    const expr =
      m.fn === 'avg'
        ? `CAST(avg(${col}) AS ${def.apiType === 'Decimal' ? 'DECIMAL(38,6)' : 'DOUBLE'})`
        : m.fn === 'sum' && def.apiType === 'Decimal'
          ? `CAST(sum(${col}) AS DECIMAL(38,2))`
          : `${m.fn}(${col})`;
    return `${expr} AS ${ident(measureAlias(m))}`;
  });
  const dimList = dims.map((d) => ident(d.name)).join(', ');
  const select = [...dims.map((d) => ident(d.name)), 'count(*) AS "count"', ...measures].join(', ');
  const groupBy = dims.length ? raw(` GROUP BY ${dimList}`) : raw('');
  const minSize = q.access.aggregates.minGroupSize;
  const having = minSize > 1 ? sql` HAVING count(*) >= ${minSize}` : sql``;
  const order = dims.length
    ? raw(` ORDER BY ${dims.map((d) => `${ident(d.name)} ASC NULLS LAST`).join(', ')}`)
    : raw('');
  return sql`SELECT ${raw(select)} FROM ${q.relation} AS m${whereOf(
    whereClause(q.access, q.filter),
  )}${groupBy}${having}${order} LIMIT ${q.limit}`;
}
