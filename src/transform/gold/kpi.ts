import {
  ACTIVATION_DAYS,
  CONVERSION_DAYS,
  kpiDailyUsage,
  kpiFunnel,
  kpiRetention,
  PAID_INVOICE_STATUSES,
} from '../../catalog/marts/kpi.js';
import type { MartDef } from '../../catalog/types.js';
import type { SqlDialect } from '../../sql/dialect.js';
import { ident, join, raw, type SqlFragment, sql } from '../../sql/fragment.js';
import { dynamoAccounts, zohoInvoices } from '../entities.js';
import { monthText, revenueInvoices } from './common.js';
import { type GoldModel, input } from './model.js';
import { usageActivity } from './rollups.js';

/**
 * The operational KPI models. Definitions (days, meaningful events, paid
 * invoices) are constants of the catalog file, whose descriptions document
 * them; this file only turns them into SQL.
 */

/** `SELECT` list of a mart's columns, quoted, in catalog order. */
function martColumns(mart: MartDef): SqlFragment {
  return raw(mart.columns.map((c) => ident(c.name)).join(', '));
}

/** The UTC date of a TIMESTAMP column (timestamps are UTC throughout the lake). */
function utcDay(column: string): SqlFragment {
  return raw(`CAST(${column} AS DATE)`);
}

/** Accounts signed up on or before as_of: `account_id, zoho_contact_id, region, signup_at, signup_date`. */
function signedUpAccounts(accounts: SqlFragment, asOf: string): SqlFragment {
  return sql`SELECT account_id, zoho_contact_id, coalesce(region, 'UNKNOWN') AS region, signup_at,
      ${utcDay('signup_at')} AS signup_date
    FROM ${accounts} AS a
    WHERE ${utcDay('signup_at')} <= CAST(${asOf} AS DATE)`;
}

/** The region list the dense daily grid spans: the catalog's allowed values. */
function regionValues(): SqlFragment {
  const regions = kpiDailyUsage.columns.find((c) => c.name === 'region')?.values ?? [];
  return join(
    regions.map((r) => sql`(${r})`),
    ', ',
  );
}

/** Silver inputs of `kpi_daily_usage`. */
export interface DailyUsageInputs {
  /** The `usage_activity` rollup: one row per (account, user, UTC day). */
  readonly activity: SqlFragment;
  readonly accounts: SqlFragment;
}

/**
 * `kpi_daily_usage`. WAU and MAU without a per-day cross join of users: each
 * user-day opens a span that ends at the user's next active day or after
 * 7 (30) days, whichever comes first. A user's spans never overlap, so the
 * number of spans covering a date is the number of distinct users active in
 * the window ending there, and a running sum of +1 (span start) / -1 (span
 * end) per region over the dates gives it. The work is linear in distinct
 * user-days, not in users x days x window. Moves dated after as_of fall
 * outside the grid: they only concern later dates.
 *
 * Events arrive reduced to (account, user, day) by the `usage_activity`
 * rollup, so no pass here reads raw events. A user seen in two
 * accounts of one region on one day yields two rows there; the first one's
 * span ends where it starts (its next row is the same day), so it adds and
 * removes itself on that day and the running sums stay exact. DAU is counted
 * distinct per day for the same reason. The account join is a LEFT JOIN: an
 * event outlives a deleted account, and then counts as `UNKNOWN`.
 */
export function dailyUsageQuery(inputs: DailyUsageInputs, asOf: string, d: SqlDialect): SqlFragment {
  const windowEnd = (days: number): SqlFragment =>
    sql`least(coalesce(next_date, ${d.addDays(raw('activity_date'), days)}), ${d.addDays(raw('activity_date'), days)})`;
  return sql`WITH
  activity AS (
    SELECT account_id, user_id, activity_date, events
    FROM ${inputs.activity} AS e
    WHERE activity_date <= CAST(${asOf} AS DATE)
  ),
  regional AS (
    SELECT coalesce(a.region, 'UNKNOWN') AS region, t.account_id, t.user_id, t.activity_date, t.events
    FROM activity t
    LEFT JOIN (SELECT account_id, region FROM ${inputs.accounts} AS a0) AS a ON a.account_id = t.account_id
  ),
  daily AS (
    SELECT region, activity_date, sum(events) AS events, count(DISTINCT account_id) AS active_accounts,
      count(DISTINCT user_id) AS dau
    FROM regional GROUP BY region, activity_date
  ),
  spans AS (
    SELECT region, activity_date,
      lead(activity_date) OVER (PARTITION BY region, user_id ORDER BY activity_date) AS next_date
    FROM regional WHERE user_id IS NOT NULL
  ),
  moves AS (
    SELECT region, activity_date AS move_date, 1 AS wau, 1 AS mau FROM spans
    UNION ALL
    SELECT region, ${windowEnd(7)} AS move_date, -1 AS wau, 0 AS mau FROM spans
    UNION ALL
    SELECT region, ${windowEnd(30)} AS move_date, 0 AS wau, -1 AS mau FROM spans
  ),
  user_moves AS (
    SELECT region, move_date, sum(wau) AS wau_delta, sum(mau) AS mau_delta
    FROM moves GROUP BY region, move_date
  ),
  bounds AS (
    SELECT coalesce(min(activity_date), CAST(${asOf} AS DATE)) AS first_date FROM daily
  ),
  grid AS (
    SELECT r.region, s.series_date
    FROM (SELECT * FROM (VALUES ${regionValues()}) AS r0(region)) AS r
    CROSS JOIN ${d.dateSeries(raw('(SELECT first_date FROM bounds)'), sql`CAST(${asOf} AS DATE)`, 'day', 's', 'series_date')}
  ),
  result AS (
    SELECT
      g.series_date AS ${raw(ident('date'))},
      g.region,
      CAST(coalesce(x.dau, 0) AS BIGINT) AS dau,
      CAST(sum(coalesce(u.wau_delta, 0)) OVER (PARTITION BY g.region ORDER BY g.series_date
        ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS BIGINT) AS wau,
      CAST(sum(coalesce(u.mau_delta, 0)) OVER (PARTITION BY g.region ORDER BY g.series_date
        ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS BIGINT) AS mau,
      CAST(coalesce(x.events, 0) AS BIGINT) AS events,
      CAST(coalesce(x.active_accounts, 0) AS BIGINT) AS active_accounts
    FROM grid g
    LEFT JOIN user_moves u ON u.region = g.region AND u.move_date = g.series_date
    LEFT JOIN daily x ON x.region = g.region AND x.activity_date = g.series_date
  )
  SELECT ${martColumns(kpiDailyUsage)} FROM result ORDER BY ${raw(ident('date'))}, region`;
}

/** Silver inputs of `kpi_funnel`. */
export interface FunnelInputs {
  /** The `usage_activity` rollup. */
  readonly activity: SqlFragment;
  readonly accounts: SqlFragment;
  readonly invoices: SqlFragment;
}

/**
 * `kpi_funnel`: signups per ISO week (Monday) and region; activated and
 * converted are existence tests inside a window after the signup (both ends
 * included). Activation compares instants (14 x 24 hours after signup_at),
 * because events carry a time: a day of the rollup holds a meaningful event
 * in the window iff its last one is at or after the start and its first one
 * at or before the end (see `usageActivity`). Conversion compares calendar
 * dates, because an invoice has only a date.
 */
export function funnelQuery(inputs: FunnelInputs, asOf: string, d: SqlDialect): SqlFragment {
  // An elapsed time on TIMESTAMPs: `INTERVAL 'n' DAY` is spelled the same in DuckDB and Trino.
  const activationWindow = raw(`INTERVAL '${Math.trunc(ACTIVATION_DAYS)}' DAY`);
  return sql`WITH
  signups AS (${signedUpAccounts(inputs.accounts, asOf)}),
  activated AS (
    SELECT DISTINCT s.account_id
    FROM signups s
    JOIN ${inputs.activity} AS e ON e.account_id = s.account_id
    WHERE e.meaningful_last_at >= s.signup_at
      AND e.meaningful_first_at <= s.signup_at + ${activationWindow}
      AND e.activity_date <= CAST(${asOf} AS DATE)
  ),
  invoices AS (${revenueInvoices(inputs.invoices, d)}),
  converted AS (
    SELECT DISTINCT s.account_id
    FROM signups s
    JOIN invoices i ON i.customer_id = s.zoho_contact_id
    WHERE ${d.inList(raw('i.status'), PAID_INVOICE_STATUSES)} AND i.total > 0
      AND i.invoice_date >= s.signup_date
      AND i.invoice_date <= ${d.addDays(raw('s.signup_date'), CONVERSION_DAYS)}
      AND i.invoice_date <= CAST(${asOf} AS DATE)
  ),
  result AS (
    SELECT
      CAST(date_trunc('week', s.signup_date) AS DATE) AS cohort_week,
      s.region,
      count(*) AS signups,
      count(a.account_id) AS activated,
      count(c.account_id) AS converted_paid,
      CAST(count(a.account_id) AS DOUBLE) / count(*) AS activation_rate,
      CAST(count(c.account_id) AS DOUBLE) / count(*) AS conversion_rate
    FROM signups s
    LEFT JOIN activated a ON a.account_id = s.account_id
    LEFT JOIN converted c ON c.account_id = s.account_id
    GROUP BY CAST(date_trunc('week', s.signup_date) AS DATE), s.region
  )
  SELECT ${martColumns(kpiFunnel)} FROM result ORDER BY cohort_week, region`;
}

/** Silver inputs of `kpi_retention`. */
export interface RetentionInputs {
  /** The `usage_activity` rollup. */
  readonly activity: SqlFragment;
  readonly accounts: SqlFragment;
}

/**
 * `kpi_retention`: every cohort gets every period up to the month of as_of
 * (a zero is a fact, not a gap). Usage (the daily rollup) is first reduced
 * to distinct (account, month) pairs, so the join with cohorts is small.
 */
export function retentionQuery(inputs: RetentionInputs, asOf: string, d: SqlDialect): SqlFragment {
  const asOfMonth = sql`CAST(date_trunc('month', CAST(${asOf} AS DATE)) AS DATE)`;
  return sql`WITH
  cohort_accounts AS (
    SELECT account_id, region, CAST(date_trunc('month', signup_date) AS DATE) AS cohort_start
    FROM (${signedUpAccounts(inputs.accounts, asOf)}) AS s
  ),
  cohorts AS (
    SELECT cohort_start, region, count(*) AS accounts FROM cohort_accounts GROUP BY cohort_start, region
  ),
  months AS (
    SELECT m.series_month
    FROM ${d.dateSeries(raw('(SELECT min(cohort_start) FROM cohorts)'), asOfMonth, 'month', 'm', 'series_month')}
  ),
  active_months AS (
    SELECT DISTINCT account_id, CAST(date_trunc('month', activity_date) AS DATE) AS activity_month
    FROM ${inputs.activity} AS e
    WHERE activity_date <= CAST(${asOf} AS DATE)
  ),
  retained AS (
    SELECT c.cohort_start, c.region, m.activity_month, count(*) AS retained_accounts
    FROM cohort_accounts c
    JOIN active_months m ON m.account_id = c.account_id AND m.activity_month >= c.cohort_start
    GROUP BY c.cohort_start, c.region, m.activity_month
  ),
  result AS (
    SELECT
      ${monthText(raw('c.cohort_start'))} AS cohort_month,
      c.region,
      CAST(date_diff('month', c.cohort_start, m.series_month) AS INTEGER) AS period,
      c.accounts,
      CAST(coalesce(r.retained_accounts, 0) AS BIGINT) AS retained_accounts,
      CAST(coalesce(r.retained_accounts, 0) AS DOUBLE) / c.accounts AS retention_rate
    FROM cohorts c
    JOIN months m ON m.series_month >= c.cohort_start
    LEFT JOIN retained r
      ON r.cohort_start = c.cohort_start AND r.region = c.region AND r.activity_month = m.series_month
  )
  SELECT ${martColumns(kpiRetention)} FROM result ORDER BY cohort_month, region, period`;
}

/** Operational KPI marts' models (kpi_daily_usage, kpi_funnel, kpi_retention). */
export const KPI_MODELS: readonly GoldModel[] = [
  {
    mart: kpiDailyUsage,
    inputs: { activity: usageActivity, accounts: dynamoAccounts },
    query: (ctx) =>
      dailyUsageQuery(
        { activity: input(ctx, 'activity'), accounts: input(ctx, 'accounts') },
        ctx.asOf,
        ctx.dialect,
      ),
  },
  {
    mart: kpiFunnel,
    inputs: { activity: usageActivity, accounts: dynamoAccounts, invoices: zohoInvoices },
    query: (ctx) =>
      funnelQuery(
        {
          activity: input(ctx, 'activity'),
          accounts: input(ctx, 'accounts'),
          invoices: input(ctx, 'invoices'),
        },
        ctx.asOf,
        ctx.dialect,
      ),
  },
  {
    mart: kpiRetention,
    inputs: { activity: usageActivity, accounts: dynamoAccounts },
    query: (ctx) =>
      retentionQuery(
        { activity: input(ctx, 'activity'), accounts: input(ctx, 'accounts') },
        ctx.asOf,
        ctx.dialect,
      ),
  },
];
