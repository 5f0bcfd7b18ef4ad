import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../../src/adapters/object-store/local.js';
import { DuckDbQueryEngine } from '../../../src/adapters/query-engine/duckdb.js';
import { confirmationKey, goldDataset } from '../../../src/lake/layout.js';
import { listCompleteRuns, readRunManifest, resolveLatest, rollbackTo } from '../../../src/lake/publish.js';
import { formatLineage } from '../../../src/ops/format.js';
import { freshness } from '../../../src/ops/freshness.js';
import { readLineage } from '../../../src/ops/lineage.js';
import { listPipelineRuns } from '../../../src/ops/runs.js';
import { DEFAULT_SLAS } from '../../../src/ops/sla-config.js';
import { sql } from '../../../src/sql/fragment.js';
import { dynamoUsageEvents } from '../../../src/transform/entities.js';
import { GOLD_MODELS } from '../../../src/transform/gold/index.js';
import { inputEntity } from '../../../src/transform/gold/rollups.js';
import { goldStepName } from '../../../src/transform/gold/versions.js';
import {
  embeddedHome,
  type PipelineReport,
  runPipeline,
  type StepReport,
  type TransformHome,
} from '../../../src/transform/pipeline.js';
import { landCustomer, landEvents } from '../../support/builders/bronze.js';
import { productAccount, productUser, usageEvent } from '../../support/builders/usage.js';

/**
 * Gold reuse: a mart whose build key (rendered SQL, Silver versions read,
 * as_of) matches its served run is not built again; the served run is
 * checked again and served as of the new run. Anything that changes what a
 * build would write builds anew.
 */
describe('Gold reuse of unchanged marts', () => {
  let dir: string;
  let store: LocalObjectStore;
  let engine: DuckDbQueryEngine;
  const at = (iso: string) => (): Date => new Date(iso);
  /** A clock that moves a second on at each read: publication comes after the run's start. */
  const ticking = (iso: string) => {
    let t = Date.parse(iso);
    return (): Date => {
      const d = new Date(t);
      t += 1000;
      return d;
    };
  };
  const T = (day: string, time = '10:00:00'): string => `2026-${day}T${time}.000Z`;

  const goldSteps = (report: PipelineReport): StepReport[] =>
    report.steps.filter((s) => s.step.startsWith('gold.'));
  const usageMarts = new Set(
    GOLD_MODELS.filter((m) => Object.values(m.inputs).some((i) => inputEntity(i) === dynamoUsageEvents)).map(
      (m) => goldStepName(m.mart),
    ),
  );
  const pointer = (mart: string) => resolveLatest(store, goldDataset(mart, 1));
  const eventsIn = async (): Promise<number> => {
    const p = await pointer('kpi_daily_usage');
    if (!p) throw new Error('kpi_daily_usage not published');
    const relation = engine.martRelation({
      mart: 'kpi_daily_usage',
      schemaVersion: 1,
      runId: p.run_id,
      prefix: p.path,
    });
    const { rows } = await engine.query({ sql: sql`SELECT sum(events) AS n FROM ${relation}` });
    return Number(rows[0]?.n);
  };

  let first: PipelineReport;
  let second: PipelineReport;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'goldgate-gold-reuse-'));
    store = new LocalObjectStore(join(dir, 'lake'));
    engine = await DuckDbQueryEngine.create({ store });
    const day1 = new Date('2026-11-20T12:00:00Z');
    await landCustomer(store, day1);
    await landEvents(
      store,
      'dynamodb',
      'accounts',
      [productAccount('A1', { region: 'EU', contact: 'C1', signupAt: T('09-01') })],
      day1,
    );
    await landEvents(
      store,
      'dynamodb',
      'users',
      [productUser('u1', { account: 'A1', createdAt: T('09-01') })],
      day1,
    );
    await landEvents(
      store,
      'dynamodb',
      'usage_events',
      [usageEvent('e1', { account: 'A1', user: 'u1', type: 'report_run', at: T('11-10') })],
      day1,
    );
    first = await runPipeline({ store, engine, now: at('2026-11-21T06:00:00Z') });
    second = await runPipeline({ store, engine, now: ticking('2026-11-21T07:00:00Z') });
  });

  afterAll(async () => {
    await engine.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('builds every mart on the first run, and records each build key', async () => {
    expect(first.status).toBe('succeeded');
    const steps = goldSteps(first);
    expect(steps.length).toBe(GOLD_MODELS.length);
    for (const s of steps) {
      expect(s.reused, s.step).toBeUndefined();
      expect(s.runId).toBe(first.runId);
    }
    for (const model of GOLD_MODELS) {
      const manifest = await readRunManifest(
        store,
        goldDataset(model.mart.name, model.mart.schemaVersion),
        first.runId,
      );
      expect(manifest?.details.build_key, model.mart.name).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it('reuses every served run when nothing changed: no new run, checks run again, freshness moves on', async () => {
    expect(second.status).toBe('succeeded');
    const steps = goldSteps(second);
    expect(steps.length).toBe(GOLD_MODELS.length);
    for (const s of steps) {
      expect(s.reused, s.step).toBe(true);
      expect(s.status).toBe('published');
      expect(s.runId, s.step).toBe(first.runId);
      expect(s.checks.length, s.step).toBeGreaterThan(0);
    }
    for (const model of GOLD_MODELS) {
      const dataset = goldDataset(model.mart.name, model.mart.schemaVersion);
      expect(await listCompleteRuns(store, dataset)).toEqual([first.runId]);
      const p = await resolveLatest(store, dataset);
      expect(p?.run_id).toBe(first.runId);
      // The data is as of the second run's start: what a build then would have written.
      expect(p?.built_at).toBe(second.startedAt);
      expect(Date.parse(p?.ready_at ?? '')).toBeGreaterThan(Date.parse(second.startedAt));
      expect(p?.newest_source_change).toBeDefined();
      // The confirmation is on record for SLA history.
      const record = await store.getIfExists(confirmationKey(dataset, second.runId));
      expect(JSON.parse(Buffer.from(record ?? '{}').toString())).toEqual({
        run_id: first.runId,
        built_at: p?.built_at,
        ready_at: p?.ready_at,
      });
    }
    // Lineage names the run built first, and when it was last served again.
    const lineage = await readLineage(store, 'customer_360', undefined, { objects: false });
    const manifest = await readRunManifest(store, goldDataset('customer_360', 1), first.runId);
    expect([lineage.runId, lineage.served, lineage.builtAt]).toEqual([
      first.runId,
      true,
      manifest?.completed_at,
    ]);
    expect(lineage.confirmedAsOf).toBe(second.startedAt);
    expect(formatLineage(lineage)).toContain(
      `served again by a later run as of ${second.startedAt.replace('T', ' ').replace(/\.\d{3}Z$/, 'Z')}`,
    );
    // References to other marts are checked again too.
    const invoices = steps.find((s) => s.step === 'gold.invoices');
    expect(invoices?.checks.filter((c) => c.name.startsWith('references_')).length).toBeGreaterThan(0);
    // The run history reads reuse back.
    const runs = await listPipelineRuns(store, { limit: 5 });
    const recorded = runs.find((r) => r.runId === second.runId);
    expect(recorded?.steps.filter((s) => s.reused).length).toBe(GOLD_MODELS.length);
  });

  it('rebuilds the marts that read an entity with new events, and only those', async () => {
    const before = await eventsIn();
    await landEvents(
      store,
      'dynamodb',
      'usage_events',
      [usageEvent('e2', { account: 'A1', user: 'u1', type: 'report_run', at: T('11-12') })],
      new Date('2026-11-21T07:30:00Z'),
    );
    const third = await runPipeline({ store, engine, now: at('2026-11-21T08:00:00Z') });
    expect(third.status).toBe('succeeded');
    const rebuilt = goldSteps(third)
      .filter((s) => !s.reused)
      .map((s) => s.step)
      .sort();
    expect(rebuilt).toEqual([...usageMarts].sort());
    expect(rebuilt.length).toBeGreaterThan(0);
    expect(rebuilt.length).toBeLessThan(GOLD_MODELS.length);
    for (const s of goldSteps(third)) expect(s.runId, s.step).toBe(s.reused ? first.runId : third.runId);
    expect(await eventsIn()).toBe(before + 1);
  });

  it('rebuilds everything on a new as_of day, and on request', async () => {
    const nextDay = await runPipeline({ store, engine, now: at('2026-11-22T06:00:00Z') });
    expect(goldSteps(nextDay).filter((s) => s.reused)).toEqual([]);
    const forced = await runPipeline({ store, engine, now: at('2026-11-22T07:00:00Z'), rebuildGold: true });
    expect(goldSteps(forced).filter((s) => s.reused)).toEqual([]);
    for (const s of goldSteps(forced)) expect(s.runId).toBe(forced.runId);
    const again = await runPipeline({ store, engine, now: at('2026-11-22T08:00:00Z') });
    for (const s of goldSteps(again)) expect(s.runId, s.step).toBe(forced.runId);
  });

  it('builds afresh after a rollback', async () => {
    const dataset = goldDataset('invoices', 1);
    const runs = await listCompleteRuns(store, dataset);
    const earlier = runs.at(-2);
    if (!earlier) throw new Error('expected two invoices runs');
    await rollbackTo(store, dataset, earlier);
    const next = await runPipeline({ store, engine, now: at('2026-11-22T09:00:00Z') });
    const invoices = goldSteps(next).find((s) => s.step === 'gold.invoices');
    expect(invoices?.reused).toBeUndefined();
    expect(invoices?.runId).toBe(next.runId);
    expect((await pointer('invoices'))?.run_id).toBe(next.runId);
  });

  it('builds afresh when the served files no longer pass their checks, which heals them', async () => {
    const served = await pointer('customer_360');
    if (!served) throw new Error('customer_360 not published');
    // The served files changed under the lake (a bad copy, a hand edit): every row is now there twice.
    const bytes = await store.get(`${served.path}part-00000.parquet`);
    await store.put(`${served.path}part-00001.parquet`, bytes);
    const next = await runPipeline({ store, engine, now: at('2026-11-22T10:00:00Z') });
    expect(next.status).toBe('succeeded');
    const step = goldSteps(next).find((s) => s.step === 'gold.customer_360');
    expect(step?.reused).toBeUndefined();
    expect(step?.inputs?.not_reused).toBe('blocking_check_failed');
    expect(step?.checks.find((c) => c.name === 'unique_key')?.passed).toBe(true);
    expect((await pointer('customer_360'))?.run_id).toBe(next.runId);
    // Every other mart was reused.
    expect(goldSteps(next).filter((s) => s.reused).length).toBe(GOLD_MODELS.length - 1);
  });

  it('builds afresh when rows went missing from the served files', async () => {
    const served = await pointer('kpi_daily_usage');
    if (!served) throw new Error('kpi_daily_usage not published');
    const files: string[] = [];
    for await (const info of store.list(served.path)) if (info.key.endsWith('.parquet')) files.push(info.key);
    // Partitioned by date: one partition's file lost, every check on the rest still passes.
    expect(files.length).toBeGreaterThan(1);
    await store.delete(files[0] ?? '');
    const next = await runPipeline({ store, engine, now: at('2026-11-22T11:00:00Z') });
    const step = goldSteps(next).find((s) => s.step === 'gold.kpi_daily_usage');
    expect(step?.inputs?.not_reused).toBe('row_count_changed');
    expect(step?.rowsOut).toBe(served.row_count);
    expect((await pointer('kpi_daily_usage'))?.run_id).toBe(next.runId);
  });
});

/** A lake of `landCustomer` alone. */
async function financeLake(): Promise<{ dir: string; store: LocalObjectStore; engine: DuckDbQueryEngine }> {
  const dir = await mkdtemp(join(tmpdir(), 'goldgate-gold-reuse-'));
  const store = new LocalObjectStore(join(dir, 'lake'));
  const engine = await DuckDbQueryEngine.create({ store });
  await landCustomer(store, new Date('2026-11-20T12:00:00Z'));
  return { dir, store, engine };
}

describe('Gold reuse and what follows a served run', () => {
  const at = (iso: string) => (): Date => new Date(iso);
  let lake: Awaited<ReturnType<typeof financeLake>> | undefined;
  afterEach(async () => {
    await lake?.engine.close();
    if (lake) await rm(lake.dir, { recursive: true, force: true });
    lake = undefined;
  });

  it('a reuse after local midnight covers the day for a deadline SLA, even once a later build is served', async () => {
    lake = await financeLake();
    const { store, engine } = lake;
    // customer_360 is due by 06:00 Asia/Kolkata. 18:00Z is 23:30 IST on 11-21; 19:00Z is 00:30 IST on 11-22.
    await runPipeline({ store, engine, now: at('2026-11-21T18:00:00Z') });
    const reuse = await runPipeline({ store, engine, now: at('2026-11-21T19:00:00Z') });
    expect(reuse.steps.find((s) => s.step === 'gold.customer_360')?.reused).toBe(true);
    // 01:00Z on 11-22 is 06:30 IST, after the deadline, on a new as_of: a build, served from then on.
    await runPipeline({ store, engine, now: at('2026-11-22T01:00:00Z') });
    const verdict = await freshness(store, 'customer_360', new Date('2026-11-22T01:30:00Z'), {
      slas: DEFAULT_SLAS,
    });
    expect(verdict.sla.state).toBe('on_time');
    expect(verdict.sla.deliveredAt).toBe('2026-11-21T19:00:00.000Z');
  });

  it('moves the home view to a reused run, when an earlier publication left it behind', async () => {
    lake = await financeLake();
    const { store, engine } = lake;
    const views = new Map<string, string>();
    let failOnce = true;
    const home: TransformHome = {
      ...embeddedHome({ store, engine }),
      published: async (model, runId) => {
        if (model.mart.name === 'invoices' && failOnce) {
          failOnce = false;
          throw new Error('throttled: CREATE OR REPLACE VIEW');
        }
        views.set(model.mart.name, runId);
      },
    };
    await expect(runPipeline({ store, engine, home, now: at('2026-11-21T06:00:00Z') })).rejects.toThrow();
    const second = await runPipeline({ store, engine, home, now: at('2026-11-21T07:00:00Z') });
    expect(second.steps.find((s) => s.step === 'gold.invoices')?.reused).toBe(true);
    const served = await resolveLatest(store, goldDataset('invoices', 1));
    expect(views.get('invoices')).toBe(served?.run_id);
  });
});
