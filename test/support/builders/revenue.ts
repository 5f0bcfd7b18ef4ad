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
