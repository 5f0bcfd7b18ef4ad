import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RowFilterSyntaxError } from '../../../src/adapters/policy-source/errors.js';
import { type FilterDnf, parseRowFilter } from '../../../src/adapters/policy-source/row-filter.js';

describe('parseRowFilter: the accepted grammar', () => {
  it.each<[string, FilterDnf]>([
    ["region = 'EU'", [[{ column: 'region', values: ['EU'] }]]],
    ["region IN ('EU','US')", [[{ column: 'region', values: ['EU', 'US'] }]]],
    ["REGION in ( 'EU' , 'EU' )", [[{ column: 'region', values: ['EU'] }]]],
    ['"region" = \'EU\'', [[{ column: 'region', values: ['EU'] }]]],
    [
      "customer_id IN ('460000000000000001', '460000000000000002')",
      [[{ column: 'customer_id', values: ['460000000000000001', '460000000000000002'] }]],
    ],
    ["name = 'O''Brien'", [[{ column: 'name', values: ["O'Brien"] }]]],
    [
      "region = 'EU' AND segment = 'business'",
      [
        [
          { column: 'region', values: ['EU'] },
          { column: 'segment', values: ['business'] },
        ],
      ],
    ],
    [
      "region = 'EU' OR region = 'US'",
      [[{ column: 'region', values: ['EU'] }], [{ column: 'region', values: ['US'] }]],
    ],
    [
      "(region = 'EU' OR region = 'US') AND segment = 'business'",
      [
        [
          { column: 'region', values: ['EU'] },
          { column: 'segment', values: ['business'] },
        ],
        [
          { column: 'region', values: ['US'] },
          { column: 'segment', values: ['business'] },
        ],
      ],
    ],
    // AND binds tighter than OR, as in SQL.
    [
      "region = 'EU' OR region = 'US' AND segment = 'business'",
      [
        [{ column: 'region', values: ['EU'] }],
        [
          { column: 'region', values: ['US'] },
          { column: 'segment', values: ['business'] },
        ],
      ],
    ],
  ])('%s', (expression, expected) => {
    expect(parseRowFilter(expression)).toEqual(expected);
  });
});

describe('parseRowFilter: everything else is refused with its position', () => {
  it.each([
    ["region LIKE 'E%'", 8, 'LIKE'],
    ["region <> 'EU'", 8, '"<"'],
    ["region != 'EU'", 8, '"!"'],
    ['amount > 100', 8, '">"'],
    ['region = EU', 10, 'quoted string'],
    ['region = 1', 10, '"1"'],
    ["NOT region = 'EU'", 1, 'NOT'],
    ['region IS NULL', 8, 'IS'],
    ["region BETWEEN 'A' AND 'Z'", 8, 'BETWEEN'],
    ["lower(region) = 'eu'", 6, '"("'],
    ["region = 'EU'; DROP TABLE x", 14, '";"'],
    ["region = 'EU' -- comment", 15, '"-"'],
    ["region = 'EU' /* c */", 15, '"/"'],
    ['region IN ()', 12, '")"'],
    ["region IN ('EU'", 16, 'the end'],
    ["(region = 'EU'", 15, '")"'],
    ["region = 'EU')", 14, '")"'],
    ["region = 'EU", 10, 'unterminated'],
    ['TRUE', 1, 'TRUE'],
    ['', 1, 'column name'],
    ["region = 'EU' AND", 18, 'column name'],
    ['"a b" = \'x\'', 1, 'plain identifier'],
  ])('%s', (expression, position, mentions) => {
    try {
      parseRowFilter(expression);
      expect.unreachable(`${expression} was accepted`);
    } catch (error) {
      expect(error).toBeInstanceOf(RowFilterSyntaxError);
      const e = error as RowFilterSyntaxError;
      expect(e.code).toBe('LF_ROW_FILTER_UNSUPPORTED');
      expect(e.position + 1).toBe(position);
      expect(e.message).toContain(mentions);
    }
  });

  it('refuses expressions longer than Lake Formation allows and products of too many alternatives', () => {
    expect(() => parseRowFilter(`region IN (${Array(400).fill("'EU'").join(',')})`)).not.toThrow();
    expect(() => parseRowFilter(`region IN (${Array(500).fill("'EU'").join(',')})`)).toThrow(
      /longer than 2048/,
    );
    const seven = Array.from({ length: 7 }, (_, i) => `(a${i} = 'x' OR b${i} = 'y')`).join(' AND ');
    expect(() => parseRowFilter(seven)).toThrow(/more than 64 alternatives/);
  });
});

describe('parseRowFilter: properties', () => {
  const identifier = fc
    .stringMatching(/^[a-z_][a-z0-9_]{0,15}$/)
    .filter(
      (s) =>
        ![
          'and',
          'or',
          'in',
          'not',
          'like',
          'between',
          'is',
          'null',
          'true',
          'false',
          'select',
          'from',
          'where',
          'case',
          'when',
          'exists',
          'any',
          'all',
          'some',
        ].includes(s),
    );
  const value = fc.string({ maxLength: 12 });
  const quote = (v: string): string => `'${v.replaceAll("'", "''")}'`;
  const dnf = fc.array(
    fc.array(
      fc.record({ column: identifier, values: fc.uniqueArray(value, { minLength: 1, maxLength: 4 }) }),
      {
        minLength: 1,
        maxLength: 3,
      },
    ),
    { minLength: 1, maxLength: 3 },
  );

  it('round trip: rendering a DNF and parsing it back gives the same DNF, whatever the values hold', () => {
    fc.assert(
      fc.property(dnf, (groups) => {
        const text = groups
          .map((g) => `(${g.map((p) => `${p.column} IN (${p.values.map(quote).join(', ')})`).join(' AND ')})`)
          .join(' OR ');
        expect(parseRowFilter(text)).toEqual(groups);
      }),
    );
  });

  it('any text either parses into column names that are plain identifiers, or is refused with a typed error', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (text) => {
        let parsed: FilterDnf;
        try {
          parsed = parseRowFilter(text);
        } catch (error) {
          expect(error).toBeInstanceOf(RowFilterSyntaxError);
          return;
        }
        for (const group of parsed)
          for (const p of group) expect(p.column).toMatch(/^[A-Za-z_][A-Za-z0-9_]*$/);
      }),
    );
  });
});
