import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { fullAccess, type MartAccess } from '../../../src/auth/access.js';
import { MARTS } from '../../../src/catalog/index.js';
import type { ColumnDef, MartDef } from '../../../src/catalog/types.js';
import {
  aggregateQuery,
  buildPage,
  countQuery,
  encodeCursor,
  exportQuery,
  FILTER_OPS,
  isMeasureColumn,
  type MartFilter,
  relationQuery,
} from '../../../src/query/builder.js';
import { BadUserInputError } from '../../../src/query/errors.js';
import { raw, type SqlFragment } from '../../../src/sql/fragment.js';

/**
 * For every mart, every column and every filter operator, and for sorts,
 * cursors, relation batches and aggregates: whatever a caller sends either is
 * refused with BAD_USER_INPUT or reaches SQL only as a bound parameter. The
 * SQL text holds code-written SQL and catalog identifiers only.
 */

const relation = raw('mart_relation');

/** Values a caller may send: hostile text, numbers, booleans, nulls, lists and objects. */
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom(
    "'; DROP TABLE x; --",
    '" OR 1=1 --',
    '$1',
    '?',
    '\\',
    '\u0000',
    "O'Brien",
    '2026-01-01',
    '12.50',
  ),
  fc.integer(),
  fc.double({ noNaN: true }),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string({ maxLength: 10 }), { maxLength: 4 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 2 }),
);

/** Strings inside the SQL text that are not identifiers of the catalog (or of the builder's own aliases). */
function checkText(q: SqlFragment, mart: MartDef): void {
  const allowed = new Set([...mart.columns.map((c) => c.name), 'count', 'gg_rank']);
  for (const m of q.text.matchAll(/"([^"]*)"/g)) {
    const id = String(m[1]);
    if (!allowed.has(id) && !/^(sum|avg|min|max)__[a-z0-9_]+$/.test(id))
      throw new Error(`identifier ${id} not allowed`);
  }
  expect(q.text).not.toMatch(/'/);
  expect(q.text.split('?').length - 1).toBe(q.params.length);
}

/** How many statements were built (not refused): the properties must exercise real SQL, not only refusals. */
const tally = { built: 0, refused: 0 };

/** Build, and accept only success (then check the text) or a BAD_USER_INPUT refusal. */
function builtOrRefused(mart: MartDef, build: () => SqlFragment, sent: readonly unknown[]): void {
  let q: SqlFragment;
  try {
    q = build();
  } catch (error) {
    expect(error).toBeInstanceOf(BadUserInputError);
    tally.refused += 1;
    return;
  }
  tally.built += 1;
  checkText(q, mart);
  // Every text a caller sent that was used travels as a parameter, never inside the text. Quoted
  // identifiers are left out of the search: checkText allows only the catalog's, and a caller may
  // well send a value equal to a column name (seed 899534309: the value "name").
  const unquoted = q.text.replace(/"[^"]*"/g, '""');
  for (const v of sent) {
    if (typeof v === 'string' && v.length > 3) expect(unquoted.includes(v)).toBe(false);
  }
}

afterAll(() => {
  // Both outcomes happen in quantity: hostile input is both refused and, when well-typed, bound.
  expect(tally.built).toBeGreaterThan(1000);
  expect(tally.refused).toBeGreaterThan(1000);
});

describe.each(MARTS.map((m) => [m.name, m] as const))(
  'mart %s: every input reaches SQL only as parameters',
  (_n, mart) => {
    const access: MartAccess = fullAccess(mart);
    const columns = fc.constantFrom(...mart.columns.map((c) => c.name));

    it('filters on every column with every operator, cursors and sorts', () => {
      fc.assert(
        fc.property(
          columns,
          fc.constantFrom(...FILTER_OPS),
          anyValue,
          fc.array(anyValue, { maxLength: mart.key.length + 2 }),
          fc.array(fc.record({ column: columns, desc: fc.boolean() }), { maxLength: 3 }),
          (column, op, value, cursorValues, orderBy) => {
            const filter: MartFilter = { [column]: { [op]: value } };
            const after = cursorValues.length ? encodeCursor(cursorValues) : undefined;
            const sent = [value, ...(Array.isArray(value) ? value : []), ...cursorValues];
            builtOrRefused(
              mart,
              () => buildPage({ access, relation, columns: [column], filter, first: 5, after, orderBy }).sql,
              sent,
            );
            builtOrRefused(mart, () => countQuery({ access, relation, filter }), sent);
            builtOrRefused(
              mart,
              () => exportQuery({ access, relation, columns: [column], filter, orderBy }),
              sent,
            );
          },
        ),
        { numRuns: 300 },
      );
    });

    it('relation batches and aggregates', () => {
      const dims = mart.columns.filter((c: ColumnDef) => !isMeasureColumn(c)).map((c) => c.name);
      fc.assert(
        fc.property(
          columns,
          fc.array(fc.string({ minLength: 1, maxLength: 30 }), { minLength: 1, maxLength: 20 }),
          fc.subarray(dims, { maxLength: Math.min(3, dims.length) }),
          fc.array(
            fc.record({
              fn: fc.constantFrom('sum', 'avg', 'min', 'max') as fc.Arbitrary<'sum' | 'avg' | 'min' | 'max'>,
              column: columns,
            }),
            {
              maxLength: 3,
            },
          ),
          anyValue,
          (link, parents, groupBy, measures, value) => {
            const filter: MartFilter = { [link]: { eq: value } };
            builtOrRefused(
              mart,
              () =>
                relationQuery({
                  access,
                  relation,
                  childColumn: link,
                  parentValues: parents,
                  columns: [link],
                  filter,
                  perParent: 3,
                }),
              [...parents, value],
            );
            builtOrRefused(
              mart,
              () => aggregateQuery({ access, relation, filter, groupBy, measures, limit: 10 }),
              [value],
            );
          },
        ),
        { numRuns: 200 },
      );
    });
  },
);
