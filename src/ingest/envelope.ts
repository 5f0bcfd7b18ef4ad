import { z } from 'zod';

/** Sources that land in Bronze. */
export const SOURCES = ['zoho_books', 'dynamodb', 'dms'] as const;
export type SourceName = (typeof SOURCES)[number];

/** A UTC ISO-8601 instant with milliseconds, e.g. `2026-11-21T06:15:00.000Z`: sorts as text. */
const utcInstant = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/, 'expected a UTC instant');

/** One CDC event: the Bronze envelope, identical for every source (`lake.md`). */
export const bronzeEventSchema = z.object({
  source: z.enum(SOURCES),
  entity: z.string().regex(/^[a-z][a-z0-9_]*$/),
  key: z.string().min(1),
  op: z.enum(['I', 'U', 'D']),
  source_ts: utcInstant,
  seq: z.string().min(1),
  ingested_at: utcInstant,
  run_id: z.string(),
  payload: z.record(z.string(), z.unknown()),
  /**
   * Facts about how the change happened that Silver may act on: a TTL expiry
   * is not a business delete; a keys-only event's payload is the item's keys,
   * not its state (a stream without new images, a REMOVE without its old
   * image), so it may delete a row but must never insert or update one.
   */
  meta: z.object({ ttl_expiry: z.boolean().optional(), keys_only: z.boolean().optional() }).optional(),
});
export type BronzeEvent = z.infer<typeof bronzeEventSchema>;

/**
 * Normalise a source timestamp (ISO with any offset, `+0530` included, or
 * epoch seconds) to a UTC instant. `undefined` when it cannot be read.
 */
export function toUtcInstant(value: string | number): string | undefined {
  let ms: number;
  if (typeof value === 'number') {
    ms = value * 1000;
  } else {
    // Zoho writes offsets without a colon (`+0530`), which Date.parse does not accept everywhere.
    const fixed = value.trim().replace(/([+-]\d{2})(\d{2})$/, '$1:$2');
    ms = Date.parse(fixed);
  }
  if (!Number.isFinite(ms)) return undefined;
  return new Date(ms).toISOString();
}

/** Left-pad a decimal sequence number so that text order is numeric order. */
export function padSequence(value: string, width = 40): string {
  if (!/^\d+$/.test(value)) throw new TypeError('sequence numbers are decimal digits');
  return value.padStart(width, '0');
}
