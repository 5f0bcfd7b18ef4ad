import { MART_REGIONS } from './domain.js';
import type { ColumnDef } from './types.js';

/** Columns several marts share, declared once. */

/** `customer_id`: the Zoho Books contact id. */
export const CUSTOMER_ID_COLUMN: ColumnDef = {
  name: 'customer_id',
  sqlType: 'VARCHAR',
  apiType: 'ID',
  nullable: false,
  description: 'Zoho Books contact id of the customer (a string: ids exceed 2^53).',
};

/** `region`, the row-scope dimension; `meaning` says whose region it is. */
export function regionColumn(meaning: string): ColumnDef {
  return {
    name: 'region',
    sqlType: 'VARCHAR',
    apiType: 'String',
    nullable: false,
    values: MART_REGIONS,
    description: `${meaning}; the row-scope dimension.`,
  };
}

/** The region of a customer, as every customer-level mart derives it. */
export const CUSTOMER_REGION_COLUMN = regionColumn(
  "The customer's sales region: its account's region, else its billing country's, else `UNKNOWN` (also for a customer Silver does not hold)",
);
