import type { Draft } from './bronze.js';

/** One application of a payment to an invoice, as Zoho lists it under the payment's `invoices`. */
export interface Application {
  readonly invoice: string;
  readonly amount: number;
}

/** A Zoho customer payment upsert (amounts as Zoho sends them: JSON numbers). */
export function payment(
  id: string,
  at: string,
  fields: {
    customer: string;
    date: string;
    amount: number;
    applied: readonly Application[];
    currency?: string;
    /** Omitted from the payload when undefined: Gold treats a missing rate as 1. */
    rate?: number;
    mode?: string;
  },
): Draft {
  return {
    entity: 'customer_payments',
    key: id,
    op: 'U',
    source_ts: at,
    payload: {
      payment_id: id,
      payment_number: `PAY-${id.slice(-4)}`,
      customer_id: fields.customer,
      payment_mode: fields.mode ?? 'banktransfer',
      date: fields.date,
      amount: fields.amount,
      currency_code: fields.currency ?? 'USD',
      ...(fields.rate === undefined ? {} : { exchange_rate: fields.rate }),
      invoices: fields.applied.map((a) => ({ invoice_id: a.invoice, amount_applied: a.amount })),
      last_modified_time: at,
    },
  };
}
