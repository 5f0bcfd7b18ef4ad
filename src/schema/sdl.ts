import { asCatalog, type Catalog, camelCase, rootNames } from '../catalog/index.js';
import type { ApiType, ColumnDef, MartDef } from '../catalog/types.js';
import { type FilterOp, isMeasureColumn, operatorsFor } from '../query/builder.js';

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

/** How each operator reads in a filter input of scalar `t`. */
const OPERATOR_LINES: Record<FilterOp, (t: string) => string> = {
  eq: (t) => `  "Equal to."\n  eq: ${t}`,
  ne: (t) => `  "Not equal to (nulls included)."\n  ne: ${t}`,
  in: (t) => `  "One of these values (at most 500)."\n  in: [${t}!]`,
  lt: (t) => `  lt: ${t}`,
  lte: (t) => `  lte: ${t}`,
  gt: (t) => `  gt: ${t}`,
  gte: (t) => `  gte: ${t}`,
  isNull: () => '  "true: only nulls; false: no nulls."\n  isNull: Boolean',
  contains: () => '  "Contains this text (case-sensitive)."\n  contains: String',
  startsWith: () => '  startsWith: String',
};

/** The filter input for each API type, with the operators the type takes (the rule REST shares). */
function filterInput(api: ApiType): string {
  const t = SCALAR[api];
  const lines = operatorsFor(api).map((op) => OPERATOR_LINES[op](t));
  return `"Conditions on a ${t} field; all given must hold."\ninput ${t}Filter {\n${lines.join('\n')}\n}`;
}

function block(text: string): string {
  return `"""${text.replace(/"""/g, '\\"""')}"""`;
}

/** Freshness and the mart listing: the same for every mart. */
const FRESHNESS_TYPES = `"A source change included in a served version."
type SourceChange {
  source: String!
  "The newest source timestamp of that source the version includes."
  at: DateTime!
}

"The Gold version a mart serves now."
type ServedVersion {
  runId: String!
  publishedAt: DateTime!
  builtAt: DateTime!
  readyAt: DateTime!
  rowCount: Int!
  "Set when this version was served again by a rollback from that run."
  rolledBackFrom: String
  failedChecks: [String!]!
}

enum SlaState {
  ON_TIME
  LATE
  BREACHED
  UNKNOWN
}

"The mart's freshness promise and whether it holds now."
type SlaStatus {
  "deadline (daily by a local time) or max_age."
  kind: String!
  description: String!
  state: SlaState!
  reasons: [String!]!
  evaluatedAt: DateTime!
  dueAt: DateTime
  deliveredAt: DateTime
  ageSeconds: Int
  breachedSince: DateTime
}

"How fresh a mart's answer is."
type Freshness {
  mart: String!
  schemaVersion: Int!
  "Null before the first publish."
  served: ServedVersion
  "Newest first, per source."
  newestSourceChange: [SourceChange!]!
  sla: SlaStatus!
}

"A mart you may read."
type MartInfo {
  name: String!
  description: String!
  schemaVersion: Int!
  "The root field listing its rows (null when you may read aggregates only)."
  listField: String
  aggregateField: String!
  freshness: Freshness!
}`;

/** Columns that may be grouped by (everything but measures). */
export function dimensionColumns(mart: MartDef): ColumnDef[] {
  return mart.columns.filter((c) => !isMeasureColumn(c));
}

/** Columns `sum`/`avg` apply to. */
export function measureColumns(mart: MartDef): ColumnDef[] {
  return mart.columns.filter(isMeasureColumn);
}

/** Columns `min`/`max` apply to: measures, dates and timestamps. */
export function orderedMeasureColumns(mart: MartDef): ColumnDef[] {
  return mart.columns.filter((c) => isMeasureColumn(c) || c.apiType === 'Date' || c.apiType === 'DateTime');
}

/** The GraphQL type of `sum`/`avg` of a column: exact decimals stay Decimal, integers sum as Float (up to 2^53). */
export function aggregateScalar(c: ColumnDef, fn: 'sum' | 'avg' | 'min' | 'max'): string {
  if (fn === 'min' || fn === 'max') return SCALAR[c.apiType];
  return c.apiType === 'Decimal' ? 'Decimal' : 'Float';
}

/** Arguments of a list of a mart's rows, top-level or nested. */
function listArgs(t: string, first: number): string {
  return `filter: ${t}Filter, "Sort terms, in order; the key always breaks ties. Nulls sort last."\n    orderBy: [${t}OrderBy!], first: Int = ${first}`;
}

function martTypes(mart: MartDef, used: Set<ApiType>, catalog: Catalog): string[] {
  const t = mart.api.typeName;
  const parts: string[] = [];
  const fields = mart.columns.map((c) => {
    used.add(c.apiType);
    const pii = c.pii ? ` PII (${c.pii}).` : '';
    const values = c.values ? ` One of: ${c.values.join(', ')}.` : '';
    return `  ${block(`${c.description}${values}${pii}`)}\n  ${camelCase(c.name)}: ${SCALAR[c.apiType]}${c.nullable ? '' : '!'}`;
  });
  for (const r of mart.relations) {
    // Relations lead to the target's default version (the one its plain names serve).
    const target = catalog.find(r.target);
    if (!target) throw new TypeError(`relation ${mart.name}.${r.field} targets unknown mart ${r.target}`);
    const tt = target.api.typeName;
    fields.push(
      r.cardinality === 'many'
        ? `  ${block(`${r.description} Loaded for all parents in one query; at most \`first\` per parent.`)}\n  ${r.field}(${listArgs(tt, 20)}): [${tt}!]!`
        : `  ${block(r.description)}\n  ${r.field}: ${tt}`,
    );
  }
  parts.push(
    `${block(`${mart.description} (mart ${mart.name}, schema v${mart.schemaVersion})`)}\ntype ${t} {\n${fields.join('\n')}\n}`,
  );
  parts.push(
    `"Filters on ${t}; all given must hold."\ninput ${t}Filter {\n${mart.columns
      .map((c) => `  ${camelCase(c.name)}: ${SCALAR[c.apiType]}Filter`)
      .join('\n')}\n}`,
  );
  parts.push(
    `"Fields ${t} can be sorted by."\nenum ${t}OrderField {\n${mart.columns.map((c) => `  ${camelCase(c.name)}`).join('\n')}\n}`,
  );
  parts.push(`input ${t}OrderBy {\n  field: ${t}OrderField!\n  direction: SortDirection = ASC\n}`);
  parts.push(`type ${t}Edge {\n  cursor: String!\n  node: ${t}!\n}`);
  parts.push(
    `type ${t}Connection {\n  edges: [${t}Edge!]!\n  nodes: [${t}!]!\n  pageInfo: PageInfo!\n  "Rows matching the filter (costs one more query; ask only when needed)."\n  totalCount: Int!\n  "How fresh the served version of ${mart.name} is (answers asking for it are never cached)."\n  freshness: Freshness!\n}`,
  );

  const dims = dimensionColumns(mart);
  parts.push(
    `"Fields ${t} can be grouped by."\nenum ${t}Dimension {\n${dims.map((c) => `  ${camelCase(c.name)}`).join('\n')}\n}`,
  );
  parts.push(
    `"The values of the grouped-by fields (null for fields not grouped by)."\ntype ${t}GroupKey {\n${dims
      .map((c) => `  ${camelCase(c.name)}: ${SCALAR[c.apiType]}`)
      .join('\n')}\n}`,
  );
  const aggFields = [`  key: ${t}GroupKey!`, '  "Rows in the group."\n  count: Int!'];
  for (const fn of ['sum', 'avg', 'min', 'max'] as const) {
    const cols = fn === 'min' || fn === 'max' ? orderedMeasureColumns(mart) : measureColumns(mart);
    if (cols.length === 0) continue;
    const typeName = `${t}${fn[0]?.toUpperCase()}${fn.slice(1)}`;
    parts.push(
      `type ${typeName} {\n${cols.map((c) => `  ${camelCase(c.name)}: ${aggregateScalar(c, fn)}`).join('\n')}\n}`,
    );
    aggFields.push(`  ${fn}: ${typeName}!`);
  }
  parts.push(`"One group of ${t} rows."\ntype ${t}Aggregate {\n${aggFields.join('\n')}\n}`);
  return parts;
}

/**
 * The GraphQL schema, generated from the mart catalog: per mart a type (with
 * its relations), filter and sort inputs, a connection, aggregates, and root
 * fields. Nothing here is written by hand per mart.
 */
export function buildTypeDefs(source: Catalog | readonly MartDef[]): string {
  const catalog = asCatalog(source);
  const used = new Set<ApiType>(['String', 'ID']);
  const parts: string[] = [
    block('An exact decimal as a string (never a float).'),
    'scalar Decimal',
    block('A calendar date, YYYY-MM-DD.'),
    'scalar Date',
    block('A UTC instant in ISO-8601.'),
    'scalar DateTime',
    'enum SortDirection {\n  ASC\n  DESC\n}',
    'type PageInfo {\n  hasNextPage: Boolean!\n  "Pass as `after` to get the next page."\n  endCursor: String\n}',
    FRESHNESS_TYPES,
  ];
  const roots: string[] = [];
  for (const mart of catalog.served) {
    const t = mart.api.typeName;
    parts.push(...martTypes(mart, used, catalog));
    const deprecated = mart.api.deprecation
      ? ` @deprecated(reason: ${JSON.stringify(mart.api.deprecation)})`
      : '';
    for (const names of rootNames(mart)) {
      roots.push(
        `  ${block(`${mart.description} In key order (${mart.key.join(', ')}) unless sorted.`)}\n  ${names.listField}(${listArgs(t, 50)}, after: String): ${t}Connection!${deprecated}`,
      );
      roots.push(
        `  ${block(`Groups of ${mart.name} (schema v${mart.schemaVersion}) rows with counts and measures, under the same filters and access rules.`)}\n  ${names.listField}Aggregate(filter: ${t}Filter, groupBy: [${t}Dimension!], first: Int = 1000): [${t}Aggregate!]!${deprecated}`,
      );
      if (names.itemField && mart.key.length === 1) {
        const keyCol = mart.columns.find((c) => c.name === mart.key[0]);
        roots.push(
          `  "One ${t} by ${mart.key[0]}, or null."\n  ${names.itemField}(id: ${SCALAR[keyCol?.apiType ?? 'ID']}!): ${t}${deprecated}`,
        );
      }
    }
  }
  for (const api of used) parts.push(filterInput(api));
  roots.push('  "The marts you may read, with their freshness."\n  marts: [MartInfo!]!');
  parts.push(`type Query {\n${roots.join('\n')}\n}`);
  return parts.join('\n\n');
}
