import type { ObjectStore } from '../../../src/adapters/object-store/port.js';
import type { SourceName } from '../../../src/ingest/envelope.js';
import { account, contact, type Draft, invoice, landEvents, removed } from '../builders/bronze.js';
import { payment } from '../builders/finance.js';
import { recurringProfile } from '../builders/revenue.js';
import { productAccount, productUser, usageDelete, usageEvent, usageExpiry } from '../builders/usage.js';

/**
 * A small company for comparing the two homes mart by mart: every entity,
 * every mart, the awkward cases (late and out-of-order events, deletes and
 * tombstones, TTL expiries, rows that break the contract, currencies, weekly
 * and yearly subscriptions, over-applied and unapplied payments, accounts
 * without a region or a contact) and more than 100 days of usage, so that a
 * Gold run with a partition per day needs several statements on Athena.
 * Deterministic: a seeded generator, no clock.
 *
 * `firstBatch` is the history up to 2026-11-20; `secondBatch` the changes of
 * the next day (updates, deletes, a late older event that must lose, new
 * usage). Built with the builders of `../builders`, landed as Bronze runs.
 */

const AS_OF = '2026-11-21';
const COUNTRIES = ['Germany', 'India', 'United States', 'Brazil', 'Japan', 'Egypt', 'Atlantis', 'France'];
const REGIONS = ['EU', 'NA', 'APAC', 'LATAM', 'MEA'];
const PLANS = ['starter', 'team', 'business', 'enterprise'];
const STATUSES = ['paid', 'partially_paid', 'sent', 'overdue', 'draft', 'void', 'viewed', 'unpaid'];
const CURRENCIES: ReadonlyArray<readonly [string, number]> = [
  ['USD', 1],
  ['EUR', 1.1],
  ['INR', 0.012],
  ['GBP', 1.27],
];
const EVENT_TYPES = ['login', 'report', 'dashboard_view', 'export', 'api_call', 'logout', 'scheduled_export'];

/** mulberry32: a small deterministic generator. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const DAY = 86_400_000;
const iso = (ms: number): string => new Date(ms).toISOString();
const dateOf = (ms: number): string => iso(ms).slice(0, 10);
const base = Date.parse(`${AS_OF}T00:00:00.000Z`);

/** Drafts per Bronze entity, in landing order. */
export type Batch = ReadonlyArray<readonly [SourceName, string, readonly Draft[]]>;

const customerId = (i: number): string => `4600000000000${String(1000 + i)}`;

/** The company's history up to the day before as-of. */
export function firstBatch(customers = 24, seed = 7): Batch {
  const r = random(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(r() * items.length)] as T;
  const contacts: Draft[] = [];
  const invoices: Draft[] = [];
  const payments: Draft[] = [];
  const credits: Draft[] = [];
  const recurring: Draft[] = [];
  const accounts: Draft[] = [];
  const users: Draft[] = [];
  const usage: Draft[] = [];
  for (let i = 0; i < customers; i += 1) {
    const id = customerId(i);
    const created = base - (400 - i * 7) * DAY;
    contacts.push(
      contact(id, iso(created), {
        name: `Customer ${i}`,
        country: pick(COUNTRIES),
        ...(i % 9 === 4 ? { type: 'vendor' } : {}),
        ...(i % 5 === 0 ? { subType: 'individual' } : {}),
        email: `billing${i}@example.com`,
      }),
    );
    // A rename later on: the newer event wins.
    if (i % 4 === 0)
      contacts.push(
        contact(id, iso(created + 30 * DAY), { name: `Customer ${i} GmbH`, country: pick(COUNTRIES) }),
      );
    const [currency, rate] = pick(CURRENCIES);
    for (let k = 0; k < 4; k += 1) {
      const day = created + (40 + k * 61 + Math.floor(r() * 20)) * DAY;
      if (day >= base) continue;
      const status = pick(STATUSES);
      const total = Math.round(r() * 200_00) / 100 + 10;
      const balance =
        status === 'paid' ? 0 : status === 'partially_paid' ? Math.round(total * 40) / 100 : total;
      const invoiceId = `${id}${k}`;
      invoices.push(
        invoice(invoiceId, iso(day + 3_600_000), {
          customer: id,
          status,
          date: dateOf(day),
          due: dateOf(day + 15 * DAY),
          currency,
          rate,
          total,
          balance,
        }),
      );
      if (status === 'paid' || status === 'partially_paid') {
        const paid = Math.round((total - balance) * 100) / 100;
        payments.push(
          payment(`P${invoiceId}`, iso(day + 5 * DAY), {
            customer: id,
            date: dateOf(day + 5 * DAY),
            // Some payments leave a remainder unapplied; one applies more than it carries.
            amount: k === 1 ? paid + 5 : k === 2 && i % 6 === 0 ? paid - 1 : paid,
            applied: [{ invoice: invoiceId, amount: paid }],
            currency,
            ...(i % 3 === 0 ? {} : { rate }),
          }),
        );
      }
    }
    if (i % 5 === 1) {
      credits.push({
        entity: 'credit_notes',
        key: `CN${id}`,
        op: 'U',
        source_ts: iso(created + 90 * DAY),
        payload: {
          creditnote_id: `CN${id}`,
          creditnote_number: `CN-${i}`,
          customer_id: id,
          status: pick(['open', 'closed', 'void']),
          date: dateOf(created + 90 * DAY),
          currency_code: currency,
          exchange_rate: rate,
          total: 25.5,
          balance: 10,
          last_modified_time: iso(created + 90 * DAY),
        },
      });
    }
    if (i % 9 !== 4) {
      const frequency = i % 7 === 0 ? 'weeks' : i % 7 === 1 ? 'years' : 'months';
      const start = created + 35 * DAY;
      const stopped = i % 6 === 2;
      recurring.push(
        recurringProfile(`R${id}`, iso(start), {
          customer: id,
          status: stopped ? 'stopped' : 'active',
          frequency,
          every: i % 8 === 3 ? 2 : 1,
          start: dateOf(start),
          ...(stopped ? { end: dateOf(start + 120 * DAY) } : {}),
          currency,
          rate,
          total: 49 + (i % 4) * 50,
        }),
      );
    }
    if (i % 8 === 7) continue;
    const accountId = `acc_${i}`;
    const signup = created + 10 * DAY + i * 3_600_000;
    accounts.push(
      i % 10 === 3
        ? productAccount(accountId, {
            signupAt: iso(signup),
            ...(i % 2 === 0 ? {} : { contact: id }),
            seats: null,
          })
        : account(accountId, iso(signup), {
            contact: id,
            region: pick(REGIONS),
            plan: pick(PLANS),
            signupAt: iso(signup),
            seats: 2 + (i % 5),
          }),
    );
    const people = 1 + (i % 3);
    for (let u = 0; u < people; u += 1) {
      const userId = `u_${i}_${u}`;
      const lastLogin = base - Math.floor(r() * 60) * DAY - 3_600_000;
      users.push(
        productUser(userId, {
          account: accountId,
          createdAt: iso(signup + u * DAY),
          role: u === 0 ? 'owner' : pick(['admin', 'member']),
          ...(u === 2 ? {} : { lastLoginAt: iso(lastLogin) }),
        }),
      );
    }
    const first = Math.max(signup, base - 150 * DAY);
    for (let e = 0; e < 14; e += 1) {
      const at = first + Math.floor(r() * (base - first - DAY));
      const eventId = `ev_${i}_${e}`;
      usage.push(
        usageEvent(eventId, {
          account: accountId,
          ...(e % 5 === 4 ? {} : { user: `u_${i}_${e % people}` }),
          type: pick(EVENT_TYPES),
          at: iso(at),
        }),
      );
      if (e === 3) usage.push(usageExpiry(eventId, iso(at + 90 * DAY)));
    }
  }
  // Rows that break the contract: quarantined, retried, then condemned.
  contacts.push({
    ...contact('4609999999999999', iso(base - 20 * DAY), { name: 'x' }),
    payload: { contact_id: '4609999999999999' },
  });
  invoices.push(
    invoice('4609999999999990', iso(base - 10 * DAY), {
      customer: customerId(1),
      status: 'sent',
      date: dateOf(base - 10 * DAY),
      due: dateOf(base + 5 * DAY),
      total: -5,
      balance: -5,
    }),
    invoice('4609999999999991', iso(base - 9 * DAY), {
      customer: customerId(2),
      status: 'haunted',
      date: dateOf(base - 9 * DAY),
      due: dateOf(base + 5 * DAY),
      total: 5,
      balance: 5,
    }),
  );
  // A usage event a user asked to erase.
  usage.push(usageDelete('ev_1_2', iso(base - DAY)));
  return [
    ['zoho_books', 'contacts', contacts],
    ['zoho_books', 'invoices', invoices],
    ['zoho_books', 'customer_payments', payments],
    ['zoho_books', 'credit_notes', credits],
    ['zoho_books', 'recurring_invoices', recurring],
    ['dynamodb', 'accounts', accounts],
    ['dynamodb', 'users', users],
    ['dynamodb', 'usage_events', usage],
  ];
}

/** The next day's changes: payments, deletes, a late older event (must lose), new usage. */
export function secondBatch(): Batch {
  const c = (i: number): string => customerId(i);
  return [
    [
      'zoho_books',
      'contacts',
      [
        // Older than what Silver holds: must not overwrite the rename.
        contact(c(0), iso(base - 399 * DAY), { name: 'Customer 0 (stale)', country: 'Germany' }),
        removed('contacts', c(5), iso(base - 6 * 3_600_000), 'contact_id'),
        contact(c(6), iso(base - 5 * 3_600_000), { name: 'Customer 6 Renamed', country: 'Egypt' }),
      ],
    ],
    [
      'zoho_books',
      'invoices',
      [
        invoice(`${c(2)}9`, iso(base - 4 * 3_600_000), {
          customer: c(2),
          status: 'sent',
          date: dateOf(base - DAY),
          due: dateOf(base + 14 * DAY),
          currency: 'EUR',
          rate: 1.1,
          total: 120,
          balance: 120,
        }),
        removed('invoices', `${c(3)}0`, iso(base - 3 * 3_600_000), 'invoice_id'),
      ],
    ],
    [
      'zoho_books',
      'customer_payments',
      [
        payment(`PX${c(2)}`, iso(base - 2 * 3_600_000), {
          customer: c(2),
          date: dateOf(base - DAY),
          amount: 60,
          applied: [{ invoice: `${c(2)}9`, amount: 60 }],
          currency: 'EUR',
          rate: 1.1,
        }),
      ],
    ],
    [
      'zoho_books',
      'credit_notes',
      [removed('credit_notes', `CN${c(1)}`, iso(base - 3_600_000), 'creditnote_id')],
    ],
    [
      'zoho_books',
      'recurring_invoices',
      [
        recurringProfile(`R${c(10)}`, iso(base - 3_600_000), {
          customer: c(10),
          status: 'stopped',
          frequency: 'months',
          every: 1,
          start: dateOf(base - 300 * DAY),
          end: dateOf(base - 2 * DAY),
          total: 99,
        }),
      ],
    ],
    ['dynamodb', 'accounts', [removed('accounts', 'acc_11', iso(base - 3_600_000), 'account_id')]],
    [
      'dynamodb',
      'users',
      [
        productUser('u_2_0', {
          account: 'acc_2',
          createdAt: iso(base - 200 * DAY),
          role: 'owner',
          lastLoginAt: iso(base - 1_800_000),
        }),
      ],
    ],
    [
      'dynamodb',
      'usage_events',
      [
        usageEvent('ev_new_1', {
          account: 'acc_2',
          user: 'u_2_0',
          type: 'report',
          at: iso(base - 1_700_000),
        }),
        usageEvent('ev_new_2', { account: 'acc_4', type: 'api_call', at: iso(base - 1_600_000) }),
      ],
    ],
  ];
}

/** Land a batch as one committed Bronze run per entity, at `at`. */
export async function landBatch(store: ObjectStore, batch: Batch, at: Date): Promise<void> {
  for (const [source, entity, drafts] of batch)
    if (drafts.length > 0) await landEvents(store, source, entity, drafts, at);
}
