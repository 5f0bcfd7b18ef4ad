import { Random } from './random.js';

/**
 * A synthetic company for the demo and tests, deterministic by seed: Zoho
 * Books contacts and invoices shaped like the API's list answers (string ids
 * above 2^53, `" "` for blanks, `+0530`-style offsets), and product accounts
 * shaped like DynamoDB stream records. Two waves: the initial load, then edits
 * (payments, a plan change, a renamed contact, a deleted invoice).
 */

const BASE_CONTACT_ID = 11_149_000_000_000_000n;
const BASE_INVOICE_ID = 98_200_000_000_000_000n;

const COUNTRIES = [
  { country: 'United States', region: 'NA', currency: 'USD', rate: 1, phone: '+1' },
  { country: 'Canada', region: 'NA', currency: 'CAD', rate: 0.73, phone: '+1' },
  { country: 'United Kingdom', region: 'EU', currency: 'GBP', rate: 1.27, phone: '+44' },
  { country: 'Germany', region: 'EU', currency: 'EUR', rate: 1.08, phone: '+49' },
  { country: 'France', region: 'EU', currency: 'EUR', rate: 1.08, phone: '+33' },
  { country: 'India', region: 'APAC', currency: 'INR', rate: 0.012, phone: '+91' },
  { country: 'Singapore', region: 'APAC', currency: 'SGD', rate: 0.74, phone: '+65' },
  { country: 'Brazil', region: 'LATAM', currency: 'BRL', rate: 0.2, phone: '+55' },
  { country: 'United Arab Emirates', region: 'MEA', currency: 'AED', rate: 0.27, phone: '+971' },
] as const;

const FIRST = [
  'Will',
  'Ada',
  'Grace',
  'Linus',
  'Maya',
  'Ravi',
  'Chen',
  'Sofia',
  'Omar',
  'Lena',
  'Kofi',
  'Ana',
];
const LAST = ['Smith', 'Lovelace', 'Hopper', 'Patel', 'Garcia', 'Kim', 'Nakamura', 'Okafor', 'Rossi', 'Berg'];
const WORDS = [
  'Bowman',
  'Acme',
  'Zenith',
  'Orbit',
  'Maple',
  'Cedar',
  'Nimbus',
  'Vertex',
  'Harbor',
  'Summit',
  'Lumen',
];
const KINDS = ['and Co', 'Labs', 'Furniture', 'Logistics', 'Health', 'Studios', 'Foods', 'Systems'];
const PLANS = [
  { plan: 'starter', seats: [1, 5], price: 49 },
  { plan: 'growth', seats: [5, 25], price: 299 },
  { plan: 'enterprise', seats: [25, 200], price: 1990 },
] as const;

/** A Zoho contact as the list API returns it. */
export type ZohoRecord = Record<string, unknown>;

/** A DynamoDB stream record as Lambda receives it. */
export interface StreamRecord {
  readonly eventID: string;
  readonly eventName: 'INSERT' | 'MODIFY' | 'REMOVE';
  readonly eventVersion: '1.1';
  readonly eventSource: 'aws:dynamodb';
  readonly awsRegion: string;
  readonly eventSourceARN: string;
  readonly dynamodb: {
    readonly ApproximateCreationDateTime: number;
    readonly Keys: Record<string, { S: string }>;
    readonly NewImage?: Record<string, unknown>;
    readonly OldImage?: Record<string, unknown>;
    readonly SequenceNumber: string;
    readonly SizeBytes: number;
    readonly StreamViewType: 'NEW_AND_OLD_IMAGES';
  };
}

/** One wave of changes at the sources. */
export interface DemoWave {
  readonly at: Date;
  readonly contacts: ZohoRecord[];
  readonly invoices: ZohoRecord[];
  /** Invoice ids deleted in Zoho during this wave (found by reconciliation). */
  readonly deletedInvoiceIds: string[];
  readonly accountRecords: StreamRecord[];
}

export interface DemoCompany {
  readonly waves: readonly DemoWave[];
}

export interface GenerateOptions {
  readonly seed: number;
  readonly customers: number;
  /** The moment of the last wave; earlier history is laid out before it. */
  readonly now: Date;
  /** Table name in the stream ARN. */
  readonly accountsTable?: string;
}

/** Zoho's timestamp style: local time with a `+0530` offset. */
function zohoTime(at: Date): string {
  const ist = new Date(at.getTime() + 330 * 60_000);
  return `${ist.toISOString().slice(0, 19)}+0530`;
}

function day(at: Date): string {
  return at.toISOString().slice(0, 10);
}

function addDays(at: Date, days: number): Date {
  return new Date(at.getTime() + days * 86_400_000);
}

function money(value: number): number {
  return Math.round(value * 100) / 100;
}

/** Generate the company. Same options, same output. */
export function generateDemoCompany(options: GenerateOptions): DemoCompany {
  const rnd = new Random(options.seed);
  const table = options.accountsTable ?? 'goldgate-demo-accounts';
  const arn = `arn:aws:dynamodb:us-east-1:000000000000:table/${table}/stream/2026-01-01T00:00:00.000`;
  const wave2At = options.now;
  const wave1At = addDays(options.now, -1);
  let sequence = 100_000_000_000_000_000_000n;
  const accountRecord = (
    eventName: StreamRecord['eventName'],
    at: Date,
    image: Record<string, unknown>,
    old?: Record<string, unknown>,
  ): StreamRecord => {
    sequence += 17n;
    const accountId = String(image.account_id);
    return {
      eventID: `demo-${sequence}`,
      eventName,
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: 'us-east-1',
      eventSourceARN: arn,
      dynamodb: {
        ApproximateCreationDateTime: Math.floor(at.getTime() / 1000),
        Keys: { account_id: { S: accountId } },
        NewImage: toAttributeMap(image),
        ...(old ? { OldImage: toAttributeMap(old) } : {}),
        SequenceNumber: String(sequence),
        SizeBytes: 120,
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
    };
  };

  const wave1: DemoWave = {
    at: wave1At,
    contacts: [],
    invoices: [],
    deletedInvoiceIds: [],
    accountRecords: [],
  };
  const wave2: DemoWave = {
    at: wave2At,
    contacts: [],
    invoices: [],
    deletedInvoiceIds: [],
    accountRecords: [],
  };
  let invoiceSeq = 0;
  const allInvoices: ZohoRecord[] = [];
  const accounts: Array<Record<string, unknown>> = [];

  for (let i = 0; i < options.customers; i++) {
    const place = rnd.pick(COUNTRIES);
    const first = rnd.pick(FIRST);
    const last = rnd.pick(LAST);
    const company = `${rnd.pick(WORDS)} ${rnd.pick(KINDS)} ${i + 1}`;
    const business = rnd.chance(0.8);
    const createdAt = addDays(wave1At, -rnd.int(30, 540));
    const contactId = String(BASE_CONTACT_ID + BigInt(i) * 37n);
    const contact: ZohoRecord = {
      contact_id: contactId,
      contact_name: business ? company : `${first} ${last}`,
      company_name: business ? company : ' ',
      contact_type: 'customer',
      customer_sub_type: business ? 'business' : 'individual',
      status: 'active',
      payment_terms: 15,
      payment_terms_label: 'Net 15',
      currency_code: place.currency,
      first_name: first,
      last_name: last,
      email: `${first}.${last}${i + 1}@${company.split(' ')[0]?.toLowerCase()}.example`.toLowerCase(),
      phone: `${place.phone}-555-${String(1000 + i).slice(-4)}`,
      billing_address: { country: place.country },
      outstanding_receivable_amount: 0,
      created_time: zohoTime(createdAt),
      last_modified_time: zohoTime(createdAt),
    };
    wave1.contacts.push(contact);

    const isLead = rnd.chance(0.1);
    if (isLead) continue;
    const tier = rnd.pick(PLANS);
    const signupAt = addDays(createdAt, rnd.int(0, 10));
    const account = {
      account_id: `acc_${String(i + 1).padStart(6, '0')}`,
      zoho_contact_id: contactId,
      plan: tier.plan,
      region: place.region,
      signup_at: signupAt.toISOString(),
      status: 'active',
      seats: rnd.int(tier.seats[0], tier.seats[1]),
    };
    accounts.push(account);
    wave1.accountRecords.push(accountRecord('INSERT', signupAt, account));

    const isTrial = rnd.chance(0.15);
    if (isTrial) continue;
    const months = Math.max(
      1,
      Math.min(12, Math.floor((wave1At.getTime() - signupAt.getTime()) / (30 * 86_400_000))),
    );
    for (let m = months - 1; m >= 0; m--) {
      invoiceSeq += 1;
      const date = addDays(wave1At, -30 * m - rnd.int(1, 20));
      const total = money((tier.price * (1 + rnd.int(0, 3) * 0.1)) / place.rate);
      const paid = m > 1 || rnd.chance(0.5);
      const overdue = !paid && addDays(date, 15) < wave1At;
      const invoice: ZohoRecord = {
        invoice_id: String(BASE_INVOICE_ID + BigInt(invoiceSeq) * 101n),
        invoice_number: `INV-${String(invoiceSeq).padStart(6, '0')}`,
        customer_id: contactId,
        customer_name: contact.contact_name,
        status: paid ? 'paid' : overdue ? 'overdue' : 'sent',
        reference_number: ' ',
        date: day(date),
        due_date: day(addDays(date, 15)),
        currency_code: place.currency,
        exchange_rate: place.rate,
        total,
        balance: paid ? 0 : total,
        last_payment_date: ' ',
        created_time: zohoTime(date),
        last_modified_time: zohoTime(paid ? addDays(date, rnd.int(1, 14)) : date),
      };
      allInvoices.push(invoice);
      wave1.invoices.push(invoice);
    }
  }

  // Wave 2: edits at the sources since wave 1.
  const unpaid = allInvoices.filter((inv) => inv.status !== 'paid');
  for (const inv of unpaid.slice(0, Math.ceil(unpaid.length / 3))) {
    wave2.invoices.push({
      ...inv,
      status: 'paid',
      balance: 0,
      last_modified_time: zohoTime(addDays(wave2At, -0.5)),
    });
  }
  const renamed = wave1.contacts[0];
  if (renamed) {
    wave2.contacts.push({
      ...renamed,
      contact_name: `${String(renamed.contact_name)} (renamed)`,
      last_modified_time: zohoTime(addDays(wave2At, -0.25)),
    });
  }
  const deleted = allInvoices.find((inv) => inv.status === 'paid');
  if (deleted) wave2.deletedInvoiceIds.push(String(deleted.invoice_id));
  // A record that breaks the contract (negative total): it must be quarantined, not served.
  const broken = allInvoices[allInvoices.length - 1];
  if (broken) {
    wave2.invoices.push({ ...broken, total: -1, last_modified_time: zohoTime(addDays(wave2At, -0.1)) });
  }
  const upgraded = accounts[0];
  if (upgraded) {
    const next = { ...upgraded, plan: 'enterprise', seats: Number(upgraded.seats) + 10 };
    wave2.accountRecords.push(accountRecord('MODIFY', addDays(wave2At, -0.2), next, upgraded));
  }
  return { waves: [wave1, wave2] };
}

/** Marshal plain JSON into DynamoDB attribute values (strings, numbers, booleans, null, maps, lists). */
export function toAttributeMap(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toAttribute(v)]));
}

function toAttribute(value: unknown): unknown {
  if (value === null || value === undefined) return { NULL: true };
  if (typeof value === 'string') return { S: value };
  if (typeof value === 'number') return { N: String(value) };
  if (typeof value === 'boolean') return { BOOL: value };
  if (Array.isArray(value)) return { L: value.map(toAttribute) };
  if (typeof value === 'object') return { M: toAttributeMap(value as Record<string, unknown>) };
  throw new TypeError('unsupported attribute value');
}
