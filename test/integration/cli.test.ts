import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeProtectedHeader, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../src/adapters/object-store/local.js';
import { DuckDbQueryEngine } from '../../src/adapters/query-engine/duckdb.js';
import { goldDataset } from '../../src/lake/layout.js';
import { resolveLatest } from '../../src/lake/publish.js';

/**
 * goldgate end to end, the way a newcomer runs it: `goldgate start` in a
 * fresh folder, the printed curl, then the other commands against the same
 * lake while the server keeps serving.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'goldgate.mjs');
const CUSTOMERS = 40;
/** The server's heap cap in this test; the demo build must not run under it. */
const SERVER_HEAP_MB = 192;
const LISTENING = /goldgate API listening on (http:\/\/127\.0\.0\.1:(\d+)\/graphql)/;
const CURL =
  /curl -s (\S+) -H 'content-type: application\/json' \\\n {2}-H 'authorization: Bearer ([^']+)' \\\n {2}-d '([^']+)'\n/;
const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

let lakeDir: string;
let stateDir: string;
let env: NodeJS.ProcessEnv;
let server: ChildProcess | undefined;
let serverExit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
let serverStdout = '';
let serverStderr = '';
let url: string;
let printedToken: string;
let printedQuery: string;

interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run one goldgate command to its end. */
function goldgate(args: readonly string[], timeoutMs = 60_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`goldgate ${args.join(' ')} did not finish in ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Resolve when `test` holds for the server's output; fail on exit or timeout. */
function waitForServer(test: () => boolean, what: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = setInterval(() => {
      if (test()) {
        clearInterval(poll);
        resolve();
      } else if (server?.exitCode !== null || Date.now() - started > timeoutMs) {
        clearInterval(poll);
        reject(
          new Error(
            `goldgate start: no ${what} (exit ${server?.exitCode})\n--- stderr\n${serverStderr}\n--- stdout\n${serverStdout}`,
          ),
        );
      }
    }, 50);
  });
}

async function postGraphql(body: string, authorization?: string): Promise<{ status: number; json: unknown }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (authorization !== undefined) headers.authorization = authorization;
  const response = await fetch(url, { method: 'POST', headers, body });
  const text = await response.text();
  return { status: response.status, json: JSON.parse(text) };
}

/** `publish list customer_360`, parsed: runs oldest first, and the one marked served. */
async function publishList(): Promise<{ runs: string[]; served: string[] }> {
  const result = await goldgate(['publish', 'list', 'customer_360']);
  expect(result.code, result.stderr).toBe(0);
  const lines = result.stdout.split('\n').filter((line) => line !== '');
  for (const line of lines) expect(line).toMatch(/^(\* | {2})\S+$/);
  return {
    runs: lines.map((line) => line.slice(2)),
    served: lines.filter((line) => line.startsWith('* ')).map((line) => line.slice(2)),
  };
}

/** The run _LATEST.json points at, read from the lake by the test itself. */
async function servedRun(): Promise<string | undefined> {
  return (await resolveLatest(new LocalObjectStore(lakeDir), goldDataset('customer_360', 1)))?.run_id;
}

/** Run ids of the pipeline runs recorded in the lake (`_runs/pipeline/`), oldest first. */
async function pipelineRuns(): Promise<string[]> {
  const runs: string[] = [];
  for await (const info of new LocalObjectStore(lakeDir).list('_runs/pipeline/')) {
    runs.push(info.key.slice('_runs/pipeline/'.length, -'.json'.length));
  }
  return runs.sort();
}

/** The first customer ids in key order and the row count, read from the served parquet. */
async function parquetFacts(limit: number): Promise<{ ids: string[]; count: number }> {
  const store = new LocalObjectStore(lakeDir);
  const pointer = await resolveLatest(store, goldDataset('customer_360', 1));
  if (!pointer) throw new Error('customer_360 is not published');
  const engine = await DuckDbQueryEngine.create({ store, connections: 1 });
  try {
    const rel = engine.martRelation({
      mart: 'customer_360',
      schemaVersion: 1,
      runId: pointer.run_id,
      prefix: pointer.path,
    });
    const ids = await engine.query({
      sql: {
        text: `SELECT customer_id FROM ${rel.text} ORDER BY customer_id LIMIT ${limit}`,
        params: rel.params,
      },
    });
    const count = await engine.query({
      sql: { text: `SELECT count(*) AS n FROM ${rel.text}`, params: rel.params },
    });
    return { ids: ids.rows.map((r) => String(r.customer_id)), count: Number(count.rows[0]?.n) };
  } finally {
    await engine.close();
  }
}

beforeAll(async () => {
  lakeDir = await mkdtemp(join(tmpdir(), 'goldgate-cli-lake-'));
  stateDir = await mkdtemp(join(tmpdir(), 'goldgate-cli-state-'));
  env = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('GOLDGATE_') && name !== 'NODE_ENV' && !name.startsWith('VITEST')) env[name] = value;
  }
  Object.assign(env, {
    GOLDGATE_LAKE_DIR: lakeDir,
    GOLDGATE_STATE_DIR: stateDir,
    GOLDGATE_PORT: '0',
    GOLDGATE_DEMO_CUSTOMERS: String(CUSTOMERS),
    GOLDGATE_LOG_LEVEL: 'WARN',
    GOLDGATE_HEAP_MB: String(SERVER_HEAP_MB),
  });

  const child = spawn(process.execPath, [BIN, 'start'], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server = child;
  serverExit = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  child.stdout.on('data', (chunk: Buffer) => {
    serverStdout += chunk.toString('utf8');
  });
  child.stderr.on('data', (chunk: Buffer) => {
    serverStderr += chunk.toString('utf8');
  });

  await waitForServer(() => LISTENING.test(serverStderr), 'listening line on stderr', 60_000);
  url = LISTENING.exec(serverStderr)?.[1] ?? '';
  await waitForServer(() => CURL.test(serverStdout), 'curl on stdout', 10_000);
  const curl = CURL.exec(serverStdout);
  expect(curl?.[1]).toBe(url);
  printedToken = curl?.[2] ?? '';
  printedQuery = curl?.[3] ?? '';
}, 90_000);

afterAll(async () => {
  if (server && server.exitCode === null && server.signalCode === null) {
    server.kill('SIGKILL');
    await serverExit;
  }
  await rm(lakeDir, { recursive: true, force: true });
  await rm(stateDir, { recursive: true, force: true });
});

describe('goldgate start', () => {
  it('builds the demo lake outside the server heap cap (under it, the default demo ran out of memory)', () => {
    const limit = /building the demo lake: \d+ customers \(V8 heap limit (\d+) MB\)/.exec(serverStderr);
    expect(limit, serverStderr).not.toBeNull();
    // V8's heap limit under --max-old-space-size=192 is about 192 MB plus the young generation; its default is GBs.
    expect(Number(limit?.[1])).toBeGreaterThan(SERVER_HEAP_MB * 2);
  });

  it('builds the demo lake and serves it: the printed curl returns 5 customers', async () => {
    expect(printedToken).toMatch(JWT);
    expect(JSON.parse(printedQuery)).toHaveProperty('query');
    const expected = await parquetFacts(5);
    expect(expected.count).toBe(CUSTOMERS);

    const answer = await postGraphql(printedQuery, `Bearer ${printedToken}`);
    expect(answer.status).toBe(200);
    const body = answer.json as {
      errors?: unknown;
      data: { customers: { nodes: Array<{ customerId: string }> } };
    };
    expect(body.errors).toBeUndefined();
    expect(body.data.customers.nodes).toHaveLength(5);
    expect(body.data.customers.nodes.map((n) => n.customerId)).toEqual(expected.ids);
  });

  it('the same request without a token, or with a token from another key, gets 401', async () => {
    const unauthorized = { errors: [{ message: 'Unauthorized', extensions: { code: 'UNAUTHENTICATED' } }] };
    const none = await postGraphql(printedQuery);
    expect(none).toEqual({ status: 401, json: unauthorized });

    const { kid } = decodeProtectedHeader(printedToken);
    expect(kid).toEqual(expect.any(String));
    const other = await generateKeyPair('ES256');
    const forged = await new SignJWT({ 'https://goldgate.dev/roles': ['admin'] })
      .setProtectedHeader({ alg: 'ES256', kid: kid ?? '', typ: 'JWT' })
      .setSubject('local-admin')
      .setIssuer('goldgate-local')
      .setAudience('goldgate-api')
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(other.privateKey);
    expect(await postGraphql(printedQuery, `Bearer ${forged}`)).toEqual({ status: 401, json: unauthorized });
  });

  it('goldgate token --role admin prints a JWT that works', async () => {
    const result = await goldgate(['token', '--role', 'admin']);
    expect(result.code, result.stderr).toBe(0);
    const jwt = result.stdout.trim();
    expect(result.stdout).toBe(`${jwt}\n`);
    expect(jwt).toMatch(JWT);
    expect(jwt).not.toBe(printedToken);
    const answer = await postGraphql(
      JSON.stringify({ query: '{ customers(first: 2) { totalCount } }' }),
      `Bearer ${jwt}`,
    );
    expect(answer).toEqual({ status: 200, json: { data: { customers: { totalCount: CUSTOMERS } } } });
  });
});

describe('publishing', () => {
  /** The runs the demo published (one per pipeline run it made), oldest first. */
  let demoRuns: string[];
  /** The demo's last run: served when the demo is done. */
  let firstRun: string;

  it('publish list customer_360 shows a run per demo pipeline run, the latest served', async () => {
    const list = await publishList();
    demoRuns = await pipelineRuns();
    expect(demoRuns.length).toBeGreaterThan(0);
    expect(list.runs).toEqual(demoRuns);
    firstRun = demoRuns.at(-1) ?? '';
    expect(list.served).toEqual([firstRun]);
    expect(await servedRun()).toBe(firstRun);
  });

  it('pipeline run succeeds, and publish list then shows one more run, the new one served', async () => {
    const result = await goldgate(['pipeline', 'run'], 120_000);
    expect(result.code, result.stderr).toBe(0);
    const list = await publishList();
    expect(list.runs).toHaveLength(demoRuns.length + 1);
    expect(list.runs.slice(0, -1)).toEqual(demoRuns);
    const secondRun = list.runs.at(-1) ?? '';
    expect(secondRun).not.toBe(firstRun);
    expect(list.served).toEqual([secondRun]);
    expect(await servedRun()).toBe(secondRun);
  }, 130_000);

  it('publish rollback customer_360 <the demo run> serves it again', async () => {
    const result = await goldgate(['publish', 'rollback', 'customer_360', firstRun]);
    expect(result.code, result.stderr).toBe(0);
    const list = await publishList();
    expect(list.runs).toHaveLength(demoRuns.length + 1);
    expect(list.served).toEqual([firstRun]);
    expect(await servedRun()).toBe(firstRun);
    // The running server follows the pointer on the next request.
    const expected = await parquetFacts(5);
    const answer = await postGraphql(printedQuery, `Bearer ${printedToken}`);
    expect(answer.status).toBe(200);
    const body = answer.json as { data: { customers: { nodes: Array<{ customerId: string }> } } };
    expect(body.data.customers.nodes.map((n) => n.customerId)).toEqual(expected.ids);
  });
});

describe('usage', () => {
  it('an unknown command exits 2 with the usage', async () => {
    const result = await goldgate(['frobnicate']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('unknown command frobnicate');
    expect(result.stderr).toContain('Usage:');
    expect(result.stderr).toContain('goldgate start');
    expect(result.stderr).not.toMatch(/\bat .*\.(ts|js|mjs):\d+/);
    expect(result.stdout).toBe('');
  });
});

describe('shutdown', () => {
  it('SIGTERM stops the server, which exits 0', async () => {
    expect(server?.exitCode).toBeNull();
    server?.kill('SIGTERM');
    const exit = await Promise.race([
      serverExit,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('no exit 15 s after SIGTERM')), 15_000),
      ),
    ]);
    expect(
      exit,
      'goldgate must shut down gracefully and exit 0 on SIGTERM. If it died of the signal instead: Apollo ' +
        'Server installs its own SIGTERM/SIGINT handler (stopOnTerminationSignals defaults on outside ' +
        'NODE_ENV=test), which stops Apollo and re-sends the signal to the process before the CLI has ' +
        `closed the runtime. stderr:\n${serverStderr}`,
    ).toEqual({ code: 0, signal: null });
    expect(serverStderr).toContain('shutting down');
    // Nothing failed on the way (warnings and errors would be on stderr at GOLDGATE_LOG_LEVEL=WARN).
    expect(serverStderr).not.toMatch(/"level":"(ERROR|CRITICAL)"/);
  }, 20_000);
});
