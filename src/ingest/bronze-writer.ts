import { gzipSync } from 'node:zlib';
import { z } from 'zod';
import type { ObjectStore } from '../adapters/object-store/port.js';
import { jsonBody, readJson } from '../lake/json.js';
import { type BronzeRunRef, bronzePartKey, bronzeRunPrefix } from '../lake/layout.js';
import type { BronzeEvent } from './envelope.js';
import { BronzeWriteError } from './errors.js';

/** `_SUCCESS` of a Bronze run: what it holds, for reconciliation and lineage. */
export const bronzeManifestSchema = z.object({
  run_id: z.string(),
  source: z.string(),
  entity: z.string(),
  ingest_date: z.string(),
  event_count: z.number().int().nonnegative(),
  parts: z.array(z.string()),
  min_source_ts: z.string().nullable(),
  max_source_ts: z.string().nullable(),
  completed_at: z.string(),
});
export type BronzeManifest = z.infer<typeof bronzeManifestSchema>;

export interface BronzeWriteOptions {
  /** Events per `part-NNNNN.jsonl.gz` object. */
  readonly eventsPerPart?: number;
  readonly now?: Date;
}

/** The result of a Bronze write. `alreadyCommitted` means a previous attempt finished it. */
export interface BronzeWriteResult {
  readonly manifest: BronzeManifest;
  readonly alreadyCommitted: boolean;
}

/**
 * Land one run of CDC events of one entity in Bronze: gzip JSONL parts, then
 * `_SUCCESS`. A run whose `_SUCCESS` exists is never written again, so a
 * retried deterministic run (a redelivered stream batch) adds no object.
 */
export async function writeBronzeRun(
  store: ObjectStore,
  ref: BronzeRunRef,
  events: readonly BronzeEvent[],
  options: BronzeWriteOptions = {},
): Promise<BronzeWriteResult> {
  const successKey = `${bronzeRunPrefix(ref)}_SUCCESS`;
  const existing = await readJson(store, successKey, bronzeManifestSchema);
  if (existing) return { manifest: existing, alreadyCommitted: true };

  for (const event of events) {
    if (event.source !== ref.source || event.entity !== ref.entity || event.run_id !== ref.runId) {
      throw new BronzeWriteError('an event does not belong to this Bronze run');
    }
  }
  const perPart = options.eventsPerPart ?? 50_000;
  const parts: string[] = [];
  let minTs: string | null = null;
  let maxTs: string | null = null;
  for (let start = 0, part = 0; start < events.length || part === 0; start += perPart, part++) {
    const slice = events.slice(start, start + perPart);
    if (slice.length === 0 && part > 0) break;
    let text = '';
    for (const event of slice) {
      text += `${JSON.stringify(event)}\n`;
      if (minTs === null || event.source_ts < minTs) minTs = event.source_ts;
      if (maxTs === null || event.source_ts > maxTs) maxTs = event.source_ts;
    }
    const key = bronzePartKey(ref, part);
    // An empty run still gets one (empty) part so that readers never see a run without data files.
    await store.put(key, gzipSync(text));
    parts.push(key.slice(key.lastIndexOf('/') + 1));
    if (slice.length < perPart) break;
  }
  const manifest: BronzeManifest = {
    run_id: ref.runId,
    source: ref.source,
    entity: ref.entity,
    ingest_date: ref.ingestDate,
    event_count: events.length,
    parts,
    min_source_ts: minTs,
    max_source_ts: maxTs,
    completed_at: (options.now ?? new Date()).toISOString(),
  };
  await store.put(successKey, jsonBody(manifest));
  return { manifest, alreadyCommitted: false };
}
