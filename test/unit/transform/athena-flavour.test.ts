import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// dt-sql-parser's ESM build cannot be imported by plain node (extensionless imports); vitest bundles it.
import { HiveSQL, TrinoSQL, TrinoSqlListener } from 'dt-sql-parser';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../../src/adapters/object-store/local.js';
import { DuckDbQueryEngine } from '../../../src/adapters/query-engine/duckdb.js';
import type { ColumnDef, MartDef, SqlType } from '../../../src/catalog/types.js';
import { raw, type SqlFragment, sql } from '../../../src/sql/fragment.js';
import { literal } from '../../../src/transform/athena/config.js';
import {
  type AthenaStatement,
  athenaGoldContext,
  batchPredicate,
  bindInWhereOnly,
  bronzeTableDdl,
  defineAthenaConfig,
  existingTablesQuery,
  goldBuildStatements,
  goldDropRunStatement,
  goldPublishStatement,
  MAX_PARTITIONS_PER_STATEMENT,
  mergeStatement,
  type PartitionValue,
  partitionValuesQuery,
  planPartitionBatches,
  reconcileQuery,
  type SilverBatch,
  silverColumns,
  silverMaintenanceStatements,
  silverMergeStatements,
  silverSetupStatements,
  silverSnapshotQuery,
  stageStatement,
  trinoLiteral,
} from '../../../src/transform/athena/index.js';
import { ENTITIES, type EntityContract } from '../../../src/transform/entities.js';
import { GOLD_MODELS, type GoldModel } from '../../../src/transform/gold/index.js';
import { earlierVersionModels } from '../../../src/transform/gold/versions.js';

const config = defineAthenaConfig({
  bronzeDb: 'goldgate_bronze',
  silverDb: 'goldgate_silver',
  goldDb: 'goldgate_gold',
  quarantineDb: 'goldgate_quarantine',
  locations: {
    bronze: 's3://acme-goldgate-prod-bronze',
    silver: 's3://acme-goldgate-prod-silver/',
    gold: 's3://acme-goldgate-prod-gold/',
    quarantine: 's3://acme-goldgate-prod-quarantine/',
  },
});

const RUN = '20261121T061500Z-7f3a';
const batch: SilverBatch = {
  bronzeRuns: [
    { ingestDate: '2026-11-20', runId: '20261120T230000Z-aa01' },
    { ingestDate: '2026-11-21', runId: '20261121T060000Z-bb02' },
  ],
  quarantineRuns: [{ ingestDate: '2026-11-20', runId: '20261120T061500Z-cc03' }],
  runId: RUN,
  ingestDate: '2026-11-21',
};

const trino = new TrinoSQL();
const hive = new HiveSQL();

/** Syntax errors of a statement under the grammar of the Athena engine that runs it. */
function syntaxErrors(statement: AthenaStatement): string[] {
  const text = statement.sql.text;
  if (statement.grammar === 'trino') return trino.validate(text).map((e) => e.message);
  if (statement.grammar === 'hive') return hive.validate(text).map((e) => e.message);
  // Athena's own OPTIMIZE/VACUUM: a fixed shape around a table name that must parse as one.
  const m = /^(?:OPTIMIZE (\S+) REWRITE DATA USING BIN_PACK|VACUUM (\S+))$/.exec(text);
  const table = m?.[1] ?? m?.[2];
  if (!table) return [`not an OPTIMIZE or VACUUM statement: ${text}`];
  return trino.validate(`SELECT * FROM ${table}`).map((e) => e.message);
}

/** The `?` placeholders Trino sees (string literals excluded) and how many sit outside a WHERE clause. */
function placeholders(text: string): { total: number; outsideWhere: number } {
  let depth = 0;
  let total = 0;
  let outsideWhere = 0;
  const listener = new TrinoSqlListener();
  listener.enterWhereClause = () => {
    depth += 1;
  };
  listener.exitWhereClause = () => {
    depth -= 1;
  };
  listener.enterParameter = () => {
    total += 1;
    if (depth === 0) outsideWhere += 1;
  };
  trino.listen(listener, trino.parse(text));
  return { total, outsideWhere };
}

function entityStatements(contract: EntityContract): AthenaStatement[] {
  return [
    ...silverSetupStatements(config, contract),
    ...silverMergeStatements(config, contract, batch),
    reconcileQuery(config, contract),
    silverSnapshotQuery(config, contract),
    ...silverMaintenanceStatements(config, [contract]),
  ];
}

/** Partition values of the column's type, as an Athena result row would carry them. */
function syntheticValue(column: ColumnDef, i: number): PartitionValue {
  const day = new Date(Date.UTC(2020, 0, 1) + i * 86_400_000).toISOString();
  const byType: Record<SqlType, PartitionValue> = {
    VARCHAR: `p${String(i).padStart(4, '0')}`,
    BIGINT: String(i),
    INTEGER: i,
    DOUBLE: i + 0.5,
    'DECIMAL(18,2)': `${i}.25`,
    BOOLEAN: i % 2 === 0,
    DATE: day.slice(0, 10),
    TIMESTAMP: `${day.slice(0, 10)} 06:00:00`,
  };
  return byType[column.sqlType];
}

function syntheticPartitions(mart: MartDef, n: number): PartitionValue[][] {
  const columns = mart.partitionBy.map((name) => mart.columns.find((c) => c.name === name) as ColumnDef);
  return Array.from({ length: n }, (_, i) => columns.map((c) => syntheticValue(c, i)));
}

/** Every statement a Gold model's Athena run generates, or why it could not be rendered. */
function goldStatements(model: GoldModel, partitions = 250): AthenaStatement[] {
  const ctx = athenaGoldContext(config, model, '2026-11-21');
  const distinct = partitionValuesQuery(model, ctx);
  return [
    ...(distinct ? [distinct] : []),
    ...goldBuildStatements(config, model, {
      runId: RUN,
      ctx,
      partitionValues: syntheticPartitions(model.mart, partitions),
    }),
    goldPublishStatement(config, model.mart, RUN),
    goldDropRunStatement(config, model.mart, RUN),
  ];
}

describe('the parsers the checks rely on', () => {
  it('reject what Athena rejects: SET *, INSERT *, broken SQL', () => {
    expect(trino.validate('MERGE INTO t USING s ON t.k = s.k WHEN MATCHED THEN UPDATE SET *')).not.toEqual(
      [],
    );
    expect(
      trino.validate('MERGE INTO t USING s ON t.k = s.k WHEN NOT MATCHED THEN INSERT * VALUES (s.k)'),
    ).not.toEqual([]);
    expect(trino.validate('SELECT a FROM WHERE')).not.toEqual([]);
    expect(hive.validate('CREATE EXTERNAL TABLE t (a string) LOCATIO')).not.toEqual([]);
  });

  it('count placeholders as the engine does, strings excluded', () => {
    expect(placeholders("SELECT '?' AS q, ? AS p FROM t WHERE a = ? AND b IN (?, ?)")).toEqual({
      total: 4,
      outsideWhere: 1,
    });
  });
});

describe.each(ENTITIES.map((c) => [`${c.source}.${c.entity}`, c] as const))(
  'Silver on Athena: %s',
  (_, contract) => {
    const statements = entityStatements(contract);

    it.each(statements.map((s) => [s.label, s] as const))('%s parses', (label, statement) => {
      expect(syntaxErrors(statement), `${label}:\n${statement.sql.text}`).toEqual([]);
    });

    it('binds every value as a parameter, only in WHERE clauses, one per placeholder', () => {
      for (const statement of statements) {
        if (statement.grammar !== 'trino') {
          expect(statement.sql.params, statement.label).toEqual([]);
          expect(statement.sql.text, statement.label).not.toContain('?');
          continue;
        }
        const found = placeholders(statement.sql.text);
        expect(found.total, statement.label).toBe(statement.sql.params.length);
        expect(found.outsideWhere, statement.label).toBe(0);
      }
    });

    it('stages exactly the batch: sorted distinct dates and run ids, Bronze then quarantine', () => {
      expect(stageStatement(config, contract, batch).sql.params).toEqual([
        '2026-11-20',
        '2026-11-21',
        '20261120T230000Z-aa01',
        '20261121T060000Z-bb02',
        '2026-11-20',
        '20261120T061500Z-cc03',
      ]);
    });

    it('MERGE lists every column explicitly (Athena has no SET * or INSERT *)', () => {
      const text = mergeStatement(config, contract).sql.text;
      const columns = silverColumns(contract).map(([name]) => `"${name}"`);
      const set = /THEN UPDATE SET\s+([\s\S]*?)\s+WHEN NOT MATCHED/.exec(text)?.[1] ?? '';
      expect(set.split(/,\s*/)).toEqual(columns.filter((c) => c !== '"_key"').map((c) => `${c} = s.${c}`));
      const insert = /THEN INSERT \(([^)]*)\)\s+VALUES \(([^)]*)\)$/.exec(text);
      expect(insert?.[1]?.split(', ')).toEqual(columns);
      expect(insert?.[2]?.split(', ')).toEqual(columns.map((c) => `s.${c}`));
      expect(text).not.toMatch(/SET\s+\*|INSERT\s+\*|INSERT\s+VALUES/);
      expect(text).toContain('"_deleted" = s."_deleted"');
    });
  },
);

describe.each(GOLD_MODELS.map((m) => [m.mart.name, m] as const))('Gold on Athena: %s', (name, model) => {
  it('renders every statement, each parsing under Trino', () => {
    let statements: AthenaStatement[];
    try {
      statements = goldStatements(model);
    } catch (error) {
      throw new Error(`gold model ${name} does not render for Trino: ${String(error)}`);
    }
    const failures = statements
      .map((s) => ({ label: s.label, errors: syntaxErrors(s) }))
      .filter((f) => f.errors.length > 0)
      .map((f) => `gold model ${name}, ${f.label}: ${f.errors.join(' | ')}`);
    expect(failures, `gold model ${name} generates SQL that Athena's Trino would reject`).toEqual([]);
  });

  it('binds values only in WHERE clauses (as Athena requires), one per placeholder', () => {
    for (const statement of goldStatements(model)) {
      if (statement.grammar !== 'trino') {
        expect(statement.sql.params, `${name}: ${statement.label}`).toEqual([]);
        continue;
      }
      expect(placeholders(statement.sql.text), `${name}: ${statement.label}`).toEqual({
        total: statement.sql.params.length,
        outsideWhere: 0,
      });
    }
  });

  it('writes at most 100 partitions per statement for 250 partition values', () => {
    const builds = goldStatements(model).filter((s) => s.label.startsWith(`gold.${name}.build`));
    if (model.mart.partitionBy.length === 0) {
      expect(builds).toHaveLength(1);
      return;
    }
    expect(builds).toHaveLength(3);
    const batches = planPartitionBatches(model.mart, syntheticPartitions(model.mart, 250));
    expect(batches.map((b) => b.values.length)).toEqual([100, 100, 50]);
  });
});

describe('Gold on Athena: an earlier schema version kept after a breaking change', () => {
  // invoices v2 renames `total`; v1 is rebuilt from v2's model as a projection.
  const base = GOLD_MODELS.find((m) => m.mart.name === 'invoices') as GoldModel;
  const rename = (n: string): string => (n === 'total' ? 'amount_total' : n);
  const v2: MartDef = {
    ...base.mart,
    schemaVersion: 2,
    columns: base.mart.columns.map((c) => ({ ...c, name: rename(c.name) })),
    checks: undefined,
    previousVersions: [
      {
        schemaVersion: 1,
        change: 'total is amount_total',
        columns: base.mart.columns.map((c) => (c.name === 'total' ? { ...c, from: 'amount_total' } : c)),
      },
    ],
  };
  const [v1Model] = earlierVersionModels([{ ...base, mart: v2 }]);

  it('renders every statement of the projection, each parsing under Trino, into its own table and view', () => {
    if (!v1Model) throw new Error('no earlier-version model');
    const statements = goldStatements(v1Model);
    const failures = statements.flatMap((s) => syntaxErrors(s).map((e) => `${s.label}: ${e}`));
    expect(failures).toEqual([]);
    const publish = goldPublishStatement(config, v1Model.mart, RUN).sql.text;
    expect(publish).toContain('"invoices_v1"');
    expect(publish).toContain('invoices__v1__');
    expect(goldPublishStatement(config, v2, RUN).sql.text).toContain('"invoices__v2__');
  });
});

// A small, stable mart and entity for the golden texts and the batching proofs.
const monthly: MartDef = {
  name: 'fixture_monthly',
  schemaVersion: 2,
  description: 'Fixture.',
  key: ['customer_id', 'month'],
  columns: [
    { name: 'month', sqlType: 'VARCHAR', apiType: 'String', nullable: false, description: 'YYYY-MM' },
    { name: 'customer_id', sqlType: 'VARCHAR', apiType: 'ID', nullable: false, description: 'Customer.' },
    { name: 'amount', sqlType: 'DECIMAL(18,2)', apiType: 'Decimal', nullable: false, description: 'Money.' },
  ],
  partitionBy: ['month'],
  rowScope: {},
  relations: [],
  api: { typeName: 'FixtureMonthly', listField: 'fixtureMonthly' },
};

const monthlyModel: GoldModel = {
  mart: monthly,
  inputs: {},
  query: (ctx) => sql`SELECT month, customer_id, amount FROM fixture WHERE as_of = CAST(${ctx.asOf} AS DATE)`,
};

const fixtureContract: EntityContract = {
  source: 'dynamodb',
  entity: 'widgets',
  fields: [
    { name: 'widget_id', sqlType: 'VARCHAR', path: '$.widget_id', required: true },
    { name: 'kind', sqlType: 'VARCHAR', path: '$.kind', values: ['a', 'b'] },
    { name: 'price', sqlType: 'DECIMAL(18,2)', path: '$.price', nonNegative: true },
    { name: 'made_at', sqlType: 'TIMESTAMP', path: '$.made_at' },
  ],
};

describe('golden texts', () => {
  it('Bronze table: one JSON line per row, projected partitions', () => {
    expect(bronzeTableDdl(config, fixtureContract).sql.text).toBe(
      `CREATE EXTERNAL TABLE IF NOT EXISTS \`goldgate_bronze\`.\`dynamodb__widgets\` (
  \`line\` string COMMENT 'one CDC event: the Bronze envelope as JSON'
)
PARTITIONED BY (\`ingest_date\` string, \`run_id\` string)
ROW FORMAT DELIMITED
STORED AS TEXTFILE
LOCATION 's3://acme-goldgate-prod-bronze/bronze/dynamodb/widgets/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.ingest_date.type' = 'date',
  'projection.ingest_date.format' = 'yyyy-MM-dd',
  'projection.ingest_date.range' = '2020-01-01,NOW',
  'projection.ingest_date.interval' = '1',
  'projection.ingest_date.interval.unit' = 'DAYS',
  'projection.run_id.type' = 'injected',
  'storage.location.template' = 's3://acme-goldgate-prod-bronze/bronze/dynamodb/widgets/ingest_date=\${ingest_date}/run_id=\${run_id}/'
)`,
    );
  });

  it('Silver table: Iceberg, created empty by a CTAS', () => {
    const [, silver] = silverSetupStatements(config, fixtureContract);
    expect(silver?.sql.text).toBe(`CREATE TABLE "goldgate_silver"."dynamodb__widgets"
WITH (table_type = 'ICEBERG', is_external = false, location = 's3://acme-goldgate-prod-silver/silver/dynamodb/widgets/iceberg/', format = 'PARQUET', write_compression = 'ZSTD')
AS SELECT
  CAST(NULL AS VARCHAR) AS "_key",
  CAST(NULL AS VARCHAR) AS "widget_id",
  CAST(NULL AS VARCHAR) AS "kind",
  CAST(NULL AS DECIMAL(18,2)) AS "price",
  CAST(NULL AS TIMESTAMP(6)) AS "made_at",
  CAST(NULL AS TIMESTAMP(6)) AS "_source_ts",
  CAST(NULL AS VARCHAR) AS "_seq",
  CAST(NULL AS VARCHAR) AS "_run_id",
  CAST(NULL AS TIMESTAMP(6)) AS "_ingested_at",
  CAST(NULL AS BOOLEAN) AS "_deleted"
WITH NO DATA`);
  });

  it('MERGE: latest per key, newer-than guard, every column named', () => {
    expect(
      mergeStatement(config, fixtureContract).sql.text,
    ).toBe(`MERGE INTO "goldgate_silver"."dynamodb__widgets" AS t
USING (
  SELECT "_key", "widget_id", "kind", "price", "made_at", "_source_ts", "_seq", "_run_id", "_ingested_at", "_deleted"
  FROM (
    SELECT "_key", "widget_id", "kind", "price", "made_at", "_source_ts", "_seq", "_run_id", "_ingested_at", "_deleted",
      row_number() OVER (PARTITION BY "_key" ORDER BY "_source_ts" DESC, "_seq" DESC, "_deleted" DESC, "_run_id" DESC) AS "_rank"
    FROM (
      SELECT "_key", "widget_id", "kind", "price", "made_at", "_source_ts", "_seq", "_run_id", "_ingested_at", "_op" = 'D' AS "_deleted"
      FROM "goldgate_silver"."dynamodb__widgets__staging"
      WHERE NOT "_skipped" AND "_violation" IS NULL
    ) AS valid
  ) AS ranked
  WHERE "_rank" = 1
) AS s
ON t."_key" = s."_key"
WHEN MATCHED AND (s."_source_ts" > t."_source_ts"
    OR (s."_source_ts" = t."_source_ts" AND (s."_seq" > t."_seq"
      OR (s."_seq" = t."_seq" AND ((s."_deleted" AND NOT t."_deleted")
        OR (s."_deleted" = t."_deleted" AND s."_run_id" > t."_run_id")))))) THEN UPDATE SET
    "widget_id" = s."widget_id",
    "kind" = s."kind",
    "price" = s."price",
    "made_at" = s."made_at",
    "_source_ts" = s."_source_ts",
    "_seq" = s."_seq",
    "_run_id" = s."_run_id",
    "_ingested_at" = s."_ingested_at",
    "_deleted" = s."_deleted"
WHEN NOT MATCHED THEN INSERT ("_key", "widget_id", "kind", "price", "made_at", "_source_ts", "_seq", "_run_id", "_ingested_at", "_deleted")
  VALUES (s."_key", s."widget_id", s."kind", s."price", s."made_at", s."_source_ts", s."_seq", s."_run_id", s."_ingested_at", s."_deleted")`);
  });

  it('staging: contract checks as literals, partition values bound', () => {
    const stage = stageStatement(config, fixtureContract, batch).sql.text;
    expect(stage).toContain(
      `CASE WHEN "_op" <> 'D' AND "kind" IS NOT NULL AND "kind" NOT IN ('a', 'b') THEN 'UNKNOWN_ENUM:kind' END`,
    );
    expect(stage).toContain(`CASE WHEN "_op" <> 'D' AND "price" < 0 THEN 'NEGATIVE_AMOUNT:price' END`);
    expect(stage).toContain(
      `NULLIF(trim(json_extract_scalar("_payload", '$.made_at')), '') AS "_raw_made_at"`,
    );
    expect(stage).toContain(`WHERE "ingest_date" IN (?, ?)\n      AND "run_id" IN (?, ?)`);
  });

  it('maintenance: OPTIMIZE then VACUUM, Silver and staging', () => {
    expect(silverMaintenanceStatements(config, [fixtureContract]).map((s) => s.sql.text)).toEqual([
      'OPTIMIZE goldgate_silver.dynamodb__widgets REWRITE DATA USING BIN_PACK',
      'VACUUM goldgate_silver.dynamodb__widgets',
      'OPTIMIZE goldgate_silver.dynamodb__widgets__staging REWRITE DATA USING BIN_PACK',
      'VACUUM goldgate_silver.dynamodb__widgets__staging',
    ]);
  });

  it('Gold: CTAS into the run location, then INSERT INTO per range; publish swaps the view', () => {
    const ctx = athenaGoldContext(config, monthlyModel, '2026-11-21');
    const statements = goldBuildStatements(config, monthlyModel, {
      runId: RUN,
      ctx,
      partitionValues: [['2026-03'], ['2026-01'], ['2026-02'], ['2026-01']],
    }).map((s) => s.sql);
    // planPartitionBatches is what goldBuildStatements uses; a limit of 2 shows two statements.
    expect(planPartitionBatches(monthly, [['2026-03'], ['2026-01'], ['2026-02']], 2)).toEqual([
      { upper: ['2026-03'], values: [['2026-01'], ['2026-02']] },
      { lower: ['2026-03'], values: [['2026-03']] },
    ]);
    expect(statements).toEqual([
      {
        text: `CREATE TABLE "goldgate_gold"."fixture_monthly__v2__20261121t061500z_7f3a"
WITH (format = 'PARQUET', write_compression = 'SNAPPY', external_location = 's3://acme-goldgate-prod-gold/gold/fixture_monthly/schema_v=2/run_id=20261121T061500Z-7f3a/', partitioned_by = ARRAY['month'])
AS SELECT "customer_id", "amount", "month"
FROM (
SELECT month, customer_id, amount FROM fixture WHERE as_of = CAST(? AS DATE)
) AS m`,
        params: ['2026-11-21'],
      },
    ]);
    expect(goldPublishStatement(config, monthly, RUN).sql.text).toBe(
      `CREATE OR REPLACE VIEW "goldgate_gold"."fixture_monthly" AS
SELECT "month", "customer_id", "amount"
FROM "goldgate_gold"."fixture_monthly__v2__20261121t061500z_7f3a"`,
    );
  });

  it('Gold batches: each later statement an INSERT INTO with a half-open range', () => {
    const ctx = athenaGoldContext(config, monthlyModel, '2026-11-21');
    const values = Array.from({ length: 250 }, (_, i) => [`m${String(i).padStart(3, '0')}`]);
    const statements = goldBuildStatements(config, monthlyModel, {
      runId: RUN,
      ctx,
      partitionValues: values,
    });
    expect(statements.map((s) => s.label)).toEqual([
      'gold.fixture_monthly.build',
      'gold.fixture_monthly.build.2',
      'gold.fixture_monthly.build.3',
    ]);
    expect(statements.map((s) => s.sql.text.split('\n').at(-1))).toEqual([
      `WHERE ("month" IS NULL OR "month" < ?)`,
      `WHERE ("month" >= ? AND ("month" IS NULL OR "month" < ?))`,
      `WHERE "month" >= ?`,
    ]);
    expect(statements.map((s) => s.sql.params)).toEqual([
      ['2026-11-21', 'm100'],
      ['2026-11-21', 'm100', 'm200'],
      ['2026-11-21', 'm200'],
    ]);
    expect(statements[1]?.sql.text.split('\n')[0]).toBe(
      `INSERT INTO "goldgate_gold"."fixture_monthly__v2__20261121t061500z_7f3a" ("customer_id", "amount", "month")`,
    );
    for (const s of statements) {
      expect(syntaxErrors(s)).toEqual([]);
      expect(placeholders(s.sql.text)).toEqual({ total: s.sql.params.length, outsideWhere: 0 });
    }
  });
});

describe('partition batches, checked on a real engine', () => {
  let dir = '';
  let engine: DuckDbQueryEngine;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'goldgate-athena-'));
    engine = await DuckDbQueryEngine.create({ store: new LocalObjectStore(dir) });
  });
  afterAll(async () => {
    await engine.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** Which rows each batch's predicate selects, evaluated by DuckDB over the given rows. */
  async function selectedBy(mart: MartDef, rows: SqlFragment, max: number, values: PartitionValue[][]) {
    const batches = planPartitionBatches(mart, values, max);
    const picked: string[][] = [];
    for (const b of batches) {
      const { rows: hits } = await engine.query({
        sql: sql`SELECT DISTINCT CAST(id AS VARCHAR) AS id FROM (${rows}) AS m WHERE ${batchPredicate(mart, b)} ORDER BY id`,
      });
      picked.push(hits.map((r) => String(r.id)));
      expect(b.values.length).toBeLessThanOrEqual(max);
    }
    return picked;
  }

  it('250 months: three statements of at most 100, every row in exactly one', async () => {
    const months = Array.from({ length: 250 }, (_, i) => {
      const d = new Date(Date.UTC(2000, i, 1)).toISOString();
      return d.slice(0, 7);
    });
    // Three rows per month, listed in a shuffled order: the plan sorts them itself.
    const shuffled = [...months].reverse();
    const rows = raw(
      `SELECT * FROM (VALUES ${months.flatMap((m, i) => [0, 1, 2].map((k) => `(${i * 3 + k}, '${m}')`)).join(', ')}) AS t(id, month)`,
    );
    const picked = await selectedBy(
      monthly,
      rows,
      MAX_PARTITIONS_PER_STATEMENT,
      shuffled.map((m) => [m]),
    );
    expect(picked.map((p) => p.length)).toEqual([300, 300, 150]);
    const all = picked.flat();
    expect(new Set(all).size).toBe(750);
    expect(all).toHaveLength(750);
  });

  it('two columns with NULLs, numbers and text: ranges are disjoint and cover every row', async () => {
    const twoColumns: MartDef = {
      ...monthly,
      partitionBy: ['region', 'seats'],
      columns: [
        { name: 'region', sqlType: 'VARCHAR', apiType: 'String', nullable: true, description: 'Region.' },
        { name: 'seats', sqlType: 'INTEGER', apiType: 'Int', nullable: true, description: 'Seats.' },
      ],
    };
    const regions = [null, 'APAC', 'EU', 'NA', 'Ärger', 'zz', 'é'];
    const seats = [null, 2, 9, 10, 100];
    const tuples = regions.flatMap((r) => seats.map((s) => [r, s] as PartitionValue[]));
    const rows = raw(
      `SELECT * FROM (VALUES ${tuples
        .map(
          ([r, s], i) =>
            `(${i}, ${r === null ? 'NULL' : `'${r}'`}, ${s === null ? 'NULL' : `CAST(${s} AS INTEGER)`})`,
        )
        .join(', ')}) AS t(id, region, seats)`,
    );
    for (const max of [1, 3, 7, 35]) {
      const picked = await selectedBy(twoColumns, rows, max, tuples);
      expect(picked.every((p) => p.length <= max && p.length > 0)).toBe(true);
      const all = picked.flat();
      expect(all).toHaveLength(tuples.length);
      expect(new Set(all).size).toBe(tuples.length);
    }
  });

  it('MERGE keeps the latest surviving version of each key, whatever the batches (DuckDB runs MERGE too)', async () => {
    const table = '"goldgate_silver"."dynamodb__widgets"';
    const staging = '"goldgate_silver"."dynamodb__widgets__staging"';
    const columns = silverColumns(fixtureContract)
      .map(([n, t]) => `"${n}" ${t.replace('TIMESTAMP(6)', 'TIMESTAMP')}`)
      .join(', ');
    const merge = mergeStatement(config, fixtureContract).sql;
    const run = (text: string) => engine.execute({ sql: raw(text) });
    await run('CREATE SCHEMA IF NOT EXISTS goldgate_silver');
    const event = fc.record({
      key: fc.constantFrom('k1', 'k2', 'k3'),
      op: fc.constantFrom('I', 'U', 'D'),
      ts: fc.integer({ min: 0, max: 3 }),
      seq: fc.integer({ min: 0, max: 2 }),
      run: fc.constantFrom('r1', 'r2'),
    });
    type Event = { key: string; op: string; ts: number; seq: number; run: string };
    // The value is a function of the event, so two events equal in every ordering field agree.
    const kind = (e: Event) => `${e.op}${e.ts}${e.seq}${e.run}`;
    const order = (e: Event) => [e.ts, e.seq, e.op === 'D' ? 1 : 0, e.run] as const;
    const newer = (a: Event, b: Event) => {
      const [x, y] = [order(a), order(b)];
      for (let i = 0; i < x.length; i += 1) if (x[i] !== y[i]) return (x[i] as number) > (y[i] as number);
      return false;
    };
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(event, { maxLength: 6 }), { maxLength: 5 }), async (batches) => {
        await run(`CREATE OR REPLACE TABLE ${table} (${columns})`);
        await run(
          `CREATE OR REPLACE TABLE ${staging} (${columns}, "_op" VARCHAR, "_skipped" BOOLEAN, "_violation" VARCHAR)`,
        );
        // Replaying the first batch at the end must change nothing.
        for (const b of [...batches, ...batches.slice(0, 1)]) {
          await run(`DELETE FROM ${staging}`);
          if (b.length > 0) {
            const rows = b.map(
              (e) =>
                `('${e.key}', '${e.key}', '${kind(e)}', NULL, NULL, TIMESTAMP '2026-01-01 00:00:0${e.ts}', '${e.seq}', '${e.run}', TIMESTAMP '2026-01-02 00:00:00', NULL, '${e.op}', false, NULL)`,
            );
            await run(`INSERT INTO ${staging} VALUES ${rows.join(', ')}`);
          }
          await engine.execute({ sql: merge });
        }
        const latest = new Map<string, Event>();
        for (const e of batches.flat()) {
          const held = latest.get(e.key);
          if (!held || newer(e, held)) latest.set(e.key, e);
        }
        const { rows } = await engine.query({
          sql: raw(`SELECT "_key", "kind", "_deleted" FROM ${table} ORDER BY "_key"`),
        });
        expect(rows).toEqual(
          [...latest.values()]
            .sort((a, b) => (a.key < b.key ? -1 : 1))
            .map((e) => ({ _key: e.key, kind: kind(e), _deleted: e.op === 'D' })),
        );
      }),
      { numRuns: 60 },
    );
  });

  it('refuses values whose order it cannot know', () => {
    const dated: MartDef = {
      ...monthly,
      partitionBy: ['day'],
      columns: [{ name: 'day', sqlType: 'DATE', apiType: 'Date', nullable: false, description: 'Day.' }],
    };
    expect(() => planPartitionBatches(dated, [['2026-1-2']])).toThrow(TypeError);
    expect(() => planPartitionBatches(monthly, [['a', 'b']])).toThrow(TypeError);
  });
});

describe('values outside WHERE clauses become literals', () => {
  it('keeps placeholders of WHERE clauses, inlines the rest', () => {
    const statement = sql`WITH a AS (SELECT ${'x'} AS tag, count(*) FILTER (WHERE k = ${1}) AS n FROM t WHERE d <= CAST(${'2026-11-21'} AS DATE))
SELECT '?' AS q, "?" AS r, -- a ? in a comment
  CASE WHEN z IN (${['p', "o'k"]}) THEN ${1.5} END AS c
FROM a JOIN b ON b.id = ${'j'} CROSS JOIN (VALUES (${true}, ${null})) AS v(x, y)
WHERE a.n > ${2n} AND a.tag IN (SELECT ${'s'} FROM u WHERE u.k = ${'w'}) AND a.tag IN (${'i1'}, ${'i2'})
GROUP BY 1 HAVING count(*) > ${3} ORDER BY 1 LIMIT ${10}`;
    const bound = bindInWhereOnly(statement);
    expect(bound.params).toEqual(['2026-11-21', 2n, 'w', 'i1', 'i2']);
    expect(
      bound.text,
    ).toBe(`WITH a AS (SELECT 'x' AS tag, count(*) FILTER (WHERE k = 1) AS n FROM t WHERE d <= CAST(? AS DATE))
SELECT '?' AS q, "?" AS r, -- a ? in a comment
  CASE WHEN z IN (ARRAY['p', 'o''k']) THEN 1.5E0 END AS c
FROM a JOIN b ON b.id = 'j' CROSS JOIN (VALUES (TRUE, NULL)) AS v(x, y)
WHERE a.n > ? AND a.tag IN (SELECT 's' FROM u WHERE u.k = ?) AND a.tag IN (?, ?)
GROUP BY 1 HAVING count(*) > 3 ORDER BY 1 LIMIT 10`);
    expect(placeholders(bound.text)).toEqual({ total: 5, outsideWhere: 0 });
  });

  it('writes literals Trino reads back as the same values', () => {
    expect(trinoLiteral("O'Brien; DROP TABLE x; --")).toBe("'O''Brien; DROP TABLE x; --'");
    expect(trinoLiteral(-3)).toBe('-3');
    expect(() => trinoLiteral(Number.NaN)).toThrow(TypeError);
    expect(() => bindInWhereOnly({ text: 'SELECT ?', params: [] })).toThrow(TypeError);
  });
});

describe('safety of the generated text', () => {
  it('writes literals only for values that cannot break out of them', () => {
    expect(() => literal("it's")).toThrow(TypeError);
    expect(() => literal('a\\b')).toThrow(TypeError);
    expect(literal('$.billing_address.country').text).toBe("'$.billing_address.country'");
  });

  it('validates the deployment settings', () => {
    const base = {
      bronzeDb: 'b',
      silverDb: 's',
      goldDb: 'g',
      quarantineDb: 'q',
      locations: {
        bronze: 's3://bkt-a/',
        silver: 's3://bkt-b/',
        gold: 's3://bkt-c/',
        quarantine: 's3://bkt-d/',
      },
    };
    expect(() => defineAthenaConfig({ ...base, goldDb: 'Gold' })).toThrow(TypeError);
    expect(() =>
      defineAthenaConfig({ ...base, locations: { ...base.locations, gold: "s3://bkt-c/x'y/" } }),
    ).toThrow(TypeError);
    expect(() => defineAthenaConfig({ ...base, bronzeProjectionStart: 'yesterday' })).toThrow(TypeError);
  });

  it('a merge needs something to merge; run ids and dates are checked', () => {
    expect(() =>
      stageStatement(config, fixtureContract, { ...batch, bronzeRuns: [], quarantineRuns: [] }),
    ).toThrow(TypeError);
    expect(() =>
      silverMergeStatements(config, fixtureContract, { ...batch, runId: "x'; DROP TABLE t; --" }),
    ).toThrow();
  });

  it('setup can skip tables that exist (Athena CTAS has no IF NOT EXISTS)', () => {
    const q = existingTablesQuery(config);
    expect(syntaxErrors(q)).toEqual([]);
    expect(q.sql.params).toEqual([
      'goldgate_bronze',
      'goldgate_silver',
      'goldgate_gold',
      'goldgate_quarantine',
    ]);
  });
});
