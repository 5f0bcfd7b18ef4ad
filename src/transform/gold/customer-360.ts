import { AT_RISK_OVERDUE_DAYS, customer360, type LifecycleStage } from '../../catalog/marts/customer.js';
import type { SqlDialect } from '../../sql/dialect.js';
import { ident, raw, type SqlFragment, sql } from '../../sql/fragment.js';
import { customerDimension, daysPastDue, revenueInvoices } from './common.js';
import { type HealthBand, healthBandSql, healthScoreSql } from './health.js';
import { recurringProfiles, subscriptionAt } from './revenue.js';

/** The Silver inputs of `customer_360`, as relations of live rows. */
export interface Customer360Inputs {
  readonly contacts: SqlFragment;
  readonly invoices: SqlFragment;
  readonly accounts: SqlFragment;
  readonly recurringInvoices: SqlFragment;
  readonly users: SqlFragment;
  /** The `usage_activity` rollup: one row per (account, user, UTC day). */
  readonly activity: SqlFragment;
}

const stage = (s: LifecycleStage): LifecycleStage => s;
const band = (b: HealthBand): HealthBand => b;

/**
 * The `customer_360` query. Definitions (also in the catalog descriptions):
 * - one row per Zoho contact of type customer (or without a type);
 * - the linked account, region, base amounts and revenue invoices are the
 *   shared blocks of `common.ts`; usage is that of the linked account only;
 * - overdue: open balance past due at as_of (`daysPastDue` > 0, as ar_aging);
 * - mrr: the recurring-profile rules of `revenue.ts` at as_of, the same
 *   figure mrr_monthly holds for as_of's month;
 * - health: `health.ts`; lifecycle: `LIFECYCLE_RULES` in the catalog, in
 *   the same order as the CASE below.
 *
 * Usage is read from the daily `usage_activity` rollup (the 30-day windows
 * are whole days) and reduced to one row per (account, user); logins join
 * that small relation, and the distinct user count per account runs over it.
 */
export function customer360Query(inputs: Customer360Inputs, asOf: string, d: SqlDialect): SqlFragment {
  const columns = raw(customer360.columns.map((c) => ident(c.name)).join(', '));
  const day = sql`CAST(${asOf} AS DATE)`;
  const pastDue = daysPastDue('i', asOf);
  const from30 = d.addDays(day, -29);
  return sql`WITH
  contacts AS (SELECT * FROM ${inputs.contacts} AS c WHERE coalesce(contact_type, 'customer') = 'customer'),
  customers AS (${customerDimension(inputs.contacts, inputs.accounts)}),
  invoices AS (${revenueInvoices(inputs.invoices, d)}),
  invoice_totals AS (
    SELECT i.customer_id,
      min(i.invoice_date) AS first_invoice_date,
      sum(i.total_base) AS lifetime_revenue,
      sum(CASE WHEN i.is_open THEN i.balance_base ELSE 0 END) AS outstanding_balance,
      sum(CASE WHEN i.is_open AND ${pastDue} > 0 THEN i.balance_base ELSE 0 END) AS overdue_balance,
      max(CASE WHEN i.is_open AND ${pastDue} > 0 THEN ${pastDue} END) AS days_overdue
    FROM invoices AS i
    GROUP BY i.customer_id
  ),
  profiles AS (${recurringProfiles(inputs.recurringInvoices, d)}),
  subscriptions AS (${subscriptionAt(raw('profiles'), asOf)}),
  user_events AS (
    SELECT e.account_id, e.user_id,
      sum(CASE WHEN e.activity_date >= ${from30} THEN e.events ELSE 0 END) AS events_30d,
      sum(CASE WHEN e.activity_date BETWEEN ${d.addDays(day, -59)} AND ${d.addDays(day, -30)}
               THEN e.events ELSE 0 END) AS events_prev_30d,
      max(e.last_at) AS activity_at
    FROM ${inputs.activity} AS e
    WHERE e.activity_date <= ${day}
    GROUP BY e.account_id, e.user_id
  ),
  user_activity AS (
    SELECT account_id, user_id, events_30d, events_prev_30d, activity_at FROM user_events
    UNION ALL
    SELECT u.account_id, u.user_id, 0 AS events_30d, 0 AS events_prev_30d, u.last_login_at AS activity_at
    FROM ${inputs.users} AS u
    WHERE CAST(u.last_login_at AS DATE) <= ${day}
  ),
  account_usage AS (
    SELECT a.account_id,
      sum(a.events_30d) AS events_30d,
      sum(a.events_prev_30d) AS events_prev_30d,
      count(DISTINCT CASE WHEN CAST(a.activity_at AS DATE) >= ${from30} THEN a.user_id END) AS active_users_30d,
      max(a.activity_at) AS last_activity_at
    FROM user_activity AS a
    GROUP BY a.account_id
  ),
  facts AS (
    SELECT
      c.contact_id AS customer_id,
      k.account_id,
      c.contact_name AS name,
      c.company_name,
      c.email,
      c.phone,
      c.country,
      k.region,
      coalesce(c.customer_sub_type, 'business') AS segment,
      k.plan,
      k.seats,
      CAST(k.signup_at AS DATE) AS signup_date,
      t.first_invoice_date,
      u.last_activity_at,
      CAST(coalesce(u.active_users_30d, 0) AS INTEGER) AS active_users_30d,
      CAST(coalesce(u.events_30d, 0) AS INTEGER) AS events_30d,
      CAST(coalesce(u.events_prev_30d, 0) AS INTEGER) AS events_prev_30d,
      CAST(coalesce(s.mrr, 0) AS DECIMAL(18,2)) AS mrr,
      CAST(12 * coalesce(s.mrr, 0) AS DECIMAL(18,2)) AS arr,
      coalesce(s.had_mrr, FALSE) AS had_mrr,
      s.last_mrr_day,
      CAST(coalesce(t.lifetime_revenue, 0) AS DECIMAL(18,2)) AS lifetime_revenue,
      CAST(coalesce(t.outstanding_balance, 0) AS DECIMAL(18,2)) AS outstanding_balance,
      CAST(coalesce(t.overdue_balance, 0) AS DECIMAL(18,2)) AS overdue_balance,
      CAST(coalesce(t.days_overdue, 0) AS INTEGER) AS days_overdue,
      ${day} AS as_of
    FROM contacts AS c
    JOIN customers AS k ON k.customer_id = c.contact_id
    LEFT JOIN invoice_totals AS t ON t.customer_id = c.contact_id
    LEFT JOIN subscriptions AS s ON s.customer_id = c.contact_id
    LEFT JOIN account_usage AS u ON u.account_id = k.account_id
  ),
  scored AS (SELECT i.*, ${healthScoreSql()} AS health_score FROM facts AS i),
  banded AS (SELECT s.*, ${healthBandSql(raw('s.health_score'))} AS health_band FROM scored AS s),
  result AS (
    SELECT b.*,
      CASE
        WHEN b.mrr > 0 AND (b.health_band = ${band('red')} OR b.days_overdue > ${raw(String(AT_RISK_OVERDUE_DAYS))})
          THEN ${stage('at_risk')}
        WHEN b.mrr > 0 THEN ${stage('active')}
        WHEN b.had_mrr AND b.last_mrr_day <= ${d.addMonths(raw('b.as_of'), -1)} THEN ${stage('churned')}
        WHEN b.had_mrr THEN ${stage('at_risk')}
        WHEN b.account_id IS NULL THEN ${stage('lead')}
        ELSE ${stage('trial')}
      END AS lifecycle_stage
    FROM banded AS b
  )
  SELECT ${columns} FROM result ORDER BY customer_id`;
}
