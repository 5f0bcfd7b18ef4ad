import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../../src/adapters/object-store/local.js';
import { DuckDbQueryEngine } from '../../../src/adapters/query-engine/duckdb.js';
import { sql } from '../../../src/sql/fragment.js';
import { type EntityContract, zohoContacts } from '../../../src/transform/entities.js';
import { readQuarantineRows } from '../../../src/transform/quarantine.js';
import { mergeSilver } from '../../../src/transform/silver.js';

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
});
