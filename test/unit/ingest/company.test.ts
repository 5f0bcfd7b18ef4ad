import { beforeAll, describe, expect, it } from 'vitest';
import {
  type CompanyOptions,
  type CompanyStats,
  companyTables,
  type DirtyCounts,
  dirtyRateOf,
  generateCompany,
  generateCompanyChunks,
  generateCompanyHistory,
  MEANINGFUL_EVENT_TYPES,
} from '../../../src/ingest/demo/company.js';
import type {
  CompanyHistory,
  DynamoEntity,
  StreamRecordJson,
  ZohoVersion,
} from '../../../src/ingest/demo/history.js';
import { contractViolations, groundTruth } from '../../../src/ingest/demo/truth.js';
import { streamRecordToEvent } from '../../../src/ingest/dynamodb/record.js';
import { dynamoDBStreamRecordSchema, isTtlExpiry } from '../../../src/ingest/dynamodb/stream-event.js';
import { unmarshall } from '../../../src/ingest/dynamodb/unmarshall.js';
import { toUtcInstant } from '../../../src/ingest/envelope.js';
import { ZOHO_ENTITIES, type ZohoEntity } from '../../../src/ingest/zoho/entities.js';
import { ENTITIES, type EntityContract } from '../../../src/transform/entities.js';

const START = new Date('2024-11-01T00:00:00.000Z');
const END = new Date('2026-11-01T00:00:00.000Z');
const base = (customers: number, extra: Partial<CompanyOptions> = {}): CompanyOptions => ({
  seed: 20261121,
  customers,
  start: START,
  end: END,
  ...extra,
});

type Rec = Readonly<Record<string, unknown>>;
const DYNAMO: readonly DynamoEntity[] = ['accounts', 'users', 'usage_events'];
const ZOHO = Object.keys(ZOHO_ENTITIES) as ZohoEntity[];
const TWO_53 = 2n ** 53n;

function str(value: unknown): string {
  return typeof value === 'string' ? value : String(value);
}
function num(value: unknown): number {
  return typeof value === 'number' ? value : Number(value);
}
function contract(source: string, entity: string): EntityContract {
  const found = ENTITIES.find((c) => c.source === source && c.entity === entity);
  if (!found) throw new Error(`no contract ${entity}`);
  return found;
}
function pathValue(record: Rec, path: string): unknown {
  let value: unknown = record;
  for (const part of path.slice(2).split('.')) {
    value = typeof value === 'object' && value !== null ? (value as Rec)[part] : undefined;
  }
  return value;
}
function cents(value: unknown): number {
  return Math.round(num(value) * 100);
}
const zohoTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+0530$/;
const isoUtc = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const day = /^\d{4}-\d{2}-\d{2}$/;

/** Independent of truth.ts: does a Zoho record meet its Silver contract (required, enums, shapes)? */
function zohoContractProblems(entity: ZohoEntity, record: Rec): string[] {
  const problems: string[] = [];
  for (const field of contract('zoho_books', entity).fields) {
    const value = pathValue(record, field.path);
    const blank = value === undefined || value === null || (typeof value === 'string' && value.trim() === '');
    if (field.required && blank) problems.push(`missing ${field.name}`);
    if (blank) continue;
    if (field.values && !field.values.includes(str(value))) problems.push(`enum ${field.name}`);
    if (
      field.sqlType === 'DATE' &&
      !(day.test(str(value)) && toUtcInstant(`${str(value)}T00:00:00Z`)?.startsWith(str(value)))
    )
      problems.push(`date ${field.name}`);
    if (field.sqlType === 'TIMESTAMP' && !(zohoTime.test(str(value)) && toUtcInstant(str(value))))
      problems.push(`time ${field.name}`);
    if (
      (field.sqlType === 'DECIMAL(18,2)' || field.sqlType === 'DOUBLE' || field.sqlType === 'INTEGER') &&
      typeof value !== 'number'
    )
      problems.push(`number ${field.name}`);
    if (field.nonNegative && num(value) < 0) problems.push(`negative ${field.name}`);
  }
  return problems;
}

/** Clean Zoho versions: no contract problem, not a repeat of the previous version, not older than it. */
function cleanVersions(history: CompanyHistory): ZohoVersion[] {
  const latest = new Map<string, { modified: string; json: string }>();
  const out: ZohoVersion[] = [];
  for (const v of history.zoho) {
    const key = `${v.entity}:${v.id}`;
    if (v.record === null) {
      out.push(v);
      continue;
    }
    if (zohoContractProblems(v.entity, v.record).length > 0) continue;
    const modified = toUtcInstant(str(v.record.last_modified_time)) ?? '';
    const json = JSON.stringify(v.record);
    const before = latest.get(key);
    if (before && (before.json === json || modified < before.modified)) continue;
    latest.set(key, { modified, json });
    out.push(v);
  }
  return out;
}

function byEntity(versions: readonly ZohoVersion[], entity: ZohoEntity): ZohoVersion[] {
  return versions.filter((v) => v.entity === entity);
}

/** The latest clean version of each record (deleted ones dropped). */
function finalRecords(versions: readonly ZohoVersion[], entity: ZohoEntity): Map<string, Rec> {
  const out = new Map<string, Rec>();
  for (const v of byEntity(versions, entity)) {
    if (v.record === null) out.delete(v.id);
    else out.set(v.id, v.record);
  }
  return out;
}

function image(record: StreamRecordJson): Rec {
  const raw = record.eventName === 'REMOVE' ? record.dynamodb.OldImage : record.dynamodb.NewImage;
  return raw ? unmarshall(raw) : {};
}

describe('synthetic company generator', () => {
  let history: CompanyHistory;
  let stats: CompanyStats;
  let clean: ZohoVersion[];

  beforeAll(() => {
    ({ history, stats } = generateCompany(base(500)));
    clean = cleanVersions(history);
  });

  describe('determinism', () => {
    it('gives byte-identical JSON for the same options and a different company for another seed', () => {
      const a = JSON.stringify(generateCompanyHistory(base(120)));
      const b = JSON.stringify(generateCompanyHistory(base(120)));
      const c = JSON.stringify(generateCompanyHistory(base(120, { seed: 7 })));
      expect(a).toBe(b);
      expect(c).not.toBe(a);
    });

    it('gives the same records in chunks, in any chunking, and leaves other parts unchanged with `only`', () => {
      const whole = generateCompanyHistory(base(90));
      const chunks = [...generateCompanyChunks(base(90), { chunkSize: 37 })];
      expect(chunks.map((c) => [c.firstCustomer, c.customerCount])).toEqual([
        [0, 37],
        [37, 37],
        [74, 16],
      ]);
      const zoho = chunks.flatMap((c) => c.history.zoho);
      zoho.sort((x, y) => (x.validFrom < y.validFrom ? -1 : x.validFrom > y.validFrom ? 1 : 0));
      expect(JSON.stringify(zoho)).toBe(JSON.stringify(whole.zoho));
      for (const table of DYNAMO) {
        const fromChunks = chunks
          .flatMap((c) => c.history.streams[table].map((r) => JSON.stringify(r)))
          .sort();
        expect(fromChunks).toEqual(whole.streams[table].map((r) => JSON.stringify(r)).sort());
      }
      const slice = [...generateCompanyChunks(base(90), { from: 40, to: 50, chunkSize: 100 })][0];
      expect(slice?.customerCount).toBe(10);
      const onlyZoho = generateCompanyHistory(base(90, { only: ['zoho'] }));
      expect(JSON.stringify(onlyZoho.zoho)).toBe(JSON.stringify(whole.zoho));
      expect(onlyZoho.streams.usage_events).toEqual([]);
      const onlyUsers = generateCompanyHistory(base(90, { only: ['users'] }));
      expect(JSON.stringify(onlyUsers.streams.users)).toBe(JSON.stringify(whole.streams.users));
    });
  });

  describe('shape at 500 customers', () => {
    it('has leads, accounts, paying customers and activity in the expected ranges', () => {
      expect(stats.customers).toBe(500);
      expect(stats.leads).toBeGreaterThan(30);
      expect(stats.leads).toBeLessThan(100);
      expect(stats.accounts + stats.leads).toBe(500);
      expect(stats.paying / stats.accounts).toBeGreaterThan(0.25);
      expect(stats.paying / stats.accounts).toBeLessThan(0.6);
      const invoices = new Set(byEntity(clean, 'invoices').map((v) => v.id));
      expect(invoices.size / stats.paying).toBeGreaterThan(6);
      expect(invoices.size / stats.paying).toBeLessThan(25);
      expect(stats.streams.usage_events.records / stats.accounts).toBeGreaterThan(50);
      expect(stats.streams.usage_events.records / stats.accounts).toBeLessThan(500);
      expect(stats.streams.usage_events.ttlExpiries).toBeGreaterThan(0);
      expect(stats.streams.users.deletes).toBeGreaterThan(0);
      expect(stats.zoho.contacts.deletes).toBeGreaterThan(0);
      expect(stats.zoho.invoices.deletes).toBeGreaterThan(0);
    });

    it('covers several currencies, every region, and every document status the marts need', () => {
      const contacts = finalRecords(clean, 'contacts');
      expect(new Set([...contacts.values()].map((c) => c.currency_code)).size).toBeGreaterThanOrEqual(6);
      const regions = new Set(history.streams.accounts.map((r) => image(r).region));
      expect([...regions].sort()).toEqual(['APAC', 'EU', 'LATAM', 'MEA', 'NA']);
      const statuses = new Set(byEntity(clean, 'invoices').map((v) => v.record?.status));
      for (const s of ['draft', 'sent', 'viewed', 'overdue', 'partially_paid', 'paid', 'void'])
        expect(statuses).toContain(s);
      const cn = new Set(byEntity(clean, 'credit_notes').map((v) => v.record?.status));
      for (const s of ['draft', 'open', 'closed']) expect(cn).toContain(s);
      const rates = new Set(
        byEntity(clean, 'invoices').map(
          (v) => `${str(v.record?.currency_code)}:${num(v.record?.exchange_rate)}`,
        ),
      );
      expect(rates.size).toBeGreaterThan(30);
      const oneOff = byEntity(clean, 'invoices').filter(
        (v) => v.record && str(v.record.recurring_invoice_id).trim() === '',
      );
      expect(oneOff.length).toBeGreaterThan(0);
    });

    it('writes Zoho ids as digit strings above 2^53 and timestamps in +0530', () => {
      for (const v of history.zoho) {
        expect(v.id).toMatch(/^\d{18}$/);
        expect(BigInt(v.id) > TWO_53).toBe(true);
        expect(v.validFrom).toMatch(isoUtc);
        if (v.record) expect(v.record[ZOHO_ENTITIES[v.entity].idField]).toBe(v.id);
      }
      for (const v of clean) {
        if (!v.record) continue;
        expect(v.record.last_modified_time).toMatch(zohoTime);
        expect(toUtcInstant(str(v.record.last_modified_time))).toBe(v.validFrom);
      }
      const sorted = history.zoho.every(
        (v, i) => i === 0 || (history.zoho[i - 1]?.validFrom ?? '') <= v.validFrom,
      );
      expect(sorted).toBe(true);
      expect(history.zoho.every((v) => v.validFrom >= history.start && v.validFrom <= history.end)).toBe(
        true,
      );
    });

    it('has subscriptions with upgrades, downgrades, churn, renewals and reactivations', () => {
      const profiles = [...finalRecords(clean, 'recurring_invoices').values()];
      const byCustomer = new Map<string, Rec[]>();
      for (const p of profiles)
        byCustomer.set(str(p.customer_id), [...(byCustomer.get(str(p.customer_id)) ?? []), p]);
      const moves = { upgrade: 0, downgrade: 0, churn: 0, reactivation: 0, renewal: 0 };
      for (const list of byCustomer.values()) {
        list.sort(
          (a, b) =>
            str(a.start_date).localeCompare(str(b.start_date)) ||
            str(a.created_time).localeCompare(str(b.created_time)),
        );
        expect(list.filter((p) => p.status === 'active').length).toBeLessThanOrEqual(1);
        list.forEach((p, i) => {
          const next = list[i + 1];
          if (p.status === 'active') {
            expect(next).toBeUndefined();
            return;
          }
          expect(['stopped', 'expired']).toContain(p.status);
          expect(str(p.end_date)).toMatch(day);
          if (next === undefined) moves.churn += 1;
          else if (next.start_date === p.end_date) {
            // A plan change or a renewal: the old profile ends the day the new one starts.
            if (p.status === 'expired') moves.renewal += 1;
            else if (num(next.total) > num(p.total)) moves.upgrade += 1;
            else if (num(next.total) < num(p.total)) moves.downgrade += 1;
          } else {
            expect(str(next.start_date) > str(p.end_date)).toBe(true);
            moves.churn += 1;
            moves.reactivation += 1;
          }
        });
      }
      expect(moves.upgrade).toBeGreaterThan(0);
      expect(moves.downgrade).toBeGreaterThan(0);
      expect(moves.churn).toBeGreaterThan(0);
      expect(moves.renewal).toBeGreaterThan(0);
      expect(moves.reactivation).toBeGreaterThan(0);
    });

    it('has trials that activate within 14 days or not, and convert within 60 days or not', () => {
      const signup = new Map<string, { at: number; contact: string }>();
      for (const r of history.streams.accounts) {
        if (r.eventName !== 'INSERT') continue;
        const item = image(r);
        signup.set(str(item.account_id), {
          at: Date.parse(str(item.signup_at)),
          contact: str(item.zoho_contact_id),
        });
      }
      const firstMeaningful = new Map<string, number>();
      const meaningful: readonly string[] = MEANINGFUL_EVENT_TYPES;
      for (const r of history.streams.usage_events) {
        if (r.eventName !== 'INSERT') continue;
        const e = image(r);
        if (!meaningful.includes(str(e.event_type))) continue;
        const at = Date.parse(str(e.occurred_at));
        const account = str(e.account_id);
        if (!(at >= (firstMeaningful.get(account) ?? Number.POSITIVE_INFINITY)))
          firstMeaningful.set(account, at);
      }
      const firstInvoice = new Map<string, string>();
      for (const v of clean) {
        if (v.entity !== 'invoices' || !v.record || v.record.status === 'draft') continue;
        const customer = str(v.record.customer_id);
        const date = str(v.record.date);
        if (!(date >= (firstInvoice.get(customer) ?? '9999'))) firstInvoice.set(customer, date);
      }
      const early = [...signup.entries()].filter(([, s]) => s.at < END.getTime() - 120 * 86_400_000);
      const activated = early.filter(
        ([id, s]) => (firstMeaningful.get(id) ?? Number.POSITIVE_INFINITY) < s.at + 14 * 86_400_000,
      );
      const days = (id: string): number => {
        const s = signup.get(id);
        const d = s ? firstInvoice.get(s.contact) : undefined;
        return s && d ? (Date.parse(`${d}T00:00:00Z`) - s.at) / 86_400_000 : Number.POSITIVE_INFINITY;
      };
      const within60 = early.filter(([id]) => days(id) <= 60);
      const after60 = early.filter(([id]) => days(id) > 60 && Number.isFinite(days(id)));
      expect(activated.length / early.length).toBeGreaterThan(0.35);
      expect(activated.length / early.length).toBeLessThan(0.75);
      expect(within60.length / early.length).toBeGreaterThan(0.15);
      expect(within60.length / early.length).toBeLessThan(0.55);
      expect(after60.length).toBeGreaterThan(0);
    });
  });

  describe('referential consistency', () => {
    it('raises every document for a customer that exists at its time', () => {
      const contactSince = new Map<string, string>();
      const contactDeleted = new Map<string, string>();
      for (const v of byEntity(clean, 'contacts')) {
        if (v.record === null) contactDeleted.set(v.id, v.validFrom);
        else if (!contactSince.has(v.id)) contactSince.set(v.id, v.validFrom);
      }
      for (const v of clean) {
        if (v.entity === 'contacts' || !v.record) continue;
        const customer = str(v.record.customer_id);
        expect((contactSince.get(customer) ?? '9999') <= v.validFrom, `${v.entity} ${v.id}`).toBe(true);
        expect(contactDeleted.has(customer)).toBe(false);
      }
      const contacts = new Set(contactSince.keys());
      for (const r of history.streams.accounts)
        expect(contacts.has(str(image(r).zoho_contact_id))).toBe(true);
    });

    it('applies payments to invoices that exist, never beyond what is due, consistent with balances', () => {
      const invoiceSince = new Map<string, string>();
      for (const v of byEntity(clean, 'invoices'))
        if (v.record && !invoiceSince.has(v.id)) invoiceSince.set(v.id, v.validFrom);
      const applied = new Map<string, number>();
      let multi = 0;
      const payments = finalRecords(clean, 'customer_payments');
      const invoices = finalRecords(clean, 'invoices');
      for (const [id, p] of payments) {
        const apps = p.invoices as ReadonlyArray<{ invoice_id: string; amount_applied: number }>;
        expect(apps.length).toBeGreaterThan(0);
        if (apps.length > 1) multi += 1;
        expect(
          apps.reduce((s, a) => s + cents(a.amount_applied), 0),
          id,
        ).toBe(cents(p.amount));
        const paidAt = byEntity(clean, 'customer_payments').find((v) => v.id === id)?.validFrom ?? '';
        for (const a of apps) {
          expect((invoiceSince.get(a.invoice_id) ?? '9999') <= paidAt).toBe(true);
          expect(invoices.get(a.invoice_id)?.customer_id).toBe(p.customer_id);
          applied.set(a.invoice_id, (applied.get(a.invoice_id) ?? 0) + cents(a.amount_applied));
        }
      }
      expect(multi).toBeGreaterThan(0);
      let partial = 0;
      let late = 0;
      for (const [id, inv] of invoices) {
        const paid = applied.get(id) ?? 0;
        expect(paid + cents(inv.credits_applied)).toBeLessThanOrEqual(cents(inv.total));
        if (inv.status === 'void' || inv.status === 'draft') {
          expect(paid).toBe(0);
          continue;
        }
        expect(cents(inv.balance), id).toBe(cents(inv.total) - cents(inv.credits_applied) - paid);
        expect(cents(inv.payment_made)).toBe(paid);
        expect(inv.status === 'paid').toBe(cents(inv.balance) === 0);
        if (paid > 0 && paid < cents(inv.total)) partial += 1;
        if (str(inv.last_payment_date) > str(inv.due_date)) late += 1;
      }
      expect(partial).toBeGreaterThan(0);
      expect(late).toBeGreaterThan(0);
      // A partly paid invoice shows partially_paid (or overdue) before it is paid.
      const seen = new Map<string, string[]>();
      for (const v of byEntity(clean, 'invoices'))
        if (v.record) seen.set(v.id, [...(seen.get(v.id) ?? []), str(v.record.status)]);
      expect([...seen.values()].some((s) => s.includes('partially_paid') && s.at(-1) === 'paid')).toBe(true);
      expect([...seen.values()].some((s) => s.includes('overdue') && s.at(-1) === 'paid')).toBe(true);
    });

    it('keeps one price per recurring profile, and invoices from a profile at its price and in its period', () => {
      const prices = new Map<string, Set<number>>();
      for (const v of byEntity(clean, 'recurring_invoices')) {
        if (!v.record) continue;
        prices.set(v.id, (prices.get(v.id) ?? new Set()).add(num(v.record.total)));
      }
      for (const [id, set] of prices) expect(set.size, id).toBe(1);
      const profiles = finalRecords(clean, 'recurring_invoices');
      let fromProfiles = 0;
      for (const inv of finalRecords(clean, 'invoices').values()) {
        const rid = str(inv.recurring_invoice_id).trim();
        if (rid === '') continue;
        fromProfiles += 1;
        const profile = profiles.get(rid);
        expect(profile, rid).toBeDefined();
        expect(profile?.customer_id).toBe(inv.customer_id);
        expect(num(inv.total)).toBe(num(profile?.total));
        expect(str(inv.date) >= str(profile?.start_date)).toBe(true);
        if (str(profile?.end_date).trim() !== '') expect(str(inv.date) <= str(profile?.end_date)).toBe(true);
      }
      expect(fromProfiles).toBeGreaterThan(100);
    });

    it('applies credit notes within their totals', () => {
      for (const cn of finalRecords(clean, 'credit_notes').values()) {
        expect(num(cn.balance)).toBeGreaterThanOrEqual(0);
        expect(num(cn.balance)).toBeLessThanOrEqual(num(cn.total));
        if (cn.status === 'closed' || cn.status === 'void') expect(num(cn.balance)).toBe(0);
      }
      const credited = [...finalRecords(clean, 'invoices').values()].filter(
        (i) => num(i.credits_applied) > 0,
      );
      expect(credited.length).toBeGreaterThan(0);
    });
  });

  describe('source contracts', () => {
    it('meets every Silver contract path with the right types, except the deliberately malformed versions', () => {
      let broken = 0;
      for (const v of history.zoho)
        if (v.record && zohoContractProblems(v.entity, v.record).length > 0) broken += 1;
      const injected = ZOHO.reduce((sum, e) => sum + stats.zoho[e].malformed, 0);
      expect(broken).toBe(injected);
      for (const v of clean) {
        if (!v.record) continue;
        for (const field of contract('zoho_books', v.entity).fields) {
          if (
            field.sqlType === 'DATE' &&
            pathValue(v.record, field.path) !== undefined &&
            str(pathValue(v.record, field.path)).trim() !== ''
          ) {
            expect(str(pathValue(v.record, field.path))).toMatch(day);
          }
        }
      }
    });

    it('writes stream records the consumer accepts, TTL expiries marked as made by the service', () => {
      const tables = companyTables();
      // Problems are collected and asserted once: an expect per record makes this test slow.
      const problems: string[] = [];
      const note = (ok: boolean, what: string, record: StreamRecordJson): void => {
        if (!ok && problems.length < 20) problems.push(`${what}: ${record.eventID}`);
      };
      let parsedCount = 0;
      for (const table of DYNAMO) {
        history.streams[table].forEach((record, i) => {
          const change = record.dynamodb;
          note(/^\d{21,40}$/.test(change.SequenceNumber), 'sequence number', record);
          note(Number.isInteger(change.ApproximateCreationDateTime), 'epoch seconds', record);
          note(change.ApproximateCreationDateTime * 1000 <= END.getTime(), 'inside the history', record);
          if (record.eventName === 'REMOVE') {
            const ttl =
              record.userIdentity?.type === 'Service' &&
              record.userIdentity.principalId === 'dynamodb.amazonaws.com';
            // Usage events only expire; users are deleted by people (no userIdentity).
            note(
              table === 'usage_events' ? ttl : record.userIdentity === undefined,
              'remove identity',
              record,
            );
            if (ttl)
              note(
                change.ApproximateCreationDateTime >= num(image(record).expires_at),
                'expiry after TTL',
                record,
              );
          }
          // Every record of the small tables, every removal and a sample of usage inserts (all take long).
          if (table === 'usage_events' && record.eventName === 'INSERT' && i % 7 !== 0) return;
          parsedCount += 1;
          const parsed = dynamoDBStreamRecordSchema.safeParse(record);
          note(parsed.success, 'schema', record);
          const outcome = streamRecordToEvent(record, tables, END.toISOString());
          note('accepted' in outcome, 'consumer', record);
          if (!('accepted' in outcome) || !parsed.success) return;
          note(outcome.accepted.draft.entity === table, 'entity', record);
          note(outcome.accepted.ttlExpiry === isTtlExpiry(parsed.data), 'ttl flag', record);
          note(
            outcome.accepted.ttlExpiry === (record.eventName === 'REMOVE' && table === 'usage_events'),
            'ttl',
            record,
          );
        });
      }
      expect(problems).toEqual([]);
      expect(parsedCount).toBeGreaterThan(10_000);
      for (const r of history.streams.usage_events.filter((x) => x.eventName === 'INSERT').slice(0, 500)) {
        const e = image(r);
        expect(str(e.occurred_at)).toMatch(isoUtc);
        expect(Number(e.expires_at)).toBeGreaterThan(Date.parse(str(e.occurred_at)) / 1000);
      }
      const roles = new Set(
        history.streams.users.filter((x) => x.eventName === 'INSERT').map((r) => str(image(r).role)),
      );
      expect([...roles].sort()).toEqual(['admin', 'member', 'owner']);
    });
  });

  describe('dirty data', () => {
    let dirty: { history: CompanyHistory; stats: CompanyStats };
    beforeAll(() => {
      dirty = generateCompany(base(300, { dirtyRate: 0.02, seed: 99 }));
    });

    it('injects dirt at the configured rate', () => {
      expect(dirtyRateOf(dirty.stats)).toBeGreaterThan(0.02 * 0.85);
      expect(dirtyRateOf(dirty.stats)).toBeLessThan(0.02 * 1.15);
      // The default rate, on the 500-customer company.
      expect(dirtyRateOf(stats)).toBeGreaterThan(0.002 * 0.7);
      expect(dirtyRateOf(stats)).toBeLessThan(0.002 * 1.3);
      const kinds: DirtyCounts[] = [
        ...Object.values(dirty.stats.zoho),
        ...Object.values(dirty.stats.streams),
      ];
      for (const k of ['malformed', 'duplicates', 'outOfOrder'] as const) {
        expect(kinds.reduce((s, c) => s + c[k], 0)).toBeGreaterThan(20);
      }
    });

    it('has duplicates and out-of-order versions that can be told apart from the data', () => {
      const h = dirty.history;
      let zohoDuplicates = 0;
      let zohoOutOfOrder = 0;
      const last = new Map<string, { json: string; modified: string }>();
      for (const v of h.zoho) {
        if (!v.record) continue;
        const key = `${v.entity}:${v.id}`;
        const json = JSON.stringify(v.record);
        const modified = toUtcInstant(str(v.record.last_modified_time)) ?? '';
        const before = last.get(key);
        if (before?.json === json) zohoDuplicates += 1;
        else if (before && modified < before.modified) zohoOutOfOrder += 1;
        if (!before || modified >= before.modified) last.set(key, { json, modified });
      }
      const sum = (k: 'duplicates' | 'outOfOrder'): number =>
        ZOHO.reduce((s, e) => s + dirty.stats.zoho[e][k], 0);
      expect(zohoDuplicates).toBe(sum('duplicates'));
      expect(zohoOutOfOrder).toBe(sum('outOfOrder'));
      for (const table of DYNAMO) {
        const ids = new Set<string>();
        let repeats = 0;
        let older = 0;
        const maxSeq = new Map<string, bigint>();
        let firstDeliveries = 0;
        let unordered = 0;
        for (const r of h.streams[table]) {
          if (ids.has(r.eventID)) repeats += 1;
          else {
            // Stream order is time order for every record delivered the first time.
            if (r.dynamodb.ApproximateCreationDateTime < firstDeliveries) unordered += 1;
            firstDeliveries = Math.max(firstDeliveries, r.dynamodb.ApproximateCreationDateTime);
          }
          ids.add(r.eventID);
          const key = JSON.stringify(r.dynamodb.Keys);
          const seq = BigInt(r.dynamodb.SequenceNumber);
          const max = maxSeq.get(key);
          if (max !== undefined && seq < max) older += 1;
          if (max === undefined || seq > max) maxSeq.set(key, seq);
        }
        const c = dirty.stats.streams[table];
        expect(unordered).toBe(0);
        expect(repeats).toBe(c.duplicates + c.outOfOrder);
        if (table !== 'usage_events') expect(older).toBe(c.outOfOrder);
      }
    });

    it('lists each malformed version in the ground truth with the reason code Silver gives, and keeps it out', () => {
      const truth = groundTruth(dirty.history);
      const injected =
        ZOHO.reduce((s, e) => s + dirty.stats.zoho[e].malformed, 0) +
        DYNAMO.reduce((s, t) => s + dirty.stats.streams[t].malformed, 0);
      expect(truth.malformed.length).toBe(injected);
      const codes = new Set(truth.malformed.map((m) => m.reasonCode));
      expect([...codes].sort()).toEqual([
        'MISSING_FIELD',
        'NEGATIVE_AMOUNT',
        'TYPE_MISMATCH',
        'UNKNOWN_ENUM',
      ]);
      for (const m of truth.malformed) {
        expect(m.reason.startsWith(`${m.reasonCode}:`)).toBe(true);
        const live = truth.entities[m.entity].records[m.key];
        if (!live) continue;
        const c = contract(m.source, m.entity);
        expect(contractViolations(c, live, 'U')).toEqual([]);
      }
    });
  });

  describe('ground truth', () => {
    it('keeps the latest surviving version, drops deletes, and keeps TTL-expired usage events', () => {
      const truth = groundTruth(history);
      expect(truth.at).toBe(END.toISOString());
      const deletedContacts = byEntity(history.zoho, 'contacts').filter((v) => v.record === null);
      expect(deletedContacts.length).toBeGreaterThan(0);
      for (const v of deletedContacts) {
        expect(truth.entities.contacts.records[v.id]).toBeUndefined();
        expect(truth.entities.contacts.deleted).toContain(v.id);
      }
      for (const v of byEntity(history.zoho, 'invoices').filter((x) => x.record === null)) {
        expect(truth.entities.invoices.records[v.id]).toBeUndefined();
      }
      expect(truth.ttlExpired.length).toBe(stats.streams.usage_events.ttlExpiries);
      for (const id of truth.ttlExpired) expect(truth.entities.usage_events.records[id]).toBeDefined();
      const userRemoves = history.streams.users.filter((r) => r.eventName === 'REMOVE');
      for (const r of userRemoves)
        expect(truth.entities.users.records[str(image(r).user_id)]).toBeUndefined();
      // Latest by last_modified_time: the truth holds each record's newest clean version.
      const latest = new Map<string, Rec>();
      for (const v of clean) {
        if (v.entity !== 'invoices') continue;
        if (v.record === null) latest.delete(v.id);
        else latest.set(v.id, v.record);
      }
      expect(Object.keys(truth.entities.invoices.records).length).toBe(latest.size);
      for (const [id, record] of latest) expect(truth.entities.invoices.records[id]).toEqual(record);
      expect(truth.entities.usage_events.counts.ttlExpired).toBe(truth.ttlExpired.length);
    });

    it('answers for an earlier time, and for what pulls at given times could see', () => {
      const mid = new Date('2025-11-01T00:00:00.000Z');
      const early = groundTruth(history, mid);
      const full = groundTruth(history);
      expect(early.entities.invoices.counts.live).toBeLessThan(full.entities.invoices.counts.live);
      for (const r of Object.values(early.entities.invoices.records)) {
        expect((toUtcInstant(str(r.last_modified_time)) ?? '') <= mid.toISOString()).toBe(true);
      }
      expect(early.ttlExpired.length).toBeLessThan(full.ttlExpired.length);
      const pulledOnce = groundTruth(history, undefined, { observedAt: [END] });
      expect(pulledOnce.entities.invoices.counts.versions).toBeLessThan(
        full.entities.invoices.counts.versions,
      );
      expect(Object.keys(pulledOnce.entities.contacts.records).length).toBeGreaterThan(0);
      // A record whose last version is clean looks the same whether every change was pulled or only the end.
      let same = 0;
      for (const [id, r] of Object.entries(pulledOnce.entities.invoices.records)) {
        if (JSON.stringify(full.entities.invoices.records[id]) === JSON.stringify(r)) same += 1;
      }
      expect(same / pulledOnce.entities.invoices.counts.live).toBeGreaterThan(0.98);
    });
  });
});
