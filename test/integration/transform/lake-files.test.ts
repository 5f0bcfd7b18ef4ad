import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../../src/adapters/object-store/local.js';
import { DuckDbQueryEngine } from '../../../src/adapters/query-engine/duckdb.js';
import { GOLD_PARQUET, SILVER_PARQUET } from '../../../src/lake/parquet.js';
import { type SqlFragment, sql } from '../../../src/sql/fragment.js';
import { runPipeline } from '../../../src/transform/pipeline.js';
import { landCustomer, landEvents } from '../../support/builders/bronze.js';
import { productAccount, productUser, usageEvent } from '../../support/builders/usage.js';

async function parquetFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.parquet'))
    .map((e) => join(e.parentPath, e.name));
}

/**
 * Every Parquet file the embedded pipeline writes (Silver snapshot, delta and
 * compaction; Gold runs partitioned, unpartitioned and empty) is written with
 * the lake's options (`SILVER_PARQUET`, `GOLD_PARQUET`): zstd, format version 2.
 */
describe('Parquet files of the embedded lake', () => {
  let dir: string;
  let engine: DuckDbQueryEngine;
  let files: string[];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'goldgate-lake-files-'));
    const store = new LocalObjectStore(dir);
    engine = await DuckDbQueryEngine.create({ store });
    const day = new Date('2026-11-20T12:00:00Z');
    await landCustomer(store, day);
    await landEvents(
      store,
      'dynamodb',
      'accounts',
      [productAccount('A1', { contact: 'C1', signupAt: '2026-09-01T10:00:00.000Z' })],
      day,
    );
    await landEvents(
      store,
      'dynamodb',
      'users',
      [productUser('u1', { account: 'A1', createdAt: '2026-09-01T10:00:00.000Z' })],
      day,
    );
    const events = (from: number, n: number) =>
      Array.from({ length: n }, (_, i) =>
        usageEvent(`e${from + i}`, {
          account: 'A1',
          user: 'u1',
          type: 'report_run',
          at: '2026-11-10T10:00:00.000Z',
        }),
      );
    // 40 events, then 1 (a delta: under a tenth of the base), then 10 (the delta outgrows it: compaction).
    await landEvents(store, 'dynamodb', 'usage_events', events(0, 40), day);
    await runPipeline({ store, engine, now: () => new Date('2026-11-21T06:00:00Z') });
    await landEvents(store, 'dynamodb', 'usage_events', events(40, 1), new Date('2026-11-21T06:30:00Z'));
    await runPipeline({ store, engine, now: () => new Date('2026-11-21T07:00:00Z') });
    await landEvents(store, 'dynamodb', 'usage_events', events(41, 10), new Date('2026-11-21T07:30:00Z'));
    await runPipeline({ store, engine, now: () => new Date('2026-11-21T08:00:00Z') });
    files = await parquetFiles(dir);
  });

  afterAll(async () => {
    await engine.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('covers every kind of file the pipeline writes', () => {
    const rel = files.map((f) => relative(dir, f));
    const usage = rel.filter((f) => f.startsWith('silver/dynamodb/usage_events/'));
    expect(usage.filter((f) => f.endsWith('/data.parquet'))).toHaveLength(2);
    expect(usage.filter((f) => f.endsWith('/delta.parquet'))).toHaveLength(1);
    expect(rel.some((f) => f.startsWith('gold/invoices/') && f.includes('invoice_month='))).toBe(true);
    expect(rel.some((f) => f.startsWith('gold/customer_360/') && f.endsWith('/part-00000.parquet'))).toBe(
      true,
    );
    // No payments: the partitioned mart's typed empty file.
    expect(rel.some((f) => f.startsWith('gold/payments/') && f.endsWith('/part-00000.parquet'))).toBe(true);
  });

  it('writes each with zstd and the version-2 encodings', async () => {
    const { rows } = await engine.query({
      sql: sql`SELECT f.file_name, f.format_version, f.num_row_groups,
          (SELECT list(DISTINCT m.compression) FROM parquet_metadata(${files}) AS m WHERE m.file_name = f.file_name) AS codecs
        FROM parquet_file_metadata(${files}) AS f`,
    });
    expect(rows).toHaveLength(files.length);
    let withRows = 0;
    for (const r of rows) {
      expect([r.file_name, Number(r.format_version)]).toEqual([r.file_name, 2]);
      // A file of no rows has no column chunks, so no codec to read.
      if (Number(r.num_row_groups) === 0) continue;
      withRows += 1;
      expect([r.file_name, r.codecs]).toEqual([r.file_name, ['ZSTD']]);
    }
    expect(withRows).toBeGreaterThan(files.length / 2);
  });

  it('keeps dictionaries and Bloom filters in Gold for point lookups, and drops many-valued ones in Silver', async () => {
    // 20000 rows: a column of 2000 values (a customer id in a mart), one of 3 (a status).
    const rows = sql`SELECT 'C' || lpad(CAST(i % 2000 AS VARCHAR), 5, '0') AS customer_id,
        ['sent', 'paid', 'void'][1 + i % 3] AS status, i AS n
      FROM range(20000) AS t(i)`;
    const encoded = async (options: SqlFragment, name: string) => {
      const file = join(dir, `${name}.parquet`);
      await engine.execute({ sql: sql`COPY (${rows}) TO ${file} (${options})` });
      const { rows: meta } = await engine.query({
        sql: sql`SELECT path_in_schema AS col, bool_and(dictionary_page_offset IS NOT NULL) AS dict,
            bool_and(coalesce(bloom_filter_length, 0) > 0) AS bloom
          FROM parquet_metadata(${file}) GROUP BY ALL ORDER BY col`,
      });
      return Object.fromEntries(meta.map((r) => [String(r.col), [r.dict, r.bloom]]));
    };
    expect(await encoded(GOLD_PARQUET, 'gold')).toMatchObject({
      customer_id: [true, true],
      status: [true, true],
    });
    expect(await encoded(SILVER_PARQUET, 'silver')).toMatchObject({
      customer_id: [false, false],
      status: [true, true],
    });
  });
});
