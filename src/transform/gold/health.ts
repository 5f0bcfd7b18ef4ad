import { join, raw, type SqlFragment, sql } from '../../sql/fragment.js';

/**
 * The customer health score, defined in this one place. The SQL that computes
 * it and the text the catalog publishes (the API's field description) are
 * both built from the component list below, so they cannot drift apart.
 *
 * The SQL reads these columns of the row it is evaluated on, none null except
 * where said: `events_30d`, `events_prev_30d`, `active_users_30d`, `seats`
 * (may be null), `plan` (may be null), `days_overdue`, `overdue_balance`,
 * `mrr`, `signup_date` (may be null), `first_invoice_date` (may be null),
 * `as_of`.
 *
 * This module imports nothing from the catalog: the catalog imports it.
 */

/** The plan's seat count, used when the account states no positive number of seats. */
export const PLAN_DEFAULT_SEATS: Readonly<Record<string, number>> = { starter: 1, growth: 5, enterprise: 25 };
/** Days overdue at which payment timeliness reaches 0. */
export const OVERDUE_DAYS_CAP = 90;
/** Days of tenure at which tenure reaches 1. */
export const TENURE_DAYS_CAP = 365;

/** Health bands, best first, with the lowest score of each. */
export const HEALTH_BANDS = [
  { band: 'green', min: 70 },
  { band: 'amber', min: 40 },
  { band: 'red', min: 0 },
] as const;
export type HealthBand = (typeof HEALTH_BANDS)[number]['band'];

interface HealthComponent {
  readonly name: string;
  /** Points the component is worth; the weights add up to 100. */
  readonly weight: number;
  readonly text: string;
  /** A number in [0, 1] over the input columns. */
  readonly sql: SqlFragment;
}

const planSeats = join(
  Object.entries(PLAN_DEFAULT_SEATS).map(
    ([plan, seats]) => sql`WHEN plan = ${plan} THEN ${raw(String(seats))}`,
  ),
  ' ',
);
const planSeatsText = Object.entries(PLAN_DEFAULT_SEATS)
  .map(([plan, seats]) => `${plan} ${seats}`)
  .join(', ');

// Every division is on DOUBLEs: Trino divides integers (and decimals) in their own type.
const COMPONENTS: readonly HealthComponent[] = [
  {
    name: 'usage_trend',
    weight: 30,
    text: 'usage_trend = min(1, events_30d / events_prev_30d) (with events_prev_30d = 0: 1 if events_30d > 0, else 0)',
    sql: raw(`CASE WHEN events_prev_30d = 0 THEN (CASE WHEN events_30d > 0 THEN 1 ELSE 0 END)
      ELSE least(CAST(events_30d AS DOUBLE) / CAST(events_prev_30d AS DOUBLE), 1) END`),
  },
  {
    name: 'adoption',
    weight: 25,
    text: `adoption = min(1, active_users_30d / seats), seats being the account's seats when above 0, else the plan's (${planSeatsText}), else 1`,
    sql: sql`least(CAST(active_users_30d AS DOUBLE) / CAST(CASE WHEN seats > 0 THEN seats ${planSeats} ELSE 1 END AS DOUBLE), 1)`,
  },
  {
    name: 'payment_timeliness',
    weight: 15,
    text: `payment_timeliness = 1 - min(days_overdue, ${OVERDUE_DAYS_CAP}) / ${OVERDUE_DAYS_CAP}`,
    sql: raw(`1 - CAST(least(days_overdue, ${OVERDUE_DAYS_CAP}) AS DOUBLE) / ${OVERDUE_DAYS_CAP}`),
  },
  {
    name: 'payment_exposure',
    weight: 15,
    text: 'payment_exposure = 1 - min(1, overdue_balance / mrr) (1 without an overdue balance, 0 with one and no MRR)',
    sql: raw(`CASE WHEN overdue_balance <= 0 THEN 1 WHEN mrr <= 0 THEN 0
      ELSE 1 - least(CAST(overdue_balance AS DOUBLE) / CAST(mrr AS DOUBLE), 1) END`),
  },
  {
    name: 'tenure',
    weight: 15,
    text: `tenure = min(days from signup_date, else first_invoice_date, to as_of, ${TENURE_DAYS_CAP}) / ${TENURE_DAYS_CAP} (0 with neither date or a date after as_of)`,
    sql: raw(`CASE WHEN coalesce(signup_date, first_invoice_date) IS NULL THEN 0
      ELSE CAST(least(greatest(date_diff('day', coalesce(signup_date, first_invoice_date), as_of), 0), ${TENURE_DAYS_CAP}) AS DOUBLE) / ${TENURE_DAYS_CAP} END`),
  },
];

/** The score as SQL: an INTEGER in [0, 100] over the input columns named above. */
export function healthScoreSql(): SqlFragment {
  const terms = join(
    COMPONENTS.map((c) => sql`${raw(String(c.weight))} * (${c.sql})`),
    '\n      + ',
  );
  return sql`CAST(round(${terms}) AS INTEGER)`;
}

/** The band of a score, as SQL. */
export function healthBandSql(score: SqlFragment): SqlFragment {
  const whens = join(
    HEALTH_BANDS.slice(0, -1).map((b) => sql`WHEN ${score} >= ${raw(String(b.min))} THEN ${b.band}`),
    ' ',
  );
  const last = HEALTH_BANDS[HEALTH_BANDS.length - 1]?.band ?? 'red';
  return sql`CASE ${whens} ELSE ${last} END`;
}

/** The formula in words, for the catalog (the API's description of `health_score`). */
export const HEALTH_FORMULA = `health_score = round(${COMPONENTS.map((c) => `${c.weight} x ${c.name}`).join(' + ')}), each component in [0, 1]: ${COMPONENTS.map((c) => c.text).join('; ')}. events_30d and active_users_30d cover the 30 days ending on as_of, events_prev_30d the 30 days before them; days_overdue is how many days the oldest open invoice with an overdue balance is past due (as_of - due_date, the invoice date when it has no due date; 0 when none).`;

/** The bands in words, for the catalog's description of `health_band`. */
export const HEALTH_BAND_TEXT = HEALTH_BANDS.map((b, i) => {
  const above = HEALTH_BANDS[i - 1];
  return above ? `\`${b.band}\` ${b.min}-${above.min - 1}` : `\`${b.band}\` >= ${b.min}`;
}).join(', ');
