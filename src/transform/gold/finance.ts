import type { GoldModel } from './model.js';

/** Finance marts' models (invoices, payments, ar_aging). */
export const FINANCE_MODELS: readonly GoldModel[] = [];
