import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MARTS } from '../../../src/catalog/index.js';
import { goldDataset } from '../../../src/lake/layout.js';
import { resolveLatest } from '../../../src/lake/publish.js';
import { type ApiHarness, startApiHarness, TOKEN_SETTINGS } from '../../support/api-harness.js';

/** Freshness over GraphQL: per mart, under the mart's own access rule, never cached. */

let h: ApiHarness;

beforeAll(async () => {
  h = await startApiHarness();
}, 180_000);

afterAll(async () => {
  await h?.close();
});

interface MartInfo {
  name: string;
  listField: string | null;
  freshness: {
    mart: string;
    served: { runId: string; rowCount: number } | null;
    newestSourceChange: Array<{ source: string; at: string }>;
    sla: { state: string; kind: string };
  };
}

const MARTS_QUERY =
  '{ marts { name listField freshness { mart served { runId rowCount } newestSourceChange { source at } sla { state kind } } } }';

describe('freshness', () => {
  it('lists every mart for admin, with the served run, source changes and an SLA state', async () => {
    const answer = await h.graphql(MARTS_QUERY);
    expect(answer.json?.errors, answer.text).toBeUndefined();
    const marts = (answer.json?.data?.marts ?? []) as MartInfo[];
    expect(marts.map((m) => m.name)).toEqual(MARTS.map((m) => m.name));
    for (const m of marts) {
      const pointer = await resolveLatest(h.store, goldDataset(m.name, 1));
      expect(m.freshness.served?.runId).toBe(pointer?.run_id);
      expect(m.freshness.served?.rowCount).toBe(pointer?.row_count);
      expect(['ON_TIME', 'LATE', 'BREACHED', 'UNKNOWN']).toContain(m.freshness.sla.state);
    }
    const c360 = marts.find((m) => m.name === 'customer_360');
    expect(c360?.freshness.newestSourceChange.length).toBeGreaterThan(0);
  });

  it('shows a csm only the marts it may read, and aggregate-only marts without a list field', async () => {
    const csm = await h.token({
      roles: ['csm'],
      extraClaims: { [`${TOKEN_SETTINGS.claimsNamespace}regions`]: ['EU'] },
    });
    const csmMarts = ((await h.graphql(MARTS_QUERY, undefined, { token: csm })).json?.data?.marts ??
      []) as MartInfo[];
    expect(csmMarts.map((m) => m.name).sort()).toEqual([
      'customer_360',
      'kpi_daily_usage',
      'kpi_funnel',
      'kpi_retention',
    ]);
    const analyst = await h.token({ roles: ['analyst'] });
    const analystMarts = ((await h.graphql(MARTS_QUERY, undefined, { token: analyst })).json?.data?.marts ??
      []) as MartInfo[];
    expect(analystMarts.find((m) => m.name === 'customer_360')?.listField).toBeNull();
    expect(analystMarts.find((m) => m.name === 'invoices')?.listField).toBe('invoices');
    // A connection's freshness follows the mart's access: no grant, no freshness.
    const denied = await h.graphql('{ invoices(first: 1) { freshness { mart } } }', undefined, {
      token: csm,
    });
    expect(denied.json?.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  it('answers on a connection, and is never served from the answer cache', async () => {
    const q = '{ customers(first: 1) { nodes { customerId } freshness { served { runId } sla { state } } } }';
    const first = await h.graphql(q);
    const second = await h.graphql(q);
    expect(first.json?.errors).toBeUndefined();
    const pointer = await resolveLatest(h.store, goldDataset('customer_360', 1));
    const data = first.json?.data as { customers: { freshness: { served: { runId: string } } } };
    expect(data.customers.freshness.served.runId).toBe(pointer?.run_id);
    expect(second.headers.get('x-cache')).toBeNull();
    // Without freshness, the same list is cached.
    const plain = '{ customers(first: 1) { nodes { customerId } } }';
    await h.graphql(plain);
    expect((await h.graphql(plain)).headers.get('x-cache')).toBe('hit');
  });
});
