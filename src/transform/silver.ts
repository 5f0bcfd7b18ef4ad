import type { ObjectStore } from '../adapters/object-store/port.js';
import type { QueryEngine } from '../adapters/query-engine/port.js';
import { condemnedKey, quarantineKey, runPrefix, silverDataset } from '../lake/layout.js';
import type { CheckResult } from '../lake/publish.js';
import { ident, join, raw, type SqlFragment, sql } from '../sql/fragment.js';
import type { EntityContract, FieldDef } from './entities.js';

/**
 * Silver merge on the embedded engine. A Silver version is a full snapshot
 * (`data.parquet`): the previous snapshot plus the new Bronze events, latest
 * per key by (`source_ts`, `seq`). Deleted keys stay as tombstone rows
 * (`_deleted = true`) so that a late, older event can never resurrect them;
 * readers see only live rows through `silverRelation`.
 *
 * New events are parsed once into a typed table inside the engine (scratch of
 * this merge, dropped at its end): the merge, the reconciliation counts and
 * quarantine all read it from memory instead of re-reading JSON or a file.
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

/** Quarantine rows keep the original event nested (`lake.md`), with their attempt count. */
const QUARANTINE_COLUMNS =
  "{event: 'STRUCT(key VARCHAR, op VARCHAR, source_ts VARCHAR, seq VARCHAR, run_id VARCHAR, ingested_at VARCHAR, payload JSON, meta JSON)', " +
  "attempt_count: 'INTEGER', first_quarantined_run: 'VARCHAR'}";

/** Where one merge reads its events from. */
export interface SilverSources {
  /** Bronze parts not merged yet. */
  readonly bronzeFiles: readonly string[];
  /** Open quarantine files whose rows are retried. */
  readonly quarantineFiles: readonly string[];
}

/**
 * The new events of a merge, typed by the entity contract, each with its
 * violations (if any), its attempt count and whether it is skipped (a TTL
 * expiry or a keys-only image: neither is a business change).
 */
function stagingQuery(contract: EntityContract, sources: SilverSources, runId: string): SqlFragment {
  // One call with every path parses the payload once; a call per field would parse it per field.
  const paths = contract.fields.map((f) => f.path);
  const extracted = raw(
    contract.fields.map((f, i) => `NULLIF(TRIM(_raw_all[${i + 1}]), '') AS ${rawName(f)}`).join(',\n      '),
  );
  const typed = join(
    contract.fields.map((f) => raw(`${typedValue(f)} AS ${ident(f.name)}`)),
    ',\n      ',
  );
  const checks = join(contract.fields.flatMap(violationChecks), ',\n        ');
  const parts: SqlFragment[] = [];
  if (sources.bronzeFiles.length > 0) {
    parts.push(sql`SELECT key, op, source_ts, seq, run_id, ingested_at, payload, meta,
        0 AS attempt_count, CAST(NULL AS VARCHAR) AS first_quarantined_run
      FROM ${readBronze(sources.bronzeFiles)}`);
  }
  if (sources.quarantineFiles.length > 0) {
    parts.push(sql`SELECT event.key, event.op, event.source_ts, event.seq, event.run_id, event.ingested_at,
        event.payload, event.meta, attempt_count, first_quarantined_run
      FROM read_json(${sources.quarantineFiles}, format = 'newline_delimited', compression = 'gzip',
        hive_partitioning = false, columns = ${raw(QUARANTINE_COLUMNS)})`);
  }
  return sql`WITH raw_events AS (
    ${join(parts, '\n    UNION ALL\n    ')}
  ),
  parsed AS (SELECT *, json_extract_string(payload, ${paths}) AS _raw_all FROM raw_events),
  extracted AS (
    SELECT * EXCLUDE (_raw_all),
      coalesce(TRY_CAST(json_extract(meta, '$.ttl_expiry') AS BOOLEAN), false)
        OR (coalesce(TRY_CAST(json_extract(meta, '$.keys_only') AS BOOLEAN), false) AND op <> 'D') AS _skipped,
      ${extracted}
    FROM parsed
  ),
  typed AS (
    SELECT *,
      ${typed}
    FROM extracted
  ),
  checked AS (
    SELECT *,
      CASE WHEN _skipped THEN NULL ELSE NULLIF(concat_ws(';',
        CASE WHEN key IS NULL OR key = '' THEN 'MISSING_KEY' END,
        CASE WHEN op IS NULL OR op NOT IN ('I', 'U', 'D') THEN 'UNKNOWN_OP' END,
        CASE WHEN TRY_CAST(source_ts AS TIMESTAMP) IS NULL THEN 'TYPE_MISMATCH:source_ts' END,
        ${checks}
      ), '') END AS _violation
    FROM typed
  )
  SELECT key AS _key, op AS _op,
    -- TRY_: an unparsable source_ts is a violation to quarantine, not a failed merge.
    TRY_CAST(source_ts AS TIMESTAMP) AS _source_ts, seq AS _seq, run_id AS _run_id,
    TRY_CAST(ingested_at AS TIMESTAMP) AS _ingested_at,
    ${raw(contract.fields.map((f) => ident(f.name)).join(', '))},
    _skipped,
    _violation,
    attempt_count AS _attempts,
    coalesce(first_quarantined_run, ${runId}) AS _first_quarantined_run,
    -- The original event travels with rows that may be quarantined; valid rows drop it.
    CASE WHEN _violation IS NULL THEN NULL ELSE
      json_object('source', ${contract.source}, 'entity', ${contract.entity}, 'key', key, 'op', op, 'source_ts', source_ts, 'seq', seq, 'run_id', run_id,
                  'ingested_at', ingested_at, 'payload', payload, 'meta', meta) END AS _event
  FROM checked`;
}

/**
 * The typed value of a field. Timestamps go through TIMESTAMPTZ so that an
 * offset (`+0530`) is applied; a plain cast to TIMESTAMP would drop it. The
 * session time zone is UTC, so the result is the UTC instant.
 */
function typedValue(f: FieldDef): string {
  // The instant's epoch is zone-free arithmetic; a TIMESTAMPTZ -> TIMESTAMP cast goes through the
  // ICU calendar per row. Only infinities have no epoch: they take the cast.
  const tz = `TRY_CAST(${rawName(f)} AS TIMESTAMPTZ)`;
  return f.sqlType === 'TIMESTAMP'
    ? `coalesce(make_timestamp(epoch_us(${tz})), CAST(${tz} AS TIMESTAMP))`
    : `TRY_CAST(${rawName(f)} AS ${f.sqlType})`;
}

function rawName(f: FieldDef): string {
  return `"_raw_${f.name}"`;
}

/** SQL CASE expressions naming each way a live row can break the contract. */
function violationChecks(f: FieldDef): SqlFragment[] {
  const r = rawName(f);
  const t = ident(f.name);
  const live = "op <> 'D'";
  const out: SqlFragment[] = [
    raw(`CASE WHEN ${r} IS NOT NULL AND ${t} IS NULL THEN 'TYPE_MISMATCH:${f.name}' END`),
  ];
  if (f.sqlType === 'INTEGER' || f.sqlType === 'BIGINT') {
    // TRY_CAST('1.5' AS INTEGER) rounds to 2: a fraction in a whole-number field breaks the contract.
    out.push(
      raw(
        `CASE WHEN ${r} IS NOT NULL AND NOT regexp_matches(${r}, '^-?[0-9]+$') THEN 'TYPE_MISMATCH:${f.name}' END`,
      ),
    );
  }
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

/** The statement that parses new events once into the merge's staging table. */
export function stagingStatement(
  contract: EntityContract,
  sources: SilverSources,
  runId: string,
  table: SqlFragment,
): SqlFragment {
  return sql`CREATE OR REPLACE TABLE ${table} AS ${stagingQuery(contract, sources, runId)}`;
}

/** The order that picks a key's surviving version; ties on all of it are the same event. */
const LATEST_FIRST = raw('ORDER BY _source_ts DESC, _seq DESC, _deleted DESC, _run_id DESC');

/**
 * The statement writing the next Silver snapshot from the previous one and the
 * staged events. Without a previous snapshot it is one dedup of the staged
 * rows. With one, only keys that have new events are decided again (by the
 * same order, over their previous row and their new ones); every other
 * previous row is carried over as it is, so the cost is one pass over the
 * previous snapshot rather than a sort of it.
 */
export function silverMergeStatement(input: {
  readonly contract: EntityContract;
  readonly staging: SqlFragment;
  /** The previous snapshot's Parquet location, if any. */
  readonly previous: string | undefined;
  readonly output: string;
}): SqlFragment {
  const columns = raw(
    `_key, ${fieldList(input.contract)}, _source_ts, _seq, _run_id, _ingested_at, _deleted`,
  );
  const staged = sql`SELECT _key, ${raw(fieldList(input.contract))}, _source_ts, _seq, _run_id, _ingested_at, _op = 'D' AS _deleted
    FROM ${input.staging} WHERE NOT _skipped AND _violation IS NULL`;
  const query = input.previous
    ? sql`WITH staged AS (${staged}),
  new_keys AS (SELECT DISTINCT _key FROM staged),
  previous AS (SELECT ${columns} FROM ${readParquet(input.previous)}),
  decided AS (
    SELECT ${columns} FROM (
      SELECT p.* FROM previous AS p SEMI JOIN new_keys AS k ON k._key = p._key
      UNION ALL BY NAME
      SELECT * FROM staged
    ) AS c
    QUALIFY row_number() OVER (PARTITION BY _key ${LATEST_FIRST}) = 1
  )
  SELECT p.* FROM previous AS p ANTI JOIN new_keys AS k ON k._key = p._key
  UNION ALL
  SELECT * FROM decided`
    : sql`SELECT ${columns} FROM (${staged}) AS c
  QUALIFY row_number() OVER (PARTITION BY _key ${LATEST_FIRST}) = 1`;
  return sql`COPY (${query}) TO ${input.output} (FORMAT parquet)`;
}

/** After this many failed attempts a row is condemned: not retried without an explicit command. */
export const MAX_QUARANTINE_ATTEMPTS = 3;

/** The statement writing staged rows that broke the contract, open or condemned. */
export function quarantineStatement(input: {
  readonly staging: SqlFragment;
  readonly condemned: boolean;
  readonly output: string;
}): SqlFragment {
  const which = input.condemned ? raw('>=') : raw('<');
  return sql`COPY (
  SELECT from_json(_event, '{"source":"VARCHAR","entity":"VARCHAR","key":"VARCHAR","op":"VARCHAR","source_ts":"VARCHAR","seq":"VARCHAR","run_id":"VARCHAR","ingested_at":"VARCHAR","payload":"JSON","meta":"JSON"}') AS event,
         split_part(split_part(_violation, ';', 1), ':', 1) AS reason_code,
         _violation AS reason,
         _attempts + 1 AS attempt_count,
         _first_quarantined_run AS first_quarantined_run
  FROM ${input.staging}
  WHERE _violation IS NOT NULL AND _attempts + 1 ${which} ${MAX_QUARANTINE_ATTEMPTS}
  ORDER BY _key, _seq
) TO ${input.output} (FORMAT json, COMPRESSION gzip)`;
}

/** Counts that reconcile the staged events with the new snapshot: one scan of each, plus one anti join. */
function reconcileQuery(staging: SqlFragment, output: string): SqlFragment {
  const max = MAX_QUARANTINE_ATTEMPTS;
  return sql`WITH staged AS (
    SELECT count(*) AS events_in,
      count(*) FILTER (WHERE _skipped) AS skipped,
      count(*) FILTER (WHERE _violation IS NOT NULL AND _attempts + 1 < ${max}) AS quarantined,
      count(*) FILTER (WHERE _violation IS NOT NULL AND _attempts + 1 >= ${max}) AS condemned,
      count(*) FILTER (WHERE _attempts > 0 AND _violation IS NULL) AS recovered
    FROM ${staging}
  ),
  snapshot AS (
    SELECT count(*) FILTER (WHERE NOT _deleted) AS live_rows, count(*) FILTER (WHERE _deleted) AS tombstones,
      count(*) - count(DISTINCT _key) AS duplicate_keys
    FROM ${readParquet(output)}
  ),
  missing AS (
    SELECT count(*) AS keys_missing FROM (
      SELECT DISTINCT _key FROM ${staging} WHERE NOT _skipped AND _violation IS NULL
    ) AS k ANTI JOIN (SELECT _key FROM ${readParquet(output)}) AS o ON o._key = k._key
  )
  SELECT * FROM staged, snapshot, missing`;
}

/** What a Silver merge did. */
export interface SilverMergeResult {
  readonly eventsIn: number;
  /** TTL expiries and keys-only images: landed in Bronze, no business change. */
  readonly skipped: number;
  readonly quarantined: number;
  readonly condemned: number;
  /** Rows retried from quarantine that now pass the contract. */
  readonly recovered: number;
  readonly liveRows: number;
  readonly tombstones: number;
  readonly checks: CheckResult[];
  /** The open quarantine file this run wrote (its rows are retried next run). */
  readonly quarantineKey: string | undefined;
  /** The condemned file this run wrote. */
  readonly condemnedKey: string | undefined;
}

/**
 * A merge's counts and blocking checks from its reconciliation row (the same
 * columns on every engine), so both homes report and gate a merge alike.
 */
export function reconciled(
  r: Readonly<Record<string, unknown>>,
): Omit<SilverMergeResult, 'quarantineKey' | 'condemnedKey'> {
  const n = (v: unknown): number => Number(v ?? 0);
  return {
    eventsIn: n(r.events_in),
    skipped: n(r.skipped),
    quarantined: n(r.quarantined),
    condemned: n(r.condemned),
    recovered: n(r.recovered),
    liveRows: n(r.live_rows),
    tombstones: n(r.tombstones),
    checks: [
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
    ],
  };
}

let stagingTables = 0;

/** A staging table name no other merge in this process uses (the engine may be shared). */
function stagingTable(runId: string, contract: EntityContract): SqlFragment {
  stagingTables += 1;
  const name = `_staging_${runId}_${contract.source}_${contract.entity}_${stagingTables}`;
  return raw(
    ident(
      name
        .toLowerCase()
        .replace(/[^a-z0-9_]/g, '_')
        .slice(0, 128),
    ),
  );
}

/**
 * Write the next Silver snapshot of an entity under `runId` (not yet
 * published): parse the new events once into a staging table, merge, and
 * quarantine what breaks the contract.
 */
export async function mergeSilver(input: {
  readonly store: ObjectStore;
  readonly engine: QueryEngine;
  readonly contract: EntityContract;
  readonly bronzeKeys: readonly string[];
  readonly quarantineKeys: readonly string[];
  readonly previousPrefix: string | undefined;
  readonly runId: string;
  readonly ingestDate: string;
}): Promise<SilverMergeResult> {
  const { store, engine, contract, runId } = input;
  if (input.bronzeKeys.length === 0 && input.quarantineKeys.length === 0) {
    throw new TypeError('mergeSilver needs Bronze parts or quarantine files to read');
  }
  const dataset = silverDataset(contract.source, contract.entity);
  const prefix = runPrefix(dataset, runId);
  const output = `${await store.prepareWrite(prefix)}/data.parquet`;
  const staging = stagingTable(runId, contract);
  const sources: SilverSources = {
    bronzeFiles: input.bronzeKeys.map((key) => store.locationOf(key)),
    quarantineFiles: input.quarantineKeys.map((key) => store.locationOf(key)),
  };
  const previous = input.previousPrefix
    ? `${store.locationOf(input.previousPrefix)}/data.parquet`
    : undefined;
  const label = `silver.${contract.source}.${contract.entity}`;
  try {
    await engine.execute({
      sql: stagingStatement(contract, sources, runId, staging),
      label: `${label}.stage`,
    });
    return await mergeStaged({
      store,
      engine,
      contract,
      staging,
      previous,
      output,
      runId,
      label,
      ingestDate: input.ingestDate,
    });
  } finally {
    await engine.execute({ sql: sql`DROP TABLE IF EXISTS ${staging}`, label: `${label}.stage` });
  }
}

async function mergeStaged(input: {
  readonly store: ObjectStore;
  readonly engine: QueryEngine;
  readonly contract: EntityContract;
  readonly staging: SqlFragment;
  readonly previous: string | undefined;
  readonly output: string;
  readonly runId: string;
  readonly label: string;
  readonly ingestDate: string;
}): Promise<SilverMergeResult> {
  const { store, engine, contract, staging, previous, output, runId, label } = input;
  await engine.execute({ sql: silverMergeStatement({ contract, staging, previous, output }), label });
  const { rows } = await engine.query({ sql: reconcileQuery(staging, output), label: `${label}.reconcile` });
  const r = rows[0] ?? {};
  const n = (v: unknown): number => Number(v ?? 0);
  const ref = { source: contract.source, entity: contract.entity, ingestDate: input.ingestDate, runId };
  const quarantineFile = async (key: string, condemned: boolean): Promise<void> => {
    const location = `${await store.prepareWrite(key.slice(0, key.lastIndexOf('/') + 1))}/rows.jsonl.gz`;
    await engine.execute({
      sql: quarantineStatement({ staging, condemned, output: location }),
      label: `${label}.quarantine`,
    });
  };
  let qKey: string | undefined;
  let cKey: string | undefined;
  if (n(r.quarantined) > 0) {
    qKey = quarantineKey(ref);
    await quarantineFile(qKey, false);
  }
  if (n(r.condemned) > 0) {
    cKey = condemnedKey(ref);
    await quarantineFile(cKey, true);
  }
  return { ...reconciled(r), quarantineKey: qKey, condemnedKey: cKey };
}

/** Scratch space of pipeline runs (never read by anyone but the run that wrote it). */
export const STAGING_ROOT = '_staging/';

/** Where a run stages an entity's parsed events; removed once the run is done with them. */
export function stagingPrefixOf(runId: string, contract: EntityContract): string {
  return `${STAGING_ROOT}run_id=${runId}/${contract.source}/${contract.entity}/`;
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
