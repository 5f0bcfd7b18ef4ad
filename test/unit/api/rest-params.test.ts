import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  negotiateFormat,
  parseAggregateRequest,
  parseRowsRequest,
  splitQuery,
  typedValue,
} from '../../../src/api/rest-params.js';
import { fullAccess, type MartAccess } from '../../../src/auth/access.js';
import { MARTS } from '../../../src/catalog/index.js';
import { customer360 } from '../../../src/catalog/marts/index.js';
import type { ColumnDef } from '../../../src/catalog/types.js';
import { isGoldgateError } from '../../../src/errors.js';
import { operatorsFor } from '../../../src/query/builder.js';

const full: MartAccess = fullAccess(customer360);
const rows = (search: string, accept?: string, access: MartAccess = full) =>
  parseRowsRequest(access, splitQuery(search), { accept, maxPageSize: 500 });

/** The BAD_USER_INPUT message a call throws (fails when it does not throw one). */
function badInput(call: () => unknown): string {
  try {
    call();
  } catch (error) {
    expect(isGoldgateError(error) && error.code).toBe('BAD_USER_INPUT');
    return (error as Error).message;
  }
  throw new Error('expected BAD_USER_INPUT');
}

describe('splitQuery', () => {
  it('decodes names, keeps values raw, and skips empty pieces', () => {
    expect(splitQuery('?a=1&&b%5Bgte%5D=x%2Cy&c')).toEqual([
      { name: 'a', rawValue: '1', raw: 'a=1' },
      { name: 'b[gte]', rawValue: 'x%2Cy', raw: 'b%5Bgte%5D=x%2Cy' },
      { name: 'c', rawValue: '', raw: 'c' },
    ]);
    expect(splitQuery('')).toEqual([]);
  });

  it('refuses malformed percent-encoding as BAD_USER_INPUT', () => {
    expect(badInput(() => splitQuery('?a%E0%A4%A=1'))).toContain('percent');
  });
});

describe('parseRowsRequest', () => {
  it('reads filters, sort, limit, fields and count as the README example says', () => {
    const r = rows(
      '?region=EU&health_score[gte]=50&mrr[lt]=100.5&plan[in]=pro,team&email[isNull]=true&name[contains]=Ltd&sort=-signup_date,customer_id&limit=20&fields=name,region&count=true&cursor=abc',
    );
    expect(r).toEqual({
      kind: 'page',
      filter: {
        region: { eq: 'EU' },
        health_score: { gte: 50 },
        mrr: { lt: '100.5' },
        plan: { in: ['pro', 'team'] },
        email: { isNull: true },
        name: { contains: 'Ltd' },
      },
      orderBy: [
        { column: 'signup_date', desc: true },
        { column: 'customer_id', desc: false },
      ],
      columns: ['customer_id', 'name', 'region'].map((n) => customer360.columns.find((c) => c.name === n)),
      first: 20,
      cursor: 'abc',
      count: true,
    });
  });

  it('defaults: 50 rows, every readable column in catalog order, no count', () => {
    const r = rows('');
    expect(r.kind).toBe('page');
    if (r.kind !== 'page') return;
    expect(r.first).toBe(50);
    expect(r.count).toBe(false);
    expect(r.columns.map((c) => c.name)).toEqual(customer360.columns.map((c) => c.name));
    expect(r.filter).toEqual({});
  });

  it('splits `in` on raw commas: %2C is a comma inside a value, + a space', () => {
    const r = rows('?name[in]=Smith%2C+Jones,Ltd%2B,a%20b');
    expect(r.filter).toEqual({ name: { in: ['Smith, Jones', 'Ltd+', 'a b'] } });
  });

  it('any list of values survives encodeURIComponent and a comma join (but the one list [""])', () => {
    // `name[in]=` reads as no value at all (refused); a lone empty string is asked with `name=`.
    expect(badInput(() => rows('?name[in]='))).toContain('1 to 500');
    expect(rows('?name=').filter).toEqual({ name: { eq: '' } });
    expect(rows('?name[in]=,').filter).toEqual({ name: { in: ['', ''] } });
    const lists = fc
      .array(fc.string({ maxLength: 12 }), { minLength: 1, maxLength: 20 })
      .filter((values) => !(values.length === 1 && values[0] === ''));
    fc.assert(
      fc.property(lists, (values) => {
        const search = `?name[in]=${values.map(encodeURIComponent).join(',')}`;
        expect(rows(search).filter).toEqual({ name: { in: values } });
      }),
    );
  });

  it('converts Int strictly and refuses what is not an integer', () => {
    expect(rows('?health_score=-7').filter).toEqual({ health_score: { eq: -7 } });
    for (const bad of ['01', '1.0', '1e2', '', ' 1', '0x10', '9007199254740993']) {
      expect(badInput(() => rows(`?health_score=${encodeURIComponent(bad)}`))).toContain('health_score');
    }
  });

  it('checks Decimal, Date and DateTime text before any engine work', () => {
    expect(rows('?mrr[gte]=10.505').filter).toEqual({ mrr: { gte: '10.505' } });
    expect(badInput(() => rows('?mrr[gte]=1e3'))).toContain('mrr');
    expect(badInput(() => rows('?signup_date=2026-02-30'))).toContain('signup_date');
    expect(rows('?last_activity_at[lt]=2026-11-21T06:15:00Z').filter).toEqual({
      last_activity_at: { lt: '2026-11-21T06:15:00Z' },
    });
  });

  it('names unknown parameters, unknown operators and operators of the wrong type', () => {
    expect(badInput(() => rows('?bogus=1'))).toBe('unknown query parameter bogus');
    expect(badInput(() => rows('?Region=EU'))).toContain('Region');
    expect(badInput(() => rows('?region[like]=E'))).toContain('unknown operator like');
    expect(badInput(() => rows('?customer_id[gt]=1'))).toContain('unknown operator gt');
    expect(badInput(() => rows('?mrr[contains]=1'))).toContain('unknown operator contains');
    expect(badInput(() => rows('?region=EU&region[eq]=NA'))).toContain('given twice');
    expect(badInput(() => rows('?sort=a&sort=b'))).toContain('given twice');
    expect(badInput(() => rows('?email[isNull]=1'))).toContain('true or false');
  });

  it('a hidden column reads exactly like a missing one', () => {
    const hidden: MartAccess = {
      ...full,
      columns: new Set([...full.columns].filter((c) => c !== 'email')),
    };
    expect(badInput(() => rows('?email=a', undefined, hidden))).toBe('unknown query parameter email');
    expect(badInput(() => rows('?emial=a', undefined, hidden))).toBe('unknown query parameter emial');
    expect(badInput(() => rows('?fields=email', undefined, hidden))).toBe('unknown field email');
    const r = rows('', undefined, hidden);
    expect(r.columns.map((c) => c.name)).not.toContain('email');
  });

  it('bounds limit by the page size for JSON and not for exports', () => {
    expect(badInput(() => rows('?limit=501'))).toContain('limit');
    expect(badInput(() => rows('?limit=0'))).toContain('limit');
    const r = rows('?limit=100000', 'application/x-ndjson');
    expect(r).toMatchObject({ kind: 'export', format: 'ndjson', limit: 100000 });
    expect(rows('', 'text/csv')).toMatchObject({ kind: 'export', format: 'csv', limit: undefined });
    expect(badInput(() => rows('?cursor=x', 'text/csv'))).toContain('cursor');
    expect(badInput(() => rows('?count=true&format=ndjson'))).toContain('count');
  });
});

describe('negotiateFormat', () => {
  it.each([
    [undefined, undefined, 'json'],
    ['*/*', undefined, 'json'],
    ['application/x-ndjson', undefined, 'ndjson'],
    ['application/ndjson', undefined, 'ndjson'],
    ['text/csv', undefined, 'csv'],
    ['text/*', undefined, 'csv'],
    ['text/html,application/xhtml+xml,*/*;q=0.8', undefined, 'json'],
    ['text/csv;q=0.5, application/x-ndjson', undefined, 'ndjson'],
    ['application/json;q=0.1, text/csv', undefined, 'csv'],
    ['application/json', 'csv', 'csv'],
    ['text/html', undefined, 'json'],
  ] as const)('Accept %s, format %s -> %s', (accept, format, want) => {
    expect(negotiateFormat(accept, format)).toBe(want);
  });

  it('refuses an unknown format', () => {
    expect(badInput(() => negotiateFormat(undefined, 'xml'))).toContain('format');
  });
});

describe('typedValue and operatorsFor', () => {
  const column = (apiType: ColumnDef['apiType']): ColumnDef => ({
    name: 'c',
    sqlType: 'VARCHAR',
    apiType,
    nullable: true,
    description: 'test column',
  });

  it('parses Float and Boolean strictly', () => {
    expect(typedValue(column('Float'), '0.5')).toBe(0.5);
    expect(typedValue(column('Float'), '-1e-3')).toBe(-0.001);
    expect(typedValue(column('Float'), '.5')).toBe(0.5);
    for (const bad of ['NaN', 'Infinity', '0x10', '', '1,5'])
      expect(() => typedValue(column('Float'), bad)).toThrow();
    expect(typedValue(column('Boolean'), 'true')).toBe(true);
    expect(typedValue(column('Boolean'), 'false')).toBe(false);
    expect(() => typedValue(column('Boolean'), 'TRUE')).toThrow();
  });

  it('every catalog column takes eq, ne, in and isNull; text matching only on text', () => {
    for (const mart of MARTS) {
      for (const c of mart.columns) {
        const ops = operatorsFor(c.apiType);
        expect(ops).toEqual(expect.arrayContaining(['eq', 'ne', 'in', 'isNull']));
        expect(ops.includes('contains')).toBe(c.apiType === 'String' || c.apiType === 'ID');
      }
    }
  });
});

describe('parseAggregateRequest', () => {
  const agg = (search: string) => parseAggregateRequest(full, splitQuery(search));

  it('reads groupBy, measures, limit and filters', () => {
    expect(
      agg('?groupBy=region,plan&measures=sum:mrr,avg:mrr,max:signup_date&limit=10&region[ne]=EU'),
    ).toEqual({
      filter: { region: { ne: 'EU' } },
      groupBy: ['region', 'plan'],
      measures: [
        { fn: 'sum', column: 'mrr' },
        { fn: 'avg', column: 'mrr' },
        { fn: 'max', column: 'signup_date' },
      ],
      limit: 10,
    });
    expect(agg('')).toEqual({ filter: {}, groupBy: [], measures: [], limit: 1000 });
  });

  it('refuses unknown functions, repeated measures, empty items and rows parameters', () => {
    expect(badInput(() => agg('?measures=median:mrr'))).toContain('median');
    expect(badInput(() => agg('?measures=sum'))).toContain('sum');
    expect(badInput(() => agg('?measures=sum:mrr,sum:mrr'))).toContain('twice');
    expect(badInput(() => agg('?groupBy=region,'))).toContain('empty');
    expect(badInput(() => agg('?limit=10001'))).toContain('limit');
    expect(badInput(() => agg('?sort=region'))).toContain('sort');
    expect(badInput(() => agg('?cursor=x'))).toContain('cursor');
  });
});
