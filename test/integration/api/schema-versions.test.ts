import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCatalog, MARTS } from '../../../src/catalog/index.js';
import { invoices } from '../../../src/catalog/marts/finance.js';
import type { MartDef } from '../../../src/catalog/types.js';
import { goldDataset } from '../../../src/lake/layout.js';
import { type LatestPointer, resolveLatest } from '../../../src/lake/publish.js';
import { ident, join as joinSql, raw, sql } from '../../../src/sql/fragment.js';
import { GOLD_MODELS, type GoldModel } from '../../../src/transform/gold/index.js';
import { runPipeline } from '../../../src/transform/pipeline.js';
import { type ApiHarness, DEMO_NOW, startApiHarness, TOKEN_SETTINGS } from '../../support/api-harness.js';

/**
 * Issue 8, Done-when 3: a breaking change to `invoices` (two renamed columns,
 * one of them the row-scope column) ships as schema_v=2. The pipeline then
 * publishes v2 and keeps publishing v1 (a projection of v2), and callers of v1
 * (plain GraphQL names, REST without or with `schema_v=1`) keep getting the
 * answers they got before the change, under the same access rules.
 *
 * `before` serves the product catalog (invoices v1 only); `after` serves a
 * catalog with the breaking change, over a copy of the same lake on which a
 * pipeline run with the v2 model has been made.
 */

const RENAMES: Readonly<Record<string, string>> = { total: 'amount_total', region: 'customer_region' };
const renamed = (name: string): string => RENAMES[name] ?? name;

const invoicesV2: MartDef = {
  ...invoices,
  schemaVersion: 2,
  columns: invoices.columns.map((c) => ({ ...c, name: renamed(c.name) })),
  rowScope: { region: 'customer_region', customer: 'customer_id' },
  checks: {
    ...invoices.checks,
    ranges: (invoices.checks?.ranges ?? []).map((r) => ({ ...r, column: renamed(r.column) })),
  },
  previousVersions: [
    {
      schemaVersion: 1,
      change: 'total is now amount_total and region is now customer_region',
      retiresOn: '2027-06-30',
      columns: invoices.columns.map((c) => (RENAMES[c.name] ? { ...c, from: renamed(c.name) } : c)),
    },
  ],
};

const baseModel = GOLD_MODELS.find((m) => m.mart.name === 'invoices') as GoldModel;
/** The v2 model: the same invoices, under v2's column names. */
const v2Model: GoldModel = {
  mart: invoicesV2,
  inputs: baseModel.inputs,
  query: (ctx) =>
    sql`SELECT ${joinSql(
      invoices.columns.map((c) => sql`q.${raw(ident(c.name))} AS ${raw(ident(renamed(c.name)))}`),
      ', ',
    )} FROM (${baseModel.query(ctx)}) AS q`,
};
const catalogV2 = createCatalog(MARTS.map((m) => (m.name === 'invoices' ? invoicesV2 : m)));

const REGION_ROLE = `
  eu_invoices:
    description: Test role reading invoices of its regions only.
    marts:
      invoices:
        columns: "*"
        rows:
          - { dimension: region, claim: regions }
`;

let before: ApiHarness;
let after: ApiHarness;
let policyDir: string;
let v1Before: LatestPointer | undefined;
let upgradeRun: string;

beforeAll(async () => {
  policyDir = await mkdtemp(join(tmpdir(), 'goldgate-versions-'));
  const policyFile = join(policyDir, 'policy.yaml');
  await writeFile(policyFile, `${await readFile('policies/demo.yaml', 'utf8')}\n${REGION_ROLE}`);
  const env = { GOLDGATE_POLICY_FILE: policyFile };
  before = await startApiHarness({ env });
  v1Before = await resolveLatest(before.store, goldDataset('invoices', 1));
  after = await startApiHarness({
    env,
    catalog: catalogV2,
    prepareLake: async (store, engine) => {
      const report = await runPipeline({
        store,
        engine,
        now: () => new Date(DEMO_NOW.getTime() + 3_600_000),
        models: GOLD_MODELS.map((m) => (m.mart.name === 'invoices' ? v2Model : m)),
      });
      if (report.status !== 'succeeded') throw new Error(`upgrade run ${report.status}`);
      upgradeRun = report.runId;
    },
  });
}, 300_000);

afterAll(async () => {
  await before?.close();
  await after?.close();
  if (policyDir) await rm(policyDir, { recursive: true, force: true });
});

const V1_PAGE = `{ invoices(first: 7, orderBy: [{ field: total, direction: DESC }]) {
  nodes { invoiceId invoiceNumber total region status balance }
  pageInfo { hasNextPage endCursor } } }`;
const V1_NESTED = `{ customers(first: 3) { nodes { customerId invoices(first: 2) { invoiceId total region } } } }`;
const V1_AGGREGATE = '{ invoicesAggregate(groupBy: [region]) { key { region } count sum { total } } }';

async function rest(h: ApiHarness, path: string, token?: string) {
  const response = await fetch(`${h.baseUrl}${path}`, {
    headers: { authorization: `Bearer ${token ?? (await h.adminToken())}` },
  });
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as Record<string, unknown>,
  };
}

function regionToken(h: ApiHarness, regions: string[]): Promise<string> {
  return h.token({
    roles: ['eu_invoices'],
    extraClaims: { [`${TOKEN_SETTINGS.claimsNamespace}regions`]: regions },
  });
}

describe('a breaking change ships as schema_v=2 while v1 keeps serving', () => {
  it('publishes schema_v=2 and republishes schema_v=1 from the same run, as v1 columns', async () => {
    const v2 = await resolveLatest(after.store, goldDataset('invoices', 2));
    const v1 = await resolveLatest(after.store, goldDataset('invoices', 1));
    expect(v1Before).toBeDefined();
    expect(v2?.run_id).toBe(upgradeRun);
    expect(v2?.schema_version).toBe(2);
    expect(v1?.run_id).toBe(upgradeRun);
    expect(v1?.run_id).not.toBe(v1Before?.run_id);
    // Read the two runs' files with SQL written here: v1 has v1's columns, the same rows and sums.
    const read = async (p: LatestPointer | undefined, version: number) => {
      if (!p) throw new Error('not published');
      const relation = after.engine.martRelation({
        mart: 'invoices',
        schemaVersion: version,
        runId: p.run_id,
        prefix: p.path,
      });
      const { rows } = await after.engine.query({
        sql: sql`SELECT * FROM ${relation} AS r ORDER BY invoice_id`,
        label: 'test.versions',
      });
      return rows;
    };
    const rows1 = await read(v1, 1);
    const rows2 = await read(v2, 2);
    expect(rows1.length).toBeGreaterThan(100);
    expect(rows1.length).toBe(rows2.length);
    expect(Object.keys(rows1[0] ?? {}).sort()).toEqual(invoices.columns.map((c) => c.name).sort());
    expect(Object.keys(rows2[0] ?? {}).sort()).toEqual(invoicesV2.columns.map((c) => c.name).sort());
    rows1.forEach((r, i) => {
      const r2 = rows2[i] ?? {};
      expect(r.invoice_id).toBe(r2.invoice_id);
      expect(r.total).toBe(r2.amount_total);
      expect(r.region).toBe(r2.customer_region);
    });
  });

  it('answers v1 callers over GraphQL exactly as before the change', async () => {
    for (const query of [V1_PAGE, V1_NESTED, V1_AGGREGATE]) {
      const was = await before.graphql(query);
      const is = await after.graphql(query);
      expect(was.json?.errors, was.text).toBeUndefined();
      expect(is.json?.errors, is.text).toBeUndefined();
      expect(is.json?.data).toEqual(was.json?.data);
    }
  });

  it('serves v2 under invoicesV2 with the new names, and the old names are gone there', async () => {
    const v1 = await after.graphql(V1_PAGE);
    const v2 =
      await after.graphql(`{ invoicesV2(first: 7, orderBy: [{ field: amountTotal, direction: DESC }]) {
      nodes { invoiceId invoiceNumber amountTotal customerRegion status balance } } }`);
    expect(v2.json?.errors, v2.text).toBeUndefined();
    type Nodes = { nodes: Array<Record<string, unknown>> };
    const oldNodes = (v1.json?.data?.invoices as Nodes | undefined)?.nodes ?? [];
    const newNodes = (v2.json?.data?.invoicesV2 as Nodes | undefined)?.nodes ?? [];
    expect(oldNodes).toHaveLength(7);
    expect(newNodes).toEqual(
      oldNodes.map(({ total, region, ...rest }) => ({ ...rest, amountTotal: total, customerRegion: region })),
    );
    const stale = await after.graphql('{ invoicesV2(first: 1) { nodes { total } } }');
    expect(stale.json?.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
    const item = await after.graphql(
      `{ invoiceV2(id: ${JSON.stringify(oldNodes[0]?.invoiceId)}) { amountTotal } invoice(id: ${JSON.stringify(oldNodes[0]?.invoiceId)}) { total } }`,
    );
    expect(item.json?.data).toEqual({
      invoiceV2: { amountTotal: oldNodes[0]?.total },
      invoice: { total: oldNodes[0]?.total },
    });
  });

  it('marks v1 deprecated in the schema, with the change and the retirement day', async () => {
    const answer = await after.graphql(
      '{ __type(name: "Query") { fields(includeDeprecated: true) { name isDeprecated deprecationReason } } }',
    );
    const type = answer.json?.data?.__type as { fields: Array<Record<string, unknown>> } | undefined;
    const fields = type?.fields ?? [];
    const byName = new Map(fields.map((f) => [f.name, f]));
    expect(byName.get('invoices')?.isDeprecated).toBe(true);
    expect(String(byName.get('invoices')?.deprecationReason)).toContain('2027-06-30');
    expect(byName.get('invoicesV2')?.isDeprecated).toBe(false);
    expect(byName.get('customers')?.isDeprecated).toBe(false);
  });

  it('answers REST callers of v1 as before, by default and with schema_v=1; schema_v=2 reads v2', async () => {
    const path = '/v1/marts/invoices?limit=5&sort=-total,invoice_id&fields=total,region,status';
    const was = await rest(before, path);
    expect(was.status).toBe(200);
    expect(was.headers.get('x-schema-version')).toBe('1');
    for (const p of [path, `${path}&schema_v=1`]) {
      const is = await rest(after, p);
      expect(is.status).toBe(200);
      expect(is.headers.get('x-schema-version')).toBe('1');
      expect(is.body.data).toEqual(was.body.data);
    }
    const v2 = await rest(
      after,
      '/v1/marts/invoices?schema_v=2&limit=5&sort=-amount_total,invoice_id&fields=amount_total,customer_region,status',
    );
    expect(v2.status).toBe(200);
    expect(v2.headers.get('x-schema-version')).toBe('2');
    expect(v2.body.data).toEqual(
      (was.body.data as Array<Record<string, unknown>>).map(({ total, region, ...rest }) => ({
        ...rest,
        amount_total: total,
        customer_region: region,
      })),
    );
    const wrongName = await rest(after, '/v1/marts/invoices?schema_v=2&fields=total');
    expect(wrongName.status).toBe(400);
    expect((await rest(after, '/v1/marts/invoices?schema_v=3')).status).toBe(404);
    expect((await rest(after, '/v1/marts/invoices?schema_v=one')).status).toBe(400);
    expect((await rest(after, '/v1/marts/invoices?schema_v=1&schema_v=2')).status).toBe(400);
  });

  it('lists both versions in the REST catalog, v1 with its deprecation', async () => {
    const listed = (await rest(after, '/v1/marts')).body.marts as Array<Record<string, unknown>>;
    const versions = listed.filter((m) => m.name === 'invoices');
    expect(versions.map((m) => m.schema_version)).toEqual([1, 2]);
    expect(String(versions[0]?.deprecation)).toContain('amount_total');
    expect(versions[1]?.deprecation).toBeNull();
    expect((versions[1]?.links as Record<string, string> | undefined)?.rows).toBe(
      '/v1/marts/invoices?schema_v=2',
    );
    const beforeListed = (await rest(before, '/v1/marts')).body.marts as Array<Record<string, unknown>>;
    expect(beforeListed.filter((m) => m.name === 'invoices').map((m) => m.schema_version)).toEqual([1]);
  });

  it('applies the current grant to v1: a region scope on customer_region scopes v1 by region', async () => {
    const token = await regionToken(after, ['EU']);
    const count = async (field: string, regionField: string) => {
      const answer = await after.graphql(
        `{ ${field}(first: 500) { totalCount nodes { ${regionField} } } }`,
        undefined,
        { token },
      );
      expect(answer.json?.errors, answer.text).toBeUndefined();
      return answer.json?.data?.[field] as { totalCount: number; nodes: Array<Record<string, string>> };
    };
    const v1 = await count('invoices', 'region');
    const v2 = await count('invoicesV2', 'customerRegion');
    const { rows } = await after.engine.query({
      sql: sql`SELECT count(*) AS n FROM ${after.engine.martRelation({
        mart: 'invoices',
        schemaVersion: 2,
        runId: upgradeRun,
        prefix: (await resolveLatest(after.store, goldDataset('invoices', 2)))?.path ?? '',
      })} AS r WHERE customer_region = ${'EU'}`,
      label: 'test.versions.eu',
    });
    const expected = Number(rows[0]?.n);
    expect(expected).toBeGreaterThan(0);
    expect(v1.totalCount).toBe(expected);
    expect(v2.totalCount).toBe(expected);
    expect(new Set(v1.nodes.map((n) => n.region))).toEqual(new Set(['EU']));
    expect(new Set(v2.nodes.map((n) => n.customerRegion))).toEqual(new Set(['EU']));
    // A role without invoices sees neither version, and both read as missing.
    const csm = await after.token({
      roles: ['csm'],
      extraClaims: { [`${TOKEN_SETTINGS.claimsNamespace}regions`]: ['EU'] },
    });
    for (const v of ['1', '2']) {
      const answer = await rest(after, `/v1/marts/invoices?schema_v=${v}`, csm);
      expect(answer.status).toBe(404);
    }
  });
});
