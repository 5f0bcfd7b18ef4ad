import type { Draft } from './bronze.js';

/**
 * Drafts for the recurring-revenue and customer-health golden tests: Zoho
 * recurring-invoice profiles, and product users and usage events with just
 * the fields those marts read. `landEvents` from `bronze.ts` lands them.
 */

/** A Zoho recurring-invoice profile upsert (amounts as Zoho sends them: JSON numbers). */
export function recurringProfile(
  id: string,
  at: string,
  fields: {
    customer: string;
    status: 'active' | 'stopped' | 'expired';
    frequency: 'weeks' | 'months' | 'years';
    every: number;
    start: string;
    end?: string;
    currency?: string;
    rate?: number;
    total: number;
  },
): Draft {
  return {
    entity: 'recurring_invoices',
    key: id,
    op: 'U',
    source_ts: at,
    payload: {
      recurring_invoice_id: id,
      recurrence_name: `Plan ${id}`,
      customer_id: fields.customer,
      status: fields.status,
      recurrence_frequency: fields.frequency,
      repeat_every: fields.every,
      start_date: fields.start,
      // Zoho sends a blank for "no end date"; Silver reads it as null.
      end_date: fields.end ?? ' ',
      currency_code: fields.currency ?? 'USD',
      exchange_rate: fields.rate ?? 1,
      total: fields.total,
      last_modified_time: at,
    },
  };
}

/** A product account with no seat count (the health score then uses its plan's). */
export function seatlessAccount(
  id: string,
  fields: { contact: string; region: string; plan: string; signupAt: string },
): Draft {
  return {
    entity: 'accounts',
    key: id,
    op: 'I',
    source_ts: fields.signupAt,
    payload: {
      account_id: id,
      zoho_contact_id: fields.contact,
      plan: fields.plan,
      region: fields.region,
      signup_at: fields.signupAt,
      status: 'active',
    },
  };
}

/** A product user, with the time of its last login when it has one. */
export function productUserWithLogin(
  id: string,
  fields: { account: string; createdAt: string; lastLoginAt?: string },
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
      role: 'member',
      created_at: fields.createdAt,
      ...(fields.lastLoginAt === undefined ? {} : { last_login_at: fields.lastLoginAt }),
    },
  };
}

/** A usage event insert; no `user` means an event no user made (an API job). */
export function accountEvent(id: string, fields: { account: string; user?: string; at: string }): Draft {
  return {
    entity: 'usage_events',
    key: id,
    op: 'I',
    source_ts: fields.at,
    payload: {
      event_id: id,
      account_id: fields.account,
      ...(fields.user === undefined ? {} : { user_id: fields.user }),
      event_type: 'report.viewed',
      occurred_at: fields.at,
    },
  };
}
