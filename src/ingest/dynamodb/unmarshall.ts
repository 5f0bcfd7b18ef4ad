import { InvalidSourceRecordError } from '../errors.js';

/** Plain JSON, what an unmarshalled item is made of: numbers stay decimal strings (see `dynamoNumber`). */
export type ItemValue = string | boolean | null | ItemValue[] | { [key: string]: ItemValue };

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

// At least one digit, an optional fraction and exponent: `12`, `-0.5`, `.5`, `1.`, `1E+125`.
const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * Convert an AttributeValue map to a plain JSON object (N and NS as decimal
 * strings, B and BS as base64). Throws `InvalidSourceRecordError` naming the
 * path of the first value of unknown shape.
 */
export function unmarshall(map: unknown, path = '$'): { [key: string]: ItemValue } {
  if (!isPlainObject(map)) throw invalid(path, 'expected a map of attribute values');
  // A loop and plain assignment: a batch unmarshalls tens of thousands of images, and this is
  // several times faster than Object.fromEntries over Object.entries.
  const item: { [key: string]: ItemValue } = {};
  for (const name of Object.keys(map)) {
    const value = unmarshallValue(map[name], `${path}.${name}`);
    // Assigning `__proto__` would set the prototype; defining it keeps it an attribute.
    if (name === '__proto__') {
      Object.defineProperty(item, name, { value, enumerable: true, writable: true, configurable: true });
    } else {
      item[name] = value;
    }
  }
  return item;
}

/** Convert one AttributeValue (`{"S": "x"}`, `{"N": "1"}`, ...) to plain JSON. */
export function unmarshallValue(value: unknown, path = '$'): ItemValue {
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
 * A DynamoDB number, checked and kept as the decimal string DynamoDB sent.
 * Never a JS number: a double cannot hold 38 significant digits, and a
 * payload whose attribute is sometimes a number and sometimes a string (when
 * a value outgrows a double) breaks every reader that infers types. Silver
 * casts the text to the contract's type (`DECIMAL(18,2)`, `INTEGER`, ...).
 */
export function dynamoNumber(text: string, path = '$'): string {
  if (!DECIMAL.test(text)) throw invalid(path, 'malformed N value');
  return text;
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
