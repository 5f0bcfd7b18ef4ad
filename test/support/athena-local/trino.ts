/**
 * The local endpoint's Trino/Athena -> DuckDB translation (tests only). It
 * understands exactly the statements goldgate's Athena transforms and API
 * generate, and refuses anything else with `NOT_SUPPORTED`, so a test that
 * passes through it proves that the generated SQL is what ran.
 *
 * Statements become a plan (`translateStatement`) the endpoint executes
 * against its DuckDB and its stand-in for Glue (`lake.ts`). Expressions are
 * rewritten over a token tree (parentheses and brackets nested), function by
 * function: a function is either spelled and behaves the same in both engines,
 * or is rewritten to DuckDB with Trino's semantics, or the statement is
 * refused. Where the engines differ on NULLs or on what a cast accepts, the
 * rewrite follows Trino:
 *
 * - `greatest`/`least` are NULL when any argument is (DuckDB skips NULLs);
 * - `try_cast`/`CAST` of text to an integer refuse a fraction (DuckDB rounds);
 * - `date_diff` counts whole units (DuckDB's `date_diff` counts boundaries;
 *   its `date_sub` counts whole units);
 * - `from_iso8601_timestamp` takes ISO 8601 only and keeps milliseconds;
 * - `json_extract_scalar` is NULL for objects and arrays;
 * - `CAST(x AS JSON)` makes a JSON value of x (DuckDB's cast would parse text);
 * - integer division truncates (the session sets `integer_division`).
 *
 * Not emulated (documented in the README): Trino's static typing (a statement
 * Trino would reject for a type mismatch may run here), and DECIMAL division,
 * which DuckDB computes as DOUBLE where Trino keeps DECIMAL(p, max(s1, s2)).
 */

/** A statement the endpoint does not translate: Athena's `NOT_SUPPORTED`, with what was not understood. */
export class TranslationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TranslationError';
  }
}

// ---------------------------------------------------------------------------
// Tokens and the token tree

interface Token {
  readonly kind: 'blank' | 'string' | 'quoted' | 'backtick' | 'word' | 'number' | 'param' | 'punct';
  readonly text: string;
}

interface Group {
  readonly kind: 'group';
  readonly open: '(' | '[';
  readonly items: Node[];
}

type Node = Token | Group;

const LEXEME =
  /(\s+|--[^\n]*|\/\*[\s\S]*?\*\/)|('(?:[^']|'')*')|("(?:[^"]|"")*")|(`[^`]*`)|([A-Za-z_][A-Za-z0-9_$]*)|(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)|(\?)|(<>|<=|>=|!=|\|\||->|[\s\S])/y;

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  LEXEME.lastIndex = 0;
  let at = 0;
  for (let m = LEXEME.exec(text); m; m = LEXEME.exec(text)) {
    const [lexeme, blank, str, quoted, backtick, word, num, param] = m;
    at += lexeme.length;
    if (blank !== undefined) tokens.push({ kind: 'blank', text: ' ' });
    else if (str !== undefined) tokens.push({ kind: 'string', text: lexeme });
    else if (quoted !== undefined) tokens.push({ kind: 'quoted', text: lexeme });
    else if (backtick !== undefined) tokens.push({ kind: 'backtick', text: lexeme });
    else if (word !== undefined) tokens.push({ kind: 'word', text: lexeme });
    else if (num !== undefined) tokens.push({ kind: 'number', text: lexeme });
    else if (param !== undefined) tokens.push({ kind: 'param', text: lexeme });
    else tokens.push({ kind: 'punct', text: lexeme });
  }
  if (at !== text.length) throw new TranslationError('statement text could not be read');
  return tokens;
}

function tree(tokens: readonly Token[]): Node[] {
  const root: Node[] = [];
  const stack: Array<{ open: '(' | '['; items: Node[] }> = [];
  let current = root;
  for (const t of tokens) {
    if (t.kind === 'punct' && (t.text === '(' || t.text === '[')) {
      const group = { open: t.text as '(' | '[', items: [] as Node[] };
      stack.push({ open: group.open, items: current });
      current.push({ kind: 'group', open: group.open, items: group.items });
      current = group.items;
    } else if (t.kind === 'punct' && (t.text === ')' || t.text === ']')) {
      const top = stack.pop();
      if (!top || (top.open === '(') !== (t.text === ')')) throw new TranslationError('unbalanced brackets');
      current = top.items;
    } else {
      current.push(t);
    }
  }
  if (stack.length > 0) throw new TranslationError('unbalanced brackets');
  return root;
}

const isGroup = (n: Node | undefined, open?: '(' | '['): n is Group =>
  n?.kind === 'group' && (open === undefined || n.open === open);
const isWord = (n: Node | undefined, ...words: string[]): n is Token =>
  n?.kind === 'word' && (words.length === 0 || words.includes(n.text.toUpperCase()));
const isPunct = (n: Node | undefined, text: string): boolean => n?.kind === 'punct' && n.text === text;

/** The nodes without blanks, for matching shapes. */
function solid(items: readonly Node[]): Node[] {
  return items.filter((n) => n.kind !== 'blank');
}

/** Split at top-level commas. */
function splitCommas(items: readonly Node[]): Node[][] {
  const parts: Node[][] = [[]];
  for (const n of items) {
    if (isPunct(n, ',')) parts.push([]);
    else (parts[parts.length - 1] as Node[]).push(n);
  }
  return parts;
}

/** The index of the last top-level word `AS`, or -1. */
function lastAs(items: readonly Node[]): number {
  for (let i = items.length - 1; i >= 0; i -= 1) if (isWord(items[i], 'AS')) return i;
  return -1;
}

// ---------------------------------------------------------------------------
// Names

/** A table as a statement names it, lower case, unquoted. */
export interface TableName {
  readonly db: string;
  readonly table: string;
}

function unquote(n: Node | undefined): string | undefined {
  if (n?.kind === 'quoted') return n.text.slice(1, -1).replaceAll('""', '"').toLowerCase();
  if (n?.kind === 'backtick') return n.text.slice(1, -1).toLowerCase();
  if (n?.kind === 'word') return n.text.toLowerCase();
  return undefined;
}

/** `db.table` at `i` in a solid list (any quoting). */
function qualifiedAt(items: readonly Node[], i: number): TableName | undefined {
  const db = unquote(items[i]);
  const table = unquote(items[i + 2]);
  if (db === undefined || table === undefined || !isPunct(items[i + 1], '.')) return undefined;
  return { db, table };
}

/** `"db"."table"` as DuckDB reads it (schema = database). */
export function duckName(name: TableName): string {
  return `${quoteIdent(name.db)}.${quoteIdent(name.table)}`;
}

/** A DuckDB quoted identifier. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** The DuckDB schema holding Iceberg snapshot logs and copies (never listed as a database). */
export const ICEBERG_SCHEMA = '__iceberg';

/** The DuckDB table of an Iceberg table's snapshot log. */
export function snapshotLogName(name: TableName): string {
  return `${quoteIdent(ICEBERG_SCHEMA)}.${quoteIdent(`${name.db}.${name.table}$snapshots`)}`;
}

/** The DuckDB copy of one Iceberg snapshot. */
export function snapshotCopyName(name: TableName, snapshotId: string): string {
  return `${quoteIdent(ICEBERG_SCHEMA)}.${quoteIdent(`${name.db}.${name.table}$${snapshotId}`)}`;
}

// ---------------------------------------------------------------------------
// Expressions

/** Functions spelled and behaving the same in Trino and DuckDB (for the argument types goldgate uses). */
const SAME = new Set([
  'abs',
  'avg',
  'ceil',
  'ceiling',
  'coalesce',
  'concat',
  'concat_ws',
  'count',
  'date_trunc',
  'dense_rank',
  'first_value',
  'floor',
  'lag',
  'last_value',
  'lead',
  'length',
  'lower',
  'max',
  'max_by',
  'min',
  'min_by',
  'nullif',
  'rank',
  'replace',
  'round',
  'row_number',
  'split_part',
  'substr',
  'sum',
  'trim',
  'try',
  'upper',
]);

/** Words that may stand before a parenthesis without being a function. */
const KEYWORDS_BEFORE_PAREN = new Set([
  'ALL',
  'AND',
  'ANY',
  'AS',
  'BY',
  'CASE',
  'DISTINCT',
  'ELSE',
  'EXCEPT',
  'EXISTS',
  'FILTER',
  'FROM',
  'HAVING',
  'IN',
  'INSERT',
  'INTERSECT',
  'INTO',
  'IS',
  'JOIN',
  'LIMIT',
  'NOT',
  'ON',
  'OR',
  'OVER',
  'SELECT',
  'SET',
  'SOME',
  'THEN',
  'UNION',
  'USING',
  'VALUES',
  'WHEN',
  'WHERE',
  'WITH',
]);

/** Statements may not smuggle in DuckDB-only syntax through words Trino does not have. */
const REFUSED_WORDS = new Set(['QUALIFY', 'EXCLUDE', 'COPY', 'PRAGMA', 'ATTACH', 'INSTALL', 'LOAD']);

const ISO_8601 =
  '^\\d{4}(-\\d{2}(-\\d{2})?)?(T\\d{2}(:\\d{2}(:\\d{2}([.,]\\d+)?)?)?)?(Z|[+-]\\d{2}(:?\\d{2})?)?$';

interface Context {
  /** Tables the statement names, for the endpoint to make ready. */
  readonly tables: Map<string, TableName>;
  readonly snapshotReads: Array<{ table: TableName; snapshotId: string }>;
}

function expr(items: readonly Node[], ctx: Context): string {
  let out = '';
  for (let i = 0; i < items.length; i += 1) {
    const node = items[i] as Node;
    if (node.kind === 'group') {
      out += node.open === '(' ? `(${expr(node.items, ctx)})` : `[${expr(node.items, ctx)}]`;
      continue;
    }
    if (node.kind === 'param') throw new TranslationError('placeholders are numbered before translation');
    if (node.kind === 'backtick') throw new TranslationError('backtick identifiers are Hive DDL only');
    if (node.kind === 'quoted' || node.kind === 'word') {
      const name = qualifiedAtRaw(items, i);
      if (name) {
        const { table, consumed } = name;
        // `FOR VERSION AS OF <id>`: the endpoint keeps a copy of every Iceberg snapshot.
        const rest = solidFrom(items, consumed);
        if (isWord(rest[0], 'FOR')) {
          if (!isWord(rest[1], 'VERSION') || !isWord(rest[2], 'AS') || !isWord(rest[3], 'OF'))
            throw new TranslationError('only FOR VERSION AS OF <snapshot id> is translated');
          const id = rest[4];
          if (id?.kind !== 'number' || !/^\d+$/.test(id.text))
            throw new TranslationError('FOR VERSION AS OF takes a snapshot id here');
          ctx.snapshotReads.push({ table, snapshotId: id.text });
          ctx.tables.set(`${table.db}.${table.table}`, table);
          out += snapshotCopyName(table, id.text);
          i = indexAfter(items, consumed, 5) - 1;
          continue;
        }
        if (table.table.endsWith('$snapshots')) {
          const base = { db: table.db, table: table.table.slice(0, -'$snapshots'.length) };
          ctx.tables.set(`${base.db}.${base.table}`, base);
          out += snapshotLogName(base);
        } else {
          ctx.tables.set(`${table.db}.${table.table}`, table);
          out += duckName(table);
        }
        i = consumed - 1;
        continue;
      }
    }
    if (node.kind === 'word') {
      const upper = node.text.toUpperCase();
      if (REFUSED_WORDS.has(upper)) throw new TranslationError(`${upper} is not Trino`);
      const next = nextSolid(items, i);
      if (upper === 'ARRAY' && isGroup(items[next], '[')) {
        out += `[${expr((items[next] as Group).items, ctx)}]`;
        i = next;
        continue;
      }
      if (isGroup(items[next], '(') && !KEYWORDS_BEFORE_PAREN.has(upper) && !afterAs(items, i)) {
        out += call(node.text, items[next] as Group, items, next, ctx);
        i = next;
        const alias = unnestAlias.get(items[next] as Group);
        if (alias !== undefined) i = alias;
        continue;
      }
      out += node.text;
      continue;
    }
    out += node.text;
  }
  return out;
}

/** UNNEST consumes its `AS alias(columns)`: the index of the last node it used. */
const unnestAlias = new WeakMap<Group, number>();

function nextSolid(items: readonly Node[], i: number): number {
  let j = i + 1;
  while (items[j]?.kind === 'blank') j += 1;
  return j;
}

function prevSolid(items: readonly Node[], i: number): Node | undefined {
  let j = i - 1;
  while (items[j]?.kind === 'blank') j -= 1;
  return items[j];
}

/** A word right after AS names an alias, whose parenthesis lists columns. */
function afterAs(items: readonly Node[], i: number): boolean {
  return isWord(prevSolid(items, i), 'AS');
}

function solidFrom(items: readonly Node[], from: number): Node[] {
  return solid(items.slice(from));
}

/** The index just past the `n`-th solid node from `from`. */
function indexAfter(items: readonly Node[], from: number, n: number): number {
  let seen = 0;
  let j = from;
  while (j < items.length && seen < n) {
    if (items[j]?.kind !== 'blank') seen += 1;
    j += 1;
  }
  return j;
}

/** `name . name` starting at `i` (blanks allowed around the dot). */
function qualifiedAtRaw(
  items: readonly Node[],
  i: number,
): { table: TableName; consumed: number } | undefined {
  const a = items[i];
  if (a?.kind !== 'quoted' && a?.kind !== 'word') return undefined;
  const dot = nextSolid(items, i);
  if (!isPunct(items[dot], '.')) return undefined;
  const b = nextSolid(items, dot);
  const second = items[b];
  if (second?.kind !== 'quoted' && second?.kind !== 'word') return undefined;
  // `alias.column` and `db.table` look alike; a function call after the dot is neither.
  if (isGroup(items[nextSolid(items, b)], '(')) return undefined;
  const db = unquote(a) as string;
  const table = unquote(second) as string;
  // Only names of databases the endpoint holds are tables; anything else is `alias.column`.
  if (!knownDatabase(db)) return undefined;
  return { table: { db, table }, consumed: b + 1 };
}

let databases: ReadonlySet<string> = new Set();

/** The databases statements may name (set by the endpoint before each translation). */
function knownDatabase(db: string): boolean {
  return databases.has(db);
}

function args(group: Group): Node[][] {
  const parts = splitCommas(group.items);
  return parts.length === 1 && solid(parts[0] as Node[]).length === 0 ? [] : parts;
}

function stringArg(nodes: readonly Node[] | undefined, what: string): string {
  const s = solid(nodes ?? []);
  const only = s[0];
  if (s.length !== 1 || only?.kind !== 'string')
    throw new TranslationError(`${what} must be a string literal`);
  return only.text.slice(1, -1).replaceAll("''", "'");
}

const UNITS: Readonly<Record<string, string>> = {
  day: 'to_days',
  week: 'to_weeks',
  month: 'to_months',
  year: 'to_years',
};

function call(name: string, group: Group, items: readonly Node[], at: number, ctx: Context): string {
  const fn = name.toLowerCase();
  const a = args(group);
  const x = (i: number): string => expr(a[i] ?? [], ctx);
  const arity = (...counts: number[]): void => {
    if (!counts.includes(a.length))
      throw new TranslationError(`${fn} takes ${counts.join(' or ')} arguments`);
  };
  switch (fn) {
    case 'cast':
    case 'try_cast':
      return cast(group, fn === 'try_cast', ctx);
    case 'json_extract_scalar': {
      arity(2);
      const path = x(1);
      return `(CASE WHEN json_type(${x(0)}, ${path}) IN ('OBJECT', 'ARRAY') THEN NULL ELSE json_extract_string(${x(0)}, ${path}) END)`;
    }
    case 'json_extract':
      arity(2);
      return `json_extract(${x(0)}, ${x(1)})`;
    case 'json_format':
      arity(1);
      return `CAST(${x(0)} AS VARCHAR)`;
    case 'json_parse':
      arity(1);
      return `json(${x(0)})`;
    case 'from_iso8601_timestamp': {
      arity(1);
      const v = x(0);
      // Not ISO 8601: a cast that cannot succeed fails the row (DuckDB's TRY refuses error(), a volatile function).
      return `(CASE WHEN ${v} IS NULL THEN NULL WHEN regexp_full_match(${v}, '${ISO_8601}') THEN date_trunc('millisecond', CAST(${v} AS TIMESTAMPTZ)) ELSE CAST(concat('INVALID_FUNCTION_ARGUMENT: not ISO 8601: ', ${v}) AS TIMESTAMPTZ) END)`;
    }
    case 'date_add': {
      arity(3);
      const unit = UNITS[stringArg(a[0], 'date_add unit')];
      if (!unit) throw new TranslationError('date_add is translated for day, week, month and year');
      const d = x(2);
      return `(CASE WHEN typeof(${d}) = 'DATE' THEN CAST(${d} + ${unit}(CAST(${x(1)} AS INTEGER)) AS DATE) ELSE error('NOT_SUPPORTED: date_add is translated for DATE values only') END)`;
    }
    case 'date_diff':
      arity(3);
      stringArg(a[0], 'date_diff unit');
      return `date_sub(${x(0)}, ${x(1)}, ${x(2)})`;
    case 'greatest':
    case 'least': {
      if (a.length < 2) throw new TranslationError(`${fn} takes two or more arguments`);
      const all = a.map((_, i) => x(i));
      return `(CASE WHEN ${all.map((v) => `(${v}) IS NULL`).join(' OR ')} THEN NULL ELSE ${fn}(${all.join(', ')}) END)`;
    }
    case 'sequence': {
      arity(3);
      const [start, stop] = [x(0), x(1)];
      return `(CASE WHEN typeof(${start}) <> 'DATE' OR typeof(${stop}) <> 'DATE' THEN error('NOT_SUPPORTED: sequence is translated for DATE values only') WHEN ${start} > ${stop} THEN error('INVALID_FUNCTION_ARGUMENT: sequence stop value should be greater than or equal to start value if step is greater than zero') ELSE list_transform(generate_series(${start}, ${stop}, ${x(2)}), lambda __d: CAST(__d AS DATE)) END)`;
    }
    case 'unnest': {
      arity(1);
      // Trino: `UNNEST(array) AS alias(columns)` expands rows into their fields; DuckDB needs a subquery.
      const s = solidFrom(items, at + 1);
      if (!isWord(s[0], 'AS') || !(s[1]?.kind === 'word' || s[1]?.kind === 'quoted') || !isGroup(s[2], '('))
        throw new TranslationError('UNNEST is translated with AS alias(columns) only');
      unnestAlias.set(group, indexAfter(items, at + 1, 3) - 1);
      return `(SELECT unnest(${x(0)}, recursive := true)) AS ${(s[1] as Token).text}(${expr((s[2] as Group).items, ctx)})`;
    }
    default:
      if (SAME.has(fn)) return `${fn}(${expr(group.items, ctx)})`;
      throw new TranslationError(`function ${fn} is not translated by the local endpoint`);
  }
}

const INTEGER_TYPES = new Set(['TINYINT', 'SMALLINT', 'INTEGER', 'INT', 'BIGINT']);

function cast(group: Group, isTry: boolean, ctx: Context): string {
  const at = lastAs(group.items);
  if (at < 0) throw new TranslationError('CAST without AS');
  const source = group.items.slice(0, at);
  const target = solid(group.items.slice(at + 1));
  const head = (target[0] as Token | undefined)?.text.toUpperCase();
  if (head === 'JSON' && target.length === 1) {
    const s = solid(source);
    // CAST(MAP(ARRAY[keys], ARRAY[values]) AS JSON): a JSON object of those keys.
    if (isWord(s[0], 'MAP') && isGroup(s[1], '(') && s.length === 2) {
      const [keys, values] = args(s[1]).map(solid);
      if (!keys || !values || !isWord(keys[0], 'ARRAY') || !isWord(values[0], 'ARRAY'))
        throw new TranslationError('MAP is translated from two ARRAY[...] literals only');
      const k = args(keys[1] as Group);
      const v = args(values[1] as Group);
      if (k.length !== v.length) throw new TranslationError('MAP keys and values differ in length');
      return `json_object(${k.map((key, i) => `${expr(key, ctx)}, ${expr(v[i] ?? [], ctx)}`).join(', ')})`;
    }
    // Trino makes a JSON value of x (a string becomes a JSON string); DuckDB's cast would parse text.
    return `to_json(${expr(source, ctx)})`;
  }
  const type = duckType(target);
  const value = expr(source, ctx);
  const fn = isTry ? 'TRY_CAST' : 'CAST';
  if (head && INTEGER_TYPES.has(head)) {
    // Trino refuses text with a fraction; DuckDB would round it.
    const refuse = isTry ? 'NULL' : "error('INVALID_CAST_ARGUMENT: Cannot cast value to an integer type')";
    return `(CASE WHEN typeof(${value}) = 'VARCHAR' AND NOT regexp_full_match(trim(CAST(${value} AS VARCHAR)), '[+-]?[0-9]+') THEN ${refuse} ELSE ${fn}(${value} AS ${type}) END)`;
  }
  if (head === 'TIMESTAMP' && target.length === 1) {
    // Trino's TIMESTAMP without a precision is TIMESTAMP(3).
    return `date_trunc('millisecond', ${fn}(${value} AS TIMESTAMP))`;
  }
  return `${fn}(${value} AS ${type})`;
}

/** A Trino type as DuckDB spells it; types goldgate does not use are refused. */
function duckType(nodes: readonly Node[]): string {
  const s = solid(nodes);
  const head = (s[0] as Token | undefined)?.text.toUpperCase() ?? '';
  const group = s[1];
  const simple: Record<string, string> = {
    VARCHAR: 'VARCHAR',
    BIGINT: 'BIGINT',
    INTEGER: 'INTEGER',
    INT: 'INTEGER',
    SMALLINT: 'SMALLINT',
    TINYINT: 'TINYINT',
    DOUBLE: 'DOUBLE',
    REAL: 'FLOAT',
    BOOLEAN: 'BOOLEAN',
    DATE: 'DATE',
  };
  if (s.length === 1 && simple[head]) return simple[head] as string;
  if (head === 'TIMESTAMP') {
    if (s.length === 1) return 'TIMESTAMP';
    const p = isGroup(group, '(') ? solid(group.items) : [];
    if (s.length === 2 && p.length === 1 && (p[0] as Token).text === '6') return 'TIMESTAMP';
    throw new TranslationError('TIMESTAMP is translated with precision 6 (or none) only');
  }
  if (head === 'DECIMAL' && isGroup(group, '(') && s.length === 2) {
    const [p, sc] = args(group).map(solid);
    if (p?.[0]?.kind === 'number' && sc?.[0]?.kind === 'number') return `DECIMAL(${p[0].text},${sc[0].text})`;
  }
  if (head === 'ARRAY' && isGroup(group, '(') && s.length === 2) return `${duckType(group.items)}[]`;
  if (head === 'ROW' && isGroup(group, '(') && s.length === 2) {
    const fields = args(group).map((f) => {
      const fs = solid(f);
      const name = unquote(fs[0]);
      if (!name) throw new TranslationError('ROW fields need names');
      return `${quoteIdent(name)} ${duckType(fs.slice(1))}`;
    });
    return `STRUCT(${fields.join(', ')})`;
  }
  throw new TranslationError(
    `type ${s.map((n) => (n.kind === 'group' ? '(...)' : n.text)).join(' ')} is not translated`,
  );
}

// ---------------------------------------------------------------------------
// Statements

/** A value of a table property in `WITH (...)`. */
export type PropertyValue = string | boolean | readonly string[];

/** What the endpoint must do for one statement. */
export type Plan =
  | { readonly kind: 'query'; readonly sql: string }
  | {
      readonly kind: 'ctas';
      readonly target: TableName;
      readonly properties: Readonly<Record<string, PropertyValue>>;
      /** The SELECT, translated. */
      readonly sql: string;
      readonly withNoData: boolean;
    }
  | {
      readonly kind: 'insert';
      readonly target: TableName;
      readonly columns: readonly string[];
      readonly sql: string;
    }
  | { readonly kind: 'merge'; readonly target: TableName; readonly sql: string }
  | { readonly kind: 'delete'; readonly target: TableName; readonly sql: string }
  | { readonly kind: 'view'; readonly target: TableName; readonly sql: string }
  | { readonly kind: 'maintenance'; readonly op: 'OPTIMIZE' | 'VACUUM'; readonly target: TableName }
  | {
      readonly kind: 'external-table';
      readonly target: TableName;
      readonly ifNotExists: boolean;
      readonly columns: readonly string[];
      readonly partitions: readonly string[];
      readonly location: string;
      readonly properties: Readonly<Record<string, string>>;
    };

/** A translated statement: its plan and the tables it names. */
export interface Translation {
  readonly plan: Plan;
  readonly tables: readonly TableName[];
  readonly snapshotReads: ReadonlyArray<{ table: TableName; snapshotId: string }>;
}

/**
 * Translate one Athena statement. `known` are the databases the endpoint
 * holds (so `db.table` is told from `alias.column`). Placeholders become
 * `$1..$n` so that a rewrite repeating an expression keeps binding the same value.
 */
export function translateStatement(text: string, known: ReadonlySet<string>): Translation {
  databases = known;
  const ctx: Context = { tables: new Map(), snapshotReads: [] };
  const trimmed = text.trim().replace(/;\s*$/, '');
  const hive = /^CREATE\s+EXTERNAL\s+TABLE\b/i.test(trimmed);
  if (hive) {
    const plan = externalTable(trimmed);
    return { plan, tables: [plan.target], snapshotReads: [] };
  }
  let n = 0;
  const tokens = tokenize(trimmed).map((t) =>
    t.kind === 'param' ? { kind: 'word' as const, text: `$${++n}` } : t,
  );
  const nodes = tree(tokens);
  const s = solid(nodes);
  const first = (s[0] as Token | undefined)?.text.toUpperCase() ?? '';
  const plan = statement(first, nodes, s, ctx);
  return { plan, tables: [...ctx.tables.values()], snapshotReads: ctx.snapshotReads };
}

function statement(first: string, nodes: Node[], s: Node[], ctx: Context): Plan {
  if (first === 'SELECT' || first === 'WITH' || (first === '(' && isGroup(s[0]))) {
    return { kind: 'query', sql: expr(nodes, ctx) };
  }
  if (first === 'OPTIMIZE' || first === 'VACUUM') {
    const target = qualifiedAt(s, 1);
    if (!target) throw new TranslationError(`${first} needs db.table`);
    const rest = s
      .slice(4)
      .map((n) => (n as Token).text.toUpperCase())
      .join(' ');
    if (first === 'OPTIMIZE' && rest !== 'REWRITE DATA USING BIN_PACK')
      throw new TranslationError('OPTIMIZE is translated as REWRITE DATA USING BIN_PACK only');
    if (first === 'VACUUM' && rest !== '') throw new TranslationError('VACUUM takes a table only');
    return { kind: 'maintenance', op: first, target };
  }
  if (first === 'INSERT') {
    if (!isWord(s[1], 'INTO')) throw new TranslationError('INSERT INTO only');
    const target = qualifiedAt(s, 2);
    const columns = s[5];
    if (!target || !isGroup(columns, '(')) throw new TranslationError('INSERT INTO db.table (columns) only');
    const names = splitCommas(columns.items).map((c) => unquote(solid(c)[0]) ?? '');
    const rest = nodes.slice(nodes.indexOf(columns) + 1);
    ctx.tables.set(`${target.db}.${target.table}`, target);
    return { kind: 'insert', target, columns: names, sql: expr(rest, ctx) };
  }
  if (first === 'MERGE') {
    if (!isWord(s[1], 'INTO')) throw new TranslationError('MERGE INTO only');
    const target = qualifiedAt(s, 2);
    if (!target) throw new TranslationError('MERGE INTO db.table only');
    return { kind: 'merge', target, sql: expr(nodes, ctx) };
  }
  if (first === 'DELETE') {
    if (!isWord(s[1], 'FROM')) throw new TranslationError('DELETE FROM only');
    const target = qualifiedAt(s, 2);
    if (!target) throw new TranslationError('DELETE FROM db.table only');
    return { kind: 'delete', target, sql: expr(nodes, ctx) };
  }
  if (first === 'CREATE') {
    if (isWord(s[1], 'OR') && isWord(s[2], 'REPLACE') && isWord(s[3], 'VIEW')) {
      const target = qualifiedAt(s, 4);
      if (!target || !isWord(s[7], 'AS'))
        throw new TranslationError('CREATE OR REPLACE VIEW db.view AS only');
      const body = nodes.slice(nodes.indexOf(s[7] as Node) + 1);
      return { kind: 'view', target, sql: expr(body, ctx) };
    }
    if (isWord(s[1], 'TABLE')) return ctas(nodes, s, ctx);
  }
  throw new TranslationError(`${first || 'this'} statement is not translated by the local endpoint`);
}

function ctas(nodes: Node[], s: Node[], ctx: Context): Plan {
  const target = qualifiedAt(s, 2);
  const withGroup = s[6];
  if (!target || !isWord(s[5], 'WITH') || !isGroup(withGroup, '(') || !isWord(s[7], 'AS'))
    throw new TranslationError('CREATE TABLE db.table WITH (...) AS SELECT only');
  const properties: Record<string, PropertyValue> = {};
  for (const part of splitCommas(withGroup.items)) {
    const p = solid(part);
    const key = (p[0] as Token | undefined)?.text.toLowerCase();
    if (!key || !isPunct(p[1], '=') || p.length < 3)
      throw new TranslationError('table properties are key = value');
    const v = p[2] as Node;
    if (v.kind === 'string' && p.length === 3) properties[key] = v.text.slice(1, -1);
    else if (isWord(v, 'TRUE', 'FALSE') && p.length === 3) properties[key] = v.text.toUpperCase() === 'TRUE';
    else if (isWord(v, 'ARRAY') && isGroup(p[3], '[') && p.length === 4)
      properties[key] = args(p[3]).map((item) => stringArg(item, `${key} items`));
    else throw new TranslationError(`table property ${key} has a value the endpoint does not read`);
  }
  let body = nodes.slice(nodes.indexOf(s[7] as Node) + 1);
  const tail = solid(body).slice(-3);
  const withNoData =
    tail.length === 3 && isWord(tail[0], 'WITH') && isWord(tail[1], 'NO') && isWord(tail[2], 'DATA');
  if (withNoData) body = body.slice(0, body.lastIndexOf(tail[0] as Node));
  return { kind: 'ctas', target, properties, sql: expr(body, ctx), withNoData };
}

/** The one Hive DDL shape the transforms generate: a TEXTFILE table of JSON lines with projected partitions. */
function externalTable(text: string): Extract<Plan, { kind: 'external-table' }> {
  const m =
    /^CREATE\s+EXTERNAL\s+TABLE\s+(IF\s+NOT\s+EXISTS\s+)?`([a-z_][a-z0-9_]*)`\.`([a-z_][a-z0-9_]*)`\s*\(([\s\S]*?)\)\s*PARTITIONED\s+BY\s*\(([^)]*)\)\s*ROW\s+FORMAT\s+DELIMITED\s+STORED\s+AS\s+TEXTFILE\s+LOCATION\s+'([^']*)'\s+TBLPROPERTIES\s*\(([\s\S]*)\)$/i.exec(
      text,
    );
  if (!m) throw new TranslationError('CREATE EXTERNAL TABLE is translated in the Bronze table shape only');
  const [, ifNotExists, db, table, columnText, partitionText, location, propertyText] =
    m as unknown as string[];
  const columns = [...(columnText as string).matchAll(/`([a-z_][a-z0-9_]*)`\s+string\b/gi)].map((c) =>
    (c[1] as string).toLowerCase(),
  );
  const partitions = [...(partitionText as string).matchAll(/`([a-z_][a-z0-9_]*)`\s+string\b/gi)].map((c) =>
    (c[1] as string).toLowerCase(),
  );
  if (columns.length !== 1)
    throw new TranslationError('external tables are translated with one string column');
  const properties: Record<string, string> = {};
  for (const p of (propertyText as string).matchAll(/'([^']*)'\s*=\s*'([^']*)'/g))
    properties[p[1] as string] = p[2] as string;
  return {
    kind: 'external-table',
    target: { db: db as string, table: table as string },
    ifNotExists: Boolean(ifNotExists),
    columns,
    partitions,
    location: location as string,
    properties,
  };
}
