import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../../src/adapters/object-store/local.js';
import { DuckDbQueryEngine } from '../../../src/adapters/query-engine/duckdb.js';
import type { Row } from '../../../src/adapters/query-engine/port.js';
import { goldDataset, silverDataset } from '../../../src/lake/layout.js';
import { readRunManifest, resolveLatest } from '../../../src/lake/publish.js';
import { type SqlFragment, sql } from '../../../src/sql/fragment.js';
import { GOLD_MODELS } from '../../../src/transform/gold/index.js';
import { runPipeline } from '../../../src/transform/pipeline.js';
import { account, contact, invoice, landEvents, removed } from '../../support/builders/bronze.js';
import { recurringProfile } from '../../support/builders/revenue.js';
import { productUser, usageEvent } from '../../support/builders/usage.js';

/**
 * A small company whose customer_360 can be computed by hand. as_of is
 * 2026-11-21 (the pipeline clock). Arithmetic for Alpha (C1), base currency:
 *   I1 paid            100.00 x 1.1 = 110.00 revenue, 0 open
 *   I2 partially paid  200.00 x 1.1 = 220.00 revenue, 50.00 x 1.1 = 55.00 open, due 2026-10-16 < as_of: overdue
 *   I3 sent             30.00 x 1   =  30.00 revenue, 30.00 open, due 2026-11-30 >= as_of: not overdue
 *   I4 draft, I5 void: not revenue; I6 negative total: quarantined
 *   lifetime 110 + 220 + 30 = 360.00; outstanding 55 + 30 = 85.00; overdue 55.00; first invoice 2026-09-01
 * Alpha's subscription R1: 100 EUR monthly x 1.1 = 110.00 MRR since 2026-09-01; ARR 12 x 110 = 1320.00.
 * Alpha's account acc_1 (5 seats, signed up 2026-01-10): events e1..e3 in the 30 days ending on as_of
 * (2026-10-23..11-21) by u1 and u2, e4..e9 in the 30 days before; u1 last logged in 11-20 07:30.
 * Alpha's health (health.ts): usage_trend min(1, 3/6) = 0.5 -> 30 x 0.5 = 15; adoption 2 users / 5 seats
 * -> 25 x 0.4 = 10; I2 is 36 days past due (10-16 -> 11-21): 15 x (1 - 36/90) = 9; exposure
 * 15 x (1 - 55/110) = 7.5; tenure 315 days: 15 x 315/365 = 12.945 -> 54.445 -> 54 amber. Paying MRR
 * but more than 30 days overdue: at_risk.
 * Beta (C2): I7 paid 10 INR x 0.012 = 0.12; I8 (1000) deleted -> lifetime 0.12. No account: lead;
 * health 15 + 15 (nothing overdue) + tenure from the first invoice 06-01, 173 days: 15 x 173/365 = 7.110
 * -> 37.110 -> 37 red.
 * Gamma (C3) deleted; Vendor (C4) is not a customer.
 */
const C1 = '900000000000000001';
const C2 = '900000000000000002';
const C3 = '900000000000000003';
const C4 = '900000000000000004';
const T = (day: string, time = '10:00:00'): string => `2026-${day}T${time}.000Z`;
const I1_FIELDS = {
  customer: C1,
  status: 'paid',
  date: '2026-09-01',
  due: '2026-09-16',
  currency: 'EUR',
  rate: 1.1,
  total: 100,
  balance: 0,
};

/** The served customer_360 run as a relation. */
async function servedCustomer360(store: LocalObjectStore, engine: DuckDbQueryEngine): Promise<SqlFragment> {
  const pointer = await resolveLatest(store, goldDataset('customer_360', 1));
  if (!pointer) throw new Error('customer_360 not published');
  return engine.martRelation({
    mart: 'customer_360',
    schemaVersion: 1,
    runId: pointer.run_id,
    prefix: pointer.path,
  });
}
describe('pipeline golden dataset', () => {
  let dir: string;
  let store: LocalObjectStore;
  let engine: DuckDbQueryEngine;
  const clock = () => new Date('2026-11-21T06:00:00.000Z');

  async function goldRows(): Promise<Row[]> {
    const relation = await servedCustomer360(store, engine);
    return (await engine.query({ sql: sql`SELECT * FROM ${relation} AS m ORDER BY customer_id` })).rows;
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'goldgate-golden-'));
    // A `key=value` folder above the lake must never turn into a column (DuckDB hive partitioning).
    store = new LocalObjectStore(join(dir, 'region=zz', 'lake'));
    engine = await DuckDbQueryEngine.create({ store });
    const day1 = new Date('2026-11-19T12:00:00Z');
    await landEvents(
      store,
      'zoho_books',
      'contacts',
      [
        contact(C1, T('01-05'), { name: 'Alpha GmbH', country: 'Germany', email: 'ops@alpha.example' }),
        contact(C2, T('02-05'), { name: 'Beta Ltd', country: 'India' }),
        contact(C3, T('03-05'), { name: 'Gamma', country: 'Brazil', subType: 'individual' }),
        contact(C4, T('03-06'), { name: 'Vendor Inc', country: 'Germany', type: 'vendor' }),
      ],
      day1,
    );
    await landEvents(
      store,
      'zoho_books',
      'invoices',
      [
        invoice('1001', T('09-02'), I1_FIELDS),
        invoice('1002', T('10-20'), {
          customer: C1,
          status: 'partially_paid',
          date: '2026-10-01',
          due: '2026-10-16',
          currency: 'EUR',
          rate: 1.1,
          total: 200,
          balance: 50,
        }),
        invoice('1003', T('11-15'), {
          customer: C1,
          status: 'sent',
          date: '2026-11-15',
          due: '2026-11-30',
          total: 30,
          balance: 30,
        }),
        invoice('1004', T('11-16'), {
          customer: C1,
          status: 'draft',
          date: '2026-11-16',
          due: '2026-12-01',
          total: 500,
          balance: 500,
        }),
        invoice('1005', T('11-17'), {
          customer: C1,
          status: 'void',
          date: '2026-11-10',
          due: '2026-11-25',
          total: 70,
          balance: 0,
        }),
        invoice('1006', T('11-18'), {
          customer: C1,
          status: 'sent',
          date: '2026-11-18',
          due: '2026-12-03',
          total: -5,
          balance: 0,
        }),
        invoice('1007', T('06-02'), {
          customer: C2,
          status: 'paid',
          date: '2026-06-01',
          due: '2026-06-16',
          currency: 'INR',
          rate: 0.012,
          total: 10,
          balance: 0,
        }),
        invoice('1008', T('06-03'), {
          customer: C2,
          status: 'paid',
          date: '2026-06-02',
          due: '2026-06-17',
          total: 1000,
          balance: 0,
        }),
      ],
      day1,
    );
    await landEvents(
      store,
      'dynamodb',
      'accounts',
      [
        account('acc_1', T('01-10', '09:00:00'), {
          contact: C1,
          region: 'EU',
          plan: 'growth',
          signupAt: T('01-10', '09:00:00'),
        }),
        account('acc_1b', T('03-01'), { contact: C1, region: 'NA', plan: 'starter', signupAt: T('03-01') }),
        account('acc_3', T('03-07'), { contact: C3, region: 'LATAM', plan: 'starter', signupAt: T('03-07') }),
      ],
      day1,
    );
    await landEvents(
      store,
      'zoho_books',
      'recurring_invoices',
      [
        recurringProfile('R1', T('09-01'), {
          customer: C1,
          status: 'active',
          frequency: 'months',
          every: 1,
          start: '2026-09-01',
          currency: 'EUR',
          rate: 1.1,
          total: 100,
        }),
      ],
      day1,
    );
    await landEvents(
      store,
      'dynamodb',
      'users',
      [
        productUser('u1', {
          account: 'acc_1',
          createdAt: T('01-10'),
          lastLoginAt: T('11-20', '07:30:00'),
        }),
        productUser('u2', { account: 'acc_1', createdAt: T('01-10') }),
      ],
      day1,
    );
    await landEvents(
      store,
      'dynamodb',
      'usage_events',
      [
        usageEvent('e1', { account: 'acc_1', user: 'u1', at: T('11-02'), type: 'report.viewed' }),
        usageEvent('e2', { account: 'acc_1', user: 'u2', at: T('11-10'), type: 'report.viewed' }),
        usageEvent('e3', { account: 'acc_1', user: 'u1', at: T('11-18'), type: 'report.viewed' }),
        ...['10-01', '10-04', '10-08', '10-12', '10-16', '10-20'].map((day, i) =>
          usageEvent(`e${i + 4}`, { account: 'acc_1', user: 'u1', at: T(day), type: 'report.viewed' }),
        ),
      ],
      day1,
    );
    // Day 2: a delete, a late (older) version of I2 that must not win, a TTL expiry that must not delete.
    const day2 = new Date('2026-11-20T12:00:00Z');
    await landEvents(
      store,
      'zoho_books',
      'contacts',
      [removed('contacts', C3, T('11-20'), 'contact_id')],
      day2,
    );
    await landEvents(
      store,
      'zoho_books',
      'invoices',
      [
        invoice('1002', T('10-02'), {
          customer: C1,
          status: 'sent',
          date: '2026-10-01',
          due: '2026-10-16',
          currency: 'EUR',
          rate: 1.1,
          total: 200,
          balance: 200,
        }),
        removed('invoices', '1008', T('11-20'), 'invoice_id'),
      ],
      day2,
    );
    await landEvents(
      store,
      'dynamodb',
      'accounts',
      [removed('accounts', 'acc_1', T('11-20'), 'account_id', true)],
      day2,
    );
    const report = await runPipeline({ store, engine, now: clock });
    expect(report.status).toBe('succeeded');
  });

  afterAll(async () => {
    await engine.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('computes customer_360 exactly as by hand', async () => {
    expect(await goldRows()).toEqual([
      {
        customer_id: C1,
        account_id: 'acc_1',
        name: 'Alpha GmbH',
        company_name: 'Alpha GmbH',
        email: 'ops@alpha.example',
        phone: null,
        country: 'Germany',
        region: 'EU',
        segment: 'business',
        plan: 'growth',
        lifecycle_stage: 'at_risk',
        signup_date: '2026-01-10',
        first_invoice_date: '2026-09-01',
        last_activity_at: '2026-11-20 07:30:00',
        active_users_30d: 2,
        events_30d: 3,
        mrr: '110.00',
        arr: '1320.00',
        lifetime_revenue: '360.00',
        outstanding_balance: '85.00',
        overdue_balance: '55.00',
        health_score: 54,
        health_band: 'amber',
        as_of: '2026-11-21',
      },
      {
        customer_id: C2,
        account_id: null,
        name: 'Beta Ltd',
        company_name: 'Beta Ltd',
        email: null,
        phone: null,
        country: 'India',
        region: 'APAC',
        segment: 'business',
        plan: null,
        lifecycle_stage: 'lead',
        signup_date: null,
        first_invoice_date: '2026-06-01',
        last_activity_at: null,
        active_users_30d: 0,
        events_30d: 0,
        mrr: '0.00',
        arr: '0.00',
        lifetime_revenue: '0.12',
        outstanding_balance: '0.00',
        overdue_balance: '0.00',
        health_score: 37,
        health_band: 'red',
        as_of: '2026-11-21',
      },
    ]);
  });

  it('quarantines the contract breaker with its reason, and keeps it out of Silver', async () => {
    const pointer = await resolveLatest(store, silverDataset('zoho_books', 'invoices'));
    expect(pointer).toBeDefined();
    const manifest = await readRunManifest(
      store,
      silverDataset('zoho_books', 'invoices'),
      pointer?.run_id ?? '',
    );
    const key = String(manifest?.details.quarantine_key);
    const lines = gunzipSync(await store.get(key))
      .toString('utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      reason_code: 'NEGATIVE_AMOUNT',
      reason: 'NEGATIVE_AMOUNT:total',
      attempt_count: 1,
    });
    expect(lines[0].event).toMatchObject({ key: '1006', entity: 'invoices' });
    // 8 + 2 events in; 1006 quarantined; 1008 deleted -> live: 1001,1002,1003,1004,1005,1007 = 6
    expect(pointer?.row_count).toBe(6);
  });

  it('records checks in _LATEST.json and they all passed', async () => {
    const pointer = await resolveLatest(store, goldDataset('customer_360', 1));
    expect(pointer?.row_count).toBe(2);
    const names = pointer?.checks.map((c) => c.name) ?? [];
    expect(names).toContain('unique_key');
    expect(names).toContain('not_null_customer_id');
    expect(names).toContain('allowed_values_region');
    expect(pointer?.checks.every((c) => c.passed)).toBe(true);
  });

  it('is incremental: a rerun with no new Bronze merges nothing but retries quarantine, same Gold', async () => {
    const before = await goldRows();
    const report = await runPipeline({ store, engine, now: clock });
    const silverSteps = report.steps.filter((s) => s.step.startsWith('silver.'));
    expect(silverSteps.length).toBeGreaterThanOrEqual(3);
    // Only invoices has an open quarantine file (1006): it is retried; every other entity is skipped.
    expect(
      silverSteps.filter((s) => s.status !== 'skipped').map((s) => [s.step, s.status, s.rowsIn]),
    ).toEqual([['silver.zoho_books.invoices', 'published', 1]]);
    const pointer = await resolveLatest(store, silverDataset('zoho_books', 'invoices'));
    const manifest = await readRunManifest(
      store,
      silverDataset('zoho_books', 'invoices'),
      pointer?.run_id ?? '',
    );
    const lines = gunzipSync(await store.get(String(manifest?.details.quarantine_key)))
      .toString('utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.event.key, l.reason_code, l.attempt_count])).toEqual([
      ['1006', 'NEGATIVE_AMOUNT', 2],
    ]);
    expect(await goldRows()).toEqual(before);
  });

  it('is idempotent under replay: the same events landed again change nothing', async () => {
    const before = await goldRows();
    const day3 = new Date('2026-11-21T01:00:00Z');
    // Redelivered copies (same keys, timestamps and seqs) of day-1 events.
    await landEvents(
      store,
      'zoho_books',
      'invoices',
      [
        {
          ...invoice('1001', T('09-02'), I1_FIELDS),
          seq: '000000000005',
        },
      ],
      day3,
    );
    await landEvents(
      store,
      'zoho_books',
      'contacts',
      [contact(C3, T('03-05'), { name: 'Gamma', country: 'Brazil', subType: 'individual' })],
      day3,
    );
    const report = await runPipeline({ store, engine, now: clock });
    expect(report.steps.find((s) => s.step === 'silver.zoho_books.contacts')?.status).toBe('published');
    // The replayed Gamma is older than its delete: it must stay deleted.
    expect(await goldRows()).toEqual(before);
  });
});

/**
 * customer_360's usage columns for one account, by hand. as_of 2026-11-21: the 30 days are
 * 10-23..11-21, the 30 before them 09-23..10-22; activity dated after as_of counts nowhere.
 *   w1 events 11-01, 11-21 05:00 (30 d) and 10-22 (previous 30 d); last login 09-01 -> active
 *   w2 events 10-01, 10-05 (previous 30 d); last login 11-05                        -> active by its login alone
 *   w3 event 09-22 (in neither window); last login 11-22, after as_of                -> not active
 *   w4 event 11-22, after as_of; no login                                           -> not active
 *   events with no user on 11-10 (30 d) and 09-23 (previous 30 d): events, but nobody's activity
 * events_30d 3, events_prev_30d 4, active_users_30d 2; last_activity_at 11-21 05:00 (w1's latest
 * event: w3's login and w4's event are after as_of). events_prev_30d is no column: it shows in the
 * health score (health.ts): usage 30 x 3/4 = 22.5, adoption 25 x 2/10 seats = 5, nothing overdue
 * 15 + 15, tenure 315 days 15 x 315/365 = 12.945 -> 70.445 -> 70.
 */
describe('customer_360 usage columns', () => {
  const C9 = '900000000000000009';
  let dir: string;
  let store: LocalObjectStore;
  let engine: DuckDbQueryEngine;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'goldgate-golden-usage-'));
    store = new LocalObjectStore(dir);
    engine = await DuckDbQueryEngine.create({ store });
    const day = new Date('2026-11-20T12:00:00Z');
    await landEvents(store, 'zoho_books', 'contacts', [contact(C9, T('01-05'), { name: 'Nine' })], day);
    await landEvents(
      store,
      'dynamodb',
      'accounts',
      [
        account('acc_9', T('01-10'), {
          contact: C9,
          region: 'EU',
          plan: 'growth',
          signupAt: T('01-10'),
          seats: 10,
        }),
      ],
      day,
    );
    await landEvents(
      store,
      'dynamodb',
      'users',
      [
        productUser('w1', { account: 'acc_9', createdAt: T('01-10'), lastLoginAt: T('09-01') }),
        productUser('w2', { account: 'acc_9', createdAt: T('01-10'), lastLoginAt: T('11-05') }),
        productUser('w3', { account: 'acc_9', createdAt: T('01-10'), lastLoginAt: T('11-22') }),
        productUser('w4', { account: 'acc_9', createdAt: T('01-10') }),
      ],
      day,
    );
    const event = (id: string, user: string | undefined, at: string) =>
      usageEvent(id, { account: 'acc_9', ...(user ? { user } : {}), at, type: 'report.viewed' });
    await landEvents(
      store,
      'dynamodb',
      'usage_events',
      [
        event('x1', 'w1', T('11-01')),
        event('x2', 'w1', T('11-21', '05:00:00')),
        event('x3', 'w1', T('10-22')),
        event('x4', 'w2', T('10-01')),
        event('x8', 'w2', T('10-05')),
        event('x9', undefined, T('09-23')),
        event('x5', 'w3', T('09-22')),
        event('x6', 'w4', T('11-22')),
        event('x7', undefined, T('11-10')),
      ],
      day,
    );
    const report = await runPipeline({
      store,
      engine,
      now: () => new Date('2026-11-21T06:00:00.000Z'),
      models: GOLD_MODELS.filter((m) => m.mart.name === 'customer_360'),
    });
    expect(report.status).toBe('succeeded');
  });

  afterAll(async () => {
    await engine.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('counts events per window, active users by event or login, and the last activity up to as_of', async () => {
    const relation = await servedCustomer360(store, engine);
    const { rows } = await engine.query({
      sql: sql`SELECT customer_id, account_id, events_30d, active_users_30d, health_score,
        strftime(last_activity_at, '%Y-%m-%d %H:%M:%S') AS last_activity_at FROM ${relation} AS m`,
    });
    expect(rows).toEqual([
      {
        customer_id: C9,
        account_id: 'acc_9',
        events_30d: 3,
        active_users_30d: 2,
        health_score: 70,
        last_activity_at: '2026-11-21 05:00:00',
      },
    ]);
  });
});
