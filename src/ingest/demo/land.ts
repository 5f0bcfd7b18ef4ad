import type { ObjectStore } from '../../adapters/object-store/port.js';
import { GoldgateError } from '../../errors.js';
import { consumeStreamBatch } from '../dynamodb/consumer.js';
import { RequestBudget, TokenCache, ZohoBooksClient } from '../zoho/client.js';
import type { ZohoEntity } from '../zoho/entities.js';
import { LocalZohoServer } from '../zoho/local-server.js';
import { pullZoho, type ZohoPullResult } from '../zoho/pull.js';
import { reconcileZoho, type SilverKeySource, type ZohoReconcileResult } from '../zoho/reconcile.js';
import { companyTables } from './company.js';
import type { CompanyHistory, DynamoEntity } from './history.js';

/**
 * A generated company's sources landed in Bronze the way production lands
 * them, at points in time the caller chooses: Zoho Books is served over HTTP
 * by the local Books-compatible server and read by the real puller (and the
 * real reconciliation), each time with the server's clock moved to that
 * point; the DynamoDB stream records go through the real stream consumer in
 * Lambda-sized batches, up to that point. Used by `goldgate demo`, tests
 * that need a realistic lake, and benches.
 */

/** Lambda's default batch size for a DynamoDB Streams event source. */
export const STREAM_BATCH_SIZE = 100;

const STREAM_TABLES: readonly DynamoEntity[] = ['accounts', 'users', 'usage_events'];

export interface DemoSourcesOptions {
  readonly store: ObjectStore;
  readonly history: CompanyHistory;
  /** The Zoho entities pulled and reconciled (default: all five). */
  readonly zohoEntities?: readonly ZohoEntity[];
  /** DynamoDB table name -> Bronze entity, as the stream consumer is configured (default `companyTables()`). */
  readonly tables?: Readonly<Record<string, string>>;
  readonly onProgress?: (message: string) => void;
}

/** The local sources could not be landed: a bug, since they never fail on their own. */
export class DemoLandingError extends GoldgateError {
  readonly code = 'DEMO_LANDING_FAILED';
}

/** The sources of one company and what has been landed from them so far. Always `close()` it. */
export class DemoSources {
  private landed = 0;
  private readonly next: Record<DynamoEntity, number> = { accounts: 0, users: 0, usage_events: 0 };
  // One warm "container": the access token lives across invocations until the server's clock expires it.
  private readonly tokens = new TokenCache();
  private clock: Date;

  private constructor(
    private readonly options: DemoSourcesOptions,
    /** The local Zoho Books server (exposed for its stats). */
    readonly server: LocalZohoServer,
  ) {
    this.clock = new Date(options.history.start);
  }

  /** Start the local Zoho Books server over the history (its clock at the history's start). */
  static async start(options: DemoSourcesOptions): Promise<DemoSources> {
    const server = await LocalZohoServer.start({
      history: options.history,
      now: options.history.start,
      // The demo is about the data, not pacing (the client's budget against the server's limit is benched).
      rateLimit: null,
    });
    return new DemoSources(options, server);
  }

  /** Bronze events landed so far (Zoho pulls, reconciliation deletes, stream records). */
  get events(): number {
    return this.landed;
  }

  /** Stop the local server. */
  async close(): Promise<void> {
    await this.server.close();
  }

  /** Deliver the stream records written by `until` and not yet delivered; returns the events landed. */
  async deliverStreams(until: Date): Promise<number> {
    const untilS = Math.floor(until.getTime() / 1000);
    // Each table's stream has its own consumer, so they run side by side.
    const results = await Promise.all(STREAM_TABLES.map((table) => this.deliverTable(table, untilS, until)));
    const records = results.reduce((sum, r) => sum + r.records, 0);
    const events = results.reduce((sum, r) => sum + r.events, 0);
    this.landed += events;
    if (records > 0) {
      const perTable = STREAM_TABLES.map((t, i) => `${t} ${results[i]?.records ?? 0}`).join(', ');
      const batches = results.reduce((sum, r) => sum + r.batches, 0);
      this.say(`${stamp(until)} DynamoDB streams: ${perTable} records in ${batches} batches`);
    }
    return events;
  }

  /** One scheduled Zoho pull at `at` (the server's clock moved there); throws unless every entity completed. */
  async pull(at: Date): Promise<ZohoPullResult> {
    this.moveTo(at);
    const result = await pullZoho({
      store: this.options.store,
      client: this.client(),
      ...(this.options.zohoEntities ? { entities: this.options.zohoEntities } : {}),
      now: () => at,
    });
    const failed = result.entities.filter((e) => e.status !== 'complete');
    if (failed.length > 0) {
      throw new DemoLandingError(`the Zoho pull at ${stamp(at)} failed: ${summary(failed)}`);
    }
    this.landed += result.entities.reduce((sum, e) => sum + e.events, 0);
    const since = result.entities.find((e) => e.since !== null)?.since;
    const window = since ? `changes since ${stamp(new Date(since))}` : 'full';
    const perEntity = result.entities.map((e) => `${e.entity} ${e.events}`).join(', ');
    const runs = result.entities.reduce((sum, e) => sum + e.runs.length, 0);
    this.say(
      `${stamp(at)} Zoho pull (${window}): ${perEntity} events in ${runs} Bronze runs, ${result.requests} requests`,
    );
    return result;
  }

  /** Zoho reconciliation at `at` against Silver's live keys: lands the deletes; throws unless every entity completed. */
  async reconcile(at: Date, silverKeys: SilverKeySource): Promise<ZohoReconcileResult> {
    this.moveTo(at);
    const result = await reconcileZoho({
      store: this.options.store,
      client: this.client(),
      silverKeys,
      ...(this.options.zohoEntities ? { entities: this.options.zohoEntities } : {}),
      now: () => at,
    });
    const failed = result.entities.filter((e) => e.status !== 'complete');
    if (failed.length > 0) {
      throw new DemoLandingError(`the Zoho reconciliation at ${stamp(at)} failed: ${summary(failed)}`);
    }
    const deleted = result.entities.reduce((sum, e) => sum + e.deleted, 0);
    this.landed += deleted;
    const perEntity = result.entities.map((e) => `${e.entity} ${e.deleted}`).join(', ');
    this.say(`${stamp(at)} Zoho reconciliation: ${deleted} deletes (${perEntity})`);
    return result;
  }

  private moveTo(at: Date): void {
    this.clock = at;
    this.server.setNow(at);
  }

  /** A client per invocation, as a scheduled Lambda makes one, sharing the warm token cache. */
  private client(): ZohoBooksClient {
    return new ZohoBooksClient({
      credentials: this.server.credentials,
      organizationId: this.server.organizationId,
      accountsUrl: this.server.accountsUrl,
      tokenCache: this.tokens,
      // Far above what the demo needs: the local server has no limit and the demo should take seconds.
      budget: new RequestBudget({ limit: 1_000, windowMs: 1_000, dailyLimit: 1_000_000 }),
      retry: { maxAttempts: 5, baseMs: 50, capMs: 1_000 },
      // Token expiry follows the simulated clock, as the server's does.
      now: () => this.clock.getTime(),
    });
  }

  private async deliverTable(
    table: DynamoEntity,
    untilS: number,
    until: Date,
  ): Promise<{ records: number; batches: number; events: number }> {
    const stream = this.options.history.streams[table];
    const tables = this.options.tables ?? companyTables();
    const from = this.next[table];
    let to = from;
    // Records are in delivery order; a late (out-of-order) one rides with the records around it.
    while (to < stream.length && (stream[to]?.dynamodb.ApproximateCreationDateTime ?? 0) <= untilS) to++;
    let batches = 0;
    let events = 0;
    for (let i = from; i < to; i += STREAM_BATCH_SIZE) {
      const batch = stream.slice(i, Math.min(to, i + STREAM_BATCH_SIZE));
      const newest = batch.reduce((max, r) => Math.max(max, r.dynamodb.ApproximateCreationDateTime), 0);
      const result = await consumeStreamBatch(
        this.options.store,
        { Records: batch },
        // Delivered a second after its newest record was written.
        { tables, now: new Date(Math.min(until.getTime(), (newest + 1) * 1000)) },
      );
      if (result.batchItemFailures.length > 0) {
        const first = result.failures[0];
        throw new DemoLandingError(
          `a ${table} stream batch had ${result.failures.length} failed records (first: ${first?.code}: ${first?.reason})`,
        );
      }
      batches += 1;
      events += Object.values(result.landed).reduce((a, b) => a + b, 0);
    }
    this.next[table] = to;
    return { records: to - from, batches, events };
  }

  private say(message: string): void {
    this.options.onProgress?.(message);
  }
}

function summary(
  failed: ReadonlyArray<{
    readonly entity: string;
    readonly status: string;
    readonly error?: { code: string; message: string };
  }>,
): string {
  return failed
    .map((e) => `${e.entity} ${e.status}${e.error ? ` (${e.error.code}: ${e.error.message})` : ''}`)
    .join(', ');
}

/** `2026-11-21 06:15Z`: the simulated time a progress line speaks of. */
export function stamp(at: Date): string {
  return `${at.toISOString().slice(0, 16).replace('T', ' ')}Z`;
}
