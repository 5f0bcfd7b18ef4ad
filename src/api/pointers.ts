import { readFileSync } from 'node:fs';
import type { ObjectStore } from '../adapters/object-store/port.js';
import { goldDataset } from '../lake/layout.js';
import { resolveLatest } from '../lake/publish.js';

interface PendingRead {
  readonly promise: Promise<string | undefined>;
  resolve(runId: string | undefined): void;
  reject(error: unknown): void;
}

/**
 * The Gold run each mart serves now, read fresh for every caller but shared
 * by callers that ask at about the same time.
 *
 * A cache hit must see every publish that completed before its request
 * arrived (a publish changes the very next answer), so a caller never joins a
 * read that is already under way: that read may have opened the pointer
 * before the caller arrived. Instead, callers join a read that has not
 * started yet; it starts once the event loop has handled everything that is
 * ready now (`setImmediate`), so every caller it answers asked before it
 * began. Under load this turns one pointer read per request into one per
 * loop turn; alone, a caller waits for its own read as before.
 */
export class PointerReads {
  private readonly waiting = new Map<string, PendingRead>();
  /** Reads started (for tests and benchmarks: how many requests shared one). */
  reads = 0;
  /** Wall time from the start of each read to its answer, summed (benchmarks). */
  readMs = 0;
  private readonly store: ObjectStore;

  constructor(store: ObjectStore) {
    this.store = store.kind === 'local' ? blockingSmallReads(store) : store;
  }

  /** The run `martAt` (`mart@schema_v`) serves, from a read that starts after this call. */
  runOf(martAt: string): Promise<string | undefined> {
    const queued = this.waiting.get(martAt);
    if (queued) return queued.promise;
    let resolve!: (runId: string | undefined) => void;
    let reject!: (error: unknown) => void;
    const promise = new Promise<string | undefined>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    this.waiting.set(martAt, { promise, resolve, reject });
    setImmediate(() => this.start(martAt));
    return promise;
  }

  private start(martAt: string): void {
    const read = this.waiting.get(martAt);
    if (!read) return;
    // From here on, newcomers wait for the next read: this one may miss what they expect to see.
    this.waiting.delete(martAt);
    this.reads += 1;
    const at = martAt.lastIndexOf('@');
    const mart = martAt.slice(0, at);
    const schemaVersion = Number(martAt.slice(at + 1));
    const started = performance.now();
    let pending: Promise<string | undefined>;
    try {
      pending = resolveLatest(this.store, goldDataset(mart, schemaVersion)).then((p) => p?.run_id);
    } catch (error) {
      read.reject(error);
      return;
    }
    pending
      .finally(() => {
        this.readMs += performance.now() - started;
      })
      .then(read.resolve, read.reject);
  }
}

/**
 * The local store with small objects read in one blocking call: an async read
 * of a pointer costs about five times the CPU (four thread-pool trips and a
 * file handle) of a blocking one, on the cache-hit path. Safe here, not in the
 * store itself: these reads start from `setImmediate`, at most one per mart per
 * turn of the event loop, so nothing can spin on them and starve other I/O.
 * `locationOf` is the object's file for the local store (the port's contract).
 */
function blockingSmallReads(store: ObjectStore): ObjectStore {
  const view = Object.create(store) as ObjectStore;
  view.getIfExists = async (key: string): Promise<Uint8Array | undefined> => {
    try {
      return readFileSync(store.locationOf(key));
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR') return undefined;
      throw error;
    }
  };
  return view;
}
