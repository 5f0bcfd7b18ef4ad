/** Sales regions of the product's accounts (DynamoDB `accounts.region`). */
export const ACCOUNT_REGIONS = ['NA', 'EU', 'APAC', 'LATAM', 'MEA'] as const;

/** Region values a mart may hold: an account's region, or UNKNOWN when none can be derived. */
export const MART_REGIONS = [...ACCOUNT_REGIONS, 'UNKNOWN'] as const;
