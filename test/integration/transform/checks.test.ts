import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../../src/adapters/object-store/local.js';
import { DuckDbQueryEngine } from '../../../src/adapters/query-engine/duckdb.js';
import type { MartDef } from '../../../src/catalog/types.js';
import { raw } from '../../../src/sql/fragment.js';
import { runMartChecks } from '../../../src/transform/checks.js';

const mart: MartDef = {
  name: 'probe',
  schemaVersion: 1,
  description: 'probe',
  key: ['id'],
  partitionBy: [],
  rowScope: {},
  relations: [],
  api: { typeName: 'Probe', listField: 'probes' },
  columns: [
    { name: 'id', sqlType: 'VARCHAR', apiType: 'ID', nullable: false, description: 'id' },
    { name: 'customer_id', sqlType: 'VARCHAR', apiType: 'String', nullable: true, description: 'customer' },
    { name: 'score', sqlType: 'INTEGER', apiType: 'Int', nullable: false, description: 'score' },
    {
      name: 'region',
      sqlType: 'VARCHAR',
      apiType: 'String',
      nullable: false,
      values: ['EU', 'NA'],
      description: 'r',
    },
  ],
  checks: {
    ranges: [{ column: 'score', min: '0', max: '100' }],
    references: [{ column: 'customer_id', mart: 'customers', targetColumn: 'customer_id', blocking: false }],
  },
};

describe('catalog-declared quality checks', () => {
  let engine: DuckDbQueryEngine;
  beforeAll(async () => {
    engine = await DuckDbQueryEngine.create({ store: new LocalObjectStore('/tmp/unused-checks') });
  });
  afterAll(async () => engine.close());

  const customers = raw("(SELECT * FROM (VALUES ('c1'), ('c2')) AS t(customer_id))");
  const byName = (checks: Array<{ name: string; passed: boolean; blocking: boolean }>) =>
    Object.fromEntries(checks.map((c) => [c.name, [c.passed, c.blocking]]));

  it('passes on good rows', async () => {
    const rel = raw(
      "(SELECT * FROM (VALUES ('1', 'c1', 0, 'EU'), ('2', NULL, 100, 'NA')) AS t(id, customer_id, score, region))",
    );
    const { rowCount, checks } = await runMartChecks(engine, mart, rel, { customers });
    expect(rowCount).toBe(2);
    expect(checks.every((c) => c.passed)).toBe(true);
    expect(byName(checks)).toMatchObject({
      range_score: [true, true],
      'references_customers.customer_id': [true, false],
    });
  });

  it('fails each declared check on the rows that break it', async () => {
    const rel = raw(
      "(SELECT * FROM (VALUES ('1', 'c9', 101, 'EU'), ('1', 'c1', -1, 'XX'), (NULL, 'c2', 5, 'NA')) AS t(id, customer_id, score, region))",
    );
    const { checks } = await runMartChecks(engine, mart, rel, { customers });
    expect(byName(checks)).toEqual({
      unique_key: [false, true],
      not_null_id: [false, true],
      not_null_score: [true, true],
      not_null_region: [true, true],
      allowed_values_region: [false, true],
      range_score: [false, true],
      'references_customers.customer_id': [false, false],
    });
    expect(checks.find((c) => c.name === 'range_score')?.detail).toBe('2 rows out of range');
  });
});
