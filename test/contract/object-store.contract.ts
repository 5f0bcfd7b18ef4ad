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

    it('copy round-trips bytes, also into keys with = + @ and out of an empty object', async () => {
      const bytes = new Uint8Array(300 * 1024).map((_, i) => (i * 7 + 3) % 253);
      await store.put('c/copy/src/run_id=1/part-0.parquet', bytes);
      await store.copy('c/copy/src/run_id=1/part-0.parquet', 'c/copy/dst/run_id=2/part+0@a.parquet');
      const back = await store.get('c/copy/dst/run_id=2/part+0@a.parquet');
      expect(Buffer.compare(Buffer.from(back), Buffer.from(bytes))).toBe(0);
      expect((await store.head('c/copy/dst/run_id=2/part+0@a.parquet'))?.size).toBe(bytes.byteLength);
      // The source is untouched.
      expect(
        Buffer.compare(
          Buffer.from(await store.get('c/copy/src/run_id=1/part-0.parquet')),
          Buffer.from(bytes),
        ),
      ).toBe(0);
      await store.putStream('c/copy/src/empty', Readable.from([]));
      await store.copy('c/copy/src/empty', 'c/copy/dst/empty');
      expect((await store.head('c/copy/dst/empty'))?.size).toBe(0);
    });

    it('copy overwrites an existing target', async () => {
      await store.put('c/copy-over/src', 'the new body');
      await store.put('c/copy-over/dst', 'an older, longer body that must go away entirely');
      await store.copy('c/copy-over/src', 'c/copy-over/dst');
      expect(text(await store.get('c/copy-over/dst'))).toBe('the new body');
      expect((await store.head('c/copy-over/dst'))?.size).toBe('the new body'.length);
    });

    it('copy of a missing key throws OBJECT_NOT_FOUND and creates nothing', async () => {
      const failure = await store.copy('c/copy-missing/absent', 'c/copy-missing-target/k').then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(ObjectNotFoundError);
      expect(failure).toMatchObject({ code: 'OBJECT_NOT_FOUND', key: 'c/copy-missing/absent' });
      expect(await store.head('c/copy-missing-target/k')).toBeUndefined();
      // A key that is only a folder of other keys is not an object either.
      await store.put('c/copy-missing/folder/inside', 'x');
      await expect(store.copy('c/copy-missing/folder', 'c/copy-missing-target/k')).rejects.toMatchObject({
        code: 'OBJECT_NOT_FOUND',
      });
      const listed: string[] = [];
      for await (const info of store.list('c/copy-missing-target/')) listed.push(info.key);
      expect(listed).toEqual([]);
    });

    it('after copy, deleting the source leaves the target intact', async () => {
      await store.put('c/copy-del/src', 'kept after the source is gone');
      await store.copy('c/copy-del/src', 'c/copy-del/dst');
      await store.delete('c/copy-del/src');
      expect(await store.head('c/copy-del/src')).toBeUndefined();
      expect(text(await store.get('c/copy-del/dst'))).toBe('kept after the source is gone');
    });

    it('after copy, overwriting either object (put, putStream) never changes the other', async () => {
      const original = new Uint8Array(200 * 1024).map((_, i) => i % 249);
      await store.put('c/copy-indep/src', original);
      await store.copy('c/copy-indep/src', 'c/copy-indep/dst');
      await store.put('c/copy-indep/src', 'new bytes of the source');
      expect(text(await store.get('c/copy-indep/src'))).toBe('new bytes of the source');
      expect(Buffer.compare(Buffer.from(await store.get('c/copy-indep/dst')), Buffer.from(original))).toBe(0);
      await store.putStream('c/copy-indep/src', Readable.from([Buffer.from('streamed over the source')]));
      expect(Buffer.compare(Buffer.from(await store.get('c/copy-indep/dst')), Buffer.from(original))).toBe(0);
      // And the other way round: writing the copy leaves the source alone.
      await store.copy('c/copy-indep/src', 'c/copy-indep/dst2');
      await store.put('c/copy-indep/dst2', 'new bytes of the copy');
      expect(text(await store.get('c/copy-indep/src'))).toBe('streamed over the source');
    });

    it('copy repeated onto the same target, and onto itself, keeps one whole object', async () => {
      await store.put('c/copy-again/src', 'same bytes');
      await store.copy('c/copy-again/src', 'c/copy-again/dst');
      await store.copy('c/copy-again/src', 'c/copy-again/dst');
      await store.copy('c/copy-again/src', 'c/copy-again/src');
      expect(text(await store.get('c/copy-again/dst'))).toBe('same bytes');
      expect(text(await store.get('c/copy-again/src'))).toBe('same bytes');
      await expect(store.copy('c/copy-again/absent', 'c/copy-again/absent')).rejects.toMatchObject({
        code: 'OBJECT_NOT_FOUND',
      });
      const listed: string[] = [];
      for await (const info of store.list('c/copy-again/')) listed.push(info.key);
      expect(listed).toEqual(['c/copy-again/dst', 'c/copy-again/src']);
    });

    it('copy into a new folder, and across lake layers, lists the copy', async () => {
      await store.put('silver/c-copy/entity/run_id=1/part-0.parquet', 'silver bytes');
      await store.copy(
        'silver/c-copy/entity/run_id=1/part-0.parquet',
        'gold/c-copy/mart/run_id=7/part-0.parquet',
      );
      await store.copy(
        'gold/c-copy/mart/run_id=7/part-0.parquet',
        'gold/c-copy/mart/run_id=8/part-0.parquet',
      );
      const listed: string[] = [];
      for await (const info of store.list('gold/c-copy/')) listed.push(info.key);
      expect(listed).toEqual([
        'gold/c-copy/mart/run_id=7/part-0.parquet',
        'gold/c-copy/mart/run_id=8/part-0.parquet',
      ]);
      expect(text(await store.get('gold/c-copy/mart/run_id=8/part-0.parquet'))).toBe('silver bytes');
    });

    it('copy over a target: concurrent readers see the whole old or new object', async () => {
      const bodies = [Buffer.alloc(64 * 1024, 'a'), Buffer.alloc(160 * 1024, 'b')];
      await store.put('c/copy-race/a', bodies[0] as Buffer);
      await store.put('c/copy-race/b', bodies[1] as Buffer);
      await store.put('c/copy-race/dst', bodies[0] as Buffer);
      let reads = 0;
      let stop = false;
      const reader = (async () => {
        while (!stop) {
          const seen = Buffer.from(await store.get('c/copy-race/dst'));
          expect(bodies.some((body) => Buffer.compare(seen, body) === 0)).toBe(true);
          reads += 1;
        }
      })();
      for (let n = 1; n <= 20; n++)
        await store.copy(n % 2 ? 'c/copy-race/b' : 'c/copy-race/a', 'c/copy-race/dst');
      stop = true;
      await reader;
      expect(reads).toBeGreaterThan(0);
      expect(Buffer.compare(Buffer.from(await store.get('c/copy-race/dst')), bodies[0] as Buffer)).toBe(0);
    });

    it('rejects keys that could escape or alias', async () => {
      // An existing source, so only key validation can stop a copy to a bad key.
      await store.put('c/copy-bad/k', 'x');
      for (const bad of ['', '/abs', 'a//b', 'a/../b', '../x', 'a/./b', 'a/.hidden', 'a\\b', 'a/b/']) {
        await expect(store.put(bad, 'x')).rejects.toMatchObject({ code: 'INVALID_KEY' });
        await expect(store.copy(bad, 'c/copy-bad/k')).rejects.toMatchObject({ code: 'INVALID_KEY' });
        await expect(store.copy('c/copy-bad/k', bad)).rejects.toMatchObject({ code: 'INVALID_KEY' });
      }
    });
  });
}
