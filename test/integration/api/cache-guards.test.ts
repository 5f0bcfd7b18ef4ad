import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { QueryEngine } from '../../../src/adapters/query-engine/port.js';
import { createGateway, type Gateway } from '../../../src/api/gateway.js';
import { createHttpServer } from '../../../src/api/http.js';
import { type AccessPolicy, fullAccess } from '../../../src/auth/access.js';
import { createVerifier } from '../../../src/auth/verify.js';
import { goldDataset, runPrefix } from '../../../src/lake/layout.js';
import { publishRun, resolveLatest, rollbackTo } from '../../../src/lake/publish.js';
import { newRunId } from '../../../src/lake/run-id.js';
import { logger } from '../../../src/runtime/logger.js';
import { sql } from '../../../src/sql/fragment.js';
import { type ApiHarness, startApiHarness } from '../../support/api-harness.js';

/**
 * The answer cache, the guards and admission control, over HTTP through a
 * gateway built like the runtime's, with a two-role policy: `admin` reads
 * everything, `eu` reads customer_360 rows of region EU only.
 */

const twoRolePolicy: AccessPolicy = {
  accessFor(principal, mart) {
    if (principal.roles.includes('admin')) return fullAccess(mart);
    if (principal.roles.includes('eu') && mart.name === 'customer_360') {
      return { ...fullAccess(mart), rows: [[{ column: 'region', values: ['EU'] }]] };
    }
    return undefined;
  },
  fingerprint(principal) {
    return principal.roles.includes('admin') ? 'admin' : principal.roles.includes('eu') ? 'eu' : 'none';
  },
};

let h: ApiHarness;
let gateway: Gateway;
let server: Server;
let url: string;

async function startGateway(overrides: Partial<Parameters<typeof createGateway>[0]> = {}) {
  const g = await createGateway({
    engine: h.runtime.engine,
    store: h.store,
    verifier: await createVerifier(h.config.auth),
    policy: twoRolePolicy,
    logger,
    queryTimeoutMs: 10_000,
    maxPageSize: 500,
    maxEngineQueriesPerRequest: 16,
    admission: { limit: 4, maxQueue: 64, queueTimeoutMs: 5_000 },
    cacheBytes: 8 * 1024 * 1024,
    guards: { maxDepth: 6, maxAliases: 5, maxTokens: 1_000, maxRows: 50_000 },
    production: false,
    ...overrides,
  });
  const s = createHttpServer(g, logger);
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()));
  return { g, s, url: `http://127.0.0.1:${(s.address() as AddressInfo).port}/graphql` };
}

async function stopGateway(g: Gateway, s: Server): Promise<void> {
  await new Promise<void>((resolve) => {
    s.close(() => resolve());
    s.closeAllConnections();
  });
  await g.stop();
}

beforeAll(async () => {
  h = await startApiHarness();
  ({ g: gateway, s: server, url } = await startGateway());
}, 180_000);

afterAll(async () => {
  if (gateway) await stopGateway(gateway, server);
  await h?.close();
});

async function ask(
  query: string,
  roles: string[] = ['admin'],
  target = url,
): Promise<{
  status: number;
  cache: string | null;
  body: Record<string, unknown>;
  retryAfter: string | null;
}> {
  const token = await h.token({ roles });
  const response = await fetch(target, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query }),
  });
  return {
    status: response.status,
    cache: response.headers.get('x-cache'),
    retryAfter: response.headers.get('retry-after'),
    body: (await response.json()) as Record<string, unknown>,
  };
}

const engineStatements = () => gateway.admission.stats.admitted;

describe('answer cache', () => {
  const query = '{ customers(first: 500) { nodes { customerId name region } } }';

  it('answers a repeated query from the cache without touching the engine', async () => {
    const first = await ask(query);
    expect(first.status).toBe(200);
    expect(first.cache).toBeNull();
    const before = engineStatements();
    const second = await ask(query);
    expect(second.cache).toBe('hit');
    expect(second.body).toEqual(first.body);
    expect(engineStatements()).toBe(before);
  });

  it('publishing a new Gold run changes the answer on the very next request', async () => {
    const dataset = goldDataset('customer_360', 1);
    const served = await resolveLatest(h.store, dataset);
    if (!served) throw new Error('customer_360 not served');
    const before = await ask(query);
    const firstId = ((before.body.data as { customers: { nodes: Array<{ customerId: string }> } }).customers
      .nodes[0]?.customerId ?? '') as string;
    // A new run: the served rows with one customer renamed, written and published as the pipeline does.
    const runId = newRunId(new Date(Date.now() + 1000));
    const prefix = runPrefix(dataset, runId);
    const rel = h.engine.martRelation({
      mart: 'customer_360',
      schemaVersion: 1,
      runId: served.run_id,
      prefix: served.path,
    });
    await h.engine.execute({
      sql: sql`COPY (SELECT * REPLACE (CASE WHEN customer_id = ${firstId} THEN 'Renamed Ltd' ELSE name END AS name) FROM ${rel} AS m) TO ${`${await h.store.prepareWrite(prefix)}/part-00000.parquet`} (FORMAT parquet)`,
    });
    await publishRun(h.store, dataset, { runId, rowCount: served.row_count, checks: [] });
    try {
      const after = await ask(query);
      expect(after.cache).toBeNull();
      const nodes = (after.body.data as { customers: { nodes: Array<{ customerId: string; name: string }> } })
        .customers.nodes;
      expect(nodes.find((n) => n.customerId === firstId)?.name).toBe('Renamed Ltd');
      // And the new answer is cached in turn.
      expect((await ask(query)).cache).toBe('hit');
    } finally {
      await rollbackTo(h.store, dataset, served.run_id);
    }
    // Rolling back is a publish too: the old answer comes back at once.
    const back = await ask(query);
    expect(back.body).toEqual(before.body);
  });

  it('computes the same query twice for two callers with different policies, and never shares', async () => {
    const q = '{ customers(first: 500) { nodes { customerId region } } }';
    const statements = engineStatements();
    const admin = await ask(q, ['admin']);
    const eu = await ask(q, ['eu']);
    expect(engineStatements() - statements).toBe(2);
    expect(admin.cache).toBeNull();
    expect(eu.cache).toBeNull();
    const euRegions = new Set(
      (eu.body.data as { customers: { nodes: Array<{ region: string }> } }).customers.nodes.map(
        (n) => n.region,
      ),
    );
    expect([...euRegions]).toEqual(['EU']);
    const adminRegions = new Set(
      (admin.body.data as { customers: { nodes: Array<{ region: string }> } }).customers.nodes.map(
        (n) => n.region,
      ),
    );
    expect(adminRegions.size).toBeGreaterThan(1);
    // Each now hits its own entry.
    expect((await ask(q, ['eu'])).body).toEqual(eu.body);
    expect((await ask(q, ['admin'])).body).toEqual(admin.body);
  });

  it('runs the engine once for a burst of the same request, and every caller gets its answer', async () => {
    const { g, s, url: slow } = await startGateway({ engine: slowEngine() });
    try {
      const token = await h.token({ roles: ['admin'] });
      const post = (query: string) =>
        fetch(slow, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ query }),
        });
      // The token is checked once, so the burst below meets the cache without waiting on crypto.
      expect((await post('{ customers(first: 1) { nodes { customerId } } }')).status).toBe(200);
      const before = g.admission.stats.admitted;
      const answers = await Promise.all(
        Array.from({ length: 8 }, () => post('{ customers(first: 321) { nodes { customerId name } } }')),
      );
      const bodies = await Promise.all(answers.map((a) => a.text()));
      expect(answers.map((a) => a.status)).toEqual(Array(8).fill(200));
      expect(new Set(bodies).size).toBe(1);
      expect(g.admission.stats.admitted - before).toBe(1);
      expect(answers.filter((a) => a.headers.get('x-cache') === 'hit')).toHaveLength(7);
    } finally {
      await stopGateway(g, s);
    }
  });

  it('does not answer the same bytes sent as text/plain from the cache (the CSRF rule still applies)', async () => {
    const token = await h.token({ roles: ['admin'] });
    const body = JSON.stringify({ query: '{ customers(first: 7) { nodes { customerId } } }' });
    const send = (contentType: string) =>
      fetch(url, {
        method: 'POST',
        headers: { 'content-type': contentType, authorization: `Bearer ${token}` },
        body,
      });
    expect((await send('application/json')).status).toBe(200);
    expect((await send('application/json')).headers.get('x-cache')).toBe('hit');
    const plain = await send('text/plain');
    expect(plain.status).toBe(400);
    expect(plain.headers.get('x-cache')).toBeNull();
  });

  it('does not cache errors', async () => {
    const bad = '{ customers(first: 100000) { nodes { customerId } } }';
    expect((await ask(bad)).body.errors).toBeDefined();
    expect((await ask(bad)).cache).toBeNull();
  });
});

describe('guards', () => {
  const code = (body: Record<string, unknown>) =>
    (body.errors as Array<{ extensions?: { code?: string } }> | undefined)?.[0]?.extensions?.code;

  it('refuses deep, alias-heavy, long and row-hungry operations with QUERY_TOO_COMPLEX', async () => {
    const deep = '{ customers { nodes { invoices { payments { paymentId } } } } }';
    expect((await ask(deep)).status).toBe(200);
    const aliases = `{ ${Array.from({ length: 8 }, (_, i) => `a${i}: customers(first: 1) { nodes { customerId } }`).join(' ')} }`;
    const tokens = `{ customers(first: 1) { nodes { ${Array.from({ length: 1200 }, () => 'customerId').join(' ')} } } }`;
    const hungry = '{ customers(first: 500) { nodes { invoices(first: 100) { invoiceId } } } }';
    // Fragments do not hide rows from the budget.
    const viaFragment =
      'query { customers(first: 500) { nodes { ...F } } } fragment F on Customer { invoices(first: 100) { invoiceId } }';
    const viaVariable = {
      query: 'query($n: Int) { customers(first: 500) { nodes { invoices(first: $n) { invoiceId } } } }',
      variables: { n: 100 },
    };
    for (const q of [aliases, tokens, hungry, viaFragment]) {
      const answer = await ask(q);
      expect(code(answer.body), q.slice(0, 60)).toBe('QUERY_TOO_COMPLEX');
      expect(answer.status, JSON.stringify(answer.body)).toBe(400);
    }
    const token = await h.token({ roles: ['admin'] });
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(viaVariable),
    });
    expect(code((await response.json()) as Record<string, unknown>)).toBe('QUERY_TOO_COMPLEX');
  });

  it('refuses batched operations (they would multiply every limit)', async () => {
    const token = await h.token({ roles: ['admin'] });
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify([
        { query: '{ customers(first: 1) { nodes { customerId } } }' },
        { query: '{ __typename }' },
      ]),
    });
    expect(response.status).toBe(400);
  });

  it('caps the engine queries of one request', async () => {
    const { g, s, url: tight } = await startGateway({ maxEngineQueriesPerRequest: 2, cacheBytes: 0 });
    try {
      const answer = await ask(
        '{ customers(first: 2) { totalCount nodes { invoices(first: 1) { invoiceId } } } }',
        ['admin'],
        tight,
      );
      expect(code(answer.body)).toBe('QUERY_TOO_COMPLEX');
    } finally {
      await stopGateway(g, s);
    }
  });
});

/** The real engine, each statement held 150 ms longer, so a burst overlaps whatever the machine's speed. */
function slowEngine(): QueryEngine {
  const real = h.runtime.engine;
  return {
    kind: real.kind,
    martRelation: (ref) => real.martRelation(ref),
    stream: (r) => real.stream(r),
    execute: (r) => real.execute(r),
    close: async () => {},
    async query(request) {
      await new Promise((resolve) => setTimeout(resolve, 150));
      return real.query(request);
    },
  };
}

describe('admission control', () => {
  it('a caller that hangs up while queued leaves the queue without an internal error', async () => {
    const quiet = new Logger({ serviceName: 'test', logLevel: 'SILENT' });
    const errors = vi.spyOn(quiet, 'error');
    const {
      g,
      s,
      url: narrow,
    } = await startGateway({
      admission: { limit: 1, maxQueue: 8, queueTimeoutMs: 30_000 },
      cacheBytes: 0,
      engine: slowEngine(),
      logger: quiet,
    });
    try {
      const token = await h.token({ roles: ['admin'] });
      const post = (query: string, signal?: AbortSignal) =>
        fetch(narrow, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ query }),
          ...(signal ? { signal } : {}),
        });
      const holder = post('{ customers(first: 11) { nodes { customerId } } }');
      while (g.admission.active === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      const controller = new AbortController();
      const gone = post('{ customers(first: 12) { nodes { customerId } } }', controller.signal).catch(
        (e: unknown) => e,
      );
      while (g.admission.stats.queued === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      controller.abort();
      expect(await gone).toBeInstanceOf(Error);
      while (g.admission.stats.aborted === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      expect((await holder).status).toBe(200);
      expect(errors).not.toHaveBeenCalled();
    } finally {
      await stopGateway(g, s);
    }
  });

  it('queues beyond the limit, then answers ENGINE_BUSY with Retry-After when the queue is full', async () => {
    // One slot, no queue: concurrent requests beyond the first are refused at once, never piled on the engine.
    const {
      g,
      s,
      url: narrow,
    } = await startGateway({
      admission: { limit: 1, maxQueue: 0, queueTimeoutMs: 2_000 },
      cacheBytes: 0,
      engine: slowEngine(),
    });
    try {
      const answers = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          ask(`{ customers(first: ${400 + i}) { nodes { customerId name email } } }`, ['admin'], narrow),
        ),
      );
      const busy = answers.filter((a) => a.status === 503);
      const ok = answers.filter((a) => a.status === 200);
      expect(ok.length).toBeGreaterThan(0);
      expect(busy.length).toBeGreaterThan(0);
      for (const b of busy) {
        expect((b.body.errors as Array<{ extensions: { code: string } }>)[0]?.extensions.code).toBe(
          'ENGINE_BUSY',
        );
        expect(Number(b.retryAfter)).toBeGreaterThanOrEqual(1);
      }
      expect(g.admission.stats.refused).toBeGreaterThan(0);
    } finally {
      await stopGateway(g, s);
    }
    // With a queue, the same burst is served in full, one statement at a time.
    const queued = await startGateway({
      admission: { limit: 1, maxQueue: 64, queueTimeoutMs: 30_000 },
      cacheBytes: 0,
    });
    try {
      const answers = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          ask(`{ customers(first: ${300 + i}) { nodes { customerId } } }`, ['admin'], queued.url),
        ),
      );
      expect(answers.map((a) => a.status)).toEqual(Array(8).fill(200));
      expect(queued.g.admission.stats.queued).toBeGreaterThan(0);
    } finally {
      await stopGateway(queued.g, queued.s);
    }
  });
});
