import { buildSchema, type GraphQLObjectType, isNonNullType } from 'graphql';
import { describe, expect, it } from 'vitest';
import { camelCase, MARTS } from '../../../src/catalog/index.js';
import { customer360 } from '../../../src/catalog/marts/index.js';
import type { MartDef } from '../../../src/catalog/types.js';
import { buildTypeDefs } from '../../../src/schema/sdl.js';

describe('GraphQL schema generated from the catalog', () => {
  const schema = buildSchema(buildTypeDefs(MARTS));

  it('has a type per mart with every column, its description, nullability and PII tag', () => {
    const type = schema.getType('Customer') as GraphQLObjectType;
    const fields = type.getFields();
    expect(Object.keys(fields)).toEqual([
      ...customer360.columns.map((c) => camelCase(c.name)),
      ...customer360.relations.map((r) => r.field),
    ]);
    expect(String(fields.invoices?.type)).toBe('[Invoice!]!');
    for (const column of customer360.columns) {
      const field = fields[camelCase(column.name)];
      expect(field?.description).toContain(column.description);
      expect(isNonNullType(field?.type)).toBe(!column.nullable);
      if (column.pii) expect(field?.description).toContain(`PII (${column.pii})`);
    }
    expect(String(fields.lifetimeRevenue?.type)).toBe('Decimal!');
    expect(String(fields.signupDate?.type)).toBe('Date');
  });

  it('has root fields, a filter input per column and typed operator inputs', () => {
    const query = schema.getQueryType()?.getFields() ?? {};
    expect(String(query.customers?.type)).toBe('CustomerConnection!');
    expect(query.customers?.args.map((a) => a.name)).toEqual(['filter', 'orderBy', 'first', 'after']);
    expect(String(query.customersAggregate?.type)).toBe('[CustomerAggregate!]!');
    expect(String(query.customer?.type)).toBe('Customer');
    const filter = schema.getType('CustomerFilter');
    expect(filter && 'getFields' in filter ? Object.keys(filter.getFields()) : []).toHaveLength(
      customer360.columns.length,
    );
    const decimal = schema.getType('DecimalFilter');
    expect(decimal && 'getFields' in decimal ? Object.keys(decimal.getFields()).sort() : []).toEqual(
      ['eq', 'gt', 'gte', 'in', 'isNull', 'lt', 'lte', 'ne'].sort(),
    );
    const text = schema.getType('StringFilter');
    expect(text && 'getFields' in text ? Object.keys(text.getFields()) : []).toContain('startsWith');
  });

  it('follows the catalog: a new mart declaration alone adds its type and root field', () => {
    const extra: MartDef = {
      ...customer360,
      name: 'probe_mart',
      api: { typeName: 'Probe', listField: 'probes' },
      columns: customer360.columns.slice(0, 2),
      key: ['customer_id'],
      rowScope: {},
      relations: [],
    };
    const grown = buildSchema(buildTypeDefs([...MARTS, extra]));
    expect(Object.keys((grown.getType('Probe') as GraphQLObjectType).getFields())).toEqual([
      'customerId',
      'accountId',
    ]);
    expect(grown.getQueryType()?.getFields().probes).toBeDefined();
  });
});
