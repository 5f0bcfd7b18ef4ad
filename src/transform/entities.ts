import type { SqlType } from '../catalog/types.js';
import type { SourceName } from '../ingest/envelope.js';

/** One typed Silver column and where it comes from in the Bronze payload. */
export interface FieldDef {
  readonly name: string;
  readonly sqlType: SqlType;
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

/** Invoice statuses Zoho Books uses (`void` is a status, not a delete). */
export const INVOICE_STATUSES = [
  'draft',
  'sent',
  'viewed',
  'overdue',
  'partially_paid',
  'unpaid',
  'paid',
  'void',
  'pending_approval',
  'approved',
] as const;

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
    { name: 'region', sqlType: 'VARCHAR', path: '$.region', values: ['NA', 'EU', 'APAC', 'LATAM', 'MEA'] },
    { name: 'signup_at', sqlType: 'TIMESTAMP', path: '$.signup_at', required: true },
    { name: 'status', sqlType: 'VARCHAR', path: '$.status', values: ['active', 'suspended', 'closed'] },
    { name: 'seats', sqlType: 'INTEGER', path: '$.seats', nonNegative: true },
  ],
};

/** Every Silver entity the pipeline maintains. */
export const ENTITIES: readonly EntityContract[] = [zohoContacts, zohoInvoices, dynamoAccounts];
