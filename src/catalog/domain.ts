/** Value lists of the business domain, declared once for contracts, marts and SQL. */

/** Sales regions of the product's accounts (DynamoDB `accounts.region`). */
export const ACCOUNT_REGIONS = ['NA', 'EU', 'APAC', 'LATAM', 'MEA'] as const;

/** Region values a mart may hold: an account's region, or UNKNOWN when none can be derived. */
export const MART_REGIONS = [...ACCOUNT_REGIONS, 'UNKNOWN'] as const;

/** Zoho Books invoice statuses (`void` is a status, not a delete); the Silver contract quarantines any other. */
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
