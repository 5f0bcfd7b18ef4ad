import { arAging, invoices, payments, UNAPPLIED_INVOICE_ID } from '../../catalog/marts/finance.js';
import type { MartDef } from '../../catalog/types.js';
import type { SqlDialect } from '../../sql/dialect.js';
import { ident, param, raw, type SqlFragment, sql } from '../../sql/fragment.js';
import { dynamoAccounts, zohoContacts, zohoCustomerPayments, zohoInvoices } from '../entities.js';
import {
  customerDimension,
  daysPastDue,
  monthText,
  revenueInvoices,
  statusedInvoices,
  toBase,
} from './common.js';
import { changedRows, type GoldModel, type IncrementalContext, input } from './model.js';

/**
 * Finance marts. Definitions live in the catalog descriptions
 * (`src/catalog/marts/finance.ts`); the SQL below is written once for DuckDB
 * and Trino, with every differing construct going through the dialect.
 */

/**
 * Every invoice, whatever its status, with `total_base`, `balance_base`,
 * `is_open` and `is_revenue`: `statusedInvoices`, whose revenue rows are
 * `revenueInvoices`' (the one definition of base amounts and of "open"). One
 * pass over Silver, not one per kind of invoice.
 */
export function invoiceDocuments(silverInvoices: SqlFragment, d: SqlDialect): SqlFragment {
  const columns =
    'invoice_id, invoice_number, customer_id, status, invoice_date, due_date, currency_code, total, balance';
  return sql`SELECT ${raw(columns)}, total_base, balance_base, is_open, is_revenue
    FROM (${statusedInvoices(silverInvoices, d)}) AS r`;
}

function columnList(mart: MartDef): SqlFragment {
  return raw(mart.columns.map((c) => ident(c.name)).join(', '));
}

function keyOrder(mart: MartDef): SqlFragment {
  return raw(mart.key.map((k) => ident(k)).join(', '));
}

/** The Silver inputs of the finance marts, as relations of live rows. */
export interface FinanceInputs {
  readonly contacts: SqlFragment;
  readonly accounts: SqlFragment;
  readonly invoices: SqlFragment;
  readonly payments: SqlFragment;
}

/** The `invoices` query: one row per invoice of any status. */
export function invoicesQuery(
  inputs: Pick<FinanceInputs, 'contacts' | 'accounts' | 'invoices'>,
  asOf: string,
  d: SqlDialect,
): SqlFragment {
  // paid_amount_base is 0 for draft and void: a void invoice's balance is not a payment.
  return sql`WITH
  customers AS (${customerDimension(inputs.contacts, inputs.accounts)}),
  documents AS (${invoiceDocuments(inputs.invoices, d)}),
  result AS (
    SELECT
      i.invoice_id,
      i.invoice_number,
      i.customer_id,
      coalesce(k.region, 'UNKNOWN') AS region,
      i.invoice_date,
      ${monthText(raw('i.invoice_date'))} AS invoice_month,
      i.due_date,
      i.status,
      i.currency_code,
      CAST(i.total AS DECIMAL(18,2)) AS total,
      i.total_base,
      CAST(i.balance AS DECIMAL(18,2)) AS balance,
      i.balance_base,
      CASE WHEN i.is_revenue THEN CAST(i.total_base - i.balance_base AS DECIMAL(18,2))
           ELSE CAST(0 AS DECIMAL(18,2)) END AS paid_amount_base,
      CAST(CASE WHEN i.is_open THEN greatest(0, ${daysPastDue('i', asOf)}) ELSE 0 END AS INTEGER) AS days_overdue
    FROM documents AS i
    LEFT JOIN customers AS k ON k.customer_id = i.customer_id
  )
  SELECT ${columnList(invoices)} FROM result ORDER BY ${keyOrder(invoices)}`;
}

/**
 * The `payments` query: one row per (payment, applied invoice), amounts of
 * repeated applications to one invoice summed, plus one row for the positive
 * remainder applied to no invoice (`invoice_id` = `UNAPPLIED_INVOICE_ID`).
 */
export function paymentsQuery(
  inputs: Pick<FinanceInputs, 'contacts' | 'accounts' | 'payments'>,
  d: SqlDialect,
): SqlFragment {
  // Over-applied payments (a source inconsistency) get no negative remainder row.
  // amount_applied is read as text and cast to DECIMAL: a JSON number never passes through a double.
  const applications = d.joinJsonArray(raw('p.invoices'), 'app', [
    ['invoice_id', 'VARCHAR'],
    ['amount_applied', 'VARCHAR'],
  ]);
  return sql`WITH
  customers AS (${customerDimension(inputs.contacts, inputs.accounts)}),
  silver_payments AS (SELECT * FROM ${inputs.payments} AS p0),
  applied AS (
    SELECT p.payment_id, app.invoice_id, sum(CAST(app.amount_applied AS DECIMAL(18,2))) AS amount
    FROM silver_payments AS p ${applications}
    WHERE app.invoice_id IS NOT NULL
    GROUP BY p.payment_id, app.invoice_id
    HAVING sum(CAST(app.amount_applied AS DECIMAL(18,2))) > 0
  ),
  applied_totals AS (SELECT payment_id, sum(amount) AS amount FROM applied GROUP BY payment_id),
  lines AS (
    SELECT payment_id, invoice_id, amount FROM applied
    UNION ALL
    SELECT p.payment_id, ${param(UNAPPLIED_INVOICE_ID, 'VARCHAR')} AS invoice_id,
      p.amount - coalesce(t.amount, 0) AS amount
    FROM silver_payments AS p
    LEFT JOIN applied_totals AS t ON t.payment_id = p.payment_id
    WHERE p.amount - coalesce(t.amount, 0) > 0
  ),
  result AS (
    SELECT
      p.payment_id,
      p.customer_id,
      l.invoice_id,
      coalesce(k.region, 'UNKNOWN') AS region,
      p.payment_date,
      ${monthText(raw('p.payment_date'))} AS payment_month,
      p.payment_mode,
      CAST(l.amount AS DECIMAL(18,2)) AS amount,
      ${toBase(raw('l.amount'), raw('p.exchange_rate'))} AS amount_base
    FROM lines AS l
    JOIN silver_payments AS p ON p.payment_id = l.payment_id
    LEFT JOIN customers AS k ON k.customer_id = p.customer_id
  )
  SELECT ${columnList(payments)} FROM result ORDER BY ${keyOrder(payments)}`;
}

/**
 * The `ar_aging` query: open invoice balances (base currency) per customer,
 * bucketed by days past due at `asOf`: <= 0 current, 1-30, 31-60, 61-90, > 90.
 */
export function arAgingQuery(
  inputs: Pick<FinanceInputs, 'contacts' | 'accounts' | 'invoices'>,
  asOf: string,
  d: SqlDialect,
): SqlFragment {
  return sql`WITH
  customers AS (${customerDimension(inputs.contacts, inputs.accounts)}),
  open_items AS (
    SELECT o.customer_id, o.balance_base, ${daysPastDue('o', asOf)} AS days_past_due
    FROM (${revenueInvoices(inputs.invoices, d)}) AS o
    WHERE o.is_open
  ),
  buckets AS (
    SELECT customer_id,
      sum(CASE WHEN days_past_due <= 0 THEN balance_base ELSE 0 END) AS b_current,
      sum(CASE WHEN days_past_due BETWEEN 1 AND 30 THEN balance_base ELSE 0 END) AS b_d1_30,
      sum(CASE WHEN days_past_due BETWEEN 31 AND 60 THEN balance_base ELSE 0 END) AS b_d31_60,
      sum(CASE WHEN days_past_due BETWEEN 61 AND 90 THEN balance_base ELSE 0 END) AS b_d61_90,
      sum(CASE WHEN days_past_due > 90 THEN balance_base ELSE 0 END) AS b_d90_plus,
      sum(balance_base) AS b_total
    FROM open_items
    GROUP BY customer_id
  ),
  result AS (
    SELECT
      CAST(${asOf} AS DATE) AS as_of_date,
      b.customer_id,
      coalesce(k.region, 'UNKNOWN') AS region,
      CAST(b.b_current AS DECIMAL(18,2)) AS "current",
      CAST(b.b_d1_30 AS DECIMAL(18,2)) AS d1_30,
      CAST(b.b_d31_60 AS DECIMAL(18,2)) AS d31_60,
      CAST(b.b_d61_90 AS DECIMAL(18,2)) AS d61_90,
      CAST(b.b_d90_plus AS DECIMAL(18,2)) AS d90_plus,
      CAST(b.b_total AS DECIMAL(18,2)) AS total_outstanding
    FROM buckets AS b
    LEFT JOIN customers AS k ON k.customer_id = b.customer_id
  )
  SELECT ${columnList(arAging)} FROM result ORDER BY ${keyOrder(arAging)}`;
}

/**
 * Customers whose `customerDimension` row may differ from the served run's:
 * every changed contact, and the previous and current contact of every
 * changed account (its link or its place in the contact's ranking moved).
 */
function changedCustomers(ctx: IncrementalContext): SqlFragment {
  return sql`SELECT c.contact_id AS customer_id FROM ${changedRows(ctx, 'contacts')} AS c WHERE c.contact_id IS NOT NULL
    UNION
    SELECT a.zoho_contact_id FROM ${changedRows(ctx, 'accounts')} AS a WHERE a.zoho_contact_id IS NOT NULL`;
}

/**
 * The `keyColumn` values of a finance driver (invoices, payments) whose mart
 * rows may have changed: its changed rows, and its live rows of changed
 * customers (their region).
 */
function affectedDocuments(ctx: IncrementalContext, driver: string, keyColumn: string): SqlFragment {
  const key = raw(ident(keyColumn));
  return sql`SELECT d.${key} FROM ${changedRows(ctx, driver)} AS d WHERE d.${key} IS NOT NULL
    UNION ALL
    SELECT l.${key} FROM ${input(ctx, driver)} AS l
    SEMI JOIN (${changedCustomers(ctx)}) AS k ON k.customer_id = l.customer_id`;
}

/** Finance marts' models (invoices, payments, ar_aging). */
export const FINANCE_MODELS: readonly GoldModel[] = [
  {
    mart: invoices,
    inputs: { contacts: zohoContacts, accounts: dynamoAccounts, invoices: zohoInvoices },
    query: (ctx) =>
      invoicesQuery(
        {
          contacts: input(ctx, 'contacts'),
          accounts: input(ctx, 'accounts'),
          invoices: input(ctx, 'invoices'),
        },
        ctx.asOf,
        ctx.dialect,
      ),
    incremental: {
      driver: 'invoices',
      keys: ['invoice_id'],
      affected: (ctx) => affectedDocuments(ctx, 'invoices', 'invoice_id'),
    },
  },
  {
    mart: payments,
    inputs: { contacts: zohoContacts, accounts: dynamoAccounts, payments: zohoCustomerPayments },
    query: (ctx) =>
      paymentsQuery(
        {
          contacts: input(ctx, 'contacts'),
          accounts: input(ctx, 'accounts'),
          payments: input(ctx, 'payments'),
        },
        ctx.dialect,
      ),
    incremental: {
      driver: 'payments',
      keys: ['payment_id'],
      affected: (ctx) => affectedDocuments(ctx, 'payments', 'payment_id'),
    },
  },
  {
    mart: arAging,
    inputs: { contacts: zohoContacts, accounts: dynamoAccounts, invoices: zohoInvoices },
    query: (ctx) =>
      arAgingQuery(
        {
          contacts: input(ctx, 'contacts'),
          accounts: input(ctx, 'accounts'),
          invoices: input(ctx, 'invoices'),
        },
        ctx.asOf,
        ctx.dialect,
      ),
  },
];
