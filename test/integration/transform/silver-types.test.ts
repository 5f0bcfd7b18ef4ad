import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../../src/adapters/object-store/local.js';
import { DuckDbQueryEngine } from '../../../src/adapters/query-engine/duckdb.js';
import { sql } from '../../../src/sql/fragment.js';
import { listCommittedBronzeRuns } from '../../../src/transform/bronze-runs.js';
import { dynamoAccounts, zohoContacts } from '../../../src/transform/entities.js';
import { mergeSilver } from '../../../src/transform/silver.js';
import { account, contact, landEvents } from '../../support/builders/bronze.js';

describe('Silver typing', () => {
  let dir: string;
  let store: LocalObjectStore;
  let engine: DuckDbQueryEngine;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'goldgate-types-'));
    store = new LocalObjectStore(dir);
    engine = await DuckDbQueryEngine.create({ store });
  });
  afterAll(async () => {
    await engine.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function merge(contract: typeof zohoContacts, runId: string) {
    const runs = await listCommittedBronzeRuns(store, contract.source, contract.entity);
    const result = await mergeSilver({
      store,
      engine,
      contract,
      bronzeKeys: runs.flatMap((r) => r.parts),
      quarantineKeys: [],
      previous: undefined,
      runId,
      ingestDate: '2026-11-21',
    });
    const file = `${store.locationOf(`silver/${contract.source}/${contract.entity}/run_id=${runId}/`)}/data.parquet`;
    const { rows } = await engine.query({ sql: sql`SELECT * FROM read_parquet(${file}) ORDER BY _key` });
    return { result, rows };
  }

  it('applies the source offset to timestamps: +0530 wall time becomes the UTC instant', async () => {
    const c = contact('1', '2024-01-05T04:30:00.000Z', { name: 'Alpha' });
    const withZohoTime = {
      ...c,
      payload: {
        ...c.payload,
        last_modified_time: '2024-01-05T10:00:00+0530',
        created_time: '2023-12-31T23:00:00-0800',
      },
    };
    await landEvents(store, 'zoho_books', 'contacts', [withZohoTime], new Date('2026-11-21T00:00:00Z'));
    const { rows } = await merge(zohoContacts, '20261121T000000Z-aaaa');
    expect(rows[0]).toMatchObject({
      last_modified_time: '2024-01-05 04:30:00',
      created_time: '2024-01-01 07:00:00',
    });
  });

  it('trims spaces (Unicode space separators too) and reads a blank value as missing', async () => {
    const c = contact('9', '2024-01-05T04:30:00.000Z', { name: 'Alpha' });
    const spaced = {
      ...c,
      payload: {
        ...c.payload,
        contact_name: '  Alpha  ',
        company_name: '\u00a0Beta\u3000',
        email: '   ',
        // Only space separators are trimmed: a tab is part of the value.
        phone: '\t+1 555\t',
        currency_code: 'USD',
      },
    };
    await landEvents(store, 'zoho_books', 'contacts', [spaced], new Date('2026-11-21T00:00:00Z'));
    const { rows } = await merge(zohoContacts, '20261121T000000Z-cccc');
    const row = rows.find((r) => r._key === '9');
    expect(row).toMatchObject({
      contact_name: 'Alpha',
      company_name: 'Beta',
      email: null,
      phone: '\t+1 555\t',
      currency_code: 'USD',
    });
  });

  it('quarantines a fraction in a whole-number field instead of rounding it', async () => {
    const a = account('acc_1', '2026-01-01T00:00:00.000Z', {
      contact: '1',
      region: 'EU',
      plan: 'growth',
      signupAt: '2026-01-01T00:00:00Z',
    });
    const fractional = { ...a, key: 'acc_2', payload: { ...a.payload, account_id: 'acc_2', seats: '1.5' } };
    const wordy = { ...a, key: 'acc_3', payload: { ...a.payload, account_id: 'acc_3', seats: 'five' } };
    const whole = { ...a, payload: { ...a.payload, seats: '5' } };
    await landEvents(
      store,
      'dynamodb',
      'accounts',
      [whole, fractional, wordy],
      new Date('2026-11-21T00:00:00Z'),
    );
    const { result, rows } = await merge(dynamoAccounts, '20261121T000000Z-bbbb');
    expect(rows.map((r) => [r._key, r.seats])).toEqual([['acc_1', 5]]);
    expect(result.quarantined).toBe(2);
    // Each is named once: a fraction and a word break the same rule.
    const quarantined = store.locationOf(result.quarantineKey ?? '');
    const { rows: reasons } = await engine.query({
      sql: sql`SELECT event.key AS key, reason FROM read_json(${quarantined}) ORDER BY key`,
    });
    expect(reasons.map((r) => [r.key, r.reason])).toEqual([
      ['acc_2', 'TYPE_MISMATCH:seats'],
      ['acc_3', 'TYPE_MISMATCH:seats'],
    ]);
  });
});
