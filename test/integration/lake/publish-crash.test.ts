import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../../src/adapters/object-store/local.js';
import type { ObjectStore } from '../../../src/adapters/object-store/port.js';
import { DuckDbQueryEngine } from '../../../src/adapters/query-engine/duckdb.js';
import type { QueryEngine } from '../../../src/adapters/query-engine/port.js';
import { describeError } from '../../../src/errors.js';
import { generateCompanyHistory } from '../../../src/ingest/demo/company.js';
import { DemoSources } from '../../../src/ingest/demo/land.js';
import { PublishBlockedError, RunNotFoundError } from '../../../src/lake/errors.js';
import { goldDataset, latestKey, runPrefix, silverDataset } from '../../../src/lake/layout.js';
import {
  type CheckResult,
  type LatestPointer,
  listCompleteRuns,
  publishRun,
  readRunManifest,
  resolveLatest,
  rollbackTo,
  runManifestSchema,
} from '../../../src/lake/publish.js';
import { type SqlFragment, sql } from '../../../src/sql/fragment.js';
import { ENTITIES } from '../../../src/transform/entities.js';

/** The entities the crash runs land; the others stay empty (their Silver is skipped), which keeps each run short. */
const DEMO_LANDED = new Set(['zoho_books/contacts', 'zoho_books/invoices', 'dynamodb/accounts']);
const LANDED = ENTITIES.filter((c) => DEMO_LANDED.has(`${c.source}/${c.entity}`));

/**
 * The Gold models the crash runs build: customer_360 (unpartitioned) and invoices
 * (partitioned). Every mart goes through the same build/check/publish code, so two
 * shapes cover the mechanics; building all of them at every crash point would cost
 * minutes without testing anything more.
 */
const CRASH_MODELS = GOLD_MODELS.filter((m) => m.mart.name === 'customer_360' || m.mart.name === 'invoices');

import { GOLD_MODELS, type GoldModel } from '../../../src/transform/gold/index.js';
import { embeddedHome, runPipeline } from '../../../src/transform/pipeline.js';
import { readSilverVersion, silverRelation } from '../../../src/transform/silver.js';
import {
  FaultInjector,
  FaultyObjectStore,
  isSimulatedCrash,
  SimulatedCrash,
  withFaults,
} from '../../support/faults.js';

/**
 * Every run here merges Silver as a delta over the previous snapshot (never
 * compacted), so the second run's crash points fall inside the delta path;
 * the first run writes full snapshots.
 */
function pipeline(options: Parameters<typeof runPipeline>[0]): ReturnType<typeof runPipeline> {
  const home = embeddedHome({
    store: options.store,
    engine: options.engine,
    compactAt: Number.POSITIVE_INFINITY,
  });
  return runPipeline({ ...options, home });
}

const text = (body: Uint8Array | undefined): string | undefined =>
  body === undefined ? undefined : Buffer.from(body).toString('utf8');

/** Await a promise that must reject; return what it rejected with. */
async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => {
      throw new Error(`expected a failure, got ${JSON.stringify(value)}`);
    },
    (error: unknown) => error,
  );
}

// ---------------------------------------------------------------------------
// a. publishRun alone: a crash before each of its steps

describe('publishRun: a crash before any step leaves the previous version serving', () => {
  const DS = goldDataset('crash_probe', 1);
  const RUN_A = '20261121T060000Z-aaaa';
  const RUN_B = '20261121T070000Z-bbbb';
  const RUN_C = '20261121T080000Z-cccc';
  const ROWS_A = [
    { id: 1, value: 'a1' },
    { id: 2, value: 'a2' },
    { id: 3, value: 'a3' },
  ];
  const ROWS_B = [
    { id: 1, value: 'b1' },
    { id: 2, value: 'b2' },
    { id: 3, value: 'b3' },
    { id: 4, value: 'b4' },
    { id: 5, value: 'b5' },
  ];
  const PASSING: CheckResult[] = [
    { name: 'unique_key', passed: true, blocking: true, detail: '0 duplicates' },
  ];
  const B_STEPS = [
    `put gold/crash_probe/schema_v=1/run_id=${RUN_B}/part-00000.jsonl`,
    `put gold/crash_probe/schema_v=1/run_id=${RUN_B}/part-00001.jsonl`,
    `put gold/crash_probe/schema_v=1/run_id=${RUN_B}/_SUCCESS`,
    'replace gold/crash_probe/schema_v=1/_LATEST.json',
  ] as const;

  type ProbeRow = { id: number; value: string };

  let dir: string;
  let store: LocalObjectStore;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'goldgate-publish-'));
    store = new LocalObjectStore(dir);
    await writeAndPublish(store, RUN_A, ROWS_A, PASSING);
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** A producer's whole publication: data objects in two parts, then publishRun. */
  async function writeAndPublish(
    target: ObjectStore,
    runId: string,
    rows: readonly ProbeRow[],
    checks: readonly CheckResult[],
  ): Promise<LatestPointer> {
    const prefix = runPrefix(DS, runId);
    const half = Math.ceil(rows.length / 2);
    const jsonl = (part: readonly ProbeRow[]): string => part.map((r) => `${JSON.stringify(r)}\n`).join('');
    await target.put(`${prefix}part-00000.jsonl`, jsonl(rows.slice(0, half)));
    await target.put(`${prefix}part-00001.jsonl`, jsonl(rows.slice(half)));
    return publishRun(target, DS, {
      runId,
      rowCount: rows.length,
      checks,
      now: new Date('2026-11-21T08:30:00Z'),
    });
  }

  /** What a reader gets: the pointer, its complete run's manifest, and every row of its data objects. */
  async function readServed(): Promise<{ pointer: LatestPointer; rows: ProbeRow[] }> {
    const pointer = await resolveLatest(store, DS);
    if (!pointer) throw new Error('nothing is served');
    expect(pointer.path).toBe(runPrefix(DS, pointer.run_id));
    const manifest = await readRunManifest(store, DS, pointer.run_id);
    expect(manifest, `served run ${pointer.run_id} must have _SUCCESS`).toBeDefined();
    expect(manifest?.row_count).toBe(pointer.row_count);
    const rows: ProbeRow[] = [];
    const parts: string[] = [];
    for await (const info of store.list(pointer.path)) {
      if (!/\/part-\d{5}\.jsonl$/.test(info.key)) continue;
      parts.push(info.key.slice(pointer.path.length));
      for (const line of (text(await store.get(info.key)) ?? '').split('\n')) {
        if (line !== '') rows.push(JSON.parse(line) as ProbeRow);
      }
    }
    expect(parts).toEqual(['part-00000.jsonl', 'part-00001.jsonl']);
    expect(rows).toHaveLength(pointer.row_count);
    return { pointer, rows };
  }

  it('publishes in exactly these steps: data objects, _SUCCESS, then the pointer swap', async () => {
    const faults = FaultInjector.recorder();
    const pointer = await writeAndPublish(new FaultyObjectStore(store, faults), RUN_B, ROWS_B, PASSING);
    expect(faults.performed).toEqual([...B_STEPS]);
    expect(pointer).toMatchObject({
      run_id: RUN_B,
      row_count: 5,
      path: runPrefix(DS, RUN_B),
      schema_version: 1,
    });
    const served = await readServed();
    expect(served.pointer.run_id).toBe(RUN_B);
    expect(served.rows).toEqual(ROWS_B);
  });

  it.each(B_STEPS.map((description, i) => [i + 1, description] as const))(
    'crash before step %i (%s): readers still get A complete; a rerun publishes',
    async (k, description) => {
      const latestBefore = text(await store.get(latestKey(DS)));
      const faults = FaultInjector.crashingAt(k);
      const error = await failure(
        writeAndPublish(new FaultyObjectStore(store, faults), RUN_B, ROWS_B, PASSING),
      );
      expect(error).toBeInstanceOf(SimulatedCrash);
      expect(faults.crashed).toMatchObject({ step: k, description, first: true });
      expect(faults.performed).toEqual(B_STEPS.slice(0, k - 1));

      // Readers: the pointer is byte-for-byte A's, and A is complete and readable.
      expect(text(await store.get(latestKey(DS)))).toBe(latestBefore);
      const served = await readServed();
      expect(served.pointer.run_id).toBe(RUN_A);
      expect(served.rows).toEqual(ROWS_A);

      // B is complete only if the crash came after its _SUCCESS (then it is complete but not served).
      const bComplete = k > 3;
      expect((await readRunManifest(store, DS, RUN_B)) !== undefined).toBe(bComplete);
      expect(await listCompleteRuns(store, DS)).toEqual(bComplete ? [RUN_A, RUN_B] : [RUN_A]);
      if (!bComplete) {
        const refused = await failure(rollbackTo(store, DS, RUN_B));
        expect(refused).toBeInstanceOf(RunNotFoundError);
        expect(refused).toMatchObject({ code: 'RUN_NOT_FOUND', runId: RUN_B });
        expect(text(await store.get(latestKey(DS)))).toBe(latestBefore);
      }

      // A rerun (a new process, a new run id) completes and is served.
      const pointer = await writeAndPublish(store, RUN_C, ROWS_B, PASSING);
      expect(pointer.run_id).toBe(RUN_C);
      const after = await readServed();
      expect(after.pointer.run_id).toBe(RUN_C);
      expect(after.rows).toEqual(ROWS_B);
      expect(await listCompleteRuns(store, DS)).toEqual(bComplete ? [RUN_A, RUN_B, RUN_C] : [RUN_A, RUN_C]);

      // Rollback to A works and serves A's data again.
      const back = await rollbackTo(store, DS, RUN_A, new Date('2026-11-21T09:00:00Z'));
      expect(back).toMatchObject({ run_id: RUN_A, row_count: 3, rolled_back_from: RUN_C });
      const rolled = await readServed();
      expect(rolled.pointer.run_id).toBe(RUN_A);
      expect(rolled.rows).toEqual(ROWS_A);
    },
  );

  it('a failed blocking check publishes nothing and keeps the results beside the run', async () => {
    const latestBefore = text(await store.get(latestKey(DS)));
    const checks: CheckResult[] = [
      ...PASSING,
      { name: 'not_null_value', passed: false, blocking: true, detail: '2 nulls' },
      { name: 'row_count_reconciles', passed: false, blocking: false, detail: 'off by one' },
    ];
    const error = await failure(writeAndPublish(store, RUN_B, ROWS_B, checks));
    expect(error).toBeInstanceOf(PublishBlockedError);
    expect(error).toMatchObject({
      code: 'PUBLISH_BLOCKED',
      target: DS.label,
      failedChecks: ['not_null_value'],
    });

    expect(text(await store.get(latestKey(DS)))).toBe(latestBefore);
    expect(await store.head(`${runPrefix(DS, RUN_B)}_SUCCESS`)).toBeUndefined();
    expect(await readRunManifest(store, DS, RUN_B)).toBeUndefined();
    expect(await listCompleteRuns(store, DS)).toEqual([RUN_A]);
    const recorded = runManifestSchema.parse(
      JSON.parse(text(await store.get(`${runPrefix(DS, RUN_B)}_CHECKS.json`)) ?? ''),
    );
    expect(recorded).toMatchObject({ run_id: RUN_B, row_count: 5, checks });
    const served = await readServed();
    expect(served.pointer.run_id).toBe(RUN_A);
    expect(served.rows).toEqual(ROWS_A);
    await expect(rollbackTo(store, DS, RUN_B)).rejects.toMatchObject({ code: 'RUN_NOT_FOUND' });
  });

  it('a failed non-blocking check is recorded but does not block', async () => {
    const checks: CheckResult[] = [...PASSING, { name: 'freshness', passed: false, blocking: false }];
    const pointer = await writeAndPublish(store, RUN_B, ROWS_B, checks);
    expect(pointer.checks).toEqual(checks);
    const served = await readServed();
    expect(served.pointer).toMatchObject({ run_id: RUN_B, checks });
  });
});

// ---------------------------------------------------------------------------
// b. The whole pipeline: a crash before every one of its steps

const COMPANY_NOW = new Date('2026-11-21T06:15:00.000Z'); // the company's history ends: the second landing
const FIRST_LANDING = new Date('2026-07-24T06:15:00.000Z'); // four months earlier: the first landing
const T1 = new Date('2026-11-20T12:00:00.000Z'); // first pipeline run (after the first landing)
const T2 = new Date('2026-11-21T09:00:00.000Z'); // second run (after the second): reference and crashed runs
const LOCK_TTL_MS = 15 * 60_000; // the pipeline's production default
const T_STILL_LOCKED = new Date(T2.getTime() + LOCK_TTL_MS - 1000);
const T_RERUN = new Date(T2.getTime() + LOCK_TTL_MS + 60_000); // same UTC day as T2: same Gold as_of
const T_ROLLBACK = new Date(T2.getTime() + 2 * 3600_000);
const GOLD: GoldModel = (() => {
  const model = GOLD_MODELS.find((m) => m.mart.name === 'customer_360');
  if (!model) throw new Error('no customer_360 Gold model');
  return model;
})();
const GOLD_DS = goldDataset(GOLD.mart.name, GOLD.mart.schemaVersion);
const RUN_ID_TOKEN = /\d{8}T\d{6}Z-[a-z0-9]{4,24}/g;

/** Step descriptions with the pipeline's run id replaced, so two runs' steps compare. */
const normalize = (description: string): string => description.replace(RUN_ID_TOKEN, '<run>');

/** What readers see in a lake, verified complete on the way. */
interface LakeView {
  readonly silver: Record<string, { runId: string; liveRows: number; rows: string[]; delta: boolean }>;
  readonly goldRunId: string;
  readonly goldRows: string[];
}

async function count(engine: QueryEngine, relation: SqlFragment): Promise<number> {
  const { rows } = await engine.query({
    sql: sql`SELECT count(*) AS n FROM ${relation} AS r`,
    label: 'test.count',
  });
  return Number(rows[0]?.n);
}

/**
 * Every row of a relation, as sorted JSON. DuckDB's hive-partition detection adds
 * a `run_id` column (the Silver version's own id, from the `run_id=` folder) to
 * `silverRelation`; it names the version rather than the data, so it is left out
 * when comparing the contents of two versions.
 */
async function sortedRows(engine: QueryEngine, relation: SqlFragment): Promise<string[]> {
  const { rows } = await engine.query({ sql: sql`SELECT * FROM ${relation} AS r`, label: 'test.rows' });
  return rows.map(({ run_id: _version, ...data }) => JSON.stringify(data)).sort();
}

/**
 * Resolve every Silver entity and the Gold mart the way a reader does, and check
 * each served version is complete: `_SUCCESS` present and matching the pointer,
 * data files readable by DuckDB, row counts as recorded, more than zero rows.
 */
async function inspect(store: ObjectStore, engine: QueryEngine): Promise<LakeView> {
  const silver: Record<string, { runId: string; liveRows: number; rows: string[]; delta: boolean }> = {};
  for (const contract of LANDED) {
    const name = `${contract.source}.${contract.entity}`;
    const ds = silverDataset(contract.source, contract.entity);
    const pointer = await resolveLatest(store, ds);
    if (!pointer) throw new Error(`silver ${name}: nothing served`);
    expect(pointer.path, name).toBe(runPrefix(ds, pointer.run_id));
    const manifest = await readRunManifest(store, ds, pointer.run_id);
    expect(manifest, `silver ${name} serves run ${pointer.run_id}, which has no _SUCCESS`).toBeDefined();
    expect(manifest?.row_count, name).toBe(pointer.row_count);
    const version = await readSilverVersion(store, contract, pointer.run_id);
    const relation = silverRelation(version);
    const liveRows = await count(engine, relation);
    expect(liveRows, `silver ${name} live rows`).toBe(pointer.row_count);
    expect(liveRows, `silver ${name} live rows`).toBeGreaterThan(0);
    silver[name] = {
      runId: pointer.run_id,
      liveRows,
      rows: await sortedRows(engine, relation),
      delta: version.delta !== undefined,
    };
  }
  const pointer = await resolveLatest(store, GOLD_DS);
  if (!pointer) throw new Error('gold: nothing served');
  expect(pointer.path).toBe(runPrefix(GOLD_DS, pointer.run_id));
  const manifest = await readRunManifest(store, GOLD_DS, pointer.run_id);
  expect(manifest, `gold serves run ${pointer.run_id}, which has no _SUCCESS`).toBeDefined();
  expect(manifest?.row_count).toBe(pointer.row_count);
  const relation = engine.martRelation({
    mart: GOLD.mart.name,
    schemaVersion: pointer.schema_version,
    runId: pointer.run_id,
    prefix: pointer.path,
  });
  const goldCount = await count(engine, relation);
  expect(goldCount, 'gold rows').toBe(pointer.row_count);
  expect(goldCount, 'gold rows').toBeGreaterThan(0);
  return { silver, goldRunId: pointer.run_id, goldRows: await sortedRows(engine, relation) };
}

async function goldRowsOf(engine: QueryEngine, pointer: LatestPointer): Promise<string[]> {
  return sortedRows(
    engine,
    engine.martRelation({
      mart: GOLD.mart.name,
      schemaVersion: pointer.schema_version,
      runId: pointer.run_id,
      prefix: pointer.path,
    }),
  );
}

describe('runPipeline: a crash before every step', () => {
  let baseDir: string;
  /** The lake after the first run and before the second (the second landing in Bronze). */
  let pre: LakeView;
  /** The lake after a second run that did not crash. */
  let post: LakeView;
  /** The reference second run's steps, normalized. */
  let steps: string[];
  let crashPoints = 0;

  beforeAll(async () => {
    baseDir = await mkdtemp(join(tmpdir(), 'goldgate-crash-base-'));
    const store = new LocalObjectStore(baseDir);
    // A small company with more dirt than usual. This seed breaks invoices seen by both landings
    // (quarantined, then retried) and no contact or account, so that the second run writes the
    // invoices' quarantine (the step-order test expects it) and no other: the runs stay as short.
    const history = generateCompanyHistory({
      seed: 20261123,
      customers: 30,
      start: new Date(COMPANY_NOW.getTime() - 730 * 86_400_000),
      end: COMPANY_NOW,
      dirtyRate: 0.05,
      only: ['zoho', 'accounts'],
    });
    // Landed by the real puller (over HTTP) and stream consumer, at two points in time.
    const sources = await DemoSources.start({ store, history, zohoEntities: ['contacts', 'invoices'] });
    try {
      await sources.deliverStreams(FIRST_LANDING);
      await sources.pull(FIRST_LANDING);
      const engine = await DuckDbQueryEngine.create({ store });
      try {
        const first = await pipeline({
          store,
          engine,
          now: () => T1,
          lockTtlMs: LOCK_TTL_MS,
          models: CRASH_MODELS,
        });
        expect(first.status).toBe('succeeded');
        pre = await inspect(store, engine);
      } finally {
        await engine.close();
      }
      await sources.deliverStreams(COMPANY_NOW);
      await sources.pull(COMPANY_NOW);
    } finally {
      await sources.close();
    }

    // The reference second run, on a copy, with every step recorded.
    const refDir = await mkdtemp(join(tmpdir(), 'goldgate-crash-ref-'));
    try {
      await cp(baseDir, refDir, { recursive: true });
      const refStore = new LocalObjectStore(refDir);
      const refEngine = await DuckDbQueryEngine.create({ store: refStore });
      try {
        const faults = FaultInjector.recorder();
        const wrapped = withFaults(refStore, refEngine, faults);
        const report = await pipeline({
          ...wrapped,
          now: () => T2,
          lockTtlMs: LOCK_TTL_MS,
          models: CRASH_MODELS,
        });
        expect(report.status).toBe('succeeded');
        expect(report.steps.map((s) => s.status)).toEqual([
          ...ENTITIES.map((c) => (LANDED.includes(c) ? 'published' : 'skipped')),
          ...CRASH_MODELS.map(() => 'published'),
        ]);
        steps = faults.performed.map(normalize);
        post = await inspect(refStore, refEngine);
      } finally {
        await refEngine.close();
      }
    } finally {
      await rm(refDir, { recursive: true, force: true });
    }
  });

  afterAll(async () => {
    if (baseDir) await rm(baseDir, { recursive: true, force: true });
  });

  it('the second run really changes Silver and Gold', () => {
    for (const contract of LANDED) {
      const name = `${contract.source}.${contract.entity}`;
      expect(post.silver[name]?.runId, name).not.toBe(pre.silver[name]?.runId);
      expect(post.silver[name]?.rows, name).not.toEqual(pre.silver[name]?.rows);
      expect(pre.silver[name]?.delta, `${name} first version`).toBe(false);
      expect(post.silver[name]?.delta, `${name} second version`).toBe(true);
    }
    expect(post.goldRunId).not.toBe(pre.goldRunId);
    expect(post.goldRows).not.toEqual(pre.goldRows);
    // customer_360 has a row per contact, before and after.
    expect(pre.goldRows).toHaveLength(pre.silver['zoho_books.contacts']?.liveRows ?? -1);
    expect(post.goldRows).toHaveLength(post.silver['zoho_books.contacts']?.liveRows ?? -1);
  });

  it('numbers the steps in the order lake.md requires', () => {
    const inOrder = (a: string, b: string): void => {
      expect(steps, `missing step ${a}`).toContain(a);
      expect(steps, `missing step ${b}`).toContain(b);
      expect(steps.indexOf(a), `${a} must come before ${b}`).toBeLessThan(steps.indexOf(b));
    };
    expect(steps[0]).toBe('createIfAbsent _locks/pipeline/lease-0000000002.json');
    expect(steps.at(-1)).toBe('replace _locks/pipeline/lease-0000000002.json');
    for (const { source, entity } of LANDED) {
      const run = `silver/${source}/${entity}/run_id=<run>/`;
      const latest = `replace silver/${source}/${entity}/_LATEST.json`;
      inOrder(`prepareWrite ${run}`, `copy silver.${source}.${entity}`);
      inOrder(`copy silver.${source}.${entity}`, `put ${run}_SUCCESS`);
      inOrder(`put ${run}_SUCCESS`, latest);
      // The checkpoint moves right after the merge is published, never before.
      expect(steps[steps.indexOf(latest) + 1]).toBe('replace _checkpoints/silver.json');
    }
    inOrder(
      'copy silver.zoho_books.invoices.quarantine',
      'put silver/zoho_books/invoices/run_id=<run>/_SUCCESS',
    );
    const gold = `gold/${GOLD.mart.name}/schema_v=${GOLD.mart.schemaVersion}/`;
    inOrder(`prepareWrite ${gold}run_id=<run>/`, `copy gold.${GOLD.mart.name}.build`);
    inOrder(`copy gold.${GOLD.mart.name}.build`, `put ${gold}run_id=<run>/_SUCCESS`);
    inOrder(`put ${gold}run_id=<run>/_SUCCESS`, `replace ${gold}_LATEST.json`);
    inOrder(`replace ${gold}_LATEST.json`, 'put _runs/pipeline/<run>.json');
    expect(steps.length).toBeGreaterThanOrEqual(20);
  });

  /** Copy the lake, crash the second run before step k, then verify, rerun, roll back. */
  async function crashAt(k: number): Promise<void> {
    const dir = await mkdtemp(join(tmpdir(), `goldgate-crash-${k}-`));
    const store = new LocalObjectStore(dir);
    let engine: DuckDbQueryEngine | undefined;
    try {
      await cp(baseDir, dir, { recursive: true });
      engine = await DuckDbQueryEngine.create({ store });

      // 1. The crashed run.
      const faults = FaultInjector.crashingAt(k);
      const error = await failure(
        pipeline({
          ...withFaults(store, engine, faults),
          now: () => T2,
          lockTtlMs: LOCK_TTL_MS,
          models: CRASH_MODELS,
        }),
      );
      expect(
        isSimulatedCrash(error),
        `the run must die of the crash, not of ${JSON.stringify(describeError(error))}`,
      ).toBe(true);
      const crash = faults.crashed;
      if (!crash) throw new Error('no crash happened');
      expect(crash.step).toBe(k);
      expect(normalize(crash.description)).toBe(steps[k - 1]);
      expect(faults.performed.map(normalize)).toEqual(steps.slice(0, k - 1));
      const done = (step: string): boolean => steps.indexOf(step) >= 0 && steps.indexOf(step) < k - 1;
      const crashedRunId = [...faults.performed, crash.description].join(' ').match(RUN_ID_TOKEN)?.[0];

      // 2. Readers see complete versions only: each dataset serves the crashed run's version
      //    exactly when its pointer swap happened before the crash, else the previous one.
      const view = await inspect(store, engine);
      for (const { source, entity } of LANDED) {
        const name = `${source}.${entity}`;
        const swapped = done(`replace silver/${source}/${entity}/_LATEST.json`);
        const expected = swapped ? post.silver[name] : pre.silver[name];
        expect(view.silver[name]?.runId, `silver ${name} run`).toBe(
          swapped ? crashedRunId : pre.silver[name]?.runId,
        );
        expect(view.silver[name]?.liveRows, `silver ${name} rows`).toBe(expected?.liveRows);
        expect(view.silver[name]?.rows, `silver ${name} rows`).toEqual(expected?.rows);
      }
      const goldSwapped = done(`replace ${GOLD_DS.prefix}_LATEST.json`);
      const goldState =
        JSON.stringify(view.goldRows) === JSON.stringify(pre.goldRows)
          ? 'pre-run rows'
          : JSON.stringify(view.goldRows) === JSON.stringify(post.goldRows)
            ? 'post-run rows'
            : 'a mix of rows';
      expect(goldState, 'gold serves').toBe(goldSwapped ? 'post-run rows' : 'pre-run rows');
      expect(view.goldRunId).toBe(goldSwapped ? crashedRunId : pre.goldRunId);

      // 3. The crashed run's lease was never released: it blocks until it expires, then a rerun completes.
      if (done('createIfAbsent _locks/pipeline/lease-0000000002.json')) {
        const blocked = await failure(
          pipeline({
            store,
            engine,
            now: () => T_STILL_LOCKED,
            lockTtlMs: LOCK_TTL_MS,
            models: CRASH_MODELS,
          }),
        );
        expect(blocked).toMatchObject({ code: 'LOCK_HELD' });
      }
      const rerun = await pipeline({
        store,
        engine,
        now: () => T_RERUN,
        lockTtlMs: LOCK_TTL_MS,
        models: CRASH_MODELS,
      });
      expect(rerun.status).toBe('succeeded');
      const after = await inspect(store, engine);
      expect(after.goldRunId).toBe(rerun.runId);
      expect(after.goldRows, 'gold rows after the rerun equal the uncrashed run').toEqual(post.goldRows);
      for (const { source, entity } of LANDED) {
        const name = `${source}.${entity}`;
        expect(after.silver[name]?.liveRows, `silver ${name} live rows after the rerun`).toBe(
          post.silver[name]?.liveRows,
        );
        expect(after.silver[name]?.rows, `silver ${name} rows after the rerun`).toEqual(
          post.silver[name]?.rows,
        );
      }
      const goldSuccessWritten = done(`put ${GOLD_DS.prefix}run_id=<run>/_SUCCESS`);
      const completeGold = await listCompleteRuns(store, GOLD_DS);
      expect(completeGold).toEqual(
        goldSuccessWritten && crashedRunId
          ? [pre.goldRunId, crashedRunId, rerun.runId]
          : [pre.goldRunId, rerun.runId],
      );

      // 4. Rollback to the previous Gold run serves the pre-run rows; a run without _SUCCESS is refused.
      const back = await rollbackTo(store, GOLD_DS, pre.goldRunId, T_ROLLBACK);
      expect(back).toMatchObject({ run_id: pre.goldRunId, rolled_back_from: rerun.runId });
      const served = await resolveLatest(store, GOLD_DS);
      expect(served?.run_id).toBe(pre.goldRunId);
      if (!served) throw new Error('nothing served after rollback');
      expect(await goldRowsOf(engine, served)).toEqual(pre.goldRows);
      const latestBody = text(await store.get(latestKey(GOLD_DS)));
      const incomplete =
        crashedRunId && !goldSuccessWritten ? crashedRunId : '20261121T090000Z-neverpublished';
      const refused = await failure(rollbackTo(store, GOLD_DS, incomplete, T_ROLLBACK));
      expect(refused).toBeInstanceOf(RunNotFoundError);
      expect(refused).toMatchObject({ code: 'RUN_NOT_FOUND', runId: incomplete });
      expect(text(await store.get(latestKey(GOLD_DS)))).toBe(latestBody);
    } finally {
      await engine?.close();
      await rm(dir, { recursive: true, force: true });
    }
  }

  it('at every crash point readers see a complete version, the lock expires, a rerun completes, rollback works', async () => {
    expect(steps.length, 'the reference run recorded its steps').toBeGreaterThanOrEqual(20);
    const failures: string[] = [];
    for (let k = 1; k <= steps.length; k++) {
      crashPoints += 1;
      try {
        await crashAt(k);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        failures.push(`crash before step ${k}/${steps.length} (${steps[k - 1]}): ${message}`);
      }
    }
    expect(crashPoints).toBe(steps.length);
    expect(failures, failures.join('\n\n')).toEqual([]);
  }, 180_000);
});
