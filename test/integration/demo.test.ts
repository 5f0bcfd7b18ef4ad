import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../src/adapters/object-store/local.js';
import { DuckDbQueryEngine } from '../../src/adapters/query-engine/duckdb.js';
import { MARTS } from '../../src/catalog/index.js';
import { buildDemoLake, type DemoSchedule, demoCompanyOptions, demoSchedule } from '../../src/cli/demo.js';
import { generateCompanyHistory } from '../../src/ingest/demo/company.js';
import type { CompanyHistory, DynamoEntity } from '../../src/ingest/demo/history.js';
import { groundTruth, type TruthEntity } from '../../src/ingest/demo/truth.js';
import { type BronzeEvent, bronzeEventSchema } from '../../src/ingest/envelope.js';
import { ZOHO_ENTITIES, type ZohoEntity } from '../../src/ingest/zoho/entities.js';
import { zohoPullCheckpointSchema } from '../../src/ingest/zoho/pull.js';
import { readCheckpoint } from '../../src/lake/checkpoint.js';
import { goldDataset, silverDataset } from '../../src/lake/layout.js';
import { resolveLatest } from '../../src/lake/publish.js';
import { runIdTime } from '../../src/lake/run-id.js';
import { sql } from '../../src/sql/fragment.js';
import { listCommittedBronzeRuns } from '../../src/transform/bronze-runs.js';
import type { PipelineReport } from '../../src/transform/pipeline.js';
import { readSilverVersion, silverRelation } from '../../src/transform/silver.js';

/**
 * `goldgate demo` end to end, checked against the generator's own account of
 * the company: the lake must hold what the history says, having gone through
 * the real puller (over HTTP, incrementally), the real stream consumer, the
 * reconciliation and the pipeline. Seed and size are chosen so that the
 * company has records seen by a pull and deleted before the reconciliation.
 */

const NOW = new Date('2026-11-21T06:15:00.000Z');
const SEED = 6;
const CUSTOMERS = 150;
const ZOHO_NAMES = Object.keys(ZOHO_ENTITIES) as ZohoEntity[];
const STREAM_TABLES: readonly DynamoEntity[] = ['accounts', 'users', 'usage_events'];

let dir: string;
let store: LocalObjectStore;
let engine: DuckDbQueryEngine;
let built: { events: number; report: PipelineReport };
let schedule: DemoSchedule;
let history: CompanyHistory;
/** Events of committed Bronze runs by `source/entity`, with their run ids. */
const bronze = new Map<string, Array<BronzeEvent & { run: string }>>();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'goldgate-demo-'));
  store = new LocalObjectStore(dir);
  engine = await DuckDbQueryEngine.create({ store });
  built = await buildDemoLake({ store, engine, seed: SEED, customers: CUSTOMERS, now: NOW });
  schedule = demoSchedule(NOW);
  history = generateCompanyHistory(demoCompanyOptions(SEED, CUSTOMERS, schedule));
  const entities = [
    ...ZOHO_NAMES.map((e) => ['zoho_books', e] as const),
    ...STREAM_TABLES.map((t) => ['dynamodb', t] as const),
  ];
  for (const [source, entity] of entities) {
    const events: Array<BronzeEvent & { run: string }> = [];
    for (const run of await listCommittedBronzeRuns(store, source, entity)) {
      for (const part of run.parts) {
        const lines = gunzipSync(await store.get(part))
          .toString('utf8')
          .split('\n');
        for (const line of lines) {
          if (line) events.push({ ...bronzeEventSchema.parse(JSON.parse(line)), run: run.ref.runId });
        }
      }
    }
    bronze.set(`${source}/${entity}`, events);
  }
}, 120_000);

afterAll(async () => {
  await engine?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Per `entity/id`, whether the history shows the record at `at`. */
function visibleAt(at: Date): Map<string, boolean> {
  const state = new Map<string, boolean>();
  for (const v of history.zoho) {
    if (Date.parse(v.validFrom) <= at.getTime()) state.set(`${v.entity}/${v.id}`, v.record !== null);
  }
  return state;
}

describe('goldgate demo: a lake landed by the real puller and stream consumer', () => {
  it('lands Zoho Books through incremental pulls, one window per scheduled pull', async () => {
    for (const entity of ZOHO_NAMES) {
      const checkpoint = await readCheckpoint(store, `zoho_pull.${entity}`, zohoPullCheckpointSchema);
      expect(checkpoint, entity).toMatchObject({ windows: schedule.pulls.length, pending: null });
    }
    // Every pull re-reads at least its overlap, so each one left an invoices run, stamped with its time.
    const invoices = bronze.get('zoho_books/invoices') ?? [];
    const runs = [...new Set(invoices.filter((e) => e.op !== 'D').map((e) => e.run))].sort();
    expect(runs.map((run) => runIdTime(run).toISOString())).toEqual(
      schedule.pulls.map((at) => new Date(Math.floor(at.getTime() / 1000) * 1000).toISOString()),
    );
    // The later pulls asked for recent changes only: each read far fewer invoices than existed then.
    for (const [n, run] of runs.entries()) {
      if (n === 0) continue;
      const at = schedule.pulls[n] ?? NOW;
      const existing = [...visibleAt(at)].filter(([key, live]) => live && key.startsWith('invoices/')).length;
      const read = invoices.filter((e) => e.run === run).length;
      expect(read, `pull ${n + 1}`).toBeGreaterThan(0);
      expect(read, `pull ${n + 1}`).toBeLessThan(existing);
    }
  });

  it('lands every stream record once, through the consumer', () => {
    for (const table of STREAM_TABLES) {
      const events = bronze.get(`dynamodb/${table}`) ?? [];
      expect(events.length, table).toBe(history.streams[table].length);
      expect(events.length, table).toBeGreaterThan(0);
    }
    const ttl = (bronze.get('dynamodb/usage_events') ?? []).filter((e) => e.meta?.ttl_expiry === true);
    expect(ttl.length).toBeGreaterThan(0);
  });

  it('reports every Bronze event it landed', () => {
    const total = [...bronze.values()].reduce((sum, events) => sum + events.length, 0);
    expect(built.events).toBe(total);
  });

  it('lands the deletes found by reconciliation: records a pull saw that were gone by then', () => {
    const seen = new Set<string>();
    for (const at of schedule.pulls) {
      for (const [key, live] of visibleAt(at)) if (live) seen.add(key);
    }
    const atReconcile = visibleAt(schedule.reconcile);
    const expected = [...seen].filter((key) => atReconcile.get(key) === false).sort();
    expect(expected.length, 'the chosen company has deletes to find').toBeGreaterThan(0);
    const deletes = ZOHO_NAMES.flatMap((entity) =>
      (bronze.get(`zoho_books/${entity}`) ?? []).filter((e) => e.op === 'D'),
    );
    expect(deletes.map((e) => `${e.entity}/${e.key}`).sort()).toEqual(expected);
    for (const event of deletes) expect(event.source_ts >= schedule.reconcile.toISOString()).toBe(true);
  });

  it('publishes every mart of the catalog with its blocking checks passed', async () => {
    expect(built.report.status).toBe('succeeded');
    for (const mart of MARTS) {
      const step = built.report.steps.find((s) => s.step === `gold.${mart.name}`);
      expect(step?.status, mart.name).toBe('published');
      const pointer = await resolveLatest(store, goldDataset(mart.name, mart.schemaVersion));
      expect(pointer?.run_id, mart.name).toBe(built.report.runId);
      const failed = (pointer?.checks ?? []).filter((c) => !c.passed);
      expect(
        failed.filter((c) => c.blocking).map((c) => c.name),
        mart.name,
      ).toEqual([]);
    }
  });

  it('holds in Silver the ground truth of contacts, invoices and accounts', async () => {
    // Only versions a pull could see reach Bronze; quarantined versions are never live.
    const truth = groundTruth(history, schedule.end, { observedAt: schedule.pulls });
    const cases: ReadonlyArray<readonly [string, TruthEntity]> = [
      ['zoho_books', 'contacts'],
      ['zoho_books', 'invoices'],
      ['dynamodb', 'accounts'],
    ];
    for (const [source, entity] of cases) {
      const pointer = await resolveLatest(store, silverDataset(source, entity));
      if (!pointer) throw new Error(`silver ${source}.${entity} is not published`);
      const { rows } = await engine.query({
        sql: sql`SELECT _key FROM ${silverRelation(await readSilverVersion(store, { source, entity }, pointer.run_id))} AS r`,
        label: 'test.silver_keys',
      });
      const keys = rows.map((r) => String(r._key)).sort();
      const expected = Object.keys(truth.entities[entity].records).sort();
      expect(keys.length, `${entity} live rows`).toBe(truth.entities[entity].counts.live);
      expect(pointer.row_count, `${entity} live rows`).toBe(truth.entities[entity].counts.live);
      expect(keys, `${entity} keys`).toEqual(expected);
    }
  });
});
