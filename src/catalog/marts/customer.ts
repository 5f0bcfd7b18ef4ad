import type { MartDef } from '../types.js';

/**
 * Customer 360: one row per customer (a Zoho Books contact of type customer),
 * joined with its product account (DynamoDB `accounts`) and its invoices.
 * Columns listed are the ones the transforms produce today; the rest of
 * `marts.md` joins as the transforms grow, and is additive (same schema_v).
 */
export const customer360: MartDef = {
  name: 'customer_360',
  schemaVersion: 1,
  description: 'One row per customer: identity, account, region and finance totals, as of the Gold run.',
  key: ['customer_id'],
  partitionBy: [],
  rowScope: { region: 'region', customer: 'customer_id' },
  relations: [],
  api: { typeName: 'Customer', listField: 'customers', itemField: 'customer' },
  columns: [
    {
      name: 'customer_id',
      sqlType: 'VARCHAR',
      apiType: 'ID',
      nullable: false,
      description: 'Zoho Books contact id of the customer (a string: ids exceed 2^53).',
    },
    {
      name: 'account_id',
      sqlType: 'VARCHAR',
      apiType: 'String',
      nullable: true,
      description: 'Product account (workspace) linked to the customer; null for a lead with no account.',
    },
    {
      name: 'name',
      sqlType: 'VARCHAR',
      apiType: 'String',
      nullable: false,
      description: 'Contact name in Zoho Books.',
    },
    {
      name: 'company_name',
      sqlType: 'VARCHAR',
      apiType: 'String',
      nullable: true,
      description: 'Company name in Zoho Books.',
    },
    {
      name: 'email',
      sqlType: 'VARCHAR',
      apiType: 'String',
      nullable: true,
      pii: 'email',
      description: 'Primary contact email (PII).',
    },
    {
      name: 'phone',
      sqlType: 'VARCHAR',
      apiType: 'String',
      nullable: true,
      pii: 'phone',
      description: 'Primary contact phone (PII).',
    },
    {
      name: 'country',
      sqlType: 'VARCHAR',
      apiType: 'String',
      nullable: true,
      description: 'Billing country in Zoho Books.',
    },
    {
      name: 'region',
      sqlType: 'VARCHAR',
      apiType: 'String',
      nullable: false,
      values: ['NA', 'EU', 'APAC', 'LATAM', 'MEA', 'UNKNOWN'],
      description:
        "Sales region: the account's region, else derived from the billing country; the row-scope dimension.",
    },
    {
      name: 'segment',
      sqlType: 'VARCHAR',
      apiType: 'String',
      nullable: false,
      values: ['business', 'individual'],
      description: 'Zoho customer sub-type.',
    },
    {
      name: 'plan',
      sqlType: 'VARCHAR',
      apiType: 'String',
      nullable: true,
      description: "The account's plan; null without an account.",
    },
    {
      name: 'signup_date',
      sqlType: 'DATE',
      apiType: 'Date',
      nullable: true,
      description: 'UTC date the product account signed up.',
    },
    {
      name: 'first_invoice_date',
      sqlType: 'DATE',
      apiType: 'Date',
      nullable: true,
      description: 'Date of the first invoice that is neither draft nor void.',
    },
    {
      name: 'lifetime_revenue',
      sqlType: 'DECIMAL(18,2)',
      apiType: 'Decimal',
      nullable: false,
      description:
        "Sum of invoice totals (not draft, not void) in base currency, each at its invoice's exchange_rate.",
    },
    {
      name: 'outstanding_balance',
      sqlType: 'DECIMAL(18,2)',
      apiType: 'Decimal',
      nullable: false,
      description: 'Sum of open invoice balances in base currency.',
    },
    {
      name: 'overdue_balance',
      sqlType: 'DECIMAL(18,2)',
      apiType: 'Decimal',
      nullable: false,
      description: 'Part of the outstanding balance whose due date is before as_of.',
    },
    {
      name: 'as_of',
      sqlType: 'DATE',
      apiType: 'Date',
      nullable: false,
      description: 'The date the figures hold for.',
    },
  ],
};
