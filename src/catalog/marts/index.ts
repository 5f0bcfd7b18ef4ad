import type { MartDef } from '../types.js';
import { customer360 } from './customer.js';
import { FINANCE_MARTS } from './finance.js';
import { KPI_MARTS } from './kpi.js';
import { REVENUE_MARTS } from './revenue.js';

export { customer360 } from './customer.js';

/** Every mart the API serves: one declaration each, grouped by domain. */
export const MARTS: readonly MartDef[] = [customer360, ...FINANCE_MARTS, ...REVENUE_MARTS, ...KPI_MARTS];
