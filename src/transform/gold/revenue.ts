import {
  ENDED_PROFILE_STATUSES,
  type MrrMovement,
  mrrMonthly,
  revenueCohorts,
} from '../../catalog/marts/revenue.js';
import type { MartDef } from '../../catalog/types.js';
import type { SqlDialect } from '../../sql/dialect.js';
import { ident, raw, type SqlFragment, sql } from '../../sql/fragment.js';
import { dynamoAccounts, zohoContacts, zohoInvoices, zohoRecurringInvoices } from '../entities.js';
import { customerDimension, monthText, revenueInvoices, toBase } from './common.js';
import { type GoldModel, input } from './model.js';

/**
 * The recurring-revenue models. The definitions (MRR of a profile, the month
 * snapshot, movements, cohorts) are stated in `catalog/marts/revenue.ts`,
 * whose descriptions the API publishes; this file turns them into SQL, and
 * exports the profile blocks `customer_360` reuses for its `mrr`.
 */

/** `SELECT` list of a mart's columns, quoted, in catalog order. */
function martColumns(mart: MartDef): SqlFragment {
  return raw(mart.columns.map((c) => ident(c.name)).join(', '));
}

function asOfDate(asOf: string): SqlFragment {
  return sql`CAST(${asOf} AS DATE)`;
}

/** The first day of the month of a DATE. */
function monthStart(date: SqlFragment): SqlFragment {
  return sql`CAST(date_trunc('month', ${date}) AS DATE)`;
}

/**
 * Recurring-invoice profiles with their monthly amount (`MRR_DEFINITION`):
 * `recurring_invoice_id, customer_id, start_date, effective_end, monthly_base`.
 * A profile that ends before it starts never counted and is left out.
 */
export function recurringProfiles(recurring: SqlFragment, d: SqlDialect): SqlFragment {
  // Normalised in DOUBLE and rounded once to cents: DuckDB divides decimals as
  // DOUBLE anyway, and an exact decimal division would round differently on Trino.
  const amount = sql`CAST(${toBase(raw('r.total'), raw('r.exchange_rate'))} AS DOUBLE)`;
  const every = raw('greatest(coalesce(r.repeat_every, 1), 1)');
  return sql`SELECT recurring_invoice_id, customer_id, start_date, effective_end, monthly_base FROM (
      SELECT r.recurring_invoice_id, r.customer_id, r.start_date,
        CASE WHEN ${d.inList(raw('r.status'), ENDED_PROFILE_STATUSES)}
             THEN coalesce(r.end_date, CAST(r.last_modified_time AS DATE))
             ELSE r.end_date END AS effective_end,
        CAST(round(CASE r.recurrence_frequency
            WHEN ${'weeks'} THEN ${amount} * 52 / (12 * ${every})
            WHEN ${'months'} THEN ${amount} / ${every}
            WHEN ${'years'} THEN ${amount} / (12 * ${every})
          END, 2) AS DECIMAL(18,2)) AS monthly_base
      FROM ${recurring} AS r
    ) AS p
    WHERE effective_end IS NULL OR effective_end >= start_date`;
}

/** SQL: the profile under `alias` counts at `date` (started, and not ended before it). */
export function profileCountsAt(alias: string, date: SqlFragment): SqlFragment {
  const p = raw(alias);
  return sql`(${p}.start_date <= ${date} AND (${p}.effective_end IS NULL OR ${p}.effective_end >= ${date}))`;
}

/**
 * Per customer with a profile, over a `profiles` relation (`recurringProfiles`):
 * `customer_id, mrr` (at as_of), `had_mrr` (a profile worth more than 0
 * started on or before as_of) and `last_mrr_day` (the last day such a profile
 * counted; meaningful when mrr is 0).
 */
export function subscriptionAt(profiles: SqlFragment, asOf: string): SqlFragment {
  const day = asOfDate(asOf);
  const paying = sql`p.monthly_base > 0 AND p.start_date <= ${day}`;
  return sql`SELECT p.customer_id,
      CAST(sum(CASE WHEN ${profileCountsAt('p', day)} THEN p.monthly_base ELSE 0 END) AS DECIMAL(18,2)) AS mrr,
      max(CASE WHEN ${paying} THEN 1 ELSE 0 END) = 1 AS had_mrr,
      max(CASE WHEN ${paying} THEN p.effective_end END) AS last_mrr_day
    FROM ${profiles} AS p
    GROUP BY p.customer_id`;
}

/** The Silver inputs of `mrr_monthly`. */
export interface MrrMonthlyInputs {
  readonly contacts: SqlFragment;
  readonly accounts: SqlFragment;
  readonly recurringInvoices: SqlFragment;
}

const movement = (m: MrrMovement): MrrMovement => m;

/**
 * The `mrr_monthly` query: a customer x month grid from the month of the
 * customer's first paying profile through as_of's month, MRR at each month's
 * snapshot date, then movements against the month before. The grid is dense
 * so that `lag` sees zero months; rows of zero MRR are then dropped unless
 * they are the churn month.
 */
export function mrrMonthlyQuery(inputs: MrrMonthlyInputs, asOf: string, d: SqlDialect): SqlFragment {
  const day = asOfDate(asOf);
  const lastDay = d.addDays(d.addMonths(raw('month_start'), 1), -1);
  return sql`WITH
  customers AS (${customerDimension(inputs.contacts, inputs.accounts)}),
  profiles AS (${recurringProfiles(inputs.recurringInvoices, d)}),
  firsts AS (
    SELECT customer_id, ${monthStart(raw('min(start_date)'))} AS first_month
    FROM profiles WHERE monthly_base > 0 AND start_date <= ${day}
    GROUP BY customer_id
  ),
  months AS (
    SELECT month_start, least(${lastDay}, ${day}) AS snapshot_date
    FROM ${d.dateSeries(raw('(SELECT min(first_month) FROM firsts)'), monthStart(day), 'month', 'series', 'month_start')}
  ),
  monthly AS (
    SELECT f.customer_id, m.month_start,
      CAST(coalesce(sum(p.monthly_base), 0) AS DECIMAL(18,2)) AS mrr
    FROM firsts AS f
    JOIN months AS m ON m.month_start >= f.first_month
    LEFT JOIN profiles AS p ON p.customer_id = f.customer_id AND ${profileCountsAt('p', raw('m.snapshot_date'))}
    GROUP BY f.customer_id, m.month_start
  ),
  history AS (
    SELECT customer_id, month_start, mrr,
      coalesce(lag(mrr) OVER (PARTITION BY customer_id ORDER BY month_start), 0) AS prev_mrr,
      min(CASE WHEN mrr > 0 THEN month_start END) OVER (PARTITION BY customer_id) AS first_mrr_month
    FROM monthly
  ),
  result AS (
    SELECT
      ${monthText(raw('h.month_start'))} AS month,
      h.customer_id,
      coalesce(k.region, 'UNKNOWN') AS region,
      h.mrr,
      CAST(12 * h.mrr AS DECIMAL(18,2)) AS arr,
      CASE WHEN h.month_start = h.first_mrr_month THEN ${movement('new')}
           WHEN h.mrr = 0 THEN ${movement('churn')}
           WHEN h.prev_mrr = 0 THEN ${movement('reactivation')}
           WHEN h.mrr > h.prev_mrr THEN ${movement('expansion')}
           WHEN h.mrr < h.prev_mrr THEN ${movement('contraction')}
           ELSE ${movement('flat')} END AS movement,
      CAST(h.mrr - h.prev_mrr AS DECIMAL(18,2)) AS mrr_delta
    FROM history AS h
    LEFT JOIN customers AS k ON k.customer_id = h.customer_id
    WHERE h.month_start >= h.first_mrr_month AND (h.mrr > 0 OR h.prev_mrr > 0)
  )
  SELECT ${martColumns(mrrMonthly)} FROM result ORDER BY month, customer_id`;
}

/**
 * The `revenue_cohorts` query: customers by the month of their first revenue
 * invoice (dated on or before as_of), then per month since, who was invoiced
 * and for how much. Every period through as_of's month is a row, zeros included.
 */
export function revenueCohortsQuery(invoices: SqlFragment, asOf: string, d: SqlDialect): SqlFragment {
  const day = asOfDate(asOf);
  return sql`WITH
  invoices AS (
    SELECT i.customer_id, ${monthStart(raw('i.invoice_date'))} AS month_start, i.total_base
    FROM (${revenueInvoices(invoices, d)}) AS i
    WHERE i.invoice_date <= ${day}
  ),
  firsts AS (SELECT customer_id, min(month_start) AS cohort_start FROM invoices GROUP BY customer_id),
  cohorts AS (SELECT cohort_start, count(*) AS customers FROM firsts GROUP BY cohort_start),
  months AS (
    SELECT month_start
    FROM ${d.dateSeries(raw('(SELECT min(cohort_start) FROM cohorts)'), monthStart(day), 'month', 'series', 'month_start')}
  ),
  activity AS (
    SELECT f.cohort_start, i.month_start,
      count(DISTINCT i.customer_id) AS active_customers, sum(i.total_base) AS revenue_base
    FROM invoices AS i
    JOIN firsts AS f ON f.customer_id = i.customer_id
    GROUP BY f.cohort_start, i.month_start
  ),
  result AS (
    SELECT
      ${monthText(raw('c.cohort_start'))} AS cohort_month,
      CAST(date_diff('month', c.cohort_start, m.month_start) AS INTEGER) AS period,
      CAST(c.customers AS INTEGER) AS customers,
      CAST(coalesce(a.active_customers, 0) AS INTEGER) AS active_customers,
      CAST(coalesce(a.revenue_base, 0) AS DECIMAL(18,2)) AS revenue_base,
      CAST(coalesce(a.active_customers, 0) AS DOUBLE) / CAST(c.customers AS DOUBLE) AS retention_rate
    FROM cohorts AS c
    JOIN months AS m ON m.month_start >= c.cohort_start
    LEFT JOIN activity AS a ON a.cohort_start = c.cohort_start AND a.month_start = m.month_start
  )
  SELECT ${martColumns(revenueCohorts)} FROM result ORDER BY cohort_month, period`;
}

/** Recurring-revenue marts' models (mrr_monthly, revenue_cohorts). */
export const REVENUE_MODELS: readonly GoldModel[] = [
  {
    mart: mrrMonthly,
    inputs: { contacts: zohoContacts, accounts: dynamoAccounts, recurringInvoices: zohoRecurringInvoices },
    query: (ctx) =>
      mrrMonthlyQuery(
        {
          contacts: input(ctx, 'contacts'),
          accounts: input(ctx, 'accounts'),
          recurringInvoices: input(ctx, 'recurringInvoices'),
        },
        ctx.asOf,
        ctx.dialect,
      ),
  },
  {
    mart: revenueCohorts,
    inputs: { invoices: zohoInvoices },
    query: (ctx) => revenueCohortsQuery(input(ctx, 'invoices'), ctx.asOf, ctx.dialect),
  },
];
