import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isValidKey } from '../../../src/adapters/object-store/port.js';
import { InvalidNameError } from '../../../src/lake/errors.js';
import {
  type BronzeRunRef,
  bronzeEntityPrefix,
  bronzePartKey,
  bronzeRunKey,
  bronzeRunPrefix,
  checkpointKey,
  goldDataset,
  latestKey,
  lockPrefix,
  parseBronzeKey,
  quarantineKey,
  runPrefix,
  runReportKey,
  silverDataset,
} from '../../../src/lake/layout.js';

const RUN = '20261121T061500Z-7f3a';
const REF: BronzeRunRef = { source: 'zoho_books', entity: 'invoices', ingestDate: '2026-11-21', runId: RUN };

function expectInvalidName(fn: () => unknown): void {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown, 'expected an INVALID_NAME error').toBeInstanceOf(InvalidNameError);
  expect(thrown).toMatchObject({ code: 'INVALID_NAME' });
}

describe('Bronze keys (lake.md "Bronze")', () => {
  it('builds the part key exactly as the spec spells it', () => {
    expect(bronzePartKey(REF, 0)).toBe(
      'bronze/zoho_books/invoices/ingest_date=2026-11-21/run_id=20261121T061500Z-7f3a/part-00000.jsonl.gz',
    );
    expect(bronzePartKey(REF, 12)).toBe(
      'bronze/zoho_books/invoices/ingest_date=2026-11-21/run_id=20261121T061500Z-7f3a/part-00012.jsonl.gz',
    );
    expect(bronzePartKey(REF, 99_999)).toBe(
      'bronze/zoho_books/invoices/ingest_date=2026-11-21/run_id=20261121T061500Z-7f3a/part-99999.jsonl.gz',
    );
  });

  it('builds the run prefix (where _SUCCESS lives) and the entity prefix', () => {
    expect(bronzeRunPrefix(REF)).toBe(
      'bronze/zoho_books/invoices/ingest_date=2026-11-21/run_id=20261121T061500Z-7f3a/',
    );
    expect(`${bronzeRunPrefix(REF)}_SUCCESS`).toBe(
      'bronze/zoho_books/invoices/ingest_date=2026-11-21/run_id=20261121T061500Z-7f3a/_SUCCESS',
    );
    expect(bronzeEntityPrefix('dynamodb', 'accounts')).toBe('bronze/dynamodb/accounts/');
    expect(bronzeRunKey(REF)).toBe('zoho_books/invoices/2026-11-21/20261121T061500Z-7f3a');
  });

  it('builds the quarantine key', () => {
    expect(quarantineKey(REF)).toBe(
      'quarantine/zoho_books/invoices/ingest_date=2026-11-21/run_id=20261121T061500Z-7f3a/rows.jsonl.gz',
    );
  });

  it('rejects part numbers outside 0..99999 with INVALID_NAME', () => {
    for (const part of [-1, 100_000, 1.5, Number.NaN]) expectInvalidName(() => bronzePartKey(REF, part));
  });

  it('rejects invalid sources, entities, dates and run ids with INVALID_NAME', () => {
    const bad: Array<Partial<BronzeRunRef>> = [
      { source: 'Zoho_Books' },
      { source: 'zoho-books' },
      { source: '' },
      { source: '1zoho' },
      { source: 'zoho/books' },
      { entity: '../invoices' },
      { entity: `a${'b'.repeat(63)}` },
      { ingestDate: '2026-1-21' },
      { ingestDate: '20261121' },
      { ingestDate: '2026-11-21/x' },
      { runId: 'latest' },
      { runId: '20261121T061500Z' },
      { runId: '20261121T061500Z-7F3A' },
      { runId: '20261121T061500Z-7f3' },
      { runId: '20261121T061500Z-7f3a/../x' },
    ];
    for (const patch of bad) {
      const ref = { ...REF, ...patch };
      expectInvalidName(() => bronzePartKey(ref, 0));
      expectInvalidName(() => quarantineKey(ref));
    }
    // The longest valid name is 63 characters.
    expect(bronzeEntityPrefix('zoho_books', `a${'b'.repeat(62)}`)).toBe(
      `bronze/zoho_books/a${'b'.repeat(62)}/`,
    );
  });

  it('parses a part key and a _SUCCESS key back into their run', () => {
    expect(parseBronzeKey(bronzePartKey(REF, 3))).toEqual({ ...REF, file: 'part-00003.jsonl.gz' });
    expect(parseBronzeKey(`${bronzeRunPrefix(REF)}_SUCCESS`)).toEqual({ ...REF, file: '_SUCCESS' });
  });

  it('parses nothing that is not a Bronze object key', () => {
    for (const key of [
      'gold/customer_360/schema_v=1/run_id=20261121T061500Z-7f3a/part-00000.parquet',
      'silver/zoho_books/invoices/run_id=20261121T061500Z-7f3a/data.parquet',
      'bronze/zoho_books/invoices/ingest_date=2026-11-21/run_id=20261121T061500Z-7f3a/',
      'bronze/zoho_books/invoices/ingest_date=2026-11-21/run_id=20261121T061500Z-7f3a/sub/part-00000.jsonl.gz',
      'bronze/zoho_books/invoices/run_id=20261121T061500Z-7f3a/part-00000.jsonl.gz',
      'bronze/Zoho/invoices/ingest_date=2026-11-21/run_id=20261121T061500Z-7f3a/part-00000.jsonl.gz',
      'bronze/zoho_books/invoices/ingest_date=21-11-2026/run_id=20261121T061500Z-7f3a/part-00000.jsonl.gz',
      'x/bronze/zoho_books/invoices/ingest_date=2026-11-21/run_id=20261121T061500Z-7f3a/_SUCCESS',
      // a hand-made folder is not a run the writers could have made
      'bronze/zoho_books/invoices/ingest_date=2026-11-21/run_id=manual/_SUCCESS',
    ]) {
      expect(parseBronzeKey(key), key).toBeUndefined();
    }
  });

  it('round-trips every valid reference through key and parse (property)', () => {
    const name = fc.stringMatching(/^[a-z][a-z0-9_]{0,20}$/);
    const day = fc
      .date({
        min: new Date('2000-01-01T00:00:00Z'),
        max: new Date('2099-12-31T23:59:59Z'),
        noInvalidDate: true,
      })
      .map((d) => d.toISOString().slice(0, 10));
    const runId = fc
      .tuple(
        fc.date({
          min: new Date('2000-01-01T00:00:00Z'),
          max: new Date('2099-12-31T23:59:59Z'),
          noInvalidDate: true,
        }),
        fc.stringMatching(/^[a-z0-9]{4,24}$/),
      )
      .map(
        ([d, suffix]) =>
          `${d
            .toISOString()
            .replace(/\.\d{3}Z$/, 'Z')
            .replace(/[-:]/g, '')}-${suffix}`,
      );
    fc.assert(
      fc.property(
        name,
        name,
        day,
        runId,
        fc.integer({ min: 0, max: 99_999 }),
        (source, entity, ingestDate, id, part) => {
          const ref: BronzeRunRef = { source, entity, ingestDate, runId: id };
          const key = bronzePartKey(ref, part);
          expect(isValidKey(key)).toBe(true);
          expect(parseBronzeKey(key)).toEqual({
            ...ref,
            file: `part-${String(part).padStart(5, '0')}.jsonl.gz`,
          });
          expect(parseBronzeKey(`${bronzeRunPrefix(ref)}_SUCCESS`)).toEqual({ ...ref, file: '_SUCCESS' });
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('Silver and Gold datasets (lake.md "Gold")', () => {
  it('lays out a Gold mart: run prefix, _SUCCESS and the _LATEST.json pointer', () => {
    const gold = goldDataset('customer_360', 1);
    expect(gold).toEqual({
      prefix: 'gold/customer_360/schema_v=1/',
      label: 'gold customer_360 v1',
      schemaVersion: 1,
    });
    expect(runPrefix(gold, RUN)).toBe('gold/customer_360/schema_v=1/run_id=20261121T061500Z-7f3a/');
    expect(`${runPrefix(gold, RUN)}_SUCCESS`).toBe(
      'gold/customer_360/schema_v=1/run_id=20261121T061500Z-7f3a/_SUCCESS',
    );
    expect(latestKey(gold)).toBe('gold/customer_360/schema_v=1/_LATEST.json');
    expect(latestKey(goldDataset('customer_360', 12))).toBe('gold/customer_360/schema_v=12/_LATEST.json');
  });

  it('lays out a Silver entity with its own runs and pointer', () => {
    const silver = silverDataset('zoho_books', 'contacts');
    expect(silver).toEqual({
      prefix: 'silver/zoho_books/contacts/',
      label: 'silver zoho_books.contacts',
      schemaVersion: 1,
    });
    expect(runPrefix(silver, RUN)).toBe('silver/zoho_books/contacts/run_id=20261121T061500Z-7f3a/');
    expect(latestKey(silver)).toBe('silver/zoho_books/contacts/_LATEST.json');
    expect(silverDataset('dynamodb', 'accounts', 3).schemaVersion).toBe(3);
  });

  it('rejects bad mart names, schema versions and run ids with INVALID_NAME', () => {
    expectInvalidName(() => goldDataset('Customer360', 1));
    expectInvalidName(() => goldDataset('customer-360', 1));
    expectInvalidName(() => goldDataset('customer_360', 0));
    expectInvalidName(() => goldDataset('customer_360', 1.5));
    expectInvalidName(() => silverDataset('zoho_books', 'Contacts'));
    expectInvalidName(() => silverDataset('zoho books', 'contacts'));
    expectInvalidName(() => runPrefix(goldDataset('customer_360', 1), 'latest'));
    expectInvalidName(() => runPrefix(goldDataset('customer_360', 1), '../20261121T061500Z-7f3a'));
  });
});

describe('control objects', () => {
  it('places checkpoints, locks and run reports', () => {
    expect(checkpointKey('silver')).toBe('_checkpoints/silver.json');
    expect(checkpointKey('silver.v2-b')).toBe('_checkpoints/silver.v2-b.json');
    expect(lockPrefix('pipeline')).toBe('_locks/pipeline/');
    expect(runReportKey('pipeline', RUN)).toBe('_runs/pipeline/20261121T061500Z-7f3a.json');
  });

  it('rejects bad job names and run ids with INVALID_NAME', () => {
    for (const job of ['', 'Pipeline', '../pipeline', 'a/b', '_pipeline', `p${'x'.repeat(63)}`]) {
      expectInvalidName(() => checkpointKey(job));
      expectInvalidName(() => lockPrefix(job));
    }
    expectInvalidName(() => runReportKey('pipeline', 'today'));
  });

  it('produces keys every object store accepts', () => {
    const gold = goldDataset('customer_360', 1);
    for (const key of [
      bronzePartKey(REF, 0),
      `${bronzeRunPrefix(REF)}_SUCCESS`,
      quarantineKey(REF),
      `${runPrefix(gold, RUN)}_SUCCESS`,
      latestKey(gold),
      latestKey(silverDataset('zoho_books', 'contacts')),
      checkpointKey('silver'),
      `${lockPrefix('pipeline')}lease-0000000001.json`,
      runReportKey('pipeline', RUN),
    ]) {
      expect(isValidKey(key), key).toBe(true);
    }
  });
});
