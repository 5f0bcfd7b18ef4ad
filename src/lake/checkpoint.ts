import type { z } from 'zod';
import type { ObjectStore } from '../adapters/object-store/port.js';
import { jsonBody, readJson } from './json.js';
import { checkpointKey } from './layout.js';

/** Read a job's checkpoint; `undefined` before the job's first commit. */
export async function readCheckpoint<S extends z.ZodType>(
  store: ObjectStore,
  job: string,
  schema: S,
): Promise<z.infer<S> | undefined> {
  return readJson(store, checkpointKey(job), schema);
}

/**
 * Record a job's progress. Call only after the work it describes has committed:
 * a crash before this line makes the next run redo that work, which every job
 * must tolerate (idempotent merges, deterministic keys).
 */
export async function writeCheckpoint(store: ObjectStore, job: string, value: unknown): Promise<void> {
  await store.replace(checkpointKey(job), jsonBody(value));
}
