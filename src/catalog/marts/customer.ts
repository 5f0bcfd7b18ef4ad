import { HEALTH_BAND_TEXT, HEALTH_BANDS, HEALTH_FORMULA } from '../../transform/gold/health.js';
import { CUSTOMER_ID_COLUMN, CUSTOMER_REGION_COLUMN } from '../columns.js';
import type { MartDef } from '../types.js';
import { MRR_DEFINITION } from './revenue.js';

/**
 * Lifecycle stages of a customer. The rules, in the order they are decided
 * (the first that holds wins), are `LIFECYCLE_RULES`; the SQL in
 * `transform/gold/customer-360.ts` follows the same order.
 */
export const LIFECYCLE_STAGES = ['lead', 'trial', 'active', 'at_risk', 'churned'] as const;
export type LifecycleStage = (typeof LIFECYCLE_STAGES)[number];

/** A paying customer more than this many days past due on its oldest open invoice is at risk. */
export const AT_RISK_OVERDUE_DAYS = 30;

/**
 * The lifecycle rules in words (published as the column description). Money
 * decides first: a customer paying MRR is active or at risk whatever its
 * account; one that stopped paying is churned only after a full month at 0,
 * and at risk before that. Customers that never had MRR are leads without an
 * account and trials with one: marts.md's "never invoiced" is read as never
 * invoiced for a subscription, so one-off invoices (setup, services) do not
 * end a trial.
 */
export const LIFECYCLE_RULES = `Decided in this order, the first that holds wins: \`at_risk\` when MRR at as_of > 0 and (health_band is red or the oldest open invoice with an overdue balance is more than ${AT_RISK_OVERDUE_DAYS} days past due); \`active\` when MRR at as_of > 0; \`churned\` when the customer had MRR and it has been 0 for at least a full month (its last day with MRR is on or before as_of minus one month); \`at_risk\` when it had MRR that stopped less than a month ago; \`lead\` when it never had MRR and has no product account; \`trial\` when it never had MRR and has an account (signed up, never invoiced for a subscription: one-off invoices do not end a trial).`;

/**
 * Customer 360: one row per customer (a Zoho Books contact of type customer),
 * joined with its product account (DynamoDB `accounts`), the account's users
 * and usage, its invoices and its recurring-invoice profiles. Columns are
 * additive within schema_v 1: new ones never rename or retype old ones.
 */
export const customer360: MartDef = {
  name: 'customer_360',
  schemaVersion: 1,
  description:
    'One row per customer: identity, account, region, lifecycle, usage, recurring revenue, finance totals and health, as of the Gold run.',
  key: ['customer_id'],
  partitionBy: [],
  rowScope: { region: 'region', customer: 'customer_id' },
  checks: {
    ranges: [
      { column: 'health_score', min: '0', max: '100' },
      { column: 'mrr', min: '0' },
      { column: 'arr', min: '0' },
    ],
  },
  relations: [
    {
      field: 'invoices',
      target: 'invoices',
      on: [['customer_id', 'customer_id']],
      cardinality: 'many',
      description: "The customer's invoices, of every status.",
    },
    {
      field: 'arAging',
      target: 'ar_aging',
      on: [['customer_id', 'customer_id']],
      cardinality: 'many',
      description: "The customer's open receivables by days past due, at the latest run's as_of_date.",
    },
    {
      field: 'mrrHistory',
      target: 'mrr_monthly',
      on: [['customer_id', 'customer_id']],
      cardinality: 'many',
      description: "The customer's MRR per month, with movements, from its first month with MRR.",
    },
  ],
  api: { typeName: 'Customer', listField: 'customers', itemField: 'customer' },
  columns: [
    CUSTOMER_ID_COLUMN,
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
    CUSTOMER_REGION_COLUMN,
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
      name: 'lifecycle_stage',
      sqlType: 'VARCHAR',
      apiType: 'String',
      nullable: false,
      values: LIFECYCLE_STAGES,
      description: `The customer's lifecycle stage. ${LIFECYCLE_RULES}`,
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
      name: 'last_activity_at',
      sqlType: 'TIMESTAMP',
      apiType: 'DateTime',
      nullable: true,
      description:
        'Latest usage event or user login of the account, up to the end of as_of (UTC); null without an account or activity.',
    },
    {
      name: 'active_users_30d',
      sqlType: 'INTEGER',
      apiType: 'Int',
      nullable: false,
      description:
        'Distinct users of the account with a usage event or a login in the 30 days ending on as_of (UTC dates); 0 without an account.',
    },
    {
      name: 'events_30d',
      sqlType: 'INTEGER',
      apiType: 'Int',
      nullable: false,
      description:
        'Usage events of the account in the 30 days ending on as_of (UTC dates); DynamoDB TTL expiry does not remove events. 0 without an account.',
    },
    {
      name: 'mrr',
      sqlType: 'DECIMAL(18,2)',
      apiType: 'Decimal',
      nullable: false,
      description: `Monthly recurring revenue at as_of (the same figure as mrr_monthly's row for as_of's month). ${MRR_DEFINITION}`,
    },
    {
      name: 'arr',
      sqlType: 'DECIMAL(18,2)',
      apiType: 'Decimal',
      nullable: false,
      description: 'Annual recurring revenue: 12 x mrr.',
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
      description:
        'Part of the outstanding balance past due at as_of: due date (the invoice date when there is none) before as_of.',
    },
    {
      name: 'health_score',
      sqlType: 'INTEGER',
      apiType: 'Int',
      nullable: false,
      description: `Customer health, 0 (worst) to 100 (best). ${HEALTH_FORMULA}`,
    },
    {
      name: 'health_band',
      sqlType: 'VARCHAR',
      apiType: 'String',
      nullable: false,
      values: HEALTH_BANDS.map((b) => b.band),
      description: `The health score's band: ${HEALTH_BAND_TEXT}.`,
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
