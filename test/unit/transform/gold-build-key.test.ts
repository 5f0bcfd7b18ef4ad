import { describe, expect, it } from 'vitest';
import { type SqlFragment, sql } from '../../../src/sql/fragment.js';
import { goldBuildKey } from '../../../src/transform/gold/build-key.js';
import { GOLD_MODELS } from '../../../src/transform/gold/index.js';

const [model, other] = GOLD_MODELS;
if (!model || !other) throw new Error('expected Gold models');

const base = {
  model,
  query: sql`SELECT * FROM ${'silver/run_id=R1'} WHERE d <= ${'2026-11-21'}` as SqlFragment,
  dialect: 'duckdb',
  silverRuns: { 'zoho_books/contacts': 'R1', 'dynamodb/accounts': 'none' },
  asOf: '2026-11-21',
};

describe('goldBuildKey', () => {
  it('is the same for the same build, whatever the order Silver inputs were listed in', () => {
    const reordered = { ...base, silverRuns: { 'dynamodb/accounts': 'none', 'zoho_books/contacts': 'R1' } };
    expect(goldBuildKey(reordered)).toBe(goldBuildKey(base));
    expect(goldBuildKey(base)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('changes with anything that changes what the build writes', () => {
    const variants = [
      { ...base, model: other },
      { ...base, query: sql`SELECT * FROM ${'silver/run_id=R2'} WHERE d <= ${'2026-11-21'}` },
      { ...base, query: sql`SELECT * FROM ${'silver/run_id=R1'} WHERE d < ${'2026-11-21'}` },
      { ...base, query: sql`SELECT * FROM ${'silver/run_id=R1'} WHERE d <= ${1n}` },
      { ...base, query: sql`SELECT * FROM ${'silver/run_id=R1'} WHERE d <= ${1}` },
      { ...base, query: sql`SELECT * FROM ${'silver/run_id=R1'} WHERE d <= ${'bigint:1'}` },
      { ...base, dialect: 'trino' },
      { ...base, silverRuns: { ...base.silverRuns, 'dynamodb/accounts': 'R3' } },
      { ...base, silverRuns: { 'zoho_books/contacts': 'R1' } },
      { ...base, asOf: '2026-11-22' },
      { ...base, model: { ...model, mart: { ...model.mart, schemaVersion: model.mart.schemaVersion + 1 } } },
      { ...base, model: { ...model, mart: { ...model.mart, partitionBy: ['as_of'] } } },
      {
        ...base,
        model: {
          ...model,
          mart: {
            ...model.mart,
            columns: model.mart.columns.map((c, i) => (i === 0 ? { ...c, sqlType: 'DATE' as const } : c)),
          },
        },
      },
    ];
    const keys = new Set([goldBuildKey(base), ...variants.map((v) => goldBuildKey(v))]);
    expect(keys.size).toBe(variants.length + 1);
  });
});
