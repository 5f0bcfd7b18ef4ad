import { spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { getHeapStatistics } from 'node:v8';
import { createHttpServer } from '../api/http.js';
import { prepareIde } from '../api/ide/setup.js';
import { ensureDevKeys } from '../auth/dev-keys.js';
import { definedRoles } from '../auth/policy/index.js';
import { signDevToken } from '../auth/token.js';
import { findMart, MARTS } from '../catalog/index.js';
import { type Config, loadConfig } from '../config/index.js';
import { describeError, isGoldgateError } from '../errors.js';
import { goldDataset } from '../lake/layout.js';
import { listCompleteRuns, resolveLatest, rollbackTo } from '../lake/publish.js';
import { createApiRuntime } from '../runtime/app.js';
import { logger } from '../runtime/logger.js';
import { createObjectStore, createQueryEngine } from '../runtime/stores.js';
import { goldPublishStatement } from '../transform/athena/gold.js';
import { athenaConfigOf, transformHomeFor } from '../transform/athena/run.js';
import { runPipeline } from '../transform/pipeline.js';
import { buildDemoLake } from './demo.js';
import { ingestCommand } from './ingest.js';
import { lineageCommand, OpsUsageError, runsCommand, slaCommand } from './ops.js';
import { progress } from './progress.js';
import { quarantineCommand } from './quarantine.js';

const USAGE = `goldgate: a governed, fast way to the company's analytics data

Usage:
  goldgate start                         build the demo lake if absent, then serve (what npm start runs)
  goldgate demo [--customers N] [--seed S] [--reset]
                                         generate a demo company, land it in Bronze, run the pipeline
  goldgate serve                         serve the API on GOLDGATE_HOST:GOLDGATE_PORT (127.0.0.1:4000)
  goldgate token --role ROLE [--role ROLE...] [--subject NAME] [--regions EU,NA] [--customer-ids A,B] [--ttl SECONDS]
                                         print a JWT signed with the local dev key, for roles the policy defines
  goldgate pipeline run [--rebuild]      Bronze -> Silver -> Gold, publish (--rebuild: build every mart,
                                         even those whose served run is what a build would write)
  goldgate ingest zoho [--entity E]... [--full]
                                         pull Zoho Books into Bronze incrementally (ZOHO_* settings)
  goldgate ingest reconcile [--entity E]...
                                         land deletes: keys Silver holds that Zoho no longer lists
  goldgate quarantine list | retry [--entity source/entity] | release [--entity source/entity]
                                         inspect rows that broke a Silver contract; retry or give up condemned ones
  goldgate publish list <mart>           list complete runs and the one served
  goldgate publish rollback <mart> <run_id>
                                         serve an earlier complete run of a mart
  goldgate runs [--limit N] [--json]     the last pipeline runs: steps, rows, durations, checks, quarantine
  goldgate lineage <mart> [run_id] [--summary] [--json]
                                         what a Gold run (default: the served one) was built from, down to Bronze
  goldgate sla [--json]                  freshness and SLA state of every mart (exits 1 if one is breached)
Settings come from GOLDGATE_* environment variables (see README).`;

class UsageError extends Error {}

/** The demo lake could not be built; its own output said why. */
class DemoBuildError extends Error {
  constructor(readonly exitCode: number) {
    super(`building the demo lake failed (exit code ${exitCode}); see the lines above`);
  }
}

/** Entry point of the `goldgate` command. */
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  const config = loadConfig();
  if (command !== 'serve' && command !== 'start' && !process.env.GOLDGATE_LOG_LEVEL)
    logger.setLogLevel('WARN');
  switch (command) {
    case 'start':
      return start(config);
    case 'serve':
      return serve(config);
    case 'demo':
      return demo(config, rest);
    case 'token':
      return token(config, rest);
    case 'pipeline':
      if (rest[0] !== 'run') throw new UsageError('expected: goldgate pipeline run [--rebuild]');
      return pipeline(config, rest.slice(1));
    case 'publish':
      return publish(config, rest);
    case 'ingest':
      return ingestCommand(config, rest);
    case 'quarantine':
      return quarantineCommand(config, rest);
    case 'runs':
      return runsCommand(config, rest);
    case 'lineage':
      return lineageCommand(config, rest);
    case 'sla':
      return slaCommand(config, rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command ${command}`);
  }
}

async function withLake<T>(
  config: Config,
  fn: (lake: Awaited<ReturnType<typeof openLake>>) => Promise<T>,
): Promise<T> {
  const lake = await openLake(config);
  try {
    return await fn(lake);
  } finally {
    await lake.engine.close();
  }
}

async function openLake(config: Config) {
  const store = createObjectStore(config);
  const engine = await createQueryEngine(config, store);
  return { store, engine };
}

async function demo(config: Config, args: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: { customers: { type: 'string' }, seed: { type: 'string' }, reset: { type: 'boolean' } },
  });
  const customers = values.customers === undefined ? config.demo.customers : Number(values.customers);
  const seed = values.seed === undefined ? config.demo.seed : Number(values.seed);
  if (!Number.isInteger(customers) || customers < 1 || customers > 1_000_000) {
    throw new UsageError('--customers takes a whole number from 1 to 1000000');
  }
  if (!Number.isInteger(seed)) throw new UsageError('--seed takes a whole number');
  if (values.reset) {
    progress(`removing the lake at ${config.lakeDir}`);
    await rm(config.lakeDir, { recursive: true, force: true });
  }
  await buildDemo(config, customers, seed);
  return 0;
}

async function buildDemo(config: Config, customers: number, seed: number): Promise<void> {
  const started = Date.now();
  // The heap limit is shown because a build under the server's cap runs out of memory (see `start`).
  const heapMb = Math.round(getHeapStatistics().heap_size_limit / 2 ** 20);
  progress(`building the demo lake: ${customers} customers (V8 heap limit ${heapMb} MB)`);
  await withLake(config, async ({ store, engine }) => {
    const { report } = await buildDemoLake({ store, engine, seed, customers, onProgress: progress });
    const gold = report.steps.filter((s) => s.step.startsWith('gold.'));
    progress(
      `demo lake ready in ${((Date.now() - started) / 1000).toFixed(1)} s: ${gold
        .map((s) => `${s.step.slice(5)} ${s.status} (${s.rowsOut} rows)`)
        .join(', ')}`,
    );
  });
}

async function start(config: Config): Promise<number> {
  const probe = createObjectStore(config);
  const mart = findMart('customer_360');
  const published = mart ? await resolveLatest(probe, goldDataset(mart.name, mart.schemaVersion)) : undefined;
  if (published)
    progress(`using the existing demo lake at ${config.lakeDir} (goldgate demo --reset rebuilds it)`);
  else await buildDemoOutsideServer();
  return serve(config, true);
}

/**
 * `goldgate demo` in a child process. The server runs under a V8 heap cap
 * (bin/server-flags.mjs) sized for serving; generating and transforming the
 * demo company is batch work that needs more, so it runs without that cap,
 * with the same environment (same lake, same demo settings).
 */
async function buildDemoOutsideServer(): Promise<void> {
  const bin = fileURLToPath(new URL('../../bin/goldgate.mjs', import.meta.url));
  const code = await new Promise<number>((resolve, reject) => {
    const child = spawn(process.execPath, [bin, 'demo'], { stdio: 'inherit' });
    child.once('error', reject);
    child.once('exit', (exit, signal) => resolve(exit ?? (signal ? 1 : 0)));
  });
  if (code !== 0) throw new DemoBuildError(code);
}

async function serve(config: Config, showCurl = false): Promise<number> {
  const demoToken = showCurl && config.home === 'embedded' ? await mintDemoToken(config) : undefined;
  // The page hands its token to whoever opens it: pre-filled only when no one else can reach the server.
  const ide = await prepareIde({
    token: isLoopback(config.server.host) ? demoToken : undefined,
    onProgress: progress,
  });
  const runtime = await createApiRuntime(config, { ide });
  const server = createHttpServer(runtime.gateway, logger);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.server.port, config.server.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.server.port;
  const url = `http://${config.server.host}:${port}/graphql`;
  progress(`goldgate API listening on ${url}`);
  if (ide) progress(`GraphQL IDE on http://${config.server.host}:${port}/`);
  // The gateway serves the ops page wherever it serves the IDE (src/api/gateway.ts).
  if (ide) progress(`ops page on http://${config.server.host}:${port}/ops`);
  if (demoToken) {
    const query = JSON.stringify({
      query:
        '{ customers(first: 5) { nodes { customerId name region lifetimeRevenue } pageInfo { hasNextPage endCursor } } }',
    });
    process.stdout.write(
      `\nTry it (token valid 8 h; a new one: npx goldgate token --role admin):\n\n` +
        `curl -s ${url} -H 'content-type: application/json' \\\n  -H 'authorization: Bearer ${demoToken}' \\\n  -d '${query}'\n\n`,
    );
  }
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      progress('shutting down');
      server.close(() => resolve());
      server.closeAllConnections();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await runtime.close();
  return 0;
}

async function mintDemoToken(config: Config): Promise<string> {
  const key = await ensureDevKeys(config.stateDir);
  return signDevToken(key, { subject: 'local-admin', roles: ['admin'] }, config.auth);
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

async function token(config: Config, args: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: {
      role: { type: 'string', multiple: true },
      subject: { type: 'string' },
      sub: { type: 'string' },
      regions: { type: 'string' },
      'customer-ids': { type: 'string' },
      ttl: { type: 'string' },
    },
  });
  const roles = (values.role ?? []).flatMap((r) => r.split(',').map((s) => s.trim())).filter(Boolean);
  if (roles.length === 0) throw new UsageError('token needs at least one --role');
  const policy = await definedRoles(config);
  const known = new Map(policy.roles.map((r) => [r.name, r]));
  const unknown = roles.filter((r) => !known.has(r));
  if (unknown.length > 0)
    throw new UsageError(
      `${unknown.map((r) => `"${r}"`).join(', ')} ${unknown.length > 1 ? 'are roles' : 'is a role'} the policy (${policy.origin}) does not define; defined: ${[...known.keys()].join(', ')}`,
    );
  const ttl = values.ttl === undefined ? 8 * 3600 : Number(values.ttl);
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > 7 * 86_400)
    throw new UsageError('--ttl takes 1 to 604800 seconds');
  const list = (v: string | undefined): string[] | undefined =>
    v
      ?.split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  const scopes: Record<string, string[]> = {};
  const regions = list(values.regions);
  const customerIds = list(values['customer-ids']);
  if (regions) scopes.regions = regions;
  if (customerIds) scopes.customer_ids = customerIds;
  for (const role of roles) {
    for (const claim of known.get(role)?.claims ?? []) {
      if (!scopes[claim])
        process.stderr.write(
          `goldgate: note: role ${role} reads rows by the ${claim} claim; without --${claim.replaceAll('_', '-')} its row rules match nothing\n`,
        );
    }
  }
  const key = await ensureDevKeys(config.stateDir);
  const jwt = await signDevToken(
    key,
    { subject: values.subject ?? values.sub ?? `local-${roles[0]}`, roles, scopes, expiresInS: ttl },
    config.auth,
  );
  process.stdout.write(`${jwt}\n`);
  return 0;
}

async function pipeline(config: Config, args: readonly string[]): Promise<number> {
  const { values } = parseArgs({ args: [...args], options: { rebuild: { type: 'boolean' } } });
  return withLake(config, async ({ store, engine }) => {
    // On the aws home the same orchestration runs its steps on Athena.
    const home = transformHomeFor(config, store, engine);
    const report = await runPipeline({
      store,
      engine,
      ...(home ? { home } : {}),
      lockTtlMs: config.pipeline.lockTtlMs,
      ...(values.rebuild ? { rebuildGold: true } : {}),
      onProgress: (e) => progress(`[${e.index}/${e.total}] ${e.step}: ${e.detail}`),
    });
    progress(`pipeline run ${report.runId} ${report.status}`);
    return report.status === 'succeeded' ? 0 : 1;
  });
}

async function publish(config: Config, args: readonly string[]): Promise<number> {
  const [action, martName, runId] = args;
  const mart = martName ? findMart(martName) : undefined;
  if (!mart)
    throw new UsageError(
      `expected: goldgate publish list|rollback <mart> [run_id]; marts: ${MARTS.map((m) => m.name).join(', ')}`,
    );
  const store = createObjectStore(config);
  const dataset = goldDataset(mart.name, mart.schemaVersion);
  if (action === 'list') {
    const latest = await resolveLatest(store, dataset);
    for (const run of await listCompleteRuns(store, dataset)) {
      process.stdout.write(`${run === latest?.run_id ? '* ' : '  '}${run}\n`);
    }
    return 0;
  }
  if (action === 'rollback' && runId) {
    const pointer = await rollbackTo(store, dataset, runId);
    if (config.home === 'aws') {
      // Athena callers read the mart's view: it must follow the pointer.
      await withLake(config, async ({ engine }) => {
        const statement = goldPublishStatement(athenaConfigOf(config), mart, pointer.run_id);
        await engine.execute({ sql: statement.sql, label: statement.label });
      });
    }
    progress(
      `${mart.name} now serves run ${pointer.run_id}${pointer.rolled_back_from ? ` (was ${pointer.rolled_back_from})` : ''}`,
    );
    return 0;
  }
  throw new UsageError('expected: goldgate publish rollback <mart> <run_id>');
}

/** Run the CLI and exit with its status; errors print their code, never a stack. */
export async function run(argv: readonly string[]): Promise<void> {
  try {
    process.exitCode = await main(argv);
  } catch (error) {
    if (
      error instanceof UsageError ||
      error instanceof OpsUsageError ||
      (error as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION'
    ) {
      process.stderr.write(`goldgate: ${(error as Error).message}\n\n${USAGE}\n`);
      process.exitCode = 2;
    } else if (error instanceof DemoBuildError) {
      process.stderr.write(`goldgate: ${error.message}\n`);
      process.exitCode = 1;
    } else if (isGoldgateError(error)) {
      process.stderr.write(`goldgate: ${error.code}: ${error.message}\n`);
      process.exitCode = 1;
    } else {
      const { name, message } = describeError(error);
      process.stderr.write(`goldgate: unexpected ${name}: ${message}\n`);
      process.exitCode = 1;
    }
  }
}
