import { describe, expect, it } from 'vitest';
import { MARTS, validateCatalog } from '../../../src/catalog/index.js';
import { customer360 } from '../../../src/catalog/marts/index.js';

describe('mart catalog', () => {
  it('is consistent', () => {
    expect(validateCatalog()).toEqual([]);
    expect(MARTS.map((m) => m.name)).toContain('customer_360');
  });

  it('marks the PII columns marts.md names', () => {
    expect(customer360.columns.filter((c) => c.pii).map((c) => [c.name, c.pii])).toEqual([
      ['email', 'email'],
      ['phone', 'phone'],
    ]);
  });

  it('finds broken declarations', () => {
    const broken = {
      ...customer360,
      key: ['nope'],
      columns: [...customer360.columns, { ...customer360.columns[0], name: 'BadName', description: ' ' }],
      relations: [
        {
          field: 'x',
          target: 'ghost',
          on: [['customer_id', 'id']] as const,
          cardinality: 'many' as const,
          description: 'x',
        },
      ],
    };
    const problems = validateCatalog([broken as typeof customer360, customer360]);
    expect(problems).toEqual(
      expect.arrayContaining([
        'customer_360: unknown column nope',
        'customer_360.BadName: not snake_case',
        'customer_360.BadName: no description',
        'customer_360.x: unknown target ghost',
        'customer_360: declared twice',
      ]),
    );
  });
});
