import { EngineBusyError, QueryAbortedError } from './errors.js';

/** Admission settings: on Athena `limit` is this instance's share of the account's active-query quota. */
export interface AdmissionOptions {
  /** Engine statements running at once. */
  readonly limit: number;
  /** Statements waiting at most; beyond it a request is refused at once. */
  readonly maxQueue: number;
  /** How long a statement may wait for a slot before ENGINE_BUSY. */
  readonly queueTimeoutMs: number;
}

interface Waiter {
  readonly grant: () => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * Bounds concurrent engine statements with a FIFO queue and a deadline, so a
 * burst turns into a retryable ENGINE_BUSY (with Retry-After) instead of a
 * pile of engine timeouts or a throttled account.
 */
export class Admission {
  private running = 0;
  private readonly queue: Waiter[] = [];
  /** Counters for logs and benchmarks. */
  readonly stats = { admitted: 0, queued: 0, refused: 0, aborted: 0 };

  constructor(private readonly options: AdmissionOptions) {
    if (options.limit < 1) throw new RangeError('admission limit must be at least 1');
  }

  /**
   * Wait for a slot; the returned function frees it (call it exactly once).
   * A caller that hangs up first (`signal`) leaves the queue with `QueryAbortedError`.
   */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    // An abort fired before this call never reaches a listener added now.
    if (signal?.aborted) throw new QueryAbortedError({ cause: signal.reason });
    if (this.running < this.options.limit && this.queue.length === 0) return this.admit();
    if (this.queue.length >= this.options.maxQueue) throw this.busy('queue full');
    this.stats.queued += 1;
    await new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        grant: () => {
          clearTimeout(waiter.timer);
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        timer: setTimeout(() => {
          this.drop(waiter);
          signal?.removeEventListener('abort', onAbort);
          reject(this.busy('waited too long for the engine'));
        }, this.options.queueTimeoutMs),
      };
      const onAbort = () => {
        this.drop(waiter);
        clearTimeout(waiter.timer);
        this.stats.aborted += 1;
        reject(new QueryAbortedError({ cause: signal?.reason }));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(waiter);
    });
    // The slot was handed over by `release` without decrementing `running`.
    this.stats.admitted += 1;
    return this.releaser();
  }

  /** Statements running now. */
  get active(): number {
    return this.running;
  }

  private admit(): () => void {
    this.running += 1;
    this.stats.admitted += 1;
    return this.releaser();
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.queue.shift();
      if (next) next.grant();
      else this.running -= 1;
    };
  }

  private drop(waiter: Waiter): void {
    const i = this.queue.indexOf(waiter);
    if (i >= 0) this.queue.splice(i, 1);
  }

  private busy(reason: string): EngineBusyError {
    this.stats.refused += 1;
    return new EngineBusyError(`the engine is busy (${reason}); retry shortly`, {
      retryAfterS: Math.max(1, Math.ceil(this.options.queueTimeoutMs / 1000)),
    });
  }
}
