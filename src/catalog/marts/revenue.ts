import type { MartDef } from '../types.js';

/** Recurring-revenue marts (`marts.md`, "Finance"): mrr_monthly, revenue_cohorts. */
export const REVENUE_MARTS: readonly MartDef[] = [];
