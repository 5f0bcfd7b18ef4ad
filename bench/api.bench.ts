import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { serverNodeFlags } from '../bin/server-flags.mjs';
import type { ObjectStore } from '../src/adapters/object-store/port.js';
import type { QueryEngine, QueryRequest, Row } from '../src/adapters/query-engine/port.js';
import { createGateway, type Gateway, type GatewayRequest } from '../src/api/gateway.js';
import { ensureDevKeys } from '../src/auth/dev-keys.js';
import { maskRow } from '../src/auth/mask.js';
import { createPolicy } from '../src/auth/policy/index.js';
import type { Principal } from '../src/auth/principal.js';
import { signDevToken } from '../src/auth/token.js';
import type { Verifier } from '../src/auth/verify.js';
import { createVerifier } from '../src/auth/verify.js';
import { MART_REGIONS } from '../src/catalog/domain.js';
import { camelCase, findMart, MARTS } from '../src/catalog/index.js';
import type { MartDef } from '../src/catalog/types.js';
import { type Config, loadConfig } from '../src/config/index.js';
import { goldDataset } from '../src/lake/layout.js';
import { type LatestPointer, resolveLatest } from '../src/lake/publish.js';
import { buildPage, type MartFilter } from '../src/query/builder.js';
import { logger } from '../src/runtime/logger.js';
import { createObjectStore, createQueryEngine } from '../src/runtime/stores.js';
import { ident, raw, type SqlFragment, sql } from '../src/sql/fragment.js';
import { quantile } from './lib/report.js';
import { API_LAKE_DEFAULTS, type ApiLake, apiLakeName, ensureApiLake } from './support/api-lake.js';
import { type LoadRun, loadRun, postGraphql, type ServedApi, startServer } from './support/load.js';

/**
 * The API under load (issue 5, Done-when 5; issue 6, Done-when 4).
 *
 * A demo lake of about 2M Gold invoices (bench/support/api-lake.ts, cached
 * under .goldgate/bench-lakes/), served by `goldgate serve` in a child
 * process, loaded by autocannon on 127.0.0.1 from this process:
 *   (a) a page of 50 customers filtered by region,
 *   (b) one customer with nested invoices and their payments (3 engine queries),
 *   (c) a KPI aggregate (daily usage grouped by region with sums),
 * each cold (answer cache off: every request runs the engine) and warm (cache
 * on). For (a) cold, the API's p50 is divided by the DuckDB time of the same
 * SQL (the project's buildPage over the served run), timed in this process on
 * an engine with the server's settings while the server is idle. Policy on
 * (a `csm` token whose regions claim lists every region, so the answers are
 * the same and only enforcement differs) against policy off (`admin`): runs in
 * ABBA BAAB order so drift in the machine's load falls on both sides.
 *
 * Args: [seconds per run, default 10] [connections, default 32] [customers,
 * default API_LAKE_DEFAULTS' (about 2M invoices); a smaller lake for a quick try]
 * [only: a subset while iterating, e.g. `warm`, `cold:c`, `warm:a,b`; the HTTP
 * runs of that subset are printed and nothing is saved]. A `-` keeps a default.
 * GOLDGATE_BENCH_NO_BUILD=1 fails instead of building a missing lake (about 30 min).
 */

const argsSchema = z.tuple([
  z.coerce.number().int().min(1).max(600).default(10),
  z.coerce.number().int().min(1).max(1024).default(32),
  z.coerce.number().int().min(1_000).max(2_000_000).optional(),
  z
    .string()
    .regex(/^(cold|warm)(:[abc](,[abc])*)?$/)
    .optional(),
]);

/** Which modes and scenarios a partial run measures (`undefined`: everything, saved). */
interface Subset {
  readonly modes: ReadonlySet<'cold' | 'warm'>;
  readonly scenarios: ReadonlySet<string> | undefined;
}

function subsetOf(only: string | undefined): Subset | undefined {
  if (only === undefined) return undefined;
  const [mode, ids] = only.split(':');
  return {
    modes: new Set([mode as 'cold' | 'warm']),
    scenarios: ids ? new Set(ids.split(',')) : undefined,
  };
}
const WARMUP_S = 2;
/** Cold mode: an unmeasured run per scenario before its measured ones. */
const PRIME_S = 6;
/** Statements timed one after another for the DuckDB reference. */
const DUCKDB_SEQUENTIAL_RUNS = 200;
/** In-process requests per scenario for the cold latency breakdown (after a few unmeasured ones). */
const BREAKDOWN_REQUESTS = 100;
const BREAKDOWN_WARMUP = 10;
/** ...or as many as fit in this many seconds. */
const BREAKDOWN_MAX_S = 15;

const GOALS = {
  ratioMax: 1.3,
  warmReqPerS: 5_000,
  warmP99Ms: 20,
  policyLossPct: 5,
} as const;

type Mode = 'cold' | 'warm';
type Role = 'admin' | 'csm';
type ScenarioId = 'a' | 'b' | 'c';

interface Scenario {
  readonly id: ScenarioId;
  readonly title: string;
  readonly body: string;
  /** Throws unless the answer has the expected shape (so a fast error is never measured as speed). */
  readonly check: (data: Record<string, unknown>) => void;
}

interface RunRecord {
  readonly scenario: ScenarioId;
  readonly mode: Mode;
  readonly role: Role;
  readonly order: number;
  readonly run: Omit<LoadRun, 'latencies'>;
}

/** One measured figure with an optional goal. */
interface Goal {
  readonly figure: string;
  readonly goal: string;
  readonly value: number;
  readonly met: boolean;
  /** Why the verdict is weak, when it is (e.g. the noise between identical runs exceeds the goal). */
  readonly caveat?: string;
}

const REPO = fileURLToPath(new URL('..', import.meta.url));

function progress(message: string): void {
  process.stderr.write(`${new Date().toISOString().slice(11, 19)}  ${message}\n`);
}

function mart(name: string): MartDef {
  const found = findMart(name);
  if (!found) throw new Error(`bench: the catalog has no mart ${name}`);
  return found;
}

/** Catalog columns (in catalog order) behind API field names: what the resolvers ask the builder for. */
function columnsOf(def: MartDef, apiFields: readonly string[]): string[] {
  return def.columns.filter((c) => apiFields.includes(camelCase(c.name))).map((c) => c.name);
}

const PAGE_FIELDS = ['customerId', 'name', 'region', 'lifetimeRevenue'] as const;
const PAGE_REGION = 'EU';
const PAGE_SIZE = 50;

function scenarios(customerId: string): Scenario[] {
  const list = (data: Record<string, unknown>, field: string): Record<string, unknown>[] => {
    const value = data[field];
    if (!Array.isArray(value)) throw new Error(`${field} is not a list`);
    return value as Record<string, unknown>[];
  };
  return [
    {
      id: 'a',
      title: `page of ${PAGE_SIZE} customers, region ${PAGE_REGION}`,
      body: JSON.stringify({
        query: `query Page($region: String!) { customers(first: ${PAGE_SIZE}, filter: { region: { eq: $region } }) { nodes { ${PAGE_FIELDS.join(' ')} } pageInfo { hasNextPage endCursor } } }`,
        variables: { region: PAGE_REGION },
      }),
      check(data) {
        const nodes = list(data.customers as Record<string, unknown>, 'nodes');
        if (nodes.length !== PAGE_SIZE || nodes.some((n) => n.region !== PAGE_REGION))
          throw new Error(`expected ${PAGE_SIZE} ${PAGE_REGION} customers, got ${nodes.length}`);
      },
    },
    {
      id: 'b',
      title: 'one customer, invoices, payments',
      body: JSON.stringify({
        query:
          'query One($id: ID!) { customer(id: $id) { customerId name region invoices(first: 20) { invoiceId invoiceDate status total balance payments(first: 20) { paymentId paymentDate amount } } } }',
        variables: { id: customerId },
      }),
      check(data) {
        const customer = data.customer as Record<string, unknown> | null;
        if (!customer) throw new Error(`customer ${customerId} not found`);
        const invoices = list(customer, 'invoices');
        if (invoices.length === 0 || !invoices.some((i) => list(i, 'payments').length > 0))
          throw new Error('expected invoices with payments');
      },
    },
    {
      id: 'c',
      title: 'KPI aggregate: daily usage by region',
      body: JSON.stringify({
        query:
          '{ kpiDailyUsageAggregate(groupBy: [region]) { key { region } count sum { events dau activeAccounts } avg { dau mau } max { wau } } }',
      }),
      check(data) {
        const groups = list(data, 'kpiDailyUsageAggregate');
        if (groups.length < 5) throw new Error(`expected a group per region, got ${groups.length}`);
      },
    },
  ];
}

/** The answer's data, or an error naming what came back instead. */
function dataOf(answer: { status: number; json: unknown }): Record<string, unknown> {
  const body = answer.json as { data?: Record<string, unknown> | null; errors?: unknown[] };
  if (answer.status !== 200 || body?.errors || !body?.data) {
    throw new Error(`HTTP ${answer.status}: ${JSON.stringify(answer.json).slice(0, 400)}`);
  }
  return body.data;
}

async function goldFacts(
  store: ObjectStore,
  engine: QueryEngine,
): Promise<{ counts: Record<string, number>; pointers: Map<string, LatestPointer> }> {
  const counts: Record<string, number> = {};
  const pointers = new Map<string, LatestPointer>();
  for (const name of ['customer_360', 'invoices', 'payments', 'kpi_daily_usage']) {
    const def = mart(name);
    const pointer = await resolveLatest(store, goldDataset(def.name, def.schemaVersion));
    if (!pointer) throw new Error(`bench: ${name} is not published in the bench lake`);
    pointers.set(name, pointer);
    const result = await engine.query({
      sql: sql`SELECT count(*) AS n FROM ${relationOf(engine, def, pointer)}`,
    });
    counts[name] = Number(result.rows[0]?.n ?? 0);
  }
  return { counts, pointers };
}

function relationOf(engine: QueryEngine, def: MartDef, pointer: LatestPointer): SqlFragment {
  return engine.martRelation({
    mart: def.name,
    schemaVersion: def.schemaVersion,
    runId: pointer.run_id,
    prefix: pointer.path,
  });
}

/** The commit measured, and files under src/ and bin/ that differ from it (others edit the tree while benches run). */
function codeVersion(): { commit: string; uncommitted: string[] } {
  const git = (...args: string[]): string => {
    try {
      return execFileSync('git', args, { cwd: REPO, encoding: 'utf8' }).trim();
    } catch {
      return '';
    }
  };
  return {
    commit: git('rev-parse', 'HEAD') || 'unknown',
    uncommitted: git('status', '--porcelain', '--', 'src', 'bin').split('\n').filter(Boolean),
  };
}

/** Parquet files of each mart's served run: a DuckDB read opens every one of them. */
async function parquetFiles(store: ObjectStore, lakeDir: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const def of MARTS) {
    const pointer = await resolveLatest(store, goldDataset(def.name, def.schemaVersion));
    if (!pointer) continue;
    const names = await readdir(join(lakeDir, pointer.path), { recursive: true });
    out[def.name] = names.filter((n) => n.endsWith('.parquet')).length;
  }
  return out;
}

/** The customer with the most invoices that have payments (ties: the smallest id), through the catalog's links. */
async function pickCustomer(engine: QueryEngine, pointers: Map<string, LatestPointer>): Promise<string> {
  const customers = mart('customer_360');
  const invoices = mart('invoices');
  const payments = mart('payments');
  const toInvoices = customers.relations.find((r) => r.field === 'invoices')?.on[0];
  const toPayments = invoices.relations.find((r) => r.field === 'payments')?.on[0];
  if (!toInvoices || !toPayments) throw new Error('bench: the catalog lost the invoices/payments relations');
  const rel = (def: MartDef): SqlFragment => {
    const pointer = pointers.get(def.name);
    if (!pointer) throw new Error(`bench: no pointer for ${def.name}`);
    return relationOf(engine, def, pointer);
  };
  const invoiceKey = raw(`i.${ident(toInvoices[1])}`);
  const result = await engine.query({
    sql: sql`SELECT ${invoiceKey} AS customer_id, count(DISTINCT i.${raw(ident(toPayments[0]))}) AS paid_invoices
      FROM ${rel(invoices)} AS i JOIN ${rel(payments)} AS p ON p.${raw(ident(toPayments[1]))} = i.${raw(ident(toPayments[0]))}
      GROUP BY 1 ORDER BY paid_invoices DESC, customer_id LIMIT 1`,
  });
  const id = result.rows[0]?.customer_id;
  if (typeof id !== 'string') throw new Error('bench: no customer has paid invoices');
  return id;
}

/** The SQL the API runs for (a): the same builder, access and served run as the resolver's page read. */
async function pageSql(
  config: Config,
  engine: QueryEngine,
  pointer: LatestPointer,
  principal: Principal,
): Promise<SqlFragment> {
  const policy = await createPolicy(config);
  try {
    const def = mart('customer_360');
    const access = policy.policy.accessFor(principal, def);
    if (!access) throw new Error('bench: the policy gives the admin token no access to customer_360');
    const filter: MartFilter = { region: { eq: PAGE_REGION } };
    return buildPage({
      access,
      relation: relationOf(engine, def, pointer),
      columns: columnsOf(def, PAGE_FIELDS),
      filter,
      first: PAGE_SIZE,
    }).sql;
  } finally {
    await policy.close();
  }
}

/** The same SQL on DuckDB: one at a time (median), and with `connections` callers at once for `durationS`. */
async function timeDuckDb(
  engine: QueryEngine,
  statement: SqlFragment,
  config: Config,
  connections: number,
  durationS: number,
): Promise<{
  sequentialMedianMs: number;
  sequentialP99Ms: number;
  concurrentP50Ms: number;
  concurrentPerS: number;
}> {
  const request: QueryRequest = { sql: statement, timeoutMs: config.engine.queryTimeoutMs };
  for (let i = 0; i < 20; i++) await engine.query(request);
  const sequential: number[] = [];
  for (let i = 0; i < DUCKDB_SEQUENTIAL_RUNS; i++) {
    const started = performance.now();
    await engine.query(request);
    sequential.push(performance.now() - started);
  }
  const concurrent: number[] = [];
  const until = performance.now() + durationS * 1000;
  const startedAll = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < until) {
        const started = performance.now();
        await engine.query(request);
        concurrent.push(performance.now() - started);
      }
    }),
  );
  return {
    sequentialMedianMs: quantile(sequential, 0.5),
    sequentialP99Ms: quantile(sequential, 0.99),
    concurrentP50Ms: quantile(concurrent, 0.5),
    concurrentPerS: concurrent.length / ((performance.now() - startedAll) / 1000),
  };
}

/** Where one cold request's time goes, measured in process one request at a time (means, so the parts add up). */
interface Breakdown {
  readonly requests: number;
  readonly totalMeanMs: number;
  readonly totalP50Ms: number;
  readonly verifyMeanMs: number;
  readonly storeMeanMs: number;
  readonly storeCallsPerRequest: number;
  /** Engine statements inside the gateway (admission slot held). */
  readonly engineMeanMs: number;
  readonly statementsPerRequest: number;
  /** Apollo parse/validate/execute, resolvers, SQL building, masking, JSON. */
  readonly restMeanMs: number;
  /** The same statements run directly on the engine right after each request, one after another. */
  readonly directMeanMs: number;
  readonly directP50Ms: number;
  /** The statements of the last request, as the gateway ran them. */
  readonly statements: readonly SqlFragment[];
}

/**
 * Each scenario through the gateway core in this process, one request at a
 * time, cache off, with the verifier, the object store and the engine timed;
 * after each request its statements run again directly on the engine (the
 * DuckDB time of exactly the SQL the API ran, interleaved so drift in the
 * machine's load hits both alike). Composed as src/runtime/app.ts composes it
 * (policy source, masks); log lines are off here, so the HTTP figures include
 * their cost and these do not.
 */
async function breakdown(
  mode: Mode,
  config: Config,
  store: ObjectStore,
  engine: QueryEngine,
  token: string,
  list: readonly Scenario[],
): Promise<Map<ScenarioId, Breakdown>> {
  const sink = {
    storeMs: 0,
    storeCalls: 0,
    storeInFlight: 0,
    storeSince: 0,
    engineMs: 0,
    verifyMs: 0,
    statements: [] as SqlFragment[],
  };
  const timedStore = new Proxy(store, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      // Where an object lives is no store call (a path or URL computed in place).
      if (typeof value !== 'function' || property === 'locationOf') return value;
      return (...args: unknown[]) => {
        // Wall time with at least one call in flight: pointer reads run side by side, their sum would overcount.
        if (sink.storeInFlight === 0) sink.storeSince = performance.now();
        sink.storeInFlight += 1;
        const out: unknown = (value as (...a: unknown[]) => unknown).apply(target, args);
        const done = (): void => {
          sink.storeInFlight -= 1;
          if (sink.storeInFlight === 0) sink.storeMs += performance.now() - sink.storeSince;
          sink.storeCalls += 1;
        };
        if (out instanceof Promise) return out.finally(done);
        done();
        return out;
      };
    },
  });
  const timedEngine: QueryEngine = {
    kind: engine.kind,
    martRelation: (ref) => engine.martRelation(ref),
    stream: (request) => engine.stream(request),
    execute: (request) => engine.execute(request),
    close: () => engine.close(),
    async query(request) {
      const started = performance.now();
      try {
        return await engine.query(request);
      } finally {
        sink.engineMs += performance.now() - started;
        sink.statements.push(request.sql);
      }
    },
  };
  const verify = await createVerifier(config.auth);
  const timedVerifier: Verifier = async (authorization) => {
    const started = performance.now();
    try {
      return await verify(authorization);
    } finally {
      sink.verifyMs += performance.now() - started;
    }
  };
  const { gateway, close } = await inProcessGateway(mode, config, timedStore, timedEngine, timedVerifier);
  const out = new Map<ScenarioId, Breakdown>();
  const limit = mode === 'cold' ? BREAKDOWN_REQUESTS : BREAKDOWN_REQUESTS * 10;
  const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  try {
    for (const s of list) {
      const request = graphqlRequest(token, s.body);
      const t = {
        total: [] as number[],
        verify: [] as number[],
        store: [] as number[],
        engine: [] as number[],
      };
      const rest: number[] = [];
      const direct: number[] = [];
      let storeCalls = 0;
      let statements: SqlFragment[] = [];
      let deadline = Number.POSITIVE_INFINITY;
      for (let i = 0; i < BREAKDOWN_WARMUP + limit && performance.now() < deadline; i++) {
        if (i === BREAKDOWN_WARMUP) deadline = performance.now() + BREAKDOWN_MAX_S * 1000;
        sink.storeMs = 0;
        sink.engineMs = 0;
        sink.verifyMs = 0;
        sink.storeCalls = 0;
        sink.statements = [];
        // Cache hits validate pointers through the gateway's own reads (shared, blocking on the local store).
        const pointersBefore = { reads: gateway.pointers.reads, ms: gateway.pointers.readMs };
        const started = performance.now();
        const response = await gateway.handle(request);
        const total = performance.now() - started;
        sink.storeMs += gateway.pointers.readMs - pointersBefore.ms;
        sink.storeCalls += gateway.pointers.reads - pointersBefore.reads;
        if (
          response.status !== 200 ||
          typeof response.body !== 'string' ||
          response.body.includes('"errors"')
        )
          throw new Error(
            `in-process (${s.id}) failed: ${response.status} ${String(response.body).slice(0, 300)}`,
          );
        // A cache hit runs nothing: keep the statements of the last request that ran any.
        if (sink.statements.length > 0) statements = sink.statements;
        const directStarted = performance.now();
        if (mode === 'cold')
          for (const statement of statements)
            await engine.query({ sql: statement, timeoutMs: config.engine.queryTimeoutMs });
        const directMs = performance.now() - directStarted;
        if (i < BREAKDOWN_WARMUP) continue;
        t.total.push(total);
        t.verify.push(sink.verifyMs);
        t.store.push(sink.storeMs);
        t.engine.push(sink.engineMs);
        rest.push(total - sink.verifyMs - sink.storeMs - sink.engineMs);
        direct.push(directMs);
        storeCalls += sink.storeCalls;
      }
      out.set(s.id, {
        requests: t.total.length,
        totalMeanMs: mean(t.total),
        totalP50Ms: quantile(t.total, 0.5),
        verifyMeanMs: mean(t.verify),
        storeMeanMs: mean(t.store),
        storeCallsPerRequest: storeCalls / BREAKDOWN_REQUESTS,
        engineMeanMs: mean(t.engine),
        statementsPerRequest: statements.length,
        restMeanMs: mean(rest),
        directMeanMs: mean(direct),
        directP50Ms: quantile(direct, 0.5),
        statements,
      });
    }
  } finally {
    await close();
  }
  return out;
}

/** The gateway core composed as src/runtime/app.ts composes it (policy source, masks), over the given ports. */
async function inProcessGateway(
  mode: Mode,
  config: Config,
  store: ObjectStore,
  engine: QueryEngine,
  verifier: Verifier,
): Promise<{ gateway: Gateway; close: () => Promise<void> }> {
  const policy = await createPolicy(config);
  const gateway = await createGateway({
    engine,
    store,
    verifier,
    policy: policy.policy,
    mask: (access, row: Row) => maskRow(access, row, policy.maskSecret),
    logger,
    queryTimeoutMs: config.engine.queryTimeoutMs,
    maxPageSize: config.api.maxPageSize,
    maxEngineQueriesPerRequest: config.api.maxEngineQueriesPerRequest,
    admission: config.api.admission,
    cacheBytes: mode === 'cold' ? 0 : config.api.cacheBytes,
    guards: config.api.guards,
    production: config.production,
  });
  return {
    gateway,
    async close() {
      await gateway.stop();
      await policy.close();
    },
  };
}

function graphqlRequest(token: string, body: string): GatewayRequest {
  return {
    method: 'POST',
    path: '/graphql',
    search: '',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.parse(body) as unknown,
  };
}

/** Policy on against off, in process: admin and csm requests interleaved one by one, so drift hits both alike. */
interface PolicyInProcess {
  readonly pairs: number;
  readonly adminMeanMs: number;
  readonly csmMeanMs: number;
  /** Req/s a server bound by this work would lose with the policy on: 1 - admin time / csm time. */
  readonly lossPct: number;
  /** (a) only: a csm token of the page's one region (the usual claim), same answer as admin. */
  readonly oneRegion?: { readonly csmMeanMs: number; readonly lossPct: number };
}

async function policyInProcess(
  mode: Mode,
  config: Config,
  store: ObjectStore,
  engine: QueryEngine,
  tokens: Record<Role, string>,
  oneRegionToken: string,
  list: readonly Scenario[],
): Promise<Map<ScenarioId, PolicyInProcess>> {
  const { gateway, close } = await inProcessGateway(
    mode,
    config,
    store,
    engine,
    await createVerifier(config.auth),
  );
  const out = new Map<ScenarioId, PolicyInProcess>();
  const limit = mode === 'cold' ? BREAKDOWN_REQUESTS : BREAKDOWN_REQUESTS * 20;
  try {
    for (const s of list.filter((x) => x.id !== 'b')) {
      type Variant = Role | 'csmOne';
      const requests: Partial<Record<Variant, GatewayRequest>> = {
        admin: graphqlRequest(tokens.admin, s.body),
        csm: graphqlRequest(tokens.csm, s.body),
        ...(s.id === 'a' ? { csmOne: graphqlRequest(oneRegionToken, s.body) } : {}),
      };
      const variants = Object.keys(requests) as Variant[];
      const times: Record<Variant, number[]> = { admin: [], csm: [], csmOne: [] };
      let deadline = Number.POSITIVE_INFINITY;
      for (let i = 0; i < BREAKDOWN_WARMUP + limit && performance.now() < deadline; i++) {
        if (i === BREAKDOWN_WARMUP) deadline = performance.now() + BREAKDOWN_MAX_S * 1000;
        // Rotate which variant goes first, so none always runs right after another.
        const order = variants.map((_, k) => variants[(i + k) % variants.length] as Variant);
        for (const role of order) {
          const request = requests[role];
          if (!request) continue;
          const started = performance.now();
          const response = await gateway.handle(request);
          const ms = performance.now() - started;
          if (
            response.status !== 200 ||
            typeof response.body !== 'string' ||
            response.body.includes('"errors"')
          )
            throw new Error(`in-process ${role} (${s.id}) failed: ${response.status}`);
          if (i >= BREAKDOWN_WARMUP) times[role].push(ms);
        }
      }
      const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
      const adminMeanMs = mean(times.admin);
      const csmMeanMs = mean(times.csm);
      const csmOneMeanMs = mean(times.csmOne);
      out.set(s.id, {
        pairs: times.admin.length,
        adminMeanMs,
        csmMeanMs,
        lossPct: (1 - adminMeanMs / csmMeanMs) * 100,
        ...(times.csmOne.length > 0
          ? { oneRegion: { csmMeanMs: csmOneMeanMs, lossPct: (1 - adminMeanMs / csmOneMeanMs) * 100 } }
          : {}),
      });
    }
  } finally {
    await close();
  }
  return out;
}

function sameSql(a: SqlFragment | undefined, b: SqlFragment): boolean {
  return a !== undefined && a.text === b.text && JSON.stringify(a.params) === JSON.stringify(b.params);
}

/** Whether the served policy is the demo policy: `csm` reads the same answers and is refused invoices. */
async function probePolicy(
  api: ServedApi,
  tokens: Record<Role, string>,
  list: readonly Scenario[],
  adminAnswers: Map<ScenarioId, Record<string, unknown>>,
): Promise<{ wired: boolean; detail: string }> {
  for (const s of list.filter((x) => x.id !== 'b')) {
    const answer = await postGraphql(api.baseUrl, tokens.csm, s.body);
    let data: Record<string, unknown>;
    try {
      data = dataOf(answer);
    } catch (error) {
      return { wired: false, detail: `csm on (${s.id}): ${(error as Error).message}` };
    }
    if (JSON.stringify(data) !== JSON.stringify(adminAnswers.get(s.id)))
      return { wired: false, detail: `csm on (${s.id}) got a different answer than admin` };
  }
  const refused = await postGraphql(
    api.baseUrl,
    tokens.csm,
    JSON.stringify({ query: '{ invoices(first: 1) { nodes { invoiceId } } }' }),
  );
  const errors = (refused.json as { errors?: Array<{ extensions?: { code?: string } }> }).errors;
  if (!errors?.length)
    return { wired: false, detail: 'csm read invoices: the served policy is not the demo policy' };
  return {
    wired: true,
    detail: `csm (regions ${MART_REGIONS.join(',')}) reads the same answers as admin; invoices refused with ${errors[0]?.extensions?.code}`,
  };
}

/** A scenario's headline in one mode: the admin runs pooled; refusals from every run. */
interface Pooled {
  readonly reqPerS: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly serverCpuMsPerReq: number;
  readonly statusCodes: Record<string, number>;
}

interface ModeResult {
  readonly mode: Mode;
  readonly runs: RunRecord[];
  /** Pooled admin latencies per scenario (for the headline p50/p99). */
  readonly pooled: Map<ScenarioId, Pooled>;
  readonly policy: { wired: boolean; detail: string };
  readonly serverLogs: { errors: number; warnings: number; lastError: string | undefined };
  readonly settings: Record<string, string | number>;
  readonly c1?: LoadRun;
  readonly duckdb?: Awaited<ReturnType<typeof timeDuckDb>>;
}

async function runMode(input: {
  readonly mode: Mode;
  readonly lake: ApiLake;
  readonly env: NodeJS.ProcessEnv;
  readonly tokens: Record<Role, string>;
  readonly list: readonly Scenario[];
  readonly durationS: number;
  readonly connections: number;
  readonly duckdb?: () => Promise<Awaited<ReturnType<typeof timeDuckDb>>>;
}): Promise<ModeResult> {
  const { mode, tokens, list, durationS, connections } = input;
  const env: NodeJS.ProcessEnv = { ...input.env };
  if (mode === 'cold') env.GOLDGATE_CACHE_BYTES = '0';
  else delete env.GOLDGATE_CACHE_BYTES;
  const served = loadConfig(env);
  const settings = {
    cache_bytes: served.api.cacheBytes,
    engine_max_concurrent: served.api.admission.limit,
    engine_max_queue: served.api.admission.maxQueue,
    engine_queue_timeout_ms: served.api.admission.queueTimeoutMs,
    engine_connections: served.engine.connections,
    duckdb_threads: served.engine.threads ?? 'default (cores)',
    log_level: env.GOLDGATE_LOG_LEVEL ?? env.POWERTOOLS_LOG_LEVEL ?? 'INFO',
    server_node_flags: serverNodeFlags(env, []).join(' ') || 'none',
  };
  progress(`${mode}: starting goldgate serve (cache ${served.api.cacheBytes} bytes)`);
  const api = await startServer({ cwd: REPO, env });
  try {
    progress(`${mode}: API at ${api.baseUrl} (pid ${api.pid})`);
    const adminAnswers = new Map<ScenarioId, Record<string, unknown>>();
    for (const s of list) {
      const data = dataOf(await postGraphql(api.baseUrl, tokens.admin, s.body));
      s.check(data);
      adminAnswers.set(s.id, data);
    }
    const policy = await probePolicy(api, tokens, list, adminAnswers);
    progress(`${mode}: policy ${policy.wired ? 'on' : 'NOT wired'}: ${policy.detail}`);
    const plan: Array<{ scenario: ScenarioId; role: Role }> = [];
    for (const s of list) {
      // ABBA BAAB: a linear drift in the machine's load weighs on both sides alike, and so does a
      // bump in the middle (other work on the shared cores), which plain ABBA puts on policy-on only.
      if (s.id !== 'b' && policy.wired) {
        for (const role of ['admin', 'csm', 'csm', 'admin', 'csm', 'admin', 'admin', 'csm'] as const)
          plan.push({ scenario: s.id, role });
      } else plan.push({ scenario: s.id, role: 'admin' });
    }
    const runs: RunRecord[] = [];
    const latencies = new Map<ScenarioId, number[]>();
    if (mode === 'cold') {
      // A cold answer takes seconds, longer than the warm-up of a run: without an unmeasured run
      // first, the scenario's first measured run (policy off, in ABBA) pays for cold file and engine caches.
      for (const s of list) {
        await loadRun({
          baseUrl: api.baseUrl,
          token: tokens.admin,
          body: s.body,
          connections,
          durationS: PRIME_S,
          warmupS: 0,
        });
      }
      progress(`${mode}: primed every scenario (${PRIME_S} s each, not measured)`);
    }
    for (const [order, step] of plan.entries()) {
      const s = list.find((x) => x.id === step.scenario);
      if (!s) continue;
      const run = await loadRun({
        baseUrl: api.baseUrl,
        token: tokens[step.role],
        body: s.body,
        connections,
        durationS,
        warmupS: WARMUP_S,
        serverCpuMs: api.cpuMs,
      });
      const { latencies: runLatencies, ...kept } = run;
      runs.push({ scenario: s.id, mode, role: step.role, order, run: kept });
      if (step.role === 'admin') latencies.set(s.id, [...(latencies.get(s.id) ?? []), ...runLatencies]);
      progress(
        `${mode} (${s.id}) ${step.role}: ${run.reqPerS.toFixed(0)} req/s, p50 ${run.p50Ms.toFixed(2)} ms, p99 ${run.p99Ms.toFixed(2)} ms, non-2xx ${run.non2xx}, errors ${run.errors}, load ${run.loadBefore.toFixed(1)}`,
      );
    }
    const pooled = new Map<ScenarioId, Pooled>();
    for (const s of list) {
      const every = runs.filter((r) => r.scenario === s.id);
      const admin = every.filter((r) => r.role === 'admin');
      const all = latencies.get(s.id) ?? [];
      pooled.set(s.id, {
        reqPerS: admin.reduce((sum, r) => sum + r.run.reqPerS, 0) / Math.max(1, admin.length),
        p50Ms: quantile(all, 0.5),
        p99Ms: quantile(all, 0.99),
        // Refusals count in every run of the scenario, policy on or off.
        non2xx: every.reduce((sum, r) => sum + r.run.non2xx, 0),
        errors: every.reduce((sum, r) => sum + r.run.errors + r.run.timeouts, 0),
        statusCodes: every.reduce<Record<string, number>>((codes, r) => {
          for (const [code, n] of Object.entries(r.run.statusCodes)) codes[code] = (codes[code] ?? 0) + n;
          return codes;
        }, {}),
        serverCpuMsPerReq:
          admin.reduce((sum, r) => sum + r.run.serverCpuMsPerReq, 0) / Math.max(1, admin.length),
      });
    }
    let c1: LoadRun | undefined;
    let duckdb: Awaited<ReturnType<typeof timeDuckDb>> | undefined;
    if (mode === 'cold') {
      const a = list.find((x) => x.id === 'a');
      if (a) {
        c1 = await loadRun({
          baseUrl: api.baseUrl,
          token: tokens.admin,
          body: a.body,
          connections: 1,
          durationS: Math.max(3, Math.round(durationS / 2)),
          warmupS: 1,
          serverCpuMs: api.cpuMs,
        });
        progress(`cold (a) admin, 1 connection: p50 ${c1.p50Ms.toFixed(2)} ms`);
      }
      if (input.duckdb) {
        progress('cold: timing the same SQL on DuckDB in this process (server idle)');
        duckdb = await input.duckdb();
      }
    }
    return { mode, runs, pooled, policy, serverLogs: { ...api.logs }, settings, c1, duckdb };
  } finally {
    await api.stop();
  }
}

/**
 * Loss with the policy on over the ABBA BAAB runs, in percent: of req/s, 1 - mean(csm) / mean(admin);
 * of server CPU per answer, 1 - mean(admin) / mean(csm) (the req/s a CPU-bound server would lose).
 */
function policyLoss(
  result: ModeResult,
  scenario: ScenarioId,
  by: 'reqPerS' | 'serverCpuMsPerReq',
): number | undefined {
  const of = (role: Role): number[] =>
    result.runs.filter((r) => r.scenario === scenario && r.role === role).map((r) => r.run[by]);
  const admin = of('admin');
  const csm = of('csm');
  if (admin.length === 0 || csm.length === 0) return undefined;
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  return by === 'reqPerS' ? (1 - mean(csm) / mean(admin)) * 100 : (1 - mean(admin) / mean(csm)) * 100;
}

export default async function bench(args: readonly string[]): Promise<void> {
  const given = (i: number): string | undefined => (args[i] === '-' ? undefined : args[i]);
  const [durationS, connections, customers, only] = argsSchema.parse([
    given(0),
    given(1),
    given(2),
    given(3),
  ]);
  const subset = subsetOf(only);
  logger.setLogLevel('ERROR');
  const startedAt = new Date();
  const loadAtStart = loadavg()[0] ?? 0;
  const code = codeVersion();
  const params = customers === undefined ? API_LAKE_DEFAULTS : { ...API_LAKE_DEFAULTS, customers };
  const lakesDir = join(REPO, '.goldgate', 'bench-lakes');
  if (
    process.env.GOLDGATE_BENCH_NO_BUILD === '1' &&
    !existsSync(join(lakesDir, apiLakeName(params), 'bench-lake.json'))
  )
    throw new Error(`bench: no cached lake ${apiLakeName(params)} and GOLDGATE_BENCH_NO_BUILD=1`);
  const lake = await ensureApiLake(lakesDir, params, progress);

  const env: NodeJS.ProcessEnv = {
    ...process.env,
    GOLDGATE_HOME: 'embedded',
    GOLDGATE_LAKE_DIR: lake.lakeDir,
    GOLDGATE_STATE_DIR: lake.stateDir,
    GOLDGATE_HOST: '127.0.0.1',
    GOLDGATE_PORT: '0',
  };
  const config = loadConfig(env);
  const store = createObjectStore(config);
  // The reference engine has the server's settings (connections, threads, memory limit).
  const engine = await createQueryEngine(config, store);
  try {
    const { counts, pointers } = await goldFacts(store, engine);
    progress(
      `Gold: ${counts.customer_360} customers, ${counts.invoices} invoices, ${counts.payments} payments, ${counts.kpi_daily_usage} daily usage rows`,
    );
    const customerId = await pickCustomer(engine, pointers);
    const list = scenarios(customerId).filter((s) => subset?.scenarios?.has(s.id) ?? true);
    const key = await ensureDevKeys(config.stateDir);
    const adminPrincipal: Principal = { subject: 'bench-admin', roles: ['admin'], scopes: {} };
    const tokens: Record<Role, string> = {
      admin: await signDevToken(key, { ...adminPrincipal, expiresInS: 3600 }, config.auth),
      csm: await signDevToken(
        key,
        { subject: 'bench-csm', roles: ['csm'], scopes: { regions: [...MART_REGIONS] }, expiresInS: 3600 },
        config.auth,
      ),
    };
    // The usual csm claim: one region, the page's own (same answer as admin for (a)).
    const oneRegionToken = await signDevToken(
      key,
      { subject: 'bench-csm-one', roles: ['csm'], scopes: { regions: [PAGE_REGION] }, expiresInS: 3600 },
      config.auth,
    );
    const customerPointer = pointers.get('customer_360');
    if (!customerPointer) throw new Error('bench: customer_360 is not published');
    const statement = await pageSql(config, engine, customerPointer, adminPrincipal);
    const files = await parquetFiles(store, lake.lakeDir);

    if (subset) {
      for (const mode of subset.modes) {
        const result = await runMode({ mode, lake, env, tokens, list, durationS, connections });
        process.stdout.write(renderPartial(result, list));
      }
      process.stdout.write('partial run (args[3]): nothing saved\n');
      return;
    }

    const cold = await runMode({
      mode: 'cold',
      lake,
      env,
      tokens,
      list,
      durationS,
      connections,
      duckdb: () => timeDuckDb(engine, statement, config, connections, durationS),
    });
    progress('cold: latency breakdown in process, one request at a time');
    const parts = await breakdown('cold', config, store, engine, tokens.admin, list);
    const policyInProcessRuns: Partial<Record<Mode, Map<ScenarioId, PolicyInProcess>>> = {};
    if (cold.policy.wired) {
      progress('cold: policy on vs off in process, interleaved');
      policyInProcessRuns.cold = await policyInProcess(
        'cold',
        config,
        store,
        engine,
        tokens,
        oneRegionToken,
        list,
      );
    }
    const warm = await runMode({ mode: 'warm', lake, env, tokens, list, durationS, connections });
    progress('warm: latency breakdown of cache hits in process, one request at a time');
    const warmParts = await breakdown('warm', config, store, engine, tokens.admin, list);
    if (warm.policy.wired) {
      progress('warm: policy on vs off in process, interleaved');
      policyInProcessRuns.warm = await policyInProcess(
        'warm',
        config,
        store,
        engine,
        tokens,
        oneRegionToken,
        list,
      );
    }

    await save({
      startedAt,
      loadAtStart,
      code,
      lake,
      counts,
      customerId,
      list,
      cold,
      warm,
      parts,
      warmParts,
      policyInProcess: policyInProcessRuns,
      statement,
      files,
      durationS,
      connections,
    });
  } finally {
    await engine.close();
  }
}

async function save(input: {
  startedAt: Date;
  loadAtStart: number;
  code: { commit: string; uncommitted: string[] };
  lake: ApiLake;
  counts: Record<string, number>;
  customerId: string;
  list: readonly Scenario[];
  cold: ModeResult;
  warm: ModeResult;
  parts: Map<ScenarioId, Breakdown>;
  warmParts: Map<ScenarioId, Breakdown>;
  policyInProcess: Partial<Record<Mode, Map<ScenarioId, PolicyInProcess>>>;
  statement: SqlFragment;
  files: Record<string, number>;
  durationS: number;
  connections: number;
}): Promise<void> {
  const { cold, warm, parts, counts, lake } = input;
  const figures: Record<string, { value: number; unit: string }> = {};
  const goals: Goal[] = [];
  const put = (name: string, value: number, unit: string): void => {
    figures[name] = { value, unit };
  };
  put('gold_customers', counts.customer_360 ?? 0, 'rows');
  put('gold_invoices', counts.invoices ?? 0, 'rows');
  put('gold_payments', counts.payments ?? 0, 'rows');
  put('gold_kpi_daily_usage', counts.kpi_daily_usage ?? 0, 'rows');
  put('lake_build_s', lake.manifest.build_s, lake.built ? 's (built in this run)' : 's (cached build)');
  put('bronze_events', lake.manifest.bronze_events, 'events');

  for (const result of [cold, warm]) {
    for (const s of input.list) {
      const p = result.pooled.get(s.id);
      if (!p) continue;
      const prefix = `${s.id}_${result.mode}`;
      put(`${prefix}_req_per_s`, p.reqPerS, 'req/s');
      put(`${prefix}_p50_ms`, p.p50Ms, 'ms');
      put(`${prefix}_p99_ms`, p.p99Ms, 'ms');
      put(`${prefix}_non2xx`, p.non2xx, 'answers (every run of the scenario, both roles)');
      put(`${prefix}_server_cpu_ms_per_req`, p.serverCpuMsPerReq, 'ms of server CPU per answer');
      goals.push({
        figure: `${prefix}_non2xx`,
        goal: '= 0 (and no socket errors)',
        value: p.non2xx + p.errors,
        met: p.non2xx + p.errors === 0,
        ...(p.non2xx + p.errors > 0
          ? {
              caveat: `answers by status ${JSON.stringify(p.statusCodes)}, socket errors ${p.errors}; admission limit ${result.settings.engine_max_concurrent}, queue timeout ${result.settings.engine_queue_timeout_ms} ms, ${result.settings.engine_connections} DuckDB connections`,
            }
          : {}),
      });
      if (result.mode === 'warm') {
        goals.push({
          figure: `${prefix}_req_per_s`,
          goal: `>= ${GOALS.warmReqPerS}`,
          value: p.reqPerS,
          met: p.reqPerS >= GOALS.warmReqPerS,
        });
        goals.push({
          figure: `${prefix}_p99_ms`,
          goal: `< ${GOALS.warmP99Ms}`,
          value: p.p99Ms,
          met: p.p99Ms < GOALS.warmP99Ms,
        });
      }
    }
  }

  const duck = cold.duckdb;
  const aCold = cold.pooled.get('a');
  if (duck && aCold) {
    put('duckdb_a_sequential_median_ms', duck.sequentialMedianMs, 'ms');
    put('duckdb_a_sequential_p99_ms', duck.sequentialP99Ms, 'ms');
    put(`duckdb_a_concurrent_p50_ms`, duck.concurrentP50Ms, 'ms');
    put(`duckdb_a_concurrent_per_s`, duck.concurrentPerS, 'statements/s');
    const ratio = aCold.p50Ms / duck.sequentialMedianMs;
    put('a_cold_p50_over_duckdb', ratio, `ratio (goal <= ${GOALS.ratioMax})`);
    goals.push({
      figure: 'a_cold_p50_over_duckdb',
      goal: `<= ${GOALS.ratioMax} (API p50 at ${input.connections} connections / DuckDB median one at a time)`,
      value: ratio,
      met: ratio <= GOALS.ratioMax,
    });
    const sameLoad = aCold.p50Ms / duck.concurrentP50Ms;
    put('a_cold_p50_over_duckdb_same_load', sameLoad, 'ratio');
    goals.push({
      figure: 'a_cold_p50_over_duckdb_same_load',
      goal: `<= ${GOALS.ratioMax} (both with ${input.connections} callers at once)`,
      value: sameLoad,
      met: sameLoad <= GOALS.ratioMax,
    });
    if (cold.c1) {
      put('a_cold_c1_p50_ms', cold.c1.p50Ms, 'ms');
      put('a_cold_c1_req_per_s', cold.c1.reqPerS, 'req/s');
      const single = cold.c1.p50Ms / duck.sequentialMedianMs;
      put('a_cold_c1_p50_over_duckdb', single, 'ratio');
      goals.push({
        figure: 'a_cold_c1_p50_over_duckdb',
        goal: `<= ${GOALS.ratioMax} (both one request at a time)`,
        value: single,
        met: single <= GOALS.ratioMax,
      });
    }
  }
  for (const [id, b] of parts) {
    const p = `breakdown_${id}`;
    put(`${p}_total_mean_ms`, b.totalMeanMs, 'ms (in process, one request at a time, cache off)');
    put(`${p}_total_p50_ms`, b.totalP50Ms, 'ms');
    put(`${p}_engine_mean_ms`, b.engineMeanMs, `ms (${b.statementsPerRequest} statements)`);
    put(`${p}_duckdb_direct_mean_ms`, b.directMeanMs, 'ms (the same statements straight on the engine)');
    put(`${p}_verify_mean_ms`, b.verifyMeanMs, 'ms (JWT)');
    put(
      `${p}_store_mean_ms`,
      b.storeMeanMs,
      `ms (${b.storeCallsPerRequest.toFixed(1)} object-store calls: pointers)`,
    );
    put(`${p}_rest_mean_ms`, b.restMeanMs, 'ms (Apollo, resolvers, SQL build, masking, JSON)');
    put(`${p}_over_duckdb`, b.totalMeanMs / b.directMeanMs, 'ratio (in process / direct)');
  }
  for (const [id, b] of input.warmParts) {
    const p = `breakdown_warm_${id}`;
    put(`${p}_total_mean_ms`, b.totalMeanMs, 'ms (in process, one cache hit at a time)');
    put(`${p}_verify_mean_ms`, b.verifyMeanMs, 'ms (JWT)');
    put(`${p}_store_mean_ms`, b.storeMeanMs, `ms (${b.storeCallsPerRequest.toFixed(1)} pointer reads)`);
    put(`${p}_rest_mean_ms`, b.restMeanMs, 'ms (cache key, lookup, response)');
    put(`${p}_engine_mean_ms`, b.engineMeanMs, 'ms (0 when every request hits)');
  }

  const todo: string[] = [];
  for (const result of [cold, warm]) {
    if (!result.policy.wired) {
      todo.push(
        `${result.mode}: policy-on runs skipped (${result.policy.detail}); rerun once the demo policy is served`,
      );
      continue;
    }
    for (const id of ['a', 'c'] as const) {
      // Admin runs of one configuration: how far apart they land (range over mean) is the noise floor of a loss.
      const noiseOf = (by: 'reqPerS' | 'serverCpuMsPerReq'): number => {
        const admin = result.runs
          .filter((r) => r.scenario === id && r.role === 'admin')
          .map((r) => r.run[by]);
        if (admin.length < 2) return Number.NaN;
        const mean = admin.reduce((a, b) => a + b, 0) / admin.length;
        return ((Math.max(...admin) - Math.min(...admin)) / mean) * 100;
      };
      const caveatOf = (noise: number): Pick<Goal, 'caveat'> =>
        noise >= GOALS.policyLossPct
          ? { caveat: `inconclusive: identical admin runs differ by up to ${noise.toFixed(1)}%` }
          : {};
      const loss = policyLoss(result, id, 'reqPerS');
      if (loss === undefined) continue;
      const name = `policy_loss_${id}_${result.mode}_pct`;
      const noise = noiseOf('reqPerS');
      put(name, loss, `% of req/s over HTTP, ABBA BAAB runs (goal < ${GOALS.policyLossPct})`);
      put(
        `policy_noise_${id}_${result.mode}_pct`,
        noise,
        '% of req/s (range of the admin runs over their mean)',
      );
      goals.push({
        figure: name,
        goal: `< ${GOALS.policyLossPct}`,
        value: loss,
        met: loss < GOALS.policyLossPct,
        ...caveatOf(noise),
      });
      const cpuLoss = policyLoss(result, id, 'serverCpuMsPerReq');
      if (cpuLoss !== undefined && !Number.isNaN(cpuLoss)) {
        const cpuName = `policy_loss_${id}_${result.mode}_server_cpu_pct`;
        const cpuNoise = noiseOf('serverCpuMsPerReq');
        put(cpuName, cpuLoss, '% (server CPU per answer, csm vs admin, ABBA runs)');
        put(
          `policy_noise_${id}_${result.mode}_server_cpu_pct`,
          cpuNoise,
          '% (range of the admin runs over their mean)',
        );
        goals.push({
          figure: cpuName,
          goal: `< ${GOALS.policyLossPct}`,
          value: cpuLoss,
          met: cpuLoss < GOALS.policyLossPct,
          ...caveatOf(cpuNoise),
        });
      }
      const inProcess = input.policyInProcess[result.mode]?.get(id);
      if (inProcess?.oneRegion) {
        const oneName = `policy_loss_${id}_${result.mode}_in_process_one_region_pct`;
        put(
          oneName,
          inProcess.oneRegion.lossPct,
          `% (in process, csm with regions [${PAGE_REGION}] vs admin)`,
        );
        goals.push({
          figure: oneName,
          goal: `< ${GOALS.policyLossPct}`,
          value: inProcess.oneRegion.lossPct,
          met: inProcess.oneRegion.lossPct < GOALS.policyLossPct,
        });
      }
      if (inProcess) {
        const ipName = `policy_loss_${id}_${result.mode}_in_process_pct`;
        put(ipName, inProcess.lossPct, `% (in process, ${inProcess.pairs} interleaved admin/csm pairs)`);
        goals.push({
          figure: ipName,
          goal: `< ${GOALS.policyLossPct}`,
          value: inProcess.lossPct,
          met: inProcess.lossPct < GOALS.policyLossPct,
        });
      }
    }
  }

  const machine = {
    cpus: cpus().length,
    cpu_model: cpus()[0]?.model ?? 'unknown',
    memory_gb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    load_1m_at_start: input.loadAtStart,
    load_1m_at_end: loadavg()[0] ?? 0,
  };
  const result = {
    name: 'api',
    date: input.startedAt.toISOString(),
    machine,
    code: input.code,
    figures,
    goals,
    todo,
    lake: {
      root: lake.root,
      params: lake.params,
      built_in_this_run: lake.built,
      manifest: lake.manifest,
      gold_rows: counts,
    },
    scenarios: Object.fromEntries(
      input.list.map((s) => [s.id, { title: s.title, body: JSON.parse(s.body) as unknown }]),
    ),
    bench_customer_b: input.customerId,
    a_sql: { text: input.statement.text, params: input.statement.params },
    a_sql_matches_api: sameSql(parts.get('a')?.statements[0], input.statement),
    statements: Object.fromEntries(
      [...parts].map(([id, b]) => [id, b.statements.map((st) => ({ text: st.text, params: st.params }))]),
    ),
    parquet_files_per_mart: input.files,
    settings: {
      connections: input.connections,
      duration_s: input.durationS,
      warmup_s: WARMUP_S,
      cold_prime_s: PRIME_S,
      duckdb_sequential_runs: DUCKDB_SEQUENTIAL_RUNS,
      breakdown_requests: BREAKDOWN_REQUESTS,
      cold: cold.settings,
      warm: warm.settings,
      policy_on: `csm token, regions claim ${MART_REGIONS.join(',')} (every region: same answers as admin); in process (a) also with regions [${PAGE_REGION}]`,
    },
    policy: {
      cold: cold.policy,
      warm: warm.policy,
      in_process: Object.fromEntries(
        Object.entries(input.policyInProcess).map(([mode, byScenario]) => [
          mode,
          Object.fromEntries(byScenario ?? new Map()),
        ]),
      ),
    },
    server_logs: {
      cold: cold.serverLogs,
      warm: warm.serverLogs,
      note: "ERROR lines counted on the servers' stderr; see the report for their cause",
    },
    runs: [...cold.runs, ...warm.runs],
  };
  const dir = new URL('./results/', import.meta.url);
  await mkdir(dir, { recursive: true });
  await writeFile(new URL('api.json', dir), `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(render(result, input.list));
  process.stdout.write('saved bench/results/api.json\n');
}

/** A partial run's HTTP figures: pooled admin runs and the policy loss per scenario. */
function renderPartial(result: ModeResult, list: readonly Scenario[]): string {
  const lines = [`\n${result.mode} (partial):`];
  for (const s of list) {
    const p = result.pooled.get(s.id);
    if (!p) continue;
    const loss = policyLoss(result, s.id, 'reqPerS');
    const cpuLoss = policyLoss(result, s.id, 'serverCpuMsPerReq');
    lines.push(
      `  (${s.id}) ${p.reqPerS.toFixed(0)} req/s  p50 ${p.p50Ms.toFixed(2)}  p99 ${p.p99Ms.toFixed(2)}  non2xx ${p.non2xx}  server cpu ${p.serverCpuMsPerReq.toFixed(3)} ms/req${loss === undefined ? '' : `  policy loss ${loss.toFixed(1)}% (cpu ${cpuLoss?.toFixed(1)}%)`}`,
    );
  }
  for (const r of result.runs)
    lines.push(
      `    ${r.scenario} ${r.role.padEnd(5)} ${r.run.reqPerS.toFixed(1).padStart(8)} req/s  p50 ${r.run.p50Ms.toFixed(2)}  p99 ${r.run.p99Ms.toFixed(2)}  answers ${r.run.answers2xx}  cpu ${r.run.serverCpuMsPerReq.toFixed(3)}  load ${r.run.loadBefore.toFixed(1)}`,
    );
  return `${lines.join('\n')}\n`;
}

function render(
  result: {
    machine: { cpus: number; node: string; load_1m_at_start: number; load_1m_at_end: number };
    figures: Record<string, { value: number; unit: string }>;
    goals: Goal[];
    todo: string[];
    runs: RunRecord[];
    lake: { gold_rows: Record<string, number> };
    server_logs: { cold: ModeResult['serverLogs']; warm: ModeResult['serverLogs'] };
  },
  list: readonly Scenario[],
): string {
  const f = (name: string, digits = 1): string => {
    const v = result.figures[name]?.value;
    return v === undefined || Number.isNaN(v) ? '-' : v.toFixed(digits);
  };
  const lines: string[] = [];
  lines.push(
    `\napi (${result.machine.cpus} cpus, node ${result.machine.node}, load ${result.machine.load_1m_at_start.toFixed(1)} -> ${result.machine.load_1m_at_end.toFixed(1)})`,
  );
  lines.push(
    `Gold: ${f('gold_customers', 0)} customers, ${f('gold_invoices', 0)} invoices, ${f('gold_payments', 0)} payments; lake build ${f('lake_build_s', 0)} s`,
  );
  lines.push('');
  lines.push(
    `${'scenario'.padEnd(40)} ${'mode'.padEnd(5)} ${'req/s'.padStart(8)} ${'p50 ms'.padStart(9)} ${'p99 ms'.padStart(9)} ${'non2xx'.padStart(7)} ${'srv cpu ms/req'.padStart(15)}`,
  );
  for (const mode of ['cold', 'warm'] as const) {
    for (const s of list) {
      const p = `${s.id}_${mode}`;
      lines.push(
        `${`(${s.id}) ${s.title}`.padEnd(40)} ${mode.padEnd(5)} ${f(`${p}_req_per_s`).padStart(8)} ${f(`${p}_p50_ms`, 2).padStart(9)} ${f(`${p}_p99_ms`, 2).padStart(9)} ${f(`${p}_non2xx`, 0).padStart(7)} ${f(`${p}_server_cpu_ms_per_req`, 3).padStart(15)}`,
      );
    }
  }
  lines.push('');
  lines.push(
    'every run (role, req/s, p50, p99, non-2xx, server and autocannon CPU ms per answer, load before):',
  );
  for (const r of result.runs) {
    lines.push(
      `  ${r.mode} (${r.scenario}) ${r.role.padEnd(5)} ${r.run.reqPerS.toFixed(0).padStart(7)} req/s  p50 ${r.run.p50Ms.toFixed(2).padStart(8)}  p99 ${r.run.p99Ms.toFixed(2).padStart(8)}  non2xx ${r.run.non2xx}  cpu ${r.run.serverCpuMsPerReq.toFixed(3)} + ${r.run.clientCpuMsPerReq.toFixed(3)}  load ${r.run.loadBefore.toFixed(1)}`,
    );
  }
  lines.push('');
  lines.push(
    `(a) cold vs DuckDB: API p50 ${f('a_cold_p50_ms', 2)} ms (c32), ${f('a_cold_c1_p50_ms', 2)} ms (c1); DuckDB median ${f('duckdb_a_sequential_median_ms', 2)} ms one at a time, p50 ${f('duckdb_a_concurrent_p50_ms', 2)} ms with as many callers as connections`,
  );
  lines.push('cold, in process, one request at a time (means, ms):');
  for (const s of list) {
    const p = `breakdown_${s.id}`;
    lines.push(
      `  (${s.id}) total ${f(`${p}_total_mean_ms`, 2)} = engine ${f(`${p}_engine_mean_ms`, 2)} + JWT ${f(`${p}_verify_mean_ms`, 2)} + pointers ${f(`${p}_store_mean_ms`, 2)} + Apollo/resolvers/JSON ${f(`${p}_rest_mean_ms`, 2)}; same SQL straight on DuckDB ${f(`${p}_duckdb_direct_mean_ms`, 2)} (x${f(`${p}_over_duckdb`, 2)})`,
    );
  }
  lines.push('warm, in process, one cache hit at a time (means, ms):');
  for (const s of list) {
    const p = `breakdown_warm_${s.id}`;
    lines.push(
      `  (${s.id}) total ${f(`${p}_total_mean_ms`, 3)} = JWT ${f(`${p}_verify_mean_ms`, 3)} + pointers ${f(`${p}_store_mean_ms`, 3)} + cache key/lookup/response ${f(`${p}_rest_mean_ms`, 3)} (+ engine ${f(`${p}_engine_mean_ms`, 3)})`,
    );
  }
  for (const mode of ['cold', 'warm'] as const) {
    for (const id of ['a', 'c']) {
      const loss = result.figures[`policy_loss_${id}_${mode}_pct`];
      if (loss)
        lines.push(
          `policy on vs off (${id}) ${mode}: HTTP req/s loss ${loss.value.toFixed(1)}% (admin runs differ by up to ${f(`policy_noise_${id}_${mode}_pct`)}%); server CPU per answer ${f(`policy_loss_${id}_${mode}_server_cpu_pct`)}%; in process, interleaved ${f(`policy_loss_${id}_${mode}_in_process_pct`, 2)}%${id === 'a' ? ` (csm of one region: ${f(`policy_loss_a_${mode}_in_process_one_region_pct`, 2)}%)` : ''}`,
        );
    }
  }
  const logs = result.server_logs;
  lines.push(
    `server ERROR lines: cold ${logs.cold.errors}, warm ${logs.warm.errors}${logs.cold.lastError ? ` (last: ${logs.cold.lastError.slice(0, 160)})` : ''}`,
  );
  lines.push('');
  lines.push('goals:');
  for (const g of result.goals) {
    lines.push(
      `  ${g.met ? 'met    ' : 'NOT MET'}  ${g.figure.padEnd(36)} ${g.value.toFixed(Math.abs(g.value) < 10 ? 3 : 1).padStart(10)}  goal ${g.goal}${g.caveat ? ` (${g.caveat})` : ''}`,
    );
  }
  for (const t of result.todo) lines.push(`  TODO     ${t}`);
  return `${lines.join('\n')}\n`;
}
