import { Random } from '../random.js';
import { monthIndex } from './time.js';

/**
 * The fixed lists the synthetic company draws from: where customers are,
 * what they pay in, what the product sells, what people are called.
 * Countries are spelled as in `transform/regions.ts` so that a customer
 * without an account still maps to a region.
 */

export type Region = 'NA' | 'EU' | 'APAC' | 'LATAM' | 'MEA';

export interface Country {
  readonly name: string;
  readonly city: string;
  readonly region: Region;
  readonly currency: string;
  readonly phone: string;
  /** Relative share of customers. */
  readonly weight: number;
}

/** Where customers are, with their share; a quarter of those abroad are billed in USD. */
export const COUNTRIES: readonly Country[] = [
  { name: 'United States', city: 'Austin', region: 'NA', currency: 'USD', phone: '+1', weight: 30 },
  { name: 'Canada', city: 'Toronto', region: 'NA', currency: 'CAD', phone: '+1', weight: 6 },
  { name: 'Mexico', city: 'Monterrey', region: 'LATAM', currency: 'MXN', phone: '+52', weight: 3 },
  { name: 'Brazil', city: 'Sao Paulo', region: 'LATAM', currency: 'BRL', phone: '+55', weight: 5 },
  { name: 'United Kingdom', city: 'Manchester', region: 'EU', currency: 'GBP', phone: '+44', weight: 9 },
  { name: 'Germany', city: 'Hamburg', region: 'EU', currency: 'EUR', phone: '+49', weight: 7 },
  { name: 'France', city: 'Lyon', region: 'EU', currency: 'EUR', phone: '+33', weight: 5 },
  { name: 'Netherlands', city: 'Utrecht', region: 'EU', currency: 'EUR', phone: '+31', weight: 3 },
  { name: 'Sweden', city: 'Malmo', region: 'EU', currency: 'SEK', phone: '+46', weight: 2 },
  { name: 'India', city: 'Chennai', region: 'APAC', currency: 'INR', phone: '+91', weight: 8 },
  { name: 'Singapore', city: 'Singapore', region: 'APAC', currency: 'SGD', phone: '+65', weight: 3 },
  { name: 'Australia', city: 'Brisbane', region: 'APAC', currency: 'AUD', phone: '+61', weight: 4 },
  { name: 'Japan', city: 'Osaka', region: 'APAC', currency: 'JPY', phone: '+81', weight: 3 },
  { name: 'United Arab Emirates', city: 'Dubai', region: 'MEA', currency: 'AED', phone: '+971', weight: 3 },
  { name: 'Saudi Arabia', city: 'Riyadh', region: 'MEA', currency: 'SAR', phone: '+966', weight: 2 },
  { name: 'South Africa', city: 'Cape Town', region: 'MEA', currency: 'ZAR', phone: '+27', weight: 3 },
];

/** USD per unit of each currency at the start of the history; `pegged` ones never move. */
const CURRENCIES: Readonly<
  Record<string, { readonly usd: number; readonly pegged?: boolean; readonly id: string }>
> = {
  USD: { usd: 1, pegged: true, id: '460000000000097' },
  CAD: { usd: 0.73, id: '460000000000101' },
  MXN: { usd: 0.055, id: '460000000000103' },
  BRL: { usd: 0.19, id: '460000000000107' },
  GBP: { usd: 1.27, id: '460000000000109' },
  EUR: { usd: 1.08, id: '460000000000113' },
  SEK: { usd: 0.095, id: '460000000000127' },
  INR: { usd: 0.012, id: '460000000000131' },
  SGD: { usd: 0.74, id: '460000000000137' },
  AUD: { usd: 0.66, id: '460000000000139' },
  JPY: { usd: 0.0067, id: '460000000000149' },
  AED: { usd: 0.2723, pegged: true, id: '460000000000151' },
  SAR: { usd: 0.2667, pegged: true, id: '460000000000157' },
  ZAR: { usd: 0.054, id: '460000000000163' },
};

/** Zoho's `currency_id` of a currency code. */
export function currencyId(code: string): string {
  return CURRENCIES[code]?.id ?? '460000000000097';
}

/**
 * Exchange rates to the base currency (USD) by month: a seeded random walk
 * of at most 2% a month, rounded to 6 decimals as Zoho stores them. Shared by
 * every customer of a company, so documents of one month agree.
 */
export class RateTable {
  private readonly byCurrency = new Map<string, number[]>();

  constructor(
    seed: number,
    private readonly startMs: number,
    months: number,
  ) {
    const random = new Random(seed ^ 0x5eed_0fa7);
    for (const [code, info] of Object.entries(CURRENCIES)) {
      const series: number[] = [];
      let value = info.usd;
      for (let m = 0; m <= months; m++) {
        series.push(roundRate(value));
        if (!info.pegged) value *= 1 + (random.next() - 0.5) * 0.04;
      }
      this.byCurrency.set(code, series);
    }
  }

  /** USD per unit of `currency` in the month of `ms`. */
  rate(currency: string, ms: number): number {
    const series = this.byCurrency.get(currency);
    if (!series) return 1;
    const m = Math.max(0, Math.min(series.length - 1, monthIndex(this.startMs, ms)));
    return series[m] ?? 1;
  }
}

function roundRate(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

export interface Plan {
  readonly name: 'starter' | 'growth' | 'enterprise';
  readonly minSeats: number;
  readonly maxSeats: number;
  /** USD a month for `minSeats` seats. */
  readonly base: number;
  /** USD a month for each seat above `minSeats`. */
  readonly perSeat: number;
}

/** The product's paid plans, cheapest first (a move right is an upgrade). */
export const PLANS: readonly Plan[] = [
  { name: 'starter', minSeats: 1, maxSeats: 5, base: 29, perSeat: 10 },
  { name: 'growth', minSeats: 5, maxSeats: 25, base: 199, perSeat: 18 },
  { name: 'enterprise', minSeats: 25, maxSeats: 200, base: 1490, perSeat: 22 },
];

/** Zoho's payment terms a contact can have. */
export const PAYMENT_TERMS: ReadonlyArray<{
  readonly days: number;
  readonly label: string;
  readonly weight: number;
}> = [
  { days: 0, label: 'Due on Receipt', weight: 20 },
  { days: 15, label: 'Net 15', weight: 40 },
  { days: 30, label: 'Net 30', weight: 35 },
  { days: 45, label: 'Net 45', weight: 5 },
];

/** Zoho payment modes of manual payments (autopay customers pay by `creditcard`). */
export const PAYMENT_MODES = ['banktransfer', 'check', 'cash', 'bankremittance', 'others'] as const;

/**
 * Product event types. `login` is not meaningful usage; the others are (the
 * funnel's "activated" = a meaningful event within 14 days of signup).
 * `scheduled_export` is made by the system and has no user.
 */
export const MEANINGFUL_EVENT_TYPES = [
  'report_viewed',
  'dashboard_created',
  'export',
  'query_run',
  'invite_sent',
] as const;
export const EVENT_TYPES = ['login', ...MEANINGFUL_EVENT_TYPES, 'scheduled_export'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Names for contacts and product users. */
export const FIRST_NAMES = [
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
  'Hiro',
  'Priya',
  'Lucas',
  'Amara',
  'Noah',
  'Ingrid',
  'Mateo',
  'Zara',
  'Yusuf',
  'Elena',
  'Tariq',
  'Mei',
] as const;

export const LAST_NAMES = [
  'Smith',
  'Lovelace',
  'Hopper',
  'Patel',
  'Garcia',
  'Kim',
  'Nakamura',
  'Okafor',
  'Rossi',
  'Berg',
  'Silva',
  'Muller',
  'Dubois',
  'Haddad',
  'Naidoo',
  'Tanaka',
  'Kowalski',
  'Lindqvist',
  'Mensah',
  'Iyer',
] as const;

export const COMPANY_WORDS = [
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
  'Atlas',
  'Juniper',
  'Quartz',
  'Willow',
  'Beacon',
] as const;

export const COMPANY_KINDS = [
  'and Co',
  'Labs',
  'Furniture',
  'Logistics',
  'Health',
  'Studios',
  'Foods',
  'Systems',
  'Analytics',
  'Partners',
] as const;

/** One item of a weighted list. */
export function pickWeighted<T extends { readonly weight: number }>(random: Random, items: readonly T[]): T {
  let total = 0;
  for (const item of items) total += item.weight;
  let x = random.next() * total;
  for (const item of items) {
    x -= item.weight;
    if (x < 0) return item;
  }
  const last = items[items.length - 1];
  if (last === undefined) throw new RangeError('pick from an empty list');
  return last;
}
