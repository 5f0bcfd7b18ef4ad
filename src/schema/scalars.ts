import { GraphQLError, GraphQLScalarType, Kind, type ValueNode } from 'graphql';

function textScalar(name: string, description: string, pattern: RegExp, normalise: (s: string) => string) {
  const check = (value: unknown): string => {
    if (typeof value !== 'string' || !pattern.test(value)) {
      throw new GraphQLError(`${name} expects text like ${description}`, {
        extensions: { code: 'BAD_USER_INPUT' },
      });
    }
    return value;
  };
  return new GraphQLScalarType({
    name,
    description,
    serialize: (value) => normalise(String(value)),
    parseValue: check,
    parseLiteral: (ast: ValueNode) => check(ast.kind === Kind.STRING ? ast.value : undefined),
  });
}

/** Exact decimal as text, never a float: `"1234.50"`. */
export const DecimalScalar = textScalar(
  'Decimal',
  'an exact decimal as a string, e.g. "1234.50"',
  /^-?\d{1,16}(\.\d{1,6})?$/,
  (s) => s,
);

/** A calendar date `YYYY-MM-DD`. */
export const DateScalar = textScalar('Date', 'a date "YYYY-MM-DD"', /^\d{4}-\d{2}-\d{2}$/, (s) =>
  s.slice(0, 10),
);

/** A UTC instant in ISO-8601 (engines give `YYYY-MM-DD HH:MM:SS`, shown as `...T...Z`). */
export const DateTimeScalar = textScalar(
  'DateTime',
  'an ISO-8601 UTC instant, e.g. "2026-11-21T06:15:00Z"',
  /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:?\d{2})?$/,
  (s) => (/[Z+-]\d*:?\d*$/.test(s.slice(19)) ? s.replace(' ', 'T') : `${s.replace(' ', 'T')}Z`),
);
