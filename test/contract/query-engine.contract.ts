import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MartVersionRef, QueryEngine } from '../../src/adapters/query-engine/port.js';
import { sql } from '../../src/sql/fragment.js';

/** How a suite gets the engine under test and puts a small mart version where it can read it. */
export interface QueryEngineHarness {
  readonly name: string;
  create(): Promise<QueryEngine>;
  /**
   * Store rows as one published mart version (columns: id BIGINT, region
   * VARCHAR, amount DECIMAL(18,2)) and return its reference.
   */
  seedMart(rows: ReadonlyArray<{ id: number; region: string; amount: string }>): Promise<MartVersionRef>;
  dispose?(): Promise<void>;
}

/** Ten rows 0..9 in portable SQL (DuckDB and Trino/Athena both accept it). */
const DIGITS = 'd(x) AS (VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9))';

/**
 * The query engine contract: every adapter (DuckDB in process, Athena over
 * HTTP) must pass it unchanged. Only portable SQL is used.
 */
export function queryEngineContract(harness: QueryEngineHarness): void {
  describe(`query engine contract: ${harness.name}`, () => {
    let engine: QueryEngine;
    beforeAll(async () => {
      engine = await harness.create();
    });
    afterAll(async () => {
      await engine.close();
      await harness.dispose?.();
    });

    it('binds every parameter kind as a value, never as SQL', async () => {
      const hostile = "x' OR '1'='1'; DROP TABLE t; --";
      const { rows } = await engine.query({
        sql: sql`SELECT ${hostile} AS s, CAST(${42} AS BIGINT) AS b, CAST(${'12.30'} AS DECIMAL(18,2)) AS d,
                 CAST(${null} AS VARCHAR) AS n, ${true} AS t, CAST(${'2026-01-02'} AS DATE) AS dt`,
      });
      expect(rows).toEqual([{ s: hostile, b: '42', d: '12.30', n: null, t: true, dt: '2026-01-02' }]);
    });

    it('reports column names and normalised SQL types', async () => {
      const { columns } = await engine.query({
        sql: sql`SELECT CAST(1 AS BIGINT) AS b, CAST(1 AS INTEGER) AS i, CAST('1.5' AS DECIMAL(18,2)) AS d,
                 CAST('a' AS VARCHAR) AS v, CAST('2026-01-01' AS DATE) AS dt, CAST(1.5 AS DOUBLE) AS f,
                 CAST(true AS BOOLEAN) AS bo, CAST('2026-01-01 10:00:00' AS TIMESTAMP) AS ts`,
      });
      expect(columns.map((c) => [c.name, c.sqlType])).toEqual([
        ['b', 'BIGINT'],
        ['i', 'INTEGER'],
        ['d', 'DECIMAL(18,2)'],
        ['v', 'VARCHAR'],
        ['dt', 'DATE'],
        ['f', 'DOUBLE'],
        ['bo', 'BOOLEAN'],
        ['ts', 'TIMESTAMP'],
      ]);
    });

    it('keeps exact decimals and 64-bit integers exact', async () => {
      const { rows } = await engine.query({
        sql: sql`SELECT CAST(${'9007199254740993'} AS BIGINT) AS big,
                 CAST(${'0.10'} AS DECIMAL(18,2)) + CAST(${'0.20'} AS DECIMAL(18,2)) AS sum`,
      });
      expect(rows[0]).toEqual({ big: '9007199254740993', sum: '0.30' });
    });

    it('formats timestamps as UTC text', async () => {
      const { rows } = await engine.query({
        sql: sql`SELECT CAST('2026-03-04 05:06:07' AS TIMESTAMP) AS ts`,
      });
      expect(String(rows[0]?.ts)).toMatch(/^2026-03-04[ T]05:06:07(\.0+)?$/);
    });

    it('streams a large result in batches and in order', async () => {
      const cursor = await engine.stream({
        sql: sql`WITH ${{ text: DIGITS, params: [] }}
                 SELECT a.x * 1000 + b.x * 100 + c.x * 10 + e.x AS n FROM d a, d b, d c, d e ORDER BY n`,
      });
      expect(cursor.columns.map((c) => c.name)).toEqual(['n']);
      let count = 0;
      let batches = 0;
      let last = -1;
      for await (const batch of cursor) {
        batches += 1;
        for (const row of batch) {
          const n = Number(row.n);
          expect(n).toBe(last + 1);
          last = n;
          count += 1;
        }
      }
      expect(count).toBe(10_000);
      expect(batches).toBeGreaterThan(1);
    });

    it('can stop reading early and keep serving', async () => {
      const cursor = await engine.stream({
        sql: sql`WITH ${{ text: DIGITS, params: [] }} SELECT a.x AS x FROM d a, d b, d c, d e`,
      });
      for await (const batch of cursor) {
        expect(batch.length).toBeGreaterThan(0);
        break;
      }
      await cursor.close();
      const { rows } = await engine.query({ sql: sql`SELECT ${7} AS seven` });
      expect(Number(rows[0]?.seven)).toBe(7);
    });

    it('fails a bad statement with ENGINE_QUERY_FAILED and no SQL in the message', async () => {
      const error = await engine
        .query({ sql: sql`SELECT no_such_column FROM (VALUES 1) AS t(x)` })
        .catch((e) => e);
      expect(error).toMatchObject({ code: 'ENGINE_QUERY_FAILED' });
      expect(String(error.message)).not.toMatch(/no_such_column|SELECT/i);
    });

    it('stops a statement at its timeout and stays usable', async () => {
      const heavy = sql`WITH ${{ text: DIGITS, params: [] }}
        SELECT count(*) AS c FROM d a, d b, d c, d e, d f, d g, d h, d i, d j, d k, d l WHERE a.x + l.x >= 0`;
      const started = Date.now();
      await expect(engine.query({ sql: heavy, timeoutMs: 300 })).rejects.toMatchObject({
        code: 'ENGINE_TIMEOUT',
      });
      expect(Date.now() - started).toBeLessThan(30_000);
      const { rows } = await engine.query({ sql: sql`SELECT 1 AS one` });
      expect(Number(rows[0]?.one)).toBe(1);
    });

    it('stops a statement when its signal aborts', async () => {
      const controller = new AbortController();
      const heavy = sql`WITH ${{ text: DIGITS, params: [] }}
        SELECT count(*) AS c FROM d a, d b, d c, d e, d f, d g, d h, d i, d j, d k, d l WHERE a.x + l.x >= 0`;
      setTimeout(() => controller.abort(), 200);
      await expect(engine.query({ sql: heavy, signal: controller.signal })).rejects.toMatchObject({
        code: 'ENGINE_ABORTED',
      });
    });

    it('runs concurrent statements', async () => {
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => engine.query({ sql: sql`SELECT CAST(${i} AS BIGINT) AS i` })),
      );
      expect(results.map((r) => r.rows[0]?.i)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7']);
    });

    it('returns results on either side of a 1000-row page whole and in order', async () => {
      // Athena pages 1000 rows and puts a header row first on page one: 999, 1000 and 1001 cross both edges.
      for (const size of [999, 1000, 1001]) {
        const { rows } = await engine.query({
          sql: sql`WITH ${{ text: DIGITS, params: [] }}
                   SELECT a.x * 100 + b.x * 10 + c.x + e.x * 1000 AS n FROM d a, d b, d c, d e
                   WHERE a.x * 100 + b.x * 10 + c.x + e.x * 1000 < ${size} ORDER BY n`,
        });
        expect(rows.map((r) => Number(r.n))).toEqual(Array.from({ length: size }, (_, i) => i));
      }
    });

    it('converts every scalar type the same way', async () => {
      const { rows } = await engine.query({
        sql: sql`SELECT CAST(-5 AS INTEGER) AS i, CAST(1.5 AS DOUBLE) AS f,
                 CAST('-9007199254740993' AS BIGINT) AS b, CAST('-0.05' AS DECIMAL(18,2)) AS d,
                 CAST('false' AS BOOLEAN) AS bo, CAST('1999-12-31' AS DATE) AS dt,
                 CAST('2026-03-04 05:06:07.120' AS TIMESTAMP) AS ts, CAST(NULL AS BIGINT) AS nb,
                 CAST(NULL AS VARCHAR) AS nv, CAST('' AS VARCHAR) AS empty`,
      });
      expect(rows).toEqual([
        {
          i: -5,
          f: 1.5,
          b: '-9007199254740993',
          d: '-0.05',
          bo: false,
          dt: '1999-12-31',
          ts: '2026-03-04 05:06:07.12',
          nb: null,
          nv: null,
          empty: '',
        },
      ]);
    });

    it('binds values in WHERE as values, hostile text included', async () => {
      const hostile = "x' OR '1'='1";
      const { rows } = await engine.query({
        sql: sql`WITH t(x, y) AS (VALUES (1, 'a'), (2, 'b'), (3, 'x'' OR ''1''=''1'))
                 SELECT x FROM t
                 WHERE y = ${hostile} OR (y = ${'a'} AND x >= ${1} AND ${true} AND ${null} IS NULL)
                 ORDER BY x`,
      });
      expect(rows.map((r) => Number(r.x))).toEqual([1, 3]);
    });

    it('returns the columns of an empty result', async () => {
      const { columns, rows } = await engine.query({
        sql: sql`SELECT x FROM (VALUES (1)) AS t(x) WHERE x > ${5}`,
      });
      expect(columns.map((c) => c.name)).toEqual(['x']);
      expect(rows).toEqual([]);
    });

    it('keeps the engine reason of a failure for logs only', async () => {
      const error = await engine
        .query({ sql: sql`SELECT no_such_column FROM (VALUES (1)) AS t(x)`, label: 'contract.bad' })
        .catch((e) => e);
      expect(error).toMatchObject({ code: 'ENGINE_QUERY_FAILED', label: 'contract.bad' });
      expect(String(error.reason)).toMatch(/no_such_column/);
      expect(String(error.message)).not.toMatch(/no_such_column|SELECT/i);
    });

    it('gives every statement its own query id, also through execute', async () => {
      const a = await engine.query({ sql: sql`SELECT ${1} AS one` });
      const b = await engine.execute({ sql: sql`SELECT ${2} AS two` });
      expect(a.stats.queryId).not.toBe('');
      expect(b.queryId).not.toBe('');
      expect(b.queryId).not.toBe(a.stats.queryId);
    });

    it('reads a published mart version through martRelation with bound filters', async () => {
      const ref = await harness.seedMart([
        { id: 1, region: 'EU', amount: '10.50' },
        { id: 2, region: 'NA', amount: '20.25' },
        { id: 3, region: 'EU', amount: '0.05' },
      ]);
      const relation = engine.martRelation(ref);
      const { rows } = await engine.query({
        sql: sql`SELECT id, amount FROM ${relation} AS m WHERE region = ${'EU'} ORDER BY id`,
      });
      expect(rows).toEqual([
        { id: '1', amount: '10.50' },
        { id: '3', amount: '0.05' },
      ]);
      const { rows: sum } = await engine.query({
        sql: sql`SELECT sum(amount) AS total FROM ${relation} AS m`,
      });
      expect(sum[0]?.total).toBe('30.80');
    });
  });
}
