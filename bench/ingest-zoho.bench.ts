import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalObjectStore } from '../src/adapters/object-store/local.js';
import type { CompanyHistory, ZohoVersion } from '../src/ingest/demo/history.js';
import { RequestBudget, TokenCache, ZohoBooksClient } from '../src/ingest/zoho/client.js';
import { ZOHO_ENTITIES, type ZohoEntity } from '../src/ingest/zoho/entities.js';
import { LocalZohoServer } from '../src/ingest/zoho/local-server.js';
import { pullZoho } from '../src/ingest/zoho/pull.js';
import { report } from './lib/report.js';

/**
 * The Zoho puller's achieved request rate against the local Zoho Books server
 * whose rate limit is set EQUAL to the client's budget. Zoho's real budget is
 * 100 requests per minute; measuring that takes minutes, so the bench scales
 * the window to one second (default 10 requests per second for 30 s), which
 * is harsher: the same jitter is a larger share of a shorter window.
 * Goals: achieved / budget >= 0.90 and no 429.
 *
 * Args: [requests per second = 10] [seconds = 30] [safety = the client's default, 0.02]
 */
export default async function bench(args: readonly string[]): Promise<void> {
  const rate = Number(args[0] ?? 10);
  const seconds = Number(args[1] ?? 30);
  const safety = Number(args[2] ?? 0.02);
  if (!(rate > 0) || !(seconds > 0) || !(safety >= 0)) throw new Error('usage: [rate/s] [seconds] [safety]');
  // Enough pages that the pull is still busy when the time is up.
  const pages = Math.ceil(rate * seconds * 1.5);
  const history = syntheticHistory(pages * 200);
  const root = await mkdtemp(join(tmpdir(), 'goldgate-bench-zoho-'));
  const server = await LocalZohoServer.start({
    history,
    rateLimit: { limit: rate, windowMs: 1_000 },
    maxRefreshesPerMinute: 100,
  });
  try {
    const client = new ZohoBooksClient({
      credentials: server.credentials,
      organizationId: server.organizationId,
      accountsUrl: server.accountsUrl,
      tokenCache: new TokenCache(),
      budget: new RequestBudget({ limit: rate, windowMs: 1_000, safety, dailyLimit: 1_000_000 }),
      retry: { maxAttempts: 8, baseMs: 100, capMs: 2_000 },
      timeoutMs: 10_000,
    });
    const store = new LocalObjectStore(join(root, 'lake'));
    // Stop the pull when the time is up (as a killed run would be): the rate is over a fixed span.
    const stop = new AbortController();
    const started = performance.now();
    let requestsAtStop = 0;
    const timer = setTimeout(() => {
      requestsAtStop = server.stats.apiRequests;
      stop.abort();
    }, seconds * 1000);
    let events = 0;
    const outcome = await pullZoho({ store, client, signal: stop.signal, pagesPerRun: 25 }).then(
      (result) => {
        const failed = result.entities.filter((e) => e.status === 'failed');
        if (failed.length > 0) throw new Error(`pull failed: ${failed.map((e) => e.error?.code).join(', ')}`);
        events = result.entities.reduce((n, e) => n + e.events, 0);
        return 'finished';
      },
      (error: unknown) => {
        if ((error as { code?: string }).code !== 'ZOHO_ABORTED') throw error;
        return 'stopped';
      },
    );
    clearTimeout(timer);
    const elapsed = outcome === 'stopped' ? seconds : (performance.now() - started) / 1000;
    const requests = outcome === 'stopped' ? requestsAtStop : server.stats.apiRequests;
    const achieved = requests / elapsed;
    await report('ingest-zoho', {
      budget_rps: { value: rate, unit: 'req/s' },
      server_limit_rps: { value: rate, unit: 'req/s' },
      achieved_rps: { value: achieved, unit: 'req/s' },
      achieved_over_budget: { value: achieved / rate, unit: 'ratio (goal >= 0.90)' },
      http_429: { value: server.stats.throttled, unit: 'answers (goal 0)' },
      requests: { value: requests, unit: 'requests' },
      elapsed_s: { value: elapsed, unit: 's' },
      events_landed: {
        value: events,
        unit: outcome === 'stopped' ? 'events (stopped: not counted)' : 'events',
      },
      client_safety: { value: safety, unit: 'share of window kept free' },
    });
  } finally {
    await server.close();
    await rm(root, { recursive: true, force: true });
  }
}

/** `records` simple records spread over the five entities, all created before the server's clock. */
function syntheticHistory(records: number): CompanyHistory {
  const base = Date.parse('2026-01-01T00:00:00.000Z');
  const entities = Object.keys(ZOHO_ENTITIES) as ZohoEntity[];
  const zoho: ZohoVersion[] = [];
  for (let i = 0; i < records; i++) {
    const entity = entities[i % entities.length] as ZohoEntity;
    const at = base + i * 1_000;
    const id = String(10_000_000_000_000_000n + BigInt(i));
    const time = `${new Date(at).toISOString().slice(0, 19)}+0000`;
    zoho.push({
      entity,
      id,
      validFrom: new Date(at).toISOString(),
      record: {
        [ZOHO_ENTITIES[entity].idField]: id,
        customer_id: String(20_000_000_000_000_000n + BigInt(i % 5_000)),
        status: 'active',
        total: 100 + (i % 900),
        currency_code: 'USD',
        reference_number: ' ',
        created_time: time,
        last_modified_time: time,
      },
    });
  }
  return {
    seed: 0,
    start: new Date(base).toISOString(),
    end: new Date(base + records * 1_000 + 60_000).toISOString(),
    zoho,
    streams: { accounts: [], users: [], usage_events: [] },
  };
}
