import type { z } from 'zod';
import type { ObjectStore } from '../adapters/object-store/port.js';
import { LakeCorruptError } from './errors.js';

/** Read and validate a small JSON object; `undefined` when absent. */
export async function readJson<S extends z.ZodType>(
  store: ObjectStore,
  key: string,
  schema: S,
): Promise<z.infer<S> | undefined> {
  const body = await store.getIfExists(key);
  if (body === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(body).toString('utf8'));
  } catch (error) {
    throw new LakeCorruptError('a lake control object is not JSON', { cause: error });
  }
  const result = schema.safeParse(parsed);
  if (!result.success)
    throw new LakeCorruptError('a lake control object breaks its contract', { cause: result.error });
  return result.data;
}

/** Serialise a control object the same way everywhere (stable, readable). */
export function jsonBody(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}
