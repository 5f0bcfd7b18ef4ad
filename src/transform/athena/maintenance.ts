import { ident, raw } from '../../sql/fragment.js';
import { ENTITIES, type EntityContract } from '../entities.js';
import { type AthenaConfig, type AthenaStatement, entityTable } from './config.js';

/**
 * Iceberg upkeep for the Silver tables, run by the maintenance job (not the
 * pipeline): every MERGE writes delete files and small data files, and every
 * staging refill a snapshot. OPTIMIZE rewrites them into fewer, larger files
 * (the table's content does not change); VACUUM expires snapshots older than
 * the table's retention (Athena's default, 5 days) and removes orphan files.
 *
 * These are Athena statements, not Trino ones, and Athena documents them with
 * plain `db.table` names: the names go unquoted, both checked snake_case.
 */

function plainName(config: AthenaConfig, table: string): string {
  return `${ident(config.silverDb).slice(1, -1)}.${ident(table).slice(1, -1)}`;
}

/** `OPTIMIZE db.table REWRITE DATA USING BIN_PACK`: compact one Iceberg table. */
export function optimizeStatement(config: AthenaConfig, table: string): AthenaStatement {
  return {
    label: `maintenance.${table}.optimize`,
    grammar: 'athena',
    target: { db: config.silverDb, table },
    sql: raw(`OPTIMIZE ${plainName(config, table)} REWRITE DATA USING BIN_PACK`),
  };
}

/** `VACUUM db.table`: expire old snapshots and remove orphan files of one Iceberg table. */
export function vacuumStatement(config: AthenaConfig, table: string): AthenaStatement {
  return {
    label: `maintenance.${table}.vacuum`,
    grammar: 'athena',
    target: { db: config.silverDb, table },
    sql: raw(`VACUUM ${plainName(config, table)}`),
  };
}

/** OPTIMIZE then VACUUM for each entity's Silver and staging tables (compaction first, so VACUUM can drop what it replaced once expired). */
export function silverMaintenanceStatements(
  config: AthenaConfig,
  contracts: readonly EntityContract[] = ENTITIES,
): AthenaStatement[] {
  return contracts.flatMap((contract) =>
    [entityTable(contract), `${entityTable(contract)}__staging`].flatMap((table) => [
      optimizeStatement(config, table),
      vacuumStatement(config, table),
    ]),
  );
}
