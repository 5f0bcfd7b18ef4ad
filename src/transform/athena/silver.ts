import { ident, join, raw, type SqlFragment, sql } from '../../sql/fragment.js';
import { type ContractRule, contractRules } from '../contract-rules.js';
import type { EntityContract, FieldDef } from '../entities.js';
import { MAX_QUARANTINE_ATTEMPTS } from '../silver.js';
import {
  type AthenaConfig,
  type AthenaStatement,
  bronzeLocation,
  dateLiteral,
  entityTable,
  literal,
  qualified,
  quarantineLocation,
  runIdLiteral,
  silverLocation,
  stagingLocation,
} from './config.js';

/**
 * Silver on Athena: one Iceberg table per entity, kept with `MERGE INTO`, with
 * the semantics of the embedded merge (`../silver.ts`): latest version per key
 * by (`_source_ts`, `_seq`), then a delete before a change, then the later
 * run; deletes stay as tombstones (`_deleted`) so a late, older event never
 * resurrects a key; TTL expiries and keys-only images change nothing; rows
 * breaking the contract go to quarantine and are retried until condemned.
 *
 * One merge runs these statements, in order (`silverMergeStatements`):
 * 1. clear the entity's staging table;
 * 2. parse the new Bronze runs (and the retried quarantine rows) once into
 *    staging: typed columns, violations, skip flags;
 * 3. `MERGE INTO` Silver from the valid staged rows, deduplicated per key;
 * 4. and 5. append the staged violations to quarantine (open, or condemned at
 *    the last attempt).
 * Every step is safe to repeat after a crash: staging is rebuilt from the same
 * inputs, and the merge only ever moves a key forward. The checkpoint moves
 * only after step 5, as on the embedded engine.
 *
 * Bronze is read through one external table per entity whose rows are whole
 * JSON lines (`line`), so the envelope and payload are parsed by Trino's JSON
 * functions, not by a SerDe (the OpenX SerDe's results can be
 * non-deterministic, and the payload has no fixed shape). Its partitions are
 * projected, not registered: `ingest_date` as a date range and `run_id` as an
 * injected value, so a new Bronze run needs no DDL and every read must name
 * the runs it wants, which is exactly how the merge reads.
 */

/** The Bronze runs and quarantine partitions one merge applies. */
export interface SilverBatch {
  /** Committed Bronze runs not merged yet. */
  readonly bronzeRuns: readonly BronzePartition[];
  /** Open quarantine partitions whose rows are retried. */
  readonly quarantineRuns: readonly BronzePartition[];
  /** Condemned partitions an operator gave one more attempt (`goldgate quarantine retry`). */
  readonly condemnedRuns?: readonly BronzePartition[];
  /** The pipeline run writing this merge's quarantine partition. */
  readonly runId: string;
  /** The pipeline run's date (the quarantine partition's `ingest_date`). */
  readonly ingestDate: string;
}

/** One `ingest_date=.../run_id=.../` partition. */
export interface BronzePartition {
  readonly ingestDate: string;
  readonly runId: string;
}

/** Silver column types: Iceberg keeps microsecond timestamps and has no JSON type (JSON stays text). */
function silverType(f: FieldDef): string {
  if (f.sqlType === 'JSON') return 'VARCHAR';
  if (f.sqlType === 'TIMESTAMP') return 'TIMESTAMP(6)';
  return f.sqlType;
}

/** Silver's columns in table order: the key, the contract's fields, then lineage and the tombstone flag. */
export function silverColumns(
  contract: EntityContract,
): ReadonlyArray<readonly [name: string, type: string]> {
  return [
    ['_key', 'VARCHAR'],
    ...contract.fields.map((f) => [f.name, silverType(f)] as const),
    ['_source_ts', 'TIMESTAMP(6)'],
    ['_seq', 'VARCHAR'],
    ['_run_id', 'VARCHAR'],
    ['_ingested_at', 'TIMESTAMP(6)'],
    ['_deleted', 'BOOLEAN'],
  ];
}

/** The staging table's columns: one row per staged event, valid or not. */
function stagingColumns(contract: EntityContract): ReadonlyArray<readonly [name: string, type: string]> {
  return [
    ['_key', 'VARCHAR'],
    ['_op', 'VARCHAR'],
    ['_source_ts', 'TIMESTAMP(6)'],
    ['_seq', 'VARCHAR'],
    ['_run_id', 'VARCHAR'],
    ['_ingested_at', 'TIMESTAMP(6)'],
    ...contract.fields.map((f) => [f.name, silverType(f)] as const),
    ['_skipped', 'BOOLEAN'],
    ['_violation', 'VARCHAR'],
    ['_attempts', 'INTEGER'],
    ['_first_quarantined_run', 'VARCHAR'],
    // The original event as JSON text, kept only for rows that break the contract.
    ['_event', 'VARCHAR'],
  ];
}

const names = (columns: ReadonlyArray<readonly [string, string]>): string[] => columns.map(([n]) => n);
const list = (columns: readonly string[], prefix = ''): SqlFragment =>
  raw(columns.map((c) => `${prefix}${ident(c)}`).join(', '));

/** `CREATE TABLE ... WITH (...) AS SELECT CAST(NULL AS t) AS c, ... WITH NO DATA`: DDL Trino parses. */
function emptyTable(
  target: SqlFragment,
  properties: SqlFragment,
  columns: ReadonlyArray<readonly [string, string]>,
): SqlFragment {
  const select = raw(columns.map(([n, t]) => `CAST(NULL AS ${t}) AS ${ident(n)}`).join(',\n  '));
  return sql`CREATE TABLE ${target}
WITH (${properties})
AS SELECT
  ${select}
WITH NO DATA`;
}

function icebergProperties(location: string): SqlFragment {
  return sql`table_type = 'ICEBERG', is_external = false, location = ${literal(location)}, format = 'PARQUET', write_compression = 'ZSTD'`;
}

/**
 * The Bronze external table of an entity over the gzip JSONL layout, with
 * partition projection (Hive DDL: Athena runs it on its DDL engine).
 */
export function bronzeTableDdl(config: AthenaConfig, contract: EntityContract): AthenaStatement {
  const location = bronzeLocation(config, contract);
  const table = `\`${config.bronzeDb}\`.\`${entityTable(contract)}\``;
  const template = `${location}ingest_date=\${ingest_date}/run_id=\${run_id}/`;
  // One column holds the whole line: the default field delimiter (\001) never
  // appears in JSON text, where control characters are always escaped.
  return {
    label: `bronze.${contract.source}.${contract.entity}.table`,
    grammar: 'hive',
    target: { db: config.bronzeDb, table: entityTable(contract) },
    sql: sql`CREATE EXTERNAL TABLE IF NOT EXISTS ${raw(table)} (
  \`line\` string COMMENT 'one CDC event: the Bronze envelope as JSON'
)
PARTITIONED BY (\`ingest_date\` string, \`run_id\` string)
ROW FORMAT DELIMITED
STORED AS TEXTFILE
LOCATION ${literal(location)}
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.ingest_date.type' = 'date',
  'projection.ingest_date.format' = 'yyyy-MM-dd',
  'projection.ingest_date.range' = ${literal(`${config.bronzeProjectionStart},NOW`)},
  'projection.ingest_date.interval' = '1',
  'projection.ingest_date.interval.unit' = 'DAYS',
  'projection.run_id.type' = 'injected',
  'storage.location.template' = ${literal(template)}
)`,
  };
}

/** The Iceberg Silver table of an entity: typed columns, `_key`, lineage, `_deleted`. */
export function silverTableDdl(config: AthenaConfig, contract: EntityContract): AthenaStatement {
  return {
    label: `silver.${contract.source}.${contract.entity}.table`,
    grammar: 'trino',
    target: { db: config.silverDb, table: entityTable(contract) },
    sql: emptyTable(
      qualified(config.silverDb, entityTable(contract)),
      icebergProperties(silverLocation(config, contract)),
      silverColumns(contract),
    ),
  };
}

/** The Iceberg staging table of an entity (cleared and refilled by every merge). */
export function stagingTableDdl(config: AthenaConfig, contract: EntityContract): AthenaStatement {
  return {
    label: `silver.${contract.source}.${contract.entity}.staging_table`,
    grammar: 'trino',
    target: { db: config.silverDb, table: stagingTable(contract) },
    sql: emptyTable(
      qualified(config.silverDb, stagingTable(contract)),
      icebergProperties(stagingLocation(config, contract)),
      stagingColumns(contract),
    ),
  };
}

/**
 * A quarantine table (open or condemned): gzip JSON lines, one column, written
 * by INSERT INTO, which creates the `ingest_date=/run_id=` partitions.
 */
export function quarantineTableDdl(
  config: AthenaConfig,
  contract: EntityContract,
  condemned: boolean,
): AthenaStatement {
  const location = quarantineLocation(config, contract, condemned);
  return {
    label: `quarantine.${contract.source}.${contract.entity}.${condemned ? 'condemned_table' : 'table'}`,
    grammar: 'trino',
    target: { db: config.quarantineDb, table: quarantineTable(contract, condemned) },
    sql: emptyTable(
      qualified(config.quarantineDb, quarantineTable(contract, condemned)),
      sql`format = 'TEXTFILE', write_compression = 'GZIP', external_location = ${literal(location)}, partitioned_by = ARRAY['ingest_date', 'run_id']`,
      [
        ['line', 'VARCHAR'],
        ['ingest_date', 'VARCHAR'],
        ['run_id', 'VARCHAR'],
      ],
    ),
  };
}

function stagingTable(contract: EntityContract): string {
  return `${entityTable(contract)}__staging`;
}

function quarantineTable(contract: EntityContract, condemned: boolean): string {
  return condemned ? `${entityTable(contract)}__condemned` : entityTable(contract);
}

/** Every table an entity needs on Athena, in creation order. */
export function silverSetupStatements(config: AthenaConfig, contract: EntityContract): AthenaStatement[] {
  return [
    bronzeTableDdl(config, contract),
    silverTableDdl(config, contract),
    stagingTableDdl(config, contract),
    quarantineTableDdl(config, contract, false),
    quarantineTableDdl(config, contract, true),
  ];
}

/** `a IN (?, ?)` over one field of the partitions, every value bound. */
function inPartitions(
  column: string,
  partitions: readonly BronzePartition[],
  pick: (p: BronzePartition) => string,
): SqlFragment {
  const values = [...new Set(partitions.map(pick))].sort();
  return {
    text: `${ident(column)} IN (${values.map(() => '?').join(', ')})`,
    params: values,
  };
}

/**
 * Rows of the chosen partitions. Both IN lists are needed: `run_id` is an
 * injected projection (Athena computes the S3 prefixes from the values), and
 * a run id belongs to one `ingest_date`, so the pairs are exactly the runs.
 */
function partitionFilter(partitions: readonly BronzePartition[]): SqlFragment {
  return sql`${inPartitions('ingest_date', partitions, (p) => p.ingestDate)}
      AND ${inPartitions('run_id', partitions, (p) => p.runId)}`;
}

function rawName(f: FieldDef): string {
  return ident(`_raw_${f.name}`);
}

/** A field's text in the payload; JSON fields keep their JSON text (an array stays an array). */
function extractField(f: FieldDef): string {
  const path = literal(f.path).text;
  if (f.sqlType === 'JSON') return `NULLIF(json_format(json_extract("_payload", ${path})), 'null')`;
  return `NULLIF(trim(json_extract_scalar("_payload", ${path})), '')`;
}

/** An ISO-8601 instant (any offset) as a UTC TIMESTAMP(6); plain `YYYY-MM-DD HH:MM:SS` text as is. */
function utcTimestamp(expr: string): string {
  return `coalesce(try(CAST(from_iso8601_timestamp(${expr}) AT TIME ZONE 'UTC' AS TIMESTAMP(6))), try_cast(${expr} AS TIMESTAMP(6)))`;
}

function typeField(f: FieldDef): string {
  const r = rawName(f);
  if (f.sqlType === 'VARCHAR' || f.sqlType === 'JSON') return r;
  if (f.sqlType === 'TIMESTAMP') return utcTimestamp(r);
  // A number in exponent form (how a JSON parser may print a small float) is no DECIMAL literal:
  // through DOUBLE it rounds as the spelled-out number does, as on the embedded engine.
  if (f.sqlType.startsWith('DECIMAL')) {
    return `CASE WHEN ${r} LIKE '%e%' OR ${r} LIKE '%E%' THEN try_cast(try_cast(${r} AS DOUBLE) AS ${f.sqlType}) ELSE try_cast(${r} AS ${f.sqlType}) END`;
  }
  return `try_cast(${r} AS ${f.sqlType})`;
}

/**
 * The condition under which a staged row breaks a rule (Trino). Trino's
 * try_cast of a fraction to a whole-number type fails, so `not_of_type` needs
 * no pattern, unlike DuckDB's.
 */
function ruleCondition(rule: ContractRule): string {
  const live = `"_op" <> 'D'`;
  switch (rule.kind) {
    case 'missing_key':
      return `"_key" IS NULL OR "_key" = ''`;
    case 'unknown_op':
      return `"_op" IS NULL OR "_op" NOT IN ('I', 'U', 'D')`;
    case 'bad_source_ts':
      return `"_source_ts" IS NULL`;
    case 'not_of_type':
      return `${rawName(rule.field)} IS NOT NULL AND ${ident(rule.field.name)} IS NULL`;
    case 'missing_field':
      return `${live} AND ${rawName(rule.field)} IS NULL`;
    case 'unknown_value': {
      const t = ident(rule.field.name);
      const allowed = rule.values.map((v) => literal(v).text).join(', ');
      return `${live} AND ${t} IS NOT NULL AND ${t} NOT IN (${allowed})`;
    }
    case 'negative':
      return `${live} AND ${ident(rule.field.name)} < 0`;
  }
}

/** One CASE per rule, naming the rule's code when a row breaks it (the embedded merge lists the same). */
function violationCases(contract: EntityContract): string[] {
  return contractRules(contract).map(
    (rule) => `CASE WHEN ${ruleCondition(rule)} THEN ${literal(rule.code).text} END`,
  );
}

/** Clear the staging table before a merge (a crashed merge may have left rows). */
export function clearStagingStatement(config: AthenaConfig, contract: EntityContract): AthenaStatement {
  return {
    label: `silver.${contract.source}.${contract.entity}.clear_staging`,
    grammar: 'trino',
    sql: sql`DELETE FROM ${qualified(config.silverDb, stagingTable(contract))}`,
  };
}

/**
 * Parse the batch's events once into staging: the envelope, typed fields,
 * skip flags, violations, attempt counts. Partition values are bound
 * parameters in WHERE clauses, the only place Athena accepts them.
 */
export function stageStatement(
  config: AthenaConfig,
  contract: EntityContract,
  batch: SilverBatch,
): AthenaStatement {
  const sources: SqlFragment[] = [];
  if (batch.bronzeRuns.length > 0) {
    sources.push(sql`SELECT line AS "_line", 0 AS "_attempts", CAST(NULL AS VARCHAR) AS "_first_quarantined_run"
    FROM ${qualified(config.bronzeDb, entityTable(contract))}
    WHERE ${partitionFilter(batch.bronzeRuns)}`);
  }
  const quarantined = [
    [batch.quarantineRuns, false],
    [batch.condemnedRuns ?? [], true],
  ] as const;
  for (const [runs, condemned] of quarantined) {
    if (runs.length === 0) continue;
    sources.push(sql`SELECT json_format(json_extract(line, '$.event')) AS "_line",
      coalesce(try_cast(json_extract_scalar(line, '$.attempt_count') AS INTEGER), 0) AS "_attempts",
      json_extract_scalar(line, '$.first_quarantined_run') AS "_first_quarantined_run"
    FROM ${qualified(config.quarantineDb, quarantineTable(contract, condemned))}
    WHERE ${partitionFilter(runs)}`);
  }
  if (sources.length === 0) throw new TypeError('a Silver batch needs Bronze runs or quarantine partitions');
  const extracted = raw(contract.fields.map((f) => `${extractField(f)} AS ${rawName(f)}`).join(',\n    '));
  const typed = raw(contract.fields.map((f) => `${typeField(f)} AS ${ident(f.name)}`).join(',\n    '));
  const checks = raw(violationCases(contract).join(',\n      '));
  const columns = names(stagingColumns(contract));
  return {
    label: `silver.${contract.source}.${contract.entity}.stage`,
    grammar: 'trino',
    sql: sql`INSERT INTO ${qualified(config.silverDb, stagingTable(contract))} (${list(columns)})
WITH events AS (
    ${join(sources, '\n    UNION ALL\n    ')}
),
envelope AS (
  SELECT "_line", "_attempts", "_first_quarantined_run",
    json_extract_scalar("_line", '$.key') AS "_key",
    json_extract_scalar("_line", '$.op') AS "_op",
    json_extract_scalar("_line", '$.source_ts') AS "_source_ts_text",
    json_extract_scalar("_line", '$.seq') AS "_seq",
    json_extract_scalar("_line", '$.run_id') AS "_run_id",
    json_extract_scalar("_line", '$.ingested_at') AS "_ingested_at_text",
    json_extract("_line", '$.payload') AS "_payload",
    coalesce(try_cast(json_extract_scalar("_line", '$.meta.ttl_expiry') AS BOOLEAN), false) AS "_ttl_expiry",
    coalesce(try_cast(json_extract_scalar("_line", '$.meta.keys_only') AS BOOLEAN), false) AS "_keys_only"
  FROM events
),
extracted AS (
  SELECT *,
    ${extracted}
  FROM envelope
),
typed AS (
  SELECT *,
    ${raw(utcTimestamp('"_source_ts_text"'))} AS "_source_ts",
    ${raw(utcTimestamp('"_ingested_at_text"'))} AS "_ingested_at",
    -- A TTL expiry or a keys-only image is not a business change.
    ("_ttl_expiry" OR ("_keys_only" AND coalesce("_op", '') <> 'D')) AS "_skipped",
    ${typed}
  FROM extracted
),
checked AS (
  SELECT *,
    CASE WHEN "_skipped" THEN NULL ELSE NULLIF(concat_ws(';',
      ${checks}
    ), '') END AS "_violation"
  FROM typed
)
SELECT ${list(columns.filter((c) => c !== '_event'))},
  CASE WHEN "_violation" IS NULL THEN NULL ELSE "_line" END AS "_event"
FROM checked`,
  };
}

/**
 * The newer-than test of the embedded dedup, as a predicate on (source, target):
 * (`_source_ts`, `_seq`, `_deleted`, `_run_id`) compared in that order.
 */
const NEWER = `s."_source_ts" > t."_source_ts"
    OR (s."_source_ts" = t."_source_ts" AND (s."_seq" > t."_seq"
      OR (s."_seq" = t."_seq" AND ((s."_deleted" AND NOT t."_deleted")
        OR (s."_deleted" = t."_deleted" AND s."_run_id" > t."_run_id")))))`;

/**
 * `MERGE INTO` Silver from the valid staged rows, latest per key. Athena has
 * no `UPDATE SET *` / `INSERT *`, so every column is listed; a delete updates
 * or inserts a tombstone, so an older event arriving later cannot bring the
 * key back. No values at all: Athena binds no parameters in MERGE.
 */
export function mergeStatement(config: AthenaConfig, contract: EntityContract): AthenaStatement {
  const columns = names(silverColumns(contract));
  const updates = raw(
    columns
      .filter((c) => c !== '_key')
      .map((c) => `${ident(c)} = s.${ident(c)}`)
      .join(',\n    '),
  );
  return {
    label: `silver.${contract.source}.${contract.entity}.merge`,
    grammar: 'trino',
    sql: sql`MERGE INTO ${qualified(config.silverDb, entityTable(contract))} AS t
USING (
  SELECT ${list(columns)}
  FROM (
    SELECT ${list(columns)},
      row_number() OVER (PARTITION BY "_key" ORDER BY "_source_ts" DESC, "_seq" DESC, "_deleted" DESC, "_run_id" DESC) AS "_rank"
    FROM (
      SELECT ${list(columns.filter((c) => c !== '_deleted'))}, "_op" = 'D' AS "_deleted"
      FROM ${qualified(config.silverDb, stagingTable(contract))}
      WHERE NOT "_skipped" AND "_violation" IS NULL
    ) AS valid
  ) AS ranked
  WHERE "_rank" = 1
) AS s
ON t."_key" = s."_key"
WHEN MATCHED AND (${raw(NEWER)}) THEN UPDATE SET
    ${updates}
WHEN NOT MATCHED THEN INSERT (${list(columns)})
  VALUES (${list(columns, 's.')})`,
  };
}

/**
 * Append the staged violations to quarantine: open rows (attempts left) or
 * condemned ones (the last attempt failed). Each line is the JSON object the
 * embedded engine writes: `event`, `reason_code`, `reason`, `attempt_count`,
 * `first_quarantined_run`. The partition values sit in the SELECT list, where
 * Athena takes no placeholder: they are the validated run id and date.
 */
export function quarantineStatement(
  config: AthenaConfig,
  contract: EntityContract,
  batch: SilverBatch,
  condemned: boolean,
): AthenaStatement {
  const run = runIdLiteral(batch.runId);
  const attempts = raw(`"_attempts" + 1 ${condemned ? '>=' : '<'} ${MAX_QUARANTINE_ATTEMPTS}`);
  return {
    label: `silver.${contract.source}.${contract.entity}.${condemned ? 'condemn' : 'quarantine'}`,
    grammar: 'trino',
    sql: sql`INSERT INTO ${qualified(config.quarantineDb, quarantineTable(contract, condemned))} ("line", "ingest_date", "run_id")
SELECT json_format(CAST(MAP(
    ARRAY['event', 'reason_code', 'reason', 'attempt_count', 'first_quarantined_run'],
    ARRAY[
      json_parse("_event"),
      CAST(split_part(split_part("_violation", ';', 1), ':', 1) AS JSON),
      CAST("_violation" AS JSON),
      CAST("_attempts" + 1 AS JSON),
      CAST(coalesce("_first_quarantined_run", ${run}) AS JSON)
    ]) AS JSON)) AS "line",
  ${dateLiteral(batch.ingestDate)} AS "ingest_date",
  ${run} AS "run_id"
FROM ${qualified(config.silverDb, stagingTable(contract))}
WHERE "_violation" IS NOT NULL AND ${attempts}`,
  };
}

/** Every statement of one Silver merge, in order; the checkpoint moves after the last. */
export function silverMergeStatements(
  config: AthenaConfig,
  contract: EntityContract,
  batch: SilverBatch,
): AthenaStatement[] {
  return [
    clearStagingStatement(config, contract),
    stageStatement(config, contract, batch),
    mergeStatement(config, contract),
    quarantineStatement(config, contract, batch, false),
    quarantineStatement(config, contract, batch, true),
  ];
}

/**
 * The counts that reconcile the staged events with Silver after the merge,
 * with the column names of the embedded reconciliation.
 */
export function reconcileQuery(config: AthenaConfig, contract: EntityContract): AthenaStatement {
  const staged = qualified(config.silverDb, stagingTable(contract));
  const silver = qualified(config.silverDb, entityTable(contract));
  const max = raw(String(MAX_QUARANTINE_ATTEMPTS));
  return {
    label: `silver.${contract.source}.${contract.entity}.reconcile`,
    grammar: 'trino',
    sql: sql`SELECT
  (SELECT count(*) FROM ${staged}) AS events_in,
  (SELECT count(*) FROM ${staged} WHERE "_skipped") AS skipped,
  (SELECT count(*) FROM ${staged} WHERE "_violation" IS NOT NULL AND "_attempts" + 1 < ${max}) AS quarantined,
  (SELECT count(*) FROM ${staged} WHERE "_violation" IS NOT NULL AND "_attempts" + 1 >= ${max}) AS condemned,
  (SELECT count(*) FROM ${staged} WHERE "_attempts" > 0 AND "_violation" IS NULL) AS recovered,
  (SELECT count(*) FROM (SELECT DISTINCT "_key" FROM ${staged} WHERE NOT "_skipped" AND "_violation" IS NULL) AS k
     WHERE NOT EXISTS (SELECT 1 FROM ${silver} AS s WHERE s."_key" = k."_key")) AS keys_missing,
  (SELECT count(*) FROM ${silver} WHERE NOT "_deleted") AS live_rows,
  (SELECT count(*) FROM ${silver} WHERE "_deleted") AS tombstones,
  (SELECT count(*) - count(DISTINCT "_key") FROM ${silver}) AS duplicate_keys`,
  };
}

/**
 * The live rows of an entity's Silver table, for Gold models. With a snapshot
 * id (from `silverSnapshotQuery`), every statement of a Gold run reads the
 * same Silver version.
 */
export function silverRelation(
  config: AthenaConfig,
  contract: EntityContract,
  snapshotId?: string,
): SqlFragment {
  if (snapshotId !== undefined && !/^-?\d{1,19}$/.test(snapshotId)) {
    throw new TypeError(`not an Iceberg snapshot id: ${JSON.stringify(snapshotId)}`);
  }
  // FOR VERSION AS OF takes no placeholder; the id was checked to be an integer.
  const version = snapshotId === undefined ? '' : ` FOR VERSION AS OF ${snapshotId}`;
  return sql`(SELECT * FROM ${qualified(config.silverDb, entityTable(contract))}${raw(version)} WHERE NOT "_deleted")`;
}

/** The entity's Silver columns with no rows: what Gold reads before a version was ever published. */
export function emptySilverRelation(config: AthenaConfig, contract: EntityContract): SqlFragment {
  return sql`(SELECT * FROM ${qualified(config.silverDb, entityTable(contract))} WHERE FALSE)`;
}

/** The newest `_source_ts` of one Silver version, tombstones included (a delete is a change). */
export function newestSourceQuery(
  config: AthenaConfig,
  contract: EntityContract,
  snapshotId?: string,
): AthenaStatement {
  if (snapshotId !== undefined && !/^-?\d{1,19}$/.test(snapshotId)) {
    throw new TypeError(`not an Iceberg snapshot id: ${JSON.stringify(snapshotId)}`);
  }
  const version = snapshotId === undefined ? '' : ` FOR VERSION AS OF ${snapshotId}`;
  return {
    label: `lineage.${contract.source}.${contract.entity}`,
    grammar: 'trino',
    sql: sql`SELECT max("_source_ts") AS newest FROM ${qualified(config.silverDb, entityTable(contract))}${raw(version)}`,
  };
}

/** The current snapshot id of an entity's Silver table (null while it has none). */
export function silverSnapshotQuery(config: AthenaConfig, contract: EntityContract): AthenaStatement {
  // `ident` checks the table name; the `$snapshots` suffix is Athena's metadata table.
  const table = ident(entityTable(contract)).slice(1, -1);
  const snapshots = raw(`${ident(config.silverDb)}."${table}$snapshots"`);
  return {
    label: `silver.${contract.source}.${contract.entity}.snapshot`,
    grammar: 'trino',
    sql: sql`SELECT CAST(max_by(snapshot_id, committed_at) AS VARCHAR) AS snapshot_id FROM ${snapshots}`,
  };
}
