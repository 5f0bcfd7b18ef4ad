/**
 * SQL text is built only from fragments: literal text written in this codebase,
 * identifiers from the mart catalog's allow-list, and `?` placeholders whose
 * values travel beside the text. No caller-supplied value is ever spliced in.
 */

/**
 * A value that may be bound to a `?` placeholder. A list of strings binds as
 * one array value (file lists, `IN` sets), never as text.
 */
export type SqlValue = string | number | bigint | boolean | null | readonly string[];

/** A piece of SQL with its positional parameters, in order. */
export interface SqlFragment {
  readonly text: string;
  readonly params: readonly SqlValue[];
}

const IDENT = /^[a-z_][a-z0-9_]{0,127}$/;

/** Brand for identifiers that passed the allow-list check. */
export type SafeIdentifier = string & { readonly __safeIdentifier: true };

/**
 * Quote an identifier. Only lower-case snake_case names are accepted, which is
 * the shape of every catalog name; anything else is a programming error.
 */
export function ident(name: string): SafeIdentifier {
  if (!IDENT.test(name)) throw new TypeError(`not a safe SQL identifier: ${JSON.stringify(name)}`);
  return `"${name}"` as SafeIdentifier;
}

/** Raw SQL text written in this codebase (never caller input). */
export function raw(text: string): SqlFragment {
  return { text, params: [] };
}

/** A single bound parameter, optionally with an explicit cast (`CAST(? AS type)`). */
export function param(value: SqlValue, castTo?: string): SqlFragment {
  return castTo ? { text: `CAST(? AS ${castTo})`, params: [value] } : { text: '?', params: [value] };
}

/** Join fragments with a separator written in code. */
export function join(parts: readonly SqlFragment[], separator: string): SqlFragment {
  return {
    text: parts.map((p) => p.text).join(separator),
    params: parts.flatMap((p) => p.params),
  };
}

/**
 * Tagged template: interpolated fragments are inlined with their parameters;
 * interpolated plain values become bound `?` parameters.
 */
export function sql(
  strings: TemplateStringsArray,
  ...values: ReadonlyArray<SqlFragment | SqlValue>
): SqlFragment {
  let text = strings[0] ?? '';
  const params: SqlValue[] = [];
  values.forEach((value, i) => {
    if (isFragment(value)) {
      text += value.text;
      params.push(...value.params);
    } else {
      text += '?';
      params.push(value);
    }
    text += strings[i + 1] ?? '';
  });
  return { text, params };
}

function isFragment(value: unknown): value is SqlFragment {
  return typeof value === 'object' && value !== null && 'text' in value && 'params' in value;
}
