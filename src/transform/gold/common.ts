import type { SqlDialect } from '../../sql/dialect.js';
import { join, raw, type SqlFragment, sql } from '../../sql/fragment.js';
import { COUNTRY_REGIONS } from '../regions.js';

/**
 * Building blocks every mart shares, so that a definition (a customer's
 * region, an amount in base currency, what counts as open) is written once.
 * Each returns the body of a CTE: use as `name AS (${block})`.
 */

/** Invoice statuses whose balance is still owed. */
export const OPEN_INVOICE_STATUSES = ['sent', 'viewed', 'overdue', 'partially_paid', 'unpaid'] as const;
/** Invoice statuses that are not revenue. */
export const NON_REVENUE_STATUSES = ['draft', 'void'] as const;

/**
 * One row per customer with its linked account and region:
 * `customer_id, account_id, region, plan, seats, signup_at, account_status`.
 * Customers are Zoho contacts of type customer (or no type). The linked account is
 * the earliest-signed-up live account whose `zoho_contact_id` is the contact
 * (ties by account_id). Region: the account's, else the billing country's,
 * else `UNKNOWN`.
 */
export function customerDimension(contacts: SqlFragment, accounts: SqlFragment): SqlFragment {
  const regionRows = join(
    COUNTRY_REGIONS.map(([country, region]) => sql`(${country}, ${region})`),
    ', ',
  );
  return sql`SELECT c.contact_id AS customer_id, a.account_id, coalesce(a.region, cr.region, 'UNKNOWN') AS region,
      a.plan, a.seats, a.signup_at, a.status AS account_status
    FROM (SELECT * FROM ${contacts} AS c0 WHERE coalesce(contact_type, 'customer') = 'customer') AS c
    LEFT JOIN (
      SELECT * FROM (
        SELECT a0.*, row_number() OVER (PARTITION BY zoho_contact_id ORDER BY signup_at, account_id) AS rn
        FROM ${accounts} AS a0 WHERE zoho_contact_id IS NOT NULL
      ) AS ranked WHERE rn = 1
    ) AS a ON a.zoho_contact_id = c.contact_id
    LEFT JOIN (SELECT * FROM (VALUES ${regionRows}) AS r(country, region)) AS cr ON cr.country = c.country`;
}

/** An amount in base currency: x the document's own exchange_rate (1 when missing), rounded to cents. */
export function toBase(amount: SqlFragment, rate: SqlFragment): SqlFragment {
  return sql`CAST(round(${amount} * coalesce(${rate}, 1), 2) AS DECIMAL(18,2))`;
}

/** Base amounts and "open" of a Silver invoice row: the select list both invoice blocks below share. */
function invoiceAmounts(d: SqlDialect): SqlFragment {
  return sql`${toBase(raw('total'), raw('exchange_rate'))} AS total_base,
      ${toBase(raw('balance'), raw('exchange_rate'))} AS balance_base,
      (${d.inList(raw('status'), OPEN_INVOICE_STATUSES)} AND balance > 0) AS is_open`;
}

/**
 * Invoices that are revenue (not draft, not void) with amounts in base
 * currency: amount x the invoice's own exchange_rate, rounded to cents per
 * invoice. Columns: every Silver invoice column plus `total_base`,
 * `balance_base`, `is_open`.
 */
export function revenueInvoices(invoices: SqlFragment, d: SqlDialect): SqlFragment {
  return sql`SELECT i.*,
      ${invoiceAmounts(d)}
    FROM ${invoices} AS i
    WHERE NOT ${d.inList(raw('status'), NON_REVENUE_STATUSES)}`;
}

/**
 * Every invoice with a status, revenue or not, in one pass over Silver: the
 * columns of `revenueInvoices` plus `is_revenue`. Its rows with `is_revenue`
 * are exactly `revenueInvoices`' (same amounts, same `is_open`); a draft or
 * void invoice is never open, its status being none of the open ones.
 */
export function statusedInvoices(invoices: SqlFragment, d: SqlDialect): SqlFragment {
  return sql`SELECT i.*,
      ${invoiceAmounts(d)},
      NOT ${d.inList(raw('status'), NON_REVENUE_STATUSES)} AS is_revenue
    FROM ${invoices} AS i
    WHERE status IS NOT NULL`;
}

/** `YYYY-MM` of a DATE: ISO text sorts like the date, so month ranges prune partitions. */
export function monthText(date: SqlFragment): SqlFragment {
  return sql`substr(CAST(${date} AS VARCHAR), 1, 7)`;
}

/** Days from an invoice's due date (its invoice date when it has none) to `asOf`; negative when not yet due. */
export function daysPastDue(alias: string, asOf: string): SqlFragment {
  return sql`date_diff('day', coalesce(${raw(alias)}.due_date, ${raw(alias)}.invoice_date), CAST(${asOf} AS DATE))`;
}
