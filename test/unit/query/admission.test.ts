import { describe, expect, it } from 'vitest';
import { isGoldgateError } from '../../../src/errors.js';
import { Admission } from '../../../src/query/admission.js';
import { EngineBusyError, QueryAbortedError } from '../../../src/query/errors.js';

describe('Admission', () => {
  it('admits up to the limit, queues in order, and hands a freed slot to the next in line', async () => {
    const admission = new Admission({ limit: 1, maxQueue: 4, queueTimeoutMs: 5_000 });
    const first = await admission.acquire();
    const order: string[] = [];
    const second = admission.acquire().then((release) => {
      order.push('second');
      return release;
    });
    const third = admission.acquire().then((release) => {
      order.push('third');
      return release;
    });
    expect(admission.active).toBe(1);
    first();
    (await second)();
    (await third)();
    expect(order).toEqual(['second', 'third']);
    expect(admission.active).toBe(0);
    expect(admission.stats).toMatchObject({ admitted: 3, queued: 2, refused: 0, aborted: 0 });
  });

  it('refuses at once with ENGINE_BUSY when the queue is full', async () => {
    const admission = new Admission({ limit: 1, maxQueue: 0, queueTimeoutMs: 5_000 });
    const release = await admission.acquire();
    const refused = admission.acquire();
    await expect(refused).rejects.toBeInstanceOf(EngineBusyError);
    release();
  });

  it('a caller that hangs up while queued leaves with a typed QueryAbortedError and frees its place', async () => {
    const admission = new Admission({ limit: 1, maxQueue: 4, queueTimeoutMs: 5_000 });
    const release = await admission.acquire();
    const controller = new AbortController();
    const waiting = admission.acquire(controller.signal);
    const next = admission.acquire();
    controller.abort();
    const error = await waiting.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(QueryAbortedError);
    expect(isGoldgateError(error) && error.code).toBe('ENGINE_ABORTED');
    // The aborted caller never holds the slot: the next one in line gets it.
    release();
    (await next)();
    expect(admission.active).toBe(0);
    expect(admission.stats.aborted).toBe(1);
  });

  it('refuses a caller that hung up before asking, even with a slot free', async () => {
    const admission = new Admission({ limit: 2, maxQueue: 4, queueTimeoutMs: 5_000 });
    const controller = new AbortController();
    controller.abort();
    await expect(admission.acquire(controller.signal)).rejects.toBeInstanceOf(QueryAbortedError);
    expect(admission.active).toBe(0);
  });
});
