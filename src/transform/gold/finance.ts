import type { GoldModel } from './model.js';

/** Finance marts' models (invoices, payments, ar_aging, mrr_monthly, revenue_cohorts). */
export const FINANCE_MODELS: readonly GoldModel[] = [];
