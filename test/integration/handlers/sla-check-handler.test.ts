import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Context, ScheduledEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LocalObjectStore } from '../../../src/adapters/object-store/local.js';
import { MARTS } from '../../../src/catalog/index.js';
import { goldDataset } from '../../../src/lake/layout.js';
import { publishRun } from '../../../src/lake/publish.js';
import { newRunId } from '../../../src/lake/run-id.js';
import { logger } from '../../../src/runtime/logger.js';

/**
 * The scheduled SLA check as Lambda runs it, on the embedded home's folder
 * store: published pointers at chosen ages, the handler's log lines and the
 * EMF lines Powertools prints, as CloudWatch Logs would receive them.
 */

const event = { id: 'evt-sla-1', 'detail-type': 'Scheduled Event' } as ScheduledEvent;
const context = { awsRequestId: 'req-sla-1', functionName: 'goldgate-test-slaCheck' } as Context;
const MINUTE = 60_000;

type Line = Record<string, unknown>;

/** Run `fn` and return the JSON lines it printed: Powertools logs and EMF, as CloudWatch Logs receives them. */
async function printed<T>(fn: () => Promise<T>): Promise<{ result: T; lines: Line[] }> {
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
    const result = await fn();
    const lines = chunks
      .flatMap((c) => c.split('\n'))
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Line);
    return { result, lines };
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
}

describe('slaCheck Lambda handler', () => {
  let root: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'goldgate-sla-handler-'));
    vi.stubEnv('GOLDGATE_LAKE_DIR', join(root, 'lake'));
    // Powertools' EMF sink is used on Lambda (or GOLDGATE_HOME=aws): as the function sees its environment.
    vi.stubEnv('AWS_LAMBDA_FUNCTION_NAME', context.functionName);
    vi.stubEnv('POWERTOOLS_METRICS_NAMESPACE', 'goldgate/test');
    logger.setLogLevel('INFO');
    const store = new LocalObjectStore(join(root, 'lake'));
    const now = Date.now();
    // Invoices and payments promise at most 60 min (+15 grace) since published: one 3 days old, one fresh.
    const published = { invoices: now - 3 * 24 * 60 * MINUTE, payments: now - 2 * MINUTE };
    for (const [mart, built] of Object.entries(published)) {
      await publishRun(store, goldDataset(mart, 1), {
        runId: newRunId(new Date(built)),
        rowCount: 1,
        checks: [{ name: 'unique_key', passed: true, blocking: true }],
        now: new Date(built),
        readyAt: new Date(built + MINUTE),
      });
    }
  });

  afterAll(async () => {
    vi.unstubAllEnvs();
    await rm(root, { recursive: true, force: true });
  });

  it('reports the breached mart, logs it with the invocation id, and writes one EMF record per mart', async () => {
    const { handler } = await import('../../../src/handlers/sla-check.js');
    const { result, lines } = await printed(() => handler(event, context));
    expect(result).toMatchObject({ marts: MARTS.length, breached: ['invoices'] });
    expect(result.late).not.toContain('payments');

    const breached = lines.filter((l) => l.message === 'sla breached');
    expect(breached).toHaveLength(1);
    expect(breached[0]).toMatchObject({
      level: 'WARN',
      correlation_id: 'req-sla-1',
      trigger: 'schedule',
      job: 'sla_check',
      mart: 'invoices',
      state: 'breached',
    });
    expect(lines.find((l) => l.message === 'sla check finished')).toMatchObject({
      correlation_id: 'req-sla-1',
      breached: ['invoices'],
    });

    const emf = lines.filter((l) => '_aws' in l);
    expect(emf.map((l) => l.mart).sort()).toEqual(MARTS.map((m) => m.name).sort());
    const byMart = new Map(emf.map((l) => [l.mart, l]));
    expect(byMart.get('invoices')).toMatchObject({ SlaBreached: 1, service: 'goldgate' });
    expect(byMart.get('payments')).toMatchObject({ SlaBreached: 0, SlaUnknown: 0 });
    // Never published: unknown, which is not a breach (the alarm sees 0, not silence).
    expect(byMart.get('customer_360')).toMatchObject({ SlaBreached: 0, SlaUnknown: 1 });
    const aws = byMart.get('invoices')?._aws as
      | { CloudWatchMetrics: Array<{ Namespace: string }> }
      | undefined;
    expect(aws?.CloudWatchMetrics.map((d) => d.Namespace)).toEqual(['goldgate/test']);
  });
});
