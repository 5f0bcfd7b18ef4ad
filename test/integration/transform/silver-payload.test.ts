import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../../src/adapters/object-store/local.js';
import { DuckDbQueryEngine } from '../../../src/adapters/query-engine/duckdb.js';
import type { SqlType } from '../../../src/catalog/types.js';
import { raw, sql } from '../../../src/sql/fragment.js';
import type { EntityContract } from '../../../src/transform/entities.js';
import { zohoContacts, zohoInvoices } from '../../../src/transform/entities.js';
import { payloadShape, stagingStatement, typedFieldSql } from '../../../src/transform/silver.js';

/**
 * How staging reads payload fields, on raw Bronze lines JSON.stringify could
 * not write (duplicate keys, exponent numbers). The payload is read once
 * into the contract's shape (`json_transform`); each field must read as
 * `json_extract_string` at its path reads it, which is what the contract
 * means by a path. Both are checked: fixed expectations, and the same
 * lines through `json_extract_string`.
 */
const PAYLOADS: Readonly<Record<string, string>> = {
  text: '{"contact_id":"c1","contact_name":"Alpha","billing_address":{"country":"India"}}',
  numbers: '{"contact_id":100.50,"contact_name":12345678901234567890123,"email":1.0E+2,"phone":-0.0}',
  exponent_float: '{"contact_id":1e21,"contact_name":0.000001}',
  booleans: '{"contact_id":true,"contact_name":false}',
  nested_values:
    '{"contact_id":{"z":[1,2]},"contact_name":[1,"x"],"billing_address":{"country":{"code":"IN"}}}',
  duplicate_key: '{"contact_id":"first","contact_id":"second","contact_name":"N"}',
  other_case: '{"Contact_ID":"upper","contact_name":"N","billing_address":{"Country":"India"}}',
  escapes: '{"contact_id":"q\\"uote \\u00e9","contact_name":"N"}',
  address_not_object: '{"contact_id":"c2","contact_name":"N","billing_address":"India"}',
  nulls: '{"contact_id":null,"contact_name":null,"billing_address":null}',
  empty_object: '{}',
  string_payload: '"just text"',
  number_payload: '5',
  array_payload: '[{"contact_id":"c3"}]',
  null_payload: 'null',
};

const FIELDS = ['contact_id', 'contact_name', 'email', 'phone', 'country'] as const;

function line(key: string, payload: string): string {
  return (
    `{"source":"zoho_books","entity":"contacts","key":"${key}","op":"U","source_ts":"2026-01-01T00:00:00.000Z",` +
    `"seq":"1","ingested_at":"2026-11-21T00:00:00.000Z","run_id":"20261121T000000Z-pay1","payload":${payload}}`
  );
}

describe('Silver staging reads payload fields', () => {
  let dir: string;
  let store: LocalObjectStore;
  let engine: DuckDbQueryEngine;
  let file: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'goldgate-payload-'));
    store = new LocalObjectStore(dir);
    engine = await DuckDbQueryEngine.create({ store });
    const key =
      'bronze/zoho_books/contacts/ingest_date=2026-11-21/run_id=20261121T000000Z-pay1/part-00000.jsonl.gz';
    const text = Object.entries(PAYLOADS)
      .map(([k, p]) => line(k, p))
      .join('\n');
    await store.put(key, gzipSync(Buffer.from(`${text}\n`)));
    file = store.locationOf(key);
    await engine.execute({
      sql: stagingStatement(
        zohoContacts,
        { bronzeFiles: [file], quarantineFiles: [] },
        raw('staged_payloads'),
      ),
    });
  });
  afterAll(async () => {
    await engine.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function staged(): Promise<Record<string, Record<string, unknown>>> {
    const { rows } = await engine.query({
      sql: raw(`SELECT _key, ${FIELDS.map((f) => `"${f}"`).join(', ')} FROM staged_payloads`),
    });
    return Object.fromEntries(rows.map((r) => [String(r._key), r]));
  }

  it('reads each JSON kind as fixed text, or NULL when the payload has no such field', async () => {
    const rows = await staged();
    expect(Object.keys(rows).sort()).toEqual(Object.keys(PAYLOADS).sort());
    expect(rows.text).toMatchObject({ contact_id: 'c1', contact_name: 'Alpha', country: 'India' });
    expect(rows.numbers).toMatchObject({
      contact_id: '100.5',
      contact_name: '12345678901234567890123',
      email: '100.0',
      phone: '-0.0',
    });
    // A very large or small float reads in exponent form (json_extract_string: 1e21, 0.000001): same number.
    expect(rows.exponent_float).toMatchObject({ contact_id: '1e+21', contact_name: '1e-06' });
    expect(rows.booleans).toMatchObject({ contact_id: 'true', contact_name: 'false' });
    expect(rows.nested_values).toMatchObject({
      contact_id: '{"z":[1,2]}',
      contact_name: '[1,"x"]',
      country: '{"code":"IN"}',
    });
    // The first of two equal keys, as json_extract_string reads it; keys match case-sensitively.
    expect(rows.duplicate_key).toMatchObject({ contact_id: 'first' });
    expect(rows.other_case).toMatchObject({ contact_id: null, country: null });
    expect(rows.escapes).toMatchObject({ contact_id: 'q"uote é' });
    expect(rows.address_not_object).toMatchObject({ contact_id: 'c2', country: null });
    for (const k of [
      'nulls',
      'empty_object',
      'string_payload',
      'number_payload',
      'array_payload',
      'null_payload',
    ]) {
      expect(rows[k], k).toMatchObject({
        contact_id: null,
        contact_name: null,
        email: null,
        phone: null,
        country: null,
      });
    }
  });

  it('reads every field as json_extract_string at its path does', async () => {
    const paths = FIELDS.map((f) => zohoContacts.fields.find((d) => d.name === f)?.path ?? '');
    const { rows } = await engine.query({
      sql: sql`SELECT key AS _key, ${raw(
        FIELDS.map((f, i) => `NULLIF(json_extract_string(payload, '${paths[i]}'), '') AS "${f}"`).join(', '),
      )} FROM read_json(${file}, format = 'newline_delimited', compression = 'gzip', hive_partitioning = false,
        columns = {key: 'VARCHAR', payload: 'JSON'})`,
    });
    // Every payload but the exponent floats, whose text differs (same number, checked above).
    const expected = Object.fromEntries(
      rows.filter((r) => r._key !== 'exponent_float').map((r) => [String(r._key), r]),
    );
    const { exponent_float: _, ...rest } = await staged();
    expect(rest).toEqual(expected);
  });

  it('types random payloads as from json_extract_string, for every contract type (any JSON value, repeated keys, other case, non-objects)', async () => {
    // One field per type the contracts use, each at its own path, plus a nested one.
    const types: SqlType[] = [
      'VARCHAR',
      'INTEGER',
      'BIGINT',
      'DOUBLE',
      'DECIMAL(18,2)',
      'DATE',
      'TIMESTAMP',
      'BOOLEAN',
    ];
    const contract: EntityContract = {
      source: 'zoho_books',
      entity: 'contacts',
      fields: [
        ...types.map((sqlType, i) => ({ name: `f${i}`, sqlType, path: `$.f${i}` })),
        { name: 'nested', sqlType: 'DECIMAL(18,2)', path: '$.o.f3' },
      ],
    };
    const shape = payloadShape(contract);
    // Object texts written by hand, so that a key may repeat and values nest where a field expects text.
    const names = fc.constantFrom(...contract.fields.map((_, i) => `f${i}`), 'o', 'F1', 'x');
    const scalar = fc.oneof(
      fc.jsonValue({ maxDepth: 1 }).map((v) => JSON.stringify(v)),
      fc.double({ noNaN: true, noDefaultInfinity: true }).map((v) => JSON.stringify(v)),
      fc.integer({ min: -1_000_000, max: 1_000_000 }).map((v) => `${v}e${v % 30}`),
      fc.constantFrom(
        '1.50',
        '5e-06',
        '0.000005',
        '-0.00007',
        '0.00001',
        '-5e-06',
        '5e-13',
        '1e21',
        '1e16',
        '12345678901234567890123',
        '"2024-01-05"',
        '"2024-01-05T10:00:00+0530"',
        '"true"',
        '" 7 "',
        '"\\u00e9 \\""',
      ),
    );
    const value: fc.Arbitrary<string> = fc.letrec((tie) => ({
      text: fc.oneof({ weight: 5, arbitrary: scalar }, { weight: 2, arbitrary: tie('object') }),
      object: fc
        .array(fc.tuple(names, tie('text') as fc.Arbitrary<string>), {
          maxLength: 6,
          depthIdentifier: 'payload',
        })
        .map((pairs) => `{${pairs.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`),
    })).text as fc.Arbitrary<string>;
    // Per field: the same typed value; for text, the same text or (a float in exponent form) the same number.
    const differs = contract.fields.map((f) => {
      const shaped = `shaped.${f.path
        .slice(2)
        .split('.')
        .map((x) => `"${x}"`)
        .join('.')}`;
      const extracted = `json_extract_string(payload, '${f.path}')`;
      const same =
        f.sqlType === 'VARCHAR'
          ? `${shaped} IS NOT DISTINCT FROM ${extracted} OR (json_type(payload, '${f.path}') = 'DOUBLE'
              AND TRY_CAST(${shaped} AS DOUBLE) = TRY_CAST(${extracted} AS DOUBLE))`
          : `(${typedFieldSql(f, shaped)}) IS NOT DISTINCT FROM (${typedFieldSql(f, extracted)})`;
      return `CASE WHEN ${same} THEN NULL
        ELSE '${f.name} ${f.sqlType}: ' || coalesce(${shaped}, 'NULL') || ' <> ' || coalesce(${extracted}, 'NULL') END`;
    });
    await fc.assert(
      fc.asyncProperty(fc.array(value, { minLength: 1, maxLength: 20 }), async (payloads) => {
        const { rows } = await engine.query({
          sql: sql`WITH p AS (SELECT CAST(v AS JSON) AS payload FROM (SELECT unnest(${payloads}) AS v) AS t),
            s AS (SELECT payload, json_transform(payload, ${shape}) AS shaped FROM p)
            SELECT count(*) AS n, string_agg(d, '; ') AS differences
            FROM (SELECT unnest([${raw(differs.join(',\n'))}]) AS d FROM s) AS x`,
        });
        expect(rows[0]?.differences ?? null).toBeNull();
        expect(Number(rows[0]?.n)).toBe(payloads.length * contract.fields.length);
      }),
      { numRuns: 150 },
    );
  });

  it('rounds decimals written with an exponent like the same decimal spelled out', async () => {
    const invoice = (key: string, total: string, balance: string): string =>
      line(
        key,
        `{"invoice_id":"${key}","customer_id":"c1","status":"sent","date":"2026-01-01","currency_code":"USD",` +
          `"total":${total},"balance":${balance},"last_modified_time":"2026-01-01T00:00:00+0000"}`,
      ).replace('"contacts"', '"invoices"');
    const key =
      'bronze/zoho_books/invoices/ingest_date=2026-11-21/run_id=20261121T000000Z-pay2/part-00000.jsonl.gz';
    const lines = [
      invoice('tiny', '0.000005', '-0.000005'),
      invoice('tinier', '5e-13', '0.00001'),
      invoice('spelled', '0.005', '100.50'),
      invoice('exponent', '1.5e2', '1.005e2'),
      invoice('too_big', '1e21', '0'),
    ];
    await store.put(key, gzipSync(Buffer.from(`${lines.join('\n')}\n`)));
    await engine.execute({
      sql: stagingStatement(
        zohoInvoices,
        { bronzeFiles: [store.locationOf(key)], quarantineFiles: [] },
        raw('staged_invoices'),
      ),
    });
    const { rows } = await engine.query({
      sql: raw(
        'SELECT _key, CAST(total AS VARCHAR) AS total, CAST(balance AS VARCHAR) AS balance, _violation FROM staged_invoices ORDER BY _key',
      ),
    });
    expect(rows).toEqual([
      { _key: 'exponent', total: '150.00', balance: '100.50', _violation: null },
      { _key: 'spelled', total: '0.01', balance: '100.50', _violation: null },
      // 5e-06 and 1e-05 are how json_transform writes 0.000005 and 0.00001: they round to 0.00, not 0.01.
      { _key: 'tinier', total: '0.00', balance: '0.00', _violation: null },
      { _key: 'tiny', total: '0.00', balance: '0.00', _violation: null },
      { _key: 'too_big', total: null, balance: '0.00', _violation: 'TYPE_MISMATCH:total' },
    ]);
  });

  it('builds one shape for every path, nested objects included, and refuses paths it cannot read', () => {
    expect(JSON.parse(payloadShape(zohoContacts))).toMatchObject({
      contact_id: 'VARCHAR',
      billing_address: { country: 'VARCHAR' },
    });
    const contract = (paths: string[]): EntityContract => ({
      source: 'zoho_books',
      entity: 'contacts',
      fields: paths.map((path, i) => ({ name: `f${i}`, sqlType: 'VARCHAR', path })),
    });
    expect(() => payloadShape(contract(['$.a', '$.a.b']))).toThrow(TypeError);
    expect(() => payloadShape(contract(['$.a.b', '$.a']))).toThrow(TypeError);
    expect(() => payloadShape(contract(['$.items[0].id']))).toThrow(TypeError);
    expect(() => payloadShape(contract(["$.it's"]))).toThrow(TypeError);
    // Keys that name Object's own properties are plain keys of the shape (nothing leaks into Object).
    expect(JSON.parse(payloadShape(contract(['$.__proto__.x', '$.constructor', '$.valueof.y'])))).toEqual(
      JSON.parse('{"__proto__":{"x":"VARCHAR"},"constructor":"VARCHAR","valueof":{"y":"VARCHAR"}}'),
    );
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });
});
