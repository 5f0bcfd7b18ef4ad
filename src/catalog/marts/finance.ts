import { CUSTOMER_ID_COLUMN, CUSTOMER_REGION_COLUMN } from '../columns.js';
import { INVOICE_STATUSES } from '../domain.js';
import type { ColumnDef, MartDef } from '../types.js';

/**
 * Finance marts (`marts.md`, "Finance"): invoices, payments, ar_aging.
 *
 * Definitions shared by the three, stated once here and repeated in the
 * column descriptions the API publishes:
 * - money is exact DECIMAL(18,2); `*_base` = the amount x the document's own
 *   `exchange_rate` (1 when absent), rounded to cents per row;
 * - region is the customer's (its product account's region, else its billing
 *   country's, else `UNKNOWN`, also for a customer Silver does not hold);
 * - month columns are text `YYYY-MM`: they sort and compare like the dates, so
 *   range filters prune partitions on Athena;
 * - as_of is the pipeline run's UTC date. Gold is rebuilt as a snapshot, so
 *   ar_aging holds the one as_of_date of the latest run.
 */

/** The `invoice_id` of a payment row holding the part of a payment applied to no invoice. */
export const UNAPPLIED_INVOICE_ID = 'unapplied';

function money(name: string, description: string): ColumnDef {
  return { name, sqlType: 'DECIMAL(18,2)', apiType: 'Decimal', nullable: false, description };
}

/** One row per Zoho Books invoice, whatever its status. */
export const invoices: MartDef = {
  name: 'invoices',
  schemaVersion: 1,
  description:
    'One row per invoice of any status (draft and void included: they are documents; void never counts as owed), with amounts in document and base currency, as of the Gold run.',
  key: ['invoice_id'],
  partitionBy: ['invoice_month'],
  rowScope: { region: 'region', customer: 'customer_id' },
  checks: {
    ranges: [
      { column: 'total', min: '0' },
      { column: 'balance', min: '0' },
    ],
    // Non-blocking: a contact deleted in Zoho may still have invoices; the check reports them.
    references: [
      { column: 'customer_id', mart: 'customer_360', targetColumn: 'customer_id', blocking: false },
    ],
  },
  relations: [
    {
      field: 'payments',
      target: 'payments',
      on: [['invoice_id', 'invoice_id']],
      cardinality: 'many',
      description: 'The payment applications settling this invoice.',
    },
  ],
  api: { typeName: 'Invoice', listField: 'invoices', itemField: 'invoice' },
  columns: [
    {
      name: 'invoice_id',
      sqlType: 'VARCHAR',
      apiType: 'ID',
      nullable: false,
      description: 'Zoho Books invoice id (a string: ids exceed 2^53).',
    },
    {
      name: 'invoice_number',
      sqlType: 'VARCHAR',
      apiType: 'String',
      nullable: true,
      description: 'Invoice number as printed on the document.',
    },
    CUSTOMER_ID_COLUMN,
    CUSTOMER_REGION_COLUMN,
    {
      name: 'invoice_date',
      sqlType: 'DATE',
      apiType: 'Date',
      nullable: false,
      description: 'Invoice date.',
    },
    {
      name: 'invoice_month',
      sqlType: 'VARCHAR',
      apiType: 'String',
      nullable: false,
      description: 'Month of invoice_date as text YYYY-MM; the partition column (filter with ranges).',
    },
    {
      name: 'due_date',
      sqlType: 'DATE',
      apiType: 'Date',
      nullable: true,
      description: 'Due date; when absent the invoice is due on its invoice_date.',
    },
    {
      name: 'status',
      sqlType: 'VARCHAR',
      apiType: 'String',
      nullable: false,
      values: INVOICE_STATUSES,
      description:
        'Zoho Books status. Open (owed) = sent, viewed, overdue, partially_paid or unpaid with a positive balance; draft and void are not revenue.',
    },
    {
      name: 'currency_code',
      sqlType: 'VARCHAR',
      apiType: 'String',
      nullable: false,
      description: 'Currency of total and balance (ISO 4217).',
    },
    money('total', 'Invoice total in the invoice currency.'),
    money('total_base', "total in base currency: total x the invoice's exchange_rate, rounded to cents."),
    money('balance', 'Amount still owed in the invoice currency, as Zoho Books reports it.'),
    money(
      'balance_base',
      "balance in base currency: balance x the invoice's exchange_rate, rounded to cents.",
    ),
    money(
      'paid_amount_base',
      'Settled part in base currency (payments and applied credits): total_base - balance_base; 0 for draft and void invoices.',
    ),
    {
      name: 'days_overdue',
      sqlType: 'INTEGER',
      apiType: 'Int',
      nullable: false,
      description:
        'For an open invoice, days from due_date to as_of (0 when not yet due, and for any invoice that is not open).',
    },
  ],
};

/** One row per (payment, invoice it is applied to), plus the unapplied remainder. */
export const payments: MartDef = {
  name: 'payments',
  schemaVersion: 1,
  description: `One row per customer payment applied to an invoice; the part of a payment applied to no invoice is one more row with invoice_id "${UNAPPLIED_INVOICE_ID}", so a payment's rows add up to its amount.`,
  key: ['payment_id', 'invoice_id'],
  partitionBy: ['payment_month'],
  rowScope: { region: 'region', customer: 'customer_id' },
  checks: {
    ranges: [{ column: 'amount', min: '0' }],
    references: [
      { column: 'customer_id', mart: 'customer_360', targetColumn: 'customer_id', blocking: false },
    ],
  },
  relations: [],
  api: { typeName: 'Payment', listField: 'payments' },
  columns: [
    {
      name: 'payment_id',
      sqlType: 'VARCHAR',
      apiType: 'ID',
      nullable: false,
      description: 'Zoho Books customer payment id (a string: ids exceed 2^53).',
    },
    CUSTOMER_ID_COLUMN,
    {
      name: 'invoice_id',
      sqlType: 'VARCHAR',
      apiType: 'ID',
      nullable: false,
      description: `The invoice this part of the payment is applied to, or "${UNAPPLIED_INVOICE_ID}" for the part applied to no invoice (an advance or excess payment).`,
    },
    CUSTOMER_REGION_COLUMN,
    {
      name: 'payment_date',
      sqlType: 'DATE',
      apiType: 'Date',
      nullable: false,
      description: 'Date the payment was received.',
    },
    {
      name: 'payment_month',
      sqlType: 'VARCHAR',
      apiType: 'String',
      nullable: false,
      description: 'Month of payment_date as text YYYY-MM; the partition column (filter with ranges).',
    },
    {
      name: 'payment_mode',
      sqlType: 'VARCHAR',
      apiType: 'String',
      nullable: true,
      description: 'How the payment was made, as Zoho Books records it (e.g. banktransfer, creditcard).',
    },
    money(
      'amount',
      'Amount applied to the invoice (or left unapplied) in the payment currency; several applications of one payment to one invoice are summed.',
    ),
    money(
      'amount_base',
      "amount in base currency: amount x the payment's own exchange_rate (not the invoice's), rounded to cents.",
    ),
  ],
};

/** Accounts-receivable aging: one row per customer owing anything at as_of_date. */
export const arAging: MartDef = {
  name: 'ar_aging',
  schemaVersion: 1,
  description:
    "Accounts receivable per customer at as_of_date: each open invoice's balance in base currency, bucketed by days past its due date (as_of_date - due_date). Customers owing nothing have no row; void and draft invoices never count.",
  key: ['as_of_date', 'customer_id'],
  partitionBy: ['as_of_date'],
  rowScope: { region: 'region', customer: 'customer_id' },
  checks: {
    references: [
      { column: 'customer_id', mart: 'customer_360', targetColumn: 'customer_id', blocking: false },
    ],
  },
  relations: [],
  api: { typeName: 'ArAging', listField: 'arAging' },
  columns: [
    {
      name: 'as_of_date',
      sqlType: 'DATE',
      apiType: 'Date',
      nullable: false,
      description: "The date the balances hold for: the pipeline run's UTC date; the partition column.",
    },
    CUSTOMER_ID_COLUMN,
    CUSTOMER_REGION_COLUMN,
    money('current', 'Open balance not yet due (due_date on or after as_of_date), base currency.'),
    money('d1_30', 'Open balance 1 to 30 days past due, base currency.'),
    money('d31_60', 'Open balance 31 to 60 days past due, base currency.'),
    money('d61_90', 'Open balance 61 to 90 days past due, base currency.'),
    money('d90_plus', 'Open balance more than 90 days (91 or more) past due, base currency.'),
    money('total_outstanding', 'Sum of the buckets: every open invoice balance, base currency.'),
  ],
};

/** Finance marts (`marts.md`, "Finance"): invoices, payments, ar_aging. */
export const FINANCE_MARTS: readonly MartDef[] = [invoices, payments, arAging];
