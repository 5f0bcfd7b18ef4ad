import type { ObjectStore } from '../adapters/object-store/port.js';
import type { QueryEngine } from '../adapters/query-engine/port.js';
import { quarantineKey, runPrefix, silverDataset } from '../lake/layout.js';
import type { CheckResult } from '../lake/publish.js';
import { ident, join, raw, type SqlFragment, sql } from '../sql/fragment.js';
import type { EntityContract, FieldDef } from './entities.js';

/**
 * Silver merge on the embedded engine. A Silver version is a full snapshot
 * (`data.parquet`): the previous snapshot plus the new Bronze events, latest
 * per key by (`source_ts`, `seq`). Deleted keys stay as tombstone rows
 * (`_deleted = true`) so that a late, older event can never resurrect them;
 * readers see only live rows through `silverRelation`.
 */

/**
 * Every file read names its options: with DuckDB's default hive partitioning,
 * a `key=value` folder anywhere in the path (`run_id=...`, or a user's
 * `region=eu/` above the lake) would become a column and could overwrite one.
 */
function readParquet(location: string): SqlFragment {
  return sql`read_parquet(${location}, hive_partitioning = false)`;
}

function readBronze(files: readonly string[]): SqlFragment {
  return sql`read_json(${files}, format = 'newline_delimited', compression = 'gzip', hive_partitioning = false, columns = ${raw(BRONZE_COLUMNS)})`;
}

const BRONZE_COLUMNS =
  "{key: 'VARCHAR', op: 'VARCHAR', source_ts: 'VARCHAR', seq: 'VARCHAR', run_id: 'VARCHAR', " +
  "ingested_at: 'VARCHAR', payload: 'JSON', meta: 'JSON'}";

/** Bronze events of some runs, typed by the entity contract, each with its violations (if any). */
function typedEvents(contract: EntityContract, bronzeFiles: readonly string[]): SqlFragment {
  const extracted = join(
    contract.fields.map(
      (f) => sql`NULLIF(TRIM(json_extract_string(payload, ${f.path})), '') AS ${raw(rawName(f))}`,
    ),
    ',\n      ',
  );
  const typed = join(
    contract.fields.map((f) => raw(`TRY_CAST(${rawName(f)} AS ${f.sqlType}) AS ${ident(f.name)}`)),
    ',\n      ',
  );
  const checks = join(contract.fields.flatMap(violationChecks), ',\n        ');
  return sql`raw_events AS (
    SELECT key AS _key, op AS _op, source_ts, seq, run_id, ingested_at, payload
    FROM ${readBronze(bronzeFiles)}
    WHERE NOT coalesce(TRY_CAST(json_extract(meta, '$.ttl_expiry') AS BOOLEAN), false)
  ),
  extracted AS (
    SELECT *,
      ${extracted}
    FROM raw_events
  ),
  typed AS (
    SELECT _key, _op, payload, source_ts, seq, run_id,
      CAST(source_ts AS TIMESTAMP) AS _source_ts, seq AS _seq, run_id AS _run_id,
      CAST(ingested_at AS TIMESTAMP) AS _ingested_at,
      ${typed},
      NULLIF(concat_ws(';',
        CASE WHEN _key IS NULL OR _key = '' THEN 'MISSING_KEY' END,
        CASE WHEN _op NOT IN ('I', 'U', 'D') THEN 'UNKNOWN_OP' END,
        ${checks}
      ), '') AS _violation
    FROM extracted
  )`;
}

function rawName(f: FieldDef): string {
  return `"_raw_${f.name}"`;
}

/** SQL CASE expressions naming each way a live row can break the contract. */
function violationChecks(f: FieldDef): SqlFragment[] {
  const r = rawName(f);
  const t = ident(f.name);
  const live = "_op <> 'D'";
  const out: SqlFragment[] = [
    raw(`CASE WHEN ${r} IS NOT NULL AND ${t} IS NULL THEN 'TYPE_MISMATCH:${f.name}' END`),
  ];
  if (f.required) out.push(raw(`CASE WHEN ${live} AND ${r} IS NULL THEN 'MISSING_FIELD:${f.name}' END`));
  if (f.values) {
    out.push(
      sql`CASE WHEN ${raw(`${live} AND ${t} IS NOT NULL AND`)} NOT list_contains(${f.values}, ${raw(t)}) THEN ${raw(`'UNKNOWN_ENUM:${f.name}'`)} END`,
    );
  }
  if (f.nonNegative) out.push(raw(`CASE WHEN ${live} AND ${t} < 0 THEN 'NEGATIVE_AMOUNT:${f.name}' END`));
  return out;
}

function fieldList(contract: EntityContract): string {
  return contract.fields.map((f) => ident(f.name)).join(', ');
}

/** The statement writing the next Silver snapshot. */
export function silverMergeStatement(input: {
  readonly contract: EntityContract;
  readonly bronzeFiles: readonly string[];
  /** The previous snapshot's Parquet location, if any. */
  readonly previous: string | undefined;
  readonly output: string;
}): SqlFragment {
  const fields = raw(fieldList(input.contract));
  const previous = input.previous
    ? sql`SELECT _key, ${fields}, _source_ts, _seq, _run_id, _ingested_at, _deleted FROM ${readParquet(input.previous)}
      UNION ALL BY NAME `
    : sql``;
  return sql`COPY (
  WITH ${typedEvents(input.contract, input.bronzeFiles)},
  candidates AS (
    ${previous}SELECT _key, ${fields}, _source_ts, _seq, _run_id, _ingested_at, _op = 'D' AS _deleted
    FROM typed WHERE _violation IS NULL
  )
  SELECT _key, ${fields}, _source_ts, _seq, _run_id, _ingested_at, _deleted
  FROM candidates
  QUALIFY row_number() OVER (PARTITION BY _key ORDER BY _source_ts DESC, _seq DESC, _deleted DESC) = 1
  ORDER BY _key
) TO ${input.output} (FORMAT parquet)`;
}

/** The statement writing rows that broke the contract, with their reason codes. */
export function quarantineStatement(input: {
  readonly contract: EntityContract;
  readonly bronzeFiles: readonly string[];
  readonly output: string;
}): SqlFragment {
  return sql`COPY (
  WITH ${typedEvents(input.contract, input.bronzeFiles)}
  SELECT json_object('source', ${input.contract.source}, 'entity', ${input.contract.entity}, 'key', _key, 'op', _op,
           'source_ts', source_ts, 'seq', seq, 'run_id', run_id, 'payload', payload) AS event,
         split_part(split_part(_violation, ';', 1), ':', 1) AS reason_code,
         _violation AS reason,
         1 AS attempt_count
  FROM typed WHERE _violation IS NOT NULL
  ORDER BY _key, _seq
) TO ${input.output} (FORMAT json, COMPRESSION gzip)`;
}

/** Counts that reconcile Bronze with the new snapshot. */
function reconcileQuery(
  contract: EntityContract,
  bronzeFiles: readonly string[],
  output: string,
): SqlFragment {
  return sql`WITH ${typedEvents(contract, bronzeFiles)},
  snapshot AS (SELECT _key, _deleted FROM ${readParquet(output)})
  SELECT
    (SELECT count(*) FROM ${readBronze(bronzeFiles)}) AS events_in,
    (SELECT count(*) FROM typed) AS events_typed,
    (SELECT count(*) FROM typed WHERE _violation IS NOT NULL) AS quarantined,
    (SELECT count(*) FROM (SELECT DISTINCT _key FROM typed WHERE _violation IS NULL) k
       WHERE k._key NOT IN (SELECT _key FROM snapshot)) AS keys_missing,
    (SELECT count(*) FROM snapshot WHERE NOT _deleted) AS live_rows,
    (SELECT count(*) FROM snapshot WHERE _deleted) AS tombstones,
    (SELECT count(*) - count(DISTINCT _key) FROM snapshot) AS duplicate_keys`;
}

/** What a Silver merge did. */
export interface SilverMergeResult {
  readonly eventsIn: number;
  readonly ttlSkipped: number;
  readonly quarantined: number;
  readonly liveRows: number;
  readonly tombstones: number;
  readonly checks: CheckResult[];
  readonly quarantineKey: string | undefined;
}

/**
 * Write the next Silver snapshot of an entity under `runId` (not yet
 * published), and quarantine what breaks the contract.
 */
export async function mergeSilver(input: {
  readonly store: ObjectStore;
  readonly engine: QueryEngine;
  readonly contract: EntityContract;
  readonly bronzeKeys: readonly string[];
  readonly previousPrefix: string | undefined;
  readonly runId: string;
  readonly ingestDate: string;
}): Promise<SilverMergeResult> {
  const { store, engine, contract, runId } = input;
  const dataset = silverDataset(contract.source, contract.entity);
  const prefix = runPrefix(dataset, runId);
  const output = `${await store.prepareWrite(prefix)}/data.parquet`;
  const bronzeFiles = input.bronzeKeys.map((key) => store.locationOf(key));
  const previous = input.previousPrefix
    ? `${store.locationOf(input.previousPrefix)}/data.parquet`
    : undefined;
  const label = `silver.${contract.source}.${contract.entity}`;

  await engine.execute({ sql: silverMergeStatement({ contract, bronzeFiles, previous, output }), label });
  const { rows } = await engine.query({
    sql: reconcileQuery(contract, bronzeFiles, output),
    label: `${label}.reconcile`,
  });
  const r = rows[0] ?? {};
  const n = (v: unknown): number => Number(v ?? 0);
  const eventsIn = n(r.events_in);
  const typedCount = n(r.events_typed);
  const quarantined = n(r.quarantined);

  let qKey: string | undefined;
  if (quarantined > 0) {
    qKey = quarantineKey({
      source: contract.source,
      entity: contract.entity,
      ingestDate: input.ingestDate,
      runId,
    });
    const qPrefix = qKey.slice(0, qKey.lastIndexOf('/') + 1);
    const qOut = `${await store.prepareWrite(qPrefix)}/rows.jsonl.gz`;
    await engine.execute({
      sql: quarantineStatement({ contract, bronzeFiles, output: qOut }),
      label: `${label}.quarantine`,
    });
  }
  const checks: CheckResult[] = [
    {
      name: 'every_valid_event_key_reaches_silver',
      blocking: true,
      passed: n(r.keys_missing) === 0,
      detail: `${n(r.keys_missing)} keys missing`,
    },
    {
      name: 'unique_key',
      blocking: true,
      passed: n(r.duplicate_keys) === 0,
      detail: `${n(r.duplicate_keys)} duplicates`,
    },
  ];
  return {
    eventsIn,
    ttlSkipped: eventsIn - typedCount,
    quarantined,
    liveRows: n(r.live_rows),
    tombstones: n(r.tombstones),
    checks,
    quarantineKey: qKey,
  };
}

/** A relation of the live rows of one published Silver snapshot (embedded engine). */
export function silverRelation(store: ObjectStore, snapshotPrefix: string): SqlFragment {
  return sql`(SELECT * FROM ${readParquet(`${store.locationOf(snapshotPrefix)}/data.parquet`)} WHERE NOT _deleted)`;
}

/** The relation of an entity that has no Silver version yet: its typed columns, no rows. */
export function emptySilverRelation(contract: EntityContract): SqlFragment {
  const columns = contract.fields.map((f) => `CAST(NULL AS ${f.sqlType}) AS ${ident(f.name)}`).join(', ');
  return raw(
    `(SELECT CAST(NULL AS VARCHAR) AS _key, ${columns}, CAST(NULL AS TIMESTAMP) AS _source_ts, CAST(NULL AS VARCHAR) AS _seq, FALSE AS _deleted WHERE FALSE)`,
  );
}
