import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../../src/adapters/object-store/local.js';
import { DuckDbQueryEngine } from '../../../src/adapters/query-engine/duckdb.js';
import type { Row } from '../../../src/adapters/query-engine/port.js';
import { customer360 } from '../../../src/catalog/marts/customer.js';
import { goldDataset } from '../../../src/lake/layout.js';
import { resolveLatest } from '../../../src/lake/publish.js';
import { trinoDialect } from '../../../src/sql/dialect.js';
import { raw, sql } from '../../../src/sql/fragment.js';
import { HEALTH_FORMULA } from '../../../src/transform/gold/health.js';
import { GOLD_MODELS } from '../../../src/transform/gold/index.js';
import { runPipeline } from '../../../src/transform/pipeline.js';
import { account, contact, type Draft, invoice, landEvents, removed } from '../../support/builders/bronze.js';
import { recurringProfile } from '../../support/builders/revenue.js';
import { productAccount, productUser, usageEvent } from '../../support/builders/usage.js';
import { renderedInputs } from '../../support/gold-inputs.js';

/**
 * A small subscription business whose mrr_monthly, revenue_cohorts and the
 * lifecycle, usage and health columns of customer_360 can be computed by hand.
 * as_of is 2026-11-21 (the pipeline clock). Windows: events_30d and
 * active_users_30d cover 2026-10-23..2026-11-21 (as_of - 29 days .. as_of),
 * events_prev_30d 2026-09-23..2026-10-22; "a full month at 0 MRR" means the
 * last day with MRR is on or before 2026-10-21.
 *
 * Recurring profiles (monthly amount = base total normalised, rounded to cents):
 *   A1 Anvil   months/1  100 EUR x 1.1  = 110.00 -> 110.00  2026-05-10 .. 2026-08-14 (stopped)
 *   A2 Anvil   months/1  150 EUR x 1.1  = 165.00 -> 165.00  2026-08-14 .. 2026-09-20 (stopped: plan change)
 *   A3 Anvil   months/1   50 EUR x 1.1  =  55.00 ->  55.00  2026-09-20 .. 2026-10-10 (stopped)
 *   B1 Birch   months/3  300 USD x 1    = 300.00 -> 300 / 3 = 100.00  2026-05-01 .. 2026-07-31 (expired)
 *   B2 Birch   years/1  1200 GBP x 1.25 = 1500.00 -> 1500 / 12 = 125.00  2026-10-01 .. (active)
 *   C1 Cobalt  weeks/2    30 USD -> 30 x 52 / 12 / 2 = 65.00             2026-09-07 .. (active)
 *   C2 Cobalt  weeks/1    10 USD -> 10 x 52 / 12 = 43.333.. -> 43.33     2026-11-02 .. (active)
 *   D1 Delta   months/1   starts 2026-12-01, after as_of: never counts
 *   F1 Fjord   months/1   20 USD -> 20.00  2026-10-01 .., stopped with no end_date, last modified
 *              2026-11-05: ends 2026-11-05
 *   H1 Helix   months/1  500 INR x 0.012 = 6.00 -> 6.00                 2026-11-10 .. (active)
 * Month snapshots: the month's last day (2026-11-21 for November); a profile
 * counts when start <= snapshot <= its end.
 */
const A = '700000000000000001';
const B = '700000000000000002';
const C = '700000000000000003';
const D = '700000000000000004';
const E = '700000000000000005';
const F = '700000000000000006';
const G = '700000000000000007';
const H = '700000000000000008';
const K = '700000000000000009';

const AS_OF = '2026-11-21';
const T = (date: string, time = '10:00:00'): string => `${date}T${time}.000Z`;

function paid(
  id: string,
  customer: string,
  date: string,
  total: number,
  money: { currency?: string; rate?: number } = {},
): Draft {
  return invoice(id, T(date), {
    customer,
    status: 'paid',
    date,
    due: date,
    total,
    balance: 0,
    ...money,
  });
}

describe('recurring revenue and customer health golden dataset', () => {
  let dir: string;
  let store: LocalObjectStore;
  let engine: DuckDbQueryEngine;
  const clock = () => new Date(`${AS_OF}T06:00:00.000Z`);

  async function martRows(mart: string, orderBy: string): Promise<Row[]> {
    const pointer = await resolveLatest(store, goldDataset(mart, 1));
    if (!pointer) throw new Error(`${mart} not published`);
    const relation = engine.martRelation({
      mart,
      schemaVersion: 1,
      runId: pointer.run_id,
      prefix: pointer.path,
    });
    return (await engine.query({ sql: sql`SELECT * FROM ${relation} AS m ORDER BY ${raw(orderBy)}` })).rows;
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'goldgate-golden-revenue-'));
    store = new LocalObjectStore(join(dir, 'lake'));
    engine = await DuckDbQueryEngine.create({ store });
    const day1 = new Date('2026-11-20T12:00:00Z');
    await landEvents(
      store,
      'zoho_books',
      'contacts',
      [
        contact(A, T('2026-05-01'), { name: 'Anvil GmbH', country: 'Germany' }),
        contact(B, T('2025-02-20'), { name: 'Birch Inc', country: 'United States' }),
        contact(C, T('2026-07-20'), { name: 'Cobalt LLC', country: 'United States' }),
        contact(D, T('2026-10-30'), { name: 'Delta Ltd', country: 'United Kingdom' }),
        contact(E, T('2026-09-01'), { name: 'Echo SARL', country: 'France' }),
        contact(F, T('2026-09-10'), { name: 'Fjord AB', country: 'Sweden' }),
        contact(G, T('2026-10-05'), { name: 'Garnet Pvt', country: 'India' }),
        contact(H, T('2026-11-05'), { name: 'Helix Pvt', country: 'India' }),
        contact(K, T('2026-10-15'), { name: 'Kite Ltda', country: 'Brazil' }),
      ],
      day1,
    );
    // E and K are leads: Zoho contacts with no product account.
    await landEvents(
      store,
      'dynamodb',
      'accounts',
      [
        account('acc_a', T('2026-05-20'), {
          contact: A,
          region: 'EU',
          plan: 'growth',
          signupAt: T('2026-05-20'),
        }),
        account('acc_b', T('2025-03-01'), {
          contact: B,
          region: 'NA',
          plan: 'growth',
          signupAt: T('2025-03-01'),
          seats: 3,
        }),
        account('acc_c', T('2026-07-24'), {
          contact: C,
          region: 'NA',
          plan: 'starter',
          signupAt: T('2026-07-24'),
          seats: 4,
        }),
        productAccount('acc_d', {
          contact: D,
          region: 'EU',
          plan: 'growth',
          signupAt: T('2026-11-01'),
          seats: null,
        }),
        account('acc_f', T('2026-09-15'), {
          contact: F,
          region: 'EU',
          plan: 'starter',
          signupAt: T('2026-09-15'),
        }),
        account('acc_g', T('2026-10-10'), {
          contact: G,
          region: 'APAC',
          plan: 'starter',
          signupAt: T('2026-10-10'),
          seats: 2,
        }),
        account('acc_h', T('2026-11-10'), {
          contact: H,
          region: 'APAC',
          plan: 'enterprise',
          signupAt: T('2026-11-10'),
          seats: 10,
        }),
      ],
      day1,
    );
    const eur = { currency: 'EUR', rate: 1.1 };
    await landEvents(
      store,
      'zoho_books',
      'recurring_invoices',
      [
        recurringProfile('A1', T('2026-08-14'), {
          customer: A,
          status: 'stopped',
          frequency: 'months',
          every: 1,
          start: '2026-05-10',
          end: '2026-08-14',
          total: 100,
          ...eur,
        }),
        recurringProfile('A2', T('2026-09-20'), {
          customer: A,
          status: 'stopped',
          frequency: 'months',
          every: 1,
          start: '2026-08-14',
          end: '2026-09-20',
          total: 150,
          ...eur,
        }),
        recurringProfile('A3', T('2026-10-10'), {
          customer: A,
          status: 'stopped',
          frequency: 'months',
          every: 1,
          start: '2026-09-20',
          end: '2026-10-10',
          total: 50,
          ...eur,
        }),
        recurringProfile('B1', T('2026-07-31'), {
          customer: B,
          status: 'expired',
          frequency: 'months',
          every: 3,
          start: '2026-05-01',
          end: '2026-07-31',
          total: 300,
        }),
        recurringProfile('B2', T('2026-10-01'), {
          customer: B,
          status: 'active',
          frequency: 'years',
          every: 1,
          start: '2026-10-01',
          total: 1200,
          currency: 'GBP',
          rate: 1.25,
        }),
        recurringProfile('C1', T('2026-09-07'), {
          customer: C,
          status: 'active',
          frequency: 'weeks',
          every: 2,
          start: '2026-09-07',
          total: 30,
        }),
        recurringProfile('C2', T('2026-11-02'), {
          customer: C,
          status: 'active',
          frequency: 'weeks',
          every: 1,
          start: '2026-11-02',
          total: 10,
        }),
        recurringProfile('D1', T('2026-11-15'), {
          customer: D,
          status: 'active',
          frequency: 'months',
          every: 1,
          start: '2026-12-01',
          total: 99,
        }),
        recurringProfile('F1', T('2026-11-05'), {
          customer: F,
          status: 'stopped',
          frequency: 'months',
          every: 1,
          start: '2026-10-01',
          total: 20,
        }),
        recurringProfile('H1', T('2026-11-10'), {
          customer: H,
          status: 'active',
          frequency: 'months',
          every: 1,
          start: '2026-11-10',
          total: 500,
          currency: 'INR',
          rate: 0.012,
        }),
      ],
      day1,
    );
    // Revenue invoices (see the cohorts test for the arithmetic); c2 is overdue, c4 draft, e2 void,
    // h2 dated after as_of.
    await landEvents(
      store,
      'zoho_books',
      'invoices',
      [
        paid('a1', A, '2026-05-10', 100, eur),
        paid('a2', A, '2026-06-10', 100, eur),
        paid('a3', A, '2026-08-14', 150, eur),
        paid('a4', A, '2026-09-20', 50, eur),
        paid('b0', B, '2026-05-01', 300),
        paid('b1', B, '2026-10-01', 1200, { currency: 'GBP', rate: 1.25 }),
        paid('c1', C, '2026-09-07', 30),
        invoice('c2', T('2026-09-21'), {
          customer: C,
          status: 'overdue',
          date: '2026-09-21',
          due: '2026-10-06',
          total: 30,
          balance: 30,
        }),
        paid('c3', C, '2026-11-02', 30),
        invoice('c4', T('2026-10-15'), {
          customer: C,
          status: 'draft',
          date: '2026-10-15',
          due: '2026-10-30',
          total: 30,
          balance: 30,
        }),
        paid('e1', E, '2026-09-03', 50, eur),
        invoice('e2', T('2026-11-03'), {
          customer: E,
          status: 'void',
          date: '2026-11-03',
          due: '2026-11-18',
          total: 20,
          balance: 0,
          ...eur,
        }),
        paid('f1', F, '2026-10-01', 20),
        paid('g1', G, '2026-10-12', 40),
        paid('g2', G, '2026-11-12', 40),
        paid('h1', H, '2026-11-10', 500, { currency: 'INR', rate: 0.012 }),
        invoice('h2', T('2026-11-20'), {
          customer: H,
          status: 'sent',
          date: '2026-11-25',
          due: '2026-12-10',
          total: 500,
          balance: 500,
          currency: 'INR',
          rate: 0.012,
        }),
        paid('k1', K, '2026-10-20', 10),
      ],
      day1,
    );
    await landEvents(
      store,
      'dynamodb',
      'users',
      [
        productUser('ub1', {
          account: 'acc_b',
          createdAt: T('2025-03-01'),
          lastLoginAt: T('2026-11-20', '08:00:00'),
        }),
        productUser('ub2', {
          account: 'acc_b',
          createdAt: T('2025-03-01'),
          lastLoginAt: T('2026-09-01'),
        }),
        productUser('uc1', { account: 'acc_c', createdAt: T('2026-07-24') }),
        productUser('ud1', { account: 'acc_d', createdAt: T('2026-11-01') }),
        productUser('ud2', { account: 'acc_d', createdAt: T('2026-11-01') }),
      ],
      day1,
    );
    await landEvents(
      store,
      'dynamodb',
      'usage_events',
      [
        // Birch: 4 in the window (eb1 on its first day, eb4 made by no user), 4 before it, eb9 too old.
        usageEvent('eb1', {
          account: 'acc_b',
          user: 'ub1',
          at: T('2026-10-23', '00:00:00'),
          type: 'report.viewed',
        }),
        usageEvent('eb2', { account: 'acc_b', user: 'ub1', at: T('2026-11-05'), type: 'report.viewed' }),
        usageEvent('eb3', { account: 'acc_b', user: 'ub1', at: T('2026-11-19'), type: 'report.viewed' }),
        usageEvent('eb4', { account: 'acc_b', at: T('2026-11-20', '12:00:00'), type: 'report.viewed' }),
        usageEvent('eb5', {
          account: 'acc_b',
          user: 'ub2',
          at: T('2026-10-22', '23:59:59'),
          type: 'report.viewed',
        }),
        usageEvent('eb6', { account: 'acc_b', user: 'ub2', at: T('2026-10-01'), type: 'report.viewed' }),
        usageEvent('eb7', {
          account: 'acc_b',
          user: 'ub2',
          at: T('2026-09-23', '00:00:00'),
          type: 'report.viewed',
        }),
        usageEvent('eb8', { account: 'acc_b', user: 'ub1', at: T('2026-09-30'), type: 'report.viewed' }),
        usageEvent('eb9', { account: 'acc_b', user: 'ub2', at: T('2026-09-22'), type: 'report.viewed' }),
        usageEvent('eb10', { account: 'acc_b', user: 'ub2', at: T('2026-11-10'), type: 'report.viewed' }),
        // Cobalt: 2 in the window, 4 before it.
        usageEvent('ec1', { account: 'acc_c', user: 'uc1', at: T('2026-11-01'), type: 'report.viewed' }),
        usageEvent('ec2', { account: 'acc_c', user: 'uc1', at: T('2026-11-15'), type: 'report.viewed' }),
        usageEvent('ec3', { account: 'acc_c', user: 'uc1', at: T('2026-10-01'), type: 'report.viewed' }),
        usageEvent('ec4', { account: 'acc_c', user: 'uc1', at: T('2026-10-05'), type: 'report.viewed' }),
        usageEvent('ec5', { account: 'acc_c', user: 'uc1', at: T('2026-10-10'), type: 'report.viewed' }),
        usageEvent('ec6', { account: 'acc_c', user: 'uc1', at: T('2026-10-20'), type: 'report.viewed' }),
        // Delta: 3 in the window by 2 users, none before; ed4 is dated after as_of.
        usageEvent('ed1', { account: 'acc_d', user: 'ud1', at: T('2026-11-02'), type: 'report.viewed' }),
        usageEvent('ed2', { account: 'acc_d', user: 'ud2', at: T('2026-11-03'), type: 'report.viewed' }),
        usageEvent('ed3', { account: 'acc_d', user: 'ud1', at: T('2026-11-04'), type: 'report.viewed' }),
        usageEvent('ed4', {
          account: 'acc_d',
          user: 'ud1',
          at: T('2026-11-22', '01:00:00'),
          type: 'report.viewed',
        }),
      ],
      day1,
    );
    // Day 2: eb2 expires by TTL (it still counts); eb10 is deleted for real (it no longer counts).
    await landEvents(
      store,
      'dynamodb',
      'usage_events',
      [
        removed('usage_events', 'eb2', T('2026-11-20', '20:00:00'), 'event_id', true),
        removed('usage_events', 'eb10', T('2026-11-20', '20:00:00'), 'event_id'),
      ],
      new Date('2026-11-21T01:00:00Z'),
    );
    const report = await runPipeline({ store, engine, now: clock });
    expect(report.status).toBe('succeeded');
  });

  afterAll(async () => {
    await engine.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('computes mrr_monthly: normalisation, month-end snapshots and every movement', async () => {
    // month, customer, region, mrr, arr (= 12 x mrr), movement, mrr_delta (= mrr - previous month's).
    const row = (
      month: string,
      customer: string,
      region: string,
      mrr: string,
      arr: string,
      movement: string,
      delta: string,
    ) => ({
      month,
      customer_id: customer,
      region,
      mrr,
      arr,
      movement,
      mrr_delta: delta,
    });
    expect(await martRows('mrr_monthly', 'month, customer_id')).toEqual([
      // May: A1 (110.00) and B1 (100.00) count at 05-31: both new.
      row('2026-05', A, 'EU', '110.00', '1320.00', 'new', '110.00'),
      row('2026-05', B, 'NA', '100.00', '1200.00', 'new', '100.00'),
      row('2026-06', A, 'EU', '110.00', '1320.00', 'flat', '0.00'),
      row('2026-06', B, 'NA', '100.00', '1200.00', 'flat', '0.00'),
      // B1 ends 07-31, the snapshot day itself: it still counts in July.
      row('2026-07', A, 'EU', '110.00', '1320.00', 'flat', '0.00'),
      row('2026-07', B, 'NA', '100.00', '1200.00', 'flat', '0.00'),
      // Plan change on 08-14: A1 ended before 08-31, A2 counts; 165 - 110 = +55.
      row('2026-08', A, 'EU', '165.00', '1980.00', 'expansion', '55.00'),
      row('2026-08', B, 'NA', '0.00', '0.00', 'churn', '-100.00'),
      // September: A3 (55.00) replaces A2 on 09-20; 55 - 165 = -110. B stays at 0: no row.
      row('2026-09', A, 'EU', '55.00', '660.00', 'contraction', '-110.00'),
      row('2026-09', C, 'NA', '65.00', '780.00', 'new', '65.00'),
      // A3 ended 10-10, before 10-31: churn; no November row for A. B2 (125.00) brings B back.
      row('2026-10', A, 'EU', '0.00', '0.00', 'churn', '-55.00'),
      row('2026-10', B, 'NA', '125.00', '1500.00', 'reactivation', '125.00'),
      row('2026-10', C, 'NA', '65.00', '780.00', 'flat', '0.00'),
      row('2026-10', F, 'EU', '20.00', '240.00', 'new', '20.00'),
      // November's snapshot is as_of (11-21). C: 65.00 + 43.33 = 108.33 (arr 12 x 108.33 = 1299.96).
      row('2026-11', B, 'NA', '125.00', '1500.00', 'flat', '0.00'),
      row('2026-11', C, 'NA', '108.33', '1299.96', 'expansion', '43.33'),
      // F1 was stopped without an end_date: it ends on its last modification, 11-05.
      row('2026-11', F, 'EU', '0.00', '0.00', 'churn', '-20.00'),
      row('2026-11', H, 'APAC', '6.00', '72.00', 'new', '6.00'),
    ]);
  });

  it('computes revenue_cohorts: cohort sizes, invoiced customers, revenue and retention', async () => {
    /*
     * First revenue invoice month: A (a1 05-10), B (b0 05-01) -> 2026-05; E (e1 09-03), C (c1 09-07)
     * -> 2026-09; F (10-01), G (10-12), K (10-20) -> 2026-10; H (h1 11-10) -> 2026-11.
     * Base amounts: a1, a2 100 x 1.1 = 110.00; a3 150 x 1.1 = 165.00; a4 50 x 1.1 = 55.00;
     * b1 1200 x 1.25 = 1500.00; e1 50 x 1.1 = 55.00; h1 500 x 0.012 = 6.00.
     * Not revenue: c4 (draft), e2 (void); h2 is dated 11-25, after as_of.
     */
    const row = (
      cohort: string,
      period: number,
      customers: number,
      active: number,
      revenue: string,
      rate: number,
    ) => ({
      cohort_month: cohort,
      period,
      customers,
      active_customers: active,
      revenue_base: revenue,
      retention_rate: rate,
    });
    expect(await martRows('revenue_cohorts', 'cohort_month, period')).toEqual([
      row('2026-05', 0, 2, 2, '410.00', 1), // a1 110 + b0 300
      row('2026-05', 1, 2, 1, '110.00', 1 / 2), // a2
      row('2026-05', 2, 2, 0, '0.00', 0), // July: nothing invoiced
      row('2026-05', 3, 2, 1, '165.00', 1 / 2), // a3
      row('2026-05', 4, 2, 1, '55.00', 1 / 2), // a4
      row('2026-05', 5, 2, 1, '1500.00', 1 / 2), // b1
      row('2026-05', 6, 2, 0, '0.00', 0),
      row('2026-09', 0, 2, 2, '115.00', 1), // c1 30 + c2 30 + e1 55
      row('2026-09', 1, 2, 0, '0.00', 0), // c4 is a draft
      row('2026-09', 2, 2, 1, '30.00', 1 / 2), // c3; e2 is void
      row('2026-10', 0, 3, 3, '70.00', 1), // f1 20 + g1 40 + k1 10
      row('2026-10', 1, 3, 1, '40.00', 1 / 3), // g2: 1 of 3, a DOUBLE
      row('2026-11', 0, 1, 1, '6.00', 1), // h1; h2 is after as_of
    ]);
  });

  it('computes customer_360 lifecycle, usage, MRR and health exactly as by hand', async () => {
    /*
     * health_score = round(30 usage_trend + 25 adoption + 15 payment_timeliness + 15 payment_exposure
     * + 15 tenure). With no overdue balance both payment terms are 1: 15 + 15 = 30.
     *
     * A Anvil:  no usage: 0 + 0; payment 30; tenure 05-20 -> 11-21 = 185 d: 15 x 185/365 = 7.603
     *           -> 37.603 -> 38 red. MRR 0 since A3 ended 10-10 <= 10-21: churned.
     * B Birch:  events 4 (eb1..eb4; eb2 expired by TTL still counts, eb10 deleted), previous 4 (eb5..eb8):
     *           trend min(1, 4/4) = 1 -> 30; active users: ub1 only (ub2's last login 09-01, last event
     *           10-22; eb4 has no user) 1 of 3 seats -> 25/3 = 8.333; payment 30; tenure > 365 d -> 15
     *           -> 83.333 -> 83 green. MRR 125.00 > 0: active.
     * C Cobalt: events 2, previous 4: trend 0.5 -> 15; 1 user of 4 seats -> 6.25; c2 due 10-06 is
     *           46 days past due: 15 x (1 - 46/90) = 7.333; exposure 15 x (1 - 30.00/108.33) = 10.846;
     *           tenure 07-24 -> 11-21 = 120 d: 15 x 120/365 = 4.932 -> 44.361 -> 44 amber.
     *           MRR 108.33 and 46 > 30 days overdue: at_risk.
     * D Delta:  events 3 (ed4 is after as_of), previous 0: trend 1 -> 30; 2 users, no seats on the
     *           account: growth's 5 -> 25 x 2/5 = 10; payment 30; tenure 20 d: 15 x 20/365 = 0.822
     *           -> 70.822 -> 71 green. D1 starts after as_of, never had MRR, has an account: trial.
     * E Echo:   no account: 0 + 0; payment 30; tenure from the first invoice 09-03: 79 d ->
     *           15 x 79/365 = 3.247 -> 33.247 -> 33 red. No account, no MRR: lead.
     * F Fjord:  0 + 0 + 30; tenure 09-15 -> 67 d: 2.753 -> 32.753 -> 33 red. MRR 0 since 11-05,
     *           less than a month: at_risk.
     * G Garnet: 0 + 0 + 30; tenure 10-10 -> 42 d: 1.726 -> 31.726 -> 32 red. Invoiced (one-off)
     *           but never had MRR: trial.
     * H Helix:  0 + 0 + 30; tenure 11-10 -> 11 d: 0.452 -> 30.452 -> 30 red. MRR 6.00 but red: at_risk.
     * K Kite:   0 + 0 + 30; tenure from k1 10-20: 32 d -> 1.315 -> 31.315 -> 31 red: lead.
     * lifetime_revenue: A 110 + 110 + 165 + 55 = 440.00; B 300 + 1500 = 1800.00; C 30 x 3 = 90.00;
     * E 55.00; F 20.00; G 80.00; H 6.00 + 6.00 (h2 is revenue in customer_360's totals whatever its
     * date) = 12.00, outstanding 6.00, not yet due; K 10.00.
     */
    const picked = (await martRows('customer_360', 'customer_id')).map((r) => ({
      id: r.customer_id,
      account: r.account_id,
      region: r.region,
      stage: r.lifecycle_stage,
      lastActivity: r.last_activity_at,
      users: r.active_users_30d,
      events: r.events_30d,
      mrr: r.mrr,
      arr: r.arr,
      lifetime: r.lifetime_revenue,
      outstanding: r.outstanding_balance,
      overdue: r.overdue_balance,
      score: r.health_score,
      band: r.health_band,
    }));
    const c = (
      id: string,
      account: string | null,
      region: string,
      stage: string,
      activity: [string | null, number, number],
      mrr: [string, string],
      money: [string, string, string],
      health: [number, string],
    ) => ({
      id,
      account,
      region,
      stage,
      lastActivity: activity[0],
      users: activity[1],
      events: activity[2],
      mrr: mrr[0],
      arr: mrr[1],
      lifetime: money[0],
      outstanding: money[1],
      overdue: money[2],
      score: health[0],
      band: health[1],
    });
    const none: [null, number, number] = [null, 0, 0];
    const zero: [string, string] = ['0.00', '0.00'];
    expect(picked).toEqual([
      c(A, 'acc_a', 'EU', 'churned', none, zero, ['440.00', '0.00', '0.00'], [38, 'red']),
      c(
        B,
        'acc_b',
        'NA',
        'active',
        ['2026-11-20 12:00:00', 1, 4],
        ['125.00', '1500.00'],
        ['1800.00', '0.00', '0.00'],
        [83, 'green'],
      ),
      c(
        C,
        'acc_c',
        'NA',
        'at_risk',
        ['2026-11-15 10:00:00', 1, 2],
        ['108.33', '1299.96'],
        ['90.00', '30.00', '30.00'],
        [44, 'amber'],
      ),
      c(
        D,
        'acc_d',
        'EU',
        'trial',
        ['2026-11-04 10:00:00', 2, 3],
        zero,
        ['0.00', '0.00', '0.00'],
        [71, 'green'],
      ),
      c(E, null, 'EU', 'lead', none, zero, ['55.00', '0.00', '0.00'], [33, 'red']),
      c(F, 'acc_f', 'EU', 'at_risk', none, zero, ['20.00', '0.00', '0.00'], [33, 'red']),
      c(G, 'acc_g', 'APAC', 'trial', none, zero, ['80.00', '0.00', '0.00'], [32, 'red']),
      c(H, 'acc_h', 'APAC', 'at_risk', none, ['6.00', '72.00'], ['12.00', '6.00', '0.00'], [30, 'red']),
      c(K, null, 'LATAM', 'lead', none, zero, ['10.00', '0.00', '0.00'], [31, 'red']),
    ]);
  });

  it("gives customer_360's mrr the value of mrr_monthly's as_of month", async () => {
    const customers = await martRows('customer_360', 'customer_id');
    const november = await martRows('mrr_monthly', 'customer_id');
    for (const m of november.filter((r) => r.month === '2026-11')) {
      expect(customers.find((r) => r.customer_id === m.customer_id)?.mrr).toBe(m.mrr);
    }
  });

  it('agrees with ar_aging on what is outstanding and overdue', async () => {
    const customers = await martRows('customer_360', 'customer_id');
    const aging = await martRows('ar_aging', 'customer_id');
    const owing = customers.filter((r) => r.outstanding_balance !== '0.00');
    expect(owing.map((r) => r.customer_id)).toEqual([C, H]);
    expect(aging.map((r) => r.customer_id)).toEqual([C, H]);
    for (const a of aging) {
      const c = customers.find((r) => r.customer_id === a.customer_id);
      expect(c?.outstanding_balance).toBe(a.total_outstanding);
      expect(Number(c?.overdue_balance)).toBe(Number(a.total_outstanding) - Number(a.current));
    }
  });

  it('publishes the health formula in the column description the API serves', () => {
    const column = customer360.columns.find((c) => c.name === 'health_score');
    expect(column?.description).toContain(HEALTH_FORMULA);
    expect(HEALTH_FORMULA).toContain('30 x usage_trend + 25 x adoption + 15 x payment_timeliness');
  });

  it('renders every revenue and customer model for Trino, with no DuckDB-only syntax', () => {
    for (const name of ['customer_360', 'mrr_monthly', 'revenue_cohorts']) {
      const model = GOLD_MODELS.find((m) => m.mart.name === name);
      if (!model) throw new Error(`no model for ${name}`);
      const inputs = renderedInputs(model, trinoDialect, (c) => `"silver"."${c.entity}"`);
      const query = model.query({ inputs, asOf: AS_OF, dialect: trinoDialect });
      expect(query.text.split('?').length - 1, name).toBe(query.params.length);
      expect(query.text, name).not.toMatch(
        /QUALIFY|list_contains|generate_series|unnest\(generate|INTERVAL 1 |::|strftime/i,
      );
      if (name !== 'customer_360') expect(query.text, name).toContain('UNNEST(sequence(');
    }
  });
});
