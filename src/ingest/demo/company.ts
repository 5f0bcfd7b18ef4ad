import { simulateCustomer } from './company/billing.js';
import { RateTable } from './company/catalog.js';
import type { SimContext } from './company/facts.js';
import { mix } from './company/ids.js';
import { compareDeliveries, type Delivery, renderDoc, TableWriter } from './company/render.js';
import { type CompanyStats, emptyStats } from './company/stats.js';
import { HOUR_MS, monthIndex } from './company/time.js';
import { simulateUsage } from './company/usage.js';
import type { CompanyHistory, DynamoEntity, StreamRecordJson, ZohoVersion } from './history.js';
import { Random } from './random.js';

export { EVENT_TYPES, MEANINGFUL_EVENT_TYPES } from './company/catalog.js';
export type { CompanyStats, DirtyCounts, StreamCounts, ZohoCounts } from './company/stats.js';
export { addStats, dirtyRateOf, emptyStats } from './company/stats.js';

/**
 * A synthetic SaaS company over a stretch of time (about 24 months in the
 * demo), deterministic by seed: Zoho Books (contacts in several currencies,
 * recurring profiles with upgrades, downgrades, churn and reactivation,
 * monthly and one-off invoices, full/partial/late payments, credit notes, a
 * few deletions) and the product's DynamoDB tables (accounts, users, usage
 * events with a TTL) as stream records, plus dirty data at a set rate.
 *
 * Each customer is simulated alone from `(seed, customer index)`, with ids
 * and stream sequence numbers derived from the index: a range of customers
 * can be generated without the others, in any chunking, and yields exactly
 * the same records. That is how it scales to a million customers:
 * `generateCompanyChunks` keeps one chunk in memory at a time.
 */

/** What can be generated; the rest is left empty (what is generated does not change). */
export type CompanyPart = 'zoho' | DynamoEntity;

export interface CompanyOptions {
  readonly seed: number;
  /** Zoho contacts; about 88% of them get a product account, the rest stay leads. */
  readonly customers: number;
  readonly start: Date;
  readonly end: Date;
  /** Dirty companions per clean version or record (default 0.002). */
  readonly dirtyRate?: number;
  readonly accountsTable?: string;
  readonly usersTable?: string;
  readonly usageTable?: string;
  /** The tables' AWS region (default `us-east-1`). */
  readonly awsRegion?: string;
  /** Days a usage event lives before its TTL expiry (default 365). */
  readonly usageTtlDays?: number;
  /** Multiplier of product usage (default 1: a few dozen events per active account and month). */
  readonly activity?: number;
  /** Generate only these parts (default all). */
  readonly only?: readonly CompanyPart[];
}

/** Dirty companions per clean item unless told otherwise: about one in five hundred. */
export const DEFAULT_DIRTY_RATE = 0.002;

/** Default DynamoDB table names. */
export const COMPANY_TABLES = {
  accounts: 'goldgate-demo-accounts',
  users: 'goldgate-demo-users',
  usage_events: 'goldgate-demo-usage-events',
} as const satisfies Record<DynamoEntity, string>;

const DYNAMO_ENTITIES: readonly DynamoEntity[] = ['accounts', 'users', 'usage_events'];

/** Table name -> entity, as the stream consumer's `tables` option wants it. */
export function companyTables(
  options: Pick<CompanyOptions, 'accountsTable' | 'usersTable' | 'usageTable'> = {},
): Record<string, DynamoEntity> {
  return {
    [options.accountsTable ?? COMPANY_TABLES.accounts]: 'accounts',
    [options.usersTable ?? COMPANY_TABLES.users]: 'users',
    [options.usageTable ?? COMPANY_TABLES.usage_events]: 'usage_events',
  };
}

/** One range of customers, generated alone. */
export interface CompanyChunk {
  /** Index of the chunk's first customer. */
  readonly firstCustomer: number;
  readonly customerCount: number;
  /** The range's history: Zoho versions by `validFrom`, stream records in stream order. */
  readonly history: CompanyHistory;
  readonly stats: CompanyStats;
}

export interface ChunkOptions {
  /** Customers per chunk (default 250: about 56,000 records, a few hundred MB at peak). */
  readonly chunkSize?: number;
  /** First customer index (default 0). */
  readonly from?: number;
  /** End customer index, exclusive (default `options.customers`). */
  readonly to?: number;
}

/**
 * The company in chunks of customers, one in memory at a time: the form for
 * large companies (benches, bulk loads). Each chunk is a history of its own
 * customers; together the chunks hold exactly the records of
 * `generateCompanyHistory`. Every record of an item is in one chunk, in order,
 * so replaying streams chunk after chunk keeps DynamoDB's per-item order (as
 * separate shards would); Zoho versions sort by `validFrom` within a chunk.
 */
export function* generateCompanyChunks(
  options: CompanyOptions,
  chunking: ChunkOptions = {},
): Generator<CompanyChunk> {
  const setup = prepare(options);
  const size = Math.max(1, Math.floor(chunking.chunkSize ?? 250));
  const from = Math.max(0, chunking.from ?? 0);
  const to = Math.min(options.customers, chunking.to ?? options.customers);
  for (let first = from; first < to; first += size) {
    const last = Math.min(to, first + size);
    const sink = newSink();
    for (let index = first; index < last; index++) generateCustomer(setup, index, sink);
    yield {
      firstCustomer: first,
      customerCount: last - first,
      history: finish(setup, sink),
      stats: sink.stats,
    };
  }
}

/** The whole company in one history (for the demo and tests: up to some tens of thousands of customers). */
export function generateCompanyHistory(options: CompanyOptions): CompanyHistory {
  return generateCompany(options).history;
}

/** The whole company and what it contains. */
export function generateCompany(options: CompanyOptions): { history: CompanyHistory; stats: CompanyStats } {
  const setup = prepare(options);
  const sink = newSink();
  for (let index = 0; index < options.customers; index++) generateCustomer(setup, index, sink);
  return { history: finish(setup, sink), stats: sink.stats };
}

interface Setup {
  readonly ctx: SimContext;
  readonly seed: number;
  readonly start: string;
  readonly end: string;
  readonly parts: ReadonlySet<CompanyPart>;
  readonly arns: Readonly<Record<DynamoEntity, string>>;
  readonly awsRegion: string;
}

interface Sink {
  readonly zoho: ZohoVersion[];
  readonly streams: Record<DynamoEntity, Delivery[]>;
  readonly stats: CompanyStats;
}

function prepare(options: CompanyOptions): Setup {
  const startMs = options.start.getTime();
  const endMs = options.end.getTime();
  if (!Number.isFinite(startMs) || !Number.isFinite(endMs) || endMs - startMs < 7 * 24 * HOUR_MS) {
    throw new RangeError('the history needs valid start and end dates at least a week apart');
  }
  if (!Number.isInteger(options.customers) || options.customers < 0 || options.customers > 99_999_999) {
    throw new RangeError('customers must be an integer between 0 and 99,999,999');
  }
  const dirtyRate = options.dirtyRate ?? DEFAULT_DIRTY_RATE;
  if (!(dirtyRate >= 0 && dirtyRate <= 0.5)) throw new RangeError('dirtyRate must be between 0 and 0.5');
  const seed = options.seed >>> 0;
  const awsRegion = options.awsRegion ?? 'us-east-1';
  // The stream label derives from the start: the same options always give the same ARNs.
  const label = new Date(startMs - 86_400_000).toISOString().slice(0, 23);
  const arn = (table: string): string =>
    `arn:aws:dynamodb:${awsRegion}:000000000000:table/${table}/stream/${label}`;
  return {
    ctx: {
      seed,
      startMs,
      endMs,
      horizonMs: endMs - HOUR_MS,
      rates: new RateTable(seed, startMs, monthIndex(startMs, endMs) + 1),
      activity: options.activity ?? 1,
      ttlSeconds: Math.round((options.usageTtlDays ?? 365) * 86_400),
      dirtyRate,
    },
    seed,
    start: options.start.toISOString(),
    end: options.end.toISOString(),
    parts: new Set(options.only ?? ['zoho', ...DYNAMO_ENTITIES]),
    arns: {
      accounts: arn(options.accountsTable ?? COMPANY_TABLES.accounts),
      users: arn(options.usersTable ?? COMPANY_TABLES.users),
      usage_events: arn(options.usageTable ?? COMPANY_TABLES.usage_events),
    },
    awsRegion,
  };
}

function newSink(): Sink {
  return { zoho: [], streams: { accounts: [], users: [], usage_events: [] }, stats: emptyStats() };
}

function generateCustomer(setup: Setup, index: number, sink: Sink): void {
  const { ctx, parts } = setup;
  const story = simulateCustomer(ctx, index);
  const stats = sink.stats;
  stats.customers += 1;
  if (story.account) stats.accounts += 1;
  else stats.leads += 1;
  if (story.paying) stats.paying += 1;

  if (parts.has('zoho')) {
    // Dirt has its own dice per source, so leaving a part out changes nothing else.
    const d = new Random(mix(ctx.seed, index, 3));
    for (const doc of story.docs)
      renderDoc(doc, ctx.endMs, ctx.dirtyRate, d, stats.zoho[doc.entity], sink.zoho);
  }
  const writer = (table: DynamoEntity, t: number): TableWriter =>
    new TableWriter(
      ctx.seed,
      table,
      t,
      setup.arns[table],
      setup.awsRegion,
      index,
      ctx.endMs,
      ctx.dirtyRate,
      new Random(mix(ctx.seed, index, 4 + t)),
      stats.streams[table],
      sink.streams[table],
    );
  if (story.account && parts.has('accounts')) writer('accounts', 0).item(story.account, 'account_id');
  const wantUsers = parts.has('users');
  const wantEvents = parts.has('usage_events');
  if (story.activity && (wantUsers || wantEvents)) {
    const usage = simulateUsage(ctx, index, story.activity, wantEvents);
    if (wantUsers) {
      const w = writer('users', 1);
      for (const user of usage.users) w.item(user, 'user_id');
    }
    if (wantEvents) {
      const w = writer('usage_events', 2);
      for (const event of usage.events) w.usageEvent(event, story.activity.accountId);
    }
  }
}

function finish(setup: Setup, sink: Sink): CompanyHistory {
  // Stable sorts over customers in index order: the same records in the same order whatever the chunking.
  sink.zoho.sort((a, b) => (a.validFrom < b.validFrom ? -1 : a.validFrom > b.validFrom ? 1 : 0));
  const streams = {} as Record<DynamoEntity, StreamRecordJson[]>;
  for (const table of DYNAMO_ENTITIES) {
    const deliveries = sink.streams[table];
    deliveries.sort(compareDeliveries);
    streams[table] = deliveries.map((d) => d.record);
  }
  return { seed: setup.seed, start: setup.start, end: setup.end, zoho: sink.zoho, streams };
}
