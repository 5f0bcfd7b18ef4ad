/**
 * Identifiers of the synthetic company, all derived from the customer's
 * index and a per-customer counter: no global counter, so any range of
 * customers can be generated alone (and in parallel) with the same ids.
 */

/** A 32-bit hash of some integers (murmur3's finaliser per step): independent seeds per customer and purpose. */
export function mix(...values: readonly number[]): number {
  let h = 0x9e37_79b9;
  for (const value of values) {
    h = Math.imul(h ^ (value >>> 0), 0x85eb_ca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2_ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/**
 * The string, flattened. V8 keeps a concatenation longer than 12 characters
 * as a rope of its parts until something reads it; reading one character
 * flattens it. Millions of retained ids as ropes took three times the memory
 * and doubled the generation time (mostly garbage collection).
 */
export function flat(text: string): string {
  text.charCodeAt(0);
  return text;
}

function pad(value: number, width: number): string {
  return String(value).padStart(width, '0');
}

/** Zoho id prefixes: 4 digits + 8-digit customer index + 6-digit counter = 18 digits, always above 2^53. */
const ZOHO_PREFIX = {
  contacts: '4600',
  invoices: '9820',
  customer_payments: '7310',
  credit_notes: '5520',
  recurring_invoices: '3340',
} as const;

/** The Zoho id of a customer's `n`-th record of an entity (a decimal string above 2^53, as Zoho's). */
export function zohoId(entity: keyof typeof ZOHO_PREFIX, customer: number, n: number): string {
  return flat(`${ZOHO_PREFIX[entity]}${pad(customer, 8)}${pad(n, 6)}`);
}

/** `acc_00000042`. */
export function accountId(customer: number): string {
  return `acc_${pad(customer, 8)}`;
}

/** `usr_00000042_3`. */
export function userId(customer: number, n: number): string {
  return flat(`usr_${pad(customer, 8)}_${n}`);
}

/** `evt_00000042_000017`. */
export function eventId(customer: number, n: number): string {
  return flat(`evt_${pad(customer, 8)}_${pad(n, 6)}`);
}

/**
 * A stream sequence number: `1`, the change's epoch milliseconds (13 digits),
 * the customer index (8) and a per-customer, per-table counter (6): 28 digits,
 * within DynamoDB's 21 to 40. Increasing with time for every item, as
 * DynamoDB guarantees within a shard, and unique across customers.
 * `customer` may come already padded (8 digits), as the hot path passes it.
 */
export function sequenceNumber(ms: number, customer: number | string, counter: number): string {
  if (counter > 999_999)
    throw new RangeError('more than a million stream records for one customer and table');
  const who = typeof customer === 'string' ? customer : pad(customer, 8);
  return flat(`1${pad(ms, 13)}${who}${pad(counter, 6)}`);
}

/** A 32-hex-digit event id, like the ones Lambda delivers, derived from the record's identity. */
export function streamEventId(seed: number, table: number, customer: number, counter: number): string {
  // Hot path (one per stream record): four hashes without `mix`'s rest array.
  const h = mix4(seed, table, customer, counter);
  return flat(
    hex8(h) +
      hex8(Math.imul(h ^ 0x68e3_1da4, 0x85eb_ca6b) ^ counter) +
      hex8(mix4(h, counter, customer, 0x1b87_3593)) +
      hex8(mix4(counter, h, table, 0xcc9e_2d51)),
  );
}

function mix4(a: number, b: number, c: number, d: number): number {
  let h = 0x9e37_79b9;
  h = round(h, a);
  h = round(h, b);
  h = round(h, c);
  h = round(h, d);
  return h >>> 0;
}

function round(h: number, value: number): number {
  let x = Math.imul(h ^ (value >>> 0), 0x85eb_ca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2_ae35);
  return x ^ (x >>> 16);
}

const HEX_BYTES = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function hex8(value: number): string {
  return (
    (HEX_BYTES[(value >>> 24) & 0xff] ?? '') +
    (HEX_BYTES[(value >>> 16) & 0xff] ?? '') +
    (HEX_BYTES[(value >>> 8) & 0xff] ?? '') +
    (HEX_BYTES[value & 0xff] ?? '')
  );
}
