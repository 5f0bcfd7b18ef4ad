import { customer360 } from '../../catalog/marts/index.js';
import type { SqlDialect } from '../../sql/dialect.js';
import { ident, join, raw, type SqlFragment, sql } from '../../sql/fragment.js';
import { customerDimension, OPEN_INVOICE_STATUSES, revenueInvoices } from './common.js';

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
  const columns = raw(customer360.columns.map((c) => ident(c.name)).join(', '));
  return sql`WITH
  contacts AS (SELECT * FROM ${inputs.contacts} AS c WHERE coalesce(contact_type, 'customer') = 'customer'),
  customers AS (${customerDimension(inputs.contacts, inputs.accounts)}),
  invoices AS (${revenueInvoices(inputs.invoices, d)}),
  invoice_totals AS (
    SELECT customer_id,
      min(invoice_date) AS first_invoice_date,
      sum(total_base) AS lifetime_revenue,
      sum(CASE WHEN ${d.inList(raw('status'), OPEN_INVOICE_STATUSES)} THEN balance_base ELSE 0 END) AS outstanding_balance,
      sum(CASE WHEN ${d.inList(raw('status'), OPEN_INVOICE_STATUSES)} AND due_date < CAST(${asOf} AS DATE)
               THEN balance_base ELSE 0 END) AS overdue_balance
    FROM invoices GROUP BY customer_id
  ),
  result AS (
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
      CAST(k.signup_at AS DATE) AS signup_date,
      t.first_invoice_date,
      CAST(coalesce(t.lifetime_revenue, 0) AS DECIMAL(18,2)) AS lifetime_revenue,
      CAST(coalesce(t.outstanding_balance, 0) AS DECIMAL(18,2)) AS outstanding_balance,
      CAST(coalesce(t.overdue_balance, 0) AS DECIMAL(18,2)) AS overdue_balance,
      CAST(${asOf} AS DATE) AS as_of
    FROM contacts c
    JOIN customers k ON k.customer_id = c.contact_id
    LEFT JOIN invoice_totals t ON t.customer_id = c.contact_id
  )
  SELECT ${columns} FROM result ORDER BY customer_id`;
}
