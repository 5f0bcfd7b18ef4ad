import { z } from 'zod';
import type { ObjectStore } from '../adapters/object-store/port.js';
import type { QueryEngine } from '../adapters/query-engine/port.js';
import { jsonBody } from '../lake/json.js';
import { runPrefix, silverDataset } from '../lake/layout.js';
import { SILVER_PARQUET } from '../lake/parquet.js';
import { duckdbDialect } from '../sql/dialect.js';
import { type SqlFragment, sql } from '../sql/fragment.js';
import type { EntityContract } from './entities.js';
import { SilverVersionError } from './errors.js';
import { combineRollups, rollupId, rollupsOf, type SilverRollup } from './gold/rollups.js';
import { readSilverVersion, type SilverVersion, silverRelation } from './silver.js';

/**
 * Rollup files of the embedded home, written into a Silver version's own run
 * folder before it is published (so they are as atomic and immutable as the
 * version), and listed in its `rollups.json`: rollup id -> the store keys of
 * the files whose rows, combined, are the rollup of the version. A snapshot
 * has one file; a delta that only adds keys has its base's file and one of its
 * own; any other delta gets a full rollup of its own. A version without the
 * file (written before rollups existed) or without an id (a definition
 * changed since) is read through the inline rollup instead.
 */

const rollupsFileSchema = z.object({
  rollups: z.record(z.string(), z.array(z.string().min(1)).min(1)),
});

type RollupFiles = Record<string, string[]>;

function rollupsFileKey(contract: Pick<EntityContract, 'source' | 'entity'>, runId: string): string {
  return `${runPrefix(silverDataset(contract.source, contract.entity), runId)}rollups.json`;
}

async function readRollupFiles(
  store: ObjectStore,
  contract: Pick<EntityContract, 'source' | 'entity'>,
  runId: string,
): Promise<RollupFiles> {
  const body = await store.getIfExists(rollupsFileKey(contract, runId));
  if (!body) return {};
  try {
    return rollupsFileSchema.parse(JSON.parse(new TextDecoder().decode(body))).rollups;
  } catch (error) {
    throw new SilverVersionError(silverDataset(contract.source, contract.entity).label, runId, {
      cause: error,
    });
  }
}

/** What writing one rollup did, for the run report. */
export interface RollupWritten {
  readonly id: string;
  /** `snapshot`: over a new snapshot; `delta`: over the delta only, combined with the base's; `full`: over the whole version. */
  readonly mode: 'snapshot' | 'delta' | 'full';
  /** Rows in the file written. */
  readonly rows: number;
}

function live(location: string): SqlFragment {
  return sql`(SELECT * FROM read_parquet(${location}, hive_partitioning = false) WHERE NOT _deleted)`;
}

/**
 * Write the rollups of the (unpublished) Silver version under `runId`, and
 * its `rollups.json`. Idempotent: a rerun after a crash writes the same files.
 */
export async function writeSilverRollups(input: {
  readonly store: ObjectStore;
  readonly engine: QueryEngine;
  readonly contract: EntityContract;
  readonly runId: string;
}): Promise<RollupWritten[]> {
  const { store, engine, contract, runId } = input;
  const rollups = rollupsOf(contract);
  if (rollups.length === 0) return [];
  const prefix = runPrefix(silverDataset(contract.source, contract.entity), runId);
  const version = await readSilverVersion(store, contract, runId);
  const baseFiles = version.delta ? await readRollupFiles(store, contract, version.baseRun) : {};
  const location = await store.prepareWrite(prefix);
  const files: RollupFiles = {};
  const written: RollupWritten[] = [];
  for (const rollup of rollups) {
    const id = rollupId(rollup);
    const plan = planRollup(version, baseFiles[id]);
    const file = `rollup-${id}${plan.mode === 'delta' ? '.delta' : ''}.parquet`;
    const label = `rollup.${contract.source}.${contract.entity}.${rollup.name}`;
    await engine.execute({
      sql: sql`COPY (${rollup.query(plan.rows, duckdbDialect)}) TO ${`${location}/${file}`} (${SILVER_PARQUET})`,
      label,
    });
    const counted = await engine.query({
      sql: sql`SELECT count(*) AS n FROM read_parquet(${`${location}/${file}`})`,
      label: `${label}.count`,
    });
    files[id] = [...plan.keep, `${prefix}${file}`];
    written.push({ id, mode: plan.mode, rows: Number(counted.rows[0]?.n ?? 0) });
  }
  await store.put(rollupsFileKey(contract, runId), jsonBody({ rollups: files }));
  return written;
}

/** Which rows a version's rollup file is computed over, and which earlier file it is combined with. */
function planRollup(
  version: SilverVersion,
  base: readonly string[] | undefined,
): { mode: RollupWritten['mode']; rows: SqlFragment; keep: string[] } {
  if (!version.delta) return { mode: 'snapshot', rows: live(version.base), keep: [] };
  // Only a single-file rollup of the base snapshot itself combines: the delta's keys are then disjoint from it.
  if (version.overlapsBase === false && base?.length === 1) {
    return { mode: 'delta', rows: live(version.delta), keep: [...base] };
  }
  return { mode: 'full', rows: silverRelation(version), keep: [] };
}

/**
 * The rollup relations the version under `runId` has files for, by rollup
 * name, ready for Gold to read. Rollups missing here are computed inline.
 */
export async function silverRollupRelations(
  store: ObjectStore,
  contract: Pick<EntityContract, 'source' | 'entity'>,
  runId: string,
): Promise<Record<string, SqlFragment>> {
  const files = await readRollupFiles(store, contract, runId);
  const relations: Record<string, SqlFragment> = {};
  for (const rollup of rollupsOf(contract)) {
    const keys = files[rollupId(rollup)];
    if (keys)
      relations[rollup.name] = rollupRelation(
        rollup,
        keys.map((k) => store.locationOf(k)),
      );
  }
  return relations;
}

function rollupRelation(rollup: SilverRollup, locations: readonly string[]): SqlFragment {
  const parts = sql`read_parquet(${locations}, hive_partitioning = false)`;
  return locations.length === 1 ? sql`(SELECT * FROM ${parts})` : sql`(${combineRollups(rollup, parts)})`;
}
