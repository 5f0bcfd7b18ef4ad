import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../../src/adapters/object-store/local.js';
import { LockHeldError, LockLostError } from '../../../src/lake/errors.js';
import { acquireLock, type Lock } from '../../../src/lake/lock.js';

const JOB = 'pipeline';
const T0 = new Date('2026-11-21T06:00:00.000Z');
const TTL = 60_000;
const at = (ms: number): Date => new Date(T0.getTime() + ms);

let dir: string;
let store: LocalObjectStore;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'goldgate-lock-'));
  store = new LocalObjectStore(dir);
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function leaseKeys(): Promise<string[]> {
  const keys: string[] = [];
  for await (const info of store.list(`_locks/${JOB}/`)) keys.push(info.key);
  return keys;
}

async function leaseBody(generation: number): Promise<Record<string, unknown>> {
  const body = await store.get(`_locks/${JOB}/lease-${String(generation).padStart(10, '0')}.json`);
  return JSON.parse(Buffer.from(body).toString('utf8')) as Record<string, unknown>;
}

/** Start `n` contenders at once; returns the winners' locks and the losers' errors. */
async function contend(n: number, now: Date): Promise<{ winners: Lock[]; losers: unknown[] }> {
  const results = await Promise.allSettled(
    Array.from({ length: n }, (_, i) =>
      acquireLock(store, JOB, { ttlMs: TTL, owner: `contender-${i}`, now }),
    ),
  );
  const winners: Lock[] = [];
  const losers: unknown[] = [];
  for (const r of results) {
    if (r.status === 'fulfilled') winners.push(r.value);
    else losers.push(r.reason);
  }
  return { winners, losers };
}

describe('acquireLock', () => {
  it('takes a free lock as generation 1 and writes a lease with its expiry', async () => {
    const lock = await acquireLock(store, JOB, { ttlMs: TTL, owner: 'run-a', now: T0 });
    expect(lock).toMatchObject({ job: JOB, owner: 'run-a', generation: 1 });
    expect(await leaseKeys()).toEqual(['_locks/pipeline/lease-0000000001.json']);
    expect(await leaseBody(1)).toEqual({
      owner: 'run-a',
      acquired_at: '2026-11-21T06:00:00.000Z',
      expires_at: '2026-11-21T06:01:00.000Z',
    });
  });

  it('refuses a second acquire with LOCK_HELD while the lease is live', async () => {
    await acquireLock(store, JOB, { ttlMs: TTL, owner: 'run-a', now: T0 });
    const attempt = acquireLock(store, JOB, { ttlMs: TTL, owner: 'run-b', now: at(TTL - 1) });
    await expect(attempt).rejects.toBeInstanceOf(LockHeldError);
    await expect(acquireLock(store, JOB, { ttlMs: TTL, owner: 'run-b', now: at(1) })).rejects.toMatchObject({
      code: 'LOCK_HELD',
      job: JOB,
      holder: 'run-a',
      expiresAt: '2026-11-21T06:01:00.000Z',
    });
    expect(await leaseKeys()).toEqual(['_locks/pipeline/lease-0000000001.json']);
  });

  it('lets a different job lock independently', async () => {
    await acquireLock(store, JOB, { ttlMs: TTL, now: T0 });
    const other = await acquireLock(store, 'compaction', { ttlMs: TTL, now: T0 });
    expect(other.generation).toBe(1);
  });

  it('takes over an expired lease (a crashed run does not block forever)', async () => {
    await acquireLock(store, JOB, { ttlMs: TTL, owner: 'crashed', now: T0 });
    const next = await acquireLock(store, JOB, { ttlMs: TTL, owner: 'rescuer', now: at(TTL) });
    expect(next).toMatchObject({ owner: 'rescuer', generation: 2 });
    expect(await leaseKeys()).toEqual([
      '_locks/pipeline/lease-0000000001.json',
      '_locks/pipeline/lease-0000000002.json',
    ]);
    expect(await leaseBody(2)).toMatchObject({ owner: 'rescuer', acquired_at: at(TTL).toISOString() });
  });

  it('can be acquired again right after release', async () => {
    const first = await acquireLock(store, JOB, { ttlMs: TTL, owner: 'run-a', now: T0 });
    await first.release(at(10));
    expect(await leaseBody(1)).toMatchObject({ owner: 'run-a', released_at: at(10).toISOString() });
    const second = await acquireLock(store, JOB, { ttlMs: TTL, owner: 'run-b', now: at(11) });
    expect(second).toMatchObject({ owner: 'run-b', generation: 2 });
    await expect(acquireLock(store, JOB, { ttlMs: TTL, now: at(12) })).rejects.toMatchObject({
      code: 'LOCK_HELD',
      holder: 'run-b',
    });
  });

  it('keeps only the newest leases as it goes', async () => {
    for (let i = 0; i < 6; i++) {
      const lock = await acquireLock(store, JOB, { ttlMs: TTL, owner: `run-${i}`, now: at(i * 1000) });
      expect(lock.generation).toBe(i + 1);
      await lock.release(at(i * 1000 + 500));
    }
    expect(await leaseKeys()).toEqual([
      '_locks/pipeline/lease-0000000004.json',
      '_locks/pipeline/lease-0000000005.json',
      '_locks/pipeline/lease-0000000006.json',
    ]);
  });
});

describe('concurrent contenders', () => {
  const N = 12;

  function expectOneWinner(result: { winners: Lock[]; losers: unknown[] }, generation: number): Lock {
    expect(result.winners).toHaveLength(1);
    expect(result.losers).toHaveLength(N - 1);
    for (const loser of result.losers) {
      expect(loser).toBeInstanceOf(LockHeldError);
      expect(loser).toMatchObject({ code: 'LOCK_HELD' });
    }
    const [winner] = result.winners;
    if (!winner) throw new Error('no winner');
    expect(winner.generation).toBe(generation);
    return winner;
  }

  it('exactly one of N wins a never-taken lock', async () => {
    const winner = expectOneWinner(await contend(N, T0), 1);
    expect(await leaseBody(1)).toMatchObject({ owner: winner.owner });
    await expect(winner.assertHeld(at(1))).resolves.toBeUndefined();
  });

  it('exactly one of N wins an expired lock', async () => {
    await acquireLock(store, JOB, { ttlMs: TTL, owner: 'crashed', now: T0 });
    const winner = expectOneWinner(await contend(N, at(TTL + 1)), 2);
    expect(await leaseBody(2)).toMatchObject({ owner: winner.owner });
    expect(await leaseKeys()).toHaveLength(2);
  });

  it('exactly one of N wins a released lock', async () => {
    const first = await acquireLock(store, JOB, { ttlMs: TTL, owner: 'done', now: T0 });
    await first.release(at(5));
    const winner = expectOneWinner(await contend(N, at(6)), 2);
    expect(await leaseBody(2)).toMatchObject({ owner: winner.owner });
  });

  it('repeated rounds always elect exactly one', async () => {
    for (let round = 1; round <= 5; round++) {
      const winner = expectOneWinner(await contend(N, at(round * 10_000)), round);
      await winner.release(at(round * 10_000 + 1));
    }
  });
});

describe('Lock.assertHeld and Lock.release', () => {
  it('passes while the lease is live and newest', async () => {
    const lock = await acquireLock(store, JOB, { ttlMs: TTL, now: T0 });
    await expect(lock.assertHeld(at(TTL - 1))).resolves.toBeUndefined();
  });

  it('throws LOCK_LOST after another run took the lock over', async () => {
    const a = await acquireLock(store, JOB, { ttlMs: TTL, owner: 'slow', now: T0 });
    const b = await acquireLock(store, JOB, { ttlMs: TTL, owner: 'fast', now: at(TTL + 1) });
    // Even judged at a time when a's own lease would still be live, b's newer lease wins.
    await expect(a.assertHeld(at(1))).rejects.toBeInstanceOf(LockLostError);
    await expect(a.assertHeld(at(TTL + 2))).rejects.toMatchObject({ code: 'LOCK_LOST', job: JOB });
    await expect(b.assertHeld(at(TTL + 2))).resolves.toBeUndefined();
    // The loser's release is a no-op: it must not free the new holder's lock.
    await a.release(at(TTL + 3));
    expect(await leaseBody(2)).not.toHaveProperty('released_at');
    await expect(acquireLock(store, JOB, { ttlMs: TTL, now: at(TTL + 4) })).rejects.toMatchObject({
      code: 'LOCK_HELD',
      holder: 'fast',
    });
  });

  it('throws LOCK_LOST once its own lease expired, and after release', async () => {
    const lock = await acquireLock(store, JOB, { ttlMs: TTL, now: T0 });
    await expect(lock.assertHeld(at(TTL))).rejects.toMatchObject({ code: 'LOCK_LOST' });
    await lock.release(at(10));
    await expect(lock.assertHeld(at(11))).rejects.toMatchObject({ code: 'LOCK_LOST' });
  });
});
