import { z } from 'zod';
import type { MartAccess } from '../auth/access.js';
import type { ColumnDef } from '../catalog/types.js';
import {
  AGGREGATE_FUNCTIONS,
  type AggregateFunction,
  type ColumnFilter,
  type FilterOp,
  MAX_GROUPS,
  MAX_IN_VALUES,
  type MartFilter,
  type Measure,
  type OrderTerm,
  operatorsFor,
} from '../query/builder.js';
import { BadUserInputError } from '../query/errors.js';
import { bindableValue } from '../query/values.js';

/**
 * Query-string parsing for `/v1/marts/...`. Filters use the catalog's
 * snake_case names: `col=v` (eq) or `col[op]=v`. Values are percent-decoded
 * per application/x-www-form-urlencoded (`+` is a space, `%2B` a plus); an
 * `in` list is split on raw commas before decoding, so `%2C` is a literal comma
 * inside one value (`col[in]=` alone is no value and is refused: ask for a
 * lone empty string with `col=`). Names below are reserved: a column with such
 * a name is filtered as `name[eq]=`.
 */

/** The query parameters of a rows request that are not filters. */
export const ROWS_PARAMS = ['sort', 'limit', 'cursor', 'fields', 'count', 'format', 'schema_v'] as const;
/** The query parameters of an aggregate request that are not filters. */
export const AGGREGATE_PARAMS = ['groupBy', 'measures', 'limit', 'schema_v'] as const;

/** Rows per JSON page when the caller gives no `limit`. */
export const DEFAULT_PAGE_SIZE = 50;
/** Groups per aggregate answer when the caller gives no `limit`. */
export const DEFAULT_GROUPS = 1_000;

/** Representations of a rows request. */
export const ROW_FORMATS = ['json', 'ndjson', 'csv'] as const;
export type RowFormat = (typeof ROW_FORMATS)[number];

/** Media types per representation; the first is the one answered. */
export const MEDIA_TYPES: Readonly<Record<RowFormat, readonly string[]>> = {
  json: ['application/json'],
  ndjson: ['application/x-ndjson', 'application/ndjson'],
  csv: ['text/csv'],
};

/** One `name=value` pair as it came, with its value still encoded (for `in` and for links). */
export interface QueryParam {
  readonly name: string;
  readonly rawValue: string;
  /** The pair exactly as sent, to rebuild links. */
  readonly raw: string;
}

function decode(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch (error) {
    throw new BadUserInputError('the query string is not valid percent-encoding', { cause: error });
  }
}

/** Split `?a=1&b[gte]=2` into pairs; names are decoded, values kept raw. */
export function splitQuery(search: string): QueryParam[] {
  const text = search.startsWith('?') ? search.slice(1) : search;
  if (text.length > 16_384) throw new BadUserInputError('the query string is too long');
  const out: QueryParam[] = [];
  for (const raw of text.split('&')) {
    if (raw === '') continue;
    const eq = raw.indexOf('=');
    const name = decode(eq < 0 ? raw : raw.slice(0, eq));
    out.push({ name, rawValue: eq < 0 ? '' : raw.slice(eq + 1), raw });
  }
  return out;
}

/** The decoded value of a parameter. */
export function paramValue(param: QueryParam): string {
  return decode(param.rawValue);
}

const FILTER_NAME = /^([a-z][a-z0-9_]*)(?:\[([A-Za-z]+)\])?$/;
const INT = /^-?(0|[1-9]\d*)$/;
const FLOAT = /^-?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
const BOOLEAN = z.enum(['true', 'false']).transform((v) => v === 'true');

/** A caller's text as the JS value the builder binds for this column (strict: `1.0` is no Int). */
export function typedValue(def: ColumnDef, text: string): string | number | boolean {
  const fail = (): never => {
    throw new BadUserInputError(`invalid value for ${def.name}: expected ${def.apiType}`);
  };
  let value: string | number | boolean = text;
  if (def.apiType === 'Int') value = INT.test(text) ? Number(text) : fail();
  else if (def.apiType === 'Float') value = FLOAT.test(text) ? Number(text) : fail();
  else if (def.apiType === 'Boolean') {
    const parsed = BOOLEAN.safeParse(text);
    value = parsed.success ? parsed.data : fail();
  }
  // The same check the builder makes, here so that no engine work starts for a bad value.
  return bindableValue(def, value);
}

/** A column the caller may read, by its name in a parameter; hidden and missing read the same. */
function readableColumn(access: MartAccess, name: string, what: string): ColumnDef {
  const def = access.mart.columns.find((c) => c.name === name);
  if (!def || !access.columns.has(name)) throw new BadUserInputError(`unknown ${what} ${name}`);
  return def;
}

/** Add `param` (known to be a filter, not a reserved name) to `filter`. */
function addFilter(access: MartAccess, filter: Record<string, ColumnFilter>, param: QueryParam): void {
  const m = FILTER_NAME.exec(param.name);
  if (!m?.[1]) throw new BadUserInputError(`unknown query parameter ${param.name}`);
  const def = readableColumn(access, m[1], 'query parameter');
  const op = m[2] ?? 'eq';
  const ops = operatorsFor(def.apiType);
  if (!(ops as readonly string[]).includes(op)) {
    throw new BadUserInputError(
      `unknown operator ${op} in ${param.name}: ${def.name} takes ${ops.map((o) => `[${o}]`).join(', ')}`,
    );
  }
  const column = filter[def.name] ?? {};
  if (column[op as FilterOp] !== undefined) {
    throw new BadUserInputError(`${def.name}[${op}] is given twice`);
  }
  let value: unknown;
  if (op === 'isNull') {
    const parsed = BOOLEAN.safeParse(paramValue(param));
    if (!parsed.success) throw new BadUserInputError(`${param.name} takes true or false`);
    value = parsed.data;
  } else if (op === 'in') {
    const parts = param.rawValue === '' ? [] : param.rawValue.split(',');
    if (parts.length === 0 || parts.length > MAX_IN_VALUES) {
      throw new BadUserInputError(`${param.name} takes 1 to ${MAX_IN_VALUES} comma-separated values`);
    }
    value = parts.map((part) => typedValue(def, decode(part)));
  } else {
    value = typedValue(def, paramValue(param));
  }
  filter[def.name] = { ...column, [op]: value };
}

/** The one value of a reserved parameter, or `undefined`; a reserved parameter given twice is an error. */
function single(params: readonly QueryParam[], name: string): string | undefined {
  const found = params.filter((p) => p.name === name);
  if (found.length > 1) throw new BadUserInputError(`${name} is given twice`);
  const [first] = found;
  return first === undefined ? undefined : paramValue(first);
}

/** A comma list of names (`a,b`), each decoded; empty items are refused. */
function nameList(text: string, what: string): string[] {
  const items = text.split(',').map((s) => s.trim());
  if (items.some((s) => s === '')) throw new BadUserInputError(`${what} has an empty item`);
  return items;
}

function positiveInt(text: string, name: string, max: number): number {
  const n = INT.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > max) {
    throw new BadUserInputError(`${name} must be an integer from 1 to ${max}`);
  }
  return n;
}

/** `sort=-invoice_date,customer_id`: a minus sorts descending; nulls sort last either way. */
export function parseSort(text: string): OrderTerm[] {
  return nameList(text, 'sort').map((item) => {
    const desc = item.startsWith('-');
    const column = desc ? item.slice(1) : item;
    if (!/^[a-z][a-z0-9_]*$/.test(column)) throw new BadUserInputError(`sort: unknown field ${item}`);
    return { column, desc };
  });
}

/** The representation asked for: `format` wins over `Accept`; anything unlisted gets JSON. */
export function negotiateFormat(accept: string | undefined, format: string | undefined): RowFormat {
  if (format !== undefined) {
    const parsed = z.enum(ROW_FORMATS).safeParse(format);
    if (!parsed.success) throw new BadUserInputError(`format must be one of ${ROW_FORMATS.join(', ')}`);
    return parsed.data;
  }
  if (!accept) return 'json';
  const ranges = accept.split(',').map((part) => {
    const [type = '', ...attributes] = part.split(';').map((s) => s.trim().toLowerCase());
    const q = attributes.find((a) => a.startsWith('q='));
    const weight = q === undefined ? 1 : Number(q.slice(2));
    return { type, q: Number.isFinite(weight) ? weight : 0 };
  });
  // Each format takes the weight of its most specific matching range (exact, then type/*, then */*).
  const weightOf = (media: string): number => {
    const [major] = media.split('/');
    const exact = ranges.find((r) => r.type === media);
    const partial = ranges.find((r) => r.type === `${major}/*`);
    const any = ranges.find((r) => r.type === '*/*');
    return (exact ?? partial ?? any)?.q ?? 0;
  };
  let best: RowFormat = 'json';
  let bestQ = 0;
  for (const format of ROW_FORMATS) {
    const q = Math.max(...MEDIA_TYPES[format].map(weightOf));
    if (q > bestQ) {
      best = format;
      bestQ = q;
    }
  }
  return best;
}

/** What a rows request asks for. */
export type RowsRequest =
  | {
      readonly kind: 'page';
      readonly filter: MartFilter;
      readonly orderBy: readonly OrderTerm[];
      readonly columns: readonly ColumnDef[];
      readonly first: number;
      readonly cursor: string | undefined;
      readonly count: boolean;
    }
  | {
      readonly kind: 'export';
      readonly format: Exclude<RowFormat, 'json'>;
      readonly filter: MartFilter;
      readonly orderBy: readonly OrderTerm[];
      readonly columns: readonly ColumnDef[];
      readonly limit: number | undefined;
    };

/** Exports have no page limit; this only bounds a typo. */
const MAX_EXPORT_LIMIT = 1_000_000_000;

/** The filter of a request: every parameter that is not reserved. */
function filterOf(
  access: MartAccess,
  params: readonly QueryParam[],
  reserved: readonly string[],
): MartFilter {
  const filter: Record<string, ColumnFilter> = {};
  for (const param of params) if (!reserved.includes(param.name)) addFilter(access, filter, param);
  return filter;
}

/**
 * The columns a rows answer holds: every readable column in catalog order, or
 * the key then the asked `fields` (the key always comes along, as in exports).
 */
function columnsOf(access: MartAccess, fields: string | undefined): ColumnDef[] {
  if (fields === undefined) return access.mart.columns.filter((c) => access.columns.has(c.name));
  const names = nameList(fields, 'fields');
  for (const name of names) readableColumn(access, name, 'field');
  return [...new Set([...access.mart.key, ...names])].map((n) => readableColumn(access, n, 'field'));
}

/** Parse `GET /v1/marts/{mart}`'s query for one caller. */
export function parseRowsRequest(
  access: MartAccess,
  params: readonly QueryParam[],
  options: { readonly accept: string | undefined; readonly maxPageSize: number },
): RowsRequest {
  const filter = filterOf(access, params, ROWS_PARAMS);
  const sort = single(params, 'sort');
  const orderBy = sort === undefined ? [] : parseSort(sort);
  const columns = columnsOf(access, single(params, 'fields'));
  const limit = single(params, 'limit');
  const cursor = single(params, 'cursor');
  const count = single(params, 'count');
  const format = negotiateFormat(options.accept, single(params, 'format'));
  if (format === 'json') {
    let withCount = false;
    if (count !== undefined) {
      const parsed = BOOLEAN.safeParse(count);
      if (!parsed.success) throw new BadUserInputError('count takes true or false');
      withCount = parsed.data;
    }
    return {
      kind: 'page',
      filter,
      orderBy,
      columns,
      first: limit === undefined ? DEFAULT_PAGE_SIZE : positiveInt(limit, 'limit', options.maxPageSize),
      cursor: cursor === undefined || cursor === '' ? undefined : cursor,
      count: withCount,
    };
  }
  // A stream is one answer from the first row: there is no page to continue or count to add.
  if (cursor !== undefined) throw new BadUserInputError(`cursor does not apply to ${format} exports`);
  if (count !== undefined) throw new BadUserInputError(`count does not apply to ${format} exports`);
  return {
    kind: 'export',
    format,
    filter,
    orderBy,
    columns,
    limit: limit === undefined ? undefined : positiveInt(limit, 'limit', MAX_EXPORT_LIMIT),
  };
}

/** What an aggregate request asks for. */
export interface AggregateRequest {
  readonly filter: MartFilter;
  readonly groupBy: readonly string[];
  readonly measures: readonly Measure[];
  readonly limit: number;
}

/** `sum:mrr` -> `{fn: 'sum', column: 'mrr'}`. */
export function parseMeasure(text: string): Measure {
  const [fn = '', column = '', ...rest] = text.split(':');
  if (!(AGGREGATE_FUNCTIONS as readonly string[]).includes(fn) || column === '' || rest.length > 0) {
    throw new BadUserInputError(
      `measures: ${text} is not <function>:<field> with a function among ${AGGREGATE_FUNCTIONS.join(', ')}`,
    );
  }
  return { fn: fn as AggregateFunction, column };
}

/** Parse `GET /v1/marts/{mart}/aggregate`'s query for one caller. */
export function parseAggregateRequest(access: MartAccess, params: readonly QueryParam[]): AggregateRequest {
  const filter = filterOf(access, params, AGGREGATE_PARAMS);
  const groupBy = single(params, 'groupBy');
  const measuresText = single(params, 'measures');
  const limit = single(params, 'limit');
  const measures = measuresText === undefined ? [] : nameList(measuresText, 'measures').map(parseMeasure);
  const seen = new Set<string>();
  for (const m of measures) {
    const id = `${m.fn}:${m.column}`;
    if (seen.has(id)) throw new BadUserInputError(`measures: ${id} is given twice`);
    seen.add(id);
  }
  return {
    filter,
    groupBy: groupBy === undefined ? [] : nameList(groupBy, 'groupBy'),
    measures,
    limit: limit === undefined ? DEFAULT_GROUPS : positiveInt(limit, 'limit', MAX_GROUPS),
  };
}
