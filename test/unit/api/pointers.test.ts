import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../../src/adapters/object-store/local.js';
import type { ObjectStore } from '../../../src/adapters/object-store/port.js';
import { PointerReads } from '../../../src/api/pointers.js';
import { jsonBody } from '../../../src/lake/json.js';
import { goldDataset, latestKey } from '../../../src/lake/layout.js';

/**
 * A store holding one pointer whose reads stay open until the test lets them
 * finish: each read returns the bytes the pointer held when the read began.
 */
/** A `_LATEST.json` body for customer_360 v1 naming `runId`. */
function pointerBody(runId: string): string {
  return jsonBody({
    run_id: runId,
    schema_version: 1,
    published_at: '2026-11-21T06:00:00.000Z',
    path: `gold/customer_360/schema_v=1/run_id=${runId}/`,
    row_count: 1,
    checks: [],
  });
}

function heldStore() {
  const key = latestKey(goldDataset('customer_360', 1));
  let current: string | undefined;
  const reads: Array<{ body: string | undefined; finish: () => void }> = [];
  const store = {
    kind: 'held',
    getIfExists(asked: string): Promise<Uint8Array | undefined> {
      if (asked !== key) return Promise.resolve(undefined);
      const body = current;
      return new Promise((resolve) => {
        reads.push({ body, finish: () => resolve(body === undefined ? undefined : Buffer.from(body)) });
      });
    },
  } as unknown as ObjectStore;
  const publish = (runId: string): void => {
    current = pointerBody(runId);
  };
  return { store, reads, publish };
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('PointerReads', () => {
  it('callers that ask in the same turn of the event loop share one read', async () => {
    const { store, reads, publish } = heldStore();
    publish('20261121T060000Z-aaaa');
    const pointers = new PointerReads(store);
    const asked = Array.from({ length: 5 }, () => pointers.runOf('customer_360@1'));
    await turn();
    expect(reads).toHaveLength(1);
    for (const read of reads) read.finish();
    expect(await Promise.all(asked)).toEqual(Array(5).fill('20261121T060000Z-aaaa'));
    expect(pointers.reads).toBe(1);
  });

  it('never answers a caller from a read that began before it asked', async () => {
    const { store, reads, publish } = heldStore();
    publish('20261121T060000Z-aaaa');
    const pointers = new PointerReads(store);
    const early = pointers.runOf('customer_360@1');
    await turn();
    // The first read is under way (it saw run aaaa); a publish completes; then a caller asks.
    publish('20261121T070000Z-bbbb');
    const late = pointers.runOf('customer_360@1');
    await turn();
    expect(reads).toHaveLength(2);
    for (const read of reads) read.finish();
    expect(await early).toBe('20261121T060000Z-aaaa');
    expect(await late).toBe('20261121T070000Z-bbbb');
  });

  it('answers undefined for an unpublished mart and keeps marts apart', async () => {
    const { store, reads, publish } = heldStore();
    publish('20261121T060000Z-aaaa');
    const pointers = new PointerReads(store);
    const served = pointers.runOf('customer_360@1');
    const other = pointers.runOf('invoices@1');
    await turn();
    for (const read of reads) read.finish();
    expect(await served).toBe('20261121T060000Z-aaaa');
    expect(await other).toBeUndefined();
    expect(pointers.reads).toBe(2);
  });

  it('passes a failed read to every caller that shared it', async () => {
    const failing = {
      getIfExists: () => Promise.reject(new Error('disk gone')),
    } as unknown as ObjectStore;
    const pointers = new PointerReads(failing);
    const asked = [pointers.runOf('customer_360@1'), pointers.runOf('customer_360@1')];
    for (const a of asked) await expect(a).rejects.toThrow('disk gone');
  });

  it('reads the local pointer file as it is now, and an absent pointer as unpublished', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gg-pointers-'));
    try {
      const store = new LocalObjectStore(dir);
      const pointers = new PointerReads(store);
      expect(await pointers.runOf('customer_360@1')).toBeUndefined();
      const key = latestKey(goldDataset('customer_360', 1));
      await store.replace(key, pointerBody('20261121T060000Z-aaaa'));
      expect(await pointers.runOf('customer_360@1')).toBe('20261121T060000Z-aaaa');
      await store.replace(key, pointerBody('20261121T070000Z-bbbb'));
      expect(await pointers.runOf('customer_360@1')).toBe('20261121T070000Z-bbbb');
      await store.replace(key, 'not json');
      await expect(pointers.runOf('customer_360@1')).rejects.toThrow();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
