import type { SqlValue } from '../../../src/sql/fragment.js';

/**
 * Athena's ExecutionParameters are literals, parsed apart from the statement
 * (a string is sent as `'text'`, a number as `42`). The endpoint reads each
 * into a value and binds it to DuckDB as a parameter: the statement text is
 * never changed by a value. It reads the literals goldgate sends (strings,
 * integers, doubles with an exponent, booleans, NULL, arrays of strings); any
 * other text, an expression above all, is refused as a bad parameter.
 */

const STRING = /^'((?:[^']|'')*)'$/s;
const INTEGER = /^-?\d+$/;
const DOUBLE = /^-?\d+(\.\d+)?[eE][+-]?\d+$/;
const ARRAY = /^ARRAY\[(.*)\]$/is;
const ARRAY_ITEM = /\s*'((?:[^']|'')*)'\s*(,|$)/y;

/** One parameter's value, or `undefined` when the text is not a literal the endpoint reads. */
export function parseParameter(text: string): SqlValue | undefined {
  const trimmed = text.trim();
  const str = STRING.exec(trimmed);
  if (str) return (str[1] as string).replaceAll("''", "'");
  if (INTEGER.test(trimmed)) {
    const big = BigInt(trimmed);
    return big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(big)
      : big;
  }
  if (DOUBLE.test(trimmed)) return Number(trimmed);
  const upper = trimmed.toUpperCase();
  if (upper === 'TRUE') return true;
  if (upper === 'FALSE') return false;
  if (upper === 'NULL') return null;
  const array = ARRAY.exec(trimmed);
  if (array) {
    const body = (array[1] as string).trim();
    if (body === '') return [];
    const items: string[] = [];
    ARRAY_ITEM.lastIndex = 0;
    while (ARRAY_ITEM.lastIndex < body.length) {
      const item = ARRAY_ITEM.exec(body);
      if (!item) return undefined;
      items.push((item[1] as string).replaceAll("''", "'"));
      if (item[2] === '') break;
    }
    return ARRAY_ITEM.lastIndex === body.length ? items : undefined;
  }
  return undefined;
}
