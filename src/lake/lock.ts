import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { ObjectStore } from '../adapters/object-store/port.js';
import { LockHeldError, LockLostError } from './errors.js';
import { jsonBody, readJson } from './json.js';
import { lockPrefix } from './layout.js';

const leaseSchema = z.object({
  owner: z.string(),
  acquired_at: z.string(),
  expires_at: z.string(),
  released_at: z.string().optional(),
});
type Lease = z.infer<typeof leaseSchema>;

/** A held lock. `generation` doubles as a fencing token. */
export interface Lock {
  readonly job: string;
  readonly owner: string;
  readonly generation: number;
  /** Throw `LockLostError` unless this lease is still the newest and unexpired. */
  assertHeld(now?: Date): Promise<void>;
  /** Give the lock up; a no-op if it was already lost. */
  release(now?: Date): Promise<void>;
}

export interface AcquireOptions {
  /** How long the lease lasts; a crashed holder blocks others at most this long. */
  readonly ttlMs: number;
  readonly owner?: string;
  readonly now?: Date;
}

const LEASE = /lease-(\d{10})\.json$/;
const KEEP_OLD_LEASES = 3;

/**
 * Take the lock of a job using only conditional creates. Leases are numbered
 * objects `_locks/{job}/lease-NNNNNNNNNN.json`; the newest decides. Taking
 * over a released or expired lease means creating the next number, and exactly
 * one contender can create it, so no delete or compare-and-swap is needed.
 */
export async function acquireLock(store: ObjectStore, job: string, options: AcquireOptions): Promise<Lock> {
  const prefix = lockPrefix(job);
  const now = options.now ?? new Date();
  const owner = options.owner ?? `pid${process.pid}-${randomBytes(4).toString('hex')}`;
  const newest = await newestLease(store, prefix);
  if (newest && !newest.lease.released_at && Date.parse(newest.lease.expires_at) > now.getTime()) {
    throw new LockHeldError(job, newest.lease.owner, newest.lease.expires_at);
  }
  const generation = (newest?.generation ?? 0) + 1;
  const lease: Lease = {
    owner,
    acquired_at: now.toISOString(),
    expires_at: new Date(now.getTime() + options.ttlMs).toISOString(),
  };
  const key = leaseKey(prefix, generation);
  if (!(await store.createIfAbsent(key, jsonBody(lease)))) {
    const winner = await readJson(store, key, leaseSchema);
    throw new LockHeldError(job, winner?.owner, winner?.expires_at);
  }
  await pruneOldLeases(store, prefix, generation);

  return {
    job,
    owner,
    generation,
    async assertHeld(at: Date = new Date()): Promise<void> {
      const current = await newestLease(store, prefix);
      const mine = current?.generation === generation && current.lease.owner === owner;
      if (!mine || current.lease.released_at || Date.parse(current.lease.expires_at) <= at.getTime()) {
        throw new LockLostError(job);
      }
    },
    async release(at: Date = new Date()): Promise<void> {
      const current = await newestLease(store, prefix);
      if (current?.generation !== generation || current.lease.owner !== owner) return;
      await store.replace(key, jsonBody({ ...lease, released_at: at.toISOString() }));
    },
  };
}

function leaseKey(prefix: string, generation: number): string {
  return `${prefix}lease-${String(generation).padStart(10, '0')}.json`;
}

async function newestLease(
  store: ObjectStore,
  prefix: string,
): Promise<{ generation: number; lease: Lease } | undefined> {
  let newestKey: string | undefined;
  let generation = 0;
  for await (const info of store.list(prefix)) {
    const m = LEASE.exec(info.key);
    if (m?.[1]) {
      const n = Number(m[1]);
      if (n > generation) {
        generation = n;
        newestKey = info.key;
      }
    }
  }
  if (!newestKey) return undefined;
  const lease = await readJson(store, newestKey, leaseSchema);
  return lease ? { generation, lease } : undefined;
}

async function pruneOldLeases(store: ObjectStore, prefix: string, generation: number): Promise<void> {
  // Only leases well below the newest are removed: they can never decide again.
  for await (const info of store.list(prefix)) {
    const m = LEASE.exec(info.key);
    if (m?.[1] && Number(m[1]) <= generation - KEEP_OLD_LEASES) await store.delete(info.key);
  }
}
