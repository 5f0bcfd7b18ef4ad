import { randomUUID } from 'node:crypto';
import { ApolloServer, type ApolloServerPlugin, type GraphQLRequestContext, HeaderMap } from '@apollo/server';
import { unwrapResolverError } from '@apollo/server/errors';
import {
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
  ApolloServerPluginUsageReportingDisabled,
} from '@apollo/server/plugin/disabled';
import type { Logger } from '@aws-lambda-powertools/logger';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import type { GraphQLFormattedError } from 'graphql';
import type { ObjectStore } from '../adapters/object-store/port.js';
import type { QueryEngine } from '../adapters/query-engine/port.js';
import type { AccessPolicy } from '../auth/access.js';
import { UnauthenticatedError } from '../auth/errors.js';
import type { Verifier } from '../auth/verify.js';
import { CATALOG, type Catalog } from '../catalog/index.js';
import { describeError, isGoldgateError } from '../errors.js';
import { Admission, type AdmissionOptions } from '../query/admission.js';
import { MartReader, RequestScope, type RowMasker } from '../query/service.js';
import { buildResolvers, type GatewayContext } from '../resolvers/index.js';
import { buildTypeDefs } from '../schema/sdl.js';
import { AnswerCache, type CachedAnswer } from './cache.js';
import { HTTP_STATUS, PUBLIC_CODES, unauthenticated } from './errors.js';
import { isArmorRejection, QUERY_TOO_COMPLEX, rowBudgetPlugin } from './guards.js';
import { createOpsRoutes, type OpsPageOptions } from './ops/routes.js';
import { handleRest, isPublicRestPath, isRestPath, restErrorResponse } from './rest.js';
import { createIdeRoutes, type IdeOptions } from './static.js';

export interface GatewayOptions {
  readonly engine: QueryEngine;
  readonly store: ObjectStore;
  readonly verifier: Verifier;
  readonly policy: AccessPolicy;
  readonly logger: Logger;
  readonly queryTimeoutMs: number;
  readonly maxPageSize: number;
  /** Engine statements one request may run. */
  readonly maxEngineQueriesPerRequest: number;
  /** Bounds on concurrent engine statements across requests. */
  readonly admission: AdmissionOptions;
  /** Answer cache size in bytes; 0 turns it off. */
  readonly cacheBytes: number;
  /** GraphQL guards: depth, aliases, tokens, cost. */
  readonly guards: { maxDepth: number; maxAliases: number; maxTokens: number; maxRows: number };
  /** Applies masks to rows (from the policy source's secret). */
  readonly mask?: RowMasker;
  /** Production mode: no introspection. */
  readonly production: boolean;
  /** Serve the GraphQL IDE page at `/` from this build (local server only; the Lambda API has none). */
  readonly ide?: IdeOptions;
  /** Serve the ops page at `/ops` (local server only). Absent, it is served whenever `ide` is, with its token. */
  readonly ops?: OpsPageOptions;
  /** The served marts and schema versions (default: the product's catalog). */
  readonly catalog?: Catalog;
}

/** A request as every transport hands it to the core. */
export interface GatewayRequest {
  readonly method: string;
  readonly path: string;
  readonly search: string;
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body: unknown;
  readonly signal?: AbortSignal;
}

/** A response the transport writes back. The body is complete or streamed in chunks. */
export interface GatewayResponse {
  readonly status: number;
  readonly headers: ReadonlyMap<string, string>;
  readonly body: string | AsyncIterable<string>;
}

/** The core shared by the local HTTP server and the Lambda handler. */
export interface Gateway {
  readonly apollo: ApolloServer<GatewayContext>;
  readonly cache: AnswerCache;
  readonly admission: Admission;
  /** Build the per-request context: verify the token, open the request scope. */
  context(
    authorization: string | undefined,
    correlationId: string,
    signal?: AbortSignal,
  ): Promise<GatewayContext>;
  handle(request: GatewayRequest): Promise<GatewayResponse>;
  stop(): Promise<void>;
}

const json = (status: number, value: unknown): GatewayResponse => ({
  status,
  headers: new Map([['content-type', 'application/json; charset=utf-8']]),
  body: JSON.stringify(value),
});

/**
 * Create the gateway once per process (per Lambda container): the schema is
 * generated from the mart catalog, and Apollo is started here.
 */
export async function createGateway(options: GatewayOptions): Promise<Gateway> {
  const catalog = options.catalog ?? CATALOG;
  const admission = new Admission(options.admission);
  const cache = new AnswerCache(options.cacheBytes);
  const reader = new MartReader({
    engine: options.engine,
    store: options.store,
    policy: options.policy,
    queryTimeoutMs: options.queryTimeoutMs,
    maxPageSize: options.maxPageSize,
    maxEngineQueriesPerRequest: options.maxEngineQueriesPerRequest,
    admission,
    mask: options.mask,
    catalog,
  });
  const log = options.logger;
  const armor = new ApolloArmor({
    maxDepth: { n: options.guards.maxDepth },
    maxAliases: { n: options.guards.maxAliases },
    maxTokens: { n: options.guards.maxTokens },
    // Cost is the rows an operation may ask for (rowBudgetPlugin): armor's cost ignores `first`.
    costLimit: { enabled: false },
    maxDirectives: { n: 20 },
    // Field suggestions would list hidden fields' names ("did you mean email?").
    blockFieldSuggestion: { enabled: true },
  }).protect();
  const apollo = new ApolloServer<GatewayContext>({
    typeDefs: buildTypeDefs(catalog),
    resolvers: buildResolvers(catalog),
    // Stack traces go to the log only, in every mode: a dev answer must not leak paths either.
    includeStacktraceInErrorResponses: false,
    csrfPrevention: true,
    // Batched operations would multiply every per-request limit.
    allowBatchedHttpRequests: false,
    // The CLI and Lambda own shutdown: Apollo must not re-raise SIGTERM before the engine is closed.
    stopOnTerminationSignals: false,
    introspection: !options.production,
    validationRules: armor.validationRules,
    plugins: [
      // graphql-armor is typed against Apollo's CJS build; the plugin objects are the same at run time.
      ...(armor.plugins as unknown as ApolloServerPlugin<GatewayContext>[]),
      rowBudgetPlugin<GatewayContext>(options.guards.maxRows),
      ApolloServerPluginLandingPageDisabled(),
      // Nothing is ever reported to Apollo's cloud, whatever APOLLO_* variables a stage sets.
      ApolloServerPluginUsageReportingDisabled(),
      ApolloServerPluginInlineTraceDisabled(),
      statusPlugin(),
    ],
    formatError: (formatted, error) => formatError(formatted, error, log),
  });
  await apollo.start();

  const context = async (authorization: string | undefined, correlationId: string, signal?: AbortSignal) => {
    const requestLog = () => log.createChild({ persistentKeys: { correlation_id: correlationId } });
    try {
      const principal = await options.verifier(authorization);
      return { reader, scope: new RequestScope(principal, requestLog, signal), loaders: new Map() };
    } catch (error) {
      // The reason goes to the log only; the caller gets the same 401 whatever it was.
      const reason = error instanceof UnauthenticatedError ? error.reason : describeError(error).message;
      log.warn('authentication failed', { correlation_id: correlationId, reason });
      throw unauthenticated();
    }
  };

  const ide = options.ide && createIdeRoutes(options.ide, log);
  const opsOptions = options.ops ?? (options.ide && { token: options.ide.token });
  const ops =
    opsOptions &&
    createOpsRoutes(opsOptions, {
      store: options.store,
      verifier: options.verifier,
      unauthorized: UNAUTHORIZED,
      logger: log,
    });

  /** Answer from the cache when every mart the answer read still serves the same run; else compute and keep. */
  const cached = async (
    ctx: GatewayContext,
    parts: readonly string[],
    compute: () => Promise<GatewayResponse>,
  ): Promise<{ response: GatewayResponse; hit: boolean }> => {
    if (!cache.enabled) return { response: await compute(), hit: false };
    const key = AnswerCache.key(options.policy.fingerprint(ctx.scope.principal), parts);
    const current = async (martAt: string) => {
      const [mart, v] = martAt.split('@');
      return (await ctx.scope.version(options.store, mart ?? '', Number(v)))?.run_id;
    };
    const hit = await cache.lookup(key, current);
    if (hit) return { response: fromCache(hit), hit: true };
    const response = await compute();
    if (
      response.status === 200 &&
      typeof response.body === 'string' &&
      !ctx.scope.uncacheable &&
      !response.body.includes('"errors"')
    ) {
      cache.store(key, ctx.scope.touched, {
        status: response.status,
        headers: [...response.headers],
        body: response.body,
      });
    }
    return { response, hit: false };
  };

  const graphql = async (request: GatewayRequest, ctx: GatewayContext): Promise<GatewayResponse> => {
    const headers = new HeaderMap();
    for (const [name, value] of Object.entries(request.headers))
      if (value !== undefined) headers.set(name, value);
    const response = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: {
        method: request.method.toUpperCase(),
        headers,
        search: request.search,
        body: request.body,
      },
      context: async () => ctx,
    });
    const body = response.body.kind === 'complete' ? response.body.string : response.body.asyncIterator;
    let status = response.status ?? 200;
    // Apollo answers 500 for errors thrown by parse-time plugins (the token guard): they are the caller's.
    if (status === 500 && typeof body === 'string' && body.includes(`"code":"${QUERY_TOO_COMPLEX}"`))
      status = 400;
    return { status, headers: new Map([...response.headers]), body };
  };

  return {
    apollo,
    cache,
    admission,
    context,
    async handle(request) {
      if (ide?.matches(request)) return ide.handle(request);
      if (ops?.matches(request)) return ops.handle(request);
      const started = Date.now();
      const correlationId = request.headers['x-correlation-id']?.slice(0, 64) || randomUUID();
      if (request.path === '/health' && request.method === 'GET') return json(200, { status: 'ok' });
      const rest = isRestPath(request.path);
      if (!rest && request.path !== '/graphql')
        return json(404, { error: { code: 'NOT_FOUND', message: 'not found' } });
      // The public OpenAPI document needs no token (it describes shapes, never data).
      if (rest && isPublicRestPath(request.path)) {
        return withCorrelation(
          await handleRest(request, undefined, { logger: log, catalog }).catch((e) => restErrorResponse(e, log)),
          correlationId,
        );
      }
      let ctx: GatewayContext;
      try {
        ctx = await context(request.headers.authorization, correlationId, request.signal);
      } catch {
        return withCorrelation(UNAUTHORIZED, correlationId);
      }
      const parts = [
        request.method.toUpperCase(),
        request.path,
        request.search,
        // REST answers differ by format (JSON page vs streamed export).
        rest ? (request.headers.accept ?? '') : '',
        typeof request.body === 'string' ? request.body : JSON.stringify(request.body ?? null),
      ];
      const compute = rest
        ? () =>
            handleRest(request, ctx, { logger: log, catalog }).catch((e: unknown) =>
              restErrorResponse(e, ctx.scope.log),
            )
        : () => graphql(request, ctx);
      // Only reads exist: GraphQL has no mutations and REST answers GET only. Streams are never cached.
      const { response, hit } = await cached(ctx, parts, compute);
      const stats = ctx.scope.stats;
      // The base logger with the id as a field: a child logger per request would cost more than a cache hit.
      log.info('request', {
        correlation_id: correlationId,
        method: request.method,
        path: request.path,
        status: response.status,
        duration_ms: Date.now() - started,
        cache: cache.enabled ? (hit ? 'hit' : 'miss') : 'off',
        engine_queries: stats.engineQueries,
        bytes_scanned: stats.bytesScanned,
        marts: [...ctx.scope.touched.keys()],
      });
      return withCorrelation(response, correlationId);
    },
    stop: () => apollo.stop(),
  };
}

/** The one 401 answer, the same on every path and transport. */
const UNAUTHORIZED: GatewayResponse = {
  status: 401,
  headers: new Map([
    ['content-type', 'application/json; charset=utf-8'],
    ['www-authenticate', 'Bearer'],
  ]),
  body: JSON.stringify({ errors: [{ message: 'Unauthorized', extensions: { code: 'UNAUTHENTICATED' } }] }),
};

function withCorrelation(response: GatewayResponse, correlationId: string): GatewayResponse {
  const headers = new Map(response.headers);
  headers.set('x-correlation-id', correlationId);
  return { ...response, headers };
}

function fromCache(answer: CachedAnswer): GatewayResponse {
  const headers = new Map(answer.headers);
  headers.set('x-cache', 'hit');
  return { status: answer.status, headers, body: answer.body };
}

/** Callers see stable codes and safe messages, never SQL, paths or stack traces of internal errors. */
function formatError(formatted: GraphQLFormattedError, error: unknown, log: Logger): GraphQLFormattedError {
  const original = unwrapResolverError(error);
  // Apollo prefixes context failures ("Context creation failed: "); a 401 must read the same everywhere.
  if (formatted.extensions?.code === 'UNAUTHENTICATED') {
    return { message: 'Unauthorized', extensions: { code: 'UNAUTHENTICATED' } };
  }
  if (formatted.extensions?.code === QUERY_TOO_COMPLEX || isArmorRejection(formatted.message)) {
    return {
      message: formatted.message.replace(/^Syntax Error: /, ''),
      extensions: { code: QUERY_TOO_COMPLEX },
    };
  }
  if (isGoldgateError(original)) {
    const code = PUBLIC_CODES[original.code];
    if (code)
      return {
        message: original.message,
        extensions: { code },
        ...(formatted.path ? { path: formatted.path } : {}),
      };
  }
  const code = typeof formatted.extensions?.code === 'string' ? formatted.extensions.code : undefined;
  if (code && PUBLIC_CODES[code] && !isGoldgateError(original)) return formatted;
  log.error('internal error', {
    error: describeError(original),
    cause: describeError((original as Error)?.cause),
  });
  return {
    message: 'Internal error',
    extensions: { code: 'INTERNAL' },
    ...(formatted.path ? { path: formatted.path } : {}),
  };
}

/** Engine saturation and timeouts answer 503/504 rather than 200 with errors. */
function statusPlugin() {
  return {
    async requestDidStart() {
      return {
        async willSendResponse(ctx: GraphQLRequestContext<GatewayContext>) {
          // Guard rejections are the caller's to fix: 400, even when raised while parsing.
          if ((ctx.errors ?? []).some((e) => isArmorRejection(e.message)) && ctx.response.http) {
            ctx.response.http.status = 400;
          }
          const errors = (ctx.errors ?? []).map((e) => unwrapResolverError(e));
          const codes = errors.map((e) => (isGoldgateError(e) ? e.code : ''));
          const status = codes.map((c) => HTTP_STATUS[c]).find((s) => s !== undefined);
          if (status && ctx.response.http) ctx.response.http.status = status;
          const busy = errors.find((e) => isGoldgateError(e) && e.code === 'ENGINE_BUSY');
          if (busy && ctx.response.http) {
            const after = (busy as { retryAfterS?: unknown }).retryAfterS;
            ctx.response.http.headers.set('retry-after', String(typeof after === 'number' ? after : 1));
          }
        },
      };
    },
  };
}
