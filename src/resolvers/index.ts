import type { GraphQLResolveInfo } from 'graphql';
import type { Row } from '../adapters/query-engine/port.js';
import { camelCase } from '../catalog/index.js';
import type { MartDef } from '../catalog/types.js';
import { type ColumnFilter, encodeCursor, type MartFilter } from '../query/builder.js';
import type { MartReader, RequestScope } from '../query/service.js';
import { DateScalar, DateTimeScalar, DecimalScalar } from '../schema/scalars.js';
import { isSelected, selectedFields } from './fields.js';

/** What every resolver receives, built once per request. */
export interface GatewayContext {
  readonly scope: RequestScope;
  readonly reader: MartReader;
}

type Resolver = (
  parent: unknown,
  args: Record<string, unknown>,
  ctx: GatewayContext,
  info: GraphQLResolveInfo,
) => unknown;

/** camelCase API names back to catalog columns; unknown names are left for the builder to reject. */
function toColumnFilter(mart: MartDef, filter: unknown): MartFilter {
  if (!filter || typeof filter !== 'object') return {};
  const byApi = new Map(mart.columns.map((c) => [camelCase(c.name), c.name]));
  const out: Record<string, ColumnFilter> = {};
  for (const [apiName, ops] of Object.entries(filter as Record<string, unknown>)) {
    if (ops && typeof ops === 'object') out[byApi.get(apiName) ?? apiName] = ops as ColumnFilter;
  }
  return out;
}

function columnsFor(mart: MartDef, apiFields: Set<string>): string[] {
  return mart.columns.filter((c) => apiFields.has(camelCase(c.name))).map((c) => c.name);
}

/** Row keys are catalog names; GraphQL wants camelCase. */
function toApiRow(mart: MartDef, row: Row): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const c of mart.columns) {
    if (!(c.name in row)) continue;
    const value = row[c.name];
    out[camelCase(c.name)] = c.apiType === 'Int' && typeof value === 'string' ? Number(value) : value;
  }
  return out;
}

/**
 * Resolvers for every mart in the catalog (a list connection and, for
 * single-column keys, a fetch by id), all going through the `MartReader`.
 */
export function buildResolvers(marts: readonly MartDef[]): {
  Query: Record<string, Resolver>;
  Decimal: typeof DecimalScalar;
  Date: typeof DateScalar;
  DateTime: typeof DateTimeScalar;
} {
  const query: Record<string, Resolver> = {};
  for (const mart of marts) {
    query[mart.api.listField] = async (_parent, args, ctx, info) => {
      const fields = new Set([
        ...selectedFields(info, ['nodes']),
        ...selectedFields(info, ['edges', 'node']),
      ]);
      const page = await ctx.reader.page(ctx.scope, mart.name, {
        filter: toColumnFilter(mart, args.filter),
        first: typeof args.first === 'number' ? args.first : 50,
        after: typeof args.after === 'string' ? args.after : undefined,
        columns: columnsFor(mart, fields),
        withTotal: isSelected(info, 'totalCount'),
      });
      const nodes = page.rows.map((row) => toApiRow(mart, row));
      return {
        nodes,
        edges: nodes.map((node, i) => ({
          node,
          // Each edge's cursor is the key of its own row.
          cursor: encodeCursor(mart.key.map((k) => page.rows[i]?.[k] ?? null)),
        })),
        pageInfo: { hasNextPage: page.hasNextPage, endCursor: page.endCursor },
        totalCount: page.totalCount,
      };
    };
    const keyColumn = mart.key[0];
    if (mart.api.itemField && mart.key.length === 1 && keyColumn) {
      query[mart.api.itemField] = async (_parent, args, ctx, info) => {
        const page = await ctx.reader.page(ctx.scope, mart.name, {
          filter: { [keyColumn]: { eq: args.id } },
          first: 1,
          columns: columnsFor(mart, selectedFields(info, [])),
          withTotal: false,
        });
        const row = page.rows[0];
        return row ? toApiRow(mart, row) : null;
      };
    }
  }
  return { Query: query, Decimal: DecimalScalar, Date: DateScalar, DateTime: DateTimeScalar };
}
