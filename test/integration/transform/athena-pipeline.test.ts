import { cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// dt-sql-parser's ESM build cannot be imported by plain node (extensionless imports); vitest bundles it.
import { HiveSQL, TrinoSQL } from 'dt-sql-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../../src/adapters/object-store/local.js';
import { AthenaQueryEngine, createAthenaClient } from '../../../src/adapters/query-engine/athena.js';
import { DuckDbQueryEngine } from '../../../src/adapters/query-engine/duckdb.js';
import { QueryFailedError } from '../../../src/adapters/query-engine/errors.js';
import type { QueryEngine, Row } from '../../../src/adapters/query-engine/port.js';
import { loadConfig } from '../../../src/config/index.js';
import { goldDataset, silverDataset } from '../../../src/lake/layout.js';
import { readRunManifest, resolveLatest } from '../../../src/lake/publish.js';
import { ident, raw, sql } from '../../../src/sql/fragment.js';
import { type AthenaConfig, defineAthenaConfig, qualified } from '../../../src/transform/athena/config.js';
import { AthenaTransformConfigError } from '../../../src/transform/athena/errors.js';
import {
  athenaConfigOf,
  athenaHome,
  runSilverMaintenance,
  transformHomeFor,
} from '../../../src/transform/athena/run.js';
import { ENTITIES } from '../../../src/transform/entities.js';
import { TransformError } from '../../../src/transform/errors.js';
import { GOLD_MODELS } from '../../../src/transform/gold/index.js';
import { type PipelineReport, runPipeline } from '../../../src/transform/pipeline.js';
import { actOnCondemned, summariseQuarantine } from '../../../src/transform/quarantine.js';
import { readSilverVersion, silverRelation } from '../../../src/transform/silver.js';
import { readSilverState } from '../../../src/transform/state.js';
import { firstBatch, landBatch, secondBatch } from '../../support/athena-local/company.js';
import { LocalAthena } from '../../support/athena-local/server.js';

/**
 * The pipeline on its AWS home, end to end over HTTP: `runPipeline` with the
 * Athena home sends the generated Athena SQL through `AthenaQueryEngine` to
 * the local Athena endpoint in `trino` mode, which translates it to DuckDB
 * (refusing anything it does not understand) and keeps the lake's files in a
 * folder; `_SUCCESS`, `_LATEST.json`, checkpoints and locks go through the
 * folder store. The embedded pipeline runs over a copy of the same Bronze in
 * another folder, and every Gold mart must hold the same rows in both.
 */

const DATABASES = {
  bronzeDb: 'goldgate_bronze',
  silverDb: 'goldgate_silver',
  goldDb: 'goldgate_gold',
  quarantineDb: 'goldgate_quarantine',
} as const;
const LAKE_ROOT = 's3://goldgate-local-lake/';
const CREDENTIALS = { accessKeyId: 'AKIDLOCALATHENA', secretAccessKey: 'local-athena-not-a-secret' };

const config: AthenaConfig = defineAthenaConfig({
  ...DATABASES,
  locations: { bronze: LAKE_ROOT, silver: LAKE_ROOT, gold: LAKE_ROOT, quarantine: LAKE_ROOT },
});

/** The two homes' clocks agree, so their as-of dates and Silver runs line up. */
const clockAt = (iso: string) => () => new Date(iso);
const FIRST_LANDING = new Date('2026-11-20T12:00:00.000Z');
const SECOND_LANDING = new Date('2026-11-21T05:30:00.000Z');

interface AwsLake {
  readonly dir: string;
  readonly store: LocalObjectStore;
  readonly endpoint: LocalAthena;
  readonly engine: AthenaQueryEngine;
  run(now: () => Date): Promise<PipelineReport>;
  close(): Promise<void>;
}

async function awsLake(dir: string): Promise<AwsLake> {
  const store = new LocalObjectStore(dir);
  const endpoint = await LocalAthena.start({
    lakeDir: dir,
    goldDatabase: DATABASES.goldDb,
    dialect: 'trino',
    s3Roots: { [LAKE_ROOT]: dir },
    databases: [DATABASES.bronzeDb, DATABASES.silverDb, DATABASES.quarantineDb],
    workGroups: { goldgate: { outputLocation: 's3://goldgate-local-results/athena/' } },
  });
  const engine = new AthenaQueryEngine({
    client: createAthenaClient({
      endpoint: endpoint.endpoint,
      region: 'eu-west-1',
      credentials: CREDENTIALS,
    }),
    ownsClient: true,
    workGroup: 'goldgate',
    database: DATABASES.goldDb,
    poll: { initialMs: 2, maxMs: 10 },
    retry: { attempts: 3, baseMs: 2, maxMs: 10 },
    // Transforms must never read a reused result; the API's Gold reads may.
    resultReuseMaxAgeMinutes: 0,
  });
  return {
    dir,
    store,
    endpoint,
    engine,
    run: (now) => runPipeline({ store, engine, now, home: athenaHome({ store, engine, config }) }),
    close: async () => {
      await engine.close();
      await endpoint.close();
    },
  };
}

/** A mart's served rows in key order, through whichever engine serves that lake. */
async function martRows(
  store: LocalObjectStore,
  engine: QueryEngine,
  mart: string,
  version: number,
): Promise<Row[]> {
  const pointer = await resolveLatest(store, goldDataset(mart, version));
  if (!pointer) throw new Error(`${mart} is not published`);
  const model = GOLD_MODELS.find((m) => m.mart.name === mart);
  const keys = raw((model?.mart.key ?? []).map(ident).join(', '));
  const relation = engine.martRelation({
    mart,
    schemaVersion: version,
    runId: pointer.run_id,
    prefix: pointer.path,
  });
  return (
    await engine.query({
      sql: sql`SELECT * FROM ${relation} AS m ORDER BY ${keys}`,
      label: `compare.${mart}`,
    })
  ).rows;
}

async function allMarts(store: LocalObjectStore, engine: QueryEngine): Promise<Record<string, Row[]>> {
  const out: Record<string, Row[]> = {};
  for (const { mart } of GOLD_MODELS)
    out[mart.name] = await martRows(store, engine, mart.name, mart.schemaVersion);
  return out;
}

/** Copy the Bronze layer of one lake into another: both homes start from the same objects. */
async function copyBronze(from: string, to: string): Promise<void> {
  await cp(join(from, 'bronze'), join(to, 'bronze'), { recursive: true });
}

/** Step outcomes to compare across homes: rollup steps are the embedded home's alone (Athena computes rollups inline). */
function statuses(report: PipelineReport): Record<string, string> {
  return Object.fromEntries(
    report.steps.filter((s) => !s.step.startsWith('rollup.')).map((s) => [s.step, s.status]),
  );
}

describe('the pipeline on Athena (local endpoint over HTTP) against the embedded pipeline', () => {
  let base: string;
  let embeddedDir: string;
  let embedded: LocalObjectStore;
  let duck: DuckDbQueryEngine;
  let aws: AwsLake;
  const reports: Array<{ embedded: PipelineReport; aws: PipelineReport }> = [];
  let afterSecond: Record<string, Row[]>;

  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'goldgate-athena-pipeline-'));
    embeddedDir = join(base, 'embedded');
    embedded = new LocalObjectStore(embeddedDir);
    duck = await DuckDbQueryEngine.create({ store: embedded });
    aws = await awsLake(join(base, 'aws'));
    await landBatch(embedded, firstBatch(), FIRST_LANDING);
    await copyBronze(embeddedDir, aws.dir);
    const now = clockAt('2026-11-21T03:00:00.000Z');
    reports.push({
      embedded: await runPipeline({ store: embedded, engine: duck, now }),
      aws: await aws.run(now),
    });
  }, 240_000);

  afterAll(async () => {
    await aws?.close();
    await duck?.close();
    if (base) await rm(base, { recursive: true, force: true });
  });

  it('runs every step of the first run with the same outcome as the embedded pipeline', () => {
    const [first] = reports;
    expect(first?.aws.status).toBe('succeeded');
    expect(statuses(first?.aws as PipelineReport)).toEqual(statuses(first?.embedded as PipelineReport));
    // Every statement the runner sent was understood and ran: none failed on the way.
    const failed = aws.endpoint.allExecutions().filter((e) => e.state !== 'SUCCEEDED');
    expect(failed.map((e) => `${e.reason}\n${e.request.QueryString.slice(0, 300)}`)).toEqual([]);
  });

  it('holds the same rows in every Gold mart after the first run', async () => {
    const expected = await allMarts(embedded, duck);
    const actual = await allMarts(aws.store, aws.engine);
    for (const { mart } of GOLD_MODELS) {
      expect(actual[mart.name]?.length, mart.name).toBeGreaterThan(0);
      expect(actual[mart.name], mart.name).toEqual(expected[mart.name]);
    }
  });

  it('keeps Silver as Iceberg tables whose published snapshot holds the embedded snapshot rows', async () => {
    for (const contract of ENTITIES) {
      const dataset = silverDataset(contract.source, contract.entity);
      const [pa, pb] = [await resolveLatest(embedded, dataset), await resolveLatest(aws.store, dataset)];
      expect(pb?.row_count, dataset.label).toBe(pa?.row_count);
      const manifest = await readRunManifest(aws.store, dataset, pb?.run_id ?? '');
      expect(manifest?.details.iceberg_snapshot_id, dataset.label).toMatch(/^\d+$/);
      const columns = raw(['_key', ...contract.fields.map((f) => f.name)].map(ident).join(', '));
      const table = qualified(DATABASES.silverDb, `${contract.source}__${contract.entity}`);
      const athenaRows = await aws.engine.query({
        sql: sql`SELECT ${columns} FROM ${table} WHERE NOT "_deleted" ORDER BY "_key"`,
      });
      const embeddedRows = await duck.query({
        sql: sql`SELECT ${columns} FROM ${silverRelation(await readSilverVersion(embedded, contract, pa?.run_id ?? ''))} AS v ORDER BY _key`,
      });
      // JSON columns: the same document, written by two engines.
      const normal = (rows: Row[]) =>
        rows.map((r) =>
          Object.fromEntries(
            Object.entries(r).map(([k, v]) => [
              k,
              contract.fields.find((f) => f.name === k)?.sqlType === 'JSON' && typeof v === 'string'
                ? JSON.parse(v)
                : v,
            ]),
          ),
        );
      expect(normal(athenaRows.rows), dataset.label).toEqual(normal(embeddedRows.rows));
    }
  });

  it('records the same checkpoint and quarantine counts as the embedded pipeline', async () => {
    const [a, b] = [await readSilverState(embedded), await readSilverState(aws.store)];
    expect(b.merged).toEqual(a.merged);
    const counts = (r: PipelineReport) =>
      Object.fromEntries(
        r.steps
          .filter((s) => s.step.startsWith('silver.'))
          .map((s) => [s.step, [s.rowsIn, s.rowsOut, s.quarantined]]),
      );
    expect(counts(reports[0]?.aws as PipelineReport)).toEqual(counts(reports[0]?.embedded as PipelineReport));
    // The quarantined rows are in gzip JSON lines the quarantine commands read, as the embedded engine writes them.
    const open = Object.values(b.quarantine.open).flat();
    expect(open.length).toBeGreaterThan(0);
    for (const key of open)
      expect(key).toMatch(
        /^quarantine\/[a-z_]+\/[a-z_]+\/ingest_date=2026-11-21\/run_id=[^/]+\/[^_.][^/]*\.gz$/,
      );
  });

  it('publishes each Gold run in its run-scoped location, with _SUCCESS, _LATEST.json and the view moved to it', async () => {
    for (const { mart } of GOLD_MODELS) {
      const pointer = await resolveLatest(aws.store, goldDataset(mart.name, mart.schemaVersion));
      expect(pointer?.path).toBe(
        `gold/${mart.name}/schema_v=${mart.schemaVersion}/run_id=${pointer?.run_id}/`,
      );
      const files = await readdir(join(aws.dir, pointer?.path ?? ''), { recursive: true });
      expect(files, mart.name).toContain('_SUCCESS');
      expect(
        files.filter((f) => !f.startsWith('_') && !f.endsWith('/') && !/=[^/]*$/.test(f)).length,
        mart.name,
      ).toBeGreaterThan(0);
      if (mart.partitionBy.length > 0)
        expect(
          files.some((f) => f.startsWith(`${mart.partitionBy[0]}=`)),
          mart.name,
        ).toBe(true);
      const view = await aws.engine.query({
        sql: sql`SELECT count(*) AS n FROM ${qualified(DATABASES.goldDb, mart.name)}`,
      });
      expect(Number(view.rows[0]?.n), mart.name).toBe(pointer?.row_count);
    }
  });

  it('writes a mart with more than 100 partitions in several statements, each under Athena’s limit', async () => {
    const pointer = await resolveLatest(aws.store, goldDataset('kpi_daily_usage', 1));
    const partitions = (await readdir(join(aws.dir, pointer?.path ?? ''))).filter((f) =>
      f.startsWith('date='),
    );
    expect(partitions.length).toBeGreaterThan(100);
    const inserts = aws.endpoint
      .allExecutions()
      .filter((e) =>
        e.request.QueryString.startsWith(`INSERT INTO "${DATABASES.goldDb}"."kpi_daily_usage__v1__`),
      );
    expect(inserts.length).toBe(Math.ceil(partitions.length / 100) - 1);
  });

  it('merges the next day incrementally: the same marts again after the second run', async () => {
    await landBatch(embedded, secondBatch(), SECOND_LANDING);
    await copyBronze(embeddedDir, aws.dir);
    const now = clockAt('2026-11-21T06:00:00.000Z');
    reports.push({
      embedded: await runPipeline({ store: embedded, engine: duck, now }),
      aws: await aws.run(now),
    });
    const second = reports[1];
    if (!second) throw new Error('the second run did not report');
    expect(statuses(second.aws)).toEqual(statuses(second.embedded));
    afterSecond = await allMarts(embedded, duck);
    expect(await allMarts(aws.store, aws.engine)).toEqual(afterSecond);
    // Only the new Bronze runs were read: one per entity.
    const merged = second.aws.steps.filter((s) => s.step.startsWith('silver.') && s.status === 'published');
    expect(merged).toHaveLength(ENTITIES.length);
    for (const step of merged) expect(step.inputs?.bronze_runs, step.step).toHaveLength(1);
  }, 180_000);

  it('is idempotent: a rerun with no new Bronze serves the same rows, and Silver does not change', async () => {
    const silverBefore = await Promise.all(
      ENTITIES.map((c) =>
        aws.engine.query({
          sql: sql`SELECT count(*) AS n, max("_source_ts") AS newest FROM ${qualified(DATABASES.silverDb, `${c.source}__${c.entity}`)}`,
        }),
      ),
    );
    const now = clockAt('2026-11-21T07:00:00.000Z');
    const rerun = await aws.run(now);
    const embeddedRerun = await runPipeline({ store: embedded, engine: duck, now });
    expect(statuses(rerun)).toEqual(statuses(embeddedRerun));
    expect(await allMarts(aws.store, aws.engine)).toEqual(afterSecond);
    const silverAfter = await Promise.all(
      ENTITIES.map((c) =>
        aws.engine.query({
          sql: sql`SELECT count(*) AS n, max("_source_ts") AS newest FROM ${qualified(DATABASES.silverDb, `${c.source}__${c.entity}`)}`,
        }),
      ),
    );
    expect(silverAfter.map((r) => r.rows)).toEqual(silverBefore.map((r) => r.rows));
  }, 180_000);

  it('keeps quarantine readable by the quarantine commands, and retries condemned rows on command', async () => {
    // Three runs in: the rows that broke the contract failed their third attempt in both homes.
    const [a, b] = [await summariseQuarantine(embedded), await summariseQuarantine(aws.store)];
    expect(b).toEqual(a);
    expect(b.some((s) => s.condemned > 0)).toBe(true);
    const moved = await actOnCondemned(aws.store, 'retry', { lockTtlMs: 60_000 });
    await actOnCondemned(embedded, 'retry', { lockTtlMs: 60_000 });
    expect(moved.length).toBeGreaterThan(0);
    expect(moved.every((key) => key.startsWith('quarantine/condemned/'))).toBe(true);
    const now = clockAt('2026-11-21T08:00:00.000Z');
    const [ra, rb] = [await runPipeline({ store: embedded, engine: duck, now }), await aws.run(now)];
    const silver = (r: PipelineReport) =>
      r.steps
        .filter((s) => s.step.startsWith('silver.'))
        .map((s) => [s.step, s.status, s.rowsIn, s.quarantined]);
    expect(silver(rb)).toEqual(silver(ra));
    // The condemned partitions were read again: their rows came back in (and failed once more).
    expect(
      rb.steps.filter((s) => s.step.startsWith('silver.')).reduce((n, s) => n + s.rowsIn, 0),
    ).toBeGreaterThan(0);
    expect(await summariseQuarantine(aws.store)).toEqual(await summariseQuarantine(embedded));
    expect(await allMarts(aws.store, aws.engine)).toEqual(afterSecond);
  }, 180_000);

  it('compacts and vacuums every Silver Iceberg table without changing what it holds', async () => {
    const before = await allMarts(aws.store, aws.engine);
    const report = await runSilverMaintenance({
      store: aws.store,
      engine: aws.engine,
      config,
      lockTtlMs: 60_000,
    });
    const expected = ENTITIES.flatMap((c) =>
      [`${c.source}__${c.entity}`, `${c.source}__${c.entity}__staging`].flatMap((t) => [
        ['OPTIMIZE', `${DATABASES.silverDb}.${t}`],
        ['VACUUM', `${DATABASES.silverDb}.${t}`],
      ]),
    );
    expect(aws.endpoint.lake?.maintenance.map((m) => [m.op, m.table])).toEqual(expected);
    expect(report.statements).toHaveLength(expected.length);
    expect(await allMarts(aws.store, aws.engine)).toEqual(before);
  });

  it('ran only statements that parse under the grammar of the Athena engine that runs them', () => {
    const trino = new TrinoSQL();
    const hive = new HiveSQL();
    const kinds = new Map<string, number>();
    const errors: string[] = [];
    for (const { request } of aws.endpoint.allExecutions()) {
      const text = request.QueryString;
      const kind =
        /^\s*(CREATE EXTERNAL TABLE|CREATE TABLE|CREATE OR REPLACE VIEW|INSERT INTO|MERGE INTO|DELETE FROM|OPTIMIZE|VACUUM|SELECT|WITH)/i
          .exec(text)?.[1]
          ?.toUpperCase() ?? text.slice(0, 20);
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
      // Athena's own OPTIMIZE/VACUUM: a fixed shape around a table name that must parse as one.
      const maintenance = /^(?:OPTIMIZE (\S+) REWRITE DATA USING BIN_PACK|VACUUM (\S+))$/.exec(text);
      const found =
        kind === 'CREATE EXTERNAL TABLE'
          ? hive.validate(text)
          : maintenance
            ? trino.validate(`SELECT * FROM ${maintenance[1] ?? maintenance[2]}`)
            : trino.validate(text);
      if (found.length > 0) errors.push(`${found.map((e) => e.message).join(' | ')}\n${text.slice(0, 200)}`);
    }
    expect(errors).toEqual([]);
    for (const kind of [
      'CREATE EXTERNAL TABLE',
      'CREATE TABLE',
      'CREATE OR REPLACE VIEW',
      'INSERT INTO',
      'MERGE INTO',
      'DELETE FROM',
      'OPTIMIZE',
      'VACUUM',
      'SELECT',
    ])
      expect(kinds.get(kind), kind).toBeGreaterThan(0);
  });

  it('refuses SQL it does not translate, so what ran is what the transforms generated', async () => {
    for (const text of [
      'SELECT list_contains(ARRAY[1], 1) AS x',
      'SELECT 1 AS x QUALIFY x = 1',
      `SELECT * FROM read_parquet('/etc/passwd')`,
    ]) {
      const error = await aws.engine.query({ sql: raw(text) }).catch((e: unknown) => e);
      expect(error, text).toBeInstanceOf(QueryFailedError);
      const reason = aws.endpoint.allExecutions().at(-1)?.reason ?? '';
      expect(reason, text).toMatch(/^NOT_SUPPORTED: /);
    }
  });
});

describe('a failure in the middle of an Athena run', () => {
  let base: string;
  let baseline: Record<string, Row[]>;
  let aws: AwsLake;

  beforeAll(async () => {
    base = await mkdtemp(join(tmpdir(), 'goldgate-athena-failure-'));
    const store = new LocalObjectStore(join(base, 'embedded'));
    const duck = await DuckDbQueryEngine.create({ store });
    await landBatch(store, firstBatch(), FIRST_LANDING);
    await runPipeline({ store, engine: duck, now: clockAt('2026-11-21T03:00:00.000Z') });
    baseline = await allMarts(store, duck);
    await duck.close();
    aws = await awsLake(join(base, 'aws'));
    await copyBronze(join(base, 'embedded'), aws.dir);
  }, 240_000);

  afterAll(async () => {
    await aws?.close();
    if (base) await rm(base, { recursive: true, force: true });
  });

  it('stops at a failed MERGE: that entity and every mart publish nothing, and nothing is lost', async () => {
    aws.endpoint.failStatements({ match: /^MERGE INTO "goldgate_silver"\."zoho_books__invoices"/, times: 1 });
    const error = await aws.run(clockAt('2026-11-21T03:00:00.000Z')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransformError);
    expect((error as TransformError).step).toBe('silver.zoho_books.invoices');
    // The entity before it finished and is recorded; the failed one is neither served nor checkpointed.
    expect(await resolveLatest(aws.store, silverDataset('zoho_books', 'contacts'))).toBeDefined();
    expect(await resolveLatest(aws.store, silverDataset('zoho_books', 'invoices'))).toBeUndefined();
    const state = await readSilverState(aws.store);
    expect(state.merged['zoho_books/contacts']?.length).toBe(1);
    expect(state.merged['zoho_books/invoices']).toBeUndefined();
    for (const { mart } of GOLD_MODELS) {
      expect(
        await resolveLatest(aws.store, goldDataset(mart.name, mart.schemaVersion)),
        mart.name,
      ).toBeUndefined();
      expect(aws.endpoint.lake?.has({ db: DATABASES.goldDb, table: mart.name }), mart.name).toBe(false);
    }
  }, 120_000);

  it('stops at a failed Gold build: that mart keeps serving nothing, the marts before it are published', async () => {
    aws.endpoint.failStatements({ match: /^CREATE TABLE "goldgate_gold"\."ar_aging__v1__/, times: 1 });
    const error = await aws.run(clockAt('2026-11-21T03:10:00.000Z')).catch((e: unknown) => e);
    expect((error as TransformError).step).toBe('gold.ar_aging');
    const order = GOLD_MODELS.map((m) => m.mart.name);
    for (const name of order.slice(0, order.indexOf('ar_aging'))) {
      expect(await resolveLatest(aws.store, goldDataset(name, 1)), name).toBeDefined();
    }
    expect(await resolveLatest(aws.store, goldDataset('ar_aging', 1))).toBeUndefined();
    expect(aws.endpoint.lake?.has({ db: DATABASES.goldDb, table: 'ar_aging' })).toBe(false);
  }, 120_000);

  it('finishes the work on the next run: every mart as the embedded pipeline has it', async () => {
    const report = await aws.run(clockAt('2026-11-21T03:20:00.000Z'));
    expect(report.status).toBe('succeeded');
    expect(await allMarts(aws.store, aws.engine)).toEqual(baseline);
  }, 120_000);
});

describe('the aws home settings', () => {
  const env = {
    GOLDGATE_HOME: 'aws',
    GOLDGATE_S3_BUCKET: 'acme-goldgate-prod-control',
    GOLDGATE_S3_BUCKETS: 'bronze=acme-bronze,silver=acme-silver,gold=acme-gold',
    GOLDGATE_S3_PREFIX: 'lake',
    GOLDGATE_ATHENA_DATABASE: 'goldgate_prod_gold',
    GOLDGATE_GLUE_DATABASES:
      'bronze=goldgate_prod_bronze,silver=goldgate_prod_silver,gold=goldgate_prod_gold,quarantine=goldgate_prod_quarantine',
  };

  it('puts the tables over the keys the S3 store writes: each layer in its bucket, under the prefix', () => {
    const athena = athenaConfigOf(loadConfig(env));
    expect(athena.locations).toEqual({
      bronze: 's3://acme-bronze/lake/',
      silver: 's3://acme-silver/lake/',
      gold: 's3://acme-gold/lake/',
      // No bucket of its own: the default bucket holds it, as the store routes its keys.
      quarantine: 's3://acme-goldgate-prod-control/lake/',
    });
    expect([athena.bronzeDb, athena.silverDb, athena.goldDb, athena.quarantineDb]).toEqual([
      'goldgate_prod_bronze',
      'goldgate_prod_silver',
      'goldgate_prod_gold',
      'goldgate_prod_quarantine',
    ]);
  });

  it('refuses to run without a database per layer, or with the engine outside Gold', () => {
    const noQuarantine = { ...env, GOLDGATE_GLUE_DATABASES: 'bronze=b,silver=s,gold=goldgate_prod_gold' };
    expect(() => athenaConfigOf(loadConfig(noQuarantine))).toThrow(AthenaTransformConfigError);
    const store = new LocalObjectStore(tmpdir());
    const engine = {} as QueryEngine;
    const silverContext = loadConfig({ ...env, GOLDGATE_ATHENA_DATABASE: 'goldgate_prod_silver' });
    expect(() => transformHomeFor(silverContext, store, engine)).toThrow(AthenaTransformConfigError);
    expect(transformHomeFor(loadConfig(env), store, engine)).toBeDefined();
    expect(transformHomeFor(loadConfig({}), store, engine)).toBeUndefined();
  });
});
