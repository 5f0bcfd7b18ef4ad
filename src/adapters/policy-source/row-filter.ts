import { RowFilterSyntaxError } from './errors.js';

/**
 * The small, strict subset of Lake Formation row filter expressions (PartiQL)
 * goldgate maps to its policy model. Accepted:
 *
 *   expr    := and ( OR and )*
 *   and     := primary ( AND primary )*
 *   primary := '(' expr ')' | column '=' string | column IN '(' string ( ',' string )* ')'
 *
 * Strings are single-quoted (`''` escapes a quote); columns are bare
 * identifiers (lower-cased, as Glue stores them) or double-quoted. Everything
 * else (numbers, NOT, LIKE, BETWEEN, ranges, functions, comments, `;`) is
 * rejected with its position. The text never reaches SQL: it becomes column
 * names (checked against the catalog) and values (bound as parameters).
 */

/** `column IN values`: one predicate of an AND-group. */
export interface FilterPredicate {
  readonly column: string;
  readonly values: readonly string[];
}

/** OR of AND-groups (disjunctive normal form). */
export type FilterDnf = readonly (readonly FilterPredicate[])[];

/** Lake Formation's own limit on an expression. */
const MAX_LENGTH = 2048;
/** AND of ORs multiplies out; past this many alternatives the filter is refused. */
const MAX_ALTERNATIVES = 64;
const MAX_DEPTH = 32;

type Token =
  | { kind: 'ident'; value: string; at: number }
  | { kind: 'string'; value: string; at: number }
  | { kind: 'punct'; value: '(' | ')' | ',' | '='; at: number }
  | { kind: 'keyword'; value: 'AND' | 'OR' | 'IN'; at: number }
  | { kind: 'end'; at: number };

/** Parse a row filter expression into OR of AND-groups, or throw `RowFilterSyntaxError`. */
export function parseRowFilter(expression: string): FilterDnf {
  if (expression.length > MAX_LENGTH)
    throw new RowFilterSyntaxError(
      expression.slice(0, 64),
      MAX_LENGTH,
      `longer than ${MAX_LENGTH} characters`,
    );
  const tokens = tokenize(expression);
  let i = 0;
  const fail = (token: Token, problem: string): never => {
    throw new RowFilterSyntaxError(expression, token.at, problem);
  };
  const peek = (): Token => tokens[i] ?? { kind: 'end', at: expression.length };
  const next = (): Token => {
    const token = peek();
    i++;
    return token;
  };
  const describe = (t: Token): string => (t.kind === 'end' ? 'the end' : `"${t.value}"`);
  const isKeyword = (t: Token, word: 'AND' | 'OR'): boolean => t.kind === 'keyword' && t.value === word;

  const parseOr = (depth: number): FilterDnf => {
    if (depth > MAX_DEPTH) fail(peek(), 'nested too deeply');
    let result = parseAnd(depth);
    while (isKeyword(peek(), 'OR')) {
      next();
      result = [...result, ...parseAnd(depth)];
      if (result.length > MAX_ALTERNATIVES) fail(peek(), `more than ${MAX_ALTERNATIVES} alternatives`);
    }
    return result;
  };

  const parseAnd = (depth: number): FilterDnf => {
    let result = parsePrimary(depth);
    while (isKeyword(peek(), 'AND')) {
      const at = next();
      const right = parsePrimary(depth);
      const product: FilterPredicate[][] = [];
      for (const a of result) for (const b of right) product.push([...a, ...b]);
      if (product.length > MAX_ALTERNATIVES) fail(at, `more than ${MAX_ALTERNATIVES} alternatives`);
      result = product;
    }
    return result;
  };

  const parsePrimary = (depth: number): FilterDnf => {
    const token = next();
    if (token.kind === 'punct' && token.value === '(') {
      const inner = parseOr(depth + 1);
      const close = next();
      if (!(close.kind === 'punct' && close.value === ')'))
        fail(close, `expected ")" but found ${describe(close)}`);
      return inner;
    }
    if (token.kind !== 'ident') return fail(token, `expected a column name but found ${describe(token)}`);
    const op = next();
    if (op.kind === 'punct' && op.value === '=') {
      const value = next();
      if (value.kind !== 'string')
        return fail(value, `expected a quoted string but found ${describe(value)}`);
      return [[{ column: token.value, values: [value.value] }]];
    }
    if (op.kind === 'keyword' && op.value === 'IN') {
      const open = next();
      if (!(open.kind === 'punct' && open.value === '('))
        return fail(open, `expected "(" after IN but found ${describe(open)}`);
      const values: string[] = [];
      for (;;) {
        const value = next();
        if (value.kind !== 'string')
          return fail(value, `expected a quoted string but found ${describe(value)}`);
        values.push(value.value);
        const sep = next();
        if (sep.kind === 'punct' && sep.value === ')') break;
        if (!(sep.kind === 'punct' && sep.value === ','))
          return fail(sep, `expected "," or ")" but found ${describe(sep)}`);
      }
      return [[{ column: token.value, values: [...new Set(values)] }]];
    }
    return fail(op, `unsupported operator ${describe(op)} (only = and IN)`);
  };

  const result = parseOr(0);
  const end = peek();
  if (end.kind !== 'end') fail(end, `unexpected ${describe(end)}`);
  return result;
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i] as string;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '(' || c === ')' || c === ',' || c === '=') {
      tokens.push({ kind: 'punct', value: c, at: i });
      i++;
      continue;
    }
    if (c === "'") {
      const start = i;
      let value = '';
      i++;
      for (;;) {
        if (i >= text.length) throw new RowFilterSyntaxError(text, start, 'unterminated string');
        const d = text[i] as string;
        if (d === "'") {
          if (text[i + 1] === "'") {
            value += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        value += d;
        i++;
      }
      tokens.push({ kind: 'string', value, at: start });
      continue;
    }
    if (c === '"') {
      const end = text.indexOf('"', i + 1);
      const name = end > i ? text.slice(i + 1, end) : '';
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
        throw new RowFilterSyntaxError(text, i, 'a quoted column name must be a plain identifier');
      tokens.push({ kind: 'ident', value: name, at: i });
      i = end + 1;
      continue;
    }
    const word = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i))?.[0];
    if (word) {
      const upper = word.toUpperCase();
      if (upper === 'AND' || upper === 'OR' || upper === 'IN')
        tokens.push({ kind: 'keyword', value: upper, at: i });
      else if (RESERVED.has(upper))
        throw new RowFilterSyntaxError(text, i, `unsupported keyword ${upper} (only =, IN, AND, OR)`);
      else tokens.push({ kind: 'ident', value: word.toLowerCase(), at: i });
      i += word.length;
      continue;
    }
    throw new RowFilterSyntaxError(text, i, `unsupported character ${JSON.stringify(c)}`);
  }
  return tokens;
}

/** Words PartiQL gives meaning to: never read as a column name. */
const RESERVED = new Set([
  'NOT',
  'LIKE',
  'BETWEEN',
  'IS',
  'NULL',
  'TRUE',
  'FALSE',
  'SELECT',
  'FROM',
  'WHERE',
  'CASE',
  'WHEN',
  'EXISTS',
  'ANY',
  'ALL',
  'SOME',
]);
