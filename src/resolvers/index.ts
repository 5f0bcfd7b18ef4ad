import DataLoader from 'dataloader';
import type { GraphQLResolveInfo } from 'graphql';
import type { Row } from '../adapters/query-engine/port.js';
import { asCatalog, type Catalog, camelCase, rootNames } from '../catalog/index.js';
import type { ColumnDef, MartDef, RelationDef } from '../catalog/types.js';
import {
  AGGREGATE_FUNCTIONS,
  type ColumnFilter,
  MAX_IN_VALUES,
  type MartFilter,
  type Measure,
  measureAlias,
  type OrderTerm,
} from '../query/builder.js';
import { BadUserInputError } from '../query/errors.js';
import type { ChildList, MartReader, RequestScope } from '../query/service.js';
import { DateScalar, DateTimeScalar, DecimalScalar } from '../schema/scalars.js';
import { dimensionColumns } from '../schema/sdl.js';
import { isSelected, selectedFields } from './fields.js';

/** What every resolver receives, built once per request. */
export interface GatewayContext {
  readonly scope: RequestScope;
  readonly reader: MartReader;
  /** Relation loaders of this request: one per (relation, arguments, columns), so each level is one query. */
  readonly loaders: Map<string, DataLoader<string, ChildList>>;
}

type Resolver = (
  parent: unknown,
  args: Record<string, unknown>,
  ctx: GatewayContext,
  info: GraphQLResolveInfo,
) => unknown;

/** The clear engine row behind an API object (relations read their link columns from it). */
const ROW = Symbol('row');
type ApiObject = Record<string, unknown> & { [ROW]?: Row };

const byApiName = new WeakMap<MartDef, Map<string, string>>();

/** camelCase API field name -> catalog column, per mart version. */
function columnName(mart: MartDef, apiName: string): string {
  let names = byApiName.get(mart);
  if (!names) {
    names = new Map(mart.columns.map((c) => [camelCase(c.name), c.name]));
    byApiName.set(mart, names);
  }
  // Unknown names pass through for the builder to reject as unknown fields.
  return names.get(apiName) ?? apiName;
}

function toColumnFilter(mart: MartDef, filter: unknown): MartFilter {
  if (!filter || typeof filter !== 'object') return {};
  const out: Record<string, ColumnFilter> = {};
  for (const [apiName, ops] of Object.entries(filter as Record<string, unknown>)) {
    if (ops && typeof ops === 'object') out[columnName(mart, apiName)] = ops as ColumnFilter;
  }
  return out;
}

function toOrder(mart: MartDef, orderBy: unknown): OrderTerm[] {
  if (!Array.isArray(orderBy)) return [];
  return orderBy.map((term: { field?: unknown; direction?: unknown }) => ({
    column: columnName(mart, String(term.field)),
    desc: term.direction === 'DESC',
  }));
}

/** Columns to read for a selection: the asked columns plus the link columns of asked relations. */
function columnsFor(mart: MartDef, apiFields: Set<string>): string[] {
  const names = new Set(mart.columns.filter((c) => apiFields.has(camelCase(c.name))).map((c) => c.name));
  for (const r of mart.relations) if (apiFields.has(r.field)) for (const [parent] of r.on) names.add(parent);
  return [...names];
}

/** Row keys are catalog names; GraphQL wants camelCase. */
function toApiRow(mart: MartDef, row: Row): ApiObject {
  const out: ApiObject = {};
  for (const c of mart.columns) {
    if (!(c.name in row)) continue;
    out[camelCase(c.name)] = apiValue(c, row[c.name]);
  }
  out[ROW] = row;
  return out;
}

function apiValue(c: Pick<ColumnDef, 'apiType'>, value: unknown): unknown {
  return c.apiType === 'Int' && typeof value === 'string' ? Number(value) : value;
}

function intArg(value: unknown, fallback: number): number {
  return typeof value === 'number' ? value : fallback;
}

function listResolver(mart: MartDef): Resolver {
  return async (_parent, args, ctx, info) => {
    const fields = new Set([...selectedFields(info, ['nodes']), ...selectedFields(info, ['edges', 'node'])]);
    const page = await ctx.reader.page(ctx.scope, mart, {
      filter: toColumnFilter(mart, args.filter),
      orderBy: toOrder(mart, args.orderBy),
      first: intArg(args.first, 50),
      after: typeof args.after === 'string' ? args.after : undefined,
      columns: columnsFor(mart, fields),
      withTotal: isSelected(info, 'totalCount'),
    });
    const nodes = page.rows.map((row) => toApiRow(mart, row));
    return {
      nodes,
      edges: nodes.map((node, i) => ({ node, cursor: page.cursors[i] })),
      pageInfo: { hasNextPage: page.hasNextPage, endCursor: page.endCursor },
      totalCount: page.totalCount,
      // Resolved only when asked (graphql-js calls function-valued fields).
      freshness: () => freshnessOf(ctx, mart),
    };
  };
}

function itemResolver(mart: MartDef, keyColumn: string): Resolver {
  return async (_parent, args, ctx, info) => {
    const page = await ctx.reader.page(ctx.scope, mart, {
      filter: { [keyColumn]: { eq: args.id } },
      first: 1,
      columns: columnsFor(mart, selectedFields(info, [])),
      withTotal: false,
    });
    const row = page.rows[0];
    return row ? toApiRow(mart, row) : null;
  };
}

/**
 * A relation field: every parent at this level asks the same per-request
 * DataLoader, which sends one engine query for all of them.
 */
function relationResolver(relation: RelationDef, catalog: Catalog): Resolver {
  // The reader loads children from the target's default version: the type must match it.
  const target = catalog.find(relation.target);
  const link = relation.on[0];
  if (!target || !link) throw new TypeError(`relation ${relation.field} is not resolvable`);
  const [parentColumn] = link;
  return async (parent, args, ctx, info) => {
    const value = (parent as ApiObject)[ROW]?.[parentColumn];
    if (value === null || value === undefined) return relation.cardinality === 'many' ? [] : null;
    const columns = columnsFor(target, selectedFields(info, []));
    const first = relation.cardinality === 'many' ? intArg(args.first, 20) : 1;
    const filter = toColumnFilter(target, args.filter);
    const orderBy = toOrder(target, args.orderBy);
    const id = JSON.stringify([
      relation.target,
      relation.field,
      parentColumn,
      first,
      filter,
      orderBy,
      columns,
    ]);
    let loader = ctx.loaders.get(id);
    if (!loader) {
      loader = new DataLoader<string, ChildList>(
        async (keys) => {
          const found = await ctx.reader.children(ctx.scope, relation, keys, {
            filter,
            orderBy,
            columns,
            first,
          });
          return keys.map((k) => found.get(k) ?? { rows: [], hasMore: false });
        },
        // A page holds at most maxPageSize parents, so one level is one batch (<= MAX_IN_VALUES).
        { maxBatchSize: MAX_IN_VALUES },
      );
      ctx.loaders.set(id, loader);
    }
    const children = await loader.load(String(value));
    const rows = children.rows.map((row) => toApiRow(target, row));
    return relation.cardinality === 'many' ? rows : (rows[0] ?? null);
  };
}

/** Aggregates: the measures asked for are read off the selection (`sum { mrr }`). */
function aggregateResolver(mart: MartDef): Resolver {
  const dims = new Map(dimensionColumns(mart).map((c) => [camelCase(c.name), c]));
  const columns = new Map(mart.columns.map((c) => [camelCase(c.name), c]));
  return async (_parent, args, ctx, info) => {
    const groupBy = (Array.isArray(args.groupBy) ? args.groupBy : []).map((name) => {
      const def = dims.get(String(name));
      if (!def) throw new BadUserInputError(`unknown dimension ${String(name)}`);
      return def;
    });
    const measures: Measure[] = [];
    for (const fn of AGGREGATE_FUNCTIONS) {
      for (const apiName of selectedFields(info, [fn])) {
        const def = columns.get(apiName);
        if (def) measures.push({ fn, column: def.name });
      }
    }
    const rows = await ctx.reader.aggregate(ctx.scope, mart, {
      filter: toColumnFilter(mart, args.filter),
      groupBy: groupBy.map((d) => d.name),
      measures,
      limit: intArg(args.first, 1000),
    });
    return rows.map((row) => {
      const key: Record<string, unknown> = {};
      for (const d of groupBy) key[camelCase(d.name)] = apiValue(d, row[d.name]);
      const out: Record<string, unknown> = { key, count: Number(row.count) };
      for (const fn of AGGREGATE_FUNCTIONS) {
        const values: Record<string, unknown> = {};
        for (const m of measures.filter((x) => x.fn === fn)) {
          const def = mart.columns.find((c) => c.name === m.column);
          const v = row[measureAlias(m)];
          // sum/avg of integers and floats travel as Float; Decimal stays exact text.
          values[camelCase(m.column)] =
            v === null || v === undefined
              ? null
              : (fn === 'sum' || fn === 'avg') && def?.apiType !== 'Decimal'
                ? Number(v)
                : apiValue(def ?? { apiType: 'String' }, v);
        }
        out[fn] = values;
      }
      return out;
    });
  };
}

async function freshnessOf(ctx: GatewayContext, mart: MartDef): Promise<Record<string, unknown>> {
  const f = await ctx.reader.freshness(ctx.scope, mart);
  return { ...f, sla: { ...f.sla, state: f.sla.state.toUpperCase() } };
}

/** The marts the caller may read: a mart without a grant is simply absent. */
function martsResolver(marts: readonly MartDef[]): Resolver {
  return (_parent, _args, ctx) =>
    marts.flatMap((mart) => {
      let detail: boolean;
      try {
        detail = ctx.reader.access(ctx.scope, mart).detail;
      } catch {
        return [];
      }
      return [
        {
          name: mart.name,
          description: mart.description,
          schemaVersion: mart.schemaVersion,
          listField: detail ? mart.api.listField : null,
          aggregateField: `${mart.api.listField}Aggregate`,
          freshness: () => freshnessOf(ctx, mart),
        },
      ];
    });
}

/**
 * Resolvers for every mart in the catalog: a list connection, aggregates,
 * a fetch by id for single-column keys, and relation fields, all through the
 * `MartReader`.
 */
export function buildResolvers(
  source: Catalog | readonly MartDef[],
): Record<string, Record<string, Resolver> | typeof DecimalScalar> {
  const catalog = asCatalog(source);
  const query: Record<string, Resolver> = {};
  const types: Record<string, Record<string, Resolver>> = {};
  for (const mart of catalog.served) {
    const list = listResolver(mart);
    const aggregate = aggregateResolver(mart);
    const keyColumn = mart.key[0];
    const item = mart.key.length === 1 && keyColumn ? itemResolver(mart, keyColumn) : undefined;
    for (const names of rootNames(mart)) {
      query[names.listField] = list;
      query[`${names.listField}Aggregate`] = aggregate;
      if (names.itemField && item) query[names.itemField] = item;
    }
    if (mart.relations.length) {
      types[mart.api.typeName] = Object.fromEntries(
        mart.relations.map((r) => [r.field, relationResolver(r, catalog)]),
      );
    }
  }
  query.marts = martsResolver(catalog.served);
  return { Query: query, ...types, Decimal: DecimalScalar, Date: DateScalar, DateTime: DateTimeScalar };
}
