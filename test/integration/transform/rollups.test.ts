import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { LocalObjectStore } from '../../../src/adapters/object-store/local.js';
import type { ObjectStore } from '../../../src/adapters/object-store/port.js';
import { DuckDbQueryEngine } from '../../../src/adapters/query-engine/duckdb.js';
import type { QueryEngine } from '../../../src/adapters/query-engine/port.js';
import { goldDataset, runPrefix, silverDataset } from '../../../src/lake/layout.js';
import { resolveLatest } from '../../../src/lake/publish.js';
import { duckdbDialect } from '../../../src/sql/dialect.js';
import { type SqlFragment, sql } from '../../../src/sql/fragment.js';
import { dynamoUsageEvents } from '../../../src/transform/entities.js';
import { GOLD_MODELS, type GoldModel } from '../../../src/transform/gold/index.js';
import { inlineRollup, isRollup, rollupId, usageActivity } from '../../../src/transform/gold/rollups.js';
import {
  embeddedHome,
  type PipelineReport,
  runPipeline,
  type TransformHome,
} from '../../../src/transform/pipeline.js';
import { readSilverVersion, type SilverVersion, silverRelation } from '../../../src/transform/silver.js';
import { silverRollupRelations } from '../../../src/transform/silver-rollups.js';
import { contact, type Draft, invoice, landEvents } from '../../support/builders/bronze.js';
import {
  productAccount,
  usageDelete,
  usageEvent,
  usageExpiry,
  usageUpdate,
} from '../../support/builders/usage.js';
import { FaultInjector, isSimulatedCrash, withFaults } from '../../support/faults.js';

/**
 * The usage rollup (`gold/rollups.ts`, kept beside each embedded Silver version
 * by `silver-rollups.ts`) only ever saves work: whatever mode wrote it
 * (snapshot; delta: the base snapshot's rollup combined with the delta's rows;
 * full), a version's rollup file, in its own run folder, holds the inline
 * rollup of that version's live rows, and the usage marts read from it are the
 * marts an inline build writes.
 */

const USAGE_DS = silverDataset(dynamoUsageEvents.source, dynamoUsageEvents.entity);
const ROLLUP_STEP = `rollup.${dynamoUsageEvents.source}.${dynamoUsageEvents.entity}`;
const ROLLUP_ID = rollupId(usageActivity);
/** The marts that read the usage rollup: the only ones these runs build (the others never read it). */
const USAGE_MODELS: readonly GoldModel[] = GOLD_MODELS.filter((m) =>
  Object.values(m.inputs).some((i) => isRollup(i) && i.name === usageActivity.name),
);
const T = (day: string, time = '10:00:00'): string => `2026-${day}T${time}.000Z`;
/** Every run here is on 2026-11-21: one Gold as_of, so marts of different lakes compare. */
const runAt = (minute: number): Date => new Date(Date.UTC(2026, 10, 21, 6, minute));

interface Lake {
  readonly dir: string;
  readonly store: LocalObjectStore;
  readonly engine: DuckDbQueryEngine;
}

async function openLake(dir: string): Promise<Lake> {
  const store = new LocalObjectStore(dir);
  return { dir, store, engine: await DuckDbQueryEngine.create({ store, threads: 1 }) };
}

/**
 * A relation's column names and types, and its rows as sorted JSON, numbers
 * as text: the engine hands BIGINT over as text and HUGEINT or DOUBLE as
 * numbers, so equal values of two numeric types compare equal here (types
 * are compared through `columns`).
 */
async function table(
  engine: QueryEngine,
  relation: SqlFragment,
): Promise<{ columns: string[]; rows: string[] }> {
  const result = await engine.query({ sql: sql`SELECT * FROM ${relation} AS r`, label: 'test.rows' });
  const text = (row: Record<string, unknown>): string =>
    JSON.stringify(Object.entries(row).map(([k, v]) => [k, typeof v === 'number' ? String(v) : v]));
  return {
    columns: result.columns.map((c) => `${c.name} ${c.sqlType}`),
    rows: result.rows.map(text).sort(),
  };
}

/** Column names without their types. */
const names = (columns: readonly string[]): string[] => columns.map((c) => c.split(' ')[0] ?? c);

/** The served usage Silver version, with its run id. */
async function servedUsage(store: ObjectStore): Promise<{ runId: string; version: SilverVersion }> {
  const pointer = await resolveLatest(store, USAGE_DS);
  if (!pointer) throw new Error('usage_events: nothing served');
  return {
    runId: pointer.run_id,
    version: await readSilverVersion(store, dynamoUsageEvents, pointer.run_id),
  };
}

/** The served version's rollup (from its files) and the inline rollup of its live rows. */
async function storedAndInline(lake: Lake): Promise<{
  runId: string;
  stored: { columns: string[]; rows: string[] };
  inline: { columns: string[]; rows: string[] };
}> {
  const { runId, version } = await servedUsage(lake.store);
  const relations = await silverRollupRelations(lake.store, dynamoUsageEvents, runId);
  const stored = relations[usageActivity.name];
  if (!stored) throw new Error(`no stored usage rollup for the served run ${runId}`);
  return {
    runId,
    stored: await table(lake.engine, stored),
    inline: await table(lake.engine, inlineRollup(usageActivity, silverRelation(version), duckdbDialect)),
  };
}

/** The mode each rollup of the run was written in, from the run report. */
function rollupModes(report: PipelineReport): Record<string, unknown> | undefined {
  const step = report.steps.find((s) => s.step === ROLLUP_STEP);
  return step?.inputs?.rollups as Record<string, unknown> | undefined;
}

const rollupsFileSchema = z.object({ rollups: z.record(z.string(), z.string()) });

const rollupsFileKey = (runId: string): string => `${runPrefix(USAGE_DS, runId)}rollups.json`;

async function readRollupsFile(store: ObjectStore, runId: string): Promise<Record<string, string>> {
  const body = await store.getIfExists(rollupsFileKey(runId));
  if (!body) throw new Error(`no rollups.json in run ${runId}`);
  return rollupsFileSchema.parse(JSON.parse(Buffer.from(body).toString('utf8'))).rollups;
}

/** Every served usage mart, by name: its columns and its rows as sorted JSON. */
async function usageMarts(lake: Lake): Promise<Record<string, { columns: string[]; rows: string[] }>> {
  const out: Record<string, { columns: string[]; rows: string[] }> = {};
  for (const { mart } of USAGE_MODELS) {
    const pointer = await resolveLatest(lake.store, goldDataset(mart.name, mart.schemaVersion));
    if (!pointer) throw new Error(`${mart.name} not published`);
    const relation = lake.engine.martRelation({
      mart: mart.name,
      schemaVersion: mart.schemaVersion,
      runId: pointer.run_id,
      prefix: pointer.path,
    });
    out[mart.name] = await table(lake.engine, relation);
  }
  return out;
}

/** The embedded home that keeps no rollup files: every model computes the rollup inline. */
function inlineHome(lake: Lake): TransformHome {
  return { ...embeddedHome({ store: lake.store, engine: lake.engine }), rollUp: async () => [] };
}

/** One run of the usage marts at `at`, Silver compacted at `compactAt` of its base; it must succeed. */
async function runUsage(lake: Lake, at: Date, compactAt: number): Promise<PipelineReport> {
  const report = await runPipeline({
    store: lake.store,
    engine: lake.engine,
    now: () => at,
    models: USAGE_MODELS,
    home: embeddedHome({ store: lake.store, engine: lake.engine, compactAt }),
  });
  expect(report.status).toBe('succeeded');
  return report;
}

/** `reference` built in one run, rollups inline, from a copy of `lake`'s Bronze: what the usage marts must equal. */
async function buildInlineReference(lake: Lake, reference: Lake, at: Date): Promise<PipelineReport> {
  await cp(join(lake.dir, 'bronze'), join(reference.dir, 'bronze'), { recursive: true });
  const report = await runPipeline({
    store: reference.store,
    engine: reference.engine,
    now: () => at,
    models: USAGE_MODELS,
    home: inlineHome(reference),
  });
  expect(report.status).toBe('succeeded');
  return report;
}

/** Contacts C1..C3, accounts A1..A4 (A1..A3 linked, A4 without region or contact) and two invoices. */
async function landCustomers(store: ObjectStore, at: Date): Promise<void> {
  await landEvents(
    store,
    'zoho_books',
    'contacts',
    ['C1', 'C2', 'C3'].map((id) => contact(id, T('08-01'), { name: `Customer ${id}` })),
    at,
  );
  await landEvents(
    store,
    'zoho_books',
    'invoices',
    [
      invoice('I1', T('10-20'), {
        customer: 'C1',
        status: 'paid',
        date: '2026-10-20',
        due: '2026-10-20',
        total: 90,
        balance: 0,
      }),
      invoice('I2', T('11-03'), {
        customer: 'C2',
        status: 'sent',
        date: '2026-11-03',
        due: '2026-12-03',
        total: 50,
        balance: 50,
      }),
    ],
    at,
  );
  await landEvents(
    store,
    'dynamodb',
    'accounts',
    [
      productAccount('A1', { region: 'EU', contact: 'C1', signupAt: T('10-12', '09:00:00') }),
      productAccount('A2', { region: 'NA', contact: 'C2', signupAt: T('10-26', '23:30:00') }),
      productAccount('A3', { region: 'APAC', contact: 'C3', signupAt: T('11-02', '00:15:00') }),
      productAccount('A4', { signupAt: T('11-09', '12:00:00') }),
    ],
    at,
  );
}

const landUsage = (store: ObjectStore, drafts: readonly Draft[], at: Date): Promise<string> =>
  landEvents(store, 'dynamodb', 'usage_events', drafts, at);

describe('usage rollup', () => {
  let root: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'goldgate-rollups-'));
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('covers exactly the marts that read usage', () => {
    expect(USAGE_MODELS.map((m) => m.mart.name).sort()).toEqual([
      'customer_360',
      'kpi_daily_usage',
      'kpi_funnel',
      'kpi_retention',
    ]);
  });

  describe('over successive runs on one lake, in every mode', () => {
    let lake: Lake;
    let minute = 0;
    /** One pipeline run over what was landed, with Silver compacted at `compactAt` of its base. */
    const run = async (compactAt: number): Promise<PipelineReport> => {
      minute += 1;
      return runUsage(lake, runAt(minute), compactAt);
    };
    /** After a run: its mode, where its file is, and that it holds the inline rollup. */
    const expectServedRollup = async (
      report: PipelineReport,
      mode: 'snapshot' | 'delta' | 'full',
    ): Promise<SilverVersion> => {
      expect(rollupModes(report)).toEqual({ [ROLLUP_ID]: mode });
      const { runId, stored, inline } = await storedAndInline(lake);
      expect(runId).toBe(report.runId);
      expect(inline.rows.length).toBeGreaterThan(0);
      expect(stored.rows).toEqual(inline.rows);
      expect(names(stored.columns)).toEqual(names(inline.columns));
      const { version } = await servedUsage(lake.store);
      // One file, the version's own, whatever the mode: no version reads another's rollup.
      const files = await readRollupsFile(lake.store, runId);
      expect(Object.keys(files)).toEqual([ROLLUP_ID]);
      expect(files[ROLLUP_ID]?.startsWith(runPrefix(USAGE_DS, runId))).toBe(true);
      // A snapshot's rollup is over itself; a delta's (either mode) over its base and itself.
      expect(version.baseRun === runId).toBe(mode === 'snapshot');
      return version;
    };

    beforeAll(async () => {
      lake = await openLake(join(root, 'modes'));
      const day1 = new Date('2026-11-20T12:00:00Z');
      await landCustomers(lake.store, day1);
      await landUsage(
        lake.store,
        [
          usageEvent('e01', { account: 'A1', user: 'u11', type: 'login', at: T('10-12', '09:30:00') }),
          usageEvent('e02', { account: 'A1', user: 'u11', type: 'report_run', at: T('10-12', '17:00:00') }),
          usageEvent('e03', { account: 'A1', user: 'u11', type: 'export', at: T('10-12', '23:59:00') }),
          usageEvent('e04', { account: 'A1', user: 'u12', type: 'logout', at: T('11-01') }),
          usageEvent('e05', {
            account: 'A2',
            user: 'u21',
            type: 'dashboard_view',
            at: T('11-08', '00:00:00'),
          }),
          usageEvent('e06', { account: 'A2', type: 'scheduled_export', at: T('11-08', '03:00:00') }),
          usageEvent('e07', { account: 'A3', user: 'u31', type: 'report_run', at: T('11-15') }),
          usageEvent('e08', { account: 'A9', user: 'u91', type: 'report_run', at: T('11-20') }),
        ],
        day1,
      );
    });

    afterAll(async () => {
      await lake.engine.close();
    });

    it('a first version is a snapshot, rolled up whole', async () => {
      await expectServedRollup(await run(Number.POSITIVE_INFINITY), 'snapshot');
    });

    it('a run that only adds keys rolls up its delta, combined with the base rollup (twice: deltas are cumulative)', async () => {
      const base = (await servedUsage(lake.store)).runId;
      await landUsage(
        lake.store,
        [
          // Same (account, user, day) groups as base rows: the combine must add, min and max across files.
          usageEvent('e11', { account: 'A1', user: 'u11', type: 'login', at: T('10-12', '08:00:00') }),
          usageEvent('e12', { account: 'A2', user: 'u21', type: 'export', at: T('11-08', '22:00:00') }),
          usageEvent('e13', { account: 'A2', type: 'api_call', at: T('11-08', '04:00:00') }),
          usageEvent('e14', { account: 'A4', user: 'u41', type: 'report_run', at: T('11-21', '05:00:00') }),
        ],
        runAt(30),
      );
      const second = await expectServedRollup(await run(Number.POSITIVE_INFINITY), 'delta');
      expect([second.baseRun, second.overlapsBase]).toEqual([base, false]);
      await landUsage(
        lake.store,
        [
          usageEvent('e15', { account: 'A1', user: 'u12', type: 'report_run', at: T('11-01', '23:00:00') }),
          usageEvent('e16', { account: 'A3', user: 'u31', type: 'logout', at: T('11-15', '01:00:00') }),
        ],
        runAt(31),
      );
      const third = await expectServedRollup(await run(Number.POSITIVE_INFINITY), 'delta');
      // Over the base snapshot's rollup, not over the previous delta's (which already holds e11..e14).
      expect([third.baseRun, third.overlapsBase]).toEqual([base, false]);
    });

    it('a run that updates or deletes a base key rolls up the whole version, and so does the next add-only run', async () => {
      await landUsage(
        lake.store,
        [
          // e02 (A1 u11's only meaningful event early on 10-12) becomes a login on 10-13.
          usageUpdate('e02', { account: 'A1', user: 'u11', type: 'login', at: T('10-13') }, T('11-20')),
          usageDelete('e07', T('11-20')),
          // e12 was added by a delta: deleting it changes no base key, e07 does.
          usageDelete('e12', T('11-20')),
        ],
        runAt(40),
      );
      await expectServedRollup(await run(Number.POSITIVE_INFINITY), 'full');
      // The delta still overlaps its base: a new key alone cannot be combined with the base's file.
      await landUsage(
        lake.store,
        [usageEvent('e17', { account: 'A3', user: 'u32', type: 'export', at: T('11-16') })],
        runAt(41),
      );
      await expectServedRollup(await run(Number.POSITIVE_INFINITY), 'full');
    });

    it('a compacted version is a snapshot again, and the next add-only run combines with it', async () => {
      await landUsage(
        lake.store,
        [usageUpdate('e05', { account: 'A2', user: 'u22', type: 'report_run', at: T('11-09') }, T('11-21'))],
        runAt(50),
      );
      const compacted = (await expectServedRollup(await run(0), 'snapshot')).baseRun;
      await landUsage(
        lake.store,
        [usageEvent('e18', { account: 'A2', user: 'u22', type: 'report_run', at: T('11-09', '11:00:00') })],
        runAt(51),
      );
      const delta = await expectServedRollup(await run(Number.POSITIVE_INFINITY), 'delta');
      expect(delta.baseRun).toBe(compacted);
    });

    // A combined sum over BIGINT is DuckDB's HUGEINT, which Parquet would store as DOUBLE: the combine casts it back.
    it('a combined (delta) rollup has the inline rollup column types', async () => {
      expect((await servedUsage(lake.store)).version.delta).toBeDefined();
      const { stored, inline } = await storedAndInline(lake);
      expect(stored.columns).toEqual(inline.columns);
    });

    it('the marts served from the rollup files equal an inline build of the same Bronze', async () => {
      const reference = await openLake(join(root, 'modes-reference'));
      try {
        const report = await buildInlineReference(lake, reference, runAt(minute));
        expect(rollupModes(report)).toBeUndefined();
        expect(await silverRollupRelations(reference.store, dynamoUsageEvents, report.runId)).toEqual({});
        expect(await usageMarts(lake)).toEqual(await usageMarts(reference));
      } finally {
        await reference.engine.close();
      }
    });
  });

  describe('random usage histories (property)', () => {
    /** One change at the source, applied to the history's state when its run is landed. */
    interface Op {
      readonly kind: 'insert' | 'update' | 'delete' | 'expire' | 'duplicate' | 'late';
      /** Which known event an update, delete, expiry, duplicate or late event is about. */
      readonly ref: number;
      readonly account: string;
      readonly user: string | undefined;
      readonly type: string;
      /** Days before 2026-11-22 (0: after as_of). */
      readonly day: number;
      readonly hour: number;
      readonly minute: number;
    }

    const op: fc.Arbitrary<Op> = fc.record({
      kind: fc.constantFrom<Op['kind']>(
        'insert',
        'insert',
        'insert',
        'update',
        'delete',
        'expire',
        'duplicate',
        'late',
      ),
      ref: fc.nat(),
      account: fc.constantFrom('A1', 'A2', 'A3', 'A4', 'A9'),
      user: fc.option(fc.constantFrom('u1', 'u2', 'u3'), { nil: undefined }),
      // Non-meaningful types (login, logout, scheduled_export) as often as meaningful ones.
      type: fc.constantFrom('login', 'logout', 'scheduled_export', 'report_run', 'export', 'api_call'),
      day: fc.integer({ min: 0, max: 45 }),
      hour: fc.integer({ min: 0, max: 23 }),
      // Few distinct times: events of one (account, user) often share a day, sometimes an instant.
      minute: fc.constantFrom(0, 30, 59),
    });

    const history = fc.record({
      runs: fc.array(fc.array(op, { minLength: 1, maxLength: 8 }), { minLength: 2, maxLength: 4 }),
      // Never compact (deltas over one snapshot), always (every version a snapshot), or by size.
      compactAt: fc.constantFrom(Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY, 0.5, 0),
    });

    /** Each run's usage drafts: every change gets a newer source_ts than the last, except late ones. */
    function drafts(runs: readonly (readonly Op[])[]): Draft[][] {
      const landed: Draft[] = [];
      /** The newest source_ts per event id. */
      const newest = new Map<string, number>();
      const ids: string[] = [];
      let clock = Date.parse('2026-11-01T00:00:00.000Z');
      let seq = 0;
      const next = (d: Draft): Draft => {
        seq += 1;
        const out = { ...d, seq: String(seq).padStart(12, '0') };
        landed.push(out);
        return out;
      };
      return runs.map((ops) =>
        ops.map((o) => {
          clock += 1000;
          const at = new Date(Date.UTC(2026, 10, 22 - o.day, o.hour, o.minute)).toISOString();
          const fields = {
            account: o.account,
            ...(o.user === undefined ? {} : { user: o.user }),
            type: o.type,
            at,
          };
          const known = ids[o.ref % Math.max(ids.length, 1)];
          if (o.kind === 'insert' || known === undefined) {
            const id = `e${String(ids.length).padStart(3, '0')}`;
            ids.push(id);
            newest.set(id, clock);
            return next({ ...usageEvent(id, fields), source_ts: new Date(clock).toISOString() });
          }
          const ts = new Date(clock).toISOString();
          switch (o.kind) {
            case 'update':
              newest.set(known, clock);
              return next(usageUpdate(known, fields, ts));
            case 'delete':
              newest.set(known, clock);
              return next(usageDelete(known, ts));
            case 'expire':
              // A TTL expiry is no business change: it must not delete the event.
              return next(usageExpiry(known, ts));
            case 'duplicate': {
              // A redelivery of something landed before, exactly (same seq): old versions too.
              const again = landed[o.ref % landed.length];
              if (!again) throw new Error('nothing landed to redeliver');
              return again;
            }
            default: {
              // 'late' (an insert was handled above): older than the event's current version: it must lose, whether an update or a delete.
              const older = new Date((newest.get(known) ?? clock) - 500).toISOString();
              return o.hour % 2 === 0
                ? next(usageUpdate(known, fields, older))
                : next(usageDelete(known, older));
            }
          }
        }),
      );
    }

    it('every usage mart served after incremental runs equals one inline build of the same Bronze', async () => {
      let scenario = 0;
      const modes = new Set<unknown>();
      await fc.assert(
        fc.asyncProperty(history, async ({ runs, compactAt }) => {
          scenario += 1;
          const lake = await openLake(join(root, `history-${scenario}`));
          const reference = await openLake(join(root, `history-${scenario}-reference`));
          try {
            await landCustomers(lake.store, runAt(0));
            let minute = 0;
            for (const batch of drafts(runs)) {
              minute += 1;
              await landUsage(lake.store, batch, runAt(minute));
              const report = await runUsage(lake, runAt(minute), compactAt);
              for (const mode of Object.values(rollupModes(report) ?? {})) modes.add(mode);
            }
            const { stored, inline } = await storedAndInline(lake);
            expect(stored.rows).toEqual(inline.rows);
            await buildInlineReference(lake, reference, runAt(minute));
            expect(await usageMarts(lake)).toEqual(await usageMarts(reference));
          } finally {
            await lake.engine.close();
            await reference.engine.close();
            await rm(lake.dir, { recursive: true, force: true });
            await rm(reference.dir, { recursive: true, force: true });
          }
        }),
        { numRuns: 25 },
      );
      // The histories went through every way a rollup is written.
      expect([...modes].sort()).toEqual(['delta', 'full', 'snapshot']);
    }, 120_000);
  });

  describe('a rollups.json of another definition', () => {
    let lake: Lake;
    /** The id a changed definition would have: same name, another hash. */
    const staleId = `${usageActivity.name}-${'0'.repeat(12)}`;
    const rewrite = (runId: string, key: string): Promise<void> =>
      lake.store.put(rollupsFileKey(runId), JSON.stringify({ rollups: { [staleId]: key } }));

    beforeAll(async () => {
      lake = await openLake(join(root, 'stale'));
    });

    afterAll(async () => {
      await lake.engine.close();
    });

    it('is ignored: no relation, Gold builds from the inline rollup, and a delta over it rolls up in full', async () => {
      expect(staleId).not.toBe(ROLLUP_ID);
      const run = (minute: number): Promise<PipelineReport> =>
        runUsage(lake, runAt(minute), Number.POSITIVE_INFINITY);
      await landCustomers(lake.store, runAt(0));
      await landUsage(
        lake.store,
        [
          usageEvent('e01', { account: 'A1', user: 'u11', type: 'report_run', at: T('10-20') }),
          usageEvent('e02', { account: 'A2', user: 'u21', type: 'login', at: T('11-10') }),
        ],
        runAt(0),
      );
      const first = await run(1);
      const firstFile = (await readRollupsFile(lake.store, first.runId))[ROLLUP_ID];
      if (!firstFile) throw new Error('the first run wrote no usage rollup');
      const before = await usageMarts(lake);
      await landUsage(
        lake.store,
        [
          usageEvent('e03', { account: 'A2', user: 'u21', type: 'export', at: T('11-10', '12:00:00') }),
          usageEvent('e04', { account: 'A3', user: 'u31', type: 'report_run', at: T('11-12') }),
        ],
        runAt(2),
      );
      const second = await run(2);
      expect(rollupModes(second)).toEqual({ [ROLLUP_ID]: 'delta' });
      const served = await usageMarts(lake);
      expect(served).not.toEqual(before);

      // The stale id names the first version's file: read as current, Gold would go back a run.
      await rewrite(second.runId, firstFile);
      expect(await silverRollupRelations(lake.store, dynamoUsageEvents, second.runId)).toEqual({});
      const third = await run(3);
      const usageSteps = third.steps.filter((s) => s.step.startsWith('gold.'));
      expect(usageSteps).toHaveLength(USAGE_MODELS.length);
      for (const step of usageSteps) {
        // Built again (the inline relation is another input than the file), not served as before.
        expect(step.reused, step.step).toBeUndefined();
        expect(step.status, step.step).toBe('published');
      }
      expect(await usageMarts(lake)).toEqual(served);

      // A base snapshot whose file is stale cannot be combined with: the next add-only delta rolls up whole.
      await rewrite(first.runId, firstFile);
      await landUsage(
        lake.store,
        [usageEvent('e05', { account: 'A1', user: 'u12', type: 'report_run', at: T('10-20', '18:00:00') })],
        runAt(4),
      );
      const fourth = await run(4);
      expect(rollupModes(fourth)).toEqual({ [ROLLUP_ID]: 'full' });
      const { stored, inline } = await storedAndInline(lake);
      expect(stored.rows).toEqual(inline.rows);
      expect(stored.columns).toEqual(inline.columns);
    });
  });

  describe('a crash at the publication of the usage Silver version', () => {
    const RUN_ID = /\d{8}T\d{6}Z-[a-z0-9]{4,24}/g;
    const normalize = (step: string): string => step.replace(RUN_ID, '<run>');
    const LOCK_TTL_MS = 60_000;
    const CRASHED = runAt(10);
    const RERUN = new Date(CRASHED.getTime() + 5 * LOCK_TTL_MS);
    const LATEST = `replace ${USAGE_DS.prefix}_LATEST.json`;
    let lake: Lake;
    let steps: string[];
    let previous: { runId: string; marts: Awaited<ReturnType<typeof usageMarts>> };
    /** The marts a run that did not crash serves. */
    let expected: Awaited<ReturnType<typeof usageMarts>>;

    const pipeline = (target: { store: ObjectStore; engine: QueryEngine }, at: Date) =>
      runPipeline({
        ...target,
        now: () => at,
        lockTtlMs: LOCK_TTL_MS,
        models: USAGE_MODELS,
        home: embeddedHome({ ...target, compactAt: Number.POSITIVE_INFINITY }),
      });

    beforeAll(async () => {
      lake = await openLake(join(root, 'crash'));
      await landCustomers(lake.store, runAt(0));
      await landUsage(
        lake.store,
        [
          usageEvent('e01', { account: 'A1', user: 'u11', type: 'report_run', at: T('10-20') }),
          usageEvent('e02', { account: 'A2', user: 'u21', type: 'logout', at: T('11-10') }),
        ],
        runAt(0),
      );
      const first = await pipeline(lake, runAt(1));
      expect(first.status).toBe('succeeded');
      previous = { runId: (await servedUsage(lake.store)).runId, marts: await usageMarts(lake) };
      await landUsage(
        lake.store,
        [
          usageEvent('e03', { account: 'A2', user: 'u21', type: 'export', at: T('11-10', '09:00:00') }),
          usageEvent('e04', { account: 'A4', user: 'u41', type: 'report_run', at: T('11-11') }),
        ],
        runAt(5),
      );
      // The same run on a copy, every step recorded.
      const copy = await openLake(join(root, 'crash-reference'));
      try {
        await cp(lake.dir, copy.dir, { recursive: true });
        const faults = FaultInjector.recorder();
        const report = await pipeline(withFaults(copy.store, copy.engine, faults), CRASHED);
        expect(report.status).toBe('succeeded');
        expect(rollupModes(report)).toEqual({ [ROLLUP_ID]: 'delta' });
        steps = faults.performed.map(normalize);
        expected = await usageMarts(copy);
      } finally {
        await copy.engine.close();
      }
    });

    afterAll(async () => {
      await lake.engine.close();
    });

    it('writes the rollup files and rollups.json before the version is published', () => {
      const run = `${USAGE_DS.prefix}run_id=<run>/`;
      const order = [
        `prepareWrite ${run}`,
        `copy rollup.dynamodb.usage_events.${usageActivity.name}`,
        `put ${run}rollups.json`,
        `put ${run}_SUCCESS`,
        LATEST,
      ];
      const at = order.map((step) => steps.indexOf(step));
      expect(
        at.every((i) => i >= 0),
        JSON.stringify(order.filter((_, i) => (at[i] ?? -1) < 0)),
      ).toBe(true);
      expect([...at].sort((a, b) => a - b)).toEqual(at);
    });

    it('keeps the previous version serving, and a rerun ends with the rollup equal to the inline one', async () => {
      const faults = FaultInjector.crashingAt(steps.indexOf(LATEST) + 1);
      const error = await pipeline(withFaults(lake.store, lake.engine, faults), CRASHED).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isSimulatedCrash(error)).toBe(true);
      expect(normalize(faults.crashed?.description ?? '')).toBe(LATEST);
      const crashedRun = faults.performed.join(' ').match(RUN_ID)?.[0];
      if (!crashedRun) throw new Error('the crashed run wrote nothing');

      // Readers still get the previous version and marts; its rollup still serves it.
      expect((await servedUsage(lake.store)).runId).toBe(previous.runId);
      expect(await usageMarts(lake)).toEqual(previous.marts);
      const { stored, inline } = await storedAndInline(lake);
      expect(stored.rows).toEqual(inline.rows);
      // The unpublished version's rollup is complete, inside its own run folder.
      const key = (await readRollupsFile(lake.store, crashedRun))[ROLLUP_ID];
      if (key === undefined) throw new Error('the crashed run listed no usage rollup');
      expect(key.startsWith(runPrefix(USAGE_DS, crashedRun)), key).toBe(true);
      expect(await lake.store.head(key), key).toBeDefined();

      const rerun = await pipeline(lake, RERUN);
      expect(rerun.status).toBe('succeeded');
      expect(rollupModes(rerun)).toEqual({ [ROLLUP_ID]: 'delta' });
      const after = await storedAndInline(lake);
      expect(after.runId).toBe(rerun.runId);
      expect(after.stored.rows).toEqual(after.inline.rows);
      expect(after.inline.rows).not.toEqual(inline.rows);
      expect(await usageMarts(lake)).toEqual(expected);
    });
  });
});
