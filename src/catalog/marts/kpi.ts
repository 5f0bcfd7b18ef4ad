import { regionColumn } from '../columns.js';
import type { ColumnDef, MartDef } from '../types.js';

/**
 * The definitions behind the operational KPIs live here, beside the
 * declarations, because the field descriptions the API publishes are built
 * from them: the SQL (`transform/gold/kpi.ts`) and the documentation cannot
 * drift apart.
 */

/**
 * Usage event types that are not "meaningful": being there (`login`,
 * `logout`) is not using the product, and `scheduled_export` is made by the
 * product itself, not by a person. Every other event type is meaningful (a
 * deny list, so that a new product event counts without a code change).
 */
export const NOT_MEANINGFUL_EVENT_TYPES = ['login', 'logout', 'scheduled_export'] as const;
/** A trial is activated by a meaningful usage event at most this many days (x 24 hours) after signup_at. */
export const ACTIVATION_DAYS = 14;
/** A signup converts with a paid invoice dated at most this many days after its signup date. */
export const CONVERSION_DAYS = 60;
/** Invoice statuses that mean the customer has paid money (in full or in part). */
export const PAID_INVOICE_STATUSES = ['paid', 'partially_paid'] as const;

const quoted = (values: readonly string[]): string => values.map((v) => `\`${v}\``).join(', ');

const USAGE_EVENT =
  'A usage event is a row of the product `usage_events` table as Silver holds it: TTL expiry in DynamoDB does not remove it, a business delete does; events dated after as_of are ignored. Dates are UTC calendar dates.';

/** Range checks: counts never negative, rates within [0, 1]. */
const atLeast = (min: string, ...columns: string[]) => columns.map((column) => ({ column, min }));
const unitInterval = (...columns: string[]) => columns.map((column) => ({ column, min: '0', max: '1' }));

const count = (name: string, description: string): ColumnDef => ({
  name,
  sqlType: 'BIGINT',
  apiType: 'Int',
  nullable: false,
  description,
});

const rate = (name: string, description: string): ColumnDef => ({
  name,
  sqlType: 'DOUBLE',
  apiType: 'Float',
  nullable: false,
  description: `${description} A DOUBLE in [0, 1], not rounded.`,
});

/**
 * `kpi_daily_usage`: product activity per UTC day and region. Dense: every
 * date from the first usage event's date (as_of when there is none) to as_of,
 * times every region, so a quiet day is a row of zeros rather than a gap.
 */
export const kpiDailyUsage: MartDef = {
  name: 'kpi_daily_usage',
  schemaVersion: 1,
  description: `Daily product usage per region: one row per UTC date and region, for every date from the first usage event's date (as_of when there is none) to as_of and every region, zeros included. Usage is attributed to the region of the event's account. A user is active on a day when they have any usage event (of any type) that day; events without a user count in events and active_accounts only. ${USAGE_EVENT}`,
  key: ['date', 'region'],
  partitionBy: ['date'],
  rowScope: { region: 'region' },
  relations: [],
  checks: { ranges: atLeast('0', 'dau', 'wau', 'mau', 'events', 'active_accounts') },
  api: { typeName: 'KpiDailyUsage', listField: 'kpiDailyUsage' },
  columns: [
    {
      name: 'date',
      sqlType: 'DATE',
      apiType: 'Date',
      nullable: false,
      description: 'The UTC calendar day; the partition column.',
    },
    regionColumn(
      "The region of the event's account; `UNKNOWN` when the account has no region or no longer exists",
    ),
    count('dau', 'Distinct users with at least one usage event on the date.'),
    count(
      'wau',
      'Distinct users with at least one usage event in the 7 days ending on the date (date - 6 .. date).',
    ),
    count(
      'mau',
      'Distinct users with at least one usage event in the 30 days ending on the date (date - 29 .. date).',
    ),
    count('events', 'Usage events on the date, of every type.'),
    count('active_accounts', 'Distinct accounts with at least one usage event on the date.'),
  ],
};

/** `kpi_funnel`: signup -> activation -> first payment, per signup week and region. */
export const kpiFunnel: MartDef = {
  name: 'kpi_funnel',
  schemaVersion: 1,
  description: `Trial funnel per signup week and region: one row per (ISO week, account region) with at least one signup on or before as_of. Meaningful usage: any usage event type except ${quoted(NOT_MEANINGFUL_EVENT_TYPES)}. Paid invoice: a Zoho invoice of the account's linked contact (accounts.zoho_contact_id) whose status is now ${quoted(PAID_INVOICE_STATUSES)} and whose total is > 0, placed by its invoice date (an invoice paid late still counts; draft and void never do). Signups are the accounts Silver holds (closed ones included, deleted ones not). Young cohorts are still maturing: their counts can grow until their ${CONVERSION_DAYS}-day window has passed. ${USAGE_EVENT}`,
  key: ['cohort_week', 'region'],
  partitionBy: [],
  rowScope: { region: 'region' },
  relations: [],
  checks: {
    ranges: [
      ...atLeast('1', 'signups'),
      ...atLeast('0', 'activated', 'converted_paid'),
      ...unitInterval('activation_rate', 'conversion_rate'),
    ],
  },
  api: { typeName: 'KpiFunnel', listField: 'kpiFunnel' },
  columns: [
    {
      name: 'cohort_week',
      sqlType: 'DATE',
      apiType: 'Date',
      nullable: false,
      description: 'Monday (YYYY-MM-DD) of the ISO week, Monday to Sunday, holding the UTC signup date.',
    },
    regionColumn("The account's region; `UNKNOWN` when the account has no region or no longer exists"),
    count('signups', 'Accounts that signed up in the week.'),
    count(
      'activated',
      `Of the signups, accounts with a meaningful usage event from signup_at to ${ACTIVATION_DAYS} x 24 hours after it, both included (an elapsed time, not calendar days).`,
    ),
    count(
      'converted_paid',
      `Of the signups, accounts whose linked contact has a paid invoice dated from the UTC signup date to ${CONVERSION_DAYS} calendar days after it, both included (day ${CONVERSION_DAYS} counts, day ${CONVERSION_DAYS + 1} does not).`,
    ),
    rate('activation_rate', 'activated / signups.'),
    rate('conversion_rate', 'converted_paid / signups.'),
  ],
};

/** `kpi_retention`: monthly signup cohorts and the share still using the product. */
export const kpiRetention: MartDef = {
  name: 'kpi_retention',
  schemaVersion: 1,
  description: `Account retention by signup cohort: one row per (UTC signup month, account region) with at least one signup on or before as_of (accounts Silver holds, closed ones included), and per period from 0 (the signup month) to the month of as_of, which is still in progress. An account is retained in period p when it has a usage event of any type in the calendar month cohort_month + p. ${USAGE_EVENT}`,
  key: ['cohort_month', 'region', 'period'],
  partitionBy: [],
  rowScope: { region: 'region' },
  relations: [],
  checks: {
    ranges: [
      ...atLeast('0', 'period', 'retained_accounts'),
      ...atLeast('1', 'accounts'),
      ...unitInterval('retention_rate'),
    ],
  },
  api: { typeName: 'KpiRetention', listField: 'kpiRetention' },
  columns: [
    {
      name: 'cohort_month',
      sqlType: 'VARCHAR',
      apiType: 'String',
      nullable: false,
      description: 'The UTC month of the signups, YYYY-MM.',
    },
    regionColumn("The account's region; `UNKNOWN` when the account has no region or no longer exists"),
    {
      name: 'period',
      sqlType: 'INTEGER',
      apiType: 'Int',
      nullable: false,
      description: 'Months since the cohort month: 0 is the signup month itself.',
    },
    count('accounts', 'Accounts that signed up in the cohort month (the cohort size).'),
    count(
      'retained_accounts',
      'Of the cohort, accounts with a usage event in the month cohort_month + period.',
    ),
    rate('retention_rate', 'retained_accounts / accounts.'),
  ],
};

/** Operational KPI marts (`marts.md`, "Operational KPIs"). */
export const KPI_MARTS: readonly MartDef[] = [kpiDailyUsage, kpiFunnel, kpiRetention];
