import { CUSTOMER_ID_COLUMN, CUSTOMER_REGION_COLUMN } from '../columns.js';
import type { ColumnDef, MartDef } from '../types.js';

/**
 * Recurring-revenue marts (`marts.md`, "Finance"): mrr_monthly and
 * revenue_cohorts. The definitions live here, beside the declarations,
 * because the descriptions the API publishes are built from them; the SQL
 * (`transform/gold/revenue.ts`) imports the same constants.
 */

/** MRR movements of a customer-month against the month before, in the order they are decided. */
export const MRR_MOVEMENTS = ['new', 'expansion', 'contraction', 'churn', 'reactivation', 'flat'] as const;
export type MrrMovement = (typeof MRR_MOVEMENTS)[number];

/** Profile statuses that mean the subscription has ended (at end_date, else at its last modification). */
export const ENDED_PROFILE_STATUSES = ['stopped', 'expired'] as const;

/**
 * How one recurring-invoice profile turns into MRR; shared by mrr_monthly and
 * customer_360 (whose `mrr` is the same figure at as_of).
 */
export const MRR_DEFINITION =
  "MRR comes from Zoho recurring-invoice profiles (one price per profile; a plan change stops the old profile and starts a new one). A profile's monthly amount: its total in base currency (x the profile's exchange_rate, 1 when absent, rounded to cents), normalised to a month (every N weeks: x 52 / 12 / N; every N months: / N; every N years: / (12 N); N below 1 read as 1), rounded to cents. A profile counts at a date D when start_date <= D and it has not ended before D: its end is end_date, or for a `stopped`/`expired` profile without end_date its last modification date; a profile ending on D still counts on D. A customer's MRR at D is the sum of the profiles counting at D. Money is in the organisation's base currency.";

/**
 * The snapshot rule of mrr_monthly: one date per month, so a plan change in
 * mid-month counts once (the new profile) and never twice or not at all.
 */
export const MRR_MONTH_RULE =
  "A month's MRR is the MRR at its snapshot date: the month's last day, or as_of for as_of's own month. A profile that starts and ends between two snapshots never counts.";

const REVENUE_INVOICE =
  'A revenue invoice is one whose status is neither draft nor void, dated on or before as_of; revenue is its total in base currency (x its own exchange_rate, rounded to cents).';

const month = (name: string, description: string): ColumnDef => ({
  name,
  sqlType: 'VARCHAR',
  apiType: 'String',
  nullable: false,
  description: `${description} Text \`YYYY-MM\`: it sorts and compares like the date.`,
});

const money = (name: string, description: string): ColumnDef => ({
  name,
  sqlType: 'DECIMAL(18,2)',
  apiType: 'Decimal',
  nullable: false,
  description,
});

const count = (name: string, description: string): ColumnDef => ({
  name,
  sqlType: 'INTEGER',
  apiType: 'Int',
  nullable: false,
  description,
});

/** `mrr_monthly`: one row per customer and month of its MRR history. */
export const mrrMonthly: MartDef = {
  name: 'mrr_monthly',
  schemaVersion: 1,
  description: `Monthly recurring revenue per customer and month, from the customer's first month with MRR through as_of's month; a month after churn is a row only when it is the churn month itself (MRR 0) or MRR came back. ${MRR_DEFINITION} ${MRR_MONTH_RULE}`,
  key: ['month', 'customer_id'],
  partitionBy: ['month'],
  rowScope: { region: 'region', customer: 'customer_id' },
  checks: {
    ranges: [
      { column: 'mrr', min: '0' },
      { column: 'arr', min: '0' },
    ],
  },
  relations: [],
  api: { typeName: 'MrrMonth', listField: 'mrrMonthly' },
  columns: [
    month('month', 'The calendar month; the partition column.'),
    CUSTOMER_ID_COLUMN,
    CUSTOMER_REGION_COLUMN,
    money('mrr', "The customer's MRR at the month's snapshot date, in base currency."),
    money('arr', 'Annualised: 12 x mrr.'),
    {
      name: 'movement',
      sqlType: 'VARCHAR',
      apiType: 'String',
      nullable: false,
      values: MRR_MOVEMENTS,
      description:
        'Against the month before (MRR 0 when there is no row for it): `new` = the first month with MRR > 0; `churn` = MRR fell to 0; `reactivation` = MRR > 0 again after a month at 0; `expansion` / `contraction` = MRR rose / fell and both months are > 0; `flat` = unchanged.',
    },
    money(
      'mrr_delta',
      "mrr minus the month before's (0 before the first month); negative on contraction and churn.",
    ),
  ],
};

/** `revenue_cohorts`: customers grouped by the month of their first revenue invoice. */
export const revenueCohorts: MartDef = {
  name: 'revenue_cohorts',
  schemaVersion: 1,
  description: `Revenue retention by cohort: one row per cohort month (the month of a customer's first revenue invoice) and each month since, from the cohort month through as_of's month. Months with no customer first invoiced have no cohort. Covers every customer id on a revenue invoice, all regions together. ${REVENUE_INVOICE}`,
  key: ['cohort_month', 'period'],
  partitionBy: [],
  rowScope: {},
  checks: { ranges: [{ column: 'retention_rate', min: '0', max: '1' }] },
  relations: [],
  api: { typeName: 'RevenueCohort', listField: 'revenueCohorts' },
  columns: [
    month('cohort_month', "The month of the cohort's customers' first revenue invoice."),
    count('period', 'Months since the cohort month: 0 is the cohort month itself.'),
    count('customers', 'Customers in the cohort (the same in every period).'),
    count(
      'active_customers',
      "Customers of the cohort with at least one revenue invoice dated in the period's month.",
    ),
    money(
      'revenue_base',
      "Revenue of the cohort's customers invoiced in the period's month, in base currency.",
    ),
    {
      name: 'retention_rate',
      sqlType: 'DOUBLE',
      apiType: 'Float',
      nullable: false,
      description:
        'active_customers / customers: a DOUBLE in [0, 1], not rounded (a ratio has no exact decimal form).',
    },
  ],
};

/** Recurring-revenue marts (`marts.md`, "Finance"): mrr_monthly, revenue_cohorts. */
export const REVENUE_MARTS: readonly MartDef[] = [mrrMonthly, revenueCohorts];
