import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ObjectNotFoundError } from '../../src/adapters/object-store/errors.js';
import { type ObjectStore, readAll } from '../../src/adapters/object-store/port.js';
import { GoldgateError } from '../../src/errors.js';

/** How a suite gets a fresh, empty store of the adapter under test. */
export interface ObjectStoreHarness {
  readonly name: string;
  /** A store whose keys start empty (e.g. a fresh folder or bucket prefix). */
  create(): Promise<ObjectStore>;
  /**
   * A second store over the same objects as the one `create` made, opened the
   * way another process or container would (its own client). Without it, the
   * two-contender race runs on one store.
   */
  createPeer?(): Promise<ObjectStore>;
  dispose?(): Promise<void>;
}

const text = (body: Uint8Array): string => Buffer.from(body).toString('utf8');

/**
 * The object store contract. Every adapter (local folder, S3 over HTTP) must
 * pass it unchanged: call this from the adapter's own test file.
 */
export function objectStoreContract(harness: ObjectStoreHarness): void {
  describe(`object store contract: ${harness.name}`, () => {
    let store: ObjectStore;
    beforeAll(async () => {
      store = await harness.create();
    });
    afterAll(async () => {
      await harness.dispose?.();
    });

    it('round-trips bytes and strings', async () => {
      const bytes = new Uint8Array(256 * 1024).map((_, i) => (i * 31) % 251);
      await store.put('c/bytes/one.bin', bytes);
      expect(Buffer.compare(Buffer.from(await store.get('c/bytes/one.bin')), Buffer.from(bytes))).toBe(0);
      await store.put('c/bytes/two.txt', 'héllo');
      expect(text(await store.get('c/bytes/two.txt'))).toBe('héllo');
    });

    it('overwrites with put and reports size in head', async () => {
      await store.put('c/over/k', 'first version');
      await store.put('c/over/k', 'v2');
      expect(text(await store.get('c/over/k'))).toBe('v2');
      expect((await store.head('c/over/k'))?.size).toBe(2);
      expect(await store.head('c/over/absent')).toBeUndefined();
    });

    it('reports a missing key with OBJECT_NOT_FOUND and getIfExists=undefined', async () => {
      await expect(store.get('c/missing/k')).rejects.toBeInstanceOf(ObjectNotFoundError);
      await expect(store.get('c/missing/k')).rejects.toMatchObject({ code: 'OBJECT_NOT_FOUND' });
      await expect(store.getStream('c/missing/k')).rejects.toMatchObject({ code: 'OBJECT_NOT_FOUND' });
      expect(await store.getIfExists('c/missing/k')).toBeUndefined();
    });

    it('streams a large object in and out', async () => {
      const chunk = Buffer.alloc(1024 * 1024, 7);
      const total = 6;
      async function* gen(): AsyncGenerator<Buffer> {
        for (let i = 0; i < total; i++) yield Buffer.from(chunk.map((b) => (b + i) % 256));
      }
      await store.putStream('c/stream/big.bin', Readable.from(gen()));
      const back = await readAll(await store.getStream('c/stream/big.bin'));
      expect(back.byteLength).toBe(total * chunk.length);
      expect(back[0]).toBe(7);
      expect(back[5 * chunk.length]).toBe(12);
    });

    it('lists by prefix in ascending key order, including partial segments', async () => {
      const keys = ['c/list/a/1', 'c/list/a/2', 'c/list/a-b/1', 'c/list/ab', 'c/list/b/x/y/z', 'c/listed'];
      for (const key of [...keys].reverse()) await store.put(key, key);
      const all: string[] = [];
      for await (const info of store.list('c/list')) all.push(info.key);
      expect(all).toEqual([...keys].sort());
      const underA: string[] = [];
      for await (const info of store.list('c/list/a/')) underA.push(info.key);
      expect(underA).toEqual(['c/list/a/1', 'c/list/a/2']);
      const partial: string[] = [];
      for await (const info of store.list('c/list/a')) partial.push(info.key);
      expect(partial).toEqual(['c/list/a-b/1', 'c/list/a/1', 'c/list/a/2', 'c/list/ab'].sort());
      const none: string[] = [];
      for await (const info of store.list('c/nothing-here/')) none.push(info.key);
      expect(none).toEqual([]);
    });

    it('lists more keys than one page holds', async () => {
      const n = 1005;
      const keys = Array.from({ length: n }, (_, i) => `c/many/k${String(i).padStart(5, '0')}`);
      for (let i = 0; i < keys.length; i += 50) {
        await Promise.all(keys.slice(i, i + 50).map((key) => store.put(key, 'x')));
      }
      let count = 0;
      let previous = '';
      for await (const info of store.list('c/many/')) {
        expect(info.key > previous).toBe(true);
        previous = info.key;
        count += 1;
      }
      expect(count).toBe(n);
    });

    it('createIfAbsent creates once and never overwrites', async () => {
      expect(await store.createIfAbsent('c/cond/k', 'winner')).toBe(true);
      expect(await store.createIfAbsent('c/cond/k', 'loser')).toBe(false);
      expect(text(await store.get('c/cond/k'))).toBe('winner');
    });

    it('createIfAbsent: exactly one of concurrent contenders wins, and its body is stored', async () => {
      for (let round = 0; round < 10; round++) {
        const key = `c/race/r${round}`;
        const results = await Promise.all(
          ['a', 'b', 'c', 'd'].map(async (who) => ({ who, won: await store.createIfAbsent(key, who) })),
        );
        const winners = results.filter((r) => r.won);
        expect(winners).toHaveLength(1);
        expect(text(await store.get(key))).toBe(winners[0]?.who);
      }
    });

    it('createIfAbsent: two stores (two containers) race for one key, exactly one wins', async () => {
      const peer = (await harness.createPeer?.()) ?? store;
      const contenders = [
        { who: 'first', on: store },
        { who: 'second', on: peer },
      ];
      for (let round = 0; round < 20; round++) {
        const key = `c/race2/r${round}`;
        const results = await Promise.all(
          contenders.map(async ({ who, on }) => ({
            who,
            won: await on.createIfAbsent(key, `${who}-${round}`),
          })),
        );
        const winners = results.filter((r) => r.won);
        expect(winners).toHaveLength(1);
        const winner = winners[0]?.who;
        // Both see the winner's body, whichever store they read through.
        expect(text(await store.get(key))).toBe(`${winner}-${round}`);
        expect(text(await peer.get(key))).toBe(`${winner}-${round}`);
        expect(await peer.createIfAbsent(key, 'late')).toBe(false);
      }
    });

    it('keys of every lake layer round-trip and list together in key order', async () => {
      const keys = [
        '_checkpoints/t.json',
        '_locks/t/lease-1.json',
        'bronze/t/1',
        'bronzed/t/1',
        'gold/t/1',
        'quarantine/t/1',
        'silver/t/1',
      ];
      for (const key of keys) await store.put(key, `body of ${key}`);
      for (const key of keys) expect(text(await store.get(key))).toBe(`body of ${key}`);
      const mine = new Set(keys);
      const listAll = async (prefix: string): Promise<string[]> => {
        const out: string[] = [];
        for await (const info of store.list(prefix)) out.push(info.key);
        return out;
      };
      const everything = await listAll('');
      expect(everything).toEqual([...everything].sort());
      expect(everything.filter((key) => mine.has(key))).toEqual(keys);
      expect((await listAll('b')).filter((key) => mine.has(key))).toEqual(['bronze/t/1', 'bronzed/t/1']);
      expect(await listAll('bronze/t/')).toEqual(['bronze/t/1']);
      expect(await listAll('_')).toEqual(['_checkpoints/t.json', '_locks/t/lease-1.json']);
    });

    it('a putStream that fails midway leaves no object and keeps the old one', async () => {
      const part = Buffer.alloc(6 * 1024 * 1024, 1);
      async function* broken(): AsyncGenerator<Buffer> {
        yield part;
        yield part;
        throw new Error('source failed');
      }
      await store.put('c/fail/existing', 'old');
      const replaced = store.putStream('c/fail/existing', Readable.from(broken()));
      await expect(replaced).rejects.toBeInstanceOf(GoldgateError);
      expect(text(await store.get('c/fail/existing'))).toBe('old');
      await expect(store.putStream('c/fail/new', Readable.from(broken()))).rejects.toBeInstanceOf(
        GoldgateError,
      );
      expect(await store.head('c/fail/new')).toBeUndefined();
      const listed: string[] = [];
      for await (const info of store.list('c/fail/')) listed.push(info.key);
      expect(listed).toEqual(['c/fail/existing']);
    });

    it('putStream of an empty stream stores an empty object', async () => {
      await store.putStream('c/empty/k', Readable.from([]));
      expect((await store.head('c/empty/k'))?.size).toBe(0);
      expect((await store.get('c/empty/k')).byteLength).toBe(0);
    });

    it('locationOf names the key at its end; prepareWrite gives the same location', async () => {
      const location = store.locationOf('c/loc/run_id=1');
      expect(location.endsWith('/c/loc/run_id=1')).toBe(true);
      expect(store.locationOf('c/loc/run_id=1/')).toBe(location);
      expect(await store.prepareWrite('c/loc/run_id=1/')).toBe(location);
      expect(store.locationOf('c/loc/run_id=1/part-0.parquet')).toBe(`${location}/part-0.parquet`);
      expect(() => store.locationOf('c/../x')).toThrow(expect.objectContaining({ code: 'INVALID_KEY' }));
    });

    it('replace swaps a pointer; concurrent readers see a whole old or new value', async () => {
      const key = 'c/pointer/_LATEST.json';
      const body = (n: number): string => JSON.stringify({ run: n, pad: 'x'.repeat(20_000) });
      await store.replace(key, body(0));
      let reads = 0;
      let stop = false;
      const reader = (async () => {
        while (!stop) {
          const value = JSON.parse(text(await store.get(key))) as { run: number };
          expect(typeof value.run).toBe('number');
          reads += 1;
        }
      })();
      for (let n = 1; n <= 30; n++) await store.replace(key, body(n));
      stop = true;
      await reader;
      expect(reads).toBeGreaterThan(0);
      expect(JSON.parse(text(await store.get(key)))).toMatchObject({ run: 30 });
    });

    it('delete removes, and deleting an absent key is fine', async () => {
      await store.put('c/del/k', 'x');
      await store.delete('c/del/k');
      expect(await store.head('c/del/k')).toBeUndefined();
      await store.delete('c/del/k');
    });

    it('rejects keys that could escape or alias', async () => {
      for (const bad of ['', '/abs', 'a//b', 'a/../b', '../x', 'a/./b', 'a/.hidden', 'a\\b', 'a/b/']) {
        await expect(store.put(bad, 'x')).rejects.toMatchObject({ code: 'INVALID_KEY' });
      }
    });
  });
}
