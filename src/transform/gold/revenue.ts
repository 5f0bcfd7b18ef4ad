import type { GoldModel } from './model.js';

/** Recurring-revenue marts' models (mrr_monthly, revenue_cohorts). */
export const REVENUE_MODELS: readonly GoldModel[] = [];
