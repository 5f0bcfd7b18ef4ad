import { LRUCache } from 'lru-cache';

/** A complete answer as the gateway sends it. */
export interface CachedAnswer {
  readonly status: number;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: string;
}

/** A kept answer with the Gold runs it was computed from. */
export interface CacheEntry extends CachedAnswer {
  /** `mart@schema_v` -> the Gold run the answer was computed from. */
  readonly touched: ReadonlyArray<readonly [string, string]>;
  /** The body's UTF-8 bytes, encoded once: a transport sends them on every hit without a copy. */
  readonly bytes: Buffer;
}

/** Resolves the Gold run a mart serves now (`undefined` when unpublished). */
export type CurrentVersion = (martAt: string) => Promise<string | undefined>;

/**
 * The answer cache. Gold versions are immutable between publishes, so an
 * answer stays right exactly as long as every mart it read still serves the
 * run it was computed from: each entry remembers those runs, and a lookup
 * re-resolves the pointers and discards the entry when any moved. No TTL.
 * The key holds the caller's effective policy, so callers with different
 * access never share an entry. Bounded by bytes (LRU).
 */
export class AnswerCache {
  private readonly lru: LRUCache<string, CacheEntry> | undefined;
  readonly stats = { hits: 0, misses: 0, stale: 0, stored: 0 };

  constructor(maxBytes: number) {
    this.lru =
      maxBytes > 0
        ? new LRUCache<string, CacheEntry>({
            maxSize: maxBytes,
            // UTF-16 strings: two bytes a character, the key included (it holds the request).
            sizeCalculation: (e, key) => (e.body.length + key.length) * 2 + e.bytes.length + 256,
          })
        : undefined;
  }

  /** Whether caching is on. */
  get enabled(): boolean {
    return this.lru !== undefined;
  }

  /**
   * The cache key of a request for a caller's effective policy: every part
   * length-prefixed, so two different requests never share a key (no hash to
   * collide, and cheaper than one for the small requests callers repeat).
   */
  static key(policyFingerprint: string, parts: readonly string[]): string {
    let key = `${policyFingerprint.length}:${policyFingerprint}`;
    for (const part of parts) key += `${part.length}:${part}`;
    return key;
  }

  /** A still-valid answer, or `undefined` (missing, or a mart it read has published since). */
  async lookup(key: string, current: CurrentVersion): Promise<CacheEntry | undefined> {
    const entry = this.lru?.get(key);
    if (!entry) {
      this.stats.misses += 1;
      return undefined;
    }
    const [only] = entry.touched;
    // Most answers read one mart: skip Promise.all's array and extra promise.
    const now =
      entry.touched.length === 1 && only
        ? [await current(only[0])]
        : await Promise.all(entry.touched.map(([mart]) => current(mart)));
    if (entry.touched.some(([, run], i) => now[i] !== run)) {
      this.lru?.delete(key);
      this.stats.stale += 1;
      this.stats.misses += 1;
      return undefined;
    }
    this.stats.hits += 1;
    return entry;
  }

  /** Keep an answer computed from the given Gold runs. Answers that read no mart are not kept. */
  store(key: string, touched: ReadonlyMap<string, string>, answer: CachedAnswer): void {
    if (!this.lru || touched.size === 0) return;
    this.lru.set(key, { ...answer, touched: [...touched], bytes: Buffer.from(answer.body, 'utf8') });
    this.stats.stored += 1;
  }
}
