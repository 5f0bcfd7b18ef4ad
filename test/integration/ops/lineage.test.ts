import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../../src/adapters/object-store/local.js';
import { DuckDbQueryEngine } from '../../../src/adapters/query-engine/duckdb.js';
import { writeBronzeRun } from '../../../src/ingest/bronze-writer.js';
import type { BronzeEvent } from '../../../src/ingest/envelope.js';
import { bronzeRunPrefix, goldDataset, runPrefix, silverDataset } from '../../../src/lake/layout.js';
import { readRunManifest, resolveLatest } from '../../../src/lake/publish.js';
import { newRunId, utcDate } from '../../../src/lake/run-id.js';
import {
  DEFAULT_SLAS,
  formatLineage,
  freshness,
  type MartLineage,
  readLineage,
  silverBronzeRuns,
} from '../../../src/ops/index.js';
import { sql } from '../../../src/sql/fragment.js';
import { GOLD_MODELS } from '../../../src/transform/gold/index.js';
import { type PipelineReport, runPipeline } from '../../../src/transform/pipeline.js';
import { account, contact, invoice, landEvents, removed } from '../../support/builders/bronze.js';
import { payment } from '../../support/builders/finance.js';

/**
 * Lineage, checked against Bronze read on its own (gunzip of the files on
 * disk, no goldgate reader): a Gold run lists exactly the Bronze runs whose
 * events it holds. The lake has runs of the mart's inputs and of another
 * entity, a run whose `_SUCCESS` came after the first pipeline run although
 * its id is older, and a run that never committed.
 */

const C1 = '910000000000000001';
const C2 = '910000000000000002';
const C3 = '910000000000000003';
const at = (iso: string): string => `${iso}.000Z`;
const MODELS = GOLD_MODELS.filter((m) => m.mart.name === 'invoices' || m.mart.name === 'payments');

interface LakeEvent extends BronzeEvent {
  /** `source/entity/ingest_date/run_id` from the object's path. */
  readonly runKey: string;
}

/** Every event under `bronze/`, read straight from the files; `committed` = the run's `_SUCCESS` exists. */
async function readBronzeFiles(root: string): Promise<{ events: LakeEvent[]; committed: Set<string> }> {
  const events: LakeEvent[] = [];
  const committed = new Set<string>();
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        await walk(path);
        continue;
      }
      const [, source, entity, date, run] = relative(root, path).split(sep);
      const runKey = `${source}/${entity}/${date?.replace('ingest_date=', '')}/${run?.replace('run_id=', '')}`;
      if (entry.name === '_SUCCESS') committed.add(runKey);
      if (!entry.name.endsWith('.jsonl.gz')) continue;
      for (const line of gunzipSync(await readFile(path))
        .toString('utf8')
        .split('\n')) {
        if (line.trim()) events.push({ ...(JSON.parse(line) as BronzeEvent), runKey });
      }
    }
  };
  await walk(join(root, 'bronze'));
  return { events, committed };
}

/** Keys whose latest event (by source_ts, seq) among `events` is not a delete. */
function liveKeys(events: readonly LakeEvent[]): string[] {
  const latest = new Map<string, LakeEvent>();
  for (const e of events) {
    const seen = latest.get(e.key);
    if (!seen || e.source_ts > seen.source_ts || (e.source_ts === seen.source_ts && e.seq > seen.seq)) {
      latest.set(e.key, e);
    }
  }
  return [...latest.values()].filter((e) => e.op !== 'D').map((e) => e.key);
}

const bronzeRunsOf = (l: MartLineage): string[] =>
  l.silver.flatMap((s) => s.bronzeRuns.map((b) => b.key)).sort();

describe('lineage of Gold runs', () => {
  let dir: string;
  let store: LocalObjectStore;
  let engine: DuckDbQueryEngine;
  let first: PipelineReport;
  let second: PipelineReport;
  /** Bronze as the files said right before each pipeline run. */
  let beforeFirst: Awaited<ReturnType<typeof readBronzeFiles>>;
  let beforeSecond: Awaited<ReturnType<typeof readBronzeFiles>>;
  let lateRun: string;
  let neverCommitted: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'goldgate-lineage-'));
    store = new LocalObjectStore(dir);
    engine = await DuckDbQueryEngine.create({ store });
    const day1 = new Date('2026-11-19T12:00:00Z');
    const later = (minutes: number): Date => new Date(day1.getTime() + minutes * 60_000);
    await landEvents(
      store,
      'zoho_books',
      'contacts',
      [
        contact(C1, at('2026-01-05T10:00:00'), { name: 'Alpha' }),
        contact(C2, at('2026-02-05T10:00:00'), { name: 'Beta' }),
      ],
      day1,
    );
    const inv = (id: string, customer: string, when: string, balance: number) =>
      invoice(id, at(when), {
        customer,
        status: 'sent',
        date: '2026-11-01',
        due: '2026-12-01',
        total: 100,
        balance,
      });
    await landEvents(
      store,
      'zoho_books',
      'invoices',
      [
        inv('5001', C1, '2026-11-01T09:00:00', 100),
        inv('5002', C2, '2026-11-02T09:00:00', 100),
        inv('5003', C1, '2026-11-03T09:00:00', 100),
      ],
      later(1),
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
      later(2),
    );
    await landEvents(
      store,
      'zoho_books',
      'customer_payments',
      [
        payment('7301', at('2026-11-05T09:00:00'), {
          customer: C1,
          date: '2026-11-05',
          amount: 40,
          applied: [{ invoice: '5001', amount: 40 }],
        }),
      ],
      later(3),
    );
    // An ingest that started before the first pipeline run but committed only after it.
    const lateAt = later(4);
    lateRun = newRunId(lateAt);
    const lateRef = {
      source: 'zoho_books',
      entity: 'invoices',
      ingestDate: utcDate(lateAt),
      runId: lateRun,
    } as const;
    const lateEvents: BronzeEvent[] = [
      {
        ...inv('5004', C2, '2026-11-04T09:00:00', 100),
        source: 'zoho_books',
        seq: '900000000001',
        run_id: lateRun,
        ingested_at: lateAt.toISOString(),
      },
    ];
    await writeBronzeRun(store, lateRef, lateEvents);
    const lateSuccess = `${bronzeRunPrefix(lateRef)}_SUCCESS`;
    const success = await store.get(lateSuccess);
    await store.delete(lateSuccess);

    beforeFirst = await readBronzeFiles(dir);
    first = await runPipeline({ store, engine, now: () => new Date('2026-11-19T13:00:00Z'), models: MODELS });

    await store.put(lateSuccess, success);
    const day2 = new Date('2026-11-20T12:00:00Z');
    await landEvents(
      store,
      'zoho_books',
      'invoices',
      [
        inv('5002', C2, '2026-11-20T08:00:00', 25),
        removed('invoices', '5003', at('2026-11-20T08:30:00'), 'invoice_id'),
      ],
      day2,
    );
    await landEvents(
      store,
      'zoho_books',
      'contacts',
      [contact(C3, at('2026-11-20T07:00:00'), { name: 'Gamma' })],
      day2,
    );
    // An ingest that never committed: its events exist on disk, never for readers.
    const brokenAt = new Date('2026-11-20T12:05:00Z');
    neverCommitted = newRunId(brokenAt);
    const brokenRef = {
      source: 'zoho_books',
      entity: 'invoices',
      ingestDate: utcDate(brokenAt),
      runId: neverCommitted,
    } as const;
    await writeBronzeRun(store, brokenRef, [
      {
        ...inv('5005', C3, '2026-11-20T11:00:00', 100),
        source: 'zoho_books',
        seq: '900000000002',
        run_id: neverCommitted,
        ingested_at: brokenAt.toISOString(),
      },
    ]);
    await store.delete(`${bronzeRunPrefix(brokenRef)}_SUCCESS`);

    beforeSecond = await readBronzeFiles(dir);
    second = await runPipeline({
      store,
      engine,
      now: () => new Date('2026-11-20T13:00:00Z'),
      models: MODELS,
    });
  });

  afterAll(async () => {
    await engine.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function goldInvoiceIds(runId: string): Promise<string[]> {
    const relation = engine.martRelation({
      mart: 'invoices',
      schemaVersion: 1,
      runId,
      prefix: runPrefix(goldDataset('invoices', 1), runId),
    });
    const { rows } = await engine.query({
      sql: sql`SELECT invoice_id FROM ${relation} AS g ORDER BY invoice_id`,
    });
    return rows.map((r) => String(r.invoice_id));
  }

  it('both runs publish', () => {
    expect([first.status, second.status]).toEqual(['succeeded', 'succeeded']);
  });

  for (const which of ['first', 'second'] as const) {
    it(`${which} run: the listed Bronze runs are exactly the committed runs of its inputs, and its rows come from them alone`, async () => {
      const report = which === 'first' ? first : second;
      const bronze = which === 'first' ? beforeFirst : beforeSecond;
      const lineage = await readLineage(store, 'invoices', report.runId);
      const inputs = new Set(['zoho_books/contacts', 'zoho_books/invoices', 'dynamodb/accounts']);
      const expected = [...bronze.committed]
        .filter((k) => inputs.has(k.split('/').slice(0, 2).join('/')))
        .sort();
      expect(bronzeRunsOf(lineage)).toEqual(expected);

      // The rows: invoice ids in the Gold run are the live keys of the listed runs' invoice events, and
      // no event of an unlisted run (committed too late, or never) shows up.
      const listed = new Set(bronzeRunsOf(lineage));
      const invoiceEvents = bronze.events.filter((e) => e.entity === 'invoices');
      const ids = await goldInvoiceIds(report.runId);
      expect(ids).toEqual(liveKeys(invoiceEvents.filter((e) => listed.has(e.runKey))).sort());
      const unlisted = invoiceEvents.filter((e) => !listed.has(e.runKey));
      expect(unlisted.length).toBeGreaterThan(0);
      for (const e of unlisted) expect(ids).not.toContain(e.key);

      // Newest source change per source: the newest source_ts among the listed runs' events.
      const newest: Record<string, string> = {};
      for (const e of bronze.events) {
        if (listed.has(e.runKey) && (!newest[e.source] || e.source_ts > (newest[e.source] ?? '')))
          newest[e.source] = e.source_ts;
      }
      expect(lineage.newestSourceChange).toEqual(newest);
    });
  }

  it('names late and uncommitted runs correctly: the late one only from the second run on, the broken one never', async () => {
    const one = bronzeRunsOf(await readLineage(store, 'invoices', first.runId));
    const two = bronzeRunsOf(await readLineage(store, 'invoices', second.runId));
    expect(one.some((k) => k.endsWith(lateRun))).toBe(false);
    expect(two.some((k) => k.endsWith(lateRun))).toBe(true);
    expect([...one, ...two].some((k) => k.endsWith(neverCommitted))).toBe(false);
    // The late run's id is older than the first pipeline run: lineage is not "every run id before the Gold run".
    expect(lateRun < first.runId).toBe(true);
  });

  it("lists another mart's own inputs only", async () => {
    const lineage = await readLineage(store, 'payments', second.runId);
    expect(lineage.silver.map((s) => s.entity)).toEqual([
      'dynamodb/accounts',
      'zoho_books/contacts',
      'zoho_books/customer_payments',
    ]);
    expect(bronzeRunsOf(lineage).some((k) => k.startsWith('zoho_books/invoices/'))).toBe(false);
  });

  it('names the Silver versions read, and they agree with the Silver manifests on their Bronze runs', async () => {
    const lineage = await readLineage(store, 'invoices', second.runId);
    for (const s of lineage.silver) {
      const [source, entity] = s.entity.split('/') as [string, string];
      const served = await resolveLatest(store, silverDataset(source, entity));
      expect(s.runId, s.entity).toBe(served?.run_id);
      expect(s.rowCount, s.entity).toBe(served?.row_count);
      expect(
        s.bronzeRuns.map((b) => b.key),
        s.entity,
      ).toEqual(await silverBronzeRuns(store, s.entity, s.runId ?? ''));
    }
    // Accounts received nothing new on day 2: the second run read the first run's Silver version.
    expect(lineage.silver.find((s) => s.entity === 'dynamodb/accounts')?.runId).toBe(first.runId);
    expect(lineage.silver.find((s) => s.entity === 'zoho_books/invoices')?.runId).toBe(second.runId);
  });

  it('reaches the Bronze objects on disk, with the event counts of their manifests', async () => {
    const lineage = await readLineage(store, 'invoices');
    expect(lineage).toMatchObject({
      runId: second.runId,
      served: true,
      status: 'complete',
      recordedIn: 'manifest',
    });
    for (const run of lineage.silver.flatMap((s) => s.bronzeRuns)) {
      const onDisk = (await readdir(join(dir, ...bronzeRunPrefix(run.ref ?? fail()).split('/')))).sort();
      expect(run.objects.map((o) => o.key.split('/').at(-1)).sort(), run.key).toEqual(onDisk);
      const events = beforeSecond.events.filter((e) => e.runKey === run.key).length;
      expect(run.eventCount, run.key).toBe(events);
    }
    expect((await readLineage(store, 'invoices', first.runId)).served).toBe(false);
  });

  it('rebuilds the lineage of a run from before lineage was recorded out of the Silver manifests', async () => {
    // Strip the recorded lineage from the first run's manifest, as an older build would have written it.
    const ds = goldDataset('invoices', 1);
    const manifest = await readRunManifest(store, ds, first.runId);
    if (!manifest) throw new Error('no manifest');
    const { lineage: recorded, ...older } = manifest;
    await store.put(`${runPrefix(ds, first.runId)}_SUCCESS`, JSON.stringify(older));
    try {
      const rebuilt = await readLineage(store, 'invoices', first.runId, { objects: false });
      expect(rebuilt.recordedIn).toBe('silver_history');
      expect(bronzeRunsOf(rebuilt)).toEqual(recorded?.silver.flatMap((s) => s.bronze_runs).sort());
    } finally {
      await store.put(`${runPrefix(ds, first.runId)}_SUCCESS`, JSON.stringify(manifest));
    }
  });

  it('gives freshness from the served run: its version, when it was ready, and the newest source change per source', async () => {
    const now = new Date('2026-11-20T13:30:00Z');
    const f = await freshness(store, 'invoices', now, { slas: DEFAULT_SLAS });
    const lineage = await readLineage(store, 'invoices', second.runId, { objects: false });
    expect(f.served).toMatchObject({
      runId: second.runId,
      builtAt: '2026-11-20T13:00:00.000Z',
      rowCount: (await goldInvoiceIds(second.runId)).length,
    });
    expect(Object.fromEntries(f.newestSourceChange.map((s) => [s.source, s.at]))).toEqual(
      lineage.newestSourceChange,
    );
    // Published by a pipeline whose clock stood at 13:00: 30 minutes old, within the hourly SLA.
    expect(f.sla).toMatchObject({ state: 'on_time', ageSeconds: 30 * 60 });
  });

  it('prints the chain down to the Bronze objects', async () => {
    const text = formatLineage(await readLineage(store, 'invoices', second.runId));
    expect(text).toContain(`gold invoices v1 run ${second.runId} (complete, served)`);
    expect(text).toContain(`silver zoho_books/invoices run ${second.runId}`);
    expect(text).toContain(`bronze zoho_books/invoices/2026-11-19/${lateRun}  1 event`);
    expect(text).toMatch(
      /bronze\/zoho_books\/invoices\/ingest_date=2026-11-19\/run_id=\S+\/part-00000\.jsonl\.gz {2}\d+ B/,
    );
  });

  describe('the goldgate command', () => {
    const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
    const goldgate = (
      args: readonly string[],
    ): Promise<{ code: number | null; stdout: string; stderr: string }> =>
      new Promise((resolve, reject) => {
        const child: ChildProcess = spawn(process.execPath, [join(ROOT, 'bin', 'goldgate.mjs'), ...args], {
          cwd: ROOT,
          env: { ...process.env, GOLDGATE_LAKE_DIR: dir, GOLDGATE_HOME: 'embedded' },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout?.on('data', (c: Buffer) => {
          stdout += c.toString('utf8');
        });
        child.stderr?.on('data', (c: Buffer) => {
          stderr += c.toString('utf8');
        });
        child.once('error', reject);
        child.once('close', (code) => resolve({ code, stdout, stderr }));
      });

    it('goldgate lineage <mart> <run> --json lists what readLineage lists', async () => {
      const result = await goldgate(['lineage', 'invoices', first.runId, '--json']);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const printed = JSON.parse(result.stdout) as MartLineage;
      expect(bronzeRunsOf(printed)).toEqual(bronzeRunsOf(await readLineage(store, 'invoices', first.runId)));
    });

    it('goldgate lineage refuses an unknown mart with its code', async () => {
      const result = await goldgate(['lineage', 'nope']);
      expect(result.code).toBe(1);
      expect(result.stderr).toBe('goldgate: MART_NOT_FOUND: no mart named nope\n');
    });
  });
});

function fail(): never {
  throw new Error('unexpected');
}
