import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../../src/adapters/object-store/local.js';
import { DuckDbQueryEngine } from '../../../src/adapters/query-engine/duckdb.js';
import { goldDataset } from '../../../src/lake/layout.js';
import { resolveLatest } from '../../../src/lake/publish.js';
import { formatRuns, listPipelineRuns, type RunSummary, readLineage } from '../../../src/ops/index.js';
import { sql } from '../../../src/sql/fragment.js';
import { GOLD_MODELS, type GoldModel } from '../../../src/transform/gold/index.js';
import { type PipelineReport, runPipeline } from '../../../src/transform/pipeline.js';
import { account, contact, invoice, landEvents } from '../../support/builders/bronze.js';

/**
 * Run history: a run that publishes, one whose blocking check stops
 * publication, and one that fails outright all appear, newest first, with
 * per-step rows, quarantine counts and the failed check or error.
 */

const C1 = '920000000000000001';
const C2 = '920000000000000002';
const at = (iso: string): string => `${iso}.000Z`;
const base = GOLD_MODELS.find((m) => m.mart.name === 'invoices');
if (!base) throw new Error('no invoices model');
/** The invoices mart with a range no invoice here satisfies: its blocking check fails. */
const strict: GoldModel = {
  ...base,
  mart: { ...base.mart, checks: { ...base.mart.checks, ranges: [{ column: 'total', min: '0', max: '50' }] } },
};
/** The invoices mart with a query the engine rejects: the run fails. */
const broken: GoldModel = { ...base, query: () => sql`SELECT no_such_column FROM (SELECT 1 AS x) AS t` };

describe('pipeline run history', () => {
  let dir: string;
  let store: LocalObjectStore;
  let engine: DuckDbQueryEngine;
  let succeeded: PipelineReport;
  let blocked: PipelineReport;
  let failure: unknown;
  let runs: RunSummary[];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'goldgate-runs-'));
    store = new LocalObjectStore(dir);
    engine = await DuckDbQueryEngine.create({ store });
    const day = new Date('2026-11-19T12:00:00Z');
    await landEvents(
      store,
      'zoho_books',
      'contacts',
      [
        contact(C1, at('2026-01-05T10:00:00'), { name: 'Alpha' }),
        contact(C2, at('2026-02-05T10:00:00'), { name: 'Beta' }),
      ],
      day,
    );
    const inv = (id: string, customer: string, total: number) =>
      invoice(id, at('2026-11-01T09:00:00'), {
        customer,
        status: 'sent',
        date: '2026-11-01',
        due: '2026-12-01',
        total,
        balance: total,
      });
    // 6003 has a negative total: Silver quarantines it.
    await landEvents(
      store,
      'zoho_books',
      'invoices',
      [inv('6001', C1, 100), inv('6002', C2, 80), inv('6003', C1, -5)],
      day,
    );
    await landEvents(
      store,
      'dynamodb',
      'accounts',
      [
        account('acc_1', at('2026-01-10T10:00:00'), {
          contact: C1,
          region: 'EU',
          plan: 'growth',
          signupAt: at('2026-01-10T10:00:00'),
        }),
      ],
      day,
    );
    const run = (hour: string, models: readonly GoldModel[]) =>
      runPipeline({ store, engine, now: () => new Date(`2026-11-19T${hour}:00:00Z`), models });
    succeeded = await run('13', [base]);
    blocked = await run('14', [strict]);
    failure = await run('15', [broken]).then(
      () => undefined,
      (error: unknown) => error,
    );
    runs = await listPipelineRuns(store, { limit: 10 });
  });

  afterAll(async () => {
    await engine.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('lists every run newest first: failed, blocked, succeeded', () => {
    expect(failure).toMatchObject({ code: 'TRANSFORM_FAILED', step: 'gold.invoices' });
    expect(runs.map((r) => r.status)).toEqual(['failed', 'blocked', 'succeeded']);
    expect(runs.slice(1).map((r) => r.runId)).toEqual([blocked.runId, succeeded.runId]);
    expect((runs[0]?.runId ?? '') > blocked.runId).toBe(true);
  });

  it('records per-step rows in and out, and quarantine counts', () => {
    const first = runs.find((r) => r.runId === succeeded.runId);
    const silverInvoices = first?.steps.find((s) => s.step === 'silver.zoho_books.invoices');
    expect(silverInvoices).toMatchObject({
      status: 'published',
      rowsIn: 3,
      rowsOut: 2,
      quarantined: 1,
      condemned: 0,
    });
    // Gold reads the live rows of its Silver inputs: 2 contacts + 2 invoices + 1 account.
    expect(first?.steps.find((s) => s.step === 'gold.invoices')).toMatchObject({
      status: 'published',
      rowsIn: 5,
      rowsOut: 2,
    });
    expect(first?.quarantined).toBe(1);
    expect(first?.steps.every((s) => s.durationMs >= 0)).toBe(true);
  });

  it('shows the check that blocked publication, and the previous version kept serving', async () => {
    const run = runs.find((r) => r.runId === blocked.runId);
    expect(run?.failedChecks).toContainEqual({
      step: 'gold.invoices',
      name: 'range_total',
      blocking: true,
      detail: '2 rows out of range',
    });
    expect((await resolveLatest(store, goldDataset('invoices', 1)))?.run_id).toBe(succeeded.runId);
    // Its lineage is kept beside it, so an operator can see what the failing version was built from.
    const lineage = await readLineage(store, 'invoices', blocked.runId, { objects: false });
    expect(lineage).toMatchObject({ status: 'blocked', served: false, recordedIn: 'manifest' });
    expect(lineage.checks.find((c) => c.name === 'range_total')?.passed).toBe(false);
    expect(lineage.silver.map((s) => s.entity)).toEqual([
      'dynamodb/accounts',
      'zoho_books/contacts',
      'zoho_books/invoices',
    ]);
  });

  it('records a failed run with the step it stopped in and codes only', () => {
    const run = runs[0];
    expect(run?.error).toEqual({
      step: 'gold.invoices',
      code: 'TRANSFORM_FAILED',
      causeCode: 'ENGINE_QUERY_FAILED',
      message: 'transform step gold.invoices failed',
    });
    // The Silver steps it finished are kept (the quarantined invoice is retried by every run).
    expect(run?.steps.map((s) => s.step)).toEqual(
      runs[1]?.steps.filter((s) => s.step.startsWith('silver.')).map((s) => s.step),
    );
    expect(run?.steps.find((s) => s.step === 'silver.zoho_books.invoices')).toMatchObject({
      rowsIn: 1,
      quarantined: 1,
    });
  });

  it('keeps to the limit and leaves out an unreadable report', async () => {
    expect((await listPipelineRuns(store, { limit: 2 })).map((r) => r.status)).toEqual(['failed', 'blocked']);
    await store.put('_runs/pipeline/20261119T160000Z-dead.json', '{"runId": 3}');
    try {
      expect((await listPipelineRuns(store, { limit: 10 })).map((r) => r.status)).toEqual([
        'failed',
        'blocked',
        'succeeded',
      ]);
    } finally {
      await store.delete('_runs/pipeline/20261119T160000Z-dead.json');
    }
  });

  it('prints runs readably', () => {
    const text = formatRuns(runs);
    expect(text).toContain(`${blocked.runId}  BLOCKED`);
    expect(text).toContain('FAILED gold.invoices range_total: 2 rows out of range (blocked publication)');
    expect(text).toContain('stopped in gold.invoices: TRANSFORM_FAILED (ENGINE_QUERY_FAILED)');
    expect(text).toMatch(/silver\.zoho_books\.invoices +published +in 3 +out 2 +quarantined 1/);
  });
});
