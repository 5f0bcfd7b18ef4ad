import { customer360 } from '../../catalog/marts/index.js';
import type { SqlDialect } from '../../sql/dialect.js';
import { ident, join, raw, type SqlFragment, sql } from '../../sql/fragment.js';
import { COUNTRY_REGIONS } from '../regions.js';

/** Invoice statuses whose balance is still owed. */
export const OPEN_INVOICE_STATUSES = ['sent', 'viewed', 'overdue', 'partially_paid', 'unpaid'] as const;
/** Invoice statuses that are not revenue. */
export const NON_REVENUE_STATUSES = ['draft', 'void'] as const;

/** The Silver inputs of `customer_360`, as relations of live rows. */
export interface Customer360Inputs {
  readonly contacts: SqlFragment;
  readonly invoices: SqlFragment;
  readonly accounts: SqlFragment;
}

/**
 * The `customer_360` query. Definitions (also in the catalog descriptions):
 * - one row per Zoho contact of type customer (or without a type);
 * - the linked account is the earliest-signed-up live account whose
 *   `zoho_contact_id` is the contact (ties by account_id);
 * - region: the account's, else the billing country's, else `UNKNOWN`;
 * - money in base currency: amount x the invoice's own exchange_rate, rounded
 *   to cents per invoice; draft and void invoices are not revenue;
 * - overdue: open balance whose due date is before `as_of`.
 */
export function customer360Query(inputs: Customer360Inputs, asOf: string, d: SqlDialect): SqlFragment {
  const regionRows = join(
    COUNTRY_REGIONS.map(([country, region]) => sql`(${country}, ${region})`),
    ', ',
  );
  const columns = raw(customer360.columns.map((c) => ident(c.name)).join(', '));
  return sql`WITH
  contacts AS (SELECT * FROM ${inputs.contacts} AS c WHERE coalesce(contact_type, 'customer') = 'customer'),
  accounts AS (
    SELECT * FROM ${inputs.accounts} AS a WHERE zoho_contact_id IS NOT NULL
  ),
  first_accounts AS (
    SELECT * FROM (
      SELECT *, row_number() OVER (PARTITION BY zoho_contact_id ORDER BY signup_at, account_id) AS rn FROM accounts
    ) AS ranked WHERE rn = 1
  ),
  invoices AS (
    SELECT customer_id, invoice_date, due_date, status,
      CAST(round(total * coalesce(exchange_rate, 1), 2) AS DECIMAL(18,2)) AS total_base,
      CAST(round(balance * coalesce(exchange_rate, 1), 2) AS DECIMAL(18,2)) AS balance_base
    FROM ${inputs.invoices} AS i
    WHERE NOT ${d.inList(raw('status'), NON_REVENUE_STATUSES)}
  ),
  invoice_totals AS (
    SELECT customer_id,
      min(invoice_date) AS first_invoice_date,
      sum(total_base) AS lifetime_revenue,
      sum(CASE WHEN ${d.inList(raw('status'), OPEN_INVOICE_STATUSES)} THEN balance_base ELSE 0 END) AS outstanding_balance,
      sum(CASE WHEN ${d.inList(raw('status'), OPEN_INVOICE_STATUSES)} AND due_date < CAST(${asOf} AS DATE)
               THEN balance_base ELSE 0 END) AS overdue_balance
    FROM invoices GROUP BY customer_id
  ),
  country_regions AS (SELECT * FROM (VALUES ${regionRows}) AS r(country, region)),
  result AS (
    SELECT
      c.contact_id AS customer_id,
      a.account_id,
      c.contact_name AS name,
      c.company_name,
      c.email,
      c.phone,
      c.country,
      coalesce(a.region, cr.region, 'UNKNOWN') AS region,
      coalesce(c.customer_sub_type, 'business') AS segment,
      a.plan,
      CAST(a.signup_at AS DATE) AS signup_date,
      t.first_invoice_date,
      CAST(coalesce(t.lifetime_revenue, 0) AS DECIMAL(18,2)) AS lifetime_revenue,
      CAST(coalesce(t.outstanding_balance, 0) AS DECIMAL(18,2)) AS outstanding_balance,
      CAST(coalesce(t.overdue_balance, 0) AS DECIMAL(18,2)) AS overdue_balance,
      CAST(${asOf} AS DATE) AS as_of
    FROM contacts c
    LEFT JOIN first_accounts a ON a.zoho_contact_id = c.contact_id
    LEFT JOIN invoice_totals t ON t.customer_id = c.contact_id
    LEFT JOIN country_regions cr ON cr.country = c.country
  )
  SELECT ${columns} FROM result ORDER BY customer_id`;
}
