import { InvalidSourceRecordError } from '../errors.js';

/** Plain JSON, what an unmarshalled item is made of. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** A DynamoDB AttributeValue as the stream delivers it (binary as base64). */
export type AttributeValue =
  | { readonly S: string }
  | { readonly N: string }
  | { readonly B: string }
  | { readonly BOOL: boolean }
  | { readonly NULL: true }
  | { readonly M: AttributeMap }
  | { readonly L: readonly AttributeValue[] }
  | { readonly SS: readonly string[] }
  | { readonly NS: readonly string[] }
  | { readonly BS: readonly string[] };

/** An item, its keys or one of its images. */
export type AttributeMap = { readonly [name: string]: AttributeValue };

const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Convert an AttributeValue map to a plain JSON object. Throws
 * `InvalidSourceRecordError` naming the path of the first value of unknown shape.
 */
export function unmarshall(map: unknown, path = '$'): { [key: string]: JsonValue } {
  if (!isPlainObject(map)) throw invalid(path, 'expected a map of attribute values');
  // fromEntries defines own properties, so an attribute named `__proto__` stays data.
  return Object.fromEntries(
    Object.entries(map).map(([name, value]) => [name, unmarshallValue(value, `${path}.${name}`)]),
  );
}

/** Convert one AttributeValue (`{"S": "x"}`, `{"N": "1"}`, ...) to plain JSON. */
export function unmarshallValue(value: unknown, path = '$'): JsonValue {
  if (!isPlainObject(value)) throw invalid(path, 'expected an attribute value object');
  const tags = Object.keys(value);
  const tag = tags[0];
  if (tags.length !== 1 || tag === undefined) throw invalid(path, 'expected exactly one type descriptor');
  const inner = value[tag];
  switch (tag) {
    case 'S':
      if (typeof inner === 'string') return inner;
      break;
    case 'N':
      if (typeof inner === 'string') return dynamoNumber(inner, path);
      break;
    case 'B':
      if (typeof inner === 'string') return base64(inner, path);
      break;
    case 'BOOL':
      if (typeof inner === 'boolean') return inner;
      break;
    case 'NULL':
      if (inner === true) return null;
      break;
    case 'M':
      return unmarshall(inner, path);
    case 'L':
      if (Array.isArray(inner)) return inner.map((item, i) => unmarshallValue(item, `${path}[${i}]`));
      break;
    case 'SS':
      if (isStringArray(inner)) return [...inner];
      break;
    case 'NS':
      if (isStringArray(inner)) return inner.map((item, i) => dynamoNumber(item, `${path}[${i}]`));
      break;
    case 'BS':
      if (isStringArray(inner)) return inner.map((item, i) => base64(item, `${path}[${i}]`));
      break;
    default:
      throw invalid(path, 'unknown type descriptor');
  }
  throw invalid(path, `malformed ${tag} value`);
}

/**
 * A DynamoDB number (up to 38 significant digits) as JSON: a JS number when
 * the double says exactly the same decimal, otherwise the decimal string, so
 * that no digit is ever lost.
 */
export function dynamoNumber(text: string, path = '$'): number | string {
  const written = canonicalDecimal(text);
  if (written === undefined) throw invalid(path, 'malformed N value');
  const value = Number(text);
  if (!Number.isFinite(value)) return text;
  // Comparing canonical forms accepts `1.50` as 1.5 (same decimal) but keeps
  // `12345678901234567890` and `0.1000000000000000000001` as text (a double would change them).
  if (canonicalDecimal(String(value)) !== written) return text;
  return value === 0 ? 0 : value;
}

/** `digits e exponent` with no leading or trailing zero; one spelling per decimal value. */
function canonicalDecimal(text: string): string | undefined {
  const m = DECIMAL.exec(text);
  if (!m) return undefined;
  const [, sign = '', whole = '', fraction = '', exponent = '0'] = m;
  if (whole === '' && fraction === '') return undefined;
  const allDigits = `${whole}${fraction}`;
  const significant = allDigits.replace(/^0+/, '');
  if (significant === '') return '0';
  const digits = significant.replace(/0+$/, '');
  // BigInt: DynamoDB exponents are small, but a hostile string must not lose precision here.
  const scale = BigInt(exponent) - BigInt(fraction.length) + BigInt(significant.length - digits.length);
  return `${sign === '-' ? '-' : ''}${digits}e${scale}`;
}

function base64(text: string, path: string): string {
  if (text.length % 4 !== 0 || !BASE64.test(text)) throw invalid(path, 'malformed base64 binary value');
  return text;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

function invalid(path: string, problem: string): InvalidSourceRecordError {
  // The path names attributes, never their values: values may be personal data.
  return new InvalidSourceRecordError(`${path}: ${problem}`);
}
