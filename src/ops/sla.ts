import type { DeadlineSla, MaxAgeSla, Sla } from './sla-config.js';
import { addDays, localDate, localDateTime, zonedInstant } from './time.js';

/**
 * SLA evaluation: pure, given the facts about a mart and the time. The states:
 * - `on_time`: the promise holds now.
 * - `late`: it was missed, but either within the grace period or (deadline
 *   SLAs) the day's version arrived after its deadline: the data is there, late.
 * - `breached`: missed and past the grace period; what is served is stale.
 * - `unknown`: nothing to judge (never published, or no source change recorded).
 */
export type SlaState = 'on_time' | 'late' | 'breached' | 'unknown';

/** Every state, in order of severity (for sorting and metrics). */
export const SLA_STATES: readonly SlaState[] = ['on_time', 'late', 'breached', 'unknown'];

/** A published Gold version, as SLAs see it. */
export interface PublishedVersion {
  readonly runId: string;
  /** The data's as-of time: when the run that built it started (it holds every change landed before). */
  readonly builtAt: Date;
  /** When readers could first be served it. */
  readonly readyAt: Date;
}

/** What an SLA is judged on. */
export interface MartFacts {
  readonly mart: string;
  /** The version `_LATEST.json` points at, if any. */
  readonly served: PublishedVersion | undefined;
  /**
   * Other complete runs that may have covered a day before the served one did
   * (deadline SLAs need the first version that covered the day, not the latest).
   */
  readonly earlier: readonly PublishedVersion[];
  /** Per source, the newest `source_ts` the served version includes. */
  readonly newestSourceChange: Readonly<Record<string, Date>>;
}

/** The verdict on one mart at one instant. */
export interface SlaEvaluation {
  readonly mart: string;
  readonly state: SlaState;
  /** Why, for people: at least one line. */
  readonly reasons: readonly string[];
  readonly evaluatedAt: Date;
  /** Deadline SLAs: the deadline judged. */
  readonly dueAt?: Date;
  /** Deadline SLAs: when a version covering the judged day was first ready. */
  readonly deliveredAt?: Date;
  /** Max-age SLAs: the age of what is served, by the SLA's basis. */
  readonly ageSeconds?: number;
  /** Breached SLAs: since when (the deadline or age limit plus grace). */
  readonly breachedSince?: Date;
}

const MINUTE = 60_000;

/** Judge a mart's SLA at `now` from its facts. Pure: the same inputs always give the same verdict. */
export function evaluateSla(sla: Sla, facts: MartFacts, now: Date): SlaEvaluation {
  if (!facts.served) {
    return { mart: facts.mart, state: 'unknown', reasons: ['never published'], evaluatedAt: now };
  }
  return sla.kind === 'deadline'
    ? evaluateDeadline(sla, facts, facts.served, now)
    : evaluateMaxAge(sla, facts, facts.served, now);
}

interface DayInstance {
  readonly day: string;
  /** Local midnight starting the day: a version built from then on covers the whole previous day. */
  readonly cutoff: Date;
  readonly due: Date;
}

function evaluateDeadline(
  sla: DeadlineSla,
  facts: MartFacts,
  served: PublishedVersion,
  now: Date,
): SlaEvaluation {
  const tz = sla.timeZone;
  const instance = (day: string): DayInstance => ({
    day,
    cutoff: zonedInstant(day, '00:00', tz),
    due: zonedInstant(day, sla.at, tz),
  });
  // The day's first covering version, as long as what is served still covers it (a rollback may undo it).
  const deliveredFor = (d: DayInstance): Date | undefined => {
    if (served.builtAt < d.cutoff) return undefined;
    let first = served.readyAt;
    for (const v of facts.earlier) if (v.builtAt >= d.cutoff && v.readyAt < first) first = v.readyAt;
    return first;
  };
  const local = (at: Date): string => `${localDateTime(at, tz)} ${tz}`;
  const base = { mart: facts.mart, evaluatedAt: now };

  const today = instance(localDate(now, tz));
  const deliveredToday = deliveredFor(today);
  // Today's version already in before its deadline: nothing earlier matters.
  const judged =
    (deliveredToday && deliveredToday <= today.due) || now >= today.due
      ? today
      : instance(addDays(today.day, -1));
  const delivered = judged === today ? deliveredToday : deliveredFor(judged);

  if (delivered) {
    if (delivered <= judged.due) {
      return {
        ...base,
        state: 'on_time',
        dueAt: judged.due,
        deliveredAt: delivered,
        reasons: [`${judged.day}: ready at ${local(delivered)}, by the ${sla.at} deadline`],
      };
    }
    const minutes = Math.ceil((delivered.getTime() - judged.due.getTime()) / MINUTE);
    return {
      ...base,
      state: 'late',
      dueAt: judged.due,
      deliveredAt: delivered,
      reasons: [`${judged.day}: ready at ${local(delivered)}, ${minutes} min after the ${sla.at} deadline`],
    };
  }
  const graceEnd = new Date(judged.due.getTime() + sla.graceMinutes * MINUTE);
  const stale = `serving data built ${local(served.builtAt)} (run ${served.runId})`;
  if (now < graceEnd) {
    return {
      ...base,
      state: 'late',
      dueAt: judged.due,
      reasons: [`${judged.day}: not ready by the ${sla.at} deadline; grace until ${local(graceEnd)}`, stale],
    };
  }
  return {
    ...base,
    state: 'breached',
    dueAt: judged.due,
    breachedSince: graceEnd,
    reasons: [`${judged.day}: no version covering the day by ${local(graceEnd)}`, stale],
  };
}

function evaluateMaxAge(
  sla: MaxAgeSla,
  facts: MartFacts,
  served: PublishedVersion,
  now: Date,
): SlaEvaluation {
  const base = { mart: facts.mart, evaluatedAt: now };
  let reference: Date | undefined;
  let what: string;
  if (sla.basis === 'publish') {
    reference = served.readyAt;
    what = `published ${served.readyAt.toISOString()} (run ${served.runId})`;
  } else {
    for (const at of Object.values(facts.newestSourceChange))
      if (!reference || at > reference) reference = at;
    if (!reference)
      return { ...base, state: 'unknown', reasons: ['no source change recorded for the served version'] };
    what = `newest source change ${reference.toISOString()}`;
  }
  const ageMs = Math.max(0, now.getTime() - reference.getTime());
  const ageSeconds = Math.floor(ageMs / 1000);
  const limit = `limit ${sla.maxAgeMinutes} min`;
  const age = `${Math.floor(ageMs / MINUTE)} min old`;
  if (ageMs <= sla.maxAgeMinutes * MINUTE) {
    return { ...base, state: 'on_time', ageSeconds, reasons: [`${age} (${limit}): ${what}`] };
  }
  const graceEnd = new Date(reference.getTime() + (sla.maxAgeMinutes + sla.graceMinutes) * MINUTE);
  if (now <= graceEnd) {
    return {
      ...base,
      state: 'late',
      ageSeconds,
      reasons: [`${age}, over the ${limit}; grace until ${graceEnd.toISOString()}: ${what}`],
    };
  }
  return {
    ...base,
    state: 'breached',
    ageSeconds,
    breachedSince: graceEnd,
    reasons: [`${age}, over the ${limit} and its grace: ${what}`],
  };
}
