import { gunzipSync } from 'node:zlib';
import { z } from 'zod';
import type { ObjectStore } from '../adapters/object-store/port.js';
import { acquireLock } from '../lake/lock.js';
import { NothingToDoError } from './errors.js';
import { PIPELINE_JOB } from './pipeline.js';
import { readSilverState, type SilverState, writeSilverState } from './state.js';

const rowSchema = z.looseObject({
  event: z.looseObject({ key: z.string().nullable(), op: z.string().nullable() }),
  reason_code: z.string(),
  reason: z.string(),
  attempt_count: z.number().int(),
  /** The run that first quarantined the row; retries keep it. */
  first_quarantined_run: z.string(),
});
export type QuarantinedRow = z.infer<typeof rowSchema>;

/** What sits in quarantine for one entity. */
export interface QuarantineSummary {
  readonly entity: string;
  readonly open: number;
  readonly condemned: number;
  readonly released: number;
  /** Rows per reason code, open and condemned together. */
  readonly reasons: Readonly<Record<string, number>>;
}

/** Read the rows of quarantine files. */
export async function readQuarantineRows(
  store: ObjectStore,
  keys: readonly string[],
): Promise<QuarantinedRow[]> {
  const rows: QuarantinedRow[] = [];
  for (const key of keys) {
    const text = gunzipSync(await store.get(key)).toString('utf8');
    for (const line of text.split('\n')) if (line.trim()) rows.push(rowSchema.parse(JSON.parse(line)));
  }
  return rows;
}

/** Per entity: open, condemned and released rows and their reasons. */
export async function summariseQuarantine(store: ObjectStore): Promise<QuarantineSummary[]> {
  const state = await readSilverState(store);
  const entities = new Set([
    ...Object.keys(state.quarantine.open),
    ...Object.keys(state.quarantine.condemned),
  ]);
  const out: QuarantineSummary[] = [];
  for (const entity of [...entities].sort()) {
    const open = await readQuarantineRows(store, state.quarantine.open[entity] ?? []);
    const condemned = await readQuarantineRows(store, state.quarantine.condemned[entity] ?? []);
    const releasedFiles = state.quarantine.released.filter((key) => key.includes(`/${entity}/`));
    const released = await readQuarantineRows(store, releasedFiles);
    const reasons: Record<string, number> = {};
    for (const row of [...open, ...condemned]) reasons[row.reason_code] = (reasons[row.reason_code] ?? 0) + 1;
    if (open.length + condemned.length + released.length > 0) {
      out.push({
        entity,
        open: open.length,
        condemned: condemned.length,
        released: released.length,
        reasons,
      });
    }
  }
  return out;
}

/**
 * Act on condemned rows under the pipeline lock (the state is the pipeline's):
 * `retry` gives them one more attempt in the next run, `release` gives them
 * up for good (the files stay for audit). Returns the files moved.
 */
export async function actOnCondemned(
  store: ObjectStore,
  action: 'retry' | 'release',
  options: { readonly entity?: string; readonly lockTtlMs: number },
): Promise<string[]> {
  const lock = await acquireLock(store, PIPELINE_JOB, { ttlMs: options.lockTtlMs });
  try {
    const state = await readSilverState(store);
    const entities = Object.entries(state.quarantine.condemned)
      .filter(([e, files]) => files.length > 0 && (!options.entity || e === options.entity))
      .map(([e]) => e);
    if (options.entity && entities.length === 0)
      throw new NothingToDoError(`nothing condemned for ${options.entity}`);
    const moved: string[] = [];
    const next: SilverState = structuredClone(state);
    for (const entity of entities) {
      const files = next.quarantine.condemned[entity] ?? [];
      moved.push(...files);
      next.quarantine.condemned[entity] = [];
      if (action === 'retry')
        next.quarantine.open[entity] = [...(next.quarantine.open[entity] ?? []), ...files];
      else next.quarantine.released.push(...files);
    }
    await lock.assertHeld();
    await writeSilverState(store, next);
    return moved;
  } finally {
    await lock.release();
  }
}
