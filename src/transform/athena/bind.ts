import type { SqlFragment, SqlValue } from '../../sql/fragment.js';

/**
 * Athena binds a `?` only where its documentation allows one: in the WHERE
 * clause of a SELECT, INSERT INTO, CTAS or UNLOAD ("Syntax like SELECT ? FROM
 * table is not supported"). Gold models are written once for both engines and
 * bind values anywhere (an `as_of` column, a CASE over code constants, a
 * VALUES list), so the Athena flavour rewrites each statement: placeholders
 * directly in a WHERE clause stay bound, every other value becomes a literal.
 *
 * The values of a model are its own constants and the run's validated as-of
 * date, never caller input; literals are still written the strict way
 * (quotes doubled: a Trino string literal has no other escape).
 *
 * The scan is deliberately conservative: a placeholder counts as "in WHERE"
 * only when the innermost query around it is in its WHERE clause, so one in a
 * subquery's SELECT list, a JOIN condition, FILTER (WHERE ...) or HAVING is
 * written as a literal. Inlining a value that could have stayed bound is
 * harmless; the reverse would fail on Athena.
 */

/** A value as a Trino literal of the type the embedded engine would bind. */
export function trinoLiteral(value: SqlValue): string {
  if (value === null) return 'NULL';
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`cannot write ${value} as a SQL literal`);
    // A fractional number binds as DOUBLE; `1.5` alone would be a DECIMAL literal in Trino.
    return Number.isInteger(value) ? String(value) : `${value}E0`;
  }
  if (typeof value === 'string') return stringLiteral(value);
  return `ARRAY[${value.map(stringLiteral).join(', ')}]`;
}

function stringLiteral(value: string): string {
  if (value.includes('\u0000')) throw new TypeError('cannot write a NUL character in a SQL literal');
  return `'${value.replaceAll("'", "''")}'`;
}

/** Keywords that start a clause of a query (at the query's own parenthesis level). */
export const CLAUSES: ReadonlySet<string> = new Set([
  'SELECT',
  'FROM',
  'WHERE',
  'GROUP',
  'HAVING',
  'WINDOW',
  'ORDER',
  'LIMIT',
  'OFFSET',
  'FETCH',
  'JOIN',
  'ON',
  'USING',
  'VALUES',
  'UNION',
  'INTERSECT',
  'EXCEPT',
]);
/** A parenthesis opening with one of these holds a query of its own. */
export const QUERY_STARTS: ReadonlySet<string> = new Set(['SELECT', 'WITH', 'VALUES', 'TABLE']);

interface Level {
  readonly query: boolean;
  clause: string;
}

const SKIP = /'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|\/\*[\s\S]*?\*\/|\s+/y;
const WORD = /[A-Za-z_][A-Za-z0-9_]*/y;
const FIRST_WORD = /\(\s*([A-Za-z_]+)/y;

function matchAt(pattern: RegExp, text: string, at: number): RegExpExecArray | null {
  pattern.lastIndex = at;
  return pattern.exec(text);
}

/** Rewrite a statement so that only placeholders in WHERE clauses stay bound; other values become literals. */
export function bindInWhereOnly(fragment: SqlFragment): SqlFragment {
  const { text, params } = fragment;
  const stack: Level[] = [{ query: true, clause: '' }];
  const out: string[] = [];
  const kept: SqlValue[] = [];
  let next = 0;
  let i = 0;
  while (i < text.length) {
    // Strings, quoted identifiers, comments and blanks pass through unread.
    const skipped = matchAt(SKIP, text, i);
    if (skipped) {
      out.push(skipped[0]);
      i += skipped[0].length;
      continue;
    }
    const word = matchAt(WORD, text, i);
    if (word) {
      const upper = word[0].toUpperCase();
      const top = stack[stack.length - 1] as Level;
      if (top.query && CLAUSES.has(upper)) top.clause = upper;
      out.push(word[0]);
      i += word[0].length;
      continue;
    }
    const ch = text[i] as string;
    if (ch === '(') {
      const after = matchAt(FIRST_WORD, text, i)?.[1]?.toUpperCase() ?? '';
      stack.push({ query: QUERY_STARTS.has(after), clause: '' });
    } else if (ch === ')') {
      if (stack.length > 1) stack.pop();
    } else if (ch === '?') {
      if (next >= params.length) throw new TypeError('more placeholders than parameters');
      const value = params[next] as SqlValue;
      next += 1;
      const query = stack.findLast((l) => l.query) as Level;
      if (query.clause === 'WHERE') {
        out.push('?');
        kept.push(value);
      } else {
        out.push(trinoLiteral(value));
      }
      i += 1;
      continue;
    }
    out.push(ch);
    i += 1;
  }
  if (next !== params.length) throw new TypeError('fewer placeholders than parameters');
  return { text: out.join(''), params: kept };
}
