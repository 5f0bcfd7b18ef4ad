import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { LocalObjectStore } from '../../../src/adapters/object-store/local.js';
import type { ObjectStore } from '../../../src/adapters/object-store/port.js';
import { DuckDbQueryEngine } from '../../../src/adapters/query-engine/duckdb.js';
import type { QueryEngine } from '../../../src/adapters/query-engine/port.js';
import { goldDataset, runPrefix, silverDataset } from '../../../src/lake/layout.js';
import { readRunManifest, resolveLatest } from '../../../src/lake/publish.js';
import { utcDate } from '../../../src/lake/run-id.js';
import { logger } from '../../../src/runtime/logger.js';
import { duckdbDialect } from '../../../src/sql/dialect.js';
import { type SqlFragment, sql } from '../../../src/sql/fragment.js';
import { GOLD_MODELS, type GoldModel } from '../../../src/transform/gold/index.js';
import { inputEntity } from '../../../src/transform/gold/rollups.js';
import { goldStepName } from '../../../src/transform/gold/versions.js';
import { MAX_AFFECTED_SHARE, MAX_FILES_PER_PARTITION } from '../../../src/transform/gold-incremental.js';
import {
  embeddedHome,
  type PipelineReport,
  type ProgressEvent,
  runPipeline,
} from '../../../src/transform/pipeline.js';
import { emptySilverRelation, readSilverVersion, silverRelation } from '../../../src/transform/silver.js';
import { contact, type Draft, invoice, landEvents, removed } from '../../support/builders/bronze.js';
import { payment } from '../../support/builders/finance.js';
import { productAccount } from '../../support/builders/usage.js';
import { FaultInjector, isSimulatedCrash, withFaults } from '../../support/faults.js';

/**
 * Incremental Gold (`gold-incremental.ts`): a partitioned mart with an
 * `IncrementalSpec` is written from the served run (files holding no affected
 * key reused, the others rewritten with the new rows) whenever the served run
 * was built by the same definition and every input's Silver changes are known.
 * Whatever the path, the served mart is the full build of the served Silver.
 */

/** The two marts with an incremental spec; checks naming customer_360 skip, it is never built here. */
const MODELS: readonly GoldModel[] = GOLD_MODELS.filter((m) =>
  ['invoices', 'payments'].includes(m.mart.name),
);
const model = (name: string): GoldModel => {
  const found = MODELS.find((m) => m.mart.name === name);
  if (!found) throw new Error(`no model ${name}`);
  return found;
};
const INVOICES = model('invoices');
const PAYMENTS = model('payments');
const datasetOf = (m: GoldModel) => goldDataset(m.mart.name, m.mart.schemaVersion);

/** Every run is on 2026-11-21 (one as_of) unless a test says otherwise. */
const runAt = (minute: number, day = 21): Date => new Date(Date.UTC(2026, 10, day, 6, minute));
const AS_OF = '2026-11-21';
const LOCK_TTL_MS = 60_000;

interface Lake {
  readonly dir: string;
  readonly store: LocalObjectStore;
  readonly engine: DuckDbQueryEngine;
}

async function openLake(dir: string, threads = 1): Promise<Lake> {
  const store = new LocalObjectStore(dir);
  return { dir, store, engine: await DuckDbQueryEngine.create({ store, threads }) };
}

interface Table {
  readonly columns: string[];
  readonly rows: string[];
}

/** A relation's column names and types, and its rows as sorted JSON (numbers as text). */
async function table(engine: QueryEngine, relation: SqlFragment): Promise<Table> {
  const result = await engine.query({ sql: sql`SELECT * FROM ${relation} AS r`, label: 'test.rows' });
  const text = (row: Record<string, unknown>): string =>
    JSON.stringify(Object.entries(row).map(([k, v]) => [k, typeof v === 'number' ? String(v) : v]));
  return {
    columns: result.columns.map((c) => `${c.name} ${c.sqlType}`),
    rows: result.rows.map(text).sort(),
  };
}

/** The served run of a mart: its id, prefix, and every row under that prefix. */
async function served(lake: Pick<Lake, 'store' | 'engine'>, m: GoldModel) {
  const pointer = await resolveLatest(lake.store, datasetOf(m));
  if (!pointer) throw new Error(`${m.mart.name} not published`);
  const relation = lake.engine.martRelation({
    mart: m.mart.name,
    schemaVersion: m.mart.schemaVersion,
    runId: pointer.run_id,
    prefix: pointer.path,
  });
  return { runId: pointer.run_id, prefix: pointer.path, table: await table(lake.engine, relation) };
}

/**
 * The full build of a mart over the served Silver versions, computed here
 * from the model's query (not through any Gold writer); also checks that the
 * served Gold run says it was built from those versions on `asOf`.
 */
async function reference(lake: Lake, m: GoldModel, asOf = AS_OF): Promise<Table> {
  const inputs: Record<string, SqlFragment> = {};
  const silverRuns: Record<string, string> = {};
  for (const [name, declared] of Object.entries(m.inputs)) {
    const contract = inputEntity(declared);
    const pointer = await resolveLatest(lake.store, silverDataset(contract.source, contract.entity));
    silverRuns[`${contract.source}/${contract.entity}`] = pointer?.run_id ?? 'none';
    inputs[name] = pointer
      ? silverRelation(await readSilverVersion(lake.store, contract, pointer.run_id))
      : emptySilverRelation(contract);
  }
  const gold = await resolveLatest(lake.store, datasetOf(m));
  if (!gold) throw new Error(`${m.mart.name} not published`);
  const manifest = await readRunManifest(lake.store, datasetOf(m), gold.run_id);
  expect(manifest?.details.silver_runs, m.mart.name).toEqual(silverRuns);
  expect(manifest?.details.as_of, m.mart.name).toBe(asOf);
  const query = m.query({ inputs, asOf, dialect: duckdbDialect });
  return table(lake.engine, sql`(${query})`);
}

/** The served marts equal their full builds over the served Silver (types and rows, duplicates counted). */
async function expectFullBuild(lake: Lake, asOf = AS_OF): Promise<void> {
  for (const m of MODELS) {
    const { table: got } = await served(lake, m);
    const want = await reference(lake, m, asOf);
    expect(got.columns, m.mart.name).toEqual(want.columns);
    expect(got.rows, m.mart.name).toEqual(want.rows);
  }
}

const buildSchema = z.discriminatedUnion('mode', [
  z.object({ mode: z.literal('full') }),
  z.object({
    mode: z.literal('incremental'),
    from_run: z.string(),
    affected_keys: z.number().int().nonnegative(),
    files_reused: z.number().int().nonnegative(),
    files_rewritten: z.number().int().nonnegative(),
  }),
]);
type Build = z.infer<typeof buildSchema> | { readonly mode: 'reused' };

/** How a run wrote a mart: its step's `inputs.build`, or `reused` when the served run was kept. */
function buildOf(report: PipelineReport, m: GoldModel): Build {
  const step = report.steps.find((s) => s.step === goldStepName(m.mart));
  if (!step) throw new Error(`no step for ${m.mart.name}`);
  expect(step.status, m.mart.name).toBe('published');
  if (step.reused) return { mode: 'reused' };
  return buildSchema.parse(step.inputs?.build);
}

/** Like `buildOf`, for a step that must have been incremental. */
function incrementalOf(report: PipelineReport, m: GoldModel) {
  const build = buildOf(report, m);
  if (build.mode !== 'incremental') throw new Error(`${m.mart.name}: built ${build.mode}, not incremental`);
  return build;
}

/** Parquet keys under a prefix, sorted. */
async function parquetFiles(store: ObjectStore, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of store.list(prefix)) if (info.key.endsWith('.parquet')) keys.push(info.key);
  return keys.sort();
}

interface RunOptions {
  readonly compactAt?: number;
  readonly rebuildGold?: boolean;
  readonly target?: { readonly store: ObjectStore; readonly engine: QueryEngine };
  readonly onProgress?: (event: ProgressEvent) => void;
}

/** One pipeline run of the two finance marts at `at`. */
function pipeline(lake: Lake, at: Date, options: RunOptions = {}): Promise<PipelineReport> {
  const target = options.target ?? lake;
  return runPipeline({
    store: target.store,
    engine: target.engine,
    now: () => at,
    lockTtlMs: LOCK_TTL_MS,
    models: MODELS,
    ...(options.rebuildGold ? { rebuildGold: true } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    home: embeddedHome({
      store: target.store,
      engine: target.engine,
      compactAt: options.compactAt ?? Number.POSITIVE_INFINITY,
    }),
  });
}

/**
 * The pipeline builds whole when an incremental build throws: the step then
 * says `full`, so a broken incremental path would pass for a fallback. Its
 * warning is how such a run is told apart.
 */
const FAILED_INCREMENTAL = 'incremental gold build failed: building whole';
const warnings = vi.spyOn(logger, 'warn');

/** A pipeline run whose incremental builds, if any, must not have thrown. */
async function pipelineNoFailure(lake: Lake, at: Date, options: RunOptions = {}): Promise<PipelineReport> {
  const before = warnings.mock.calls.length;
  const report = await pipeline(lake, at, options);
  const failed = warnings.mock.calls.slice(before).filter(([message]) => message === FAILED_INCREMENTAL);
  expect(failed, JSON.stringify(failed)).toEqual([]);
  return report;
}

/** A pipeline run that must succeed, after which the served marts must equal their full builds. */
async function runChecked(lake: Lake, at: Date, options: RunOptions = {}): Promise<PipelineReport> {
  const report = await pipelineNoFailure(lake, at, options);
  expect(report.status, JSON.stringify(report.error)).toBe('succeeded');
  await expectFullBuild(lake, utcDate(at));
  return report;
}

// ---------------------------------------------------------------------------
// A small finance company, its state kept here so that every change is a whole
// record (Zoho sends whole records) with a newer source_ts than the last.

const MONTHS = ['2026-07', '2026-08', '2026-09', '2026-10', '2026-11'] as const;
/** Billing countries: three map to a region, ' ' to none. */
const COUNTRIES = ['Germany', 'India', ' ', 'United States', 'Brazil', ' '] as const;
const REGIONS = ['NA', 'EU', 'APAC', 'LATAM', 'MEA'] as const;
const STATUSES = ['draft', 'sent', 'viewed', 'overdue', 'partially_paid', 'paid', 'void'] as const;
/** C7 has invoices and payments but never a contact: its rows are UNKNOWN. */
const CUSTOMERS = ['C1', 'C2', 'C3', 'C4', 'C5', 'C6', 'C7'] as const;
const pick = <T>(list: readonly T[], n: number): T => list[Math.abs(n) % list.length] as T;

interface InvoiceState {
  customer: string;
  status: string;
  month: string;
  day: number;
  total: number;
  /** Share of the total still owed, in percent. */
  owed: number;
}
interface PaymentState {
  customer: string;
  month: string;
  amount: number;
  applied: Array<{ invoice: string; amount: number }>;
}
interface ContactState {
  country: string;
  vendor: boolean;
}
interface AccountState {
  contact: string | undefined;
  region: string | undefined;
  signupDay: number;
}

/** The source systems: current records, and the drafts of each change since the last landing. */
class Company {
  readonly invoices = new Map<string, InvoiceState>();
  readonly payments = new Map<string, PaymentState>();
  readonly contacts = new Map<string, ContactState>();
  readonly accounts = new Map<string, AccountState>();
  private clock = Date.parse('2026-11-01T00:00:00.000Z');
  private pending: Record<'contacts' | 'invoices' | 'customer_payments' | 'accounts', Draft[]> = {
    contacts: [],
    invoices: [],
    customer_payments: [],
    accounts: [],
  };

  private tick(): string {
    this.clock += 1000;
    return new Date(this.clock).toISOString();
  }

  putInvoice(id: string, s: InvoiceState): void {
    this.invoices.set(id, s);
    const date = `${s.month}-${String(s.day).padStart(2, '0')}`;
    const due = new Date(Date.parse(`${date}T00:00:00Z`) + 30 * 86_400_000).toISOString().slice(0, 10);
    const balance = s.status === 'paid' ? 0 : Math.round((s.total * s.owed) / 100);
    this.pending.invoices.push(
      invoice(id, this.tick(), {
        customer: s.customer,
        status: s.status,
        date,
        due,
        total: s.total,
        balance,
      }),
    );
  }

  deleteInvoice(id: string): void {
    this.invoices.delete(id);
    this.pending.invoices.push(removed('invoices', id, this.tick(), 'invoice_id'));
  }

  putPayment(id: string, s: PaymentState): void {
    this.payments.set(id, s);
    this.pending.customer_payments.push(
      payment(id, this.tick(), {
        customer: s.customer,
        date: `${s.month}-15`,
        amount: s.amount,
        applied: s.applied,
      }),
    );
  }

  deletePayment(id: string): void {
    this.payments.delete(id);
    this.pending.customer_payments.push(removed('customer_payments', id, this.tick(), 'payment_id'));
  }

  putContact(id: string, s: ContactState): void {
    this.contacts.set(id, s);
    this.pending.contacts.push(
      contact(id, this.tick(), {
        name: `Customer ${id}`,
        country: s.country,
        ...(s.vendor ? { type: 'vendor' } : {}),
      }),
    );
  }

  deleteContact(id: string): void {
    this.contacts.delete(id);
    this.pending.contacts.push(removed('contacts', id, this.tick(), 'contact_id'));
  }

  putAccount(id: string, s: AccountState): void {
    this.accounts.set(id, s);
    const signupAt = new Date(Date.UTC(2026, 0, 1 + s.signupDay, 9)).toISOString();
    const draft = productAccount(id, {
      signupAt,
      ...(s.region === undefined ? {} : { region: s.region }),
      ...(s.contact === undefined ? {} : { contact: s.contact }),
    });
    // productAccount stamps the signup as source_ts: a change must be newer than the last.
    this.pending.accounts.push({ ...draft, op: 'U', source_ts: this.tick() });
  }

  deleteAccount(id: string): void {
    this.accounts.delete(id);
    this.pending.accounts.push(removed('accounts', id, this.tick(), 'account_id'));
  }

  /** Land every pending change as Bronze runs at `at`. */
  async land(store: ObjectStore, at: Date): Promise<void> {
    const { contacts, invoices, customer_payments, accounts } = this.pending;
    if (contacts.length > 0) await landEvents(store, 'zoho_books', 'contacts', contacts, at);
    if (invoices.length > 0) await landEvents(store, 'zoho_books', 'invoices', invoices, at);
    if (customer_payments.length > 0)
      await landEvents(store, 'zoho_books', 'customer_payments', customer_payments, at);
    if (accounts.length > 0) await landEvents(store, 'dynamodb', 'accounts', accounts, at);
    this.pending = { contacts: [], invoices: [], customer_payments: [], accounts: [] };
  }

  /** 30 invoices over 5 months and 7 customers, 12 payments, 6 contacts, 4 accounts. */
  static seeded(): Company {
    const c = new Company();
    for (const [i, id] of CUSTOMERS.slice(0, 6).entries())
      c.putContact(id, { country: pick(COUNTRIES, i), vendor: false });
    c.putAccount('A1', { contact: 'C1', region: 'NA', signupDay: 10 });
    c.putAccount('A3', { contact: 'C3', region: 'LATAM', signupDay: 20 });
    c.putAccount('A5', { contact: 'C5', region: 'APAC', signupDay: 30 });
    c.putAccount('A6', { contact: 'C5', region: 'MEA', signupDay: 40 });
    for (let i = 0; i < 30; i++) c.putInvoice(invoiceId(i), seededInvoice(i));
    for (let i = 0; i < 12; i++) {
      const total = 100 + i * 25;
      c.putPayment(paymentId(i), {
        customer: pick(CUSTOMERS, i),
        month: pick(MONTHS, i + 1),
        amount: total,
        // Some fully applied, some with an unapplied remainder, some to two invoices.
        applied:
          i % 3 === 0
            ? []
            : [
                { invoice: invoiceId(i), amount: Math.round(total / 2) },
                ...(i % 3 === 2 ? [{ invoice: invoiceId(i + 7), amount: Math.round(total / 2) }] : []),
              ],
      });
    }
    return c;
  }
}

const invoiceId = (i: number): string => `I${String(i).padStart(3, '0')}`;
const paymentId = (i: number): string => `P${String(i).padStart(3, '0')}`;
const seededInvoice = (i: number): InvoiceState => ({
  customer: pick(CUSTOMERS, i),
  status: pick(STATUSES, i),
  month: pick(MONTHS, i),
  day: 1 + ((i * 3) % 27),
  total: 100 + i * 10,
  owed: pick([0, 50, 100], i),
});

/** A lake whose first run (full) served the seeded company. */
async function seededLake(
  dir: string,
  threads = 1,
): Promise<{ lake: Lake; company: Company; first: PipelineReport }> {
  const lake = await openLake(dir, threads);
  const company = Company.seeded();
  await company.land(lake.store, runAt(0));
  const first = await runChecked(lake, runAt(1));
  for (const m of MODELS) expect(buildOf(first, m).mode).toBe('full');
  return { lake, company, first };
}

describe('incremental Gold builds of invoices and payments', () => {
  let root: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'goldgate-gold-incremental-'));
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('builds only the two finance marts, whose reference checks skip without customer_360', async () => {
    expect(MODELS.map((m) => m.mart.name)).toEqual(['invoices', 'payments']);
    for (const m of MODELS) expect(m.incremental, m.mart.name).toBeDefined();
    const { lake, first } = await seededLake(join(root, 'checks'));
    try {
      for (const m of MODELS) {
        const step = first.steps.find((s) => s.step === goldStepName(m.mart));
        // The catalog declares a customer_360 reference; with no such mart served, the check is left out.
        expect(m.mart.checks?.references?.map((r) => r.mart)).toContain('customer_360');
        expect(step?.checks.filter((c) => c.name.startsWith('references_')) ?? ['no step']).toEqual([]);
      }
      expect(await resolveLatest(lake.store, goldDataset('customer_360', 1))).toBeUndefined();
    } finally {
      await lake.engine.close();
    }
  });

  describe('random histories (property)', () => {
    interface Op {
      readonly kind:
        | 'invoice_insert'
        | 'invoice_update'
        | 'invoice_move'
        | 'invoice_delete'
        | 'payment_insert'
        | 'payment_update'
        | 'payment_delete'
        | 'contact_update'
        | 'contact_delete'
        | 'account_update'
        | 'account_move'
        | 'account_delete';
      /** Which known record (any ever seen, deleted ones too: an update of one brings it back). */
      readonly ref: number;
      readonly a: number;
      readonly b: number;
    }

    const op: fc.Arbitrary<Op> = fc.record({
      kind: fc.constantFrom<Op['kind']>(
        'invoice_insert',
        'invoice_insert',
        'invoice_update',
        'invoice_update',
        'invoice_move',
        'invoice_delete',
        'payment_insert',
        'payment_update',
        'payment_delete',
        'contact_update',
        'contact_delete',
        'account_update',
        'account_move',
        'account_delete',
      ),
      ref: fc.nat({ max: 1000 }),
      a: fc.nat({ max: 1000 }),
      b: fc.nat({ max: 1000 }),
    });

    /** Apply one change to the company (and queue its draft). */
    function apply(company: Company, o: Op, known: { invoices: string[]; payments: string[] }): void {
      const invoiceRef = pick(known.invoices, o.ref);
      const prior = company.invoices.get(invoiceRef) ?? seededInvoice(o.ref);
      switch (o.kind) {
        case 'invoice_insert': {
          const id = `N${known.invoices.length}`;
          known.invoices.push(id);
          company.putInvoice(id, {
            customer: pick(CUSTOMERS, o.a),
            status: pick(STATUSES, o.b),
            month: pick(MONTHS, o.a + o.b),
            day: 1 + (o.b % 28),
            total: 10 + o.a,
            owed: o.b % 101,
          });
          return;
        }
        case 'invoice_update':
          // Status, balance and sometimes the customer: same month.
          company.putInvoice(invoiceRef, {
            ...prior,
            status: pick(STATUSES, o.a),
            owed: o.b % 101,
            customer: o.a % 3 === 0 ? pick(CUSTOMERS, o.b) : prior.customer,
          });
          return;
        case 'invoice_move':
          // Another date, most often in another month: the row moves between partitions.
          company.putInvoice(invoiceRef, { ...prior, month: pick(MONTHS, o.a), day: 1 + (o.b % 28) });
          return;
        case 'invoice_delete':
          company.deleteInvoice(invoiceRef);
          return;
        case 'payment_insert':
        case 'payment_update': {
          const id = o.kind === 'payment_insert' ? `Q${known.payments.length}` : pick(known.payments, o.ref);
          if (o.kind === 'payment_insert') known.payments.push(id);
          const amount = 20 + (o.a % 400);
          const applied = [
            { invoice: pick(known.invoices, o.b), amount: Math.round(amount * ((o.b % 5) / 4)) },
          ].filter((x) => x.amount > 0);
          company.putPayment(id, {
            customer: pick(CUSTOMERS, o.a + o.b),
            month: pick(MONTHS, o.b),
            amount,
            applied,
          });
          return;
        }
        case 'payment_delete':
          company.deletePayment(pick(known.payments, o.ref));
          return;
        case 'contact_update': {
          const id = pick(CUSTOMERS.slice(0, 6), o.ref);
          company.putContact(id, { country: pick(COUNTRIES, o.a), vendor: o.b % 7 === 0 });
          return;
        }
        case 'contact_delete':
          company.deleteContact(pick(CUSTOMERS.slice(0, 6), o.ref));
          return;
        case 'account_update':
        case 'account_move': {
          const id = pick(['A1', 'A3', 'A5', 'A6', 'A8'], o.ref);
          const was = company.accounts.get(id) ?? { contact: undefined, region: undefined, signupDay: 50 };
          company.putAccount(
            id,
            o.kind === 'account_update'
              ? { ...was, region: o.a % 6 === 5 ? undefined : pick(REGIONS, o.a), signupDay: o.b % 60 }
              : { ...was, contact: o.a % 8 === 7 ? undefined : pick(CUSTOMERS, o.a) },
          );
          return;
        }
        case 'account_delete':
          company.deleteAccount(pick(['A1', 'A3', 'A5', 'A6', 'A8'], o.ref));
          return;
      }
    }

    const history = fc.array(
      fc.record({
        ops: fc.array(op, { minLength: 1, maxLength: 5 }),
        // Mostly deltas (incremental Gold); sometimes a compaction (Silver bases differ: full Gold).
        compactAt: fc.constantFrom(Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY, 0.5, 0),
      }),
      { minLength: 2, maxLength: 4 },
    );

    it('serves, after every run, the full build of the served Silver, through both build modes', async () => {
      let scenario = 0;
      const tally = { incremental: 0, fullAfterFirst: 0, reused: 0, withRewrites: 0, withReuses: 0 };
      await fc.assert(
        fc.asyncProperty(history, async (runs) => {
          scenario += 1;
          const dir = join(root, `history-${scenario}`);
          const { lake, company } = await seededLake(dir);
          const known = {
            invoices: Array.from({ length: 30 }, (_, i) => invoiceId(i)),
            payments: Array.from({ length: 12 }, (_, i) => paymentId(i)),
          };
          try {
            let minute = 1;
            for (const { ops, compactAt } of runs) {
              for (const o of ops) apply(company, o, known);
              minute += 1;
              await company.land(lake.store, runAt(minute));
              const report = await runChecked(lake, runAt(minute), { compactAt });
              for (const m of MODELS) {
                const build = buildOf(report, m);
                if (build.mode === 'reused') tally.reused += 1;
                else if (build.mode === 'full') tally.fullAfterFirst += 1;
                else {
                  tally.incremental += 1;
                  if (build.files_rewritten > 0) tally.withRewrites += 1;
                  if (build.files_reused > 0) tally.withReuses += 1;
                }
              }
            }
          } finally {
            await lake.engine.close();
            await rm(dir, { recursive: true, force: true });
          }
        }),
        { numRuns: 20 },
      );
      // The histories went through both paths, and the incremental one both reused and rewrote files.
      expect(tally.incremental, JSON.stringify(tally)).toBeGreaterThan(0);
      expect(tally.fullAfterFirst, JSON.stringify(tally)).toBeGreaterThan(0);
      expect(tally.withRewrites, JSON.stringify(tally)).toBeGreaterThan(0);
      expect(tally.withReuses, JSON.stringify(tally)).toBeGreaterThan(0);
    }, 180_000);
  });

  describe('an insert-only run, then retention of the run it started from', () => {
    let lake: Lake;
    let company: Company;
    let report: PipelineReport;
    let servedBefore: Record<string, { runId: string; files: string[] }>;
    const progress: ProgressEvent[] = [];

    beforeAll(async () => {
      ({ lake, company } = await seededLake(join(root, 'insert-only')));
      servedBefore = {};
      for (const m of MODELS) {
        const s = await served(lake, m);
        servedBefore[m.mart.name] = { runId: s.runId, files: await parquetFiles(lake.store, s.prefix) };
      }
      // New documents of existing customers in months that already have rows.
      company.putInvoice('X1', { ...seededInvoice(3), total: 777 });
      company.putInvoice('X2', { ...seededInvoice(4), month: MONTHS[3], customer: 'C2', total: 888 });
      company.putPayment('Y1', {
        customer: 'C1',
        month: MONTHS[2],
        amount: 300,
        applied: [{ invoice: 'X1', amount: 100 }],
      });
      await company.land(lake.store, runAt(2));
      report = await runChecked(lake, runAt(3), { onProgress: (event) => progress.push(event) });
    });

    afterAll(async () => {
      await lake.engine.close();
    });

    it('rewrites no file, reuses every served file, and records the build in the step and the manifest', async () => {
      for (const m of MODELS) {
        const before = servedBefore[m.mart.name];
        if (!before) throw new Error('nothing served before');
        expect(before.files.length, m.mart.name).toBeGreaterThan(1);
        const build = incrementalOf(report, m);
        expect(build.from_run).toBe(before.runId);
        expect(build.files_rewritten, m.mart.name).toBe(0);
        expect(build.files_reused, m.mart.name).toBe(before.files.length);
        expect(build.affected_keys, m.mart.name).toBe(m === INVOICES ? 2 : 1);
        const now = await served(lake, m);
        expect(now.runId).toBe(report.runId);
        // Every served file is there, plus one file of the new rows (all in one month).
        const files = await parquetFiles(lake.store, now.prefix);
        expect(files.length, m.mart.name).toBe(before.files.length + 1);
        const manifest = await readRunManifest(lake.store, datasetOf(m), report.runId);
        expect(manifest?.details.build, m.mart.name).toEqual(build);
        // The CLI's progress line says so too.
        const last = progress.filter((e) => e.step === `gold.${m.mart.name}`).at(-1);
        expect(last?.detail, m.mart.name).toBe(
          `published: ${manifest?.row_count} rows (incremental: ${build.affected_keys} keys recomputed, ${build.files_reused} files reused, 0 rewritten)`,
        );
      }
    });

    it('serves the same rows once the run it started from is deleted (the reused files are copies)', async () => {
      const before = await Promise.all(MODELS.map((m) => served(lake, m)));
      for (const m of MODELS) {
        const from = incrementalOf(report, m).from_run;
        expect(from).not.toBe(report.runId);
        await rm(lake.store.locationOf(runPrefix(datasetOf(m), from)), { recursive: true, force: true });
        expect(await parquetFiles(lake.store, runPrefix(datasetOf(m), from))).toEqual([]);
      }
      const after = await Promise.all(MODELS.map((m) => served(lake, m)));
      expect(after).toEqual(before);
      await expectFullBuild(lake);
      // The lake goes on from the served run: an update builds incrementally again.
      company.putInvoice('X1', { ...seededInvoice(3), total: 777, status: 'paid' });
      await company.land(lake.store, runAt(4));
      const next = await runChecked(lake, runAt(5));
      expect(incrementalOf(next, INVOICES).files_rewritten).toBe(1);
    });
  });

  it('keeps a crowded partition to a bounded number of files', async () => {
    // More engine threads than cores: a partitioned COPY may then write more than one file per folder.
    const { lake, company } = await seededLake(join(root, 'crowded'), 4);
    try {
      const month = '2026-10';
      const counts: number[] = [];
      const rewritten: number[] = [];
      for (let i = 0; i < 12; i++) {
        company.putInvoice(`K${i}`, {
          customer: pick(CUSTOMERS, i),
          status: 'sent',
          month,
          day: 1 + i,
          total: 50 + i,
          owed: 100,
        });
        await company.land(lake.store, runAt(2 + 2 * i));
        const report = await pipelineNoFailure(lake, runAt(3 + 2 * i));
        expect(report.status).toBe('succeeded');
        rewritten.push(incrementalOf(report, INVOICES).files_rewritten);
        const { prefix } = await served(lake, INVOICES);
        counts.push((await parquetFiles(lake.store, `${prefix}invoice_month=${month}/`)).length);
      }
      expect(Math.max(...counts), JSON.stringify(counts)).toBeLessThanOrEqual(MAX_FILES_PER_PARTITION + 1);
      // The folder did fill up to the limit, and was then rewritten whole (fewer files after).
      expect(Math.max(...counts), JSON.stringify(counts)).toBeGreaterThanOrEqual(MAX_FILES_PER_PARTITION);
      const full = counts.indexOf(Math.max(...counts));
      expect(
        counts.slice(full + 1).some((n) => n < MAX_FILES_PER_PARTITION),
        JSON.stringify(counts),
      ).toBe(true);
      expect(Math.max(...rewritten), JSON.stringify(rewritten)).toBeGreaterThanOrEqual(
        MAX_FILES_PER_PARTITION,
      );
      await expectFullBuild(lake);
    } finally {
      await lake.engine.close();
    }
  });

  it('builds a run whose every row went incrementally, with its typed empty file, and builds on from it', async () => {
    const lake = await openLake(join(root, 'emptied'));
    try {
      const company = new Company();
      company.putContact('C1', { country: 'India', vendor: false });
      const ids = ['I1', 'I2', 'I3', 'I4'];
      for (const [i, id] of ids.entries()) company.putInvoice(id, { ...seededInvoice(i), customer: 'C1' });
      // One payment, four rows (one per invoice, nothing unapplied): deleting it is 1 key of 4 rows.
      company.putPayment('P1', {
        customer: 'C1',
        month: MONTHS[1],
        amount: 40,
        applied: ids.map((invoice) => ({ invoice, amount: 10 })),
      });
      await company.land(lake.store, runAt(0));
      await runChecked(lake, runAt(1));
      expect((await served(lake, PAYMENTS)).table.rows).toHaveLength(4);
      company.deletePayment('P1');
      await company.land(lake.store, runAt(2));
      const emptied = await runChecked(lake, runAt(3));
      expect(incrementalOf(emptied, PAYMENTS)).toMatchObject({
        affected_keys: 1,
        files_reused: 0,
        files_rewritten: 1,
      });
      const now = await served(lake, PAYMENTS);
      expect(now.runId).toBe(emptied.runId);
      expect(now.table.rows).toEqual([]);
      expect(await parquetFiles(lake.store, now.prefix)).toHaveLength(1);
      company.putPayment('P2', {
        customer: 'C1',
        month: MONTHS[3],
        amount: 25,
        applied: [{ invoice: 'I2', amount: 5 }],
      });
      await company.land(lake.store, runAt(4));
      const refilled = await runChecked(lake, runAt(5));
      expect(incrementalOf(refilled, PAYMENTS).from_run).toBe(emptied.runId);
      expect((await served(lake, PAYMENTS)).table.rows).toHaveLength(2);
    } finally {
      await lake.engine.close();
    }
  });

  describe('falls back to a full build', () => {
    let lake: Lake;
    let company: Company;
    let minute = 1;
    /** A small change to both marts' drivers: alone, it builds both incrementally. */
    const smallChange = (n: number): void => {
      const prior = company.invoices.get(invoiceId(n)) ?? seededInvoice(n);
      company.putInvoice(invoiceId(n), { ...prior, status: 'paid' });
      const payment = company.payments.get(paymentId(n % 12));
      if (!payment) throw new Error('no such payment');
      company.putPayment(paymentId(n % 12), { ...payment, amount: payment.amount + 1 });
    };
    const next = async (options: RunOptions = {}, day = 21): Promise<PipelineReport> => {
      minute += 2;
      await company.land(lake.store, runAt(minute - 1, day));
      return runChecked(lake, runAt(minute, day), options);
    };
    const modes = (report: PipelineReport) => MODELS.map((m) => buildOf(report, m).mode);

    beforeAll(async () => {
      ({ lake, company } = await seededLake(join(root, 'fallbacks')));
    });

    afterAll(async () => {
      await lake.engine.close();
    });

    it('but not for a small change on the same day (the control)', async () => {
      smallChange(1);
      expect(modes(await next())).toEqual(['incremental', 'incremental']);
    });

    it('on request (rebuildGold)', async () => {
      smallChange(2);
      expect(modes(await next({ rebuildGold: true }))).toEqual(['full', 'full']);
      smallChange(3);
      expect(modes(await next())).toEqual(['incremental', 'incremental']);
    });

    it('after a Silver compaction (the served run was built over another base)', async () => {
      smallChange(4);
      const report = await next({ compactAt: 0 });
      expect(modes(report)).toEqual(['full', 'full']);
      const pointer = await resolveLatest(lake.store, silverDataset('zoho_books', 'invoices'));
      if (!pointer) throw new Error('invoices not in Silver');
      const version = await readSilverVersion(
        lake.store,
        { source: 'zoho_books', entity: 'invoices' },
        pointer.run_id,
      );
      expect([version.baseRun, version.delta]).toEqual([pointer.run_id, undefined]);
      // Deltas over the new base: incremental again.
      smallChange(5);
      expect(modes(await next())).toEqual(['incremental', 'incremental']);
    });

    it(`when more than ${MAX_AFFECTED_SHARE * 100}% of the served rows are affected`, async () => {
      const { table: before } = await served(lake, INVOICES);
      const many = Math.floor(before.rows.length * MAX_AFFECTED_SHARE) + 1;
      for (let i = 0; i < many; i++) {
        const id = invoiceId(i);
        const prior = company.invoices.get(id) ?? seededInvoice(i);
        company.putInvoice(id, { ...prior, total: prior.total + 1 });
      }
      const report = await next();
      expect(buildOf(report, INVOICES).mode).toBe('full');
      // Payments had no change of their own: nothing to build.
      expect(buildOf(report, PAYMENTS).mode).toBe('reused');
      // The threshold is the cause: one key fewer is built incrementally.
      for (let i = 0; i < many - 1; i++) {
        const id = invoiceId(i);
        const prior = company.invoices.get(id) ?? seededInvoice(i);
        company.putInvoice(id, { ...prior, total: prior.total + 1 });
      }
      expect(buildOf(await next(), INVOICES).mode).toBe('incremental');
    });

    it('on another as_of day', async () => {
      smallChange(6);
      expect(modes(await next({}, 22))).toEqual(['full', 'full']);
      smallChange(7);
      expect(modes(await next({}, 22))).toEqual(['incremental', 'incremental']);
    });

    /** A run on day 22 that must succeed with exactly one failed incremental build, then built whole. */
    const failingOnce = async (target?: RunOptions['target']): Promise<PipelineReport> => {
      minute += 2;
      await company.land(lake.store, runAt(minute - 1, 22));
      const calls = warnings.mock.calls.length;
      const report = await pipeline(lake, runAt(minute, 22), target ? { target } : {});
      expect(report.status, JSON.stringify(report.error)).toBe('succeeded');
      const failed = warnings.mock.calls.slice(calls).filter(([message]) => message === FAILED_INCREMENTAL);
      expect(failed).toHaveLength(1);
      return report;
    };

    it('when a served file cannot be read: the mart is built whole, which heals it', async () => {
      const before = await served(lake, INVOICES);
      const [damaged] = await parquetFiles(lake.store, before.prefix);
      if (!damaged) throw new Error('no served invoices file');
      // A new object at the key (not a write through the hard link: earlier runs keep their bytes).
      await lake.store.put(damaged, 'not parquet');
      smallChange(8);
      const report = await failingOnce();
      expect(modes(report)).toEqual(['full', 'incremental']);
      expect((await served(lake, INVOICES)).runId).toBe(report.runId);
      await expectFullBuild(lake, '2026-11-22');
    });

    it('when the store refuses a copy midway: what the attempt wrote is cleared, no row twice', async () => {
      /** Copies into an invoices run: only the failed attempt makes any (a full build copies nothing). */
      let copied = 0;
      let refused = false;
      // The first copy fails, the others of its batch go through: the attempt leaves new files and copies.
      const store = new Proxy(lake.store, {
        get(target, property) {
          if (property === 'copy')
            return async (from: string, to: string): Promise<void> => {
              if (!refused) {
                refused = true;
                throw new Error('copy refused');
              }
              await target.copy(from, to);
              if (to.startsWith(datasetOf(INVOICES).prefix)) copied += 1;
            };
          const value: unknown = Reflect.get(target, property, target);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
      smallChange(9);
      const report = await failingOnce({ store, engine: lake.engine });
      expect(refused).toBe(true);
      expect(copied).toBeGreaterThan(0);
      expect(modes(report)).toEqual(['full', 'incremental']);
      const now = await served(lake, INVOICES);
      expect(now.runId).toBe(report.runId);
      // Only the full build's files: no copy of a served file is left in the run.
      const files = await parquetFiles(lake.store, now.prefix);
      expect(files.filter((key) => /\/f-[0-9a-f]{16}\.parquet$/.test(key))).toEqual([]);
      expect(new Set(now.table.rows).size).toBe(now.table.rows.length);
      await expectFullBuild(lake, '2026-11-22');
    });

    it('when copies of the failed attempt are still in flight: they settle before it is cleared, no row twice', async () => {
      let refused = false;
      let late = 0;
      // The first copy fails at once; the others of its batch land later, as slow S3 copies would.
      const store = new Proxy(lake.store, {
        get(target, property) {
          if (property === 'copy')
            return async (from: string, to: string): Promise<void> => {
              if (!refused) {
                refused = true;
                throw new Error('copy refused');
              }
              await new Promise((resolve) => setTimeout(resolve, 150));
              await target.copy(from, to);
              late += 1;
            };
          const value: unknown = Reflect.get(target, property, target);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
      smallChange(10);
      const report = await failingOnce({ store, engine: lake.engine });
      const landed = late;
      expect(refused).toBe(true);
      expect(landed).toBeGreaterThan(0);
      // Nothing still running could land after the full build: wait past any straggler, then look.
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(late).toBe(landed);
      expect(modes(report)).toEqual(['full', 'incremental']);
      const now = await served(lake, INVOICES);
      const files = await parquetFiles(lake.store, now.prefix);
      expect(files.filter((key) => /\/f-[0-9a-f]{16}\.parquet$/.test(key))).toEqual([]);
      expect(new Set(now.table.rows).size).toBe(now.table.rows.length);
      await expectFullBuild(lake, '2026-11-22');
    });

    it('when a served file was lost: its rows are not carried on missing, the mart is built whole', async () => {
      const before = await served(lake, INVOICES);
      const [lost] = await parquetFiles(lake.store, before.prefix);
      if (!lost) throw new Error('no served invoices file');
      await lake.store.delete(lost);
      smallChange(11);
      // The served files no longer hold the published row count: no attempt is made, nothing fails.
      const report = await next({}, 22);
      expect(modes(report)).toEqual(['full', 'incremental']);
      expect((await served(lake, INVOICES)).runId).toBe(report.runId);
    });
  });

  describe('a crash during an incremental build', () => {
    const RUN_ID = /\d{8}T\d{6}Z-[a-z0-9]{4,24}/g;
    const normalize = (step: string): string => step.replace(RUN_ID, '<run>');
    const CRASHED = runAt(10);
    const RERUN = new Date(CRASHED.getTime() + 5 * LOCK_TTL_MS);
    let base: string;
    let previous: { runId: string; table: Table };
    /** The steps of an uncrashed run, normalized, and the numbers (1-based) of the invoices Gold step's. */
    let steps: string[];
    let goldSteps: number[];
    /** The marts an uncrashed run serves. */
    let expected: Record<string, Table>;

    beforeAll(async () => {
      base = join(root, 'crash-base');
      const { lake, company } = await seededLake(base);
      try {
        previous = await served(lake, INVOICES);
        company.putInvoice(invoiceId(5), { ...seededInvoice(5), status: 'void' });
        company.putInvoice(invoiceId(6), { ...seededInvoice(6), month: MONTHS[0] });
        company.putInvoice('Z1', { ...seededInvoice(7), total: 999 });
        company.putPayment(paymentId(1), { customer: 'C2', month: MONTHS[4], amount: 55, applied: [] });
        await company.land(lake.store, runAt(5));
      } finally {
        await lake.engine.close();
      }
      const copy = await openLake(join(root, 'crash-recorder'));
      try {
        await cp(base, copy.dir, { recursive: true });
        const faults = FaultInjector.recorder();
        const report = await pipeline(copy, CRASHED, { target: withFaults(copy.store, copy.engine, faults) });
        expect(report.status).toBe('succeeded');
        const build = incrementalOf(report, INVOICES);
        expect(build.files_reused).toBeGreaterThan(0);
        expect(build.files_rewritten).toBeGreaterThan(0);
        steps = faults.performed.map(normalize);
        const run = `${datasetOf(INVOICES).prefix}run_id=<run>/`;
        goldSteps = steps
          .map((s, i) => ({ s, n: i + 1 }))
          .filter(
            ({ s }) =>
              s.includes(run) ||
              s.includes(`${goldStepName(INVOICES.mart)}.`) ||
              s.includes(`${datasetOf(INVOICES).prefix}_LATEST.json`),
          )
          .map(({ n }) => n);
        expected = {};
        for (const m of MODELS) expected[m.mart.name] = (await served(copy, m)).table;
      } finally {
        await copy.engine.close();
      }
    });

    it('the invoices step writes its run, copies the reused files, then publishes', () => {
      const at = (prefix: string) =>
        steps.findIndex((s) => s.startsWith(prefix) && s.includes('gold/invoices/'));
      const run = `${datasetOf(INVOICES).prefix}run_id=<run>/`;
      const order = [
        steps.indexOf(`prepareWrite ${run}`),
        steps.indexOf(`copy ${goldStepName(INVOICES.mart)}.build`),
        at('copy gold/invoices/'),
        steps.indexOf(`put ${run}_SUCCESS`),
        steps.indexOf(`replace ${datasetOf(INVOICES).prefix}_LATEST.json`),
      ];
      expect(
        order.every((i) => i >= 0),
        JSON.stringify(steps),
      ).toBe(true);
      expect([...order].sort((a, b) => a - b)).toEqual(order);
      expect(goldSteps.length).toBeGreaterThanOrEqual(order.length);
      // The run changes the invoices mart: serving the previous run after a crash is a visible difference.
      expect(expected.invoices?.rows).not.toEqual(previous.table.rows);
    });

    it('at every step: the previous run keeps serving, and a rerun serves the full build, no row twice', async () => {
      for (const n of goldSteps) {
        const dir = join(root, `crash-${n}`);
        await cp(base, dir, { recursive: true });
        const lake = await openLake(dir);
        try {
          const faults = FaultInjector.crashingAt(n);
          const error = await pipeline(lake, CRASHED, {
            target: withFaults(lake.store, lake.engine, faults),
          }).then(
            () => undefined,
            (e: unknown) => e,
          );
          expect(isSimulatedCrash(error), `step ${n}`).toBe(true);
          expect(normalize(faults.crashed?.description ?? ''), `step ${n}`).toBe(steps[n - 1]);
          const now = await served(lake, INVOICES);
          expect(now.runId, `step ${n}`).toBe(previous.runId);
          expect(now.table, `step ${n}`).toEqual(previous.table);
        } finally {
          await lake.engine.close();
        }
        // A new process (a fresh engine) after the lock expired.
        const again = await openLake(dir);
        try {
          const rerun = await runChecked(again, RERUN);
          expect(buildOf(rerun, INVOICES).mode, `step ${n}`).toBe('incremental');
          for (const m of MODELS) {
            const { table: got } = await served(again, m);
            expect(new Set(got.rows).size, `step ${n} ${m.mart.name}`).toBe(got.rows.length);
            expect(got, `step ${n} ${m.mart.name}`).toEqual(expected[m.mart.name]);
          }
        } finally {
          await again.engine.close();
          await rm(dir, { recursive: true, force: true });
        }
      }
    });
  });
});
