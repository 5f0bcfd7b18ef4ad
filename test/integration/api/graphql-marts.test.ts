import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Row } from '../../../src/adapters/query-engine/port.js';
import { camelCase, findMart, MARTS } from '../../../src/catalog/index.js';
import type { ColumnDef, MartDef } from '../../../src/catalog/types.js';
import { goldDataset } from '../../../src/lake/layout.js';
import { resolveLatest } from '../../../src/lake/publish.js';
import { raw, type SqlFragment, type SqlValue, sql } from '../../../src/sql/fragment.js';
import { type ApiHarness, startApiHarness } from '../../support/api-harness.js';

/**
 * Every mart through GraphQL over HTTP, against expectations computed with
 * SQL written here on the tests' own DuckDB over the same Gold files.
 */

let h: ApiHarness;

beforeAll(async () => {
  // Cache off: these tests count engine statements and compare fresh answers.
  h = await startApiHarness({ env: { GOLDGATE_CACHE_BYTES: '0' } });
}, 180_000);

afterAll(async () => {
  await h?.close();
});

async function relationOf(mart: MartDef): Promise<SqlFragment> {
  const pointer = await resolveLatest(h.store, goldDataset(mart.name, mart.schemaVersion));
  if (!pointer) throw new Error(`${mart.name} is not published`);
  return h.engine.martRelation({
    mart: mart.name,
    schemaVersion: mart.schemaVersion,
    runId: pointer.run_id,
    prefix: pointer.path,
  });
}

/** Rows of a mart under a condition written in the test (`TRUE` for all). */
async function expectRows(mart: MartDef, where: SqlFragment = raw('TRUE')): Promise<Row[]> {
  const rel = await relationOf(mart);
  return (await h.engine.query({ sql: sql`SELECT * FROM ${rel} AS m WHERE ${where}` })).rows;
}

const keyOf = (mart: MartDef, row: Record<string, unknown>, api = false): string =>
  JSON.stringify(mart.key.map((k) => String(row[api ? camelCase(k) : k])));

async function gql(query: string, variables?: Record<string, unknown>): Promise<Record<string, unknown>> {
  const answer = await h.graphql(query, variables);
  expect(answer.json?.errors, answer.text).toBeUndefined();
  expect(answer.status).toBe(200);
  return answer.json?.data ?? {};
}

/** Walk every page of a list with `first` rows a page; returns the nodes in order. */
async function walk(
  mart: MartDef,
  first: number,
  extraArgs = '',
  variables: Record<string, unknown> = {},
): Promise<Record<string, unknown>[]> {
  const t = mart.api.typeName;
  const fields = mart.columns.map((c) => camelCase(c.name)).join(' ');
  const query = `query($after: String, $filter: ${t}Filter) { list: ${mart.api.listField}(first: ${first}, after: $after, filter: $filter${extraArgs}) { nodes { ${fields} } pageInfo { hasNextPage endCursor } } }`;
  const out: Record<string, unknown>[] = [];
  let after: string | null = null;
  for (let pages = 0; pages < 10_000; pages += 1) {
    const data = await gql(query, { ...variables, after });
    const list = data.list as {
      nodes: Record<string, unknown>[];
      pageInfo: { hasNextPage: boolean; endCursor: string };
    };
    out.push(...list.nodes);
    if (!list.pageInfo.hasNextPage) return out;
    after = list.pageInfo.endCursor;
  }
  throw new Error('pages never ended');
}

/** A nullable column with both nulls and values in the data, if the mart has one. */
async function nullableWithNulls(mart: MartDef): Promise<ColumnDef | undefined> {
  const rows = await expectRows(mart);
  return mart.columns.find(
    (c) =>
      c.nullable &&
      !mart.key.includes(c.name) &&
      rows.some((r) => r[c.name] === null) &&
      rows.some((r) => r[c.name] !== null),
  );
}

describe.each(MARTS.map((m) => [m.name, m] as const))('mart %s over GraphQL', (_name, mart) => {
  it('walking all pages returns every row exactly once, in key order and in a descending sort', async () => {
    const expected = await expectRows(mart);
    expect(expected.length, `${mart.name} has rows in the demo`).toBeGreaterThan(0);
    const first = Math.min(500, Math.max(2, Math.ceil(expected.length / 7)));
    const walked = await walk(mart, first);
    const keys = walked.map((r) => keyOf(mart, r, true));
    expect(new Set(keys).size).toBe(keys.length);
    expect(new Set(keys)).toEqual(new Set(expected.map((r) => keyOf(mart, r))));

    // A descending sort on a nullable column: nulls last, ties broken by key, still each row once.
    const sortCol = (await nullableWithNulls(mart)) ?? mart.columns.find((c) => !mart.key.includes(c.name));
    if (!sortCol) throw new Error(`${mart.name} has no non-key column`);
    const sorted = await walk(
      mart,
      first,
      `, orderBy: [{ field: ${camelCase(sortCol.name)}, direction: DESC }]`,
    );
    const sortedKeys = sorted.map((r) => keyOf(mart, r, true));
    expect(new Set(sortedKeys).size).toBe(sortedKeys.length);
    expect(sortedKeys.length).toBe(expected.length);
    const values = sorted.map((r) => r[camelCase(sortCol.name)]);
    const firstNull = values.indexOf(null);
    if (firstNull >= 0) expect(values.slice(firstNull).every((v) => v === null)).toBe(true);
    const ordered = await h.engine.query({
      sql: sql`SELECT ${raw(mart.key.map((k) => `"${k}"`).join(', '))} FROM ${await relationOf(mart)} AS m ORDER BY ${raw(
        `"${sortCol.name}" DESC NULLS LAST, ${mart.key.map((k) => `"${k}"`).join(', ')}`,
      )}`,
    });
    expect(sortedKeys).toEqual(ordered.rows.map((r) => keyOf(mart, r)));
  });

  it('filters agree with SQL semantics, nulls included', async () => {
    const rows = await expectRows(mart);
    const checks: Array<{ filter: Record<string, unknown>; where: SqlFragment; what: string }> = [];
    const nullable = await nullableWithNulls(mart);
    if (nullable) {
      const n = camelCase(nullable.name);
      const col = raw(`"${nullable.name}"`);
      checks.push({ filter: { [n]: { isNull: true } }, where: sql`${col} IS NULL`, what: 'isNull' });
      const some = rows.find((r) => r[nullable.name] !== null)?.[nullable.name] as SqlValue;
      // `ne` keeps nulls: SQL's IS DISTINCT FROM, not <>.
      checks.push({
        filter: { [n]: { ne: apiValue(nullable, some) } },
        where: sql`${col} IS DISTINCT FROM ${some}`,
        what: 'ne keeps nulls',
      });
    }
    const ordered = mart.columns.find(
      (c) => ['Decimal', 'Int', 'Float', 'Date'].includes(c.apiType) && rows.some((r) => r[c.name] !== null),
    );
    if (ordered) {
      const values = rows.map((r) => r[ordered.name]).filter((v) => v !== null) as SqlValue[];
      const pivot = values.sort((a, b) =>
        Number.isNaN(Number(a)) ? String(a).localeCompare(String(b)) : Number(a) - Number(b),
      )[Math.floor(values.length / 2)] as SqlValue;
      const col = raw(`"${ordered.name}"`);
      checks.push({
        filter: { [camelCase(ordered.name)]: { gte: apiValue(ordered, pivot) } },
        where: sql`${col} >= CAST(${pivot} AS ${raw(ordered.sqlType)})`,
        what: 'gte (nulls never match)',
      });
    }
    const text = mart.columns.find((c) => c.apiType === 'String' && rows.some((r) => r[c.name] !== null));
    if (text) {
      const picks = [...new Set(rows.map((r) => r[text.name]).filter((v) => v !== null))].slice(
        0,
        2,
      ) as string[];
      checks.push({
        filter: { [camelCase(text.name)]: { in: picks } },
        where: sql`"${raw(text.name)}" IN (SELECT unnest(${picks}))`,
        what: 'in',
      });
    }
    expect(checks.length).toBeGreaterThan(0);
    for (const check of checks) {
      const expected = await expectRows(mart, check.where);
      const walked = await walk(mart, 50, '', { filter: check.filter });
      expect(walked.map((r) => keyOf(mart, r, true)).sort(), `${mart.name} ${check.what}`).toEqual(
        expected.map((r) => keyOf(mart, r)).sort(),
      );
      const counted = await gql(
        `query($f: ${mart.api.typeName}Filter) { c: ${mart.api.listField}(first: 1, filter: $f) { totalCount } }`,
        { f: check.filter },
      );
      expect((counted.c as { totalCount: number }).totalCount).toBe(expected.length);
    }
  });

  it('aggregates equal SQL computed independently', async () => {
    const dim =
      mart.columns.find((c) => c.name === 'region') ?? mart.columns.find((c) => c.apiType === 'String');
    const measure = mart.columns.find((c) => c.apiType === 'Decimal' || c.apiType === 'Int');
    if (!dim || !measure) throw new Error(`${mart.name} lacks a dimension or a measure`);
    const d = camelCase(dim.name);
    const m = camelCase(measure.name);
    const data = await gql(
      `{ a: ${mart.api.listField}Aggregate(groupBy: [${d}]) { key { ${d} } count sum { ${m} } max { ${m} } } }`,
    );
    const groups = data.a as Array<{
      key: Record<string, unknown>;
      count: number;
      sum: Record<string, unknown>;
      max: Record<string, unknown>;
    }>;
    const rel = await relationOf(mart);
    const expected = (
      await h.engine.query({
        sql: sql`SELECT ${raw(`"${dim.name}"`)} AS d, count(*) AS n, sum(${raw(`"${measure.name}"`)}) AS s, max(${raw(
          `"${measure.name}"`,
        )}) AS x FROM ${rel} AS m GROUP BY 1 ORDER BY 1 NULLS LAST`,
      })
    ).rows;
    expect(groups.map((g) => g.key[d])).toEqual(expected.map((r) => r.d));
    expect(groups.map((g) => g.count)).toEqual(expected.map((r) => Number(r.n)));
    expect(groups.map((g) => Number(g.sum[m]))).toEqual(expected.map((r) => Number(r.s)));
    expect(groups.map((g) => Number(g.max[m]))).toEqual(expected.map((r) => Number(r.x)));
  });
});

function apiValue(c: ColumnDef, v: unknown): unknown {
  return c.apiType === 'Int' || c.apiType === 'Float' ? Number(v) : v;
}

describe('relations', () => {
  const invoices = findMart('invoices') as MartDef;

  it('customer -> invoices -> payments equal the joins computed in SQL', async () => {
    const data = await gql(
      '{ customers(first: 40) { nodes { customerId invoices(first: 100) { invoiceId customerId total payments(first: 20) { paymentId invoiceId } } arAging { customerId asOfDate } mrrHistory { customerId month } } } }',
    );
    const nodes = (data.customers as { nodes: Array<Record<string, unknown>> }).nodes;
    expect(nodes.length).toBe(40);
    const ids = nodes.map((n) => String(n.customerId));
    const invRel = await relationOf(invoices);
    const payRel = await relationOf(findMart('payments') as MartDef);
    const expectedInvoices = (
      await h.engine.query({
        sql: sql`SELECT customer_id, invoice_id FROM ${invRel} AS m WHERE customer_id IN (SELECT unnest(${ids}))`,
      })
    ).rows;
    const expectedPayments = (
      await h.engine.query({
        sql: sql`SELECT p.invoice_id, p.payment_id FROM ${payRel} AS p JOIN ${invRel} AS i ON p.invoice_id = i.invoice_id WHERE i.customer_id IN (SELECT unnest(${ids}))`,
      })
    ).rows;
    const gotInvoices = nodes.flatMap((n) =>
      (n.invoices as Array<Record<string, unknown>>).map((i) => {
        expect(i.customerId).toBe(n.customerId);
        return `${String(n.customerId)}/${String(i.invoiceId)}`;
      }),
    );
    expect(gotInvoices.sort()).toEqual(
      expectedInvoices.map((r) => `${r.customer_id}/${r.invoice_id}`).sort(),
    );
    const gotPayments = nodes.flatMap((n) =>
      (n.invoices as Array<Record<string, unknown>>).flatMap((i) =>
        (i.payments as Array<Record<string, unknown>>).map((p) => {
          expect(p.invoiceId).toBe(i.invoiceId);
          return `${String(i.invoiceId)}/${String(p.paymentId)}`;
        }),
      ),
    );
    expect(expectedPayments.length).toBeGreaterThan(0);
    expect(gotPayments.sort()).toEqual(expectedPayments.map((r) => `${r.invoice_id}/${r.payment_id}`).sort());
    expect(nodes.some((n) => (n.arAging as unknown[]).length > 0)).toBe(true);
    expect(nodes.some((n) => (n.mrrHistory as unknown[]).length > 0)).toBe(true);
  });

  it('limits children per parent and keeps their order', async () => {
    const data = await gql(
      '{ customers(first: 30) { nodes { customerId invoices(first: 2, orderBy: [{ field: total, direction: DESC }]) { invoiceId total } } } }',
    );
    const invRel = await relationOf(invoices);
    for (const n of (data.customers as { nodes: Array<Record<string, unknown>> }).nodes) {
      const expected = (
        await h.engine.query({
          sql: sql`SELECT invoice_id FROM ${invRel} AS m WHERE customer_id = ${String(n.customerId)} ORDER BY total DESC NULLS LAST, invoice_id LIMIT 2`,
        })
      ).rows.map((r) => r.invoice_id);
      expect((n.invoices as Array<Record<string, unknown>>).map((i) => i.invoiceId)).toEqual(expected);
    }
  });

  it('runs one engine query per nesting level, whatever the number of parents', async () => {
    const levels = async (first: number): Promise<number> => {
      const before = h.runtime.gateway.admission.stats.admitted;
      await gql(
        `{ customers(first: ${first}) { nodes { customerId invoices(first: 50) { invoiceId payments(first: 5) { paymentId } } } } }`,
      );
      return h.runtime.gateway.admission.stats.admitted - before;
    };
    expect(await levels(3)).toBe(3);
    expect(await levels(60)).toBe(3);
    expect(await levels(120)).toBe(3);
    // Two levels when payments are not asked; four with a count on top.
    const before = h.runtime.gateway.admission.stats.admitted;
    await gql('{ customers(first: 80) { totalCount nodes { invoices { invoiceId } } } }');
    expect(h.runtime.gateway.admission.stats.admitted - before).toBe(3);
  });
});
