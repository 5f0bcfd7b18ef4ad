import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { LocalObjectStore } from '../../src/adapters/object-store/local.js';
import { AthenaQueryEngine, createAthenaClient } from '../../src/adapters/query-engine/athena.js';
import { DuckDbQueryEngine } from '../../src/adapters/query-engine/duckdb.js';
import {
  AthenaQueryStateError,
  EngineBusyError,
  QueryAbortedError,
  QueryFailedError,
  QueryTimeoutError,
} from '../../src/adapters/query-engine/errors.js';
import type { MartVersionRef } from '../../src/adapters/query-engine/port.js';
import { MARTS } from '../../src/catalog/index.js';
import { goldDataset, runPrefix } from '../../src/lake/layout.js';
import { newRunId } from '../../src/lake/run-id.js';
import { sql } from '../../src/sql/fragment.js';
import { goldRunTable } from '../../src/transform/athena/config.js';
import { LocalAthena } from '../support/athena-local/server.js';
import { fixturesDir } from '../support/fixtures.js';
import { queryEngineContract } from './query-engine.contract.js';

const GOLD_DB = 'goldgate_gold';
/** Not secrets: the local endpoint reads no signature. */
const CREDENTIALS = { accessKeyId: 'AKIDLOCALATHENA', secretAccessKey: 'local-athena-not-a-secret' };

/** Write rows as one Gold run of `mart` (id BIGINT, region VARCHAR, amount DECIMAL(18,2)) in the folder store. */
async function seedRun(
  store: LocalObjectStore,
  mart: string,
  rows: ReadonlyArray<{ id: number; region: string; amount: string }>,
): Promise<MartVersionRef> {
  const runId = newRunId();
  const prefix = runPrefix(goldDataset(mart, 1), runId);
  const writer = await DuckDbQueryEngine.create({ store });
  const values = rows.map((r) => sql`(${r.id}, ${r.region}, ${r.amount})`);
  const body = values.reduce((acc, v, i) => sql`${acc}${i ? sql`, ` : sql``}${v}`, sql``);
  await writer.execute({
    sql: sql`COPY (SELECT CAST(id AS BIGINT) AS id, CAST(region AS VARCHAR) AS region,
               CAST(amount AS DECIMAL(18,2)) AS amount FROM (VALUES ${body}) AS t(id, region, amount))
             TO ${`${await store.prepareWrite(prefix)}/part-00000.parquet`} (FORMAT parquet)`,
  });
  await writer.close();
  return { mart, schemaVersion: 1, runId, prefix };
}

interface Setup {
  readonly dir: string;
  readonly store: LocalObjectStore;
  readonly server: LocalAthena;
}

async function setUp(): Promise<Setup> {
  const dir = await mkdtemp(join(tmpdir(), 'goldgate-athena-'));
  const store = new LocalObjectStore(dir);
  const server = await LocalAthena.start({ lakeDir: dir, goldDatabase: GOLD_DB });
  return { dir, store, server };
}

function engineFor(
  server: LocalAthena,
  overrides: Partial<ConstructorParameters<typeof AthenaQueryEngine>[0]> = {},
): AthenaQueryEngine {
  return new AthenaQueryEngine({
    client: createAthenaClient({ endpoint: server.endpoint, region: 'us-east-1', credentials: CREDENTIALS }),
    ownsClient: true,
    workGroup: 'primary',
    database: GOLD_DB,
    outputLocation: 's3://goldgate-local-results/athena/',
    poll: { initialMs: 5, maxMs: 40 },
    retry: { attempts: 5, baseMs: 2, maxMs: 20 },
    resultReuseMaxAgeMinutes: 60,
    marts: [...MARTS.map((m) => m.name), 'contract_mart'],
    ...overrides,
  });
}

let setup: Setup;
queryEngineContract({
  name: 'Athena (over HTTP, local endpoint)',
  async create() {
    setup = await setUp();
    return engineFor(setup.server);
  },
  seedMart: (rows) => seedRun(setup.store, 'contract_mart', rows),
  async dispose() {
    await setup.server.close();
    await rm(setup.dir, { recursive: true, force: true });
  },
});

/** Ten rows 0..9, and a statement that runs until something stops it. */
const DIGITS = { text: 'd(x) AS (VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9))', params: [] };
const HEAVY = sql`WITH ${DIGITS}
  SELECT count(*) AS c FROM d a, d b, d c, d e, d f, d g, d h, d i, d j, d k, d l WHERE a.x + l.x >= 0`;

async function parquetBytes(dir: string, prefix: string): Promise<number> {
  const root = join(dir, prefix);
  const names = (await readdir(root, { recursive: true })).filter((n) => n.endsWith('.parquet'));
  const sizes = await Promise.all(names.map(async (n) => (await stat(join(root, n))).size));
  return sizes.reduce((a, b) => a + b, 0);
}

describe('Athena adapter over the wire', () => {
  let env: Setup;
  let engine: AthenaQueryEngine;
  let ref: MartVersionRef;

  beforeAll(async () => {
    env = await setUp();
    engine = engineFor(env.server);
    ref = await seedRun(env.store, 'contract_mart', [
      { id: 1, region: 'EU', amount: '10.50' },
      { id: 2, region: 'NA', amount: '20.25' },
    ]);
  });
  afterEach(() => {
    env.server.clearFaults();
    env.server.setConcurrencyLimit(Number.POSITIVE_INFINITY);
  });
  afterAll(async () => {
    await engine.close();
    await env.server.close();
    await rm(env.dir, { recursive: true, force: true });
  });

  it('pages past 1000 rows with NextToken, MaxResults 1000 and the header on page one only', async () => {
    const cursor = await engine.stream({
      sql: sql`WITH ${DIGITS} SELECT a.x * 1000 + b.x * 100 + c.x * 10 + e.x AS n
               FROM d a, d b, d c, d e WHERE a.x < ${3} AND a.x * 1000 + b.x * 100 + c.x * 10 + e.x < ${2500}
               ORDER BY n`,
    });
    const sizes: number[] = [];
    const seen: number[] = [];
    for await (const batch of cursor) {
      sizes.push(batch.length);
      seen.push(...batch.map((r) => Number(r.n)));
    }
    expect(seen).toEqual(Array.from({ length: 2500 }, (_, i) => i));
    expect(sizes).toEqual([999, 1000, 501]);
    const pages = env.server
      .callsOf('GetQueryResults')
      .filter((c) => c.body.QueryExecutionId === cursor.stats.queryId);
    expect(pages.map((c) => c.body.MaxResults)).toEqual([1000, 1000, 1000]);
    expect(pages.map((c) => typeof c.body.NextToken)).toEqual(['undefined', 'string', 'string']);
  });

  it('polls through QUEUED and RUNNING to SUCCEEDED', async () => {
    const { stats } = await engine.query({ sql: sql`SELECT ${1} AS one` });
    expect(env.server.execution(stats.queryId)?.observed).toEqual(['QUEUED', 'RUNNING', 'SUCCEEDED']);
  });

  it('fails a query with a typed error; StateChangeReason stays in the cause', async () => {
    const error = await engine
      .query({ sql: sql`SELECT no_such_column FROM (VALUES (1)) AS t(x) WHERE x = ${1}` })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueryFailedError);
    const failed = error as QueryFailedError;
    expect(failed.message).toBe('query failed');
    expect(failed.cause).toBeInstanceOf(AthenaQueryStateError);
    const cause = failed.cause as AthenaQueryStateError;
    expect(cause).toMatchObject({ state: 'FAILED', athenaError: { category: 2, retryable: false } });
    expect(cause.reason).toMatch(/no_such_column/);
    expect(cause.message).not.toMatch(/no_such_column/);
    expect(env.server.execution(cause.queryId)?.state).toBe('FAILED');
  });

  it('fails a read of a run whose table does not exist', async () => {
    const missing = { ...ref, runId: newRunId(new Date('2020-01-01T00:00:00Z')) };
    const relation = engine.martRelation({
      ...missing,
      prefix: runPrefix(goldDataset(ref.mart, 1), missing.runId),
    });
    const error = await engine.query({ sql: sql`SELECT id FROM ${relation} AS m` }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ENGINE_QUERY_FAILED' });
    expect((error as QueryFailedError).reason).toMatch(/^TABLE_NOT_FOUND/);
  });

  it('stops the query on Athena when its timeout passes', async () => {
    const before = env.server.allExecutions().length;
    await expect(engine.query({ sql: HEAVY, timeoutMs: 300 })).rejects.toBeInstanceOf(QueryTimeoutError);
    expect(env.server.allExecutions().length).toBe(before + 1);
    const execution = env.server.allExecutions().at(-1);
    expect(execution?.state).toBe('CANCELLED');
    expect(execution?.stopRequested).toBe(true);
    const stops = env.server.callsOf('StopQueryExecution').map((c) => c.body.QueryExecutionId);
    expect(stops).toContain(execution?.id);
    // The DuckDB statement behind it was interrupted, not left to run.
    await execution?.settled;
  });

  it('stops the query on Athena when the caller aborts', async () => {
    const before = env.server.allExecutions().length;
    const controller = new AbortController();
    const outcome = engine.query({ sql: HEAVY, signal: controller.signal }).catch((e: unknown) => e);
    await vi.waitFor(() => expect(env.server.allExecutions()[before]?.state).toBe('RUNNING'), {
      timeout: 10_000,
    });
    controller.abort();
    expect(await outcome).toBeInstanceOf(QueryAbortedError);
    const execution = env.server.allExecutions()[before];
    expect(execution?.state).toBe('CANCELLED');
    expect(env.server.callsOf('StopQueryExecution').map((c) => c.body.QueryExecutionId)).toContain(
      execution?.id,
    );
    await execution?.settled;
  });

  it('retries a throttled start with the same ClientRequestToken, then succeeds', async () => {
    const before = env.server.allExecutions().length;
    env.server.inject({ op: 'StartQueryExecution', kind: 'throttle', times: 2 });
    const { rows } = await engine.query({ sql: sql`SELECT ${'ok'} AS s` });
    expect(rows).toEqual([{ s: 'ok' }]);
    const starts = env.server.callsOf('StartQueryExecution').slice(-3);
    expect(starts.map((c) => c.errorType ?? 'ok')).toEqual([
      'TooManyRequestsException',
      'TooManyRequestsException',
      'ok',
    ]);
    expect(new Set(starts.map((c) => c.body.ClientRequestToken)).size).toBe(1);
    expect(env.server.allExecutions().length).toBe(before + 1);
  });

  it('retries throttled polls and pages (ThrottlingException)', async () => {
    env.server.inject({ op: 'GetQueryExecution', kind: 'throttle', times: 2, shape: 'ThrottlingException' });
    env.server.inject({ op: 'GetQueryResults', kind: 'throttle', times: 1, shape: 'ThrottlingException' });
    const { rows } = await engine.query({ sql: sql`SELECT CAST(${'7'} AS BIGINT) AS n` });
    expect(rows).toEqual([{ n: '7' }]);
    expect(env.server.callsOf('GetQueryResults').at(-2)?.errorType).toBe('ThrottlingException');
  });

  it('gives up with ENGINE_BUSY when throttling outlasts the retries', async () => {
    const before = env.server.allExecutions().length;
    env.server.inject({ op: 'StartQueryExecution', kind: 'throttle', times: 100 });
    const error = await engine.query({ sql: sql`SELECT 1 AS one` }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(EngineBusyError);
    expect((error as EngineBusyError).cause).toMatchObject({ name: 'TooManyRequestsException' });
    expect(env.server.allExecutions().length).toBe(before);
    expect(
      env.server
        .callsOf('StartQueryExecution')
        .slice(-5)
        .every((c) => c.status === 400),
    ).toBe(true);
  });

  it('meets the concurrent-query limit with retries, then ENGINE_BUSY, and recovers', async () => {
    env.server.setConcurrencyLimit(1);
    const before = env.server.allExecutions().length;
    const controller = new AbortController();
    const heavy = engine.query({ sql: HEAVY, signal: controller.signal }).catch((e: unknown) => e);
    await vi.waitFor(() => expect(env.server.allExecutions()[before]?.state).toBe('RUNNING'), {
      timeout: 10_000,
    });
    const error = await engine.query({ sql: sql`SELECT 1 AS one` }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ENGINE_BUSY' });
    expect(env.server.callsOf('StartQueryExecution').at(-1)?.errorType).toBe('TooManyRequestsException');
    controller.abort();
    expect(await heavy).toBeInstanceOf(QueryAbortedError);
    const { rows } = await engine.query({ sql: sql`SELECT ${2} AS two` });
    expect(Number(rows[0]?.two)).toBe(2);
  });

  it('retries a start whose answer was lost without running the query twice', async () => {
    const before = env.server.allExecutions().length;
    env.server.inject({ op: 'StartQueryExecution', kind: 'lose-answer', times: 1 });
    const { rows, stats } = await engine.query({ sql: sql`SELECT ${'once'} AS s` });
    expect(rows).toEqual([{ s: 'once' }]);
    const starts = env.server.callsOf('StartQueryExecution').slice(-2);
    expect(starts.map((c) => c.status)).toEqual([500, 200]);
    expect(starts[0]?.body.ClientRequestToken).toBe(starts[1]?.body.ClientRequestToken);
    expect(env.server.allExecutions().length).toBe(before + 1);
    expect(env.server.allExecutions().at(-1)?.id).toBe(stats.queryId);
  });

  it('sends values in WHERE as ExecutionParameters and writes the others as escaped literals', async () => {
    const hostile = "x' OR '1'='1";
    const { rows } = await engine.query({
      sql: sql`SELECT ${hostile} AS s, id FROM ${engine.martRelation(ref)} AS m
               WHERE region = ${'EU'} AND id > ${0} LIMIT ${5}`,
    });
    expect(rows).toEqual([{ s: hostile, id: '1' }]);
    const body = env.server.callsOf('StartQueryExecution').at(-1)?.body ?? {};
    expect(body.ExecutionParameters).toEqual(["'EU'", '0']);
    const text = String(body.QueryString);
    expect(text).toContain("'x'' OR ''1''=''1'");
    expect(text).toMatch(/WHERE region = \? AND id > \? LIMIT 5$/);
  });

  it('reuses results only for parameter-free reads of Gold runs, and reports bytes scanned', async () => {
    const relation = engine.martRelation(ref);
    const read = () =>
      engine.query({ sql: sql`SELECT id, amount FROM ${relation} AS m ORDER BY id LIMIT ${10}` });
    const first = await read();
    const second = await read();
    expect(second.rows).toEqual(first.rows);
    const starts = env.server.callsOf('StartQueryExecution').slice(-2);
    for (const start of starts) {
      expect(start.body.ResultReuseConfiguration).toEqual({
        ResultReuseByAgeConfiguration: { Enabled: true, MaxAgeInMinutes: 60 },
      });
    }
    expect(env.server.execution(first.stats.queryId)?.reused).toBe(false);
    expect(env.server.execution(second.stats.queryId)?.reused).toBe(true);
    expect(first.stats.bytesScanned).toBe(await parquetBytes(env.dir, ref.prefix));
    expect(second.stats.bytesScanned).toBe(0);

    // Reuse matches on the text, not the ExecutionParameters: a filtered read must never ask for it.
    const byRegion = (region: string) =>
      engine.query({ sql: sql`SELECT id FROM ${relation} AS m WHERE region = ${region} ORDER BY id` });
    expect((await byRegion('EU')).rows).toEqual([{ id: '1' }]);
    expect((await byRegion('NA')).rows).toEqual([{ id: '2' }]);
    expect(env.server.callsOf('StartQueryExecution').at(-1)?.body.ResultReuseConfiguration).toBeUndefined();

    await engine.query({ sql: sql`SELECT 1 AS one` });
    expect(env.server.callsOf('StartQueryExecution').at(-1)?.body.ResultReuseConfiguration).toBeUndefined();
  });

  it('names a run as the Athena transforms do, from allow-listed names only', () => {
    expect(engine.martRelation(ref).text).toBe(
      `"${GOLD_DB}"."${goldRunTable(ref.mart, ref.schemaVersion, ref.runId)}"`,
    );
    expect(() => engine.martRelation({ ...ref, mart: 'not_a_mart' })).toThrow(/catalog/);
    expect(() => engine.martRelation({ ...ref, runId: 'x"; DROP TABLE t; --' })).toThrow();
    expect(() => engine.martRelation({ ...ref, prefix: 'gold/contract_mart/schema_v=2/' })).toThrow(/prefix/);
  });
});

describe('local Athena endpoint: the wire shapes of the fixture', () => {
  let env: Setup;
  const capture = JSON.parse(
    readFileSync(new URL('moto-5.2.1_athena_wire_capture.json', fixturesDir('athena')), 'utf8'),
  ) as Record<
    string,
    { request: { body: Record<string, unknown> }; response: { status: number; body: unknown } }
  >;
  const captured = (name: string) => {
    const entry = capture[name];
    if (!entry) throw new Error(`fixture has no ${name}`);
    return entry;
  };
  const call = async (op: string, body: unknown) => {
    const res = await fetch(env.server.endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': `AmazonAthena.${op}`,
        authorization: 'AWS4-HMAC-SHA256 Credential=AKIDLOCALATHENA/20260101/us-east-1/athena/aws4_request',
      },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const keys = (value: unknown): string[] => Object.keys(value as object).sort();

  beforeAll(async () => {
    env = await setUp();
  });
  afterAll(async () => {
    await env.server.close();
    await rm(env.dir, { recursive: true, force: true });
  });

  it('answers the fixture requests with the fixture shapes', async () => {
    const start = captured('StartQueryExecution');
    const started = await call('StartQueryExecution', {
      ...start.request.body,
      QueryString: "SELECT 'c1' AS customer_id, CAST('100.50' AS DECIMAL(18,2)) AS mrr",
    });
    expect(keys(started.body)).toEqual(keys(start.response.body));
    const id = started.body.QueryExecutionId;

    const early = await call('GetQueryResults', { QueryExecutionId: id });
    expect(early.status).toBe(400);
    expect(early.body).toMatchObject({ __type: 'InvalidRequestException' });

    let execution: Record<string, unknown> = {};
    const states: unknown[] = [];
    for (let i = 0; i < 1000 && states.at(-1) !== 'SUCCEEDED'; i += 1) {
      if (i > 0) await sleep(10);
      execution = (await call('GetQueryExecution', { QueryExecutionId: id })).body;
      const state = (execution.QueryExecution as { Status: { State: string } }).Status.State;
      if (states.at(-1) !== state) states.push(state);
    }
    expect(states).toEqual(['QUEUED', 'RUNNING', 'SUCCEEDED']);
    const fixtureExecution = (captured('GetQueryExecution_poll3').response.body as { QueryExecution: object })
      .QueryExecution;
    for (const key of keys(fixtureExecution)) expect(execution.QueryExecution).toHaveProperty(key);

    const fixtureResults = captured('GetQueryResults');
    const results = await call('GetQueryResults', { ...fixtureResults.request.body, QueryExecutionId: id });
    expect(results.status).toBe(200);
    expect(results.body).toEqual(fixtureResults.response.body);
  });

  it('answers an unknown workgroup as the fixture does', async () => {
    const bad = captured('StartQueryExecution_bad_workgroup_error');
    const answer = await call('StartQueryExecution', bad.request.body);
    expect(answer.status).toBe(bad.response.status);
    expect(answer.body).toEqual(bad.response.body);
  });
});
