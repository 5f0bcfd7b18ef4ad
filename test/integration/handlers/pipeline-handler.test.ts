import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Context, ScheduledEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LocalObjectStore } from '../../../src/adapters/object-store/local.js';
import { checkpointKey } from '../../../src/lake/layout.js';
import { acquireLock } from '../../../src/lake/lock.js';
import { logger } from '../../../src/runtime/logger.js';
import { GOLD_MODELS } from '../../../src/transform/gold/index.js';
import { earlierVersionModels } from '../../../src/transform/gold/versions.js';
import { PIPELINE_JOB } from '../../../src/transform/pipeline.js';

/**
 * The scheduled pipeline as Lambda runs it (embedded home: folder store and
 * DuckDB): after a run it checks SLAs tagged with the run id, after a run that
 * threw it checks them too and still fails, and a run skipped for the lock
 * checks nothing. Customer 360's SLA is set to a deadline no run can meet
 * (by 00:00 UTC for a version built after 00:00 UTC), so every check logs it.
 */

const event = { id: 'evt-pipeline-1', 'detail-type': 'Scheduled Event' } as ScheduledEvent;
/** Gold steps of a run: every model, earlier schema versions included. */
const GOLD_STEPS = GOLD_MODELS.length + earlierVersionModels(GOLD_MODELS).length;
const context = (id: string) => ({ awsRequestId: id, functionName: 'goldgate-test-pipeline' }) as Context;

type Line = Record<string, unknown>;

async function printed<T>(
  fn: () => Promise<T>,
): Promise<{ outcome: PromiseSettledResult<T>; lines: Line[] }> {
  const chunks: string[] = [];
  const capture = (chunk: string | Uint8Array): boolean => {
    chunks.push(String(chunk));
    return true;
  };
  // Powertools writes INFO lines and EMF to stdout, WARN and ERROR to stderr.
  const spies = [
    vi.spyOn(process.stdout, 'write').mockImplementation(capture),
    vi.spyOn(process.stderr, 'write').mockImplementation(capture),
  ];
  try {
    const [outcome] = await Promise.allSettled([fn()]);
    const lines = chunks
      .flatMap((c) => c.split('\n'))
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Line);
    return { outcome: outcome as PromiseSettledResult<T>, lines };
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
}

/** The SLA lines about customer_360 (late or breached: which depends only on the hour of the run). */
const slaLines = (lines: readonly Line[]) =>
  lines.filter(
    (l) => (l.message === 'sla late' || l.message === 'sla breached') && l.mart === 'customer_360',
  );

describe('pipeline Lambda handler', () => {
  let root: string;
  let store: LocalObjectStore;

  /** Keys of the pipeline's run reports. */
  const reports = async (): Promise<string[]> => {
    const keys: string[] = [];
    for await (const info of store.list('_runs/pipeline/')) keys.push(info.key);
    return keys;
  };

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'goldgate-pipeline-handler-'));
    vi.stubEnv('GOLDGATE_LAKE_DIR', join(root, 'lake'));
    vi.stubEnv(
      'GOLDGATE_SLAS',
      JSON.stringify({ customer_360: { kind: 'deadline', at: '00:00', timeZone: 'UTC' } }),
    );
    logger.setLogLevel('INFO');
    store = new LocalObjectStore(join(root, 'lake'));
  });

  afterAll(async () => {
    vi.unstubAllEnvs();
    await rm(root, { recursive: true, force: true });
  });

  it('checks SLAs after a run, tagged with its run id and the invocation id', async () => {
    const { handler } = await import('../../../src/handlers/pipeline.js');
    const { outcome, lines } = await printed(() => handler(event, context('req-run-1')));
    expect(outcome.status).toBe('fulfilled');
    const result = outcome.status === 'fulfilled' ? outcome.value : undefined;
    expect(result?.status).toBe('succeeded');
    expect(slaLines(lines)).toEqual([
      expect.objectContaining({ correlation_id: 'req-run-1', trigger: 'pipeline', run_id: result?.runId }),
    ]);
    // The check runs once the run is over.
    const finished = lines.findIndex((l) => l.message === 'pipeline finished');
    expect(finished).toBeGreaterThanOrEqual(0);
    expect(lines.indexOf(slaLines(lines)[0] ?? {})).toBeGreaterThan(finished);
  });

  it('checks SLAs when a run throws, and still fails with the run error', async () => {
    const { handler } = await import('../../../src/handlers/pipeline.js');
    await store.put(checkpointKey('silver'), 'not json');
    try {
      const { outcome, lines } = await printed(() => handler(event, context('req-run-2')));
      expect(outcome.status).toBe('rejected');
      expect(outcome.status === 'rejected' ? (outcome.reason as { code?: string }).code : undefined).toBe(
        'LAKE_CORRUPT',
      );
      expect(slaLines(lines)).toEqual([
        expect.objectContaining({ correlation_id: 'req-run-2', trigger: 'schedule' }),
      ]);
      expect(slaLines(lines)[0]).not.toHaveProperty('run_id');
    } finally {
      await store.delete(checkpointKey('silver'));
    }
  });

  it('reuses the served runs of unchanged marts, and rebuilds every mart when the invocation asks', async () => {
    const { handler } = await import('../../../src/handlers/pipeline.js');
    const finished = (lines: readonly Line[]) => lines.find((l) => l.message === 'pipeline finished');
    const again = await printed(() => handler(event, context('req-run-4')));
    expect(again.outcome.status).toBe('fulfilled');
    const reused = Number(finished(again.lines)?.gold_reused);
    // Nothing new since the first test's run: every mart is reused, unless UTC midnight passed in between (a new as_of).
    const runs = await reports();
    const days = new Set(runs.map((k) => /(\d{8})T/.exec(k)?.[1]));
    expect(reused).toBe(days.size === 1 ? GOLD_STEPS : 0);

    const forced = await printed(() =>
      handler({ ...event, rebuildGold: true } as ScheduledEvent, context('req-run-5')),
    );
    expect(forced.outcome.status).toBe('fulfilled');
    expect(finished(forced.lines)).toMatchObject({ status: 'succeeded', gold_reused: 0 });
  });

  it('refuses an invocation it does not understand, before running anything', async () => {
    const { handler } = await import('../../../src/handlers/pipeline.js');
    const before = (await reports()).length;
    const { outcome } = await printed(() =>
      handler({ ...event, rebuildGold: 'yes' } as unknown as ScheduledEvent, context('req-run-6')),
    );
    expect(outcome.status).toBe('rejected');
    const reason =
      outcome.status === 'rejected' ? (outcome.reason as { code?: string; message?: string }) : {};
    expect(reason.code).toBe('INVALID_INVOCATION');
    expect(reason.message).toContain('rebuildGold');
    expect((await reports()).length).toBe(before);
  });

  it('checks nothing when another run holds the lock', async () => {
    const { handler } = await import('../../../src/handlers/pipeline.js');
    const lock = await acquireLock(store, PIPELINE_JOB, { ttlMs: 60_000 });
    try {
      const { outcome, lines } = await printed(() => handler(event, context('req-run-3')));
      expect(outcome).toEqual({ status: 'fulfilled', value: { status: 'skipped' } });
      expect(lines.some((l) => l.message === 'pipeline skipped: another run holds the lock')).toBe(true);
      expect(slaLines(lines)).toEqual([]);
    } finally {
      await lock.release(new Date());
    }
  });
});
