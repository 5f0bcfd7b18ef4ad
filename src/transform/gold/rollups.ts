import { createHash } from 'node:crypto';
import { NOT_MEANINGFUL_EVENT_TYPES } from '../../catalog/marts/kpi.js';
import type { SqlType } from '../../catalog/types.js';
import { duckdbDialect, type SqlDialect } from '../../sql/dialect.js';
import { ident, raw, type SqlFragment, sql } from '../../sql/fragment.js';
import { dynamoUsageEvents, type EntityContract } from '../entities.js';

/**
 * Rollups: a Silver entity reduced to the grain Gold models actually read,
 * written once per Silver version instead of re-aggregated by every mart.
 * Every measure combines associatively (sum, min, max), so the rollup of a
 * version whose delta only adds keys is the rollup of its base and the rollup
 * of its delta aggregated again: a run that adds 1% of events aggregates 1%.
 * Where no rollup file serves a version (a delta that changed base keys, a
 * definition changed since, the Athena home), the same query runs inline over
 * the Silver relation: a rollup only ever saves work, never changes a result.
 */
export interface SilverRollup {
  readonly kind: 'rollup';
  readonly name: string;
  /** The entity it reduces. */
  readonly entity: EntityContract;
  /** Its group columns, in output order. */
  readonly groupBy: readonly string[];
  /**
   * Its measures, after the group columns: how two partial values combine, and
   * the type the query gives (a combined sum is cast back to it: DuckDB widens
   * a BIGINT sum to HUGEINT, which Parquet would store as DOUBLE).
   */
  readonly measures: ReadonlyArray<{
    readonly name: string;
    readonly combine: 'sum' | 'min' | 'max';
    readonly sqlType: SqlType;
  }>;
  /** `SELECT groupBy..., measures... FROM rows GROUP BY groupBy` over live Silver rows. */
  query(rows: SqlFragment, d: SqlDialect): SqlFragment;
}

/** What a Gold model may read: a Silver entity's live rows, or a rollup of them. */
export type GoldInput = EntityContract | SilverRollup;

/** Whether a model input is a rollup. */
export function isRollup(input: GoldInput): input is SilverRollup {
  return 'kind' in input && input.kind === 'rollup';
}

/** The Silver entity a model input reads. */
export function inputEntity(input: GoldInput): EntityContract {
  return isRollup(input) ? input.entity : input;
}

/**
 * The identity of a rollup's definition: its name and a hash of its SQL as
 * the embedded engine renders it. Files are named by it, so a rollup written
 * under an earlier definition is never read as the current one.
 */
export function rollupId(rollup: SilverRollup): string {
  const query = rollup.query(raw('rows'), duckdbDialect);
  const hash = createHash('sha256')
    .update(JSON.stringify([query.text, query.params.map((p) => String(p))]))
    .digest('hex')
    .slice(0, 12);
  return `${rollup.name}-${hash}`;
}

/** Partial rollups (of a base and of its delta, over disjoint keys) combined into one. */
export function combineRollups(rollup: SilverRollup, parts: SqlFragment): SqlFragment {
  const groups = rollup.groupBy.map((g) => ident(g)).join(', ');
  const measures = rollup.measures
    .map((m) => `CAST(${m.combine}(${ident(m.name)}) AS ${m.sqlType}) AS ${ident(m.name)}`)
    .join(', ');
  return sql`SELECT ${raw(groups)}, ${raw(measures)} FROM ${parts} AS p GROUP BY ${raw(groups)}`;
}

/**
 * Usage events per (account, user, UTC day): how many, the last one, and the
 * first and last meaningful one (`NOT_MEANINGFUL_EVENT_TYPES` excluded; NULL
 * when the day had none). Every usage mart reads this grain:
 * - DAU/WAU/MAU and events per day count (account, user, day) rows;
 * - customer_360's 30-day windows are whole days, its last activity the max;
 * - retention's active months are the days' months;
 * - funnel activation asks for a meaningful event in [signup_at, signup_at + 14
 *   days]. A day holds one iff its last meaningful event is at or after the start
 *   and its first at or before the end: days inside the window hold any event,
 *   the start day needs its last one late enough, the end day its first one
 *   early enough, and days outside fail one of the two.
 */
export const usageActivity: SilverRollup = {
  kind: 'rollup',
  name: 'usage_activity',
  entity: dynamoUsageEvents,
  groupBy: ['account_id', 'user_id', 'activity_date'],
  measures: [
    { name: 'events', combine: 'sum', sqlType: 'BIGINT' },
    { name: 'last_at', combine: 'max', sqlType: 'TIMESTAMP' },
    { name: 'meaningful_first_at', combine: 'min', sqlType: 'TIMESTAMP' },
    { name: 'meaningful_last_at', combine: 'max', sqlType: 'TIMESTAMP' },
  ],
  query: (rows, d) => {
    const meaningful = sql`NOT ${d.inList(raw('e.event_type'), NOT_MEANINGFUL_EVENT_TYPES)}`;
    return sql`SELECT e.account_id, e.user_id, CAST(e.occurred_at AS DATE) AS activity_date,
      CAST(count(*) AS BIGINT) AS events,
      max(e.occurred_at) AS last_at,
      min(CASE WHEN ${meaningful} THEN e.occurred_at END) AS meaningful_first_at,
      max(CASE WHEN ${meaningful} THEN e.occurred_at END) AS meaningful_last_at
    FROM ${rows} AS e
    GROUP BY e.account_id, e.user_id, CAST(e.occurred_at AS DATE)`;
  },
};

/** Every rollup, by the entity it reduces. */
export const ROLLUPS: readonly SilverRollup[] = [usageActivity];

/** The rollups of one entity. */
export function rollupsOf(contract: { readonly source: string; readonly entity: string }): SilverRollup[] {
  return ROLLUPS.filter((r) => r.entity.source === contract.source && r.entity.entity === contract.entity);
}

/** The rollup over a Silver relation, computed where it is read (no file serves it). */
export function inlineRollup(rollup: SilverRollup, relation: SqlFragment, d: SqlDialect): SqlFragment {
  return sql`(${rollup.query(relation, d)})`;
}
