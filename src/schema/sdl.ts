import { camelCase } from '../catalog/index.js';
import type { ApiType, MartDef } from '../catalog/types.js';

/** GraphQL scalar used for each API type. */
const SCALAR: Record<ApiType, string> = {
  ID: 'ID',
  String: 'String',
  Int: 'Int',
  Float: 'Float',
  Boolean: 'Boolean',
  Decimal: 'Decimal',
  Date: 'Date',
  DateTime: 'DateTime',
};

/** The filter input for each API type: which operators make sense for it. */
function filterInput(api: ApiType): string {
  const t = SCALAR[api];
  const ordered = api !== 'Boolean' && api !== 'ID';
  const text = api === 'String' || api === 'ID';
  const lines = [
    `  "Equal to."\n  eq: ${t}`,
    `  "Not equal to (nulls included)."\n  ne: ${t}`,
    `  "One of these values (at most 500)."\n  in: [${t}!]`,
    ...(ordered ? [`  lt: ${t}`, `  lte: ${t}`, `  gt: ${t}`, `  gte: ${t}`] : []),
    `  "true: only nulls; false: no nulls."\n  isNull: Boolean`,
    ...(text ? ['  "Contains this text (case-sensitive)."\n  contains: String', '  startsWith: String'] : []),
  ];
  return `"Conditions on a ${t} field; all given must hold."\ninput ${t}Filter {\n${lines.join('\n')}\n}`;
}

function block(text: string): string {
  return `"""${text.replace(/"""/g, '\\"""')}"""`;
}

/**
 * The GraphQL schema, generated from the mart catalog: a type, a filter
 * input, a connection and root fields per mart. Nothing here is written by hand
 * per mart.
 */
export function buildTypeDefs(marts: readonly MartDef[]): string {
  const used = new Set<ApiType>(['String', 'ID']);
  const parts: string[] = [
    block('An exact decimal as a string (never a float).'),
    'scalar Decimal',
    block('A calendar date, YYYY-MM-DD.'),
    'scalar Date',
    block('A UTC instant in ISO-8601.'),
    'scalar DateTime',
    'type PageInfo {\n  hasNextPage: Boolean!\n  "Pass as `after` to get the next page."\n  endCursor: String\n}',
  ];
  const roots: string[] = [];
  for (const mart of marts) {
    const t = mart.api.typeName;
    const fields = mart.columns.map((c) => {
      used.add(c.apiType);
      const pii = c.pii ? ` PII (${c.pii}).` : '';
      const values = c.values ? ` One of: ${c.values.join(', ')}.` : '';
      return `  ${block(`${c.description}${values}${pii}`)}\n  ${camelCase(c.name)}: ${SCALAR[c.apiType]}${c.nullable ? '' : '!'}`;
    });
    parts.push(
      `${block(`${mart.description} (mart ${mart.name}, schema v${mart.schemaVersion})`)}\ntype ${t} {\n${fields.join('\n')}\n}`,
    );
    parts.push(
      `"Filters on ${t}; all given must hold."\ninput ${t}Filter {\n${mart.columns
        .map((c) => `  ${camelCase(c.name)}: ${SCALAR[c.apiType]}Filter`)
        .join('\n')}\n}`,
    );
    parts.push(`type ${t}Edge {\n  cursor: String!\n  node: ${t}!\n}`);
    parts.push(
      `type ${t}Connection {\n  edges: [${t}Edge!]!\n  nodes: [${t}!]!\n  pageInfo: PageInfo!\n  "Rows matching the filter (costs one more query; ask only when needed)."\n  totalCount: Int!\n}`,
    );
    roots.push(
      `  ${block(`${mart.description} In key order (${mart.key.join(', ')}).`)}\n  ${mart.api.listField}(filter: ${t}Filter, first: Int = 50, after: String): ${t}Connection!`,
    );
    if (mart.api.itemField && mart.key.length === 1) {
      const keyCol = mart.columns.find((c) => c.name === mart.key[0]);
      roots.push(
        `  "One ${t} by ${mart.key[0]}, or null."\n  ${mart.api.itemField}(id: ${SCALAR[keyCol?.apiType ?? 'ID']}!): ${t}`,
      );
    }
  }
  for (const api of used) parts.push(filterInput(api));
  parts.push(`type Query {\n${roots.join('\n')}\n}`);
  return parts.join('\n\n');
}
