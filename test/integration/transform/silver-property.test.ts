import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../../src/adapters/object-store/local.js';
import { DuckDbQueryEngine } from '../../../src/adapters/query-engine/duckdb.js';
import { writeBronzeRun } from '../../../src/ingest/bronze-writer.js';
import type { BronzeEvent } from '../../../src/ingest/envelope.js';
import { sql } from '../../../src/sql/fragment.js';
import { dynamoAccounts } from '../../../src/transform/entities.js';
import {
  mergeSilver,
  readSilverVersion,
  type SilverVersion,
  silverRelation,
} from '../../../src/transform/silver.js';

/** One change at the source: a version of an account, a delete, or a TTL expiry. */
interface Change {
  readonly key: string;
  readonly op: 'I' | 'U' | 'D';
  readonly ts: number;
  readonly seq: number;
  readonly plan: string;
  readonly ttl: boolean;
}

const change = fc.record({
  key: fc.constantFrom('a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7', 'a8', 'a9'),
  op: fc.constantFrom<'I' | 'U' | 'D'>('I', 'U', 'U', 'D'),
  // Few distinct timestamps on purpose: ties must be broken by seq.
  ts: fc.integer({ min: 0, max: 6 }),
  seq: fc.integer({ min: 0, max: 1_000_000 }),
  plan: fc.constantFrom('starter', 'growth', 'enterprise'),
  ttl: fc.boolean(),
});

/** A history, then how it reaches Bronze: duplicated, shuffled, cut into runs, merged in batches. */
const scenario = fc
  .uniqueArray(change, { minLength: 1, maxLength: 30, selector: (c) => c.seq })
  .chain((changes) =>
    fc.record({
      changes: fc.constant(changes),
      delivered: fc.shuffledSubarray([...changes, ...changes], { minLength: changes.length * 2 }),
      runs: fc.integer({ min: 1, max: 6 }),
      merges: fc.integer({ min: 1, max: 6 }),
      // Never compact (a delta over a delta), always (every version a full snapshot), or by size.
      compactAt: fc.constantFrom(Number.POSITIVE_INFINITY, 0, 0.5),
    }),
  );

/** What Silver must hold: per key, the latest (ts, seq) non-TTL change, unless it is a delete. */
function expected(changes: readonly Change[]): Record<string, string> {
  const latest = new Map<string, Change>();
  for (const c of changes) {
    if (c.op === 'D' && c.ttl) continue;
    const seen = latest.get(c.key);
    if (!seen || c.ts > seen.ts || (c.ts === seen.ts && c.seq > seen.seq)) latest.set(c.key, c);
  }
  const out: Record<string, string> = {};
  for (const [key, c] of latest) if (c.op !== 'D') out[key] = c.plan;
  return out;
}

function toEvent(c: Change, runId: string): BronzeEvent {
  const ttl = c.op === 'D' && c.ttl;
  return {
    source: 'dynamodb',
    entity: 'accounts',
    key: c.key,
    op: c.op,
    source_ts: new Date(Date.UTC(2026, 0, 1, 0, c.ts)).toISOString(),
    seq: String(c.seq).padStart(40, '0'),
    ingested_at: '2026-11-21T00:00:00.000Z',
    run_id: runId,
    payload:
      c.op === 'D'
        ? { account_id: c.key }
        : {
            account_id: c.key,
            plan: c.plan,
            region: 'EU',
            signup_at: '2026-01-01T00:00:00Z',
            status: 'active',
          },
    ...(ttl ? { meta: { ttl_expiry: true } } : {}),
  };
}

describe('Silver equals the latest surviving version of each key (property)', () => {
  let root: string;
  let engine: DuckDbQueryEngine;
  let scenarioNo = 0;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'goldgate-property-'));
    engine = await DuckDbQueryEngine.create({ store: new LocalObjectStore(root) });
  });

  afterAll(async () => {
    await engine.close();
    await rm(root, { recursive: true, force: true });
  });

  it('for shuffled, duplicated, late, deleted and TTL-expired histories merged incrementally', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ changes, delivered, runs, merges, compactAt }) => {
        scenarioNo += 1;
        const store = new LocalObjectStore(join(root, `s${scenarioNo}`));
        // Land the delivered stream as `runs` Bronze runs, in delivery order.
        const per = Math.ceil(delivered.length / runs);
        const bronzeParts: string[][] = [];
        for (let r = 0; r * per < delivered.length; r++) {
          const runId = `20261121T0000${String(r).padStart(2, '0')}Z-r${String(r).padStart(3, '0')}`;
          const events = delivered.slice(r * per, (r + 1) * per).map((c) => toEvent(c, runId));
          const ref = { source: 'dynamodb', entity: 'accounts', ingestDate: '2026-11-21', runId };
          const { manifest } = await writeBronzeRun(store, ref, events);
          bronzeParts.push(
            manifest.parts.map((p) => `bronze/dynamodb/accounts/ingest_date=2026-11-21/run_id=${runId}/${p}`),
          );
        }
        // Merge them in `merges` incremental batches, each on top of the previous version.
        const batch = Math.ceil(bronzeParts.length / merges);
        let previous: SilverVersion | undefined;
        for (let m = 0; m * batch < bronzeParts.length; m++) {
          const runId = `20261121T0100${String(m).padStart(2, '0')}Z-m${String(m).padStart(3, '0')}`;
          const result = await mergeSilver({
            store,
            engine,
            contract: dynamoAccounts,
            bronzeKeys: bronzeParts.slice(m * batch, (m + 1) * batch).flat(),
            quarantineKeys: [],
            previous,
            runId,
            ingestDate: '2026-11-21',
            compactAt,
          });
          // The version is what its own folder says it is, as every reader finds it.
          expect(await readSilverVersion(store, dynamoAccounts, runId)).toEqual(result.version);
          if (previous && compactAt === Number.POSITIVE_INFINITY) expect(result.version.delta).toBeDefined();
          if (compactAt === 0) expect(result.version.delta).toBeUndefined();
          if (result.version.delta) {
            // Readers skip the anti join when the delta shares no key with the base: the flag must be exact.
            const { rows: shared } = await engine.query({
              sql: sql`SELECT count(*) AS n FROM read_parquet(${result.version.delta}) AS d
                SEMI JOIN read_parquet(${result.version.base}) AS b ON b._key = d._key`,
            });
            expect(result.version.overlapsBase).toBe(Number(shared[0]?.n) > 0);
          }
          previous = result.version;
        }
        if (!previous) throw new Error('no merge ran');
        const { rows } = await engine.query({
          sql: sql`SELECT _key, plan FROM ${silverRelation(previous)} AS v ORDER BY _key`,
        });
        const live = Object.keys(expected(changes)).length;
        expect(rows.length).toBe(live);
        const actual = Object.fromEntries(rows.map((r) => [String(r._key), String(r.plan)]));
        expect(actual).toEqual(expected(changes));
      }),
      { numRuns: 40 },
    );
  });
});
