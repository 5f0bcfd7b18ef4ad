import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { LocalObjectStore } from '../../src/adapters/object-store/local.js';
import { DuckDbQueryEngine } from '../../src/adapters/query-engine/duckdb.js';
import { MARTS } from '../../src/catalog/index.js';
import { companyTables, generateCompanyChunks } from '../../src/ingest/demo/company.js';
import { consumeStreamBatch } from '../../src/ingest/dynamodb/consumer.js';
import { RequestBudget, TokenCache, ZohoBooksClient } from '../../src/ingest/zoho/client.js';
import { LocalZohoServer } from '../../src/ingest/zoho/local-server.js';
import { pullZoho } from '../../src/ingest/zoho/pull.js';
import { goldDataset } from '../../src/lake/layout.js';
import { resolveLatest } from '../../src/lake/publish.js';
import { runPipeline } from '../../src/transform/pipeline.js';

/**
 * A large demo lake for the API bench, built once and cached under
 * `.goldgate/bench-lakes/api-<hash>/` (gitignored with `.goldgate/`).
 *
 * `buildDemoLake` keeps the whole company in memory (about 280 MB per 1,000
 * customers with usage events), so at 300K customers it cannot run on one
 * machine. This builds the same kind of lake through the same production
 * paths, a chunk of customers at a time: the generator's chunks
 * (`generateCompanyChunks`, the same records in any chunking), each served by
 * the local Zoho Books server and read by the real puller (a full pull, since
 * chunks are disjoint customers and a watermark would skip the next chunk's
 * older records), the chunk's DynamoDB stream records through the real stream
 * consumer, then one pipeline run over all of Bronze. What differs from
 * `goldgate demo`: one pull at the end instead of pulls spread over a year (so
 * no reconciliation deletes), stream batches of 5,000 records (Lambda allows
 * up to 10,000; the demo uses 100), and product usage scaled by `activity`.
 */

/** What determines the lake; its hash names the cache folder. */
export interface ApiLakeParams {
  readonly seed: number;
  readonly customers: number;
  /** Multiplier of product usage (the generator's default is 1). */
  readonly activity: number;
  /** The history's end: fixed, so the same parameters give the same lake. */
  readonly now: string;
  /** Months of history before `now`. */
  readonly months: number;
}

/**
 * The API bench's lake: 24 months of the demo company (the `goldgate demo`
 * span), enough customers for about 2M Gold invoices (the generator gives
 * about 3.3 invoices per customer over 24 months), product usage at 1% of
 * the demo's (the KPI marts keep every date and region; only counts shrink).
 */
export const API_LAKE_DEFAULTS: ApiLakeParams = {
  seed: 7,
  customers: 606_000,
  activity: 0.01,
  now: '2026-11-21T06:00:00.000Z',
  months: 24,
};

/** The lake a bench reads, and how it came to be. */
export interface ApiLake {
  readonly root: string;
  readonly lakeDir: string;
  readonly stateDir: string;
  readonly params: ApiLakeParams;
  /** True when this call built it (false: reused from the cache). */
  readonly built: boolean;
  readonly manifest: ApiLakeManifest;
}

const manifestSchema = z.object({
  params: z.object({
    seed: z.number(),
    customers: z.number(),
    activity: z.number(),
    now: z.string(),
    months: z.number(),
  }),
  marts: z.array(z.string()),
  built_at: z.string(),
  build_s: z.number(),
  generate_s: z.number(),
  land_s: z.number(),
  pipeline_s: z.number(),
  bronze_events: z.number(),
  pipeline_status: z.string(),
});
export type ApiLakeManifest = z.infer<typeof manifestSchema>;

/** Bumped when the way the lake is built changes, so an old cache is not reused. */
const BUILDER_VERSION = 1;
const CHUNK_CUSTOMERS = 10_000;
/** Records per stream batch (Lambda's DynamoDB Streams maximum is 10,000). */
const STREAM_BATCH = 5_000;
const DAY_MS = 86_400_000;

/** The marts the lake is built for, with their schema versions: a catalog change invalidates the cache. */
function martVersions(): string[] {
  return MARTS.map((m) => `${m.name}@${m.schemaVersion}`).sort();
}

/** The cache folder name for these parameters. */
export function apiLakeName(params: ApiLakeParams): string {
  const digest = createHash('sha256')
    .update(JSON.stringify({ v: BUILDER_VERSION, params, marts: martVersions() }))
    .digest('hex')
    .slice(0, 12);
  return `api-${digest}`;
}

/** The cached lake for `params`, built first when absent (into a temp folder, renamed when complete). */
export async function ensureApiLake(
  baseDir: string,
  params: ApiLakeParams,
  say: (message: string) => void,
): Promise<ApiLake> {
  const root = join(baseDir, apiLakeName(params));
  const paths = { root, lakeDir: join(root, 'lake'), stateDir: join(root, 'state') };
  const existing = await readManifest(root);
  if (existing && (await servesEveryMart(paths.lakeDir))) {
    say(`reusing the bench lake ${root} (built ${existing.built_at} in ${existing.build_s.toFixed(0)} s)`);
    return { ...paths, params, built: false, manifest: existing };
  }
  await mkdir(baseDir, { recursive: true });
  const temp = join(baseDir, `.tmp-${apiLakeName(params)}-${process.pid}`);
  await rm(temp, { recursive: true, force: true });
  try {
    const manifest = await build(temp, params, say);
    await rm(root, { recursive: true, force: true });
    await rename(temp, root);
    say(`bench lake ready at ${root} in ${manifest.build_s.toFixed(0)} s`);
    return { ...paths, params, built: true, manifest };
  } catch (error) {
    await rm(temp, { recursive: true, force: true });
    throw error;
  }
}

async function readManifest(root: string): Promise<ApiLakeManifest | undefined> {
  try {
    const parsed = manifestSchema.safeParse(
      JSON.parse(await readFile(join(root, 'bench-lake.json'), 'utf8')),
    );
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

async function servesEveryMart(lakeDir: string): Promise<boolean> {
  const store = new LocalObjectStore(lakeDir);
  for (const mart of MARTS) {
    if (!(await resolveLatest(store, goldDataset(mart.name, mart.schemaVersion)))) return false;
  }
  return true;
}

async function build(
  root: string,
  params: ApiLakeParams,
  say: (message: string) => void,
): Promise<ApiLakeManifest> {
  const started = performance.now();
  const store = new LocalObjectStore(join(root, 'lake'));
  await mkdir(join(root, 'state'), { recursive: true });
  const end = new Date(params.now);
  const start = new Date(end.getTime() - Math.round(params.months * 30.44) * DAY_MS);
  const chunks = Math.ceil(params.customers / CHUNK_CUSTOMERS);
  let generateMs = 0;
  let landMs = 0;
  let events = 0;
  let pullAt = end.getTime();
  const tokens = new TokenCache();
  const tables = companyTables();
  say(
    `building a bench lake: ${params.customers} customers, ${params.months} months, usage x${params.activity}, ${chunks} chunks of ${CHUNK_CUSTOMERS}`,
  );
  const chunkIterator = generateCompanyChunks(
    { seed: params.seed, customers: params.customers, start, end, activity: params.activity },
    { chunkSize: CHUNK_CUSTOMERS },
  );
  let index = 0;
  for (;;) {
    const genStart = performance.now();
    const next = chunkIterator.next();
    generateMs += performance.now() - genStart;
    if (next.done) break;
    const chunk = next.value;
    index += 1;
    const landStart = performance.now();
    let chunkEvents = 0;
    for (const [table, records] of Object.entries(chunk.history.streams)) {
      for (let i = 0; i < records.length; i += STREAM_BATCH) {
        const batch = records.slice(i, i + STREAM_BATCH);
        const result = await consumeStreamBatch(store, { Records: batch }, { tables, now: end });
        if (result.batchItemFailures.length > 0) {
          const first = result.failures[0];
          throw new Error(`bench lake: a ${table} stream batch failed (${first?.code}: ${first?.reason})`);
        }
        chunkEvents += Object.values(result.landed).reduce((a, b) => a + b, 0);
      }
    }
    // Each chunk's pull is one second later than the last: run ids sort in landing order.
    pullAt += 1000;
    const at = new Date(pullAt);
    const server = await LocalZohoServer.start({ history: chunk.history, now: at, rateLimit: null });
    try {
      const client = new ZohoBooksClient({
        credentials: server.credentials,
        organizationId: server.organizationId,
        accountsUrl: server.accountsUrl,
        tokenCache: tokens,
        budget: new RequestBudget({ limit: 100_000, windowMs: 1_000, dailyLimit: 100_000_000 }),
        retry: { maxAttempts: 5, baseMs: 50, capMs: 1_000 },
        now: () => at.getTime(),
      });
      const pulled = await pullZoho({ store, client, full: true, now: () => at });
      const failed = pulled.entities.filter((e) => e.status !== 'complete');
      if (failed.length > 0) {
        throw new Error(
          `bench lake: the Zoho pull of chunk ${index} failed: ${failed.map((e) => `${e.entity} ${e.status} ${e.error?.code ?? ''}`).join(', ')}`,
        );
      }
      chunkEvents += pulled.entities.reduce((sum, e) => sum + e.events, 0);
    } finally {
      await server.close();
    }
    events += chunkEvents;
    landMs += performance.now() - landStart;
    say(
      `chunk ${index}/${chunks}: customers ${chunk.firstCustomer}..${chunk.firstCustomer + chunk.customerCount - 1}, ${chunkEvents} Bronze events (${events} so far, ${((performance.now() - started) / 1000).toFixed(0)} s)`,
    );
  }
  const pipeStart = performance.now();
  const engine = await DuckDbQueryEngine.create({ store });
  let status: string;
  try {
    const report = await runPipeline({
      store,
      engine,
      now: () => new Date(pullAt + 60_000),
      onProgress: (e) => say(`[${e.index}/${e.total}] ${e.step}: ${e.detail}`),
    });
    status = report.status;
    if (report.status !== 'succeeded') {
      throw new Error(
        `bench lake: the pipeline ${report.status}${report.error ? ` (${report.error.code} at ${report.error.step})` : ''}`,
      );
    }
  } finally {
    await engine.close();
  }
  const pipelineMs = performance.now() - pipeStart;
  const manifest: ApiLakeManifest = {
    params: { ...params },
    marts: martVersions(),
    built_at: new Date().toISOString(),
    build_s: (performance.now() - started) / 1000,
    generate_s: generateMs / 1000,
    land_s: landMs / 1000,
    pipeline_s: pipelineMs / 1000,
    bronze_events: events,
    pipeline_status: status,
  };
  await writeFile(join(root, 'bench-lake.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}
