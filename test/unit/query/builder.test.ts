import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fullAccess, type MartAccess } from '../../../src/auth/access.js';
import { customer360 } from '../../../src/catalog/marts/index.js';
import { countQuery, encodeCursor, type MartFilter, pageQuery } from '../../../src/query/builder.js';
import { raw } from '../../../src/sql/fragment.js';

const full: MartAccess = fullAccess(customer360);
const relation = raw('mart_relation');

/** Every identifier the SQL may contain comes from the catalog. */
const allowed = new Set([...customer360.columns.map((c) => c.name)]);

describe('page query builder', () => {
  it('selects the asked columns plus the key, in key order, one row more than asked', () => {
    const q = pageQuery({ access: full, relation, columns: ['name'], filter: {}, first: 10 });
    expect(q.text).toBe(
      'SELECT "customer_id", "name" FROM mart_relation AS m ORDER BY "customer_id" ASC NULLS LAST LIMIT ?',
    );
    expect(q.params).toEqual([11]);
  });

  it('binds every filter value with a cast to the column type', () => {
    const q = pageQuery({
      access: full,
      relation,
      columns: ['region'],
      filter: {
        region: { in: ['EU', 'NA'] },
        lifetime_revenue: { gte: '10.50' },
        signup_date: { lt: '2026-01-01' },
        name: { startsWith: 'Al', contains: 'ph' },
        account_id: { isNull: false },
      },
      first: 5,
    });
    expect(q.text).toContain('"region" IN (CAST(? AS VARCHAR), CAST(? AS VARCHAR))');
    expect(q.text).toContain('"lifetime_revenue" >= CAST(? AS DECIMAL(38,6))');
    expect(q.text).toContain('"signup_date" < CAST(? AS DATE)');
    expect(q.text).toContain('starts_with("name", ?)');
    expect(q.text).toContain('strpos("name", ?) > 0');
    expect(q.text).toContain('"account_id" IS NOT NULL');
    expect(q.params).toEqual(['EU', 'NA', '10.50', '2026-01-01', 'Al', 'ph', 6]);
  });

  it('applies the policy row filter as bound parameters, and an empty scope as FALSE', () => {
    const scoped: MartAccess = { ...full, rows: [[{ column: 'region', values: ['EU'] }]] };
    const q = countQuery({ access: scoped, relation, filter: {} });
    expect(q.text).toBe(
      'SELECT count(*) AS total FROM mart_relation AS m WHERE ("region" = CAST(? AS VARCHAR))',
    );
    expect(q.params).toEqual(['EU']);
    const two: MartAccess = { ...full, rows: [[{ column: 'region', values: ['EU', 'NA'] }]] };
    expect(countQuery({ access: two, relation, filter: {} }).text).toContain(
      'WHERE ("region" IN (CAST(? AS VARCHAR), CAST(? AS VARCHAR)))',
    );
    const none: MartAccess = { ...full, rows: [[{ column: 'region', values: [] }]] };
    expect(countQuery({ access: none, relation, filter: {} }).text).toContain('WHERE (FALSE)');
  });

  describe('a scope predicate the filter already implies', () => {
    const sixRegions = ['NA', 'EU', 'APAC', 'LATAM', 'MEA', 'UNKNOWN'];
    const scoped = (rows: MartAccess['rows']): MartAccess => ({ ...full, rows });
    const where = (access: MartAccess, filter: MartFilter) => countQuery({ access, relation, filter });

    it('is left out when eq or in keeps only values the scope allows: the same SQL as without a scope', () => {
      const regions = scoped([[{ column: 'region', values: sixRegions }]]);
      for (const filter of [{ region: { eq: 'EU' } }, { region: { in: ['EU', 'NA'] } }] as MartFilter[]) {
        expect(where(regions, filter)).toEqual(where(full, filter));
      }
      const one = scoped([[{ column: 'region', values: ['EU'] }]]);
      expect(where(one, { region: { eq: 'EU' } })).toEqual(where(full, { region: { eq: 'EU' } }));
    });

    it('stays when the filter lets through a value the scope does not allow, or pins nothing', () => {
      const eu = scoped([[{ column: 'region', values: ['EU'] }]]);
      for (const filter of [
        { region: { eq: 'NA' } },
        { region: { in: ['EU', 'NA'] } },
        { region: { ne: 'NA' } },
        { region: { startsWith: 'E' } },
        { region: { gte: 'EU', lte: 'EU' } },
        { name: { eq: 'EU' } },
      ] as MartFilter[]) {
        const q = where(eu, filter);
        expect(q.text, JSON.stringify(filter)).toContain('("region" = CAST(? AS VARCHAR))');
        expect(q.params[0]).toBe('EU');
      }
    });

    it('drops only the implied predicate of an alternative, and the whole scope once any alternative is implied', () => {
      const both = scoped([
        [
          { column: 'region', values: ['EU'] },
          { column: 'segment', values: ['business'] },
        ],
      ]);
      const q = where(both, { region: { eq: 'EU' } });
      expect(q.text).toContain('WHERE ("segment" = CAST(? AS VARCHAR)) AND "region" = CAST(? AS VARCHAR)');
      expect(q.params).toEqual(['business', 'EU']);
      const either = scoped([
        [{ column: 'region', values: ['EU'] }],
        [{ column: 'segment', values: ['business'] }],
      ]);
      expect(where(either, { segment: { eq: 'business' } })).toEqual(
        where(full, { segment: { eq: 'business' } }),
      );
      expect(where(either, { segment: { eq: 'individual' } }).text).toContain(
        '(("region" = CAST(? AS VARCHAR)) OR ("segment" = CAST(? AS VARCHAR)))',
      );
    });

    it('never treats a differently bound value as the same (decimals are cast wider than the column)', () => {
      const byRevenue = scoped([[{ column: 'lifetime_revenue', values: ['10.00'] }]]);
      const q = where(byRevenue, { lifetime_revenue: { eq: '10.00' } });
      expect(q.text).toContain('("lifetime_revenue" = CAST(? AS DECIMAL(');
    });
  });

  it('continues after a cursor with a bound key comparison', () => {
    const q = pageQuery({
      access: full,
      relation,
      columns: [],
      filter: {},
      first: 2,
      after: encodeCursor(['123']),
    });
    expect(q.text).toContain('WHERE (("customer_id" > CAST(? AS VARCHAR) OR "customer_id" IS NULL))');
    expect(q.params).toEqual(['123', 3]);
  });

  it('continues a descending sort on a nullable column: ties by key, nulls last', () => {
    const q = pageQuery({
      access: full,
      relation,
      columns: [],
      filter: {},
      orderBy: [{ column: 'signup_date', desc: true }],
      first: 2,
      after: encodeCursor(['2026-01-02', '7']),
    });
    expect(q.text).toContain('ORDER BY "signup_date" DESC NULLS LAST, "customer_id" ASC NULLS LAST');
    expect(q.text).toContain(
      '(("signup_date" < CAST(? AS DATE) OR "signup_date" IS NULL) OR "signup_date" = CAST(? AS DATE) AND ("customer_id" > CAST(? AS VARCHAR) OR "customer_id" IS NULL))',
    );
    expect(q.params).toEqual(['2026-01-02', '2026-01-02', '7', 3]);
    // After a null sort value only rows with a null there and a greater key remain.
    const afterNull = pageQuery({
      access: full,
      relation,
      columns: [],
      filter: {},
      orderBy: [{ column: 'signup_date', desc: true }],
      first: 2,
      after: encodeCursor([null, '7']),
    });
    expect(afterNull.text).toContain(
      '("signup_date" IS NULL AND ("customer_id" > CAST(? AS VARCHAR) OR "customer_id" IS NULL))',
    );
  });

  it('refuses to sort or filter on a masked column, but selects it', () => {
    const masked: MartAccess = { ...full, masks: new Map([['email', 'hash']]) };
    expect(() =>
      pageQuery({ access: masked, relation, columns: ['email'], filter: {}, first: 1 }),
    ).not.toThrow();
    expect(() =>
      pageQuery({
        access: masked,
        relation,
        columns: [],
        filter: {},
        orderBy: [{ column: 'email', desc: false }],
        first: 1,
      }),
    ).toThrow(/masked/);
    expect(() =>
      pageQuery({ access: masked, relation, columns: [], filter: { email: { isNull: true } }, first: 1 }),
    ).toThrow(/masked/);
  });

  it('rejects bad input with BAD_USER_INPUT', () => {
    const bad = (filter: MartFilter, after?: string) => () =>
      pageQuery({ access: full, relation, columns: [], filter, first: 1, after });
    expect(bad({ no_such: { eq: 'x' } })).toThrow(expect.objectContaining({ code: 'BAD_USER_INPUT' }));
    expect(bad({ lifetime_revenue: { eq: '1e5' } })).toThrow(
      expect.objectContaining({ code: 'BAD_USER_INPUT' }),
    );
    expect(bad({ signup_date: { eq: '2026-13-45' } })).toThrow(
      expect.objectContaining({ code: 'BAD_USER_INPUT' }),
    );
    expect(bad({ region: { in: [] } })).toThrow(expect.objectContaining({ code: 'BAD_USER_INPUT' }));
    expect(bad({ lifetime_revenue: { contains: '1' } })).toThrow(
      expect.objectContaining({ code: 'BAD_USER_INPUT' }),
    );
    expect(bad({}, 'not-a-cursor')).toThrow(expect.objectContaining({ code: 'BAD_USER_INPUT' }));
  });

  it('treats a hidden column exactly like a missing one', () => {
    const noEmail: MartAccess = { ...full, columns: new Set([...full.columns].filter((c) => c !== 'email')) };
    const hidden = () =>
      pageQuery({ access: noEmail, relation, columns: [], filter: { email: { eq: 'x' } }, first: 1 });
    const missing = () =>
      pageQuery({ access: noEmail, relation, columns: [], filter: { nope: { eq: 'x' } }, first: 1 });
    expect(hidden).toThrow('unknown field email');
    expect(missing).toThrow('unknown field nope');
    expect(() => pageQuery({ access: noEmail, relation, columns: ['email'], filter: {}, first: 1 })).toThrow(
      'unknown field email',
    );
  });

  it('property: any text a caller sends reaches SQL only as a parameter', () => {
    const textColumns = customer360.columns.filter((c) => c.apiType === 'String' || c.apiType === 'ID');
    fc.assert(
      fc.property(
        fc.constantFrom(...textColumns.map((c) => c.name)),
        fc.constantFrom('eq', 'ne', 'lt', 'gte', 'contains', 'startsWith', 'in'),
        fc.string({ minLength: 1, maxLength: 60 }),
        fc.option(fc.string({ minLength: 1, maxLength: 40 }), { nil: undefined }),
        (name, op, value, cursorValue) => {
          const filter: MartFilter = { [name]: { [op]: op === 'in' ? [value, `${value}'`] : value } };
          const after = cursorValue === undefined ? undefined : encodeCursor([cursorValue]);
          const q = pageQuery({ access: full, relation, columns: [name], filter, first: 3, after });
          // The text is made only of code-written SQL and catalog identifiers...
          const identifiers = [...q.text.matchAll(/"([^"]*)"/g)].map((m) => m[1]);
          for (const id of identifiers) expect(allowed.has(String(id))).toBe(true);
          expect(q.text).not.toMatch(/'/);
          // ...and the caller's values travel beside it, one `?` each.
          expect(q.params).toContain(value);
          if (cursorValue !== undefined) expect(q.params).toContain(cursorValue);
          expect(q.text.split('?').length - 1).toBe(q.params.length);
        },
      ),
      { numRuns: 500 },
    );
  });
});
