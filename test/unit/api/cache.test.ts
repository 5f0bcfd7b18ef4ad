import { describe, expect, it } from 'vitest';
import { AnswerCache } from '../../../src/api/cache.js';

const answer = (body: string) => ({
  status: 200,
  headers: [['content-type', 'application/json; charset=utf-8']] as const,
  body,
});

describe('AnswerCache', () => {
  it('keys never collide when parts shift their boundaries or the policy differs', () => {
    const keys = [
      AnswerCache.key('admin', ['ab', 'c']),
      AnswerCache.key('admin', ['a', 'bc']),
      AnswerCache.key('admin', ['abc']),
      AnswerCache.key('admin', ['abc', '']),
      AnswerCache.key('admina', ['bc']),
      AnswerCache.key('eu', ['ab', 'c']),
      AnswerCache.key('1:a', ['b']),
      AnswerCache.key('1', ['a', 'b']),
    ];
    expect(new Set(keys).size).toBe(keys.length);
    expect(AnswerCache.key('admin', ['ab', 'c'])).toBe(keys[0]);
  });

  it('answers while every mart read still serves the same run, and drops the entry once one moved', async () => {
    const cache = new AnswerCache(1024 * 1024);
    const key = AnswerCache.key('admin', ['POST', '/graphql', '{}']);
    const runs = new Map([
      ['customer_360@1', 'run-a'],
      ['invoices@1', 'run-b'],
    ]);
    cache.store(key, new Map(runs), answer('{"data":1}'));
    const current = async (martAt: string) => runs.get(martAt);
    expect((await cache.lookup(key, current))?.body).toBe('{"data":1}');
    expect((await cache.lookup(key, current))?.touched).toEqual([...runs]);
    runs.set('invoices@1', 'run-c');
    expect(await cache.lookup(key, current)).toBeUndefined();
    // Gone for good: the old run coming back does not revive it (a rollback recomputes).
    runs.set('invoices@1', 'run-b');
    expect(await cache.lookup(key, current)).toBeUndefined();
    expect(cache.stats).toMatchObject({ hits: 2, stale: 1, misses: 2, stored: 1 });
  });

  it('keeps nothing when off, nor answers that read no mart', async () => {
    const off = new AnswerCache(0);
    off.store('k', new Map([['customer_360@1', 'run-a']]), answer('x'));
    expect(off.enabled).toBe(false);
    expect(await off.lookup('k', async () => 'run-a')).toBeUndefined();
    const on = new AnswerCache(1024);
    on.store('k', new Map(), answer('x'));
    expect(await on.lookup('k', async () => 'run-a')).toBeUndefined();
  });

  it('counts the request key in the bytes an entry holds', async () => {
    const cache = new AnswerCache(4096);
    const runs = new Map([['customer_360@1', 'run-a']]);
    const current = async () => 'run-a';
    // A 2,500-character request with a small answer is over the bound (UTF-16): not kept.
    const big = AnswerCache.key('admin', ['x'.repeat(2_500)]);
    cache.store(big, runs, answer('{}'));
    expect(await cache.lookup(big, current)).toBeUndefined();
    const small = AnswerCache.key('admin', ['x']);
    cache.store(small, runs, answer('{}'));
    expect(await cache.lookup(small, current)).toBeDefined();
  });
});
