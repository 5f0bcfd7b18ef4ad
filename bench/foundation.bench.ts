import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHttpServer } from '../src/api/http.js';
import { ensureDevKeys } from '../src/auth/dev-keys.js';
import { signDevToken } from '../src/auth/token.js';
import { loadConfig } from '../src/config/index.js';
import { generateCompanyHistory } from '../src/ingest/demo/company.js';
import { DemoSources } from '../src/ingest/demo/land.js';
import { createApiRuntime } from '../src/runtime/app.js';
import { logger } from '../src/runtime/logger.js';
import { createObjectStore, createQueryEngine } from '../src/runtime/stores.js';
import { runPipeline } from '../src/transform/pipeline.js';
import { quantile, report } from './lib/report.js';

/**
 * The embedded home end to end: land a synthetic company in Bronze (a full
 * pull from the local Zoho server over HTTP, the stream records through the
 * consumer in batches of 100), run the pipeline, then time GraphQL pages over
 * HTTP on 127.0.0.1 (sequential, so the figure is latency, not throughput).
 * The usage-event stream is left out: at this size it would be millions of
 * records, and the stream consumer and the pipeline have benches of their own.
 * Args: [customers] [requests].
 */

const NOW = new Date('2026-11-21T06:00:00Z');
export default async function bench(args: readonly string[]): Promise<void> {
  const customers = Number(args[0] ?? 20_000);
  const requests = Number(args[1] ?? 300);
  logger.setLogLevel('ERROR');
  const root = await mkdtemp(join(tmpdir(), 'goldgate-bench-'));
  try {
    const config = loadConfig({
      ...process.env,
      GOLDGATE_LAKE_DIR: join(root, 'lake'),
      GOLDGATE_STATE_DIR: join(root, 'state'),
      GOLDGATE_PORT: '0',
    });
    const store = createObjectStore(config);
    const engine = await createQueryEngine(config, store);

    const genStart = performance.now();
    const history = generateCompanyHistory({
      seed: 7,
      customers,
      start: new Date(NOW.getTime() - 730 * 86_400_000),
      end: NOW,
      only: ['zoho', 'accounts', 'users'],
    });
    const generateMs = performance.now() - genStart;
    const landStart = performance.now();
    const landed = await DemoSources.start({ store, history });
    try {
      await landed.deliverStreams(NOW);
      await landed.pull(NOW);
    } finally {
      await landed.close();
    }
    const landMs = performance.now() - landStart;
    const pipeStart = performance.now();
    const pipeline = await runPipeline({ store, engine });
    const pipelineMs = performance.now() - pipeStart;
    await engine.close();
    const goldRows = pipeline.steps.find((s) => s.step === 'gold.customer_360')?.rowsOut ?? 0;

    const runtime = await createApiRuntime(config);
    const server = createHttpServer(runtime.gateway, logger);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    const key = await ensureDevKeys(config.stateDir);
    const token = await signDevToken(key, { subject: 'bench', roles: ['admin'] }, config.auth);
    const body = JSON.stringify({
      query:
        'query($r: String) { customers(first: 50, filter: { region: { eq: $r } }) { nodes { customerId name region lifetimeRevenue } } }',
    });
    const regions = ['EU', 'NA', 'APAC', 'LATAM', 'MEA'];
    const latencies: number[] = [];
    for (let i = 0; i < requests; i++) {
      const started = performance.now();
      const res = await fetch(`http://127.0.0.1:${port}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: body.replace('"query"', `"variables":{"r":"${regions[i % regions.length]}"},"query"`),
      });
      const json = (await res.json()) as { data?: { customers?: { nodes?: unknown[] } } };
      if (res.status !== 200 || !json.data?.customers?.nodes?.length)
        throw new Error(`bad answer ${res.status}`);
      latencies.push(performance.now() - started);
    }
    server.close();
    await runtime.close();

    await report('foundation', {
      customers: { value: customers, unit: 'customers' },
      bronze_events: { value: landed.events, unit: 'events' },
      generate_s: { value: generateMs / 1000, unit: 's' },
      land_events_per_s: { value: Math.round(landed.events / (landMs / 1000)), unit: 'events/s' },
      pipeline_s: { value: pipelineMs / 1000, unit: 's' },
      pipeline_events_per_s: { value: Math.round(landed.events / (pipelineMs / 1000)), unit: 'events/s' },
      gold_customer_360_rows: { value: goldRows, unit: 'rows' },
      api_page50_p50_ms: { value: quantile(latencies, 0.5), unit: 'ms' },
      api_page50_p99_ms: { value: quantile(latencies, 0.99), unit: 'ms' },
      api_requests: { value: requests, unit: 'requests' },
    });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
