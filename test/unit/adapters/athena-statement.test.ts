import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AthenaQueryEngine,
  athenaStatement,
  createAthenaClient,
  readsOnlyGoldRuns,
} from '../../../src/adapters/query-engine/athena.js';
import { fullAccess } from '../../../src/auth/access.js';
import { customer360 } from '../../../src/catalog/marts/index.js';
import { goldDataset, runPrefix } from '../../../src/lake/layout.js';
import { countQuery, pageQuery } from '../../../src/query/builder.js';
import { raw, sql } from '../../../src/sql/fragment.js';
import { bindInWhereOnly, trinoLiteral } from '../../../src/transform/athena/bind.js';

const DB = 'goldgate_gold';
const RUN = '"goldgate_gold"."customer_360__v1__20261121t061500z_7f3a"';
const OTHER_RUN = '"goldgate_gold"."invoices__v2__20261120t000000z_abcd"';

describe('athenaStatement: where values may stay bound', () => {
  it('leaves a statement without values alone', () => {
    const fragment = raw('SELECT 1');
    expect(athenaStatement(fragment)).toBe(fragment);
  });

  it('keeps WHERE values bound and writes the others as literals in a SELECT', () => {
    const out = athenaStatement(
      sql`SELECT ${"it's"} AS s, x FROM t WHERE x = ${5} AND y IN (${'a'}, ${'b'}) ORDER BY x LIMIT ${10}`,
    );
    expect(out.text).toBe("SELECT 'it''s' AS s, x FROM t WHERE x = ? AND y IN (?, ?) ORDER BY x LIMIT 10");
    expect(out.params).toEqual([5, 'a', 'b']);
  });

  it('treats CTAS and INSERT like SELECT', () => {
    const ctas = athenaStatement(
      sql`CREATE TABLE "g"."t" WITH (format = 'PARQUET') AS SELECT ${1} AS a FROM s WHERE b = ${2}`,
    );
    expect(ctas).toEqual({
      text: `CREATE TABLE "g"."t" WITH (format = 'PARQUET') AS SELECT 1 AS a FROM s WHERE b = ?`,
      params: [2],
    });
    const insert = athenaStatement(sql`INSERT INTO t (a) SELECT a FROM s WHERE b = ${'x'}`);
    expect(insert.params).toEqual(['x']);
  });

  it('writes every value of a statement Athena does not parameterise as a literal', () => {
    const merge = athenaStatement(
      sql`MERGE INTO t USING (SELECT * FROM s WHERE d IN (${'2026-01-01'})) AS u ON t.k = u.k WHEN MATCHED THEN UPDATE SET v = ${1.5}`,
    );
    expect(merge.params).toEqual([]);
    expect(merge.text).toContain("WHERE d IN ('2026-01-01')");
    expect(merge.text).toContain('SET v = 1.5E0');
    const view = athenaStatement(sql`CREATE OR REPLACE VIEW v AS SELECT * FROM t WHERE a = ${'x'}`);
    expect(view).toEqual({ text: `CREATE OR REPLACE VIEW v AS SELECT * FROM t WHERE a = 'x'`, params: [] });
  });

  it('refuses values in Hive DDL, whose literals honour backslashes', () => {
    expect(() => athenaStatement(sql`ALTER TABLE t ADD PARTITION (d = ${'x'})`)).toThrow(/Hive/);
    expect(() => athenaStatement(sql`CREATE EXTERNAL TABLE t (a string) LOCATION ${'s3://b/p/'}`)).toThrow(
      /Hive/,
    );
    expect(() => athenaStatement(sql`DROP TABLE ${'t'}`)).toThrow(/Hive/);
  });

  it('ignores question marks inside strings, quoted names and comments', () => {
    const out = athenaStatement({
      text: `SELECT '?' AS "a?" -- ?\nFROM t /* ? */ WHERE x = ?`,
      params: [1],
    });
    expect(out).toEqual({ text: `SELECT '?' AS "a?" -- ?\nFROM t /* ? */ WHERE x = ?`, params: [1] });
  });

  it('gives Athena exactly one parameter per remaining placeholder, for any text value', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme' }).filter((s) => !s.includes('\u0000')),
        fc.string().filter((s) => !s.includes('\u0000')),
        (inSelect, inWhere) => {
          const out = athenaStatement(sql`SELECT ${inSelect} AS v FROM t WHERE k = ${inWhere}`);
          expect(out.params).toEqual([inWhere]);
          expect(out.text).toBe(`SELECT ${trinoLiteral(inSelect)} AS v FROM t WHERE k = ?`);
          // Athena's own reading of the text finds the one placeholder and nothing else.
          expect(bindInWhereOnly(out)).toEqual(out);
        },
      ),
    );
  });
});

describe('readsOnlyGoldRuns: result reuse only where a later run cannot differ', () => {
  const reusable = (text: string) => readsOnlyGoldRuns(text, DB);

  it('accepts the reader page and count queries over a run', () => {
    const engine = new AthenaQueryEngine({
      client: createAthenaClient({ region: 'us-east-1' }),
      workGroup: 'wg',
      database: DB,
    });
    const runId = '20261121T061500Z-7f3a';
    const relation = engine.martRelation({
      mart: 'customer_360',
      schemaVersion: 1,
      runId,
      prefix: runPrefix(goldDataset('customer_360', 1), runId),
    });
    const access = fullAccess(customer360);
    const page = pageQuery({
      access,
      relation,
      columns: ['name'],
      filter: { region: { eq: 'EU' } },
      first: 10,
    });
    expect(reusable(athenaStatement(page).text)).toBe(true);
    expect(reusable(athenaStatement(countQuery({ access, relation, filter: {} })).text)).toBe(true);
  });

  it('accepts joins, subqueries, WITH names and UNNEST over runs', () => {
    expect(
      reusable(
        `SELECT a.x FROM ${RUN} AS a JOIN ${OTHER_RUN} AS b ON a.k = b.k WHERE a.x IS DISTINCT FROM b.x`,
      ),
    ).toBe(true);
    expect(
      reusable(`WITH r AS (SELECT * FROM ${RUN}) SELECT count(*) FROM r, UNNEST(ARRAY[1, 2]) AS u(n)`),
    ).toBe(true);
    expect(reusable(`SELECT EXTRACT(year FROM d) FROM (SELECT d FROM ${RUN}) AS s`)).toBe(true);
  });

  it('refuses a mart view, another database, an unqualified table or no table at all', () => {
    expect(reusable('SELECT * FROM "goldgate_gold"."customer_360"')).toBe(false);
    expect(reusable(`SELECT * FROM ${RUN} a, "goldgate_silver"."zoho_books__invoices" b`)).toBe(false);
    expect(reusable(`SELECT * FROM ${RUN} a JOIN b ON a.k = b.k`)).toBe(false);
    expect(reusable(`SELECT * FROM ${RUN} a JOIN ${OTHER_RUN} b ON a.k = b.k, other c`)).toBe(false);
    expect(reusable('SELECT 1')).toBe(false);
    expect(reusable(`SELECT '${RUN.replaceAll('"', '')}' AS s`)).toBe(false);
  });

  it('refuses statements that write or depend on time or chance', () => {
    expect(reusable(`SELECT * FROM ${RUN} WHERE d < current_date`)).toBe(false);
    expect(reusable(`SELECT rand() FROM ${RUN}`)).toBe(false);
    expect(reusable(`SELECT * FROM ${RUN} TABLESAMPLE BERNOULLI (10)`)).toBe(false);
    expect(reusable(`INSERT INTO x SELECT * FROM ${RUN}`)).toBe(false);
    expect(reusable(`CREATE TABLE x AS SELECT * FROM ${RUN}`)).toBe(false);
  });
});
