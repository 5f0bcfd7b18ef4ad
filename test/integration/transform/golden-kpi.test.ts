import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../../src/adapters/object-store/local.js';
import { DuckDbQueryEngine } from '../../../src/adapters/query-engine/duckdb.js';
import type { Row } from '../../../src/adapters/query-engine/port.js';
import { KPI_MARTS } from '../../../src/catalog/marts/kpi.js';
import { goldDataset } from '../../../src/lake/layout.js';
import { resolveLatest } from '../../../src/lake/publish.js';
import { duckdbDialect, trinoDialect } from '../../../src/sql/dialect.js';
import { raw, sql } from '../../../src/sql/fragment.js';
import { KPI_MODELS } from '../../../src/transform/gold/kpi.js';
import { runPipeline } from '../../../src/transform/pipeline.js';
import { invoice, landEvents } from '../../support/builders/bronze.js';
import {
  productAccount,
  productUser,
  usageDelete,
  usageEvent,
  usageExpiry,
} from '../../support/builders/usage.js';
import { renderedInputs } from '../../support/gold-inputs.js';

/**
 * A product whose KPIs can be computed by hand. as_of = 2026-11-21 (the
 * pipeline clock). Weekdays: 08-03 Mon, 08-05 Wed, 08-09 Sun, 08-10 Mon,
 * 08-16 Sun, 08-24 Mon, 08-25 Tue, 10-12 Mon, 10-14 Wed.
 *
 * Accounts (region, Zoho contact, signup):
 *   A1 EU C1 08-03 09:00   A2 EU C2 08-05   A7 EU C7 08-09
 *   A3 NA C3 08-10         A4 NA C4 08-16   A6 NA C6 08-25
 *   A5 no region, no contact 10-14 -> UNKNOWN
 *   A8 EU signs up 11-25, after as_of: in no cohort
 *   A9 does not exist: its events count as UNKNOWN
 * Users: uXY belongs to account AX.
 *
 * Usage events (meaningful = every type but login, logout and scheduled_export):
 *   e01 A1 u11 login     08-03   e02 A1 u11 report  08-17 09:00 (exactly 14 x 24 h after signup: activates)
 *   e03 A2 u21 login     08-06   e04 A2 u21 dash    08-20 10:00 (day 15: too late)
 *   e27 A4 u42 export    08-30 23:30 (calendar day 14 but 14 x 24 h + 1.5 h after signup: too late)
 *   e28 A2 (no user) scheduled_export 08-10 03:00 (day 5, made by the product: activates nothing)
 *   e05 A3 u31 report    08-10   e06 A4 u41 login   08-17
 *   e07 A6 u61 export    08-25   e25 A7 u71 report  08-12 (day 3)
 *   e08 A1 u11 report    09-10   e09 A3 u31 report  09-15 (TTL-expired on day 2: still counts)
 *   e10 A2 u21 login     10-05   e11 A1 u13 report  10-22
 *   e12 A3 u32 dash      10-30   e13 A4 u41 login   10-30
 *   e14 A5 u51 report    10-14 (day 0)
 *   e15 A1 u11 login     11-01   e16 A1 u12 report  11-02
 *   e17 A1 u11 login     11-08   e18 A1 u11 report  11-08   e19 A1 (no user) api_call 11-08
 *   e20 A3 u31 report    11-08   e21 A9 u91 report  11-08
 *   e22 A1 u12 report    11-15 (business delete on day 2: gone)
 *   e23 A1 u11 report    11-22 (after as_of: ignored)
 *   e26 A4 u41 login     11-21 05:00 (on as_of)
 *
 * Activation compares instants (signup_at + 14 x 24 h); conversion compares dates (invoices have no time).
 * Invoices: I1 C1 paid 100 dated 10-02 (A1 day 60); I2 C2 paid 80 dated 10-05 (A2 day 61);
 *   I3 C3 partially_paid 50 dated 08-20 (A3 day 10); I4 C4 sent 40 dated 08-20 (unpaid);
 *   I5 C6 paid 0 dated 08-26 (a free invoice is no conversion); I6 C7 draft 90 dated 08-15.
 */
const T = (day: string, time = '10:00:00'): string => `2026-${day}T${time}.000Z`;
const AS_OF = '2026-11-21';

const ACCOUNTS = [
  productAccount('A1', { region: 'EU', contact: 'C1', signupAt: T('08-03', '09:00:00') }),
  productAccount('A2', { region: 'EU', contact: 'C2', signupAt: T('08-05', '15:00:00') }),
  productAccount('A7', { region: 'EU', contact: 'C7', signupAt: T('08-09', '20:00:00') }),
  productAccount('A3', { region: 'NA', contact: 'C3', signupAt: T('08-10', '08:00:00') }),
  productAccount('A4', { region: 'NA', contact: 'C4', signupAt: T('08-16', '22:00:00') }),
  productAccount('A6', { region: 'NA', contact: 'C6', signupAt: T('08-25', '11:00:00') }),
  productAccount('A5', { signupAt: T('10-14', '08:00:00') }),
  productAccount('A8', { region: 'EU', contact: 'C8', signupAt: T('11-25') }),
];

/** [id, account, user, type, occurred_at] of every usage event landed on day 1. */
type EventRow = readonly [id: string, account: string, user: string | undefined, type: string, at: string];
const EVENT_ROWS: readonly EventRow[] = [
  ['e01', 'A1', 'u11', 'login', T('08-03', '09:05:00')],
  ['e02', 'A1', 'u11', 'report_run', T('08-17', '09:00:00')],
  ['e03', 'A2', 'u21', 'login', T('08-06')],
  ['e04', 'A2', 'u21', 'dashboard_view', T('08-20')],
  ['e05', 'A3', 'u31', 'report_run', T('08-10', '11:00:00')],
  ['e06', 'A4', 'u41', 'login', T('08-17', '09:00:00')],
  ['e07', 'A6', 'u61', 'export', T('08-25', '12:00:00')],
  ['e25', 'A7', 'u71', 'report_run', T('08-12')],
  ['e08', 'A1', 'u11', 'report_run', T('09-10')],
  ['e09', 'A3', 'u31', 'report_run', T('09-15')],
  ['e10', 'A2', 'u21', 'login', T('10-05')],
  ['e11', 'A1', 'u13', 'report_run', T('10-22')],
  ['e12', 'A3', 'u32', 'dashboard_view', T('10-30')],
  ['e13', 'A4', 'u41', 'login', T('10-30', '11:00:00')],
  ['e14', 'A5', 'u51', 'report_run', T('10-14', '09:00:00')],
  ['e15', 'A1', 'u11', 'login', T('11-01', '08:00:00')],
  ['e16', 'A1', 'u12', 'report_run', T('11-02', '08:00:00')],
  ['e17', 'A1', 'u11', 'login', T('11-08', '08:00:00')],
  ['e18', 'A1', 'u11', 'report_run', T('11-08', '09:00:00')],
  ['e19', 'A1', undefined, 'api_call', T('11-08')],
  ['e20', 'A3', 'u31', 'report_run', T('11-08', '12:00:00')],
  ['e21', 'A9', 'u91', 'report_run', T('11-08', '13:00:00')],
  ['e22', 'A1', 'u12', 'report_run', T('11-15', '08:00:00')],
  ['e23', 'A1', 'u11', 'report_run', T('11-22', '08:00:00')],
  ['e26', 'A4', 'u41', 'login', T('11-21', '05:00:00')],
  ['e27', 'A4', 'u42', 'export', T('08-30', '23:30:00')],
  ['e28', 'A2', undefined, 'scheduled_export', T('08-10', '03:00:00')],
];
const EVENTS = EVENT_ROWS.map(([id, account, user, type, at]) =>
  usageEvent(id, { account, ...(user === undefined ? {} : { user }), type, at }),
);

const USERS = ['u11', 'u12', 'u13', 'u21', 'u31', 'u32', 'u41', 'u42', 'u51', 'u61', 'u71'].map((id) =>
  productUser(id, { account: `A${id.charAt(1)}`, createdAt: T('08-01') }),
);

const inv = (id: string, customer: string, status: string, date: string, total: number) =>
  invoice(id, T(date.slice(5)), {
    customer,
    status,
    date,
    due: date,
    total,
    balance: status === 'paid' ? 0 : total / 2,
  });

const INVOICES = [
  inv('2001', 'C1', 'paid', '2026-10-02', 100),
  inv('2002', 'C2', 'paid', '2026-10-05', 80),
  inv('2003', 'C3', 'partially_paid', '2026-08-20', 50),
  inv('2004', 'C4', 'sent', '2026-08-20', 40),
  inv('2005', 'C6', 'paid', '2026-08-26', 0),
  inv('2006', 'C7', 'draft', '2026-08-15', 90),
];

describe('KPI marts golden dataset', () => {
  let dir: string;
  let store: LocalObjectStore;
  let engine: DuckDbQueryEngine;
  const clock = () => new Date('2026-11-21T06:00:00.000Z');

  async function martRows(name: string, where = raw('TRUE')): Promise<Row[]> {
    const mart = KPI_MARTS.find((m) => m.name === name);
    if (!mart) throw new Error(`${name} is not a KPI mart`);
    const pointer = await resolveLatest(store, goldDataset(name, mart.schemaVersion));
    if (!pointer) throw new Error(`${name} not published`);
    const relation = engine.martRelation({
      mart: name,
      schemaVersion: mart.schemaVersion,
      runId: pointer.run_id,
      prefix: pointer.path,
    });
    const order = raw(mart.key.map((k) => `"${k}"`).join(', '));
    return (await engine.query({ sql: sql`SELECT * FROM ${relation} AS m WHERE ${where} ORDER BY ${order}` }))
      .rows;
  }

  /** Rows of kpi_daily_usage for one date, by region, as plain numbers. */
  async function usageOn(date: string): Promise<Record<string, number[]>> {
    const rows = await martRows('kpi_daily_usage', sql`"date" = CAST(${date} AS DATE)`);
    return Object.fromEntries(
      rows.map((r) => [
        String(r.region),
        [r.dau, r.wau, r.mau, r.events, r.active_accounts].map((v) => Number(v)),
      ]),
    );
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'goldgate-golden-kpi-'));
    store = new LocalObjectStore(join(dir, 'lake'));
    engine = await DuckDbQueryEngine.create({ store });
    const day1 = new Date('2026-11-19T12:00:00Z');
    await landEvents(store, 'dynamodb', 'accounts', ACCOUNTS, day1);
    await landEvents(store, 'dynamodb', 'users', USERS, day1);
    await landEvents(store, 'dynamodb', 'usage_events', EVENTS, day1);
    await landEvents(store, 'zoho_books', 'invoices', INVOICES, day1);
    // Day 2: DynamoDB's TTL expires e09 (must still count); e22 is erased for real (must not).
    const day2 = new Date('2026-11-20T12:00:00Z');
    await landEvents(
      store,
      'dynamodb',
      'usage_events',
      [usageExpiry('e09', T('11-20')), usageDelete('e22', T('11-20'))],
      day2,
    );
    const report = await runPipeline({ store, engine, now: clock });
    expect(report.status).toBe('succeeded');
  });

  afterAll(async () => {
    await engine.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('kpi_daily_usage: dense grid of dates x regions from the first event to as_of', async () => {
    const rows = await martRows('kpi_daily_usage');
    // 08-03 .. 11-21: 29 (Aug) + 30 (Sep) + 31 (Oct) + 21 (Nov) = 111 days, x 6 regions = 666 rows.
    expect(rows).toHaveLength(666);
    expect(rows[0]).toMatchObject({ date: '2026-08-03' });
    expect(rows.at(-1)).toMatchObject({ date: AS_OF });
    expect(new Set(rows.map((r) => r.region))).toEqual(
      new Set(['NA', 'EU', 'APAC', 'LATAM', 'MEA', 'UNKNOWN']),
    );
    // 27 events landed; e22 deleted, e23 after as_of -> 25. e09 (TTL-expired) is among them.
    expect(rows.reduce((sum, r) => sum + Number(r.events), 0)).toBe(25);
  });

  it('kpi_daily_usage: dau, wau, mau and window edges by hand', async () => {
    // Columns: [dau, wau, mau, events, active_accounts].
    // 08-03, first day: EU e01 (u11). Every other region has a row of zeros.
    expect(await usageOn('2026-08-03')).toMatchObject({ EU: [1, 1, 1, 1, 1], APAC: [0, 0, 0, 0, 0] });
    // 08-10 EU: only e28, a scheduled export without a user -> 1 event, 1 active account, dau 0.
    //   wau 08-04..08-10: u21 (08-06) -> 1. mau 07-12..08-10: u11 (08-03), u21 -> 2.
    expect((await usageOn('2026-08-10')).EU).toEqual([0, 1, 2, 1, 1]);
    // 11-08 EU: events e17, e18 (u11), e19 (no user: an event and an account, no user) -> 3 events, dau 1.
    //   wau 11-02..11-08: u11, u12 (11-02, the window's first day) -> 2.
    //   mau 10-10..11-08: u11, u12, u13 (10-22) -> 3; u21's 10-05 is outside.
    // 11-08 NA: e20 (u31). wau: u31 -> 1. mau 10-10..11-08: u31, u32 (10-30), u41 (10-30) -> 3.
    // 11-08 UNKNOWN: e21 of A9, which does not exist -> dau 1. mau: u91, u51 (10-14, account without region) -> 2.
    expect(await usageOn('2026-11-08')).toMatchObject({
      EU: [1, 2, 3, 3, 1],
      NA: [1, 1, 3, 1, 1],
      UNKNOWN: [1, 1, 2, 1, 1],
    });
    // 11-09 EU: wau 11-03..11-09 -> u11 only (u12's 11-02 just left); mau 10-11..11-09 -> 3.
    expect((await usageOn('2026-11-09')).EU).toEqual([0, 1, 3, 0, 0]);
    // 11-15 EU: e22 was deleted -> no events; wau 11-09..11-15 -> 0; mau 10-17..11-15 -> 3.
    expect((await usageOn('2026-11-15')).EU).toEqual([0, 0, 3, 0, 0]);
    // 11-20 EU: mau 10-22..11-20 -> u13's 10-22 is the window's first day: u11, u12, u13 -> 3.
    // 11-21 EU: mau 10-23..11-21 -> u11, u12 -> 2 (e23 on 11-22 is after as_of).
    // 11-21 NA: e26 (u41, 05:00). wau 11-15..11-21 -> 1; mau 10-23..11-21: u31, u32, u41 -> 3.
    expect((await usageOn('2026-11-20')).EU).toEqual([0, 0, 3, 0, 0]);
    expect(await usageOn(AS_OF)).toMatchObject({ EU: [0, 0, 2, 0, 0], NA: [1, 1, 3, 1, 1] });
    // 09-15 NA: e09, TTL-expired in DynamoDB, still counts -> dau 1, 1 event.
    //   wau 09-09..09-15: u31 -> 1. mau 08-17..09-15: u31, u41 (08-17, first day), u61 (08-25), u42 (08-30) -> 4.
    // 09-16 NA: mau 08-18..09-16: u31, u61, u42 -> 3 (u41 left).
    expect((await usageOn('2026-09-15')).NA).toEqual([1, 1, 4, 1, 1]);
    expect((await usageOn('2026-09-16')).NA).toEqual([0, 1, 3, 0, 0]);
  });

  it('kpi_daily_usage: every row equals a brute-force count over the fixture', async () => {
    // Reference by definition, no spans or running sums: for each date and region, the distinct
    // users of the live events dated in the window. Live: all but e22 (deleted) and e23 (after as_of).
    const regionOf: Record<string, string> = { A1: 'EU', A2: 'EU', A7: 'EU', A3: 'NA', A4: 'NA', A6: 'NA' };
    const live = EVENT_ROWS.filter(([id]) => id !== 'e22' && id !== 'e23').map(([, account, user, , at]) => ({
      region: regionOf[account] ?? 'UNKNOWN',
      account,
      user,
      day: Date.parse(at.slice(0, 10)),
    }));
    const DAY = 86_400_000;
    const distinctUsers = (region: string, from: number, to: number): number =>
      new Set(
        live.filter((e) => e.region === region && e.user && e.day >= from && e.day <= to).map((e) => e.user),
      ).size;
    const rows = await martRows('kpi_daily_usage');
    for (const row of rows) {
      const day = Date.parse(String(row.date));
      const region = String(row.region);
      const today = live.filter((e) => e.region === region && e.day === day);
      expect([
        row.date,
        region,
        ...[row.dau, row.wau, row.mau, row.events, row.active_accounts].map(Number),
      ]).toEqual([
        row.date,
        region,
        distinctUsers(region, day, day),
        distinctUsers(region, day - 6 * DAY, day),
        distinctUsers(region, day - 29 * DAY, day),
        today.length,
        new Set(today.map((e) => e.account)).size,
      ]);
    }
  });

  it('kpi_funnel: activation within 14 days, paid conversion within 60, by hand', async () => {
    const rows = await martRows('kpi_funnel');
    expect(
      rows.map((r) => ({
        ...r,
        signups: Number(r.signups),
        activated: Number(r.activated),
        converted_paid: Number(r.converted_paid),
      })),
    ).toEqual([
      // Week of Mon 08-03, EU: A1 (Mon), A2 (Wed), A7 (Sun 08-09) -> 3 signups.
      //   activated: A1 (report exactly 14 x 24 h after signup: both ends count), A7 (day 3);
      //     A2's first meaningful event is day 15 (08-20); its day-1 login and day-5 scheduled export
      //     are not meaningful -> 2.
      //   converted: A1 (I1 paid on 10-02 = day 60); A2's I2 is on day 61; A7 has only a draft -> 1.
      //   rates: 2/3 and 1/3.
      {
        cohort_week: '2026-08-03',
        region: 'EU',
        signups: 3,
        activated: 2,
        converted_paid: 1,
        activation_rate: 2 / 3,
        conversion_rate: 1 / 3,
      },
      // Week of Mon 08-10, NA: A3 (Mon), A4 (Sun 08-16) -> 2.
      //   activated: A3 (day 0); A4 logs in, and its export (e27) comes 14 x 24 h + 1.5 h after signup -> 1.
      //   converted: A3 (partially paid, day 10); A4's I4 is unpaid -> 1.
      {
        cohort_week: '2026-08-10',
        region: 'NA',
        signups: 2,
        activated: 1,
        converted_paid: 1,
        activation_rate: 0.5,
        conversion_rate: 0.5,
      },
      // Week of Mon 08-24, NA: A6 -> activated (export, day 0); its only paid invoice totals 0 -> not converted.
      {
        cohort_week: '2026-08-24',
        region: 'NA',
        signups: 1,
        activated: 1,
        converted_paid: 0,
        activation_rate: 1,
        conversion_rate: 0,
      },
      // Week of Mon 10-12, UNKNOWN: A5 (no region) -> activated on day 0; no contact -> not converted.
      // A8 signs up after as_of: no row.
      {
        cohort_week: '2026-10-12',
        region: 'UNKNOWN',
        signups: 1,
        activated: 1,
        converted_paid: 0,
        activation_rate: 1,
        conversion_rate: 0,
      },
    ]);
  });

  it('kpi_retention: periods 0..3 for two regions, by hand', async () => {
    const rows = await martRows('kpi_retention');
    expect(
      rows.map((r) => [
        r.cohort_month,
        r.region,
        r.period,
        Number(r.accounts),
        Number(r.retained_accounts),
        r.retention_rate,
      ]),
    ).toEqual([
      // 2026-08 EU: A1, A2, A7 -> 3 accounts. Months with usage: A1 Aug Sep Oct Nov; A2 Aug Oct; A7 Aug.
      ['2026-08', 'EU', 0, 3, 3, 1],
      ['2026-08', 'EU', 1, 3, 1, 1 / 3],
      ['2026-08', 'EU', 2, 3, 2, 2 / 3],
      ['2026-08', 'EU', 3, 3, 1, 1 / 3],
      // 2026-08 NA: A3, A4, A6 -> 3. A3 Aug, Sep (only e09, TTL-expired: still retained), Oct, Nov;
      //   A4 Aug, Oct, Nov (e26 on as_of); A6 Aug.
      ['2026-08', 'NA', 0, 3, 3, 1],
      ['2026-08', 'NA', 1, 3, 1, 1 / 3],
      ['2026-08', 'NA', 2, 3, 2, 2 / 3],
      ['2026-08', 'NA', 3, 3, 2, 2 / 3],
      // 2026-10 UNKNOWN: A5 -> Oct yes, Nov (in progress) no. A9 signed up nowhere: in no cohort.
      ['2026-10', 'UNKNOWN', 0, 1, 1, 1],
      ['2026-10', 'UNKNOWN', 1, 1, 0, 0],
    ]);
  });

  it('publishes every KPI mart with all catalog checks passing', async () => {
    for (const mart of KPI_MARTS) {
      const pointer = await resolveLatest(store, goldDataset(mart.name, mart.schemaVersion));
      const names = pointer?.checks.map((c) => c.name) ?? [];
      expect(names).toContain('unique_key');
      expect(names).toContain('allowed_values_region');
      // Every declared range is checked: counts not negative, rates within [0, 1].
      for (const range of mart.checks?.ranges ?? []) expect(names).toContain(`range_${range.column}`);
      expect(pointer?.checks.filter((c) => !c.passed)).toEqual([]);
    }
  });

  it('is deterministic: a rerun gives the same KPI rows', async () => {
    const before = await Promise.all(KPI_MARTS.map((m) => martRows(m.name)));
    await runPipeline({ store, engine, now: clock });
    expect(await Promise.all(KPI_MARTS.map((m) => martRows(m.name)))).toEqual(before);
  });
});

describe('KPI models render for Trino', () => {
  it.each(KPI_MODELS.map((m) => [m.mart.name, m] as const))('%s', (_name, model) => {
    const inputs = renderedInputs(model, trinoDialect);
    const query = model.query({ inputs, asOf: AS_OF, dialect: trinoDialect });
    // Every value is a bound parameter: one `?` per parameter, and as_of never in the text.
    expect(query.text.split('?').length - 1).toBe(query.params.length);
    expect(query.text).not.toContain(AS_OF);
    expect(query.params).toContain(AS_OF);
    // Nothing DuckDB-only.
    for (const duckdbOnly of [
      'INTERVAL 1',
      'generate_series',
      'list_contains',
      'QUALIFY',
      'strftime',
      '::',
    ]) {
      expect(query.text).not.toContain(duckdbOnly);
    }
    // The output columns are the catalog's, in catalog order.
    const select = query.text.slice(query.text.lastIndexOf('SELECT '));
    expect(select).toContain(`SELECT ${model.mart.columns.map((c) => `"${c.name}"`).join(', ')} FROM result`);
    // The same model also renders for DuckDB with the same parameters.
    const duckdbInputs = renderedInputs(model, duckdbDialect);
    expect(model.query({ inputs: duckdbInputs, asOf: AS_OF, dialect: duckdbDialect }).params).toEqual(
      query.params,
    );
  });

  it('uses the Trino spellings of date arithmetic and series', () => {
    const texts = KPI_MODELS.map(
      (m) => m.query({ inputs: renderedInputs(m, trinoDialect), asOf: AS_OF, dialect: trinoDialect }).text,
    ).join('\n');
    expect(texts).toContain("date_add('day', 30, activity_date)");
    expect(texts).toContain("s.signup_at + INTERVAL '14' DAY");
    expect(texts).toContain("date_add('day', 60, s.signup_date)");
    expect(texts).toContain('UNNEST(sequence(');
  });
});
