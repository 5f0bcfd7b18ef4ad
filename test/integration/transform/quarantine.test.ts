import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../../src/adapters/object-store/local.js';
import { DuckDbQueryEngine } from '../../../src/adapters/query-engine/duckdb.js';
import { silverDataset } from '../../../src/lake/layout.js';
import { resolveLatest } from '../../../src/lake/publish.js';
import { zohoInvoices } from '../../../src/transform/entities.js';
import { runPipeline } from '../../../src/transform/pipeline.js';
import {
  actOnCondemned,
  readQuarantineRows,
  summariseQuarantine,
} from '../../../src/transform/quarantine.js';
import { mergeSilver, readPublishedSilver } from '../../../src/transform/silver.js';
import { readSilverState } from '../../../src/transform/state.js';
import { contact, invoice, landEvents } from '../../support/builders/bronze.js';

const C1 = '900000000000000001';
const invoices = 'zoho_books/invoices';

describe('quarantine lifecycle', () => {
  let dir: string;
  let store: LocalObjectStore;
  let engine: DuckDbQueryEngine;
  let minute = 0;
  // Each run gets its own clock minute, so run ids differ and sort in order.
  const run = () => runPipeline({ store, engine, now: () => new Date(Date.UTC(2026, 10, 21, 6, minute++)) });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'goldgate-quarantine-'));
    store = new LocalObjectStore(dir);
    engine = await DuckDbQueryEngine.create({ store });
    const at = new Date('2026-11-20T12:00:00Z');
    await landEvents(
      store,
      'zoho_books',
      'contacts',
      [contact(C1, '2026-01-05T10:00:00.000Z', { name: 'Alpha' })],
      at,
    );
    await landEvents(
      store,
      'zoho_books',
      'invoices',
      [
        invoice('2001', '2026-11-01T10:00:00.000Z', {
          customer: C1,
          status: 'sent',
          date: '2026-11-01',
          due: '2026-11-16',
          total: 10,
          balance: 10,
        }),
        // `refunded` is not an invoice status goldgate knows: UNKNOWN_ENUM.
        invoice('2002', '2026-11-02T10:00:00.000Z', {
          customer: C1,
          status: 'refunded',
          date: '2026-11-02',
          due: '2026-11-17',
          total: 20,
          balance: 0,
        }),
      ],
      at,
    );
  });

  afterAll(async () => {
    await engine.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('retries a bad row on each run and condemns it at the third attempt', async () => {
    const attempts: number[] = [];
    const runs: string[] = [];
    const firstRuns = new Set<string>();
    for (let i = 0; i < 3; i++) {
      runs.push((await run()).runId);
      const state = await readSilverState(store);
      const open = await readQuarantineRows(store, state.quarantine.open[invoices] ?? []);
      const condemned = await readQuarantineRows(store, state.quarantine.condemned[invoices] ?? []);
      attempts.push(...open.map((r) => r.attempt_count), ...condemned.map((r) => -r.attempt_count));
      for (const r of [...open, ...condemned]) firstRuns.add(r.first_quarantined_run);
    }
    // attempt 1 open, attempt 2 open, attempt 3 condemned (negative marks condemned)
    expect(attempts).toEqual([1, 2, -3]);
    // Every attempt names the run that quarantined the row first.
    expect([...firstRuns]).toEqual([runs[0]]);
    const [summary] = await summariseQuarantine(store);
    expect(summary).toEqual({
      entity: invoices,
      open: 0,
      condemned: 1,
      released: 0,
      reasons: { UNKNOWN_ENUM: 1 },
    });
    // Only the good invoice is served.
    expect((await resolveLatest(store, silverDataset('zoho_books', 'invoices')))?.row_count).toBe(1);
  });

  it('does not retry a condemned row without a command', async () => {
    const report = await run();
    expect(report.steps.find((s) => s.step === 'silver.zoho_books.invoices')?.status).toBe('skipped');
  });

  it('retries on command once more, and releases on command for good', async () => {
    expect(await actOnCondemned(store, 'retry', { entity: invoices, lockTtlMs: 60_000 })).toHaveLength(1);
    const retried = await run();
    expect(retried.steps.find((s) => s.step === 'silver.zoho_books.invoices')).toMatchObject({
      status: 'published',
      rowsIn: 1,
      quarantined: 1,
    });
    const state = await readSilverState(store);
    const rows = await readQuarantineRows(store, state.quarantine.condemned[invoices] ?? []);
    // The attempt-3 file was consumed by the retry; the row failed again and is condemned at attempt 4.
    expect(rows.map((r) => r.attempt_count)).toEqual([4]);

    expect(await actOnCondemned(store, 'release', { entity: invoices, lockTtlMs: 60_000 })).toHaveLength(1);
    const [summary] = await summariseQuarantine(store);
    expect(summary).toMatchObject({ open: 0, condemned: 0, released: 1 });
    expect((await run()).steps.find((s) => s.step === 'silver.zoho_books.invoices')?.status).toBe('skipped');
    await expect(
      actOnCondemned(store, 'retry', { entity: invoices, lockTtlMs: 60_000 }),
    ).rejects.toMatchObject({
      code: 'NOTHING_TO_DO',
    });
  });

  it('lets a retried row through once the contract accepts it', async () => {
    const state = await readSilverState(store);
    const widened = {
      ...zohoInvoices,
      fields: zohoInvoices.fields.map((f) =>
        f.name === 'status' && f.values ? { ...f, values: [...f.values, 'refunded'] } : f,
      ),
    };
    const previous = await readPublishedSilver(store, zohoInvoices);
    const result = await mergeSilver({
      store,
      engine,
      contract: widened,
      bronzeKeys: [],
      quarantineKeys: state.quarantine.released.slice(0, 1),
      previous,
      runId: '20261121T070000Z-beef',
      ingestDate: '2026-11-21',
    });
    expect(result).toMatchObject({ recovered: 1, quarantined: 0, condemned: 0, liveRows: 2 });
  });
});
