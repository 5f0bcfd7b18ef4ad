import { z } from 'zod';
import type { ObjectStore } from '../adapters/object-store/port.js';
import { readCheckpoint, writeCheckpoint } from '../lake/checkpoint.js';

/** The checkpoint of the Silver step (`_checkpoints/silver.json`). */
const SILVER_CHECKPOINT = 'silver';

const byEntity = z.record(z.string(), z.array(z.string())).default({});

export const silverStateSchema = z.object({
  version: z.literal(1),
  /** Per `source/entity`, the Bronze run keys already merged into Silver. */
  merged: byEntity,
  quarantine: z
    .object({
      /** Per entity, quarantine files whose rows the next run retries. */
      open: byEntity,
      /** Per entity, files of rows that failed their last attempt; retried only on command. */
      condemned: byEntity,
      /** Condemned files an operator released: kept for audit, never retried. */
      released: z.array(z.string()).default([]),
    })
    .default({ open: {}, condemned: {}, released: [] }),
});
export type SilverState = z.infer<typeof silverStateSchema>;

/** `source/entity`: how the Silver state names an entity. */
export function entityKeyOf(contract: { readonly source: string; readonly entity: string }): string {
  return `${contract.source}/${contract.entity}`;
}

/** The Silver state, or the empty state before the first run. */
export async function readSilverState(store: ObjectStore): Promise<SilverState> {
  return (
    (await readCheckpoint(store, SILVER_CHECKPOINT, silverStateSchema)) ?? {
      version: 1,
      merged: {},
      quarantine: { open: {}, condemned: {}, released: [] },
    }
  );
}

/**
 * Record Silver progress in one write: merged runs and quarantine files move
 * together, so a crash can never merge a run twice while losing its
 * quarantined rows (or the reverse).
 */
export async function writeSilverState(store: ObjectStore, state: SilverState): Promise<void> {
  await writeCheckpoint(store, SILVER_CHECKPOINT, state);
}
