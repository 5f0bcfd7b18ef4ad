import type { MartDef } from '../types.js';

/** Finance marts (`marts.md`, "Finance"): invoices, payments, ar_aging. */
export const FINANCE_MARTS: readonly MartDef[] = [];
