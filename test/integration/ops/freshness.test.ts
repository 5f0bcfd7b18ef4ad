import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LocalObjectStore } from '../../../src/adapters/object-store/local.js';
import { MARTS } from '../../../src/catalog/index.js';
import { goldDataset } from '../../../src/lake/layout.js';
import { publishRun, rollbackTo } from '../../../src/lake/publish.js';
import { newRunId } from '../../../src/lake/run-id.js';
import {
  checkSlas,
  checkSlasAfterRun,
  DEFAULT_SLAS,
  formatFreshness,
  freshness,
  freshnessOfAll,
  powertoolsSlaMetrics,
  type SlaConfig,
  type SlaMetricsSink,
  slaMetricsForEnvironment,
} from '../../../src/ops/index.js';
import { zonedInstant } from '../../../src/ops/time.js';

/**
 * Freshness read from a lake whose Gold runs are published at chosen times
 * (no data files: SLAs look at pointers and manifests only), and the SLA check
 * that logs breaches and writes CloudWatch EMF lines.
 */

const ist = (date: string, time: string): Date => zonedInstant(date, time, 'Asia/Kolkata');
const SLAS: SlaConfig = DEFAULT_SLAS;

describe('freshness and SLA checks over a lake', () => {
  let dir: string;
  let store: LocalObjectStore;
  const c360 = goldDataset('customer_360', 1);
  const invoices = goldDataset('invoices', 1);
  const runs: Record<string, string> = {};

  /** Publish a Gold run built at `built` and ready at `ready`, as the pipeline does. */
  async function publish(dataset: typeof c360, name: string, built: Date, ready: Date): Promise<void> {
    const runId = newRunId(built);
    runs[name] = runId;
    await publishRun(store, dataset, {
      runId,
      rowCount: 10,
      checks: [
        { name: 'unique_key', passed: true, blocking: true },
        { name: 'references_customer_360.customer_id', passed: false, blocking: false, detail: '1 rows' },
      ],
      now: built,
      readyAt: ready,
      lineage: {
        silver: [],
        newest_source_change: {
          zoho_books: '2026-03-09T17:00:00.000Z',
          dynamodb: '2026-03-09T18:00:00.000Z',
        },
      },
    });
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'goldgate-freshness-'));
    store = new LocalObjectStore(dir);
    // Customer 360: built just before midnight IST, then at 00:10 and 09:00 IST on the 10th.
    await publish(c360, 'beforeMidnight', ist('2026-03-09', '23:50'), ist('2026-03-09', '23:58'));
    await publish(c360, 'early', ist('2026-03-10', '00:10'), ist('2026-03-10', '00:20'));
    await publish(c360, 'hourly', ist('2026-03-10', '09:00'), ist('2026-03-10', '09:05'));
    // Invoices: hourly SLA, last ready at 10:00 IST.
    await publish(invoices, 'invoices', ist('2026-03-10', '09:55'), ist('2026-03-10', '10:00'));
  });

  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('serves the latest run, and judges the deadline on the first run that covered the day', async () => {
    const f = await freshness(store, 'customer_360', ist('2026-03-10', '10:00'), { slas: SLAS });
    expect(f.served).toMatchObject({
      runId: runs.hourly,
      readyAt: ist('2026-03-10', '09:05').toISOString(),
      builtAt: ist('2026-03-10', '09:00').toISOString(),
      rolledBackFrom: null,
      failedChecks: ['references_customer_360.customer_id'],
    });
    expect(f.sla).toMatchObject({
      kind: 'deadline',
      description: 'daily by 06:00 Asia/Kolkata',
      state: 'on_time',
      deliveredAt: ist('2026-03-10', '00:20').toISOString(),
      dueAt: ist('2026-03-10', '06:00').toISOString(),
    });
    expect(f.newestSourceChange).toEqual([
      { source: 'dynamodb', at: '2026-03-09T18:00:00.000Z' },
      { source: 'zoho_books', at: '2026-03-09T17:00:00.000Z' },
    ]);
  });

  it('is breached after a rollback to a version built before local midnight', async () => {
    await rollbackTo(store, c360, runs.beforeMidnight ?? '', ist('2026-03-10', '10:30'));
    try {
      const f = await freshness(store, 'customer_360', ist('2026-03-10', '10:31'), { slas: SLAS });
      expect(f.served).toMatchObject({ runId: runs.beforeMidnight, rolledBackFrom: runs.hourly });
      expect(f.sla.state).toBe('breached');
    } finally {
      await rollbackTo(store, c360, runs.hourly ?? '', ist('2026-03-10', '10:32'));
    }
  });

  it('judges a max-age mart on its publication time', async () => {
    const fresh = await freshness(store, 'invoices', ist('2026-03-10', '10:30'), { slas: SLAS });
    expect(fresh.sla).toMatchObject({ kind: 'max_age', state: 'on_time', ageSeconds: 30 * 60 });
    const stale = await freshness(store, 'invoices', ist('2026-03-10', '11:20'), { slas: SLAS });
    expect(stale.sla).toMatchObject({
      state: 'breached',
      breachedSince: ist('2026-03-10', '11:15').toISOString(),
    });
  });

  it('reads every mart; unpublished ones are unknown', async () => {
    const all = await freshnessOfAll(store, ist('2026-03-10', '10:30'), { slas: SLAS });
    expect(all.map((f) => f.mart)).toEqual(MARTS.map((m) => m.name));
    expect(all.find((f) => f.mart === 'payments')).toMatchObject({ served: null, sla: { state: 'unknown' } });
  });

  it('reads only the pointer of a max-age mart: the API can afford it per request', async () => {
    const read: string[] = [];
    const counting = new Proxy(store, {
      get(target, property, receiver) {
        const value = Reflect.get(target, property, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          if (property === 'get' || property === 'getIfExists' || property === 'list')
            read.push(String(args[0]));
          return value.apply(target, args);
        };
      },
    });
    const f = await freshness(counting, 'invoices', ist('2026-03-10', '10:30'), { slas: SLAS });
    expect(f.newestSourceChange).toHaveLength(2);
    expect(read).toEqual([`${invoices.prefix}_LATEST.json`]);
  });

  it('prints one row per mart and the reasons of those not on time', async () => {
    const text = formatFreshness(await freshnessOfAll(store, ist('2026-03-10', '11:20'), { slas: SLAS }));
    expect(text).toMatch(/^invoices +BREACHED +at most 60 min old since published, 15 min grace +\S+/m);
    expect(text).toMatch(/^customer_360 +ON_TIME +daily by 06:00 Asia\/Kolkata/m);
    expect(text).toContain('invoices: 80 min old, over the limit 60 min and its grace');
    expect(text).toContain('payments: never published');
  });

  it('refuses a mart the catalog does not declare', async () => {
    await expect(freshness(store, 'nope', new Date(), { slas: SLAS })).rejects.toMatchObject({
      code: 'MART_NOT_FOUND',
    });
  });

  it('logs one structured line per breach and records every mart in the metrics sink', async () => {
    const logger = new Logger({ serviceName: 'goldgate-test', logLevel: 'DEBUG' });
    const warn = vi.spyOn(logger, 'warn').mockImplementation(() => undefined);
    const info = vi.spyOn(logger, 'info').mockImplementation(() => undefined);
    const recorded: Array<[string, string]> = [];
    const sink: SlaMetricsSink = { record: (f) => recorded.push([f.mart, f.sla.state]) };
    const result = await checkSlasAfterRun(
      store,
      { runId: '20260310T054500Z-abcd' },
      { now: ist('2026-03-10', '11:20'), slas: SLAS, logger, metrics: sink },
    );
    expect(result.breached).toEqual(['invoices']);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn).toHaveBeenCalledWith(
      'sla breached',
      expect.objectContaining({
        trigger: 'pipeline',
        run_id: '20260310T054500Z-abcd',
        mart: 'invoices',
        state: 'breached',
        served_run_id: runs.invoices,
      }),
    );
    expect(info).not.toHaveBeenCalled();
    expect(recorded).toHaveLength(MARTS.length);
    expect(recorded).toContainEqual(['customer_360', 'on_time']);
  });

  it('writes CloudWatch EMF lines through Powertools: 1 for the breached mart, 0 for the others', async () => {
    const lines: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    try {
      const metrics = powertoolsSlaMetrics(
        new Metrics({ namespace: 'goldgate-test', serviceName: 'goldgate' }),
      );
      await checkSlas(
        store,
        { kind: 'schedule' },
        { now: ist('2026-03-10', '11:20'), slas: SLAS, metrics, logger: new Logger({ logLevel: 'SILENT' }) },
      );
    } finally {
      write.mockRestore();
    }
    const emf = lines
      .flatMap((l) => l.split('\n'))
      .filter((l) => l.includes('"_aws"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const byMart = new Map(emf.map((e) => [e.mart as string, e]));
    expect(byMart.size).toBe(MARTS.length);
    expect(byMart.get('invoices')).toMatchObject({ SlaBreached: 1, SlaLate: 0, SlaUnknown: 0 });
    expect(byMart.get('customer_360')).toMatchObject({ SlaBreached: 0, SlaLate: 0, SlaUnknown: 0 });
    expect(byMart.get('payments')).toMatchObject({ SlaBreached: 0, SlaUnknown: 1 });
    expect(byMart.get('payments')).not.toHaveProperty('ServedDataAgeSeconds');
    expect(byMart.get('invoices')?.ServedDataAgeSeconds).toBe(85 * 60);
    const aws = byMart.get('invoices')?._aws as
      | { CloudWatchMetrics: Array<{ Namespace: string; Dimensions: string[][] }> }
      | undefined;
    const directive = aws?.CloudWatchMetrics[0];
    expect(directive?.Namespace).toBe('goldgate-test');
    expect(directive?.Dimensions[0]).toContain('mart');
  });

  it('emits metrics only on AWS', () => {
    expect(slaMetricsForEnvironment({})).toBeUndefined();
    expect(slaMetricsForEnvironment({ GOLDGATE_HOME: 'aws' })).toBeDefined();
    expect(slaMetricsForEnvironment({ AWS_LAMBDA_FUNCTION_NAME: 'goldgate-pipeline' })).toBeDefined();
  });
});
