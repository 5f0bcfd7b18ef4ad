import { createHash, randomBytes } from 'node:crypto';
import { InvalidNameError } from './errors.js';

/** `20261121T061500Z-7f3a`: a UTC timestamp plus a short unique suffix. */
export const RUN_ID_PATTERN = /^\d{8}T\d{6}Z-[a-z0-9]{4,24}$/;

/** A fresh run id for `now`. Run ids sort by time. */
export function newRunId(now: Date = new Date()): string {
  return `${compactUtc(now)}-${randomBytes(2).toString('hex')}`;
}

/**
 * A run id derived only from its inputs, so that a retried batch (a stream
 * batch redelivered by Lambda) writes the same keys again instead of a
 * duplicate run.
 */
export function deterministicRunId(at: Date, ...parts: readonly string[]): string {
  const digest = createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 12);
  return `${compactUtc(at)}-${digest}`;
}

/** Throw unless `value` is a run id. */
export function assertRunId(value: string): string {
  if (!RUN_ID_PATTERN.test(value)) throw new InvalidNameError('not a run id');
  return value;
}

/** `YYYY-MM-DD` of a date in UTC. */
export function utcDate(at: Date): string {
  return at.toISOString().slice(0, 10);
}

/** The time encoded in a run id. */
export function runIdTime(runId: string): Date {
  assertRunId(runId);
  const t = runId.slice(0, 16);
  return new Date(
    `${t.slice(0, 4)}-${t.slice(4, 6)}-${t.slice(6, 8)}T${t.slice(9, 11)}:${t.slice(11, 13)}:${t.slice(13, 15)}Z`,
  );
}

function compactUtc(at: Date): string {
  return at
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/[-:]/g, '');
}
