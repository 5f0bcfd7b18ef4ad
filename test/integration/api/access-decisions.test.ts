import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Row } from '../../../src/adapters/query-engine/port.js';
import { findMart } from '../../../src/catalog/index.js';
import type { MartDef } from '../../../src/catalog/types.js';
import { goldDataset } from '../../../src/lake/layout.js';
import { resolveLatest } from '../../../src/lake/publish.js';
import { raw, type SqlFragment, sql } from '../../../src/sql/fragment.js';
import { type ApiHarness, startApiHarness, TOKEN_SETTINGS } from '../../support/api-harness.js';

/**
 * The same access decisions asked through GraphQL, REST pages, REST
 * aggregates and streamed exports (NDJSON and CSV), under the demo policy plus
 * one test role (`limited`: EU rows, two hidden columns, email partial).
 * Expectations come from SQL written here over the same Gold files.
 */

const LIMITED_ROLE = `
  limited:
    description: Test role with hidden columns, a row scope and partial email.
    marts:
      customer_360:
        columns: { allBut: [lifetime_revenue, phone] }
        rows:
          - { dimension: region, claim: regions }
        pii: { email: partial }
      invoices:
        columns: "*"
        rows:
          - { dimension: region, claim: regions }
`;

let h: ApiHarness;
let policyDir: string;
const ns = TOKEN_SETTINGS.claimsNamespace;

beforeAll(async () => {
  policyDir = await mkdtemp(join(tmpdir(), 'goldgate-policy-'));
  const policyFile = join(policyDir, 'policy.yaml');
  await writeFile(policyFile, `${await readFile('policies/demo.yaml', 'utf8')}\n${LIMITED_ROLE}`);
  // Cache on: decisions must hold for cached answers too (each probe is asked twice).
  h = await startApiHarness({ env: { GOLDGATE_POLICY_FILE: policyFile } });
}, 180_000);

afterAll(async () => {
  await h?.close();
  if (policyDir) await rm(policyDir, { recursive: true, force: true });
});

const customer360 = findMart('customer_360') as MartDef;
const invoices = findMart('invoices') as MartDef;

async function relationOf(mart: MartDef): Promise<SqlFragment> {
  const pointer = await resolveLatest(h.store, goldDataset(mart.name, mart.schemaVersion));
  if (!pointer) throw new Error(`${mart.name} is not published`);
  return h.engine.martRelation({
    mart: mart.name,
    schemaVersion: 1,
    runId: pointer.run_id,
    prefix: pointer.path,
  });
}

async function sqlRows(mart: MartDef, where: string, params: readonly string[] = []): Promise<Row[]> {
  const rel = await relationOf(mart);
  const text = sql`SELECT * FROM ${rel} AS m WHERE ${raw(where)}`;
  return (await h.engine.query({ sql: { text: text.text, params: [...text.params, ...params] } })).rows;
}

interface Caller {
  readonly roles: readonly string[];
  readonly regions?: readonly string[];
}

const csmEU: Caller = { roles: ['csm'], regions: ['EU'] };
const limitedEU: Caller = { roles: ['limited'], regions: ['EU'] };
const finance: Caller = { roles: ['finance'] };
const analyst: Caller = { roles: ['analyst'] };

async function tokenOf(caller: Caller): Promise<string> {
  return h.token({
    roles: [...caller.roles],
    extraClaims: caller.regions ? { [`${ns}regions`]: [...caller.regions] } : {},
  });
}

interface Answer {
  readonly status: number;
  readonly text: string;
  readonly contentType: string;
}

/** Ask twice (the second answer may come from the cache): both must be identical. */
async function twice(ask: () => Promise<Answer>, same: (text: string) => string = (t) => t): Promise<Answer> {
  const first = await ask();
  const second = await ask();
  expect(second.status).toBe(first.status);
  expect(same(second.text)).toBe(same(first.text));
  return first;
}

/** The REST catalog's answer without what the clock decides (when the SLA state was evaluated, ages). */
function withoutClock(text: string): string {
  return text.replace(/"(evaluated_at|age_seconds)":("[^"]*"|[0-9.]+|null)/g, '"$1":"-"');
}

async function gql(caller: Caller, query: string, variables?: Record<string, unknown>) {
  const token = await tokenOf(caller);
  const answer = await twice(async () => {
    const a = await h.graphql(query, variables, { token });
    return { status: a.status, text: a.text, contentType: a.headers.get('content-type') ?? '' };
  });
  return {
    ...answer,
    json: JSON.parse(answer.text) as {
      data?: Record<string, unknown> | null;
      errors?: Array<{ message: string; extensions?: { code?: string } }>;
    },
  };
}

async function rest(caller: Caller, path: string, accept = 'application/json'): Promise<Answer> {
  const token = await tokenOf(caller);
  return twice(
    async () => {
      const response = await fetch(`${h.baseUrl}${path}`, {
        headers: { authorization: `Bearer ${token}`, accept },
      });
      return {
        status: response.status,
        text: await response.text(),
        contentType: response.headers.get('content-type') ?? '',
      };
    },
    path === '/v1/marts' ? withoutClock : undefined,
  );
}

/** Every row of a REST page walk (following `links.next`). */
async function restAll(caller: Caller, path: string): Promise<Array<Record<string, unknown>>> {
  const rows: Array<Record<string, unknown>> = [];
  let next: string | null = path;
  while (next) {
    const answer = await rest(caller, next);
    expect(answer.status, answer.text).toBe(200);
    const body = JSON.parse(answer.text) as {
      data: Array<Record<string, unknown>>;
      links?: { next?: string | null };
    };
    rows.push(...body.data);
    next = body.links?.next ?? null;
  }
  return rows;
}

function ndjson(text: string): Array<Record<string, unknown>> {
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

function csv(text: string): Array<Record<string, string>> {
  // Demo values carry no commas in the columns these tests read; RFC 4180 quoting is unit-tested.
  const [header, ...lines] = text.trim().split(/\r?\n/);
  const names = (header ?? '').split(',');
  return lines.map((line) => Object.fromEntries(line.split(',').map((v, i) => [names[i] ?? '', v])));
}

describe('row scope: a csm of EU sees EU rows only, on every path', () => {
  it('lists, counts, filters, sorts, aliases and fragments', async () => {
    const eu = await sqlRows(customer360, "region = 'EU'");
    const all = await sqlRows(customer360, 'TRUE');
    expect(eu.length).toBeGreaterThan(0);
    expect(all.length).toBeGreaterThan(eu.length);
    const answer = await gql(
      csmEU,
      `{
        all: customers(first: 500) { ...F }
        na: customers(first: 500, filter: { region: { eq: "NA" } }) { ...F }
        sorted: customers(first: 500, orderBy: [{ field: region, direction: DESC }]) { ...F }
      }
      fragment F on CustomerConnection { totalCount nodes { customerId region } }`,
    );
    expect(answer.json.errors).toBeUndefined();
    const data = answer.json.data as Record<
      string,
      { totalCount: number; nodes: Array<{ customerId: string; region: string }> }
    >;
    expect(new Set(data.all?.nodes.map((n) => n.customerId))).toEqual(new Set(eu.map((r) => r.customer_id)));
    expect(data.all?.totalCount).toBe(eu.length);
    expect(data.na?.totalCount).toBe(0);
    expect(data.na?.nodes).toEqual([]);
    expect(new Set(data.sorted?.nodes.map((n) => n.region))).toEqual(new Set(['EU']));
    const naCustomer = all.find((r) => r.region !== 'EU')?.customer_id;
    const one = await gql(csmEU, 'query($id: ID!) { customer(id: $id) { customerId } }', { id: naCustomer });
    expect(one.json.data?.customer).toBeNull();
  });

  it('aggregates group EU rows only', async () => {
    const eu = await sqlRows(customer360, "region = 'EU'");
    const answer = await gql(csmEU, '{ customersAggregate(groupBy: [region]) { key { region } count } }');
    expect(answer.json.data?.customersAggregate).toEqual([{ key: { region: 'EU' }, count: eu.length }]);
    const restAgg = await rest(csmEU, '/v1/marts/customer_360/aggregate?groupBy=region');
    expect(restAgg.status).toBe(200);
    const groups = (JSON.parse(restAgg.text) as { groups: Array<{ key: { region: string }; count: number }> })
      .groups;
    expect(groups).toEqual([expect.objectContaining({ key: { region: 'EU' }, count: eu.length })]);
  });

  it('REST pages and exports (NDJSON, CSV) hold the same EU rows', async () => {
    const eu = new Set((await sqlRows(customer360, "region = 'EU'")).map((r) => r.customer_id));
    const paged = await restAll(csmEU, '/v1/marts/customer_360?limit=37&fields=customer_id,region');
    expect(new Set(paged.map((r) => r.customer_id))).toEqual(eu);
    expect((await restAll(csmEU, '/v1/marts/customer_360?region=NA')).length).toBe(0);
    const nd = await rest(csmEU, '/v1/marts/customer_360?fields=customer_id,region', 'application/x-ndjson');
    expect(nd.status).toBe(200);
    const ndRows = ndjson(nd.text);
    expect(new Set(ndRows.map((r) => r.customer_id))).toEqual(eu);
    expect(ndRows.every((r) => r.region === 'EU')).toBe(true);
    const c = await rest(csmEU, '/v1/marts/customer_360?fields=customer_id,region', 'text/csv');
    expect(c.status).toBe(200);
    expect(new Set(csv(c.text).map((r) => r.customer_id))).toEqual(eu);
  });

  it('a mart without a grant does not exist: nested, REST, export and catalog alike', async () => {
    const nested = await gql(
      csmEU,
      '{ customers(first: 3) { nodes { customerId invoices { invoiceId } } } }',
    );
    expect(nested.json.errors?.map((e) => e.extensions?.code)).toContain('NOT_FOUND');
    expect(nested.text).not.toMatch(/invoiceId"\s*:\s*"/);
    const missing = await rest(csmEU, '/v1/marts/no_such_mart');
    for (const path of ['/v1/marts/invoices', '/v1/marts/invoices/aggregate?groupBy=status']) {
      const answer = await rest(csmEU, path);
      expect(answer.status).toBe(404);
      expect(answer.text).toBe(missing.text);
    }
    expect((await rest(csmEU, '/v1/marts/invoices', 'application/x-ndjson')).status).toBe(404);
    const catalog = JSON.parse((await rest(csmEU, '/v1/marts')).text) as unknown;
    expect(JSON.stringify(catalog)).not.toContain('"invoices"');
  });
});

describe('row scope at every depth: nested invoices of a limited EU caller', () => {
  it('children are filtered as if queried directly', async () => {
    const answer = await gql(
      limitedEU,
      '{ customers(first: 100) { nodes { customerId region invoices(first: 100) { invoiceId region customerId } } } }',
    );
    expect(answer.json.errors).toBeUndefined();
    const nodes = (
      (answer.json.data as Record<string, unknown>).customers as {
        nodes: Array<{ region: string; invoices: Array<{ region: string }> }>;
      }
    ).nodes;
    expect(nodes.length).toBeGreaterThan(0);
    for (const n of nodes) {
      expect(n.region).toBe('EU');
      for (const i of n.invoices) expect(i.region).toBe('EU');
    }
    const nonEu = (await sqlRows(invoices, "region <> 'EU'"))[0];
    expect(nonEu).toBeDefined();
    const direct = await restAll(limitedEU, `/v1/marts/invoices?customer_id=${String(nonEu?.customer_id)}`);
    expect(direct).toEqual([]);
  });
});

describe('hidden columns are unusable everywhere and read like missing ones', () => {
  it('GraphQL: select, filter, sort, group and measure', async () => {
    const probes = [
      '{ customers(first: 1) { nodes { customerId lifetimeRevenue } } }',
      '{ customers(first: 1, filter: { lifetimeRevenue: { gt: "0" } }) { totalCount } }',
      '{ customers(first: 1, orderBy: [{ field: lifetimeRevenue }]) { nodes { customerId } } }',
      '{ customersAggregate(groupBy: [region]) { count sum { lifetimeRevenue } } }',
      '{ customersAggregate(groupBy: [region]) { count max { lifetimeRevenue } } }',
      '{ customers(first: 1, filter: { phone: { isNull: true } }) { totalCount } }',
    ];
    for (const probe of probes) {
      const answer = await gql(limitedEU, probe);
      expect(answer.json.errors?.[0]?.extensions?.code, probe).toBe('BAD_USER_INPUT');
      expect(answer.json.errors?.[0]?.message, probe).toMatch(/^unknown field (lifetime_revenue|phone)$/);
      expect(answer.json.data?.customers ?? answer.json.data?.customersAggregate ?? null).toBeNull();
    }
  });

  it('REST and exports: the same 400 as for a column that does not exist', async () => {
    const body = (path: string) =>
      rest(limitedEU, path).then((a) => ({
        ...a,
        json: JSON.parse(a.text) as { error: { code: string; message: string } },
      }));
    for (const [hidden, missing] of [
      ['/v1/marts/customer_360?lifetime_revenue[gt]=0', '/v1/marts/customer_360?no_such_column[gt]=0'],
      ['/v1/marts/customer_360?sort=lifetime_revenue', '/v1/marts/customer_360?sort=no_such_column'],
      [
        '/v1/marts/customer_360?fields=customer_id,phone',
        '/v1/marts/customer_360?fields=customer_id,no_such_column',
      ],
      [
        '/v1/marts/customer_360/aggregate?groupBy=region&measures=sum:lifetime_revenue',
        '/v1/marts/customer_360/aggregate?groupBy=region&measures=sum:no_such_column',
      ],
    ] as const) {
      const a = await body(hidden);
      const b = await body(missing);
      expect(a.status, hidden).toBe(400);
      expect(b.status, missing).toBe(400);
      expect(a.json.error.code).toBe(b.json.error.code);
      expect(a.json.error.message.replace(/lifetime_revenue|phone/g, 'X')).toBe(
        b.json.error.message.replace(/no_such_column/g, 'X'),
      );
    }
    const exported = await rest(limitedEU, '/v1/marts/customer_360', 'application/x-ndjson');
    for (const row of ndjson(exported.text)) {
      expect(Object.keys(row)).not.toContain('lifetime_revenue');
      expect(Object.keys(row)).not.toContain('phone');
    }
  });
});

describe('masking: finance sees email partially on every path, and cannot filter or sort on it', () => {
  it('GraphQL, REST, NDJSON and CSV all mask', async () => {
    const clear = await sqlRows(customer360, 'email IS NOT NULL');
    expect(clear.length).toBeGreaterThan(0);
    const clearEmails = new Set(clear.map((r) => r.email));
    const masked = /^.\*\*\*@[^@]+$/;
    const g = await gql(finance, '{ customers(first: 500) { nodes { email } } }');
    const gEmails = (
      (g.json.data as Record<string, unknown>).customers as { nodes: Array<{ email: string | null }> }
    ).nodes
      .map((n) => n.email)
      .filter((e): e is string => e !== null);
    const r = (await restAll(finance, '/v1/marts/customer_360?fields=customer_id,email&limit=500'))
      .map((x) => x.email)
      .filter((e): e is string => typeof e === 'string');
    const nd = ndjson(
      (await rest(finance, '/v1/marts/customer_360?fields=customer_id,email', 'application/x-ndjson')).text,
    )
      .map((x) => x.email)
      .filter((e): e is string => typeof e === 'string');
    const c = csv((await rest(finance, '/v1/marts/customer_360?fields=customer_id,email', 'text/csv')).text)
      .map((x) => x.email)
      .filter((e): e is string => typeof e === 'string' && e !== '');
    for (const emails of [gEmails, r, nd, c]) {
      expect(emails.length).toBe(clear.length);
      for (const e of emails) {
        expect(e).toMatch(masked);
        expect(clearEmails.has(e)).toBe(false);
      }
    }
  });

  it('filters and sorts on a masked column are refused', async () => {
    const f = await gql(
      finance,
      '{ customers(first: 1, filter: { email: { startsWith: "a" } }) { totalCount } }',
    );
    expect(f.json.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const s = await gql(
      finance,
      '{ customers(first: 1, orderBy: [{ field: email }]) { nodes { customerId } } }',
    );
    expect(s.json.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect((await rest(finance, '/v1/marts/customer_360?email[startsWith]=a')).status).toBe(400);
    expect((await rest(finance, '/v1/marts/customer_360?sort=email')).status).toBe(400);
  });
});

describe('aggregate-only: an analyst gets groups of at least 5 customers and no rows', () => {
  it('rows are forbidden on every path', async () => {
    const g = await gql(analyst, '{ customers(first: 5) { nodes { customerId } } }');
    expect(g.json.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(g.json.data ?? null).toBeNull();
    expect((await rest(analyst, '/v1/marts/customer_360')).status).toBe(403);
    expect((await rest(analyst, '/v1/marts/customer_360', 'application/x-ndjson')).status).toBe(403);
    // Relations are row reads too.
    const nested = await gql(analyst, '{ invoices(first: 2) { nodes { invoiceId } } }');
    expect(nested.json.errors).toBeUndefined();
  });

  it('small groups are suppressed exactly as SQL with HAVING count(*) >= 5', async () => {
    const rel = await relationOf(customer360);
    const expected = (
      await h.engine.query({
        sql: sql`SELECT country, count(*) AS n FROM ${rel} AS m GROUP BY country HAVING count(*) >= 5 ORDER BY country NULLS LAST`,
      })
    ).rows;
    const small = (
      await h.engine.query({
        sql: sql`SELECT count(*) AS k FROM (SELECT country FROM ${rel} AS m GROUP BY country HAVING count(*) < 5)`,
      })
    ).rows[0]?.k;
    expect(Number(small)).toBeGreaterThan(0);
    const g = await gql(analyst, '{ customersAggregate(groupBy: [country]) { key { country } count } }');
    expect(g.json.data?.customersAggregate).toEqual(
      expected.map((r) => ({ key: { country: r.country }, count: Number(r.n) })),
    );
    const r = JSON.parse((await rest(analyst, '/v1/marts/customer_360/aggregate?groupBy=country')).text) as {
      groups: Array<{ key: { country: string }; count: number }>;
    };
    expect(r.groups.map((x) => [x.key.country, x.count])).toEqual(
      expected.map((x) => [x.country, Number(x.n)]),
    );
    // The total over every row is one group of all customers: allowed, and equal to SQL.
    const total = await gql(analyst, '{ customersAggregate { count } }');
    expect(total.json.data?.customersAggregate).toEqual([
      { count: (await sqlRows(customer360, 'TRUE')).length },
    ]);
  });

  it('hashed emails still group (HMAC is stable), yet never show a clear value', async () => {
    const answer = await gql(
      analyst,
      '{ invoicesAggregate(groupBy: [customerId]) { key { customerId } count } }',
    );
    expect(answer.json.errors).toBeUndefined();
    const g = await gql(analyst, '{ customersAggregate(groupBy: [email]) { key { email } count } }');
    expect(g.json.errors).toBeUndefined();
    // Every email is unique, so no group reaches 5: nothing comes back, not even hashes.
    expect(g.json.data?.customersAggregate).toEqual([]);
  });
});
