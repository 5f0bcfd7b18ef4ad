import { ACCOUNT_REGIONS, INVOICE_STATUSES } from '../catalog/domain.js';
import type { SqlType } from '../catalog/types.js';
import type { SourceName } from '../ingest/envelope.js';

/** One typed Silver column and where it comes from in the Bronze payload. */
export interface FieldDef {
  readonly name: string;
  /** `JSON` keeps a nested value (e.g. a payment's invoice applications) for Gold to unnest. */
  readonly sqlType: SqlType | 'JSON';
  /** JSON path into the payload, e.g. `$.billing_address.country`. */
  readonly path: string;
  /** A live row without it is quarantined (`MISSING_FIELD`). */
  readonly required?: boolean;
  /** Allowed values; others are quarantined (`UNKNOWN_ENUM`). */
  readonly values?: readonly string[];
  /** Negative values are quarantined (`NEGATIVE_AMOUNT`). */
  readonly nonNegative?: boolean;
}

/** The schema contract of one Silver entity, declared once. */
export interface EntityContract {
  readonly source: SourceName;
  readonly entity: string;
  readonly fields: readonly FieldDef[];
}

export const zohoContacts: EntityContract = {
  source: 'zoho_books',
  entity: 'contacts',
  fields: [
    { name: 'contact_id', sqlType: 'VARCHAR', path: '$.contact_id', required: true },
    { name: 'contact_name', sqlType: 'VARCHAR', path: '$.contact_name', required: true },
    { name: 'company_name', sqlType: 'VARCHAR', path: '$.company_name' },
    { name: 'contact_type', sqlType: 'VARCHAR', path: '$.contact_type', values: ['customer', 'vendor'] },
    {
      name: 'customer_sub_type',
      sqlType: 'VARCHAR',
      path: '$.customer_sub_type',
      values: ['business', 'individual'],
    },
    { name: 'status', sqlType: 'VARCHAR', path: '$.status', values: ['active', 'inactive', 'crm'] },
    { name: 'email', sqlType: 'VARCHAR', path: '$.email' },
    { name: 'phone', sqlType: 'VARCHAR', path: '$.phone' },
    { name: 'country', sqlType: 'VARCHAR', path: '$.billing_address.country' },
    { name: 'currency_code', sqlType: 'VARCHAR', path: '$.currency_code' },
    { name: 'created_time', sqlType: 'TIMESTAMP', path: '$.created_time' },
    { name: 'last_modified_time', sqlType: 'TIMESTAMP', path: '$.last_modified_time', required: true },
  ],
};

export const zohoInvoices: EntityContract = {
  source: 'zoho_books',
  entity: 'invoices',
  fields: [
    { name: 'invoice_id', sqlType: 'VARCHAR', path: '$.invoice_id', required: true },
    { name: 'invoice_number', sqlType: 'VARCHAR', path: '$.invoice_number' },
    { name: 'customer_id', sqlType: 'VARCHAR', path: '$.customer_id', required: true },
    { name: 'status', sqlType: 'VARCHAR', path: '$.status', required: true, values: INVOICE_STATUSES },
    { name: 'invoice_date', sqlType: 'DATE', path: '$.date', required: true },
    { name: 'due_date', sqlType: 'DATE', path: '$.due_date' },
    { name: 'currency_code', sqlType: 'VARCHAR', path: '$.currency_code', required: true },
    { name: 'exchange_rate', sqlType: 'DOUBLE', path: '$.exchange_rate', nonNegative: true },
    { name: 'total', sqlType: 'DECIMAL(18,2)', path: '$.total', required: true, nonNegative: true },
    { name: 'balance', sqlType: 'DECIMAL(18,2)', path: '$.balance', required: true, nonNegative: true },
    { name: 'recurring_invoice_id', sqlType: 'VARCHAR', path: '$.recurring_invoice_id' },
    { name: 'last_modified_time', sqlType: 'TIMESTAMP', path: '$.last_modified_time', required: true },
  ],
};

export const dynamoAccounts: EntityContract = {
  source: 'dynamodb',
  entity: 'accounts',
  fields: [
    { name: 'account_id', sqlType: 'VARCHAR', path: '$.account_id', required: true },
    { name: 'zoho_contact_id', sqlType: 'VARCHAR', path: '$.zoho_contact_id' },
    { name: 'plan', sqlType: 'VARCHAR', path: '$.plan' },
    { name: 'region', sqlType: 'VARCHAR', path: '$.region', values: ACCOUNT_REGIONS },
    { name: 'signup_at', sqlType: 'TIMESTAMP', path: '$.signup_at', required: true },
    { name: 'status', sqlType: 'VARCHAR', path: '$.status', values: ['active', 'suspended', 'closed'] },
    { name: 'seats', sqlType: 'INTEGER', path: '$.seats', nonNegative: true },
  ],
};

/**
 * Zoho customer payments (list key `customerpayments`). `invoices` holds the
 * applications `[{invoice_id, amount_applied}]`; Gold unnests it.
 */
export const zohoCustomerPayments: EntityContract = {
  source: 'zoho_books',
  entity: 'customer_payments',
  fields: [
    { name: 'payment_id', sqlType: 'VARCHAR', path: '$.payment_id', required: true },
    { name: 'payment_number', sqlType: 'VARCHAR', path: '$.payment_number' },
    { name: 'customer_id', sqlType: 'VARCHAR', path: '$.customer_id', required: true },
    { name: 'payment_mode', sqlType: 'VARCHAR', path: '$.payment_mode' },
    { name: 'payment_date', sqlType: 'DATE', path: '$.date', required: true },
    { name: 'amount', sqlType: 'DECIMAL(18,2)', path: '$.amount', required: true, nonNegative: true },
    { name: 'currency_code', sqlType: 'VARCHAR', path: '$.currency_code' },
    { name: 'exchange_rate', sqlType: 'DOUBLE', path: '$.exchange_rate', nonNegative: true },
    { name: 'invoices', sqlType: 'JSON', path: '$.invoices' },
    { name: 'last_modified_time', sqlType: 'TIMESTAMP', path: '$.last_modified_time', required: true },
  ],
};

/** Zoho credit notes (list key `creditnotes`). */
export const zohoCreditNotes: EntityContract = {
  source: 'zoho_books',
  entity: 'credit_notes',
  fields: [
    { name: 'creditnote_id', sqlType: 'VARCHAR', path: '$.creditnote_id', required: true },
    { name: 'creditnote_number', sqlType: 'VARCHAR', path: '$.creditnote_number' },
    { name: 'customer_id', sqlType: 'VARCHAR', path: '$.customer_id', required: true },
    { name: 'status', sqlType: 'VARCHAR', path: '$.status', values: ['draft', 'open', 'closed', 'void'] },
    { name: 'creditnote_date', sqlType: 'DATE', path: '$.date', required: true },
    { name: 'currency_code', sqlType: 'VARCHAR', path: '$.currency_code' },
    { name: 'exchange_rate', sqlType: 'DOUBLE', path: '$.exchange_rate', nonNegative: true },
    { name: 'total', sqlType: 'DECIMAL(18,2)', path: '$.total', required: true, nonNegative: true },
    { name: 'balance', sqlType: 'DECIMAL(18,2)', path: '$.balance', nonNegative: true },
    { name: 'last_modified_time', sqlType: 'TIMESTAMP', path: '$.last_modified_time', required: true },
  ],
};

/**
 * Zoho recurring invoices (subscriptions). A plan change stops the old profile
 * (`end_date` set, status `stopped`) and starts a new one, so each profile has
 * one price and MRR history follows from start and end dates.
 */
export const zohoRecurringInvoices: EntityContract = {
  source: 'zoho_books',
  entity: 'recurring_invoices',
  fields: [
    { name: 'recurring_invoice_id', sqlType: 'VARCHAR', path: '$.recurring_invoice_id', required: true },
    { name: 'recurrence_name', sqlType: 'VARCHAR', path: '$.recurrence_name' },
    { name: 'customer_id', sqlType: 'VARCHAR', path: '$.customer_id', required: true },
    {
      name: 'status',
      sqlType: 'VARCHAR',
      path: '$.status',
      required: true,
      values: ['active', 'stopped', 'expired'],
    },
    {
      name: 'recurrence_frequency',
      sqlType: 'VARCHAR',
      path: '$.recurrence_frequency',
      required: true,
      values: ['weeks', 'months', 'years'],
    },
    { name: 'repeat_every', sqlType: 'INTEGER', path: '$.repeat_every', required: true, nonNegative: true },
    { name: 'start_date', sqlType: 'DATE', path: '$.start_date', required: true },
    { name: 'end_date', sqlType: 'DATE', path: '$.end_date' },
    { name: 'currency_code', sqlType: 'VARCHAR', path: '$.currency_code' },
    { name: 'exchange_rate', sqlType: 'DOUBLE', path: '$.exchange_rate', nonNegative: true },
    { name: 'total', sqlType: 'DECIMAL(18,2)', path: '$.total', required: true, nonNegative: true },
    { name: 'last_modified_time', sqlType: 'TIMESTAMP', path: '$.last_modified_time', required: true },
  ],
};

/** Product users (DynamoDB `users`): email and name are PII. */
export const dynamoUsers: EntityContract = {
  source: 'dynamodb',
  entity: 'users',
  fields: [
    { name: 'user_id', sqlType: 'VARCHAR', path: '$.user_id', required: true },
    { name: 'account_id', sqlType: 'VARCHAR', path: '$.account_id', required: true },
    { name: 'email', sqlType: 'VARCHAR', path: '$.email' },
    { name: 'name', sqlType: 'VARCHAR', path: '$.name' },
    { name: 'role', sqlType: 'VARCHAR', path: '$.role', values: ['owner', 'admin', 'member'] },
    { name: 'created_at', sqlType: 'TIMESTAMP', path: '$.created_at', required: true },
    { name: 'last_login_at', sqlType: 'TIMESTAMP', path: '$.last_login_at' },
  ],
};

/**
 * Product usage events (DynamoDB `usage_events`), written with a TTL
 * (`expires_at`): TTL expiries are landed but never delete downstream.
 */
export const dynamoUsageEvents: EntityContract = {
  source: 'dynamodb',
  entity: 'usage_events',
  fields: [
    { name: 'event_id', sqlType: 'VARCHAR', path: '$.event_id', required: true },
    { name: 'account_id', sqlType: 'VARCHAR', path: '$.account_id', required: true },
    { name: 'user_id', sqlType: 'VARCHAR', path: '$.user_id' },
    { name: 'event_type', sqlType: 'VARCHAR', path: '$.event_type', required: true },
    { name: 'occurred_at', sqlType: 'TIMESTAMP', path: '$.occurred_at', required: true },
  ],
};

/** Every Silver entity the pipeline maintains. */
export const ENTITIES: readonly EntityContract[] = [
  zohoContacts,
  zohoInvoices,
  zohoCustomerPayments,
  zohoCreditNotes,
  zohoRecurringInvoices,
  dynamoAccounts,
  dynamoUsers,
  dynamoUsageEvents,
];
