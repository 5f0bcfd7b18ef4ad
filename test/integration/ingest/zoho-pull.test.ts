import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../../src/adapters/object-store/local.js';
import type { ObjectStore } from '../../../src/adapters/object-store/port.js';
import { DuckDbQueryEngine } from '../../../src/adapters/query-engine/duckdb.js';
import { generateCompanyHistory } from '../../../src/ingest/demo/company.js';
import type { CompanyHistory, ZohoVersion } from '../../../src/ingest/demo/history.js';
import { groundTruth } from '../../../src/ingest/demo/truth.js';
import { type BronzeEvent, bronzeEventSchema } from '../../../src/ingest/envelope.js';
import {
  RequestBudget,
  TokenCache,
  ZohoBooksClient,
  type ZohoClientOptions,
} from '../../../src/ingest/zoho/client.js';
import { ZOHO_ENTITIES, type ZohoEntity } from '../../../src/ingest/zoho/entities.js';
import { type FaultPlan, LocalZohoServer } from '../../../src/ingest/zoho/local-server.js';
import { pullZoho, type ZohoPullOptions, zohoPullCheckpointSchema } from '../../../src/ingest/zoho/pull.js';
import { reconcileZoho, silverKeysFromEngine } from '../../../src/ingest/zoho/reconcile.js';
import { readCheckpoint } from '../../../src/lake/checkpoint.js';
import { parseBronzeKey, silverDataset } from '../../../src/lake/layout.js';
import { publishRun } from '../../../src/lake/publish.js';
import { newRunId, utcDate } from '../../../src/lake/run-id.js';
import { listCommittedBronzeRuns } from '../../../src/transform/bronze-runs.js';
import { ENTITIES } from '../../../src/transform/entities.js';
import { mergeSilver, readPublishedSilver } from '../../../src/transform/silver.js';
import { FaultInjector, FaultyObjectStore } from '../../support/faults.js';

/**
 * The puller over HTTP against the local Zoho Books server, which serves a
 * small hand-made CompanyHistory at a clock the tests move. Every scenario
 * reads Bronze back (gzip JSONL parts of committed runs) and compares it with
 * the history: every event is a real version, every version visible at a
 * completed pull is there, and duplicates are only of the same key and version.
 */

const ENTITY_NAMES = Object.keys(ZOHO_ENTITIES) as ZohoEntity[];
const H = 3_600_000;
const BASE = Date.parse('2026-01-05T00:00:00.000Z');
/** Everything created by then. */
const T0 = BASE + 48 * H;
/** Edits (payments, renames, a void, a late edit of an old invoice). */
const T1 = T0 + 2 * H;
/** Deletes. */
const T2 = T0 + 5 * H;

// ---------------------------------------------------------------------------
// A small company history, built by hand so that every expectation is exact.

function zohoTime(ms: number): string {
  // Zoho writes local time with an offset and no colon.
  return `${new Date(ms + 330 * 60_000).toISOString().slice(0, 19)}+0530`;
}

function buildHistory(): CompanyHistory {
  const zoho: ZohoVersion[] = [];
  const add = (entity: ZohoEntity, id: string, at: number, record: Record<string, unknown> | null): void => {
    zoho.push({
      entity,
      id,
      validFrom: new Date(at).toISOString(),
      record: record && { ...record, last_modified_time: zohoTime(at) },
    });
  };
  const contactIds: string[] = [];
  const contacts = new Map<string, Record<string, unknown>>();
  for (let i = 0; i < 230; i++) {
    const id = String(11_149_000_000_000_000n + BigInt(i) * 37n);
    const at = BASE + i * 60_000;
    const record = {
      contact_id: id,
      contact_name: `Customer ${i}`,
      company_name: i % 3 === 0 ? ' ' : `Company ${i}`,
      contact_type: 'customer',
      customer_sub_type: 'business',
      status: 'active',
      email: `c${i}@example.com`,
      currency_code: i % 2 === 0 ? 'USD' : 'EUR',
      billing_address: { country: i % 2 === 0 ? 'United States' : 'Germany' },
      created_time: zohoTime(at),
    };
    contactIds.push(id);
    contacts.set(id, record);
    add('contacts', id, at, record);
  }
  const invoices = new Map<string, Record<string, unknown>>();
  for (let i = 0; i < 310; i++) {
    const id = String(98_200_000_000_000_000n + BigInt(i) * 101n);
    const at = BASE + 4 * H + i * 30_000;
    const total = 100 + i;
    const record = {
      invoice_id: id,
      invoice_number: `INV-${String(i).padStart(6, '0')}`,
      customer_id: contactIds[i % contactIds.length],
      status: 'sent',
      reference_number: ' ',
      date: '2026-01-05',
      due_date: '2026-01-20',
      currency_code: 'USD',
      exchange_rate: 1,
      total,
      balance: total,
      created_time: zohoTime(at),
    };
    invoices.set(id, record);
    add('invoices', id, at, record);
  }
  for (let i = 0; i < 80; i++) {
    const at = BASE + 10 * H + i * 60_000;
    add('customer_payments', String(77_000_000_000_000_000n + BigInt(i)), at, {
      payment_id: String(77_000_000_000_000_000n + BigInt(i)),
      payment_number: `PAY-${i}`,
      customer_id: contactIds[i],
      payment_mode: 'banktransfer',
      date: '2026-01-06',
      amount: 50 + i,
      currency_code: 'USD',
      exchange_rate: 1,
      invoices: [{ invoice_id: [...invoices.keys()][i], amount_applied: 50 + i }],
      created_time: zohoTime(at),
    });
  }
  for (let i = 0; i < 40; i++) {
    const at = BASE + 20 * H + i * 60_000;
    add('credit_notes', String(66_000_000_000_000_000n + BigInt(i)), at, {
      creditnote_id: String(66_000_000_000_000_000n + BigInt(i)),
      creditnote_number: `CN-${i}`,
      customer_id: contactIds[i],
      status: 'open',
      date: '2026-01-06',
      currency_code: 'USD',
      exchange_rate: 1,
      total: 10,
      balance: 10,
      created_time: zohoTime(at),
    });
  }
  for (let i = 0; i < 30; i++) {
    const at = BASE + 30 * H + i * 60_000;
    add('recurring_invoices', String(55_000_000_000_000_000n + BigInt(i)), at, {
      recurring_invoice_id: String(55_000_000_000_000_000n + BigInt(i)),
      recurrence_name: `Plan ${i}`,
      customer_id: contactIds[i],
      status: 'active',
      recurrence_frequency: 'months',
      repeat_every: 1,
      start_date: '2026-01-05',
      currency_code: 'USD',
      exchange_rate: 1,
      total: 49,
      created_time: zohoTime(at),
    });
  }
  // T1: payments on 60 invoices, 20 renamed contacts, one void (a status, not a delete), one late edit.
  const invoiceIds = [...invoices.keys()];
  for (let i = 0; i < 60; i++) {
    const id = invoiceIds[i * 5] as string;
    add('invoices', id, T1 + i * 1_000, { ...invoices.get(id), status: 'paid', balance: 0 });
  }
  for (let i = 0; i < 20; i++) {
    const id = contactIds[i * 11] as string;
    add('contacts', id, T1 + i * 1_000, { ...contacts.get(id), contact_name: `Renamed ${i}` });
  }
  const voided = invoiceIds[7] as string;
  add('invoices', voided, T1 + 90_000, { ...invoices.get(voided), status: 'void', balance: 0 });
  const late = invoiceIds[1] as string;
  add('invoices', late, T1 + 95_000, { ...invoices.get(late), reference_number: 'late fix' });
  // T2: deletes.
  for (let i = 0; i < 12; i++) add('invoices', invoiceIds[100 + i * 3] as string, T2 + i * 1_000, null);
  for (let i = 0; i < 4; i++) add('contacts', contactIds[200 + i] as string, T2 + i * 1_000, null);
  add('credit_notes', String(66_000_000_000_000_000n + 3n), T2 + 30_000, null);
  zoho.sort((a, b) => (a.validFrom < b.validFrom ? -1 : a.validFrom > b.validFrom ? 1 : 0));
  return {
    seed: 0,
    start: new Date(BASE).toISOString(),
    end: new Date(T2 + H).toISOString(),
    zoho,
    streams: { accounts: [], users: [], usage_events: [] },
  };
}

const HISTORY = buildHistory();
const VOIDED_INVOICE = String(98_200_000_000_000_000n + 7n * 101n);

/** The test's own reading of the history: per entity and id, the version visible at `at` (deleted ones absent). */
function visibleAt(at: number, entities: readonly ZohoEntity[] = ENTITY_NAMES): Map<string, ZohoVersion> {
  const latest = new Map<string, ZohoVersion>();
  for (const version of HISTORY.zoho) {
    if (Date.parse(version.validFrom) > at || !entities.includes(version.entity)) continue;
    latest.set(`${version.entity}/${version.id}`, version);
  }
  for (const [key, version] of latest) if (version.record === null) latest.delete(key);
  return latest;
}

/** Versions visible at `at` modified within `overlapMs` before their entity's watermark: the most a next window re-reads. */
function overlapVersions(at: number, watermarks: ReadonlyMap<ZohoEntity, number>, overlapMs: number): number {
  let n = 0;
  for (const version of visibleAt(at).values()) {
    const watermark = watermarks.get(version.entity) ?? Number.NaN;
    if (Date.parse(version.validFrom) >= watermark - overlapMs) n += 1;
  }
  return n;
}

// ---------------------------------------------------------------------------
// Reading Bronze back

interface BronzeContents {
  readonly events: BronzeEvent[];
  readonly runs: Set<string>;
  /** Objects of runs without `_SUCCESS`. */
  readonly orphans: string[];
}

async function readBronze(store: ObjectStore): Promise<BronzeContents> {
  const files = new Map<string, string[]>();
  const committed = new Set<string>();
  for await (const info of store.list('bronze/zoho_books/')) {
    const ref = parseBronzeKey(info.key);
    expect(ref, `unexpected key ${info.key}`).toBeDefined();
    if (!ref) continue;
    const run = info.key.slice(0, info.key.lastIndexOf('/') + 1);
    if (ref.file === '_SUCCESS') committed.add(run);
    else files.set(run, [...(files.get(run) ?? []), info.key]);
  }
  const events: BronzeEvent[] = [];
  const orphans: string[] = [];
  for (const [run, parts] of files) {
    if (!committed.has(run)) {
      orphans.push(...parts);
      continue;
    }
    for (const part of parts) {
      const text = gunzipSync(await store.get(part)).toString('utf8');
      for (const line of text.split('\n')) if (line) events.push(bronzeEventSchema.parse(JSON.parse(line)));
    }
  }
  return { events, runs: committed, orphans };
}

interface Verdict {
  readonly duplicates: number;
  readonly duplicatesBy: Map<string, number>;
  readonly deletes: Map<string, BronzeEvent>;
}

/**
 * Bronze against the history: every change event is a real version (same
 * payload), every version visible at each time in `complete` is present, and
 * two events of one key and timestamp always carry the same version.
 */
function verify(contents: BronzeContents, complete: readonly number[], entities = ENTITY_NAMES): Verdict {
  expect(contents.orphans, 'objects of uncommitted runs').toEqual([]);
  const versions = new Map<string, ZohoVersion>();
  for (const v of HISTORY.zoho) versions.set(`${v.entity}/${v.id}@${v.validFrom}`, v);
  const seen = new Map<string, number>();
  const deletes = new Map<string, BronzeEvent>();
  for (const event of contents.events) {
    expect(event.source).toBe('zoho_books');
    const id = `${event.entity}/${event.key}`;
    if (event.op === 'D') {
      expect(deletes.has(id), `a second delete of ${id}`).toBe(false);
      deletes.set(id, event);
      continue;
    }
    const version = versions.get(`${id}@${event.source_ts}`);
    expect(version, `${id} at ${event.source_ts} is not a version of the history`).toBeDefined();
    expect(event.payload).toEqual(version?.record);
    seen.set(`${id}@${event.source_ts}`, (seen.get(`${id}@${event.source_ts}`) ?? 0) + 1);
  }
  for (const at of complete) {
    const missing = [...visibleAt(at, entities).values()]
      .map((v) => `${v.entity}/${v.id}@${v.validFrom}`)
      .filter((k) => !seen.has(k));
    expect(missing, `versions visible at ${new Date(at).toISOString()} missing from Bronze`).toEqual([]);
  }
  let duplicates = 0;
  const duplicatesBy = new Map<string, number>();
  for (const [key, count] of seen) {
    duplicates += count - 1;
    const entity = key.slice(0, key.indexOf('/'));
    duplicatesBy.set(entity, (duplicatesBy.get(entity) ?? 0) + count - 1);
  }
  return { duplicates, duplicatesBy, deletes };
}

// ---------------------------------------------------------------------------
// Harness

let server: LocalZohoServer;
let dir: string;
let store: LocalObjectStore;
let tokenCache: TokenCache;

beforeAll(async () => {
  server = await LocalZohoServer.start({
    history: HISTORY,
    now: new Date(T0),
    rateLimit: null,
    maxRefreshesPerMinute: 1_000,
  });
});

afterAll(async () => {
  await server.close();
});

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'goldgate-zoho-'));
  store = new LocalObjectStore(dir);
  tokenCache = new TokenCache();
  server.setNow(new Date(T0));
  server.setRateLimit(null);
  server.setFaults([]);
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function client(options: Partial<ZohoClientOptions> = {}): ZohoBooksClient {
  return new ZohoBooksClient({
    credentials: server.credentials,
    organizationId: server.organizationId,
    accountsUrl: server.accountsUrl,
    tokenCache,
    budget: new RequestBudget({ limit: 2_000, windowMs: 1_000, dailyLimit: 1_000_000 }),
    perPage: 50,
    retry: { maxAttempts: 10, baseMs: 10, capMs: 200 },
    timeoutMs: 2_000,
    ...options,
  });
}

async function pull(options: Partial<ZohoPullOptions> = {}, target: ObjectStore = store) {
  return pullZoho({ store: target, client: client(), pagesPerRun: 2, ...options });
}

function expectComplete(result: Awaited<ReturnType<typeof pull>>): void {
  expect(result.entities.map((e) => [e.entity, e.status, e.error?.code])).toEqual(
    result.entities.map((e) => [e.entity, 'complete', undefined]),
  );
}

/** Merge new committed Bronze runs of the Zoho entities into Silver and publish (what the pipeline does). */
async function mergeZohoSilver(
  engine: DuckDbQueryEngine,
  merged: Set<string>,
  options: { allowQuarantine?: boolean } = {},
): Promise<void> {
  for (const contract of ENTITIES.filter((c) => c.source === 'zoho_books')) {
    const pending = (await listCommittedBronzeRuns(store, contract.source, contract.entity)).filter(
      (run) => !merged.has(run.key),
    );
    if (pending.length === 0) continue;
    const dataset = silverDataset(contract.source, contract.entity);
    const runId = newRunId();
    const result = await mergeSilver({
      store,
      engine,
      contract,
      bronzeKeys: pending.flatMap((run) => run.parts),
      quarantineKeys: [],
      previous: await readPublishedSilver(store, contract),
      runId,
      ingestDate: utcDate(new Date()),
    });
    if (!options.allowQuarantine) expect(result.quarantined, `${contract.entity} rows quarantined`).toBe(0);
    await publishRun(store, dataset, { runId, rowCount: result.liveRows, checks: result.checks });
    for (const run of pending) merged.add(run.key);
  }
}

// ---------------------------------------------------------------------------

describe('Zoho puller against the local Zoho Books server', () => {
  it('lands a full pull: every record once, ids as strings, blanks verbatim', async () => {
    const result = await pull();
    expectComplete(result);
    const bronze = await readBronze(store);
    const verdict = verify(bronze, [T0]);
    expect(verdict.duplicates).toBe(0);
    expect(bronze.events).toHaveLength(visibleAt(T0).size);
    const invoice = bronze.events.find((e) => e.entity === 'invoices');
    expect(invoice?.key).toMatch(/^98200\d{12}$/);
    expect(invoice?.payload.reference_number).toBe(' ');
    // Every call carried organization_id and per_page; the token came from the accounts path.
    expect(server.stats.tokenRequests).toBeGreaterThanOrEqual(1);
    const checkpoint = await readCheckpoint(store, 'zoho_pull.invoices', zohoPullCheckpointSchema);
    expect(checkpoint).toMatchObject({ windows: 1, pending: null });
    // The newest invoice was created at BASE + 4h + 309 * 30 s.
    expect(checkpoint?.watermark).toBe(new Date(BASE + 4 * H + 309 * 30_000).toISOString());
  });

  it('catches edits incrementally: the second pull asks only for recent changes', async () => {
    const fullPages = server.stats.pagesServed;
    expectComplete(await pull());
    const watermarks = new Map<ZohoEntity, number>();
    for (const entity of ENTITY_NAMES) {
      const checkpoint = await readCheckpoint(store, `zoho_pull.${entity}`, zohoPullCheckpointSchema);
      watermarks.set(entity, Date.parse(checkpoint?.watermark ?? ''));
    }
    const pagesOfFullPull = server.stats.pagesServed - fullPages;
    server.setNow(new Date(T1 + H));
    const before = server.stats.pagesServed;
    const second = await pull();
    expectComplete(second);
    expect(second.entities.find((e) => e.entity === 'invoices')?.since).not.toBeNull();
    expect(server.stats.pagesServed - before).toBeLessThan(pagesOfFullPull / 2);
    const bronze = await readBronze(store);
    const verdict = verify(bronze, [T0, T1 + H]);
    // Duplicates come only from the overlap: versions modified in the 10 minutes before each watermark.
    expect(verdict.duplicates).toBeGreaterThan(0);
    expect(verdict.duplicates).toBeLessThanOrEqual(overlapVersions(T0, watermarks, 10 * 60_000));
    const voided = bronze.events.filter((e) => e.entity === 'invoices' && e.key === VOIDED_INVOICE);
    expect(voided.map((e) => [e.op, e.payload.status])).toEqual([
      ['I', 'sent'],
      ['U', 'void'],
    ]);
    // A quiet third pull re-reads only the overlap: duplicates of the same versions, nothing new.
    const third = await pull();
    expectComplete(third);
    const again = verify(await readBronze(store), [T1 + H]);
    expect(again.duplicates).toBeGreaterThan(0);
  });

  it('finds deletes by reconciliation, once, and never deletes a voided invoice', async () => {
    const engine = await DuckDbQueryEngine.create({ store });
    try {
      const merged = new Set<string>();
      expectComplete(await pull());
      await mergeZohoSilver(engine, merged);
      server.setNow(new Date(T2 + H));
      expectComplete(await pull());
      await mergeZohoSilver(engine, merged);

      const reconcile = () =>
        reconcileZoho({ store, client: client(), silverKeys: silverKeysFromEngine(store, engine) });
      const first = await reconcile();
      expect(first.entities.map((e) => [e.entity, e.status, e.deleted])).toEqual([
        ['contacts', 'complete', 4],
        ['invoices', 'complete', 12],
        ['customer_payments', 'complete', 0],
        ['credit_notes', 'complete', 1],
        ['recurring_invoices', 'complete', 0],
      ]);
      // Before the pipeline merges them, a second reconciliation lands nothing again.
      const second = await reconcile();
      expect(second.entities.reduce((n, e) => n + e.deleted, 0)).toBe(0);

      const bronze = await readBronze(store);
      const verdict = verify(bronze, [T0, T2 + H]);
      const everSeen = visibleAt(T0);
      const gone = [...everSeen.keys()].filter((key) => !visibleAt(T2 + H).has(key)).sort();
      expect([...verdict.deletes.keys()].sort()).toEqual(gone);
      for (const [key, event] of verdict.deletes) {
        const last = HISTORY.zoho.filter((v) => `${v.entity}/${v.id}` === key && v.record !== null).at(-1);
        expect(event.source_ts > (last?.validFrom ?? '')).toBe(true);
        expect(event.payload).toEqual({ [ZOHO_ENTITIES[event.entity as ZohoEntity].idField]: event.key });
      }
      expect(verdict.deletes.has(`invoices/${VOIDED_INVOICE}`)).toBe(false);

      // Once merged, Silver no longer holds them and the next reconciliation has nothing to do.
      await mergeZohoSilver(engine, merged);
      const live = await silverKeysFromEngine(store, engine)('invoices');
      expect(live?.size).toBe([...visibleAt(T2 + H, ['invoices'])].length);
      const third = await reconcile();
      expect(third.entities.reduce((n, e) => n + e.deleted, 0)).toBe(0);
    } finally {
      await engine.close();
    }
  });

  it('rides out a 429 storm (the server allows far less than the client budget)', async () => {
    server.setRateLimit({ limit: 4, windowMs: 200 });
    const c = client();
    const result = await pullZoho({ store, client: c, pagesPerRun: 2 });
    expectComplete(result);
    expect(server.stats.throttled).toBeGreaterThan(5);
    expect(c.stats.throttled).toBeGreaterThan(5);
    expect(verify(await readBronze(store), [T0]).duplicates).toBe(0);
  });

  it('retries 5xx bursts, slow answers and dropped connections', async () => {
    const faults: FaultPlan[] = [
      { kind: 'error', every: 6, length: 3, status: 503 },
      { kind: 'error', every: 11, offset: 5, status: 500 },
      { kind: 'drop', every: 7, offset: 4 },
      { kind: 'slow', every: 9, offset: 8, delayMs: 4_000 },
    ];
    server.setFaults(faults);
    const before = { ...server.stats };
    // The timeout sits far from both a healthy answer and a slow one, so only the
    // injected slowness times out, however loaded the machine running the suite is.
    const c = client({ timeoutMs: 1_200, retry: { maxAttempts: 12, baseMs: 10, capMs: 200 } });
    const result = await pullZoho({ store, client: c, pagesPerRun: 2 });
    expectComplete(result);
    expect(server.stats.errorsInjected - before.errorsInjected).toBeGreaterThan(5);
    expect(server.stats.dropsInjected - before.dropsInjected).toBeGreaterThan(1);
    expect(server.stats.slowInjected - before.slowInjected).toBeGreaterThan(0);
    expect(c.stats.networkErrors).toBeGreaterThan(1);
    expect(verify(await readBronze(store), [T0]).duplicates).toBe(0);
  });

  it('resumes a run stopped half way: nothing lost, no duplicate objects or events', async () => {
    const stop = new AbortController();
    let pages = 0;
    await expect(
      pull({
        signal: stop.signal,
        onProgress: () => {
          pages += 1;
          if (pages === 9) stop.abort();
        },
      }),
    ).rejects.toMatchObject({ code: 'ZOHO_ABORTED' });
    const halfway = await readBronze(store);
    expect(halfway.events.length).toBeGreaterThan(0);
    expect(halfway.events.length).toBeLessThan(visibleAt(T0).size);

    const rerun = await pull();
    expectComplete(rerun);
    const resumed = rerun.entities.filter((e) => e.resumed).map((e) => e.entity);
    expect(resumed.length).toBeGreaterThan(0);
    const verdict = verify(await readBronze(store), [T0]);
    // Resumed windows add nothing twice; entities that had finished pull a new window with its overlap.
    for (const entity of resumed) expect(verdict.duplicatesBy.get(entity) ?? 0, entity).toBe(0);
  });

  it('survives a crash at every write step of a pull, then changes made before the rerun', async () => {
    const entities: ZohoEntity[] = ['invoices'];
    const recorder = FaultInjector.recorder();
    await pull({ entities }, new FaultyObjectStore(new LocalObjectStore(join(dir, 'probe')), recorder));
    const steps = recorder.performed.length;
    expect(steps).toBeGreaterThan(15);
    const later = () => new Date(Date.now() + 20 * 60_000);
    for (let step = 1; step <= steps; step++) {
      const lake = new LocalObjectStore(join(dir, `crash-${step}`));
      server.setNow(new Date(T0));
      const faults = FaultInjector.crashingAt(step);
      await pull({ entities }, new FaultyObjectStore(lake, faults));
      expect(faults.crashed, `step ${step}`).toBeDefined();
      const before = await readCheckpoint(lake, 'zoho_pull.invoices', zohoPullCheckpointSchema);
      // The lock of the dead run expires; the rerun finishes the window at the same time...
      const rerun = await pullZoho({ store: lake, client: client(), pagesPerRun: 2, entities, now: later });
      expectComplete(rerun);
      const verdict = verify(await readBronze(lake), [T0], entities);
      const what = `step ${step}: ${recorder.performed[step - 1]}`;
      if (before?.windows === 1) {
        // The crash came after the window was checkpointed: the rerun is a new window, re-reading its overlap.
        const watermark = new Map([['invoices' as ZohoEntity, Date.parse(before.watermark ?? '')]]);
        expect(verdict.duplicates, what).toBeLessThanOrEqual(overlapVersions(T0, watermark, 10 * 60_000));
      } else {
        expect(verdict.duplicates, what).toBe(0);
      }
    }
    // ...or after edits and deletes shifted the pages: the resumed window plus the next one miss nothing.
    for (let step = 1; step <= steps; step++) {
      const lake = new LocalObjectStore(join(dir, `crash-edits-${step}`));
      server.setNow(new Date(T0));
      await pull({ entities }, new FaultyObjectStore(lake, FaultInjector.crashingAt(step)));
      server.setNow(new Date(T2 + H));
      expectComplete(await pullZoho({ store: lake, client: client(), pagesPerRun: 2, entities, now: later }));
      expectComplete(await pullZoho({ store: lake, client: client(), pagesPerRun: 2, entities, now: later }));
      verify(await readBronze(lake), [T2 + H], entities);
    }
  });

  it('gets a fresh token when the server has expired the cached one', async () => {
    const c = client();
    expectComplete(await pullZoho({ store, client: c, entities: ['contacts'], pagesPerRun: 2 }));
    server.setNow(new Date(T0 + 2 * H)); // the data clock moved past the token's hour
    const before = server.stats.unauthorized;
    expectComplete(await pullZoho({ store, client: c, entities: ['contacts'], pagesPerRun: 2 }));
    expect(server.stats.unauthorized - before).toBe(1);
  });
});

describe('Zoho puller on a generated company', () => {
  it('lands what the ground truth says, dirty rows included, and reconciles its deletes', async () => {
    const history = generateCompanyHistory({
      seed: 11,
      customers: 300,
      start: new Date('2025-01-01T00:00:00Z'),
      end: new Date('2026-01-01T00:00:00Z'),
      dirtyRate: 0.02,
      only: ['zoho'],
    });
    // The first pull happens just before the history's first deletion, so reconciliation has one to find.
    const deletion = history.zoho.find((v) => v.record === null);
    expect(deletion).toBeDefined();
    const mid = new Date(Date.parse(deletion?.validFrom ?? history.end) - 1_000);
    const end = new Date(history.end);
    const generated = await LocalZohoServer.start({ history, now: mid, rateLimit: null });
    const engine = await DuckDbQueryEngine.create({ store });
    try {
      const generatedClient = (): ZohoBooksClient =>
        new ZohoBooksClient({
          credentials: generated.credentials,
          organizationId: generated.organizationId,
          accountsUrl: generated.accountsUrl,
          tokenCache,
          budget: new RequestBudget({ limit: 2_000, windowMs: 1_000, dailyLimit: 1_000_000 }),
          retry: { maxAttempts: 5, baseMs: 10, capMs: 100 },
        });
      const merged = new Set<string>();
      expectComplete(await pullZoho({ store, client: generatedClient() }));
      await mergeZohoSilver(engine, merged, { allowQuarantine: true });
      generated.setNow(end);
      expectComplete(await pullZoho({ store, client: generatedClient() }));
      await mergeZohoSilver(engine, merged, { allowQuarantine: true });
      const reconciled = await reconcileZoho({
        store,
        client: generatedClient(),
        silverKeys: silverKeysFromEngine(store, engine),
      });
      expect(reconciled.entities.every((e) => e.status === 'complete')).toBe(true);

      const bronze = await readBronze(store);
      expect(bronze.orphans).toEqual([]);
      const versions = new Map(history.zoho.map((v) => [`${v.entity}/${v.id}@${v.validFrom}`, v]));
      const landed = new Map<string, BronzeEvent[]>();
      const deleted = new Set<string>();
      for (const event of bronze.events) {
        const id = `${event.entity}/${event.key}`;
        if (event.op === 'D') {
          deleted.add(id);
          continue;
        }
        expect(event.payload, `${id}@${event.source_ts}`).toEqual(
          versions.get(`${id}@${event.source_ts}`)?.record,
        );
        landed.set(id, [...(landed.get(id) ?? []), event]);
      }
      const truth = groundTruth(history, end, { observedAt: [mid, end] });
      for (const entity of ENTITY_NAMES) {
        for (const [key, record] of Object.entries(truth.entities[entity].records)) {
          const events = landed.get(`${entity}/${key}`) ?? [];
          expect(
            events.some((e) => JSON.stringify(e.payload) === JSON.stringify(record)),
            `${entity}/${key}`,
          ).toBe(true);
          expect(deleted.has(`${entity}/${key}`), `${entity}/${key} is live`).toBe(false);
        }
        for (const key of truth.entities[entity].deleted) {
          if (landed.has(`${entity}/${key}`))
            expect(deleted.has(`${entity}/${key}`), `${entity}/${key}`).toBe(true);
        }
      }
      expect(deleted.has(`${deletion?.entity}/${deletion?.id}`)).toBe(true);
    } finally {
      await engine.close();
      await generated.close();
    }
  });
});
