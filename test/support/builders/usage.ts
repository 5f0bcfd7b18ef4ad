import { type Draft, removed } from './bronze.js';

/**
 * Product-side drafts (DynamoDB `users`, `usage_events`, accounts without a
 * region) as the stream consumer lands them; `landEvents` from `bronze.ts`
 * writes them as a Bronze run.
 */

/** A usage event insert; `user` omitted means an event with no user (an API call, a job). */
export function usageEvent(
  id: string,
  fields: { account: string; user?: string; type: string; at: string },
): Draft {
  return {
    entity: 'usage_events',
    key: id,
    op: 'I',
    source_ts: fields.at,
    payload: {
      event_id: id,
      account_id: fields.account,
      ...(fields.user === undefined ? {} : { user_id: fields.user }),
      event_type: fields.type,
      occurred_at: fields.at,
      // DynamoDB TTL attribute (epoch seconds): 90 days after the event.
      expires_at: Math.floor(Date.parse(fields.at) / 1000) + 90 * 86_400,
    },
  };
}

/** DynamoDB's TTL expiry of a usage event: a REMOVE that must not delete anything downstream. */
export function usageExpiry(id: string, at: string): Draft {
  return removed('usage_events', id, at, 'event_id', true);
}

/** A business delete of a usage event (e.g. erased on request): Silver drops it. */
export function usageDelete(id: string, at: string): Draft {
  return removed('usage_events', id, at, 'event_id');
}

/** A product user insert (email and name are PII), with the time of its last login when it has one. */
export function productUser(
  id: string,
  fields: { account: string; createdAt: string; role?: string; lastLoginAt?: string },
): Draft {
  return {
    entity: 'users',
    key: id,
    op: 'I',
    source_ts: fields.lastLoginAt ?? fields.createdAt,
    payload: {
      user_id: id,
      account_id: fields.account,
      email: `${id}@example.com`,
      name: `User ${id}`,
      role: fields.role ?? 'member',
      created_at: fields.createdAt,
      ...(fields.lastLoginAt === undefined ? {} : { last_login_at: fields.lastLoginAt }),
    },
  };
}

/**
 * A product account, optionally without a region or a linked Zoho contact
 * (`bronze.ts`'s `account` always has both).
 */
export function productAccount(
  id: string,
  /** `seats: null` leaves the seat count out (the health score then uses the plan's). */
  fields: { signupAt: string; region?: string; contact?: string; plan?: string; seats?: number | null },
): Draft {
  return {
    entity: 'accounts',
    key: id,
    op: 'I',
    source_ts: fields.signupAt,
    payload: {
      account_id: id,
      ...(fields.contact === undefined ? {} : { zoho_contact_id: fields.contact }),
      plan: fields.plan ?? 'trial',
      ...(fields.region === undefined ? {} : { region: fields.region }),
      signup_at: fields.signupAt,
      status: 'active',
      ...(fields.seats === null ? {} : { seats: fields.seats ?? 3 }),
    },
  };
}

/**
 * A usage event changed at the source (op `U`): its fields as they now are,
 * with `changedAt` as its `source_ts` (older than the key's current one: a
 * late event that must lose).
 */
export function usageUpdate(
  id: string,
  fields: { account: string; user?: string; type: string; at: string },
  changedAt: string,
): Draft {
  return { ...usageEvent(id, fields), op: 'U', source_ts: changedAt };
}
