import { customer360 } from '../../catalog/marts/index.js';
import {
  dynamoAccounts,
  dynamoUsers,
  zohoContacts,
  zohoInvoices,
  zohoRecurringInvoices,
} from '../entities.js';
import { customer360Query } from './customer-360.js';
import { FINANCE_MODELS } from './finance.js';
import { KPI_MODELS } from './kpi.js';
import { type GoldModel, input } from './model.js';
import { REVENUE_MODELS } from './revenue.js';
import { usageActivity } from './rollups.js';

export type { GoldContext, GoldModel } from './model.js';

/** Every Gold model, one per mart of the catalog. */
export const GOLD_MODELS: readonly GoldModel[] = [
  {
    mart: customer360,
    inputs: {
      contacts: zohoContacts,
      invoices: zohoInvoices,
      accounts: dynamoAccounts,
      recurringInvoices: zohoRecurringInvoices,
      users: dynamoUsers,
      activity: usageActivity,
    },
    query: (ctx) =>
      customer360Query(
        {
          contacts: input(ctx, 'contacts'),
          invoices: input(ctx, 'invoices'),
          accounts: input(ctx, 'accounts'),
          recurringInvoices: input(ctx, 'recurringInvoices'),
          users: input(ctx, 'users'),
          activity: input(ctx, 'activity'),
        },
        ctx.asOf,
        ctx.dialect,
      ),
  },
  ...FINANCE_MODELS,
  ...REVENUE_MODELS,
  ...KPI_MODELS,
];
