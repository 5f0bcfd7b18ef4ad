import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../../src/adapters/object-store/local.js';
import { DuckDbQueryEngine } from '../../../src/adapters/query-engine/duckdb.js';
import { raw, type SqlFragment, sql } from '../../../src/sql/fragment.js';
import { type EntityContract, zohoContacts } from '../../../src/transform/entities.js';
import { readQuarantineRows } from '../../../src/transform/quarantine.js';
import {
  mergeSilver,
  reconciled,
  reconcileQuery,
  silverMergeStatement,
  stagingStatement,
} from '../../../src/transform/silver.js';

/**
 * The staging of a merge: payloads that break the contract in unusual ways
 * (not an object, a repeated member, an unparsable source_ts) are quarantined
 * with their original event instead of failing the merge, and the staging
 * table is scratch that no merge leaves behind.
 */

let lineNo = 0;

/** A contact event whose payload and envelope fields can be overridden. */
function contactEvent(key: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  lineNo += 1;
  return {
    source: 'zoho_books',
    entity: 'contacts',
    key,
    op: 'U',
    source_ts: '2026-01-01T00:00:00.000Z',
    seq: String(lineNo).padStart(12, '0'),
    ingested_at: '2026-11-21T00:00:00.000Z',
    run_id: '20261121T000000Z-test',
    payload: { contact_id: key, contact_name: key, last_modified_time: '2026-01-01T00:00:00Z' },
    ...overrides,
  };
}

describe('Silver staging', () => {
  let dir: string;
  let store: LocalObjectStore;
  let engine: DuckDbQueryEngine;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'goldgate-staging-'));
    store = new LocalObjectStore(dir);
    engine = await DuckDbQueryEngine.create({ store });
  });
  afterAll(async () => {
    await engine.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function bronzeFile(
    contract: EntityContract,
    name: string,
    lines: readonly string[],
  ): Promise<string> {
    const key = `bronze/${contract.source}/${contract.entity}/ingest_date=2026-11-21/run_id=${name}/part-00000.jsonl.gz`;
    await store.put(key, gzipSync(`${lines.join('\n')}\n`));
    return key;
  }

  /** Parse one Bronze file into a staging table, as a merge does first. */
  async function stage(file: string, table: string): Promise<SqlFragment> {
    const staging = raw(table);
    const sources = { bronzeFiles: [store.locationOf(file)], quarantineFiles: [] };
    await engine.execute({ sql: stagingStatement(zohoContacts, sources, staging) });
    return staging;
  }

  it('quarantines odd events with their original event instead of failing the merge', async () => {
    const good = contactEvent('good');
    const untimed = contactEvent('untimed', { source_ts: 'not a time' });
    const lines = [
      JSON.stringify(good),
      JSON.stringify(contactEvent('scalar', { payload: 'not an object' })),
      JSON.stringify(untimed),
      // A repeated member: JSON.stringify cannot write one.
      JSON.stringify({ ...good, key: 'twice' }).replace(
        '"contact_id":"good"',
        '"contact_id":"twice","contact_id":"again"',
      ),
    ];
    const key = await bronzeFile(zohoContacts, '20261121T000100Z-oddp', lines);
    const result = await mergeSilver({
      store,
      engine,
      contract: zohoContacts,
      bronzeKeys: [key],
      quarantineKeys: [],
      previous: undefined,
      runId: '20261121T000100Z-merg',
      ingestDate: '2026-11-21',
    });
    // The repeated member is a valid object for the JSON reader: its first value counts.
    expect([result.eventsIn, result.liveRows, result.quarantined]).toEqual([4, 2, 2]);
    const rows = await readQuarantineRows(store, result.quarantineKey ? [result.quarantineKey] : []);
    expect(rows.map((r) => [r.event.key, r.reason_code, r.event.payload])).toEqual([
      ['scalar', 'MISSING_FIELD', 'not an object'],
      ['untimed', 'TYPE_MISMATCH', untimed.payload],
    ]);
  });

  it('quarantines a row with its whole original payload, members outside the contract included', async () => {
    const bad = contactEvent('bad', {
      payload: { contact_id: 'bad', contact_type: 'martian', extra: { deep: [1, 2] } },
    });
    const fine = contactEvent('fine');
    const badFile = await bronzeFile(zohoContacts, '20261121T000200Z-badf', [JSON.stringify(bad)]);
    const fineFile = await bronzeFile(zohoContacts, '20261121T000200Z-fine', [JSON.stringify(fine)]);
    const result = await mergeSilver({
      store,
      engine,
      contract: zohoContacts,
      bronzeKeys: [badFile, fineFile],
      quarantineKeys: [],
      previous: undefined,
      runId: '20261121T000200Z-merg',
      ingestDate: '2026-11-21',
    });
    expect([result.eventsIn, result.liveRows, result.quarantined]).toEqual([2, 1, 1]);
    const rows = await readQuarantineRows(store, result.quarantineKey ? [result.quarantineKey] : []);
    expect(rows).toHaveLength(1);
    expect(rows[0]?.event.payload).toEqual(bad.payload);
    expect(rows[0]?.reason).toContain('UNKNOWN_ENUM:contact_type');
    // The staging tables are scratch of the merge: none is left behind.
    const { rows: tables } = await engine.query({
      sql: sql`SELECT count(*) AS n FROM duckdb_tables() WHERE table_name LIKE '\\_staging\\_%' ESCAPE '\\'`,
    });
    expect(Number(tables[0]?.n)).toBe(0);
  });
  it('keeps the same latest row per key whichever way the first snapshot is deduplicated', async () => {
    const at = (minute: number): string => `2026-01-01T00:${String(minute).padStart(2, '0')}:00.000Z`;
    const named = (key: string, minute: number, name: string, op = 'U'): Record<string, unknown> =>
      contactEvent(key, {
        op,
        source_ts: at(minute),
        payload: { contact_id: key, contact_name: name, last_modified_time: '2026-01-01T00:00:00Z' },
      });
    const tie = named('c', 5, 'tie-low');
    const lines = [
      named('a', 1, 'a-old'),
      named('a', 3, 'a-new'),
      named('a', 2, 'a-mid'),
      named('b', 1, 'b-only'),
      tie,
      // Same source_ts: the higher seq wins.
      { ...named('c', 5, 'tie-high'), seq: `${String(tie.seq)}9` },
      named('d', 1, 'd-live'),
      named('d', 2, 'd-gone', 'D'),
    ].map((e) => JSON.stringify(e));
    const file = await bronzeFile(zohoContacts, '20261121T000000Z-dedu', lines);
    const staging = await stage(file, '_test_dedup_staging');
    try {
      const outputs: unknown[] = [];
      for (const fewDuplicates of [true, false]) {
        const output = join(dir, `dedup-${fewDuplicates}.parquet`);
        await engine.execute({
          sql: silverMergeStatement({ contract: zohoContacts, staging, output, fewDuplicates }),
        });
        const { rows } = await engine.query({
          sql: sql`SELECT _key, contact_name, _deleted FROM read_parquet(${output}) ORDER BY _key`,
        });
        outputs.push(rows);
        expect(rows, `fewDuplicates ${fewDuplicates}`).toEqual([
          { _key: 'a', contact_name: 'a-new', _deleted: false },
          { _key: 'b', contact_name: 'b-only', _deleted: false },
          { _key: 'c', contact_name: 'tie-high', _deleted: false },
          { _key: 'd', contact_name: 'd-gone', _deleted: true },
        ]);
      }
      expect(outputs[0]).toEqual(outputs[1]);
    } finally {
      await engine.execute({ sql: sql`DROP TABLE IF EXISTS ${staging}` });
    }
  });
  it('blocks a version whose written file repeats a key or lacks a staged key, snapshot or delta', async () => {
    const lines = ['a', 'b'].map((key) => JSON.stringify(contactEvent(key)));
    const file = await bronzeFile(zohoContacts, '20261121T000000Z-chek', lines);
    const staging = await stage(file, '_test_check_staging');
    // A broken write: key a twice, key b never.
    const broken = join(dir, 'broken.parquet');
    const good = join(dir, 'good.parquet');
    const rows = (keys: string) => sql`SELECT _key, FALSE AS _deleted FROM (VALUES ${raw(keys)}) AS t(_key)`;
    await engine.execute({ sql: sql`COPY (${rows("('a'), ('a')")}) TO ${broken} (FORMAT parquet)` });
    await engine.execute({ sql: sql`COPY (${rows("('a'), ('b'), ('z')")}) TO ${good} (FORMAT parquet)` });
    try {
      const checks = async (version: Parameters<typeof reconcileQuery>[1]) => {
        const { rows: r } = await engine.query({ sql: reconcileQuery(staging, version) });
        return Object.fromEntries(reconciled(r[0] ?? {}).checks.map((c) => [c.name, c.passed]));
      };
      const failing = { every_valid_event_key_reaches_silver: false, unique_key: false };
      const passing = { every_valid_event_key_reaches_silver: true, unique_key: true };
      expect(await checks({ baseRun: 'R', base: broken })).toEqual(failing);
      expect(await checks({ baseRun: 'R', base: good, delta: broken })).toEqual(failing);
      expect(await checks({ baseRun: 'R', base: good })).toEqual(passing);
      expect(await checks({ baseRun: 'R', base: broken, delta: good })).toEqual(passing);
      // A delta flagged as sharing no key with its base is read without the anti join: a shared key is a duplicate.
      const unique = { every_valid_event_key_reaches_silver: true, unique_key: false };
      expect(await checks({ baseRun: 'R', base: good, delta: good, overlapsBase: false })).toEqual(unique);
      expect(await checks({ baseRun: 'R', base: good, delta: good, overlapsBase: true })).toEqual(passing);
    } finally {
      await engine.execute({ sql: sql`DROP TABLE IF EXISTS ${staging}` });
    }
  });
});
