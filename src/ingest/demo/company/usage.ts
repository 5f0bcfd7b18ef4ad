import { Random } from '../random.js';
import { type EventType, FIRST_NAMES, LAST_NAMES, MEANINGFUL_EVENT_TYPES } from './catalog.js';
import type { ActivityPlan, ActivityWindow, Change, ItemFact, SimContext } from './facts.js';
import { eventId, mix, userId } from './ids.js';
import { DAY_MS, HOUR_MS, isoUtc, SECOND_MS, weekday } from './time.js';

/**
 * Product usage of one account: its users, and their sessions day by day.
 * Activation is decided by the business simulation: an activated account
 * has a meaningful event within 14 days of signup, a non-activated one only
 * logs in during those 14 days. Usage follows the account's activity windows
 * (trial, paid episodes fading before a churn), weekdays more than weekends.
 */

/** One usage event before it is written as stream records. */
export interface UsageEvent {
  readonly id: string;
  readonly ms: number;
  /** `undefined` for system events (`scheduled_export`). */
  readonly userId: string | undefined;
  readonly type: EventType;
  /** The TTL attribute (epoch seconds). */
  readonly expiresAt: number;
  /** When DynamoDB's TTL removes the item (up to 48 h after `expiresAt`), if before the end. */
  readonly removedMs: number | undefined;
}

export interface UsageResult {
  readonly users: ItemFact[];
  readonly events: UsageEvent[];
}

interface User {
  readonly id: string;
  readonly role: 'owner' | 'admin' | 'member';
  readonly createdMs: number;
  readonly deleteMs: number | undefined;
  /** How much more or less than the account's level this person uses the product. */
  readonly factor: number;
  readonly fact: ItemFact;
  lastRecordedLogin: number;
}

const WEEK_MS = 7 * DAY_MS;
const ACTIVATION_MS = 14 * DAY_MS;

/** Weighted event types of a session after its login. */
const SESSION_EVENTS: ReadonlyArray<{ readonly type: EventType; readonly weight: number }> = [
  { type: 'report_viewed', weight: 50 },
  { type: 'query_run', weight: 20 },
  { type: 'dashboard_created', weight: 12 },
  { type: 'export', weight: 12 },
  { type: 'invite_sent', weight: 6 },
];

/**
 * Simulate one account's users and usage. `keepEvents: false` runs the same
 * simulation (users' logins depend on it) without keeping the events.
 */
export function simulateUsage(
  ctx: SimContext,
  index: number,
  plan: ActivityPlan,
  keepEvents: boolean,
): UsageResult {
  const a = new Random(mix(ctx.seed, index, 2));
  const users: User[] = [];
  const events: UsageEvent[] = [];
  let eventCount = 0;

  let planned = 1;
  if (plan.business) while (planned < 12 && a.chance(0.6)) planned++;
  else if (a.chance(0.3)) planned = 2;
  for (let n = 1; n <= planned; n++) {
    const owner = n === 1;
    const createdMs = owner
      ? plan.signupMs + SECOND_MS
      : plan.signupMs + a.int(3600, 120 * 86_400) * SECOND_MS;
    const first = a.pick(FIRST_NAMES);
    const last = a.pick(LAST_NAMES);
    const role: User['role'] = owner ? 'owner' : a.chance(n === 2 ? 0.5 : 0.15) ? 'admin' : 'member';
    const factor = owner ? 1.2 : 0.4 + a.next();
    let deleteMs: number | undefined;
    if (!owner) {
      const drop =
        plan.closedMs !== undefined && a.chance(0.4)
          ? plan.closedMs + a.int(1, 30) * DAY_MS
          : a.chance(0.05)
            ? createdMs + a.int(30, 300) * DAY_MS
            : undefined;
      if (drop !== undefined && drop < ctx.horizonMs && drop > createdMs) deleteMs = drop;
    }
    // People join only while the account is in use.
    if (!owner && (createdMs >= ctx.horizonMs || levelAt(plan.windows, createdMs) === 0)) continue;
    const id = userId(index, n);
    const fact: ItemFact = {
      key: id,
      createdMs,
      base: {
        user_id: id,
        account_id: plan.accountId,
        email: `${first}.${last}${n > 1 ? n : ''}@${plan.domain}`.toLowerCase(),
        name: `${first} ${last}`,
        role,
        created_at: isoUtc(createdMs),
        last_login_at: null,
      },
      changes: [],
    };
    users.push({ id, role, createdMs, deleteMs, factor, fact, lastRecordedLogin: Number.NEGATIVE_INFINITY });
  }

  const emit = (ms: number, user: User | undefined, type: EventType): void => {
    eventCount += 1;
    const expiresAt = Math.floor(ms / SECOND_MS) + ctx.ttlSeconds;
    const removed = expiresAt * SECOND_MS + a.int(0, 48 * 3600) * SECOND_MS + a.int(0, 999);
    if (user && type === 'login' && ms - user.lastRecordedLogin >= WEEK_MS) {
      // The product writes last_login_at at most once a week per user.
      user.lastRecordedLogin = ms;
      user.fact.changes.push({ ms: ms + 500, patch: { last_login_at: isoUtc(ms) } });
    }
    if (!keepEvents) return;
    events.push({
      id: eventId(index, eventCount),
      ms,
      userId: user?.id,
      type,
      expiresAt,
      removedMs: removed <= ctx.endMs ? removed : undefined,
    });
  };

  const owner = users[0];
  const activationMs = plan.activated ? plan.signupMs + a.int(600, 13 * 86_400) * SECOND_MS : undefined;
  const activationDay = activationMs === undefined ? -1 : Math.floor(activationMs / DAY_MS);
  const firstDay = Math.floor(plan.signupMs / DAY_MS);
  const lastDay = Math.floor(ctx.horizonMs / DAY_MS);
  for (let day = firstDay; day <= lastDay; day++) {
    const dayStart = day * DAY_MS;
    if (day === activationDay && owner && activationMs !== undefined && activationMs < ctx.horizonMs) {
      emit(activationMs - 60 * SECOND_MS, owner, 'login');
      emit(activationMs, owner, 'dashboard_created');
    }
    const level = levelAt(plan.windows, dayStart + 12 * HOUR_MS);
    if (level === 0) continue;
    const wd = weekday(day);
    const weekend = wd === 0 || wd === 6;
    for (const user of users) {
      const p = Math.min(0.95, level * user.factor * (weekend ? 0.35 : 1) * 0.5 * ctx.activity);
      if (!(a.next() < p)) continue;
      let t = dayStart + a.int(6 * 3600, 21 * 3600) * SECOND_MS + a.int(0, 999);
      if (t < user.createdMs) t = user.createdMs + SECOND_MS;
      if (t >= ctx.horizonMs || (user.deleteMs !== undefined && t >= user.deleteMs)) continue;
      emit(t, user, 'login');
      for (let k = 0; k < 6 && a.chance(0.55); k++) {
        t += a.int(20, 900) * SECOND_MS;
        if (t >= ctx.horizonMs || (user.deleteMs !== undefined && t >= user.deleteMs)) break;
        let type = pickType(a);
        if (type === 'invite_sent' && user.role === 'member') type = 'report_viewed';
        // Not activated: nothing meaningful within the first 14 days.
        if (!plan.activated && t < plan.signupMs + ACTIVATION_MS) continue;
        emit(t, user, type);
      }
    }
    if (wd === 1 && isPaid(plan.windows, dayStart) && a.chance(0.15)) {
      const t = dayStart + 3 * HOUR_MS + a.int(0, 3599) * SECOND_MS;
      if (t < ctx.horizonMs) emit(t, undefined, 'scheduled_export');
    }
  }

  for (const user of users) {
    const changes: Change[] = user.fact.changes.filter(
      (c) => user.deleteMs === undefined || c.ms < user.deleteMs,
    );
    changes.sort((x, y) => x.ms - y.ms);
    if (user.deleteMs !== undefined) changes.push({ ms: user.deleteMs, deleted: true });
    user.fact.changes.length = 0;
    user.fact.changes.push(...changes);
  }
  if (keepEvents) events.sort((x, y) => x.ms - y.ms);
  return { users: users.map((u) => u.fact), events };
}

function pickType(a: Random): EventType {
  let x = a.next() * 100;
  for (const item of SESSION_EVENTS) {
    x -= item.weight;
    if (x < 0) return item.type;
  }
  return MEANINGFUL_EVENT_TYPES[0];
}

/** The account's usage level at an instant (0 outside its windows). */
function levelAt(windows: readonly ActivityWindow[], ms: number): number {
  for (const w of windows) {
    if (ms < w.from || ms >= w.to) continue;
    if (w.fadeFrom === undefined || ms <= w.fadeFrom || w.to <= w.fadeFrom) return w.level;
    return w.level * Math.max(0.15, 1 - (0.85 * (ms - w.fadeFrom)) / (w.to - w.fadeFrom));
  }
  return 0;
}

function isPaid(windows: readonly ActivityWindow[], ms: number): boolean {
  return windows.some((w) => w.paid && ms >= w.from && ms < w.to);
}
