import { bronzeEntityPrefix, goldDataset, runPrefix } from '../../lake/layout.js';
import { assertRunId } from '../../lake/run-id.js';
import { ident, raw, type SqlFragment } from '../../sql/fragment.js';
import type { EntityContract } from '../entities.js';

/**
 * The Athena flavour of the transforms: the same contracts and Gold models as
 * the embedded engine, rendered as the statements Athena runs. This module
 * only generates SQL; the AWS adapter executes it, in the order given.
 *
 * Values travel as `?` placeholders (ExecutionParameters) wherever Athena
 * accepts one, which its documentation limits to the WHERE clause of SELECT,
 * INSERT INTO, CTAS and UNLOAD. Anywhere else (MERGE, DDL, SELECT lists, table
 * properties) a value is written as a literal, and only a value that cannot
 * carry a quote or a backslash: constants written in code (JSON paths, enum
 * values) and values validated to a fixed shape (run ids, dates, S3 locations).
 * Gold models bind their own constants and the as-of date anywhere; `bind.ts`
 * writes those outside WHERE clauses as escaped literals.
 */

/** The Glue databases and S3 roots of one deployment (one stage). */
export interface AthenaConfig {
  readonly bronzeDb: string;
  readonly silverDb: string;
  readonly goldDb: string;
  readonly quarantineDb: string;
  /**
   * Each layer's root, `s3://bucket/` or `s3://bucket/prefix/`. The object keys
   * of `lake.md` (`bronze/...`, `gold/...`) follow it, as on disk.
   */
  readonly locations: {
    readonly bronze: string;
    readonly silver: string;
    readonly gold: string;
    readonly quarantine: string;
  };
  /** The first `ingest_date` the Bronze partition projection knows (`YYYY-MM-DD`). */
  readonly bronzeProjectionStart: string;
}

/** Which parser accepts a statement: Athena runs DDL on a Hive engine, DML on Trino. */
export type AthenaGrammar =
  /** Trino (Athena engine v3): SELECT, INSERT, MERGE, DELETE, CTAS, views. */
  | 'trino'
  /** Athena's Hive DDL: CREATE EXTERNAL TABLE with a SerDe and table properties. */
  | 'hive'
  /** Athena's own Iceberg maintenance statements (OPTIMIZE, VACUUM). */
  | 'athena';

/** One statement for the AWS adapter to run, in order. */
export interface AthenaStatement {
  /** For logs and the run report, e.g. `silver.zoho_books.contacts.merge`. */
  readonly label: string;
  readonly sql: SqlFragment;
  readonly grammar: AthenaGrammar;
  /**
   * The table a CREATE makes or a maintenance statement rewrites, so that
   * setup skips tables that exist and maintenance those that do not yet.
   */
  readonly target?: { readonly db: string; readonly table: string };
}

const S3_ROOT = /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/([A-Za-z0-9_.=-]+\/)*$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const NAME = /^[a-z_][a-z0-9_]{0,127}$/;

/** Validate a deployment's Athena settings once, so every generated name and location is safe. */
export function defineAthenaConfig(input: {
  readonly bronzeDb: string;
  readonly silverDb: string;
  readonly goldDb: string;
  readonly quarantineDb: string;
  readonly locations: AthenaConfig['locations'];
  readonly bronzeProjectionStart?: string;
}): AthenaConfig {
  for (const db of [input.bronzeDb, input.silverDb, input.goldDb, input.quarantineDb]) {
    if (!NAME.test(db))
      throw new TypeError(`not a Glue database name goldgate accepts: ${JSON.stringify(db)}`);
  }
  const locations = {
    bronze: s3Root(input.locations.bronze),
    silver: s3Root(input.locations.silver),
    gold: s3Root(input.locations.gold),
    quarantine: s3Root(input.locations.quarantine),
  };
  const start = input.bronzeProjectionStart ?? '2020-01-01';
  if (!DATE.test(start)) throw new TypeError('bronzeProjectionStart must be YYYY-MM-DD');
  return {
    bronzeDb: input.bronzeDb,
    silverDb: input.silverDb,
    goldDb: input.goldDb,
    quarantineDb: input.quarantineDb,
    locations,
    bronzeProjectionStart: start,
  };
}

function s3Root(value: string): string {
  const withSlash = value.endsWith('/') ? value : `${value}/`;
  if (!S3_ROOT.test(withSlash))
    throw new TypeError(`not an S3 root goldgate accepts: ${JSON.stringify(value)}`);
  return withSlash;
}

/** `"db"."table"`, both checked by `ident`. */
export function qualified(db: string, table: string): SqlFragment {
  return raw(`${ident(db)}.${ident(table)}`);
}

/**
 * A string literal for a spot where Athena takes no placeholder. Only text
 * without quotes, backslashes or control characters passes, so the literal
 * cannot end early in either the Trino or the Hive parser.
 */
export function literal(value: string): SqlFragment {
  if (!/^[\x20-\x7e]*$/.test(value) || /['"\\`]/.test(value)) {
    throw new TypeError(`refusing to write ${JSON.stringify(value)} as a SQL literal`);
  }
  return raw(`'${value}'`);
}

/** A literal date (`YYYY-MM-DD`), validated. */
export function dateLiteral(value: string): SqlFragment {
  if (!DATE.test(value)) throw new TypeError(`not a date: ${JSON.stringify(value)}`);
  return literal(value);
}

/** A literal run id, validated against the run-id shape. */
export function runIdLiteral(value: string): SqlFragment {
  return literal(assertRunId(value));
}

/** `source__entity`: one Glue table name per entity and layer. */
export function entityTable(contract: EntityContract): string {
  return `${contract.source}__${contract.entity}`;
}

/** Where a Bronze entity lives: `{bronze root}bronze/{source}/{entity}/`. */
export function bronzeLocation(config: AthenaConfig, contract: EntityContract): string {
  return `${config.locations.bronze}${bronzeEntityPrefix(contract.source, contract.entity)}`;
}

/** The Iceberg table of a Silver entity (data and metadata below it). */
export function silverLocation(config: AthenaConfig, contract: EntityContract): string {
  return `${config.locations.silver}silver/${contract.source}/${contract.entity}/iceberg/`;
}

/** The Iceberg staging table of a Silver entity: one merge's typed events. */
export function stagingLocation(config: AthenaConfig, contract: EntityContract): string {
  return `${config.locations.silver}silver/_staging/${contract.source}/${contract.entity}/`;
}

/**
 * Quarantined rows of an entity: `quarantine/{source}/{entity}/` (open) or
 * `quarantine/condemned/{source}/{entity}/`, partitioned by
 * `ingest_date=.../run_id=.../` as `lake.md` lays them out.
 */
export function quarantineLocation(
  config: AthenaConfig,
  contract: EntityContract,
  condemned: boolean,
): string {
  const under = condemned ? 'quarantine/condemned' : 'quarantine';
  return `${config.locations.quarantine}${under}/${contract.source}/${contract.entity}/`;
}

/** A run id as part of a Glue table name: `20261121T061500Z-7f3a` -> `20261121t061500z_7f3a`. */
export function runToken(runId: string): string {
  return assertRunId(runId).toLowerCase().replace('-', '_');
}

/** The run-scoped Gold table: `{mart}__v{N}__{run}`, immutable once written. */
export function goldRunTable(mart: string, schemaVersion: number, runId: string): string {
  return `${mart}__v${schemaVersion}__${runToken(runId)}`;
}

/** Where a Gold run's files go: `{gold root}gold/{mart}/schema_v={N}/run_id={RUN}/`, as embedded. */
export function goldRunLocation(
  config: AthenaConfig,
  mart: string,
  schemaVersion: number,
  runId: string,
): string {
  return `${config.locations.gold}${runPrefix(goldDataset(mart, schemaVersion), runId)}`;
}

/**
 * The tables that already exist in goldgate's databases. Athena's CTAS has no
 * IF NOT EXISTS, so setup runs this first and skips the creates it lists.
 */
export function existingTablesQuery(
  config: AthenaConfig,
  /** The databases to list (default: all four); a job reads only those its role may. */
  dbs: readonly string[] = [config.bronzeDb, config.silverDb, config.goldDb, config.quarantineDb],
): AthenaStatement {
  return {
    label: 'athena.existing_tables',
    grammar: 'trino',
    sql: {
      text: `SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema IN (${dbs.map(() => '?').join(', ')}) ORDER BY table_schema, table_name`,
      params: dbs,
    },
  };
}
