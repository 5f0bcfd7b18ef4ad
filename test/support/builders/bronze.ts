import type { ObjectStore } from '../../../src/adapters/object-store/port.js';
import { writeBronzeRun } from '../../../src/ingest/bronze-writer.js';
import type { BronzeEvent, SourceName } from '../../../src/ingest/envelope.js';
import { newRunId, utcDate } from '../../../src/lake/run-id.js';

/** A Bronze event without run fields; `landEvents` fills them. */
export type Draft = Omit<BronzeEvent, 'run_id' | 'ingested_at' | 'seq' | 'source'> & { seq?: string };

let counter = 0;
function seq(): string {
  counter += 1;
  return String(counter).padStart(12, '0');
}

/** A Zoho contact upsert. */
export function contact(
  id: string,
  at: string,
  fields: {
    name: string;
    country?: string;
    type?: string;
    subType?: string;
    email?: string;
    company?: string;
  },
): Draft {
  return {
    entity: 'contacts',
    key: id,
    op: 'U',
    source_ts: at,
    payload: {
      contact_id: id,
      contact_name: fields.name,
      company_name: fields.company ?? fields.name,
      contact_type: fields.type ?? 'customer',
      customer_sub_type: fields.subType ?? 'business',
      status: 'active',
      email: fields.email ?? ' ',
      phone: ' ',
      billing_address: { country: fields.country ?? ' ' },
      last_modified_time: at,
    },
  };
}

/** A Zoho invoice upsert (amounts as Zoho sends them: JSON numbers). */
export function invoice(
  id: string,
  at: string,
  fields: {
    customer: string;
    status: string;
    date: string;
    due: string;
    currency?: string;
    rate?: number;
    total: number;
    balance: number;
  },
): Draft {
  return {
    entity: 'invoices',
    key: id,
    op: 'U',
    source_ts: at,
    payload: {
      invoice_id: id,
      invoice_number: `INV-${id.slice(-4)}`,
      customer_id: fields.customer,
      status: fields.status,
      date: fields.date,
      due_date: fields.due,
      currency_code: fields.currency ?? 'USD',
      exchange_rate: fields.rate ?? 1,
      total: fields.total,
      balance: fields.balance,
      reference_number: ' ',
      last_modified_time: at,
    },
  };
}

/** A product account upsert, as the stream consumer lands it. */
export function account(
  id: string,
  at: string,
  fields: { contact: string; region: string; plan: string; signupAt: string; seats?: number },
): Draft {
  return {
    entity: 'accounts',
    key: id,
    op: 'I',
    source_ts: at,
    payload: {
      account_id: id,
      zoho_contact_id: fields.contact,
      plan: fields.plan,
      region: fields.region,
      signup_at: fields.signupAt,
      status: 'active',
      seats: fields.seats ?? 5,
    },
  };
}

/** A delete carrying only the key. */
export function removed(entity: string, key: string, at: string, idField: string, ttl = false): Draft {
  return {
    entity,
    key,
    op: 'D',
    source_ts: at,
    payload: { [idField]: key },
    ...(ttl ? { meta: { ttl_expiry: true } } : {}),
  };
}

/** Land drafts of one entity as one committed Bronze run; returns the run id. */
export async function landEvents(
  store: ObjectStore,
  source: SourceName,
  entity: string,
  drafts: readonly Draft[],
  at: Date,
): Promise<string> {
  const runId = newRunId(at);
  const events: BronzeEvent[] = drafts.map((d) => ({
    ...d,
    source,
    entity,
    seq: d.seq ?? seq(),
    run_id: runId,
    ingested_at: at.toISOString(),
  }));
  await writeBronzeRun(store, { source, entity, ingestDate: utcDate(at), runId }, events);
  return runId;
}

/** One Zoho customer (C1) with one open invoice (I1), landed as Bronze: enough for every Finance mart to build. */
export async function landCustomer(store: ObjectStore, at: Date): Promise<void> {
  const changed = '2026-10-02T10:00:00.000Z';
  await landEvents(store, 'zoho_books', 'contacts', [contact('C1', changed, { name: 'Acme' })], at);
  const open = {
    customer: 'C1',
    status: 'sent',
    date: '2026-10-02',
    due: '2026-11-01',
    total: 100,
    balance: 100,
  };
  await landEvents(store, 'zoho_books', 'invoices', [invoice('I1', changed, open)], at);
}
