import { customer360 } from '../../catalog/marts.js';
import type { MartDef } from '../../catalog/types.js';
import type { SqlFragment } from '../../sql/fragment.js';
import { dynamoAccounts, type EntityContract, zohoContacts, zohoInvoices } from '../entities.js';
import { customer360Query } from './customer-360.js';

/** How one Gold mart is built: which Silver entities it reads and its query. */
export interface GoldModel {
  readonly mart: MartDef;
  readonly inputs: Readonly<Record<string, EntityContract>>;
  query(inputs: Readonly<Record<string, SqlFragment>>, asOf: string): SqlFragment;
}

function input(inputs: Readonly<Record<string, SqlFragment>>, name: string): SqlFragment {
  const relation = inputs[name];
  if (!relation) throw new TypeError(`missing Silver input ${name}`);
  return relation;
}

export const GOLD_MODELS: readonly GoldModel[] = [
  {
    mart: customer360,
    inputs: { contacts: zohoContacts, invoices: zohoInvoices, accounts: dynamoAccounts },
    query: (inputs, asOf) =>
      customer360Query(
        {
          contacts: input(inputs, 'contacts'),
          invoices: input(inputs, 'invoices'),
          accounts: input(inputs, 'accounts'),
        },
        asOf,
      ),
  },
];
