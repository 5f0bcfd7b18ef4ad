import { Random } from '../random.js';
import {
  COMPANY_KINDS,
  COMPANY_WORDS,
  COUNTRIES,
  type Country,
  currencyId,
  FIRST_NAMES,
  LAST_NAMES,
  PAYMENT_MODES,
  PAYMENT_TERMS,
  PLANS,
  type Plan,
  pickWeighted,
} from './catalog.js';
import type { ActivityWindow, Change, CustomerStory, DocFact, ItemFact, SimContext } from './facts.js';
import { accountId, mix, zohoId } from './ids.js';
import { addMonths, DAY_MS, dayText, isoUtc, MINUTE_MS, SECOND_MS, zohoDay, zohoDayAt } from './time.js';

/**
 * The business simulation of one customer: who they are, when they sign up,
 * whether the trial converts, the subscription history (plan changes stop a
 * recurring profile and start a new one, so each profile has one price),
 * invoices, payments, credit notes, and the account's lifecycle. Usage comes
 * later (`usage.ts`) from the activity plan decided here.
 *
 * Money is kept in integer cents and written as JSON numbers with two decimals.
 */

type Behavior = 'prompt' | 'late' | 'partial' | 'delinquent';
type Frequency = 'weeks' | 'months' | 'years';

interface Identity {
  readonly country: Country;
  readonly currency: string;
  readonly business: boolean;
  readonly first: string;
  readonly last: string;
  readonly contactName: string;
  readonly companyName: string;
  readonly domain: string;
  readonly terms: { readonly days: number; readonly label: string };
  readonly behavior: Behavior;
  readonly autopay: boolean;
  readonly mode: string;
}

interface Profile {
  readonly id: string;
  readonly createdMs: number;
  readonly startDay: number;
  /** A fixed-term profile ends on this day (exclusive) unless stopped before. */
  readonly endDay: number | undefined;
  readonly plan: Plan;
  readonly seats: number;
  readonly frequency: Frequency;
  readonly repeat: number;
  readonly totalCents: number;
  readonly rate: number;
  stopMs: number | undefined;
  stopKind: 'stopped' | 'expired' | undefined;
  /** Last invoice created before the stop (for a prorated credit). */
  lastInvoice: Invoice | undefined;
}

interface Invoice {
  readonly kind: 'recurring' | 'one_off';
  readonly profile: Profile | undefined;
  readonly createdMs: number;
  readonly day: number;
  readonly totalCents: number;
  readonly rate: number;
  /** Drafts become `sent` at `sentMs`; `undefined` when the draft never is. */
  sentMs: number | undefined;
  draft: boolean;
  deleteMs: number | undefined;
  voidMs: number | undefined;
  viewedMs: number | undefined;
  id: string;
  number: string;
  credits: number;
  /** Payment applications `[ms, cents, payment]`, filled when payments are grouped. */
  readonly paid: Array<{ ms: number; cents: number }>;
}

interface CreditNote {
  readonly id: string;
  readonly number: string;
  readonly createdMs: number;
  /** When it can be applied (`undefined`: never, a draft kept or voided). */
  readonly openMs: number | undefined;
  readonly kind: 'open' | 'draft_then_open' | 'draft' | 'draft_deleted' | 'voided';
  readonly totalCents: number;
  readonly rate: number;
  readonly reference: string;
  readonly laterMs: number;
  remaining: number;
  readonly applications: Array<{ ms: number; cents: number }>;
  refundMs: number | undefined;
}

interface Intent {
  readonly invoice: Invoice;
  ms: number;
  readonly cents: number;
}

/** Monthly churn hazard by plan. */
const CHURN: Readonly<Record<Plan['name'], number>> = { starter: 0.035, growth: 0.02, enterprise: 0.01 };
const UPGRADE = 0.03;
const DOWNGRADE = 0.012;
const REACTIVATE = 0.04;

/** Simulate one customer's business life. Deterministic by `(ctx.seed, index)`. */
export function simulateCustomer(ctx: SimContext, index: number): CustomerStory {
  const r = new Random(mix(ctx.seed, index, 1));
  const who = drawIdentity(r, index);
  const docs: DocFact[] = [];
  const contactId = zohoId('contacts', index, 1);
  const span = ctx.horizonMs - ctx.startMs;

  // Leads are contacts without an account; a fifth of them sign up later.
  const lead = r.chance(0.12);
  let contactMs: number;
  let signupMs: number | undefined;
  if (lead) {
    contactMs = ctx.startMs + Math.floor(r.next() * span * 0.97);
    const later = contactMs + r.int(3, 200) * DAY_MS + r.int(0, 86_399) * SECOND_MS;
    if (r.chance(0.2) && later < ctx.horizonMs - 2 * DAY_MS) signupMs = later;
  } else {
    signupMs = drawSignup(r, ctx);
    contactMs = signupMs - r.int(5, 900) * SECOND_MS;
  }

  const contact: DocFact = {
    entity: 'contacts',
    id: contactId,
    createdMs: contactMs,
    base: contactRecord(who, index, contactId, lead && r.chance(0.4) ? 'crm' : 'active'),
    changes: [],
  };
  docs.push(contact);
  if (r.chance(0.04)) {
    const ms = contactMs + r.int(1, 400) * DAY_MS;
    if (ms < ctx.horizonMs) {
      contact.changes.push({
        ms,
        patch: { email: `billing@${who.domain}`, phone: `${who.country.phone}-555-0${index % 1000}` },
      });
    }
  }

  if (signupMs === undefined) {
    // A lead that never signs up: some are deleted (no transactions, so Zoho allows it).
    if (r.chance(0.06)) {
      const ms = contactMs + r.int(10, 300) * DAY_MS;
      if (ms < ctx.horizonMs) contact.changes.push({ ms, deleted: true });
    }
    sortChanges(contact);
    return { index, lead: true, paying: false, docs };
  }
  if (contact.base.status === 'crm')
    contact.changes.push({ ms: signupMs - MINUTE_MS, patch: { status: 'active' } });

  // Trial, activation and conversion.
  const activated = r.chance(who.business ? 0.6 : 0.45);
  const converts = r.chance(activated ? 0.62 : 0.12);
  const signupDay = zohoDay(signupMs);
  const convDay = signupDay + (r.chance(0.85) ? r.int(3, 55) : r.int(62, 120));
  const convMs = zohoDayAt(convDay, 9 * 60 + r.int(0, 600));
  const converted = converts && convMs < ctx.horizonMs;

  const acctId = accountId(index);
  const account: ItemFact = {
    key: acctId,
    createdMs: signupMs,
    base: {
      account_id: acctId,
      zoho_contact_id: contactId,
      name: who.contactName,
      plan: 'trial',
      region: who.country.region,
      signup_at: isoUtc(signupMs),
      status: 'active',
      seats: who.business ? 5 : 1,
    },
    changes: [],
  };
  const windows: ActivityWindow[] = [];
  const engagement = 0.25 + r.next() * 0.55;
  let closedMs: number | undefined;

  const profiles: Profile[] = [];
  const churns: number[] = [];
  if (!converted) {
    const trialActiveDays = activated ? r.int(10, 40) : r.int(3, 20);
    windows.push({
      from: signupMs,
      to: Math.min(ctx.horizonMs, signupMs + trialActiveDays * DAY_MS),
      level: activated ? 0.9 : 0.45,
      paid: false,
    });
    const close = signupMs + r.int(30, 90) * DAY_MS;
    if (r.chance(0.7) && close < ctx.horizonMs) {
      account.changes.push({ ms: close, patch: { status: 'closed' } });
      closedMs = close;
      if (r.chance(0.3))
        contact.changes.push({ ms: close + r.int(1, 20) * DAY_MS, patch: { status: 'inactive' } });
    }
  } else {
    windows.push({ from: signupMs, to: convMs, level: activated ? 0.9 : 0.45, paid: false });
    closedMs = planSubscriptions(r, ctx, index, who, convMs, engagement, profiles, churns, account, windows);
  }

  const billing = bill(r, ctx, index, who, contactId, profiles, churns);
  docs.push(...billing);

  if (closedMs !== undefined && profiles.length > 0 && r.chance(0.35)) {
    const ms = closedMs + r.int(20, 60) * DAY_MS;
    if (ms < ctx.horizonMs) contact.changes.push({ ms, patch: { status: 'inactive' } });
  }
  sortChanges(contact);
  sortChanges(account);
  return {
    index,
    lead,
    paying: profiles.length > 0,
    docs,
    account,
    activity: {
      accountId: acctId,
      signupMs,
      activated,
      business: who.business,
      domain: who.domain,
      windows,
      ...(closedMs === undefined ? {} : { closedMs }),
    },
  };
}

function drawIdentity(r: Random, index: number): Identity {
  const country = pickWeighted(r, COUNTRIES);
  // A quarter of customers abroad are billed in dollars.
  const currency = country.currency !== 'USD' && r.chance(0.25) ? 'USD' : country.currency;
  const business = r.chance(0.78);
  const first = r.pick(FIRST_NAMES);
  const last = r.pick(LAST_NAMES);
  const word = r.pick(COMPANY_WORDS);
  const kind = r.pick(COMPANY_KINDS);
  const company = `${word} ${kind} ${index + 1}`;
  const domain = business
    ? `${word}${kind.replace(/\s+/g, '')}${index + 1}.example`.toLowerCase()
    : `mail${index % 97}.example`;
  const behaviorDraw = r.next();
  const behavior: Behavior =
    behaviorDraw < 0.62
      ? 'prompt'
      : behaviorDraw < 0.82
        ? 'late'
        : behaviorDraw < 0.92
          ? 'partial'
          : 'delinquent';
  const terms = pickWeighted(r, PAYMENT_TERMS);
  return {
    country,
    currency,
    business,
    first,
    last,
    contactName: business ? company : `${first} ${last}`,
    companyName: business ? company : ' ',
    domain,
    terms,
    behavior,
    autopay: behavior === 'prompt' && r.chance(0.45),
    mode: r.pick(PAYMENT_MODES),
  };
}

/** Signups: a sixth in the first two months (the existing base), the rest growing over time. */
function drawSignup(r: Random, ctx: SimContext): number {
  const from = ctx.startMs + DAY_MS;
  const span = ctx.horizonMs - 3 * DAY_MS - from;
  let x: number;
  if (r.chance(0.15)) {
    x = r.next() * Math.min(1, (60 * DAY_MS) / span);
  } else {
    // Density 0.4 + 0.6x on [0, 1]: invert its distribution function.
    const a = 0.4;
    const b = 0.6;
    const u = r.next();
    x = (-a + Math.sqrt(a * a + 2 * b * u * (a + b / 2))) / b;
  }
  return from + Math.floor(x * span);
}

function contactRecord(who: Identity, index: number, id: string, status: string): Record<string, unknown> {
  const local = `${who.first}.${who.last}`.toLowerCase();
  return {
    contact_id: id,
    contact_name: who.contactName,
    company_name: who.companyName,
    contact_type: 'customer',
    customer_sub_type: who.business ? 'business' : 'individual',
    status,
    payment_terms: who.terms.days,
    payment_terms_label: who.terms.label,
    currency_id: currencyId(who.currency),
    currency_code: who.currency,
    first_name: who.first,
    last_name: who.last,
    email: `${local}@${who.domain}`,
    phone: `${who.country.phone}-555-${String(1000 + (index % 9000))}`,
    mobile: ' ',
    website: ' ',
    billing_address: {
      address: ' ',
      city: who.country.city,
      state: ' ',
      zip: ' ',
      country: who.country.name,
    },
  };
}

function priceCents(
  ctx: SimContext,
  who: Identity,
  plan: Plan,
  seats: number,
  frequency: Frequency,
  repeat: number,
  ms: number,
): number {
  const usd = plan.base + plan.perSeat * (seats - plan.minSeats);
  const monthly = Math.max(1, Math.round(usd / ctx.rates.rate(who.currency, ms)));
  if (frequency === 'weeks') return Math.round((monthly * 100 * 12) / 52) * repeat;
  if (frequency === 'years') return monthly * 100 * 10 * repeat;
  return monthly * 100 * repeat;
}

/**
 * The subscription history from conversion on: monthly chances of churn,
 * upgrade and downgrade, renewals of fixed-term profiles, reactivations.
 * Fills `profiles`, `churns`, the account's changes and the paid activity
 * windows; returns when the account was closed for good, if it was.
 */
function planSubscriptions(
  r: Random,
  ctx: SimContext,
  index: number,
  who: Identity,
  convMs: number,
  engagement: number,
  profiles: Profile[],
  churns: number[],
  account: ItemFact,
  windows: ActivityWindow[],
): number | undefined {
  const startPlan = (): Plan => {
    const x = r.next();
    const i = who.business ? (x < 0.5 ? 0 : x < 0.88 ? 1 : 2) : x < 0.9 ? 0 : 1;
    return PLANS[i] ?? PLANS[0] ?? fail();
  };
  const seatsFor = (plan: Plan): number =>
    r.int(plan.minSeats, plan.minSeats + Math.floor((plan.maxSeats - plan.minSeats) / 2));
  const freqDraw = r.next();
  const [frequency, repeat]: [Frequency, number] =
    freqDraw < 0.78
      ? ['months', 1]
      : freqDraw < 0.9
        ? ['years', 1]
        : freqDraw < 0.97
          ? ['months', 3]
          : ['weeks', 1];

  const open = (ms: number, plan: Plan, seats: number, totalCents?: number): Profile => {
    const startDay = zohoDay(ms);
    const fixed = frequency !== 'weeks' && r.chance(0.15);
    const profile: Profile = {
      id: zohoId('recurring_invoices', index, profiles.length + 1),
      createdMs: ms,
      startDay,
      endDay: fixed ? addMonths(startDay, 12) : undefined,
      plan,
      seats,
      frequency,
      repeat,
      totalCents: totalCents ?? priceCents(ctx, who, plan, seats, frequency, repeat, ms),
      rate: ctx.rates.rate(who.currency, ms),
      stopMs: undefined,
      stopKind: undefined,
      lastInvoice: undefined,
    };
    profiles.push(profile);
    return profile;
  };
  const accountChange = (ms: number, patch: Record<string, unknown>): void => {
    account.changes.push({ ms, patch });
  };

  let plan = startPlan();
  let seats = seatsFor(plan);
  let current = open(convMs, plan, seats);
  accountChange(convMs + 30 * SECOND_MS, { plan: plan.name, seats });
  let active = true;
  let episodeStart = convMs;
  let lastChange = convMs;
  let cursor = convMs;
  let closedMs: number | undefined;
  const churnHazard = (): number => CHURN[plan.name] * (who.behavior === 'delinquent' ? 4 : 1);

  const churn = (ms: number, kind: 'stopped' | 'expired'): void => {
    current.stopMs = ms;
    current.stopKind = kind;
    active = false;
    churns.push(ms);
    windows.push({
      from: episodeStart,
      to: ms,
      level: engagement,
      fadeFrom: Math.max(episodeStart, ms - 45 * DAY_MS),
      paid: true,
    });
    if (who.behavior === 'delinquent' && ms - 20 * DAY_MS > lastChange + MINUTE_MS) {
      accountChange(ms - 20 * DAY_MS, { status: 'suspended' });
    }
    const closeMs = Math.min(ctx.horizonMs, ms + r.int(0, 3) * DAY_MS + r.int(60, 3600) * SECOND_MS);
    accountChange(closeMs, { status: 'closed' });
    closedMs = closeMs;
    lastChange = closeMs;
  };

  for (;;) {
    if (active && current.endDay !== undefined) {
      const endMs = zohoDayAt(current.endDay, 5);
      if (endMs <= cursor + 30 * DAY_MS && endMs < ctx.horizonMs) {
        if (r.chance(0.7)) {
          current.stopMs = endMs;
          current.stopKind = 'expired';
          const bumped = Math.round((current.totalCents * (100 + r.int(0, 8))) / 100 / 100) * 100;
          current = open(endMs + MINUTE_MS, plan, seats, bumped);
        } else {
          churn(endMs, 'expired');
        }
        lastChange = Math.max(lastChange, endMs + MINUTE_MS);
        cursor = endMs;
        continue;
      }
    }
    cursor += (30 + r.int(-4, 4)) * DAY_MS;
    const at = Math.max(zohoDayAt(zohoDay(cursor), 9 * 60 + r.int(0, 540)), lastChange + DAY_MS);
    if (at >= ctx.horizonMs) break;
    if (active) {
      const u = r.next();
      const hazard = churnHazard();
      if (u < hazard) {
        churn(at, 'stopped');
      } else if (u < hazard + UPGRADE + DOWNGRADE) {
        const up = u < hazard + UPGRADE;
        const i = PLANS.indexOf(plan);
        let nextPlan = plan;
        let nextSeats = seats;
        if (up) {
          const higher = PLANS[i + 1];
          if (seats < plan.maxSeats && (higher === undefined || r.chance(0.6)))
            nextSeats = Math.min(plan.maxSeats, seats + r.int(1, 5));
          else if (higher) {
            nextPlan = higher;
            nextSeats = Math.max(seats, higher.minSeats);
          }
        } else {
          const lower = PLANS[i - 1];
          if (seats > plan.minSeats && (lower === undefined || r.chance(0.6)))
            nextSeats = Math.max(plan.minSeats, seats - r.int(1, 5));
          else if (lower) {
            nextPlan = lower;
            nextSeats = Math.min(seats, lower.maxSeats);
          }
        }
        if (nextPlan !== plan || nextSeats !== seats) {
          current.stopMs = at;
          current.stopKind = 'stopped';
          plan = nextPlan;
          seats = nextSeats;
          current = open(at + 4 * SECOND_MS, plan, seats);
          accountChange(at + 30 * SECOND_MS, { plan: plan.name, seats });
          lastChange = at;
        }
      }
    } else if (who.behavior !== 'delinquent' && r.chance(REACTIVATE)) {
      if (r.chance(0.3)) {
        const lower = PLANS[PLANS.indexOf(plan) - 1];
        if (lower) {
          plan = lower;
          seats = Math.min(seats, lower.maxSeats);
        }
      }
      current = open(at, plan, seats);
      accountChange(at + 30 * SECOND_MS, { plan: plan.name, seats, status: 'active' });
      active = true;
      closedMs = undefined;
      episodeStart = at;
      lastChange = at;
    }
  }
  if (active) windows.push({ from: episodeStart, to: ctx.horizonMs, level: engagement, paid: true });
  return closedMs;
}

function fail(): never {
  throw new Error('the plan list is empty');
}

/** The day of a profile's `k`-th invoice. */
function periodDay(profile: Profile, k: number): number {
  if (profile.frequency === 'weeks') return profile.startDay + 7 * k * profile.repeat;
  if (profile.frequency === 'years') return addMonths(profile.startDay, 12 * k * profile.repeat);
  return addMonths(profile.startDay, k * profile.repeat);
}

/**
 * Invoices (from profiles, and one-offs), credit notes, payments: decided in
 * the order they happen, so a credit is applied only to invoices created after
 * it and a payment never exceeds what is due.
 */
function bill(
  r: Random,
  ctx: SimContext,
  index: number,
  who: Identity,
  contactId: string,
  profiles: readonly Profile[],
  churns: readonly number[],
): DocFact[] {
  if (profiles.length === 0) return [];
  const invoices: Invoice[] = [];
  const newInvoice = (
    kind: Invoice['kind'],
    profile: Profile | undefined,
    createdMs: number,
    totalCents: number,
  ): Invoice => {
    const invoice: Invoice = {
      kind,
      profile,
      createdMs,
      day: zohoDay(createdMs),
      totalCents,
      rate: ctx.rates.rate(who.currency, createdMs),
      sentMs: createdMs,
      draft: false,
      deleteMs: undefined,
      voidMs: undefined,
      viewedMs: undefined,
      id: '',
      number: '',
      credits: 0,
      paid: [],
    };
    invoices.push(invoice);
    return invoice;
  };

  for (const profile of profiles) {
    for (let k = 0; ; k++) {
      const day = periodDay(profile, k);
      const createdMs = k === 0 ? profile.createdMs + 3 * SECOND_MS : zohoDayAt(day, 60 + r.int(0, 150));
      if (profile.stopMs !== undefined && createdMs >= profile.stopMs) break;
      if (profile.endDay !== undefined && day >= profile.endDay) break;
      if (createdMs >= ctx.horizonMs) break;
      const invoice = newInvoice('recurring', profile, createdMs, profile.totalCents);
      profile.lastInvoice = invoice;
      // Rarely a recurring invoice is voided right away (raised in error).
      if (r.chance(0.004)) invoice.voidMs = createdMs + r.int(1, 5) * DAY_MS;
    }
    // One-off invoices (setup, services, extra seats) while subscribed.
    const until = profile.stopMs ?? ctx.horizonMs;
    for (let from = profile.createdMs; from + DAY_MS < until; from += 30 * DAY_MS) {
      if (!r.chance(0.035)) continue;
      const createdMs = from + r.int(1, 29) * DAY_MS + r.int(0, 86_399) * SECOND_MS;
      if (createdMs >= until || createdMs >= ctx.horizonMs) continue;
      const usd = r.int(5, 200) * 10;
      const cents = Math.max(1, Math.round(usd / ctx.rates.rate(who.currency, createdMs))) * 100;
      const invoice = newInvoice('one_off', undefined, createdMs, cents);
      const x = r.next();
      if (x < 0.3) {
        invoice.draft = true;
        invoice.sentMs = createdMs + r.int(3600, 72 * 3600) * SECOND_MS;
      } else if (x < 0.37) {
        invoice.draft = true;
        invoice.sentMs = undefined;
      } else if (x < 0.42) {
        invoice.draft = true;
        invoice.sentMs = undefined;
        invoice.deleteMs = createdMs + r.int(3600, 10 * 86_400) * SECOND_MS;
      } else if (x < 0.45) {
        invoice.deleteMs = createdMs + r.int(3600, 48 * 3600) * SECOND_MS;
      }
    }
  }
  invoices.sort((a, b) => a.createdMs - b.createdMs);
  invoices.forEach((invoice, i) => {
    invoice.id = zohoId('invoices', index, i + 1);
    invoice.number = `INV-${String(index + 1).padStart(6, '0')}-${String(i + 1).padStart(4, '0')}`;
  });

  // Credit notes: prorated credits on plan changes, and goodwill credits after complaints.
  const credits: CreditNote[] = [];
  const newCredit = (createdMs: number, totalCents: number, reference: string): void => {
    const x = r.next();
    const kind: CreditNote['kind'] =
      x < 0.85
        ? 'open'
        : x < 0.93
          ? 'draft_then_open'
          : x < 0.96
            ? 'draft'
            : x < 0.98
              ? 'draft_deleted'
              : 'voided';
    const later = createdMs + r.int(3600, 48 * 3600) * SECOND_MS;
    credits.push({
      id: zohoId('credit_notes', index, credits.length + 1),
      number: `CN-${String(index + 1).padStart(6, '0')}-${String(credits.length + 1).padStart(3, '0')}`,
      createdMs,
      openMs: kind === 'open' ? createdMs : kind === 'draft_then_open' ? later : undefined,
      kind,
      totalCents,
      rate: ctx.rates.rate(who.currency, createdMs),
      reference,
      laterMs: later,
      remaining: totalCents,
      applications: [],
      refundMs: undefined,
    });
    credits.sort((a, b) => (a.openMs ?? Number.POSITIVE_INFINITY) - (b.openMs ?? Number.POSITIVE_INFINITY));
  };
  for (const profile of profiles) {
    if (
      profile.stopKind === 'stopped' &&
      profile.stopMs !== undefined &&
      profile.lastInvoice &&
      r.chance(0.6)
    ) {
      const successor = profiles.find(
        (p) => p.createdMs > (profile.stopMs ?? 0) && p.createdMs - (profile.stopMs ?? 0) < MINUTE_MS,
      );
      if (successor) {
        const share = r.int(10, 90);
        newCredit(
          profile.stopMs + 2 * SECOND_MS,
          Math.round((profile.totalCents * share) / 100),
          profile.lastInvoice.number,
        );
      }
    }
  }

  const intents: Intent[] = [];
  for (const invoice of invoices) {
    if (invoice.kind === 'recurring' && invoice.voidMs === undefined) {
      for (const credit of credits) {
        if (credit.openMs === undefined || credit.openMs >= invoice.createdMs - SECOND_MS) continue;
        if (credit.remaining === 0) continue;
        const take = Math.min(credit.remaining, invoice.totalCents - invoice.credits);
        if (take <= 0) break;
        credit.remaining -= take;
        credit.applications.push({ ms: invoice.createdMs + SECOND_MS, cents: take });
        invoice.credits += take;
      }
    }
    const due = invoice.totalCents - invoice.credits;
    if (
      due === 0 ||
      invoice.sentMs === undefined ||
      invoice.deleteMs !== undefined ||
      invoice.voidMs !== undefined
    )
      continue;
    if (r.chance(0.25)) invoice.viewedMs = invoice.sentMs + r.int(600, 3 * 86_400) * SECOND_MS;
    const sent = invoice.sentMs;
    const dueEnd = zohoDayAt(invoice.day + who.terms.days + 1, 0);
    const onTime = (): number =>
      who.autopay
        ? sent + r.int(60, 7200) * SECOND_MS
        : sent + r.int(3600, Math.max(2, who.terms.days) * 86_400) * SECOND_MS;
    const late = (minDays: number, maxDays: number): number =>
      dueEnd + r.int(minDays * 86_400, maxDays * 86_400) * SECOND_MS;
    const plan: Array<{ ms: number; cents: number }> = [];
    const x = r.next();
    switch (who.behavior) {
      case 'prompt':
        plan.push({ ms: who.autopay && x < 0.03 ? late(1, 20) : onTime(), cents: due });
        break;
      case 'late':
        plan.push({ ms: x < 0.65 ? late(1, 50) : onTime(), cents: due });
        break;
      case 'partial':
        if (x < 0.5 && due >= 200) {
          const first = Math.round((due * r.int(30, 70)) / 100);
          const firstMs = onTime();
          plan.push(
            { ms: firstMs, cents: first },
            { ms: firstMs + r.int(5, 45) * DAY_MS, cents: due - first },
          );
        } else plan.push({ ms: onTime(), cents: due });
        break;
      case 'delinquent':
        if (x < 0.45) {
          // Never paid: some are voided after months of chasing.
          const voidMs = dueEnd + r.int(60, 150) * DAY_MS;
          if (invoice.credits === 0 && r.chance(0.4) && voidMs < ctx.horizonMs) invoice.voidMs = voidMs;
        } else plan.push({ ms: x < 0.8 ? late(30, 120) : onTime(), cents: due });
        break;
    }
    let lastPaid = 0;
    let paidAll = true;
    for (const p of plan) {
      const ms = Math.max(p.ms, sent + MINUTE_MS);
      if (ms >= ctx.horizonMs) {
        paidAll = false;
        break;
      }
      intents.push({ invoice, ms, cents: p.cents });
      lastPaid = ms;
    }
    if (plan.length > 0 && paidAll && r.chance(0.015)) {
      const ms = lastPaid + r.int(1, 20) * DAY_MS;
      if (ms < ctx.horizonMs)
        newCredit(ms, Math.round((invoice.totalCents * r.int(10, 50)) / 100), invoice.number);
    }
  }

  // Refund open credit left when the customer is gone for good.
  const lastChurn = churns[churns.length - 1];
  const endedForGood = lastChurn !== undefined && profiles.every((p) => p.stopMs !== undefined);
  if (endedForGood && lastChurn !== undefined) {
    for (const credit of credits) {
      if (credit.openMs === undefined || credit.remaining === 0 || !r.chance(0.5)) continue;
      const after = Math.max(lastChurn, credit.openMs, ...credit.applications.map((a) => a.ms));
      const ms = after + r.int(5, 20) * DAY_MS;
      if (ms < ctx.horizonMs) credit.refundMs = ms;
    }
  }

  const payments = groupPayments(r, ctx, index, who, contactId, intents);
  return [
    ...profiles.map((p) => profileDoc(r, ctx, who, contactId, p)),
    ...invoices.map((inv) => invoiceDoc(r, ctx, who, contactId, inv)),
    ...credits.map((cn) => creditNoteDoc(who, contactId, cn)),
    ...payments,
  ];
}

/** Payments: one per intent, except that late payers often settle several invoices at once. */
function groupPayments(
  r: Random,
  ctx: SimContext,
  index: number,
  who: Identity,
  contactId: string,
  intents: Intent[],
): DocFact[] {
  intents.sort((a, b) => a.ms - b.ms);
  const groups: Intent[][] = [];
  for (const intent of intents) {
    const group = groups[groups.length - 1];
    const head = group?.[0];
    if (
      group &&
      head &&
      who.behavior !== 'prompt' &&
      intent.ms - head.ms < 3 * DAY_MS &&
      !group.some((g) => g.invoice === intent.invoice) &&
      r.chance(0.5)
    ) {
      group.push(intent);
    } else groups.push([intent]);
  }
  const docs: DocFact[] = [];
  groups.forEach((group, i) => {
    const ms = Math.max(...group.map((g) => g.ms));
    const id = zohoId('customer_payments', index, i + 1);
    const amount = group.reduce((sum, g) => sum + g.cents, 0);
    for (const g of group) g.invoice.paid.push({ ms, cents: g.cents });
    const mode = who.autopay ? 'creditcard' : r.chance(0.8) ? who.mode : r.pick(PAYMENT_MODES);
    const doc: DocFact = {
      entity: 'customer_payments',
      id,
      createdMs: ms,
      base: {
        payment_id: id,
        payment_number: `PMT-${String(index + 1).padStart(6, '0')}-${i + 1}`,
        customer_id: contactId,
        customer_name: who.contactName,
        payment_mode: mode,
        date: dayText(zohoDay(ms)),
        reference_number: ' ',
        description: ' ',
        amount: money(amount),
        bank_charges: 0,
        currency_id: currencyId(who.currency),
        currency_code: who.currency,
        exchange_rate: ctx.rates.rate(who.currency, ms),
        invoices: group.map((g) => ({
          invoice_id: g.invoice.id,
          invoice_number: g.invoice.number,
          amount_applied: money(g.cents),
        })),
      },
      changes: [],
    };
    if (r.chance(0.03)) {
      const edit = ms + r.int(3600, 10 * 86_400) * SECOND_MS;
      if (edit < ctx.horizonMs)
        doc.changes.push({ ms: edit, patch: { reference_number: `TXN-${index}-${i + 1}` } });
    }
    docs.push(doc);
  });
  return docs;
}

function profileDoc(r: Random, ctx: SimContext, who: Identity, contactId: string, p: Profile): DocFact {
  const frequencyName =
    p.frequency === 'weeks'
      ? 'weekly'
      : p.frequency === 'years'
        ? 'yearly'
        : p.repeat === 3
          ? 'quarterly'
          : 'monthly';
  const doc: DocFact = {
    entity: 'recurring_invoices',
    id: p.id,
    createdMs: p.createdMs,
    base: {
      recurring_invoice_id: p.id,
      recurrence_name: `${p.plan.name} ${p.seats} seats ${frequencyName}`,
      customer_id: contactId,
      customer_name: who.contactName,
      status: 'active',
      recurrence_frequency: p.frequency,
      repeat_every: p.repeat,
      start_date: dayText(p.startDay),
      end_date: p.endDay === undefined ? ' ' : dayText(p.endDay),
      currency_id: currencyId(who.currency),
      currency_code: who.currency,
      exchange_rate: p.rate,
      total: money(p.totalCents),
    },
    changes: [],
  };
  const until = p.stopMs ?? ctx.horizonMs;
  if (r.chance(0.05)) {
    const ms = p.createdMs + r.int(1, 60) * DAY_MS;
    if (ms < until)
      doc.changes.push({
        ms,
        patch: { recurrence_name: `${String(doc.base.recurrence_name)} (${who.terms.label})` },
      });
  }
  if (p.stopMs !== undefined) {
    doc.changes.push(
      p.stopKind === 'expired'
        ? { ms: p.stopMs, patch: { status: 'expired' } }
        : { ms: p.stopMs, patch: { status: 'stopped', end_date: dayText(zohoDay(p.stopMs)) } },
    );
  }
  return doc;
}

type InvoiceEvent =
  | { readonly ms: number; readonly kind: 'sent' | 'viewed' | 'overdue' | 'void' | 'delete' }
  | { readonly ms: number; readonly kind: 'paid'; readonly cents: number };

/** An invoice's versions: created, sent, viewed, paid (partly, late), overdue, void or deleted. */
function invoiceDoc(r: Random, ctx: SimContext, who: Identity, contactId: string, inv: Invoice): DocFact {
  const dueDay = inv.day + who.terms.days;
  const state = {
    draft: inv.draft,
    void: false,
    viewed: false,
    overdue: false,
    paidCents: 0,
    lastPaymentDay: ' ',
  };
  const balance = (): number => (state.void ? 0 : inv.totalCents - inv.credits - state.paidCents);
  const status = (): string => {
    if (state.void) return 'void';
    if (state.draft) return 'draft';
    if (balance() === 0) return 'paid';
    if (state.overdue) return 'overdue';
    if (state.paidCents > 0 || inv.credits > 0) return 'partially_paid';
    return state.viewed ? 'viewed' : 'sent';
  };
  const events: InvoiceEvent[] = [];
  if (inv.draft && inv.sentMs !== undefined) events.push({ ms: inv.sentMs, kind: 'sent' });
  if (inv.viewedMs !== undefined && inv.viewedMs < ctx.horizonMs)
    events.push({ ms: inv.viewedMs, kind: 'viewed' });
  for (const p of inv.paid) events.push({ ms: p.ms + SECOND_MS, kind: 'paid', cents: p.cents });
  const overdueMs = zohoDayAt(dueDay + 1, r.int(1, 59));
  if (overdueMs < ctx.horizonMs) events.push({ ms: overdueMs, kind: 'overdue' });
  if (inv.voidMs !== undefined && inv.voidMs < ctx.horizonMs) events.push({ ms: inv.voidMs, kind: 'void' });
  if (inv.deleteMs !== undefined && inv.deleteMs < ctx.horizonMs)
    events.push({ ms: inv.deleteMs, kind: 'delete' });
  events.sort((a, b) => a.ms - b.ms);

  const snapshot = (): {
    status: string;
    balance: number;
    payment_made: number;
    last_payment_date: string;
  } => ({
    status: status(),
    balance: money(balance()),
    payment_made: money(state.paidCents),
    last_payment_date: state.lastPaymentDay,
  });
  const base: Record<string, unknown> = {
    invoice_id: inv.id,
    invoice_number: inv.number,
    customer_id: contactId,
    customer_name: who.contactName,
    ...snapshot(),
    reference_number: ' ',
    date: dayText(inv.day),
    due_date: dayText(dueDay),
    payment_terms: who.terms.days,
    payment_terms_label: who.terms.label,
    currency_id: currencyId(who.currency),
    currency_code: who.currency,
    exchange_rate: inv.rate,
    total: money(inv.totalCents),
    credits_applied: money(inv.credits),
    write_off_amount: 0,
    recurring_invoice_id: inv.profile?.id ?? ' ',
  };
  const changes: Change[] = [];
  for (const event of events) {
    const before = snapshot();
    switch (event.kind) {
      case 'delete':
        changes.push({ ms: event.ms, deleted: true });
        return { entity: 'invoices', id: inv.id, createdMs: inv.createdMs, base, changes };
      case 'sent':
        state.draft = false;
        break;
      case 'viewed':
        state.viewed = true;
        break;
      case 'overdue':
        if (!state.draft && balance() > 0) state.overdue = true;
        break;
      case 'void':
        state.void = true;
        break;
      case 'paid':
        state.paidCents += event.cents;
        state.lastPaymentDay = dayText(zohoDay(event.ms));
        break;
    }
    const after = snapshot();
    // Zoho bumps last_modified_time only when something changed.
    if (
      after.status !== before.status ||
      after.balance !== before.balance ||
      after.last_payment_date !== before.last_payment_date
    ) {
      changes.push({ ms: event.ms, patch: after });
    }
  }
  return { entity: 'invoices', id: inv.id, createdMs: inv.createdMs, base, changes };
}

/** A credit note's versions: draft or open, applied to invoices (closed at zero), refunded, voided or deleted. */
function creditNoteDoc(who: Identity, contactId: string, cn: CreditNote): DocFact {
  const draft = cn.kind !== 'open';
  const base: Record<string, unknown> = {
    creditnote_id: cn.id,
    creditnote_number: cn.number,
    customer_id: contactId,
    customer_name: who.contactName,
    status: draft ? 'draft' : 'open',
    reference_number: cn.reference,
    date: dayText(zohoDay(cn.createdMs)),
    currency_id: currencyId(who.currency),
    currency_code: who.currency,
    exchange_rate: cn.rate,
    total: money(cn.totalCents),
    balance: money(cn.totalCents),
  };
  const changes: Change[] = [];
  if (cn.kind === 'draft_then_open' && cn.openMs !== undefined)
    changes.push({ ms: cn.openMs, patch: { status: 'open' } });
  if (cn.kind === 'draft_deleted') changes.push({ ms: cn.laterMs, deleted: true });
  if (cn.kind === 'voided') changes.push({ ms: cn.laterMs, patch: { status: 'void', balance: 0 } });
  let left = cn.totalCents;
  for (const a of cn.applications) {
    left -= a.cents;
    changes.push({ ms: a.ms, patch: { balance: money(left), status: left === 0 ? 'closed' : 'open' } });
  }
  if (cn.refundMs !== undefined) changes.push({ ms: cn.refundMs, patch: { balance: 0, status: 'closed' } });
  return { entity: 'credit_notes', id: cn.id, createdMs: cn.createdMs, base, changes };
}

/** Cents as a JSON number with at most two decimals. */
function money(cents: number): number {
  return cents / 100;
}

function sortChanges(fact: { readonly changes: Change[] }): void {
  fact.changes.sort((a, b) => a.ms - b.ms);
}
