import { gunzipSync } from 'node:zlib';
import { z } from 'zod';
import type { ObjectStore } from '../../adapters/object-store/port.js';
import { describeError, isGoldgateError } from '../../errors.js';
import { readCheckpoint, writeCheckpoint } from '../../lake/checkpoint.js';
import { LockHeldError } from '../../lake/errors.js';
import { readJson } from '../../lake/json.js';
import { type BronzeRunRef, bronzeRunPrefix } from '../../lake/layout.js';
import { acquireLock, type Lock } from '../../lake/lock.js';
import { deterministicRunId, runIdTime, utcDate } from '../../lake/run-id.js';
import { type BronzeManifest, bronzeManifestSchema, writeBronzeRun } from '../bronze-writer.js';
import type { BronzeEvent } from '../envelope.js';
import { InvalidSourceRecordError } from '../errors.js';
import type { RequestBudget, ZohoBooksClient, ZohoLog } from './client.js';
import { ZOHO_ENTITIES, type ZohoEntity } from './entities.js';
import { ZohoAbortedError, ZohoDailyBudgetExhaustedError } from './errors.js';
import { zohoRecordsToEvents } from './records.js';

/**
 * Incremental pulls of Zoho Books into Bronze.
 *
 * Zoho has no change feed, only a `last_modified_time` filter ("modified at or
 * after", inclusive) on list endpoints whose pages cannot be ordered by that
 * time (invoices cannot be sorted by it). So each pull is a *window*: every
 * page of `last_modified_time >= watermark - overlap`, read to the end.
 *
 * - The watermark is a checkpoint (`_checkpoints/zoho_pull.{entity}.json`) and
 *   moves only after all of the window's Bronze runs are committed. It becomes
 *   the newest `last_modified_time` seen, but never later than the server's
 *   clock when the window started: an edit made while we paged may sit on a
 *   page already read, and must fall into the next window.
 * - A window is landed in chunks of `pagesPerRun` pages, one Bronze run each,
 *   with a run id derived from the window and chunk number. The checkpoint
 *   records the window's plan and the next page before and after each chunk,
 *   so a killed run resumes where the last committed chunk ended, rewrites an
 *   uncommitted chunk under the same keys, and never adds a second copy of a
 *   committed one.
 * - The overlap re-reads a few minutes of changes on purpose: duplicates are
 *   of the same key and version, which Silver collapses; a gap would be loss.
 */

export const ZOHO_SOURCE = 'zoho_books';

/** The entities in the order a full pull lands them. */
export const ZOHO_ENTITY_NAMES = Object.keys(ZOHO_ENTITIES) as ZohoEntity[];

/** The checkpoint job of an entity's pull (also its lock). */
export function zohoPullJob(entity: ZohoEntity): string {
  return `zoho_pull.${entity}`;
}

const pendingSchema = z.object({
  /** The window's number (windows completed before it). */
  window: z.number().int().nonnegative(),
  /** The filter, `null` for a full pull. */
  since: z.string().nullable(),
  /** Run ids of the window's chunks derive their time from this. */
  planned_at: z.string(),
  ingest_date: z.string(),
  /** The server's clock (`Date` header) when page 1 was answered. */
  source_started_at: z.string().nullable(),
  next_page: z.number().int().positive(),
  next_chunk: z.number().int().nonnegative(),
  runs: z.array(z.string()),
  events: z.number().int().nonnegative(),
  rejected: z.number().int().nonnegative().default(0),
  max_source_ts: z.string().nullable(),
  /** Ids on the last page of the last committed chunk: where a resumed run checks that pages did not shift. */
  boundary_ids: z.array(z.string()).default([]),
});
type Pending = z.infer<typeof pendingSchema>;

/** `_checkpoints/zoho_pull.{entity}.json` */
export const zohoPullCheckpointSchema = z.object({
  version: z.literal(1),
  entity: z.string(),
  /** Every change with `last_modified_time` at or before this is in committed Bronze runs. */
  watermark: z.string().nullable(),
  windows: z.number().int().nonnegative(),
  /** The newest run id written, so that later runs sort after it. */
  last_run_id: z.string().nullable(),
  updated_at: z.string(),
  pending: pendingSchema.nullable(),
});
export type ZohoPullCheckpoint = z.infer<typeof zohoPullCheckpointSchema>;

/** One line of progress. */
export interface ZohoPullProgress {
  readonly entity: ZohoEntity;
  readonly window: number;
  readonly page: number;
  readonly pageRecords: number;
  readonly events: number;
  readonly runs: number;
  readonly message: string;
}

export interface ZohoPullOptions {
  readonly store: ObjectStore;
  readonly client: ZohoBooksClient;
  /** Default: all five. */
  readonly entities?: readonly ZohoEntity[];
  /** Re-read this much before the watermark (default 10 minutes). */
  readonly overlapMs?: number;
  /** Pages per Bronze run (default 25: 5,000 records). */
  readonly pagesPerRun?: number;
  /** Ignore the watermark: pull everything (the checkpoint still moves afterwards). */
  readonly full?: boolean;
  /** Entities pulled at once; they share the client's budget (default: all). */
  readonly concurrency?: number;
  readonly lockTtlMs?: number;
  /** Stop cleanly after the chunk in progress once this time is passed (a Lambda's deadline). */
  readonly deadline?: Date;
  /** Stop now: the chunk in progress is abandoned and redone by the next run. */
  readonly signal?: AbortSignal;
  readonly now?: () => Date;
  readonly onProgress?: (event: ZohoPullProgress) => void;
  readonly log?: ZohoLog;
}

/** What one entity's pull did. */
export interface ZohoEntityPullResult {
  readonly entity: ZohoEntity;
  /** `partial`: stopped at the deadline or the daily budget; the next run resumes. */
  readonly status: 'complete' | 'partial' | 'skipped' | 'failed';
  readonly since: string | null;
  readonly watermark: string | null;
  readonly resumed: boolean;
  readonly pages: number;
  readonly events: number;
  /** Records without a usable id or `last_modified_time`: logged and counted, not landed. */
  readonly rejected: number;
  readonly runs: readonly string[];
  readonly error?: { readonly code: string; readonly message: string };
}

export interface ZohoPullResult {
  readonly entities: readonly ZohoEntityPullResult[];
  readonly requests: number;
  readonly budget: ReturnType<RequestBudget['usage']>;
}

/** Pull every requested entity once (incrementally), sharing one client and budget. */
export async function pullZoho(options: ZohoPullOptions): Promise<ZohoPullResult> {
  const entities = options.entities ?? ZOHO_ENTITY_NAMES;
  const before = options.client.stats.requests;
  await loadDailyUsage(options.store, options.client);
  const results: ZohoEntityPullResult[] = [];
  const queue = [...entities];
  const workers = Array.from(
    { length: Math.max(1, Math.min(options.concurrency ?? queue.length, queue.length)) },
    async () => {
      for (let entity = queue.shift(); entity !== undefined; entity = queue.shift()) {
        results.push(await pullZohoEntity(options, entity));
      }
    },
  );
  // Every worker ends before the count is saved, even when one of them was stopped.
  const settled = await Promise.allSettled(workers);
  await saveDailyUsage(options.store, options.client);
  for (const outcome of settled) if (outcome.status === 'rejected') throw outcome.reason;
  results.sort((a, b) => entities.indexOf(a.entity) - entities.indexOf(b.entity));
  return {
    entities: results,
    requests: options.client.stats.requests - before,
    budget: options.client.budget.usage(),
  };
}

/**
 * Pull one entity: resume the unfinished window if there is one, else plan
 * the next; land it chunk by chunk; then move the watermark. Budget and
 * deadline stops are `partial`; a lock held elsewhere is `skipped`; other
 * errors are `failed`, except an abort (the caller's signal), which throws.
 */
export async function pullZohoEntity(
  options: ZohoPullOptions,
  entity: ZohoEntity,
): Promise<ZohoEntityPullResult> {
  const now = options.now ?? (() => new Date());
  const job = zohoPullJob(entity);
  let lock: Lock;
  try {
    lock = await acquireLock(options.store, job, { ttlMs: options.lockTtlMs ?? 15 * 60_000, now: now() });
  } catch (error) {
    if (error instanceof LockHeldError) {
      options.log?.warn('zoho pull skipped: another run holds the lock', { entity });
      return emptyResult(entity, 'skipped', null, null);
    }
    return { ...emptyResult(entity, 'failed', null, null), error: errorSummary(error) };
  }
  const tally = { pages: 0, events: 0, rejected: 0, runs: [] as string[] };
  let resumed = false;
  try {
    const previous = await readCheckpoint(options.store, job, zohoPullCheckpointSchema);
    resumed = Boolean(previous?.pending);
    const checkpoint = await planWindow(options, entity, previous, lock, now);
    const pending = checkpoint.pending;
    if (!pending) throw new Error('unreachable: a planned window');
    const outcome = await landWindow(options, entity, checkpoint, pending, lock, now, tally);
    return {
      entity,
      status: outcome.complete ? 'complete' : 'partial',
      since: pending.since,
      watermark: outcome.checkpoint.watermark,
      resumed,
      ...tally,
    };
  } catch (error) {
    if (error instanceof ZohoAbortedError) throw error;
    const partial = error instanceof ZohoDailyBudgetExhaustedError;
    const { code, message } = errorSummary(error);
    options.log?.warn(partial ? 'zoho pull paused' : 'zoho pull failed', { entity, code, error: message });
    const latest = await readCheckpoint(options.store, job, zohoPullCheckpointSchema).catch(() => undefined);
    return {
      entity,
      status: partial ? 'partial' : 'failed',
      since: latest?.pending?.since ?? null,
      watermark: latest?.watermark ?? null,
      resumed,
      ...tally,
      error: { code, message },
    };
  } finally {
    await lock.release(now()).catch(() => undefined);
  }
}

function errorSummary(error: unknown): { code: string; message: string } {
  return isGoldgateError(error)
    ? { code: error.code, message: error.message }
    : { code: 'UNEXPECTED', message: describeError(error).message };
}

function emptyResult(
  entity: ZohoEntity,
  status: ZohoEntityPullResult['status'],
  since: string | null,
  watermark: string | null,
): ZohoEntityPullResult {
  return { entity, status, since, watermark, resumed: false, pages: 0, events: 0, rejected: 0, runs: [] };
}

/** Keep the unfinished window, or record the plan of a new one before any request is made. */
async function planWindow(
  options: ZohoPullOptions,
  entity: ZohoEntity,
  checkpoint: ZohoPullCheckpoint | undefined,
  lock: Lock,
  now: () => Date,
): Promise<ZohoPullCheckpoint> {
  if (checkpoint?.pending) return checkpoint;
  const at = now();
  // Run ids must sort after every earlier one: Silver breaks `source_ts` ties by `seq`, which starts with the run id.
  const after = checkpoint?.last_run_id ? runIdTime(checkpoint.last_run_id).getTime() + 1000 : 0;
  const plannedAt = new Date(Math.max(at.getTime(), after));
  const watermark = checkpoint?.watermark ?? null;
  const since =
    options.full || watermark === null
      ? null
      : new Date(Date.parse(watermark) - (options.overlapMs ?? 10 * 60_000)).toISOString();
  const planned: ZohoPullCheckpoint = {
    version: 1,
    entity,
    watermark,
    windows: checkpoint?.windows ?? 0,
    last_run_id: checkpoint?.last_run_id ?? null,
    updated_at: at.toISOString(),
    pending: {
      window: checkpoint?.windows ?? 0,
      since,
      planned_at: plannedAt.toISOString(),
      ingest_date: utcDate(plannedAt),
      source_started_at: null,
      next_page: 1,
      next_chunk: 0,
      runs: [],
      events: 0,
      rejected: 0,
      max_source_ts: null,
      boundary_ids: [],
    },
  };
  await lock.assertHeld(now());
  await writeCheckpoint(options.store, zohoPullJob(entity), planned);
  return planned;
}

/** The run id of a chunk: a pure function of the window's plan, so a retried chunk rewrites its own keys. */
export function zohoChunkRunId(
  entity: ZohoEntity,
  pending: Pick<Pending, 'window' | 'planned_at'>,
  chunk: number,
): string {
  const at = new Date(Date.parse(pending.planned_at) + chunk * 1000);
  return deterministicRunId(at, ZOHO_SOURCE, entity, String(pending.window), String(chunk));
}

async function landWindow(
  options: ZohoPullOptions,
  entity: ZohoEntity,
  start: ZohoPullCheckpoint,
  first: Pending,
  lock: Lock,
  now: () => Date,
  tally: { pages: number; events: number; rejected: number; runs: string[] },
): Promise<{ complete: boolean; checkpoint: ZohoPullCheckpoint }> {
  const { store, client } = options;
  const pagesPerRun = Math.max(1, options.pagesPerRun ?? 25);
  let checkpoint = start;
  let pending = first;
  // A window taken up again (by a new run, or after adopting a chunk) first checks for shifted pages.
  let resuming = first.next_page > 1;
  let filterWarned = false;
  for (;;) {
    if (options.deadline && now().getTime() >= options.deadline.getTime())
      return { complete: false, checkpoint };
    const runId = zohoChunkRunId(entity, pending, pending.next_chunk);
    const ref: BronzeRunRef = { source: ZOHO_SOURCE, entity, ingestDate: pending.ingest_date, runId };
    const committed = await readJson(store, `${bronzeRunPrefix(ref)}_SUCCESS`, bronzeManifestSchema);
    if (committed) {
      // An earlier run committed this chunk and died before its checkpoint: keep the chunk as it was read
      // then (rewriting it is impossible, and a fresh read could not be landed under the same run id).
      pending = await adoptChunk(store, pending, ref, committed);
      tally.runs.push(runId);
      checkpoint = { ...checkpoint, last_run_id: runId, updated_at: now().toISOString(), pending };
      await lock.assertHeld(now());
      await writeCheckpoint(store, zohoPullJob(entity), checkpoint);
      resuming = true;
      continue;
    }
    const ingestedAt = now().toISOString();
    const events: BronzeEvent[] = [];
    let sourceStartedAt = pending.source_started_at;
    let page = pending.next_page;
    let done = false;
    let rejected = 0;
    let boundaryIds = pending.boundary_ids;
    if (resuming && page > 1) {
      const shifted = await shiftedRecords(options, entity, pending, { runId, ingestedAt }, tally);
      events.push(...shifted.events);
      rejected += shifted.rejected;
    }
    for (let read = 0; read < pagesPerRun; read++, page++) {
      const answer = await client.listPage(
        entity,
        { page, since: pending.since ?? undefined },
        options.signal,
      );
      if (page === 1) sourceStartedAt = answer.serverDate ?? null;
      const mapped = toEvents(entity, answer.records, { runId, page, ingestedAt }, options.log);
      if (
        pending.since !== null &&
        !filterWarned &&
        // The filter is sent in whole seconds.
        mapped.events.some((e) => e.source_ts < `${(pending.since ?? '').slice(0, 19)}.000Z`)
      ) {
        // Only the invoices OpenAPI file documents the filter: an endpoint ignoring it costs requests, not data.
        filterWarned = true;
        options.log?.warn('zoho list ignored last_modified_time: this window re-reads older records', {
          entity,
        });
      }
      events.push(...mapped.events);
      rejected += mapped.rejected;
      boundaryIds = answer.records.map((record) => idOf(entity, record)).filter((id) => id !== undefined);
      tally.pages += 1;
      options.onProgress?.({
        entity,
        window: pending.window,
        page,
        pageRecords: answer.records.length,
        events: tally.events + events.length,
        runs: tally.runs.length,
        message: `${entity}: page ${page} (${answer.records.length} records)`,
      });
      if (!answer.hasMorePage || answer.records.length === 0) {
        done = true;
        break;
      }
    }
    resuming = false;
    const nextPage = done ? page + 1 : page;

    let maxTs = pending.max_source_ts;
    const runs = [...pending.runs];
    if (events.length > 0) {
      await lock.assertHeld(now());
      const written = await writeBronzeRun(store, ref, events, { now: now() });
      const top = written.manifest.max_source_ts;
      if (top !== null && (maxTs === null || top > maxTs)) maxTs = top;
      runs.push(runId);
      tally.runs.push(runId);
      tally.events += events.length;
    }
    tally.rejected += rejected;
    pending = {
      ...pending,
      source_started_at: sourceStartedAt,
      next_page: nextPage,
      next_chunk: pending.next_chunk + (events.length > 0 ? 1 : 0),
      runs,
      events: pending.events + events.length,
      rejected: pending.rejected + rejected,
      max_source_ts: maxTs,
      boundary_ids: boundaryIds,
    };
    const lastRunId = runs.at(-1) ?? checkpoint.last_run_id;
    checkpoint = done
      ? {
          ...checkpoint,
          watermark: nextWatermark(checkpoint.watermark, pending),
          windows: checkpoint.windows + 1,
          last_run_id: lastRunId,
          updated_at: now().toISOString(),
          pending: null,
        }
      : { ...checkpoint, last_run_id: lastRunId, updated_at: now().toISOString(), pending };
    // The checkpoint follows the commit: a crash before this line redoes the chunk under the same run id.
    await lock.assertHeld(now());
    await writeCheckpoint(store, zohoPullJob(entity), checkpoint);
    if (done) {
      options.log?.info('zoho window landed', {
        entity,
        window: pending.window,
        since: pending.since,
        watermark: checkpoint.watermark,
        events: pending.events,
        runs: pending.runs.length,
      });
      return { complete: true, checkpoint };
    }
  }
}

/**
 * Take a committed chunk as this window's progress: its pages are the ones
 * its events name (`seq` = `run:page:row`), its last page's ids are the new
 * boundary. If it held page 1, the window began before its plan was made,
 * so the plan's time caps the watermark (our clock; the overlap absorbs skew).
 */
async function adoptChunk(
  store: ObjectStore,
  pending: Pending,
  ref: BronzeRunRef,
  manifest: BronzeManifest,
): Promise<Pending> {
  const byPage = new Map<number, string[]>();
  const prefix = bronzeRunPrefix(ref);
  for (const part of manifest.parts) {
    const text = gunzipSync(await store.get(`${prefix}${part}`)).toString('utf8');
    for (const line of text.split('\n')) {
      if (!line) continue;
      const event = z.object({ key: z.string(), seq: z.string() }).parse(JSON.parse(line));
      const page = Number(event.seq.split(':')[1]);
      byPage.set(page, [...(byPage.get(page) ?? []), event.key]);
    }
  }
  const lastPage = Math.max(pending.next_page - 1, ...byPage.keys());
  const top = manifest.max_source_ts;
  return {
    ...pending,
    source_started_at: pending.next_page === 1 ? pending.planned_at : pending.source_started_at,
    next_page: lastPage + 1,
    next_chunk: pending.next_chunk + 1,
    runs: [...pending.runs, ref.runId],
    events: pending.events + manifest.event_count,
    max_source_ts:
      top !== null && (pending.max_source_ts === null || top > pending.max_source_ts)
        ? top
        : pending.max_source_ts,
    boundary_ids: byPage.get(lastPage) ?? [],
  };
}

/**
 * A resumed window continues at a page number, but pages are offsets: records
 * deleted since the last committed chunk shift unread records onto pages
 * already read. So step back: re-read earlier pages until one holds an id of
 * the last committed page (at most 5), and land what was not on that page.
 * Records that shifted the other way come back as duplicates of the same
 * version, which is allowed; a lost record is not.
 */
async function shiftedRecords(
  options: ZohoPullOptions,
  entity: ZohoEntity,
  pending: Pending,
  position: { runId: string; ingestedAt: string },
  tally: { pages: number },
): Promise<{ events: BronzeEvent[]; rejected: number }> {
  const boundary = new Set(pending.boundary_ids);
  const events: BronzeEvent[] = [];
  let rejected = 0;
  for (let page = pending.next_page - 1; page >= Math.max(1, pending.next_page - 5); page--) {
    const answer = await options.client.listPage(
      entity,
      { page, since: pending.since ?? undefined },
      options.signal,
    );
    tally.pages += 1;
    const fresh = answer.records.filter((record) => !boundary.has(idOf(entity, record) ?? ''));
    const mapped = toEvents(entity, fresh, { ...position, page }, options.log);
    events.push(...mapped.events);
    rejected += mapped.rejected;
    if (fresh.length < answer.records.length) break;
  }
  if (events.length > 0)
    options.log?.info('zoho resume found shifted records', { entity, records: events.length });
  return { events, rejected };
}

function idOf(entity: ZohoEntity, record: Record<string, unknown>): string | undefined {
  const id = record[ZOHO_ENTITIES[entity].idField];
  return typeof id === 'string' || typeof id === 'number' ? String(id) : undefined;
}

/** The newest change seen, capped at the server's clock when the window began, never moving back. */
function nextWatermark(previous: string | null, pending: Pending): string | null {
  let candidate = pending.max_source_ts;
  if (candidate !== null && pending.source_started_at !== null && pending.source_started_at < candidate) {
    candidate = pending.source_started_at;
  }
  if (candidate === null) return previous;
  return previous !== null && previous > candidate ? previous : candidate;
}

/** Map a page to events; a record without a usable id or timestamp is logged and counted, not landed. */
function toEvents(
  entity: ZohoEntity,
  records: ReadonlyArray<Record<string, unknown>>,
  position: { runId: string; page: number; ingestedAt: string },
  log: ZohoLog | undefined,
): { events: BronzeEvent[]; rejected: number } {
  try {
    return { events: zohoRecordsToEvents(entity, records, position), rejected: 0 };
  } catch (error) {
    if (!(error instanceof InvalidSourceRecordError)) throw error;
  }
  const usable = records.filter((record, row) => {
    try {
      zohoRecordsToEvents(entity, [record], position);
      return true;
    } catch (error) {
      if (!(error instanceof InvalidSourceRecordError)) throw error;
      log?.warn('zoho record rejected', { entity, page: position.page, row, reason: error.message });
      return false;
    }
  });
  return { events: zohoRecordsToEvents(entity, usable, position), rejected: records.length - usable.length };
}

// ---------------------------------------------------------------------------
// The daily request count, kept across processes

const usageSchema = z.object({ day: z.string(), used: z.number().int().nonnegative() });

function usageJob(client: ZohoBooksClient): string {
  return `zoho_budget.${client.organizationId.toLowerCase().replace(/[^a-z0-9_.-]/g, '_')}`.slice(0, 63);
}

/** Seed the client's budget with today's requests made by earlier runs (Zoho counts per day). */
export async function loadDailyUsage(store: ObjectStore, client: ZohoBooksClient): Promise<void> {
  const usage = await readCheckpoint(store, usageJob(client), usageSchema).catch(() => undefined);
  if (usage) client.budget.recordEarlierUse(usage.day, usage.used);
}

/** Persist today's request count for the next run. */
export async function saveDailyUsage(store: ObjectStore, client: ZohoBooksClient): Promise<void> {
  const usage = client.budget.usage();
  await writeCheckpoint(store, usageJob(client), { day: usage.day, used: usage.usedToday }).catch(
    () => undefined,
  );
}
