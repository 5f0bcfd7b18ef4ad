import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
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
import { GOLD_MODELS } from '../../src/transform/gold/index.js';
import { runPipeline } from '../../src/transform/pipeline.js';

/**
 * A large demo lake for the API bench, built once and cached under
 * `.goldgate/bench-lakes/api-<hash>/` (gitignored with `.goldgate/`).
 *
 * `buildDemoLake` keeps the whole company in memory (about 280 MB per 1,000
 * customers with usage events), so at 600K customers it cannot run on one
 * machine. This builds the same kind of lake through the same production
 * paths, a chunk of customers at a time: the generator's chunks
 * (`generateCompanyChunks`, the same records in any chunking), each served by
 * the local Zoho Books server and read by the real puller (a full pull, since
 * chunks are disjoint customers and a watermark would skip the next chunk's
 * older records), the chunk's DynamoDB stream records through the real stream
 * consumer, then one pipeline run over all of Bronze. What differs from
 * `goldgate demo`: one pull at the end instead of pulls spread over a year (so
 * no reconciliation deletes), stream batches of 5,000 records (Lambda allows
 * up to 10,000; the demo uses 100), product usage scaled by `activity`, and
 * the marts in `LEFT_OUT_MARTS` are not built.
 *
 * Landing takes most of the time (about 25 min at 600K customers on 2 busy
 * cores), so a landed temp folder (`landed.json` written) survives a failed or
 * stopped pipeline and the next call resumes from it.
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

/**
 * Marts the bench lake leaves out. `mrr_monthly`'s model joins profiles with
 * `customer_id = ... AND (start_date <= d AND (effective_end IS NULL OR ...))`;
 * DuckDB plans that as a blockwise nested-loop join (the OR hides the hash
 * key), quadratic in customers: 15 s at 30K customers, about 100 min of
 * full-speed CPU at 600K. The API bench reads none of it. Remove it from this
 * list (and bump BUILDER_VERSION) once the model's join is hash-joinable.
 */
export const LEFT_OUT_MARTS: readonly string[] = ['mrr_monthly'];

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

const landedSchema = z.object({
  /** Generation and landing, wall clock. */
  landing_s: z.number(),
  bronze_events: z.number(),
  /** The simulated time of the last pull; the pipeline runs after it. */
  last_pull_at: z.string(),
  landed_at: z.string(),
  /** Anything a reader of the build time should know (e.g. work of a stopped pipeline run not counted). */
  note: z.string().optional(),
});
type Landed = z.infer<typeof landedSchema>;

const manifestSchema = z.object({
  params: z.object({
    seed: z.number(),
    customers: z.number(),
    activity: z.number(),
    now: z.string(),
    months: z.number(),
  }),
  marts: z.array(z.string()),
  left_out_marts: z.array(z.string()),
  built_at: z.string(),
  /** Landing plus the pipeline run that completed the lake. */
  build_s: z.number(),
  landing_s: z.number(),
  pipeline_s: z.number(),
  /** True when the landing came from an earlier process whose pipeline did not finish. */
  resumed: z.boolean(),
  bronze_events: z.number(),
  pipeline_status: z.string(),
  note: z.string().optional(),
});
export type ApiLakeManifest = z.infer<typeof manifestSchema>;

/** Bumped when the way the lake is built changes, so an old cache is not reused. */
const BUILDER_VERSION = 2;
const CHUNK_CUSTOMERS = 10_000;
/** Records per stream batch (Lambda's DynamoDB Streams maximum is 10,000). */
const STREAM_BATCH = 5_000;
const DAY_MS = 86_400_000;
const LANDED = 'landed.json';
const MANIFEST = 'bench-lake.json';

/** The marts the lake is built for, with their schema versions: a catalog change invalidates the cache. */
function martVersions(): string[] {
  return builtMarts()
    .map((m) => `${m.name}@${m.schemaVersion}`)
    .sort();
}

function builtMarts() {
  return MARTS.filter((m) => !LEFT_OUT_MARTS.includes(m.name));
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
  const name = apiLakeName(params);
  const root = join(baseDir, name);
  const paths = { root, lakeDir: join(root, 'lake'), stateDir: join(root, 'state') };
  const existing = await readJsonFile(join(root, MANIFEST), manifestSchema);
  if (existing && (await servesEveryMart(paths.lakeDir))) {
    say(`reusing the bench lake ${root} (built ${existing.built_at} in ${existing.build_s.toFixed(0)} s)`);
    return { ...paths, params, built: false, manifest: existing };
  }
  await mkdir(baseDir, { recursive: true });
  const resumable = await findLanded(baseDir, name);
  const temp = resumable?.dir ?? join(baseDir, `.tmp-${name}-${process.pid}`);
  if (!resumable) await rm(temp, { recursive: true, force: true });
  try {
    if (resumable) say(`resuming the landed bench lake ${temp} (landed ${resumable.landed.landed_at})`);
    const landed = resumable?.landed ?? (await land(temp, params, say));
    const manifest = await finish(temp, params, landed, Boolean(resumable), say);
    await rm(root, { recursive: true, force: true });
    await rename(temp, root);
    say(`bench lake ready at ${root} (${manifest.build_s.toFixed(0)} s of building)`);
    return { ...paths, params, built: true, manifest };
  } catch (error) {
    // A finished landing is kept for the next call; anything less is started over.
    if (!(await readJsonFile(join(temp, LANDED), landedSchema)))
      await rm(temp, { recursive: true, force: true });
    throw error;
  }
}

async function readJsonFile<T>(file: string, schema: z.ZodType<T>): Promise<T | undefined> {
  try {
    const parsed = schema.safeParse(JSON.parse(await readFile(file, 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

async function findLanded(
  baseDir: string,
  name: string,
): Promise<{ dir: string; landed: Landed } | undefined> {
  for (const entry of await readdir(baseDir)) {
    if (!entry.startsWith(`.tmp-${name}-`)) continue;
    const dir = join(baseDir, entry);
    const landed = await readJsonFile(join(dir, LANDED), landedSchema);
    if (landed) return { dir, landed };
  }
  return undefined;
}

async function servesEveryMart(lakeDir: string): Promise<boolean> {
  const store = new LocalObjectStore(lakeDir);
  for (const mart of builtMarts()) {
    if (!(await resolveLatest(store, goldDataset(mart.name, mart.schemaVersion)))) return false;
  }
  return true;
}

/** Generate the company chunk by chunk and land it in Bronze through the real puller and consumer. */
async function land(root: string, params: ApiLakeParams, say: (message: string) => void): Promise<Landed> {
  const started = performance.now();
  const store = new LocalObjectStore(join(root, 'lake'));
  await mkdir(join(root, 'state'), { recursive: true });
  const end = new Date(params.now);
  const start = new Date(end.getTime() - Math.round(params.months * 30.44) * DAY_MS);
  const chunks = Math.ceil(params.customers / CHUNK_CUSTOMERS);
  let events = 0;
  let pullAt = end.getTime();
  const tokens = new TokenCache();
  const tables = companyTables();
  say(
    `building a bench lake: ${params.customers} customers, ${params.months} months, usage x${params.activity}, ${chunks} chunks of ${CHUNK_CUSTOMERS}`,
  );
  let index = 0;
  for (const chunk of generateCompanyChunks(
    { seed: params.seed, customers: params.customers, start, end, activity: params.activity },
    { chunkSize: CHUNK_CUSTOMERS },
  )) {
    index += 1;
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
    say(
      `chunk ${index}/${chunks}: customers ${chunk.firstCustomer}..${chunk.firstCustomer + chunk.customerCount - 1}, ${chunkEvents} Bronze events (${events} so far, ${((performance.now() - started) / 1000).toFixed(0)} s)`,
    );
  }
  const landed: Landed = {
    landing_s: (performance.now() - started) / 1000,
    bronze_events: events,
    last_pull_at: new Date(pullAt).toISOString(),
    landed_at: new Date().toISOString(),
  };
  await writeFile(join(root, LANDED), `${JSON.stringify(landed, null, 2)}\n`);
  return landed;
}

/** Run the pipeline over the landed Bronze (the built marts only) and write the manifest. */
async function finish(
  root: string,
  params: ApiLakeParams,
  landed: Landed,
  resumed: boolean,
  say: (message: string) => void,
): Promise<ApiLakeManifest> {
  const started = performance.now();
  const store = new LocalObjectStore(join(root, 'lake'));
  const engine = await DuckDbQueryEngine.create({ store });
  let status: string;
  try {
    // A resumed run comes well after the stopped one, whose pipeline lock (15 min) has then expired.
    const runAt = Date.parse(landed.last_pull_at) + (resumed ? 3_600_000 : 60_000);
    const report = await runPipeline({
      store,
      engine,
      now: () => new Date(runAt),
      models: GOLD_MODELS.filter((m) => !LEFT_OUT_MARTS.includes(m.mart.name)),
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
  const pipelineS = (performance.now() - started) / 1000;
  const manifest: ApiLakeManifest = {
    params: { ...params },
    marts: martVersions(),
    left_out_marts: [...LEFT_OUT_MARTS],
    built_at: new Date().toISOString(),
    build_s: landed.landing_s + pipelineS,
    landing_s: landed.landing_s,
    pipeline_s: pipelineS,
    resumed,
    bronze_events: landed.bronze_events,
    pipeline_status: status,
    ...(landed.note ? { note: landed.note } : {}),
  };
  await writeFile(join(root, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}
