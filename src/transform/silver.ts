import { z } from 'zod';
import type { ObjectStore } from '../adapters/object-store/port.js';
import type { QueryEngine } from '../adapters/query-engine/port.js';
import { jsonBody } from '../lake/json.js';
import { condemnedKey, quarantineKey, runPrefix, silverDataset } from '../lake/layout.js';
import { SILVER_PARQUET } from '../lake/parquet.js';
import { type CheckResult, resolveLatest } from '../lake/publish.js';
import { RUN_ID_PATTERN } from '../lake/run-id.js';
import { ident, join, raw, type SqlFragment, sql } from '../sql/fragment.js';
import { type ContractRule, contractRules } from './contract-rules.js';
import type { EntityContract, FieldDef } from './entities.js';
import { SilverVersionError } from './errors.js';

/**
 * Silver merge on the embedded engine. A Silver version is a full snapshot
 * (`data.parquet`) or a delta over one (`delta.parquet`, see `SilverVersion`):
 * latest per key by (`source_ts`, `seq`). Deleted keys stay as tombstone rows
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
function stagingQuery(contract: EntityContract, sources: SilverSources): SqlFragment {
  const extracted = raw(
    contract.fields.map((f) => `${blankAsNull(payloadField(f))} AS ${rawName(f)}`).join(',\n      '),
  );
  const typed = join(
    contract.fields.map((f) => raw(`${typedValue(f)} AS ${ident(f.name)}`)),
    ',\n      ',
  );
  const violation = violationSql(contractRules(contract));
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
  parsed AS (SELECT *, json_transform(payload, ${payloadShape(contract)}) AS _payload FROM raw_events),
  extracted AS (
    SELECT * EXCLUDE (_payload),
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
      ${violation} AS _violation
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
    -- NULL for new events (the quarantining run fills it in): no per-row copy of a constant.
    first_quarantined_run AS _first_quarantined_run,
    -- The original event travels with rows that may be quarantined; valid rows drop it.
    CASE WHEN _violation IS NULL THEN NULL ELSE
      json_object('source', ${contract.source}, 'entity', ${contract.entity}, 'key', key, 'op', op, 'source_ts', source_ts, 'seq', seq, 'run_id', run_id,
                  'ingested_at', ingested_at, 'payload', payload, 'meta', meta) END AS _event
  FROM checked`;
}

/**
 * The shape `json_transform` reads a payload into: every contract path as a
 * text leaf, nested objects as nested shapes. One parse of the payload gives
 * every field; it reads a value as `json_extract_string` at the same path
 * does (a scalar's text, an object's or array's JSON, the first of repeated
 * keys, keys matched case-sensitively, NULL when the payload is not an object
 * or the path is missing), at about 60% of the cost of extracting a list of
 * paths. One difference: a very small or very large float reads in exponent
 * form (`1e-05`, `1e+16`) where `json_extract_string` may spell it out
 * (`0.00001`): a VARCHAR field keeps that text; typed fields get the same
 * value (see `typedFieldSql` for decimals).
 */
export function payloadShape(contract: EntityContract): string {
  type Shape = { [key: string]: Shape | 'VARCHAR' };
  // Null-prototype objects: a key such as `__proto__` or `constructor` is then just a key.
  const shape: Shape = Object.create(null) as Shape;
  for (const f of contract.fields) {
    const steps = pathSteps(f);
    let node = shape;
    steps.forEach((step, i) => {
      const last = i === steps.length - 1;
      const existing = node[step];
      if (last) {
        if (existing !== undefined && existing !== 'VARCHAR')
          throw new TypeError(`path ${f.path} is also an object path`);
        node[step] = 'VARCHAR';
        return;
      }
      if (existing === 'VARCHAR') throw new TypeError(`path ${f.path} goes through a text field`);
      const next: Shape = existing ?? (Object.create(null) as Shape);
      node[step] = next;
      node = next;
    });
  }
  return JSON.stringify(shape);
}

/** The steps of a field's `$.a.b` path; each is a snake_case key, so it is also a safe identifier. */
function pathSteps(f: FieldDef): string[] {
  const match = /^\$((?:\.[a-z_][a-z0-9_]*)+)$/.exec(f.path);
  if (!match?.[1]) throw new TypeError(`unsupported payload path ${f.path} for ${f.name}`);
  return match[1].slice(1).split('.');
}

/** The field's raw text in the transformed payload. */
function payloadField(f: FieldDef): string {
  return ['_payload', ...pathSteps(f).map((step) => ident(step))].join('.');
}

/**
 * A text value trimmed, blank as NULL. TRIM walks every code point (it
 * removes Unicode space separators too), and most values have nothing to
 * remove: it only runs on values that start or end with a space or hold a
 * non-ASCII byte, where it can change something. Same result, about half the
 * staging cost of a wide entity.
 */
function blankAsNull(value: string): string {
  return `CASE WHEN starts_with(${value}, ' ') OR ends_with(${value}, ' ') OR strlen(${value}) <> length(${value})
        THEN NULLIF(TRIM(${value}), '') ELSE NULLIF(${value}, '') END`;
}

/**
 * The SQL typing a field's raw text (`value`, an expression of this module)
 * by the contract. Timestamps go through TIMESTAMPTZ so that an offset
 * (`+0530`) is applied; a plain cast to TIMESTAMP would drop it. The session
 * time zone is UTC, so the result is the UTC instant. A decimal written with
 * an exponent (`5e-06`, as a small float reads) goes through DOUBLE: DuckDB's
 * text-to-DECIMAL cast rounds any such value away from zero (`5e-06` would
 * be 0.01, and a tiny negative balance would break the contract).
 */
export function typedFieldSql(f: FieldDef, value: string): string {
  if (f.sqlType === 'TIMESTAMP') {
    // The instant's epoch is zone-free arithmetic; a TIMESTAMPTZ -> TIMESTAMP cast goes through the
    // ICU calendar per row. Only infinities have no epoch: they take the cast.
    const tz = `TRY_CAST(${value} AS TIMESTAMPTZ)`;
    return `coalesce(make_timestamp(epoch_us(${tz})), CAST(${tz} AS TIMESTAMP))`;
  }
  if (f.sqlType.startsWith('DECIMAL')) {
    return `CASE WHEN contains(${value}, 'e') OR contains(${value}, 'E')
        THEN TRY_CAST(TRY_CAST(${value} AS DOUBLE) AS ${f.sqlType}) ELSE TRY_CAST(${value} AS ${f.sqlType}) END`;
  }
  return `TRY_CAST(${value} AS ${f.sqlType})`;
}

function typedValue(f: FieldDef): string {
  return typedFieldSql(f, rawName(f));
}

function rawName(f: FieldDef): string {
  return `"_raw_${f.name}"`;
}

/**
 * The condition under which a staged row breaks a rule (DuckDB). A whole-number
 * field also breaks its type on a fraction: TRY_CAST('1.5' AS INTEGER) rounds
 * to 2 instead of failing.
 */
function ruleCondition(rule: ContractRule): SqlFragment {
  const live = "op <> 'D'";
  switch (rule.kind) {
    case 'missing_key':
      return raw("key IS NULL OR key = ''");
    case 'unknown_op':
      return raw("op IS NULL OR op NOT IN ('I', 'U', 'D')");
    case 'bad_source_ts':
      return raw('TRY_CAST(source_ts AS TIMESTAMP) IS NULL');
    case 'not_of_type': {
      const r = rawName(rule.field);
      const t = ident(rule.field.name);
      const whole = rule.field.sqlType === 'INTEGER' || rule.field.sqlType === 'BIGINT';
      return raw(
        whole
          ? `${r} IS NOT NULL AND (${t} IS NULL OR NOT regexp_matches(${r}, '^-?[0-9]+$'))`
          : `${r} IS NOT NULL AND ${t} IS NULL`,
      );
    }
    case 'missing_field':
      return raw(`${live} AND ${rawName(rule.field)} IS NULL`);
    case 'unknown_value': {
      const t = ident(rule.field.name);
      return sql`${raw(`${live} AND ${t} IS NOT NULL AND`)} NOT list_contains(${rule.values}, ${raw(t)})`;
    }
    case 'negative':
      return raw(`${live} AND ${ident(rule.field.name)} < 0`);
  }
}

/**
 * A row's `_violation`: the codes of every check it breaks, `;`-separated, or
 * NULL. The codes' text is built only for rows that break some check: one
 * OR over the conditions first, so a valid row (nearly all of them) costs no
 * string building (about 5% of staging an invoice, measured).
 */
function violationSql(rules: readonly ContractRule[]): SqlFragment {
  const conditions = rules.map((rule) => ({ when: ruleCondition(rule), code: rule.code }));
  const any = join(
    conditions.map((c) => sql`(${c.when})`),
    ' OR ',
  );
  const codes = join(
    conditions.map((c) => sql`CASE WHEN ${c.when} THEN ${raw(`'${c.code}'`)} END`),
    ',\n        ',
  );
  return sql`CASE WHEN _skipped OR NOT coalesce(${any}, false) THEN NULL ELSE NULLIF(concat_ws(';',
        ${codes}
      ), '') END`;
}

function fieldList(contract: EntityContract): string {
  return contract.fields.map((f) => ident(f.name)).join(', ');
}

/** The statement that parses new events once into the merge's staging table. */
export function stagingStatement(
  contract: EntityContract,
  sources: SilverSources,
  table: SqlFragment,
): SqlFragment {
  return sql`CREATE OR REPLACE TABLE ${table} AS ${stagingQuery(contract, sources)}`;
}

/** The order that picks a key's surviving version; ties on all of it are the same event. */
const LATEST_FIRST = raw('ORDER BY _source_ts DESC, _seq DESC, _deleted DESC, _run_id DESC');

/**
 * The files of one embedded Silver version. A version is either a full
 * snapshot (`data.parquet`: every key's latest row, tombstones included) or a
 * delta over an earlier full snapshot (`delta.parquet`: the latest row of every
 * key changed since that snapshot). A delta is cumulative, so a version is
 * never more than two files: an hourly run with a few thousand new events
 * writes those rows, not the whole entity again; once the delta outgrows a
 * share of its base, a merge writes a full snapshot instead (compaction).
 */
export interface SilverVersion {
  /** The run whose `data.parquet` is the full snapshot (this version's own run when it is one). */
  readonly baseRun: string;
  /** Location of that `data.parquet`. */
  readonly base: string;
  /** Location of this version's `delta.parquet`, when it is a delta over `base`. */
  readonly delta?: string;
  /**
   * Whether some key of the delta is also in the base. When none is (the
   * delta only adds keys, as appends do), readers take both files whole
   * instead of anti-joining every base row against the delta's keys.
   */
  readonly overlapsBase?: boolean;
}

/** A delta is compacted into a full snapshot once it holds this share of its base's rows. */
export const DELTA_COMPACT_AT = 0.1;

function columnsOf(contract: EntityContract): SqlFragment {
  return raw(`_key, ${fieldList(contract)}, _source_ts, _seq, _run_id, _ingested_at, _deleted`);
}

/** Every row of a version, tombstones included: each key from the delta when it is there, else from the base. */
function allRows(version: SilverVersion): SqlFragment {
  if (!version.delta) return sql`SELECT * FROM ${readParquet(version.base)}`;
  return baseAndDelta(readParquet(version.base), readParquet(version.delta), version.overlapsBase !== false);
}

/** Base rows of keys the delta does not hold, plus the delta's rows (the base whole when they share no key). */
function baseAndDelta(base: SqlFragment, delta: SqlFragment, overlaps: boolean): SqlFragment {
  const kept = overlaps
    ? sql`SELECT b.* FROM ${base} AS b ANTI JOIN (SELECT _key FROM ${delta}) AS d ON d._key = b._key`
    : sql`SELECT * FROM ${base}`;
  return sql`${kept} UNION ALL BY NAME SELECT * FROM ${delta}`;
}

/** The staged events that change Silver, as Silver rows (with the staging table's `rowid` as `_row` on request). */
function stagedRows(contract: EntityContract, staging: SqlFragment, withRow = false): SqlFragment {
  return sql`SELECT ${raw(withRow ? 'rowid AS _row, ' : '')}_key, ${raw(fieldList(contract))}, _source_ts, _seq, _run_id, _ingested_at, _op = 'D' AS _deleted
    FROM ${staging} WHERE NOT _skipped AND _violation IS NULL`;
}

/**
 * The statement writing a first full snapshot: one dedup of the staged rows.
 * Either way is exact; they differ in cost. With few duplicate keys (an
 * append-mostly entity such as usage events) only the rows of duplicated keys
 * are sorted and the rest pass through. Otherwise the window runs over the
 * ordering columns and the staging table's `rowid` alone, and the survivors'
 * full rows are fetched once, instead of sorting every column of every row.
 * `staged` is a filter over the staging table: DuckDB would otherwise
 * materialize a CTE read more than once, a copy of every staged row that
 * cost more than scanning the table again.
 */
export function silverMergeStatement(input: {
  readonly contract: EntityContract;
  readonly staging: SqlFragment;
  readonly output: string;
  /** From an estimate of distinct keys: most staged keys occur once. */
  readonly fewDuplicates: boolean;
}): SqlFragment {
  const { contract, staging } = input;
  const columns = columnsOf(contract);
  const query = input.fewDuplicates
    ? sql`WITH staged AS NOT MATERIALIZED (${stagedRows(contract, staging)}),
  duplicated AS (SELECT _key FROM staged GROUP BY _key HAVING count(*) > 1)
  SELECT ${columns} FROM staged AS s ANTI JOIN duplicated AS d ON d._key = s._key
  UNION ALL
  SELECT ${columns} FROM (SELECT s.* FROM staged AS s SEMI JOIN duplicated AS d ON d._key = s._key) AS c
  QUALIFY row_number() OVER (PARTITION BY _key ${LATEST_FIRST}) = 1`
    : sql`WITH staged AS NOT MATERIALIZED (${stagedRows(contract, staging, true)}),
  survivors AS (
    -- Only the ordering columns and _row reach the window: the others are pruned from this branch.
    SELECT _row FROM staged QUALIFY row_number() OVER (PARTITION BY _key ${LATEST_FIRST}) = 1
  )
  SELECT ${columns} FROM staged AS s SEMI JOIN survivors AS k ON k._row = s._row`;
  return sql`COPY (${query}) TO ${input.output} (${SILVER_PARQUET})`;
}

/** Staged rows that change Silver, and an estimate of their distinct keys (cheap: a sketch, not a hash table). */
function stagedKeysEstimateQuery(staging: SqlFragment): SqlFragment {
  return sql`SELECT count(*) AS n, approx_count_distinct(_key) AS keys
    FROM ${staging} WHERE NOT _skipped AND _violation IS NULL`;
}

/**
 * The statement filling `table` with the next version's delta rows: the
 * previous delta's rows of keys with no new event, plus the decided row of
 * every key with new events (by the same order, over its previous row and
 * its new events, so an older event changes nothing). The base's full rows
 * are read only when some new key is in it (`baseHasKeys`, found from its
 * `_key` column alone): appends of new keys, the common case, read no more
 * of it.
 */
export function silverDeltaStatement(input: {
  readonly contract: EntityContract;
  readonly staging: SqlFragment;
  readonly previous: SilverVersion;
  readonly baseHasKeys: boolean;
  readonly table: SqlFragment;
}): SqlFragment {
  const { contract, previous } = input;
  const columns = columnsOf(contract);
  const candidates: SqlFragment[] = [sql`SELECT * FROM staged`];
  if (input.baseHasKeys) {
    candidates.push(
      sql`SELECT ${columns} FROM ${readParquet(previous.base)} AS b SEMI JOIN new_keys AS k ON k._key = b._key`,
    );
  }
  if (previous.delta) {
    candidates.push(
      sql`SELECT ${columns} FROM ${readParquet(previous.delta)} AS p SEMI JOIN new_keys AS k ON k._key = p._key`,
    );
  }
  const kept = previous.delta
    ? sql`SELECT ${columns} FROM ${readParquet(previous.delta)} AS p ANTI JOIN new_keys AS k ON k._key = p._key
  UNION ALL `
    : raw('');
  return sql`CREATE OR REPLACE TABLE ${input.table} AS
WITH staged AS NOT MATERIALIZED (${stagedRows(contract, input.staging)}),
new_keys AS (SELECT DISTINCT _key FROM staged),
decided AS (
  SELECT ${columns} FROM (${join(candidates, '\n    UNION ALL BY NAME\n    ')}) AS c
  QUALIFY row_number() OVER (PARTITION BY _key ${LATEST_FIRST}) = 1
)
${kept}SELECT ${columns} FROM decided`;
}

/** The query counting how many keys with new events the base snapshot holds (one column read). */
function baseKeysQuery(contract: EntityContract, staging: SqlFragment, base: string): SqlFragment {
  return sql`SELECT count(*) AS n FROM (SELECT _key FROM ${readParquet(base)}) AS b
  SEMI JOIN (SELECT _key FROM (${stagedRows(contract, staging)}) AS s) AS k ON k._key = b._key`;
}

/** After this many failed attempts a row is condemned: not retried without an explicit command. */
export const MAX_QUARANTINE_ATTEMPTS = 3;

/** The statement writing staged rows that broke the contract, open or condemned. */
export function quarantineStatement(input: {
  readonly staging: SqlFragment;
  readonly condemned: boolean;
  readonly output: string;
  /** The run quarantining: the first quarantining run of rows never quarantined before. */
  readonly runId: string;
}): SqlFragment {
  const which = input.condemned ? raw('>=') : raw('<');
  return sql`COPY (
  SELECT from_json(_event, '{"source":"VARCHAR","entity":"VARCHAR","key":"VARCHAR","op":"VARCHAR","source_ts":"VARCHAR","seq":"VARCHAR","run_id":"VARCHAR","ingested_at":"VARCHAR","payload":"JSON","meta":"JSON"}') AS event,
         split_part(split_part(_violation, ';', 1), ':', 1) AS reason_code,
         _violation AS reason,
         _attempts + 1 AS attempt_count,
         coalesce(_first_quarantined_run, ${input.runId}) AS first_quarantined_run
  FROM ${input.staging}
  WHERE _violation IS NOT NULL AND _attempts + 1 ${which} ${MAX_QUARANTINE_ATTEMPTS}
  ORDER BY _key, _seq
) TO ${input.output} (FORMAT json, COMPRESSION gzip)`;
}

/** Delta keys also in the base, when readers take both files whole (else 0: the anti join drops them). */
function sharedKeys(version: SilverVersion): SqlFragment {
  if (!version.delta || version.overlapsBase !== false) return raw('0');
  return sql`SELECT count(*) FROM (SELECT _key FROM ${readParquet(version.delta)}) AS d
      SEMI JOIN (SELECT _key FROM ${readParquet(version.base)}) AS b ON b._key = d._key`;
}

/**
 * Counts that reconcile the staged events with the new version: one scan of
 * the staging table, one of the version (the base through an anti join when
 * it is a delta), and two checks on the file this merge wrote. A delta's base
 * was checked when it was written, and the version takes each key from one
 * side only, so keys are unique when the written file's keys are; every key
 * with a valid new event lands in the written file. A delta read without the
 * anti join (`overlapsBase === false`) is unique only if no delta key is in
 * the base: those keys count as duplicates too.
 */
export function reconcileQuery(staging: SqlFragment, version: SilverVersion): SqlFragment {
  const max = MAX_QUARANTINE_ATTEMPTS;
  const written = readParquet(version.delta ?? version.base);
  return sql`WITH staged AS (
    SELECT count(*) AS events_in,
      count(*) FILTER (WHERE _skipped) AS skipped,
      count(*) FILTER (WHERE _violation IS NOT NULL AND _attempts + 1 < ${max}) AS quarantined,
      count(*) FILTER (WHERE _violation IS NOT NULL AND _attempts + 1 >= ${max}) AS condemned,
      count(*) FILTER (WHERE _attempts > 0 AND _violation IS NULL) AS recovered
    FROM ${staging}
  ),
  snapshot AS (
    SELECT count(*) FILTER (WHERE NOT _deleted) AS live_rows, count(*) FILTER (WHERE _deleted) AS tombstones
    FROM (${allRows(version)}) AS v
  ),
  unique_keys AS (
    SELECT count(*) - count(DISTINCT _key) + (${sharedKeys(version)}) AS duplicate_keys FROM ${written}
  ),
  missing AS (
    -- Distinct after the anti join: it is empty when the check passes, so no hash table of every staged key.
    SELECT count(DISTINCT k._key) AS keys_missing
    FROM (SELECT _key FROM ${staging} WHERE NOT _skipped AND _violation IS NULL) AS k
    ANTI JOIN (SELECT _key FROM ${written}) AS o ON o._key = k._key
  )
  SELECT * FROM staged, snapshot, unique_keys, missing`;
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
  /** The files of the version written (a full snapshot or a delta over one). */
  readonly version: SilverVersion;
}

/**
 * A merge's counts and blocking checks from its reconciliation row (the same
 * columns on every engine), so both homes report and gate a merge alike.
 */
export function reconciled(
  r: Readonly<Record<string, unknown>>,
): Omit<SilverMergeResult, 'quarantineKey' | 'condemnedKey' | 'version'> {
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

let scratchTables = 0;

/** A scratch table name no other merge in this process uses (the engine may be shared). */
function scratchTable(kind: string, runId: string, contract: EntityContract): SqlFragment {
  scratchTables += 1;
  const name = `_${kind}_${runId}_${contract.source}_${contract.entity}_${scratchTables}`;
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
 * Write the next Silver version of an entity under `runId` (not yet
 * published): parse the new events once into a staging table, merge them
 * into the previous version (a delta, or a full snapshot when there is none
 * or the delta has grown past `compactAt` of its base), and quarantine what
 * breaks the contract.
 */
export async function mergeSilver(input: {
  readonly store: ObjectStore;
  readonly engine: QueryEngine;
  readonly contract: EntityContract;
  readonly bronzeKeys: readonly string[];
  readonly quarantineKeys: readonly string[];
  /** The served version the new events are merged into (none before the first merge). */
  readonly previous: SilverVersion | undefined;
  readonly runId: string;
  readonly ingestDate: string;
  /** Share of the base's rows at which a delta is compacted (default `DELTA_COMPACT_AT`; 0 always writes a snapshot). */
  readonly compactAt?: number;
}): Promise<SilverMergeResult> {
  const { store, engine, contract, runId } = input;
  if (input.bronzeKeys.length === 0 && input.quarantineKeys.length === 0) {
    throw new TypeError('mergeSilver needs Bronze parts or quarantine files to read');
  }
  const dataset = silverDataset(contract.source, contract.entity);
  const location = await store.prepareWrite(runPrefix(dataset, runId));
  const staging = scratchTable('staging', runId, contract);
  const deltaTable = scratchTable('delta', runId, contract);
  const sources: SilverSources = {
    bronzeFiles: input.bronzeKeys.map((key) => store.locationOf(key)),
    quarantineFiles: input.quarantineKeys.map((key) => store.locationOf(key)),
  };
  const label = `silver.${contract.source}.${contract.entity}`;
  try {
    await engine.execute({
      sql: stagingStatement(contract, sources, staging),
      label: `${label}.stage`,
    });
    const snapshot = { engine, contract, staging, label, runId, output: `${location}/data.parquet` };
    const version = input.previous
      ? await writeDelta({
          ...snapshot,
          previous: input.previous,
          table: deltaTable,
          delta: `${location}/delta.parquet`,
          compactAt: input.compactAt ?? DELTA_COMPACT_AT,
        })
      : await writeSnapshot(snapshot);
    await store.put(
      versionFileKey(contract, runId),
      jsonBody({
        layout: version.delta ? 'delta' : 'snapshot',
        base_run: version.baseRun,
        ...(version.delta ? { overlaps_base: version.overlapsBase !== false } : {}),
      }),
    );
    return await reconcileAndQuarantine({
      store,
      engine,
      contract,
      staging,
      version,
      runId,
      label,
      ingestDate: input.ingestDate,
    });
  } finally {
    await engine.execute({ sql: sql`DROP TABLE IF EXISTS ${staging}`, label: `${label}.stage` });
    await engine.execute({ sql: sql`DROP TABLE IF EXISTS ${deltaTable}`, label: `${label}.stage` });
  }
}

/** What writing one version needs: the staged events and where a full snapshot goes. */
interface VersionWrite {
  readonly engine: QueryEngine;
  readonly contract: EntityContract;
  readonly staging: SqlFragment;
  readonly label: string;
  readonly runId: string;
  /** The run folder's `data.parquet`. */
  readonly output: string;
}

/** A first version: the staged events deduplicated into a full snapshot. */
async function writeSnapshot(w: VersionWrite): Promise<SilverVersion> {
  const estimate = await w.engine.query({
    sql: stagedKeysEstimateQuery(w.staging),
    label: `${w.label}.estimate`,
  });
  const rows = Number(estimate.rows[0]?.n ?? 0);
  const keys = Number(estimate.rows[0]?.keys ?? 0);
  await w.engine.execute({
    sql: silverMergeStatement({
      contract: w.contract,
      staging: w.staging,
      output: w.output,
      fewDuplicates: keys >= 0.9 * rows,
    }),
    label: w.label,
  });
  return { baseRun: w.runId, base: w.output };
}

/** A later version: the staged events merged into the previous delta, written as a delta or compacted. */
async function writeDelta(
  w: VersionWrite & {
    readonly previous: SilverVersion;
    /** The scratch table the next delta's rows are decided into. */
    readonly table: SqlFragment;
    /** The run folder's `delta.parquet`. */
    readonly delta: string;
    readonly compactAt: number;
  },
): Promise<SilverVersion> {
  const { engine, contract, previous, table, label } = w;
  const found = await engine.query({
    sql: baseKeysQuery(contract, w.staging, previous.base),
    label: `${label}.base_keys`,
  });
  const baseHasKeys = Number(found.rows[0]?.n ?? 0) > 0;
  // The delta keeps the previous delta's keys: an overlap there stays one.
  const overlapsBase = baseHasKeys || (previous.delta !== undefined && previous.overlapsBase !== false);
  await engine.execute({
    sql: silverDeltaStatement({ contract, staging: w.staging, previous, baseHasKeys, table }),
    label,
  });
  const sizes = await engine.query({
    sql: sql`SELECT (SELECT count(*) FROM ${table}) AS delta_rows,
      (SELECT count(*) FROM ${readParquet(previous.base)}) AS base_rows`,
    label: `${label}.sizes`,
  });
  if (Number(sizes.rows[0]?.delta_rows ?? 0) >= w.compactAt * Number(sizes.rows[0]?.base_rows ?? 0)) {
    // Compaction: the version the delta would make, written whole as the next snapshot.
    const rows = baseAndDelta(readParquet(previous.base), table, overlapsBase);
    await engine.execute({
      sql: sql`COPY (SELECT ${columnsOf(contract)} FROM (${rows}) AS v) TO ${w.output} (${SILVER_PARQUET})`,
      label,
    });
    return { baseRun: w.runId, base: w.output };
  }
  await engine.execute({ sql: sql`COPY ${table} TO ${w.delta} (${SILVER_PARQUET})`, label });
  return { baseRun: previous.baseRun, base: previous.base, delta: w.delta, overlapsBase };
}

async function reconcileAndQuarantine(input: {
  readonly store: ObjectStore;
  readonly engine: QueryEngine;
  readonly contract: EntityContract;
  readonly staging: SqlFragment;
  readonly version: SilverVersion;
  readonly runId: string;
  readonly label: string;
  readonly ingestDate: string;
}): Promise<SilverMergeResult> {
  const { store, engine, contract, staging, version, runId, label } = input;
  const { rows } = await engine.query({ sql: reconcileQuery(staging, version), label: `${label}.reconcile` });
  const r = rows[0] ?? {};
  const n = (v: unknown): number => Number(v ?? 0);
  const ref = { source: contract.source, entity: contract.entity, ingestDate: input.ingestDate, runId };
  const quarantineFile = async (key: string, condemned: boolean): Promise<void> => {
    const location = `${await store.prepareWrite(key.slice(0, key.lastIndexOf('/') + 1))}/rows.jsonl.gz`;
    await engine.execute({
      sql: quarantineStatement({ staging, condemned, output: location, runId }),
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
  return { ...reconciled(r), quarantineKey: qKey, condemnedKey: cKey, version };
}

/** A relation of the live rows of one Silver version (embedded engine). */
export function silverRelation(version: SilverVersion): SqlFragment {
  return sql`(SELECT * FROM (${allRows(version)}) AS v WHERE NOT _deleted)`;
}

/** The newest `source_ts` a version holds, tombstones included (a delete is a change). */
export function newestSourceTsQuery(version: SilverVersion): SqlFragment {
  // A key's delta row is never older than its base row, so the newest over both files is the version's.
  const files = version.delta ? [version.base, version.delta] : [version.base];
  return sql`SELECT strftime(max(_source_ts), '%Y-%m-%dT%H:%M:%S.%gZ') AS newest
    FROM read_parquet(${files}, hive_partitioning = false)`;
}

/**
 * `version.json` in a Silver run folder: which files make the version. The
 * merge writes it beside its data, so a version describes itself to every
 * reader; a run folder without it (written before deltas existed) is a full
 * snapshot.
 */
const versionFileSchema = z.object({
  layout: z.enum(['snapshot', 'delta']),
  base_run: z.string().regex(RUN_ID_PATTERN),
  /** Absent: assume an overlap (the safe reading). */
  overlaps_base: z.boolean().default(true),
});

function versionFileKey(
  contract: { readonly source: string; readonly entity: string },
  runId: string,
): string {
  return `${runPrefix(silverDataset(contract.source, contract.entity), runId)}version.json`;
}

/** The files of the Silver version written under `runId` (published or just merged). */
export async function readSilverVersion(
  store: ObjectStore,
  contract: { readonly source: string; readonly entity: string },
  runId: string,
): Promise<SilverVersion> {
  const dataset = silverDataset(contract.source, contract.entity);
  const body = await store.getIfExists(versionFileKey(contract, runId));
  const own = store.locationOf(runPrefix(dataset, runId));
  if (!body) return { baseRun: runId, base: `${own}/data.parquet` };
  let file: z.infer<typeof versionFileSchema>;
  try {
    file = versionFileSchema.parse(JSON.parse(new TextDecoder().decode(body)));
  } catch (error) {
    throw new SilverVersionError(dataset.label, runId, { cause: error });
  }
  return file.layout === 'delta'
    ? {
        baseRun: file.base_run,
        base: `${store.locationOf(runPrefix(dataset, file.base_run))}/data.parquet`,
        delta: `${own}/delta.parquet`,
        overlapsBase: file.overlaps_base,
      }
    : { baseRun: runId, base: `${own}/data.parquet` };
}

/** The served Silver version of an entity, or `undefined` before its first publication. */
export async function readPublishedSilver(
  store: ObjectStore,
  contract: { readonly source: string; readonly entity: string },
): Promise<SilverVersion | undefined> {
  const pointer = await resolveLatest(store, silverDataset(contract.source, contract.entity));
  return pointer ? readSilverVersion(store, contract, pointer.run_id) : undefined;
}

/**
 * The rows of the keys whose row differs between two versions of an entity:
 * each changed key's row in `fromRun` (when it had one) and in `toRun`,
 * tombstones included. Found from the deltas, so only between versions over
 * the same snapshot whose files are all still there; otherwise `undefined`
 * (the caller rebuilds from the whole version instead). Either version may be
 * the later one (after a rollback the served version is the earlier).
 */
export async function readSilverChanges(
  store: ObjectStore,
  contract: EntityContract,
  fromRun: string,
  toRun: string,
): Promise<SqlFragment | undefined> {
  if (fromRun === toRun) return emptySilverRelation(contract);
  const [from, to] = await Promise.all([
    readSilverVersion(store, contract, fromRun),
    readSilverVersion(store, contract, toRun),
  ]);
  if (from.baseRun !== to.baseRun || !(from.delta || to.delta)) return undefined;
  const dataset = silverDataset(contract.source, contract.entity);
  const files = [`${runPrefix(dataset, from.baseRun)}data.parquet`];
  if (from.delta) files.push(`${runPrefix(dataset, fromRun)}delta.parquet`);
  if (to.delta) files.push(`${runPrefix(dataset, toRun)}delta.parquet`);
  for (const key of files) if (!(await store.head(key))) return undefined;
  const deltaOf = (version: SilverVersion): SqlFragment | undefined =>
    version.delta ? readParquet(version.delta) : undefined;
  const fromDelta = deltaOf(from);
  const toDelta = deltaOf(to);
  // A key's row is decided by these columns; a redelivery may only move _run_id, which counts as a change (harmless).
  const same = raw(
    'o._key = n._key AND o._source_ts IS NOT DISTINCT FROM n._source_ts AND o._seq IS NOT DISTINCT FROM n._seq AND o._deleted = n._deleted AND o._run_id IS NOT DISTINCT FROM n._run_id',
  );
  const sides: SqlFragment[] = [];
  if (toDelta && fromDelta) {
    sides.push(sql`SELECT n._key FROM ${toDelta} AS n ANTI JOIN ${fromDelta} AS o ON ${same}`);
    sides.push(sql`SELECT o._key FROM ${fromDelta} AS o ANTI JOIN ${toDelta} AS n ON ${same}`);
  } else {
    sides.push(sql`SELECT _key FROM ${(toDelta ?? fromDelta) as SqlFragment}`);
  }
  // Whether a changed key can have a row in the snapshot: not when neither delta shares a key with it (appends).
  const disjoint = (version: SilverVersion): boolean => !version.delta || version.overlapsBase === false;
  const baseMatters = !(disjoint(from) && disjoint(to));
  const rowsOf = (version: SilverVersion): SqlFragment | undefined =>
    baseMatters ? sql`(${allRows(version)})` : deltaOf(version);
  const columns = columnsOf(contract);
  const picked = [rowsOf(from), rowsOf(to)]
    .filter((rows): rows is SqlFragment => rows !== undefined)
    .map((rows) => sql`SELECT ${columns} FROM ${rows} AS r SEMI JOIN changed_keys AS k ON k._key = r._key`);
  return sql`(WITH changed_keys AS (${join(sides, '\n    UNION\n    ')})
  ${join(picked, '\n  UNION ALL\n  ')})`;
}

/** The relation of an entity that has no Silver version yet: its typed columns, no rows. */
export function emptySilverRelation(contract: EntityContract): SqlFragment {
  const columns = contract.fields.map((f) => `CAST(NULL AS ${f.sqlType}) AS ${ident(f.name)}`).join(', ');
  return raw(
    `(SELECT CAST(NULL AS VARCHAR) AS _key, ${columns}, CAST(NULL AS TIMESTAMP) AS _source_ts, CAST(NULL AS VARCHAR) AS _seq, FALSE AS _deleted WHERE FALSE)`,
  );
}
