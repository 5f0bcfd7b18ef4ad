import { gunzipSync } from 'node:zlib';
import { z } from 'zod';
import type { ObjectStore } from '../../adapters/object-store/port.js';
import type { QueryEngine } from '../../adapters/query-engine/port.js';
import { describeError, GoldgateError, isGoldgateError } from '../../errors.js';
import { readCheckpoint, writeCheckpoint } from '../../lake/checkpoint.js';
import { LockHeldError } from '../../lake/errors.js';
import { type BronzeRunRef, bronzeRunPrefix } from '../../lake/layout.js';
import { acquireLock } from '../../lake/lock.js';
import { newRunId, utcDate } from '../../lake/run-id.js';
import { sql } from '../../sql/fragment.js';
import { readPublishedSilver, silverRelation } from '../../transform/silver.js';
import { writeBronzeRun } from '../bronze-writer.js';
import type { ZohoBooksClient, ZohoLog } from './client.js';
import { ZOHO_ENTITIES, type ZohoEntity } from './entities.js';
import { ZohoAbortedError } from './errors.js';
import { ZOHO_ENTITY_NAMES, ZOHO_SOURCE } from './pull.js';
import { zohoDeleteEvent } from './records.js';

/**
 * Deletes by reconciliation. Zoho Books exposes no delete feed, so this job
 * lists the ids the source has now, compares them with the live keys of the
 * entity's latest Silver snapshot, and lands a `D` event for each key Silver
 * holds that the source no longer has, as one Bronze run per entity. A voided
 * invoice is still listed (status `void`), so it is never deleted here.
 *
 * The deletes it emitted are remembered in `_checkpoints/zoho_reconcile.{entity}.json`
 * until Silver has merged them, so that a second reconciliation before the
 * next pipeline run does not emit them again.
 */

/** The checkpoint job (and lock) of an entity's reconciliation. */
export function zohoReconcileJob(entity: ZohoEntity): string {
  return `zoho_reconcile.${entity}`;
}

const reconcileCheckpointSchema = z.object({
  version: z.literal(1),
  /** Deletes landed but maybe not yet merged into Silver: id -> the D event's `source_ts`. */
  emitted: z.record(z.string(), z.string()),
  /** A delete run planned and perhaps half written: retried under the same run id. */
  pending: z.object({ run_id: z.string(), ingest_date: z.string() }).nullable(),
  updated_at: z.string(),
});
type ReconcileCheckpoint = z.infer<typeof reconcileCheckpointSchema>;

/** The reconciliation would delete more than the allowed share of Silver: a listing gone wrong, not deletes. */
export class ZohoReconcileRefusedError extends GoldgateError {
  readonly code = 'RECONCILE_REFUSED';
}

/** Live keys of an entity in Silver with their `_source_ts` (ms); `undefined` before Silver has a version. */
export type SilverKeySource = (entity: ZohoEntity) => Promise<Map<string, number> | undefined>;

/** Read the live keys of the latest published Silver snapshot of an entity through the query engine. */
export function silverKeysFromEngine(store: ObjectStore, engine: QueryEngine): SilverKeySource {
  return async (entity) => {
    const version = await readPublishedSilver(store, { source: ZOHO_SOURCE, entity });
    if (!version) return undefined;
    const keys = new Map<string, number>();
    const cursor = await engine.stream({
      sql: sql`SELECT _key, epoch_ms(_source_ts) AS source_ms FROM ${silverRelation(version)}`,
      label: `zoho.reconcile.${entity}.silver_keys`,
    });
    for await (const rows of cursor) {
      for (const row of rows) {
        if (typeof row._key === 'string') keys.set(row._key, Number(row.source_ms ?? 0));
      }
    }
    return keys;
  };
}

export interface ZohoReconcileProgress {
  readonly entity: ZohoEntity;
  readonly page: number;
  readonly sourceIds: number;
  readonly message: string;
}

export interface ZohoReconcileOptions {
  readonly store: ObjectStore;
  readonly client: ZohoBooksClient;
  /** Where Silver's live keys come from (e.g. `silverKeysFromEngine(store, engine)`). */
  readonly silverKeys: SilverKeySource;
  readonly entities?: readonly ZohoEntity[];
  /**
   * Refuse when more than this share of Silver's keys would be deleted at once
   * (default 0.5): an empty or truncated listing must not wipe an entity.
   */
  readonly maxDeleteRatio?: number;
  readonly lockTtlMs?: number;
  readonly now?: () => Date;
  readonly signal?: AbortSignal;
  readonly onProgress?: (event: ZohoReconcileProgress) => void;
  readonly log?: ZohoLog;
}

export interface ZohoEntityReconcileResult {
  readonly entity: ZohoEntity;
  readonly status: 'complete' | 'skipped' | 'failed';
  readonly sourceIds: number;
  readonly silverIds: number;
  /** `D` events landed by this run. */
  readonly deleted: number;
  /** Ids the source has and Silver lacks (not yet merged, or missed): a health signal only. */
  readonly sourceOnly: number;
  readonly runId?: string;
  readonly error?: { readonly code: string; readonly message: string };
}

export interface ZohoReconcileResult {
  readonly entities: readonly ZohoEntityReconcileResult[];
}

/** Reconcile every requested entity, one after the other. */
export async function reconcileZoho(options: ZohoReconcileOptions): Promise<ZohoReconcileResult> {
  const entities: ZohoEntityReconcileResult[] = [];
  for (const entity of options.entities ?? ZOHO_ENTITY_NAMES) {
    entities.push(await reconcileZohoEntity(options, entity));
  }
  return { entities };
}

/** Reconcile one entity: list the source's ids, compare with Silver, land the deletes. */
export async function reconcileZohoEntity(
  options: ZohoReconcileOptions,
  entity: ZohoEntity,
): Promise<ZohoEntityReconcileResult> {
  const now = options.now ?? (() => new Date());
  const { store } = options;
  const job = zohoReconcileJob(entity);
  const empty = { entity, sourceIds: 0, silverIds: 0, deleted: 0, sourceOnly: 0 };
  let lock: Awaited<ReturnType<typeof acquireLock>>;
  try {
    lock = await acquireLock(store, job, { ttlMs: options.lockTtlMs ?? 15 * 60_000, now: now() });
  } catch (error) {
    if (error instanceof LockHeldError) return { ...empty, status: 'skipped' };
    return { ...empty, status: 'failed', error: errorSummary(error) };
  }
  try {
    let checkpoint: ReconcileCheckpoint = (await readCheckpoint(store, job, reconcileCheckpointSchema)) ?? {
      version: 1,
      emitted: {},
      pending: null,
      updated_at: now().toISOString(),
    };
    if (checkpoint.pending) {
      // A run planned last time: committed means its deletes are known; otherwise it is redone below.
      const ref = bronzeRef(entity, checkpoint.pending.ingest_date, checkpoint.pending.run_id);
      if (await store.head(`${bronzeRunPrefix(ref)}_SUCCESS`)) {
        checkpoint = {
          ...checkpoint,
          emitted: await emittedOf(store, ref, checkpoint.emitted),
          pending: null,
        };
      }
    }

    const silver = await options.silverKeys(entity);
    if (!silver) {
      options.log?.info('zoho reconcile skipped: no Silver version yet', { entity });
      return { ...empty, status: 'skipped' };
    }
    const { ids: source, serverDate } = await listSourceIds(options, entity);

    // Deletes Silver has merged are settled; keep only those still pending a merge.
    const emitted: Record<string, string> = {};
    for (const [id, ts] of Object.entries(checkpoint.emitted)) if (silver.has(id)) emitted[id] = ts;
    const missing = [...silver.keys()].filter((id) => !source.has(id) && !(id in emitted)).sort();
    let sourceOnly = 0;
    for (const id of source) if (!silver.has(id)) sourceOnly += 1;

    const ratio = options.maxDeleteRatio ?? 0.5;
    if (missing.length > 10 && missing.length > silver.size * ratio) {
      throw new ZohoReconcileRefusedError(
        `refusing to delete ${missing.length} of ${silver.size} ${entity}: the source listing looks incomplete`,
      );
    }

    let runId: string | undefined;
    if (missing.length > 0) {
      const at = now();
      const ingestDate = checkpoint.pending?.ingest_date ?? utcDate(at);
      runId = checkpoint.pending?.run_id ?? newRunId(at);
      // Plan first, so that a crash after the Bronze write is recognised instead of deleting twice.
      checkpoint = {
        ...checkpoint,
        emitted,
        pending: { run_id: runId, ingest_date: ingestDate },
        updated_at: at.toISOString(),
      };
      await lock.assertHeld(now());
      await writeCheckpoint(store, job, checkpoint);
      // Noticed now, by the source's clock when it is later; never before the version Silver holds.
      const noticed = Math.max(at.getTime(), serverDate ? Date.parse(serverDate) : 0);
      const ingestedAt = at.toISOString();
      const events = missing.map((id, row) =>
        zohoDeleteEvent(entity, id, {
          runId: runId as string,
          page: 0,
          row,
          ingestedAt,
          noticedAt: new Date(Math.max(noticed, (silver.get(id) ?? 0) + 1)).toISOString(),
        }),
      );
      await writeBronzeRun(store, bronzeRef(entity, ingestDate, runId), events, { now: at });
      for (const event of events) emitted[event.key] = event.source_ts;
    }
    if (!runId && checkpoint.pending) {
      // The planned run never committed and has nothing left to say: drop its invisible leftovers.
      const stale = bronzeRunPrefix(
        bronzeRef(entity, checkpoint.pending.ingest_date, checkpoint.pending.run_id),
      );
      for await (const info of store.list(stale)) await store.delete(info.key);
    }
    checkpoint = { ...checkpoint, emitted, pending: null, updated_at: now().toISOString() };
    await lock.assertHeld(now());
    await writeCheckpoint(store, job, checkpoint);
    options.log?.info('zoho reconcile finished', {
      entity,
      source_ids: source.size,
      silver_ids: silver.size,
      deleted: missing.length,
      source_only: sourceOnly,
    });
    return {
      entity,
      status: 'complete',
      sourceIds: source.size,
      silverIds: silver.size,
      deleted: missing.length,
      sourceOnly,
      ...(runId ? { runId } : {}),
    };
  } catch (error) {
    if (error instanceof ZohoAbortedError) throw error;
    const { code, message } = errorSummary(error);
    options.log?.warn('zoho reconcile failed', { entity, code, error: message });
    return { ...empty, status: 'failed', error: { code, message } };
  } finally {
    await lock.release(now()).catch(() => undefined);
  }
}

function errorSummary(error: unknown): { code: string; message: string } {
  return isGoldgateError(error)
    ? { code: error.code, message: error.message }
    : { code: 'UNEXPECTED', message: describeError(error).message };
}

function bronzeRef(entity: ZohoEntity, ingestDate: string, runId: string): BronzeRunRef {
  return { source: ZOHO_SOURCE, entity, ingestDate, runId };
}

/** Add the keys of a committed delete run (read back from its parts) to the emitted set. */
async function emittedOf(
  store: ObjectStore,
  ref: BronzeRunRef,
  emitted: Readonly<Record<string, string>>,
): Promise<Record<string, string>> {
  const out = { ...emitted };
  const prefix = bronzeRunPrefix(ref);
  for await (const info of store.list(prefix)) {
    if (!/part-\d{5}\.jsonl\.gz$/.test(info.key)) continue;
    const text = gunzipSync(await store.get(info.key)).toString('utf8');
    for (const line of text.split('\n')) {
      if (!line) continue;
      const event = z.object({ key: z.string(), source_ts: z.string() }).safeParse(JSON.parse(line));
      if (event.success) out[event.data.key] = event.data.source_ts;
    }
  }
  return out;
}

/** Every id the source lists now, and the server's clock at the last page. */
async function listSourceIds(
  options: ZohoReconcileOptions,
  entity: ZohoEntity,
): Promise<{ ids: Set<string>; serverDate: string | undefined }> {
  const { idField } = ZOHO_ENTITIES[entity];
  const ids = new Set<string>();
  let serverDate: string | undefined;
  for await (const page of options.client.listPages(entity, {}, options.signal)) {
    for (const record of page.records) {
      const id = record[idField];
      if (typeof id === 'string' && /^\d+$/.test(id)) ids.add(id);
      else if (typeof id === 'number' && Number.isSafeInteger(id) && id >= 0) ids.add(String(id));
      // A record without a readable id cannot prove anything: it neither saves nor deletes a key.
    }
    serverDate = page.serverDate ?? serverDate;
    options.onProgress?.({
      entity,
      page: page.page,
      sourceIds: ids.size,
      message: `${entity}: listed page ${page.page} (${ids.size} ids so far)`,
    });
  }
  return { ids, serverDate };
}
