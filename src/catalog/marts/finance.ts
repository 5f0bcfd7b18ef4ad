import type { MartDef } from '../types.js';

/** Finance marts (`marts.md`, "Finance"): invoices, payments, ar_aging, mrr_monthly, revenue_cohorts. */
export const FINANCE_MARTS: readonly MartDef[] = [];
