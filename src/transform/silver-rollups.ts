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
 * version), and listed in its `rollups.json`: rollup id -> the store key of
 * the version's rollup file. A snapshot rolls up its rows; a delta that only
 * adds keys combines its snapshot's rollup with the rollup of its own rows
 * (1% new events: 1% aggregated, plus one pass over the smaller rollup); any
 * other delta is rolled up whole. Each version's rollup is that one file, so
 * Gold reads it without combining again. A version without `rollups.json`
 * (written before rollups existed) or without an id (a definition changed
 * since) is read through the inline rollup instead.
 */

const rollupsFileSchema = z.object({
  rollups: z.record(z.string(), z.string().min(1)),
});

type RollupFiles = Record<string, string>;

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
  /** `snapshot`: over a new snapshot; `delta`: the delta's rows combined with the snapshot's rollup; `full`: over the whole version. */
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
    const base = baseFiles[id];
    const plan = planRollup(rollup, version, base === undefined ? undefined : store.locationOf(base));
    const file = `rollup-${id}.parquet`;
    const label = `rollup.${contract.source}.${contract.entity}.${rollup.name}`;
    await engine.execute({
      sql: sql`COPY (${plan.query}) TO ${`${location}/${file}`} (${SILVER_PARQUET})`,
      label,
    });
    const counted = await engine.query({
      sql: sql`SELECT count(*) AS n FROM read_parquet(${`${location}/${file}`})`,
      label: `${label}.count`,
    });
    files[id] = `${prefix}${file}`;
    written.push({ id, mode: plan.mode, rows: Number(counted.rows[0]?.n ?? 0) });
  }
  await store.put(rollupsFileKey(contract, runId), jsonBody({ rollups: files }));
  return written;
}

/** How a version's rollup is computed: from scratch, or from its snapshot's rollup and its delta's rows. */
function planRollup(
  rollup: SilverRollup,
  version: SilverVersion,
  /** Location of the rollup file of the version's snapshot, when it has one. */
  base: string | undefined,
): { mode: RollupWritten['mode']; query: SqlFragment } {
  if (!version.delta) return { mode: 'snapshot', query: rollup.query(live(version.base), duckdbDialect) };
  // The delta's keys are disjoint from the snapshot's: its rows' rollup combines with the snapshot's.
  if (version.overlapsBase === false && base !== undefined) {
    const parts = sql`(SELECT * FROM read_parquet(${base}, hive_partitioning = false)
      UNION ALL BY NAME ${rollup.query(live(version.delta), duckdbDialect)})`;
    return { mode: 'delta', query: combineRollups(rollup, parts) };
  }
  return { mode: 'full', query: rollup.query(silverRelation(version), duckdbDialect) };
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
    const key = files[rollupId(rollup)];
    if (key !== undefined) {
      relations[rollup.name] =
        sql`(SELECT * FROM read_parquet(${store.locationOf(key)}, hive_partitioning = false))`;
    }
  }
  return relations;
}
