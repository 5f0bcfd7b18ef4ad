import type { Logger } from '@aws-lambda-powertools/logger';
import { GraphQLError } from 'graphql';
import type { Cell, Row } from '../adapters/query-engine/port.js';
import type { MartAccess } from '../auth/access.js';
import { UnauthenticatedError } from '../auth/errors.js';
import { CATALOG, type Catalog } from '../catalog/index.js';
import type { ColumnDef, MartDef } from '../catalog/types.js';
import { describeError, isGoldgateError } from '../errors.js';
import type { MartFreshness } from '../ops/index.js';
import { type AggregateFunction, measureAlias, operatorsFor } from '../query/builder.js';
import { BadUserInputError, MartNotFoundError } from '../query/errors.js';
import type { GatewayContext } from '../resolvers/index.js';
import { HTTP_STATUS, PUBLIC_CODES } from './errors.js';
import { exportBody, type PublicFailure, restRow, restValue } from './export.js';
import type { GatewayRequest, GatewayResponse } from './gateway.js';
import { buildOpenApi } from './openapi.js';
import {
  MEDIA_TYPES,
  parseAggregateRequest,
  parseRowsRequest,
  type QueryParam,
  ROWS_PARAMS,
  type RowsRequest,
  splitQuery,
} from './rest-params.js';

/**
 * The REST face of the gateway, under `/v1`:
 * - `GET /v1/openapi.json`: the OpenAPI 3.1 document (public: the catalog's shape, no data);
 * - `GET /v1/marts`: the catalog as the caller's policy sees it;
 * - `GET /v1/marts/{mart}`: rows (JSON pages, or NDJSON / CSV streams of every row);
 * - `GET /v1/marts/{mart}/aggregate`: groups with count and measures.
 * Every read goes through the `MartReader`, exactly like GraphQL: same policy,
 * filters, sort and cursors. Errors are thrown as they come; the gateway maps
 * them with `restErrorResponse`.
 */

/** What the REST handler needs besides the request context. */
export interface RestDeps {
  /** For lines outside a request scope (the public document); request lines go to the scope's log. */
  readonly logger: Logger;
  /** The served marts and versions (default: the product's catalog). */
  readonly catalog?: Catalog;
}

/** The path prefix of the REST API. */
export const REST_PREFIX = '/v1';

/** Whether a path belongs to the REST API. */
export function isRestPath(path: string): boolean {
  return path === REST_PREFIX || path.startsWith(`${REST_PREFIX}/`);
}

const OPENAPI_PATH = `${REST_PREFIX}/openapi.json`;

/** Whether a REST path is served without a token (the OpenAPI document only). */
export function isPublicRestPath(path: string): boolean {
  return path === OPENAPI_PATH;
}

const JSON_TYPE = 'application/json; charset=utf-8';

function jsonResponse(
  status: number,
  value: unknown,
  extra: ReadonlyArray<[string, string]> = [],
): GatewayResponse {
  return {
    status,
    headers: new Map([['content-type', JSON_TYPE], ...extra]),
    body: JSON.stringify(value),
  };
}

/** HTTP status of each public code on REST (GraphQL answers 200 for most of them). */
const REST_STATUS: Readonly<Record<string, number>> = {
  UNAUTHENTICATED: 401,
  BAD_USER_INPUT: 400,
  BAD_REQUEST: 400,
  QUERY_TOO_COMPLEX: 400,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  MART_UNAVAILABLE: 503,
  ENGINE_BUSY: 503,
  ENGINE_TIMEOUT: 504,
  // The caller went away: nobody reads this status, but it must not read as success.
  ENGINE_ABORTED: 503,
};

/** Every code a REST error answer may carry. */
export const REST_ERROR_CODES: readonly string[] = [...Object.keys(REST_STATUS), 'INTERNAL'];

function isUnauthenticated(error: unknown): boolean {
  if (error instanceof UnauthenticatedError) return true;
  return error instanceof GraphQLError && error.extensions.code === 'UNAUTHENTICATED';
}

/** The status, code and message a caller may see for a thrown value (internal ones are logged). */
export function publicFailure(error: unknown, log: Logger): PublicFailure & { status: number } {
  if (isUnauthenticated(error)) return { status: 401, code: 'UNAUTHENTICATED', message: 'Unauthorized' };
  if (isGoldgateError(error) && PUBLIC_CODES[error.code] !== undefined) {
    const status = REST_STATUS[error.code] ?? HTTP_STATUS[error.code] ?? 400;
    if (status >= 500) log.warn('request failed', { error: describeError(error) });
    return { status, code: error.code, message: error.message };
  }
  log.error('internal error', {
    error: describeError(error),
    cause: describeError((error as { cause?: unknown } | null)?.cause),
  });
  return { status: 500, code: 'INTERNAL', message: 'Internal error' };
}

/**
 * A thrown value as a REST problem answer: `{"error":{"code","message"}}` with
 * a stable code and its status (401 with `WWW-Authenticate`, 503 ENGINE_BUSY
 * with `Retry-After`); anything that is not a public goldgate error is
 * INTERNAL, logged, and shows nothing of SQL, paths or stacks.
 */
export function restErrorResponse(error: unknown, log: Logger): GatewayResponse {
  const failure = publicFailure(error, log);
  const extra: Array<[string, string]> = [];
  if (failure.status === 401) extra.push(['www-authenticate', 'Bearer']);
  if (failure.code === 'ENGINE_BUSY') {
    const after = (error as { retryAfterS?: unknown }).retryAfterS;
    extra.push(['retry-after', String(typeof after === 'number' && after > 0 ? Math.ceil(after) : 1)]);
  }
  return jsonResponse(failure.status, { error: { code: failure.code, message: failure.message } }, extra);
}

const openApiTexts = new WeakMap<Catalog, string>();

/** The OpenAPI document, built once per process from the catalog. */
export function openApiDocument(catalog: Catalog = CATALOG): string {
  let text = openApiTexts.get(catalog);
  if (text === undefined) {
    text = JSON.stringify(buildOpenApi(catalog, ROWS_PARAMS, REST_ERROR_CODES));
    openApiTexts.set(catalog, text);
  }
  return text;
}

/** `schema_v=N` picks a served version; without it, the mart's default (oldest served) version. */
function askedVersion(params: readonly QueryParam[]): number | undefined {
  const found = params.filter((p) => p.name === 'schema_v');
  if (found.length === 0) return undefined;
  const value = found.length === 1 ? found[0]?.rawValue : undefined;
  if (value === undefined || !/^[1-9][0-9]{0,5}$/.test(value))
    throw new BadUserInputError('schema_v must be given once, as a schema version number');
  return Number(value);
}

/** One mart as the caller's access describes it. */
/** A mart's freshness in REST's snake_case: the served run, newest source changes, SLA state. */
function restFreshness(f: MartFreshness) {
  return {
    served: f.served && {
      run_id: f.served.runId,
      published_at: f.served.publishedAt,
      built_at: f.served.builtAt,
      ready_at: f.served.readyAt,
      row_count: f.served.rowCount,
      rolled_back_from: f.served.rolledBackFrom,
      failed_checks: f.served.failedChecks,
    },
    newest_source_change: f.newestSourceChange,
    sla: {
      kind: f.sla.kind,
      description: f.sla.description,
      state: f.sla.state,
      reasons: f.sla.reasons,
      evaluated_at: f.sla.evaluatedAt,
      due_at: f.sla.dueAt,
      delivered_at: f.sla.deliveredAt,
      age_seconds: f.sla.ageSeconds,
      breached_since: f.sla.breachedSince,
    },
  };
}

function describeMart(
  access: MartAccess,
  visible: ReadonlySet<string>,
  pinned: boolean,
  fresh: MartFreshness,
) {
  const mart = access.mart;
  const version = pinned ? `?schema_v=${mart.schemaVersion}` : '';
  return {
    name: mart.name,
    description: mart.description,
    schema_version: mart.schemaVersion,
    // Set on an earlier version kept for old callers: what changed and until when.
    deprecation: mart.api.deprecation ?? null,
    key: mart.key,
    columns: mart.columns
      .filter((c) => access.columns.has(c.name))
      .map((c) => {
        const mask = access.masks.get(c.name);
        return {
          name: c.name,
          type: c.apiType,
          nullable: c.nullable,
          description: c.description,
          ...(c.values ? { values: c.values } : {}),
          pii: c.pii ?? null,
          masked: mask !== undefined,
          ...(mask ? { mask } : {}),
          // A masked column may only be selected: no filter would keep its clear value hidden.
          operators: mask ? [] : operatorsFor(c.apiType),
        };
      }),
    // Only relations to marts the caller may see: a hidden mart must not show through a link.
    relations: mart.relations
      .filter((r) => visible.has(r.target))
      .map((r) => ({
        field: r.field,
        target: r.target,
        on: r.on,
        cardinality: r.cardinality,
        description: r.description,
      })),
    detail: access.detail,
    aggregates: { allowed: access.aggregates.allowed, min_group_size: access.aggregates.minGroupSize },
    freshness: restFreshness(fresh),
    links: {
      ...(access.detail ? { rows: `${REST_PREFIX}/marts/${mart.name}${version}` } : {}),
      ...(access.aggregates.allowed
        ? { aggregate: `${REST_PREFIX}/marts/${mart.name}/aggregate${version}` }
        : {}),
    },
  };
}

/** One entry per served version of every mart the caller may read, with its freshness (never cached). */
async function listMarts(ctx: GatewayContext, catalog: Catalog): Promise<GatewayResponse> {
  const granted: MartAccess[] = [];
  for (const mart of catalog.served) {
    try {
      granted.push(ctx.reader.access(ctx.scope, mart));
    } catch (error) {
      // Not granted reads as absent: the mart is left out, never named.
      if (!(error instanceof MartNotFoundError)) throw error;
    }
  }
  const visible = new Set(granted.map((a) => a.mart.name));
  // Freshness reads pointers and manifests from the store, never the engine.
  const fresh = await Promise.all(granted.map((access) => ctx.reader.freshness(ctx.scope, access.mart)));
  return jsonResponse(200, {
    marts: granted.map((access, i) =>
      describeMart(access, visible, catalog.versions(access.mart.name).length > 1, fresh[i] as MartFreshness),
    ),
  });
}

/** The query string without `cursor`, plus the next one. */
function nextLink(path: string, params: readonly QueryParam[], cursor: string): string {
  const kept = params.filter((p) => p.name !== 'cursor').map((p) => p.raw);
  return `${path}?${[...kept, `cursor=${encodeURIComponent(cursor)}`].join('&')}`;
}

function selfLink(path: string, search: string): string {
  return search === '' || search === '?' ? path : `${path}${search.startsWith('?') ? search : `?${search}`}`;
}

function goldVersion(ctx: GatewayContext, mart: MartDef, fallback?: string): Array<[string, string]> {
  const run = fallback ?? ctx.scope.touched.get(`${mart.name}@${mart.schemaVersion}`);
  return [
    ['x-schema-version', String(mart.schemaVersion)],
    ...(run ? [['x-gold-version', run] as [string, string]] : []),
  ];
}

async function rows(
  request: GatewayRequest,
  ctx: GatewayContext,
  access: MartAccess,
  asked: RowsRequest,
  params: readonly QueryParam[],
): Promise<GatewayResponse> {
  const mart = access.mart;
  const columns = asked.columns.map((c) => c.name);
  if (asked.kind === 'page') {
    const page = await ctx.reader.page(ctx.scope, mart, {
      filter: asked.filter,
      orderBy: asked.orderBy,
      first: asked.first,
      after: asked.cursor,
      columns,
      withTotal: asked.count,
    });
    const next = page.hasNextPage ? page.endCursor : null;
    return jsonResponse(
      200,
      {
        data: page.rows.map((row) => restRow(asked.columns, row)),
        page: {
          next_cursor: next,
          has_more: page.hasNextPage,
          ...(page.totalCount === undefined ? {} : { total: page.totalCount }),
        },
        links: {
          self: selfLink(request.path, request.search),
          next: next === null ? null : nextLink(request.path, params, next),
        },
      },
      [...goldVersion(ctx, mart, page.version.run_id), ['vary', 'Accept, Authorization']],
    );
  }
  const stream = await ctx.reader.export(ctx.scope, mart, {
    filter: asked.filter,
    orderBy: asked.orderBy,
    columns,
    limit: asked.limit,
  });
  const iterator = stream.batches[Symbol.asyncIterator]();
  // The first batch is read before answering, so a failure to start still gets its status.
  const first = await iterator.next();
  const started = Date.now();
  const log = ctx.scope.log;
  const body = exportBody(asked.format, asked.columns, first, iterator, (error) => {
    const failure = publicFailure(error, log);
    log.error('export failed after its first byte', {
      mart: mart.name,
      code: failure.code,
      duration_ms: Date.now() - started,
    });
    return failure;
  });
  const type =
    asked.format === 'csv'
      ? `${MEDIA_TYPES.csv[0]}; charset=utf-8; header=present`
      : `${MEDIA_TYPES.ndjson[0]}; charset=utf-8`;
  const headers = new Map<string, string>([
    ['content-type', type],
    ['vary', 'Accept, Authorization'],
    ['x-content-type-options', 'nosniff'],
    ...goldVersion(ctx, mart, stream.version.run_id),
  ]);
  if (asked.format === 'csv') headers.set('content-disposition', `attachment; filename="${mart.name}.csv"`);
  return { status: 200, headers, body };
}

/** A measure's value as the API shows it: counts and integer sums as numbers, decimals as text. */
function measureValue(def: ColumnDef, fn: AggregateFunction, value: Cell | undefined): Cell {
  if (fn === 'avg') {
    return def.apiType === 'Decimal' ? restValue(def, value) : restValue({ ...def, apiType: 'Float' }, value);
  }
  return restValue(def, value);
}

const COUNT_COLUMN: ColumnDef = {
  name: 'count',
  sqlType: 'BIGINT',
  apiType: 'Int',
  nullable: false,
  description: 'Rows in the group.',
};

async function aggregate(
  ctx: GatewayContext,
  access: MartAccess,
  params: readonly QueryParam[],
): Promise<GatewayResponse> {
  const mart = access.mart;
  const asked = parseAggregateRequest(access, params);
  const groups = await ctx.reader.aggregate(ctx.scope, mart, asked);
  const def = (name: string): ColumnDef => {
    const found = mart.columns.find((c) => c.name === name);
    if (!found) throw new TypeError(`aggregate answered unknown column ${name}`);
    return found;
  };
  const dims = [...new Set(asked.groupBy)].map(def);
  const shaped = groups.map((row: Row) => {
    const out: Record<string, unknown> = {
      key: Object.fromEntries(dims.map((d) => [d.name, restValue(d, row[d.name])])),
      count: restValue(COUNT_COLUMN, row.count),
    };
    for (const m of asked.measures) {
      const byColumn = (out[m.fn] ?? {}) as Record<string, Cell>;
      byColumn[m.column] = measureValue(def(m.column), m.fn, row[measureAlias(m)]);
      out[m.fn] = byColumn;
    }
    return out;
  });
  return jsonResponse(200, { groups: shaped }, goldVersion(ctx, mart));
}

/** The mart named in a path segment, or NOT_FOUND. */
function martSegment(segment: string): string {
  let name: string;
  try {
    name = decodeURIComponent(segment);
  } catch {
    throw new MartNotFoundError();
  }
  if (!/^[a-z][a-z0-9_]*$/.test(name)) throw new MartNotFoundError();
  return name;
}

/**
 * Answer one REST request. `ctx` is the authenticated request context; it may
 * be absent only for the public document (`isPublicRestPath`). Throws on any
 * failure: map it with `restErrorResponse`.
 */
export async function handleRest(
  request: GatewayRequest,
  ctx: GatewayContext | undefined,
  deps: RestDeps,
): Promise<GatewayResponse> {
  // Exact paths only: an empty segment (`//`, a trailing slash) matches nothing.
  const segments = request.path.slice(REST_PREFIX.length + 1).split('/');
  const route =
    segments.length === 1 && segments[0] === 'openapi.json'
      ? 'openapi'
      : segments[0] !== 'marts'
        ? undefined
        : segments.length === 1
          ? 'catalog'
          : segments.length === 2
            ? 'rows'
            : segments.length === 3 && segments[2] === 'aggregate'
              ? 'aggregate'
              : undefined;
  if (route === undefined || !isRestPath(request.path) || segments.includes(''))
    throw new MartNotFoundError();
  if (request.method.toUpperCase() !== 'GET') {
    return jsonResponse(405, { error: { code: 'BAD_REQUEST', message: 'only GET is allowed here' } }, [
      ['allow', 'GET'],
    ]);
  }
  if (route === 'openapi') {
    deps.logger.debug('openapi document served');
    return {
      status: 200,
      headers: new Map([
        ['content-type', JSON_TYPE],
        ['cache-control', 'public, max-age=300'],
      ]),
      body: openApiDocument(deps.catalog),
    };
  }
  if (!ctx) throw new UnauthenticatedError('no request context for a protected REST path');
  const catalog = deps.catalog ?? CATALOG;
  if (route === 'catalog') return await listMarts(ctx, catalog);
  const name = martSegment(segments[1] ?? '');
  const params = splitQuery(request.search);
  const schemaVersion = askedVersion(params);
  const access = ctx.reader.access(ctx.scope, schemaVersion === undefined ? name : { name, schemaVersion });
  if (route === 'aggregate') return aggregate(ctx, access, params);
  const asked = parseRowsRequest(access, params, {
    accept: request.headers.accept,
    maxPageSize: ctx.reader.maxPageSize,
  });
  return rows(request, ctx, access, asked, params);
}
