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
import type { Principal } from '../auth/principal.js';
import type { Verifier } from '../auth/verify.js';
import { CATALOG, type Catalog } from '../catalog/index.js';
import { describeError, isGoldgateError } from '../errors.js';
import { Admission, type AdmissionOptions } from '../query/admission.js';
import { MartReader, RequestScope, type RowMasker } from '../query/service.js';
import { buildResolvers, type GatewayContext } from '../resolvers/index.js';
import { buildTypeDefs } from '../schema/sdl.js';
import { AnswerCache, type CacheEntry } from './cache.js';
import { HTTP_STATUS, PUBLIC_CODES, unauthenticated } from './errors.js';
import { isArmorRejection, QUERY_TOO_COMPLEX, rowBudgetPlugin } from './guards.js';
import { createOpsRoutes, type OpsPageOptions } from './ops/routes.js';
import { PointerReads } from './pointers.js';
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
  /** The body's bytes as received, when the transport has them (the cache keys on them: no re-serialising). */
  readonly rawBody?: string;
  readonly signal?: AbortSignal;
}

/** A response the transport writes back. The body is complete or streamed in chunks. */
export interface GatewayResponse {
  readonly status: number;
  readonly headers: ReadonlyMap<string, string>;
  readonly body: string | AsyncIterable<string>;
  /** A string body's UTF-8 bytes when the core already holds them (cache hits): sent as they are. */
  readonly bytes?: Uint8Array;
}

/** The core shared by the local HTTP server and the Lambda handler. */
export interface Gateway {
  readonly apollo: ApolloServer<GatewayContext>;
  readonly cache: AnswerCache;
  /** Fresh pointer reads that validate cache hits (shared by requests that ask at once). */
  readonly pointers: PointerReads;
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

  const verify = async (authorization: string | undefined, correlationId: string): Promise<Principal> => {
    try {
      return await options.verifier(authorization);
    } catch (error) {
      // The reason goes to the log only; the caller gets the same 401 whatever it was.
      const reason = error instanceof UnauthenticatedError ? error.reason : describeError(error).message;
      log.warn('authentication failed', { correlation_id: correlationId, reason });
      throw unauthenticated();
    }
  };
  const contextFor = (principal: Principal, correlationId: string, signal?: AbortSignal): GatewayContext => {
    const requestLog = () => log.createChild({ persistentKeys: { correlation_id: correlationId } });
    return { reader, scope: new RequestScope(principal, requestLog, signal), loaders: new Map() };
  };
  const context = async (authorization: string | undefined, correlationId: string, signal?: AbortSignal) =>
    contextFor(await verify(authorization, correlationId), correlationId, signal);
  const pointers = new PointerReads(options.store);

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

  /**
   * A kept answer whose marts all still serve the runs it was computed from.
   * Runs before anything parses the request (GraphQL or REST): a hit costs the
   * token check, the key and fresh pointer reads. A pointer that cannot be
   * read is a miss: the request then meets the error the typed way.
   */
  const lookup = (key: string): Promise<CacheEntry | undefined> =>
    cache.lookup(key, (martAt) => pointers.runOf(martAt)).catch(() => undefined);
  /** Requests being computed, by cache key. */
  const computing = new Map<string, Promise<void>>();
  /**
   * A kept answer, or, when the same request is being computed, the answer it
   * keeps: a burst of one request runs the engine once, not once per caller.
   * Still exact: the waiter's own lookup reads the pointers after it arrived,
   * so a run published before then turns the peer's answer stale (computed again).
   */
  const fromCache = async (key: string): Promise<CacheEntry | undefined> => {
    const hit = await lookup(key);
    if (hit) return hit;
    const peer = computing.get(key);
    if (!peer) return undefined;
    await peer;
    return lookup(key);
  };

  /** Keep a complete, error-free answer that read Gold and does not depend on the clock. */
  const keep = (key: string, ctx: GatewayContext, response: GatewayResponse): void => {
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

  /** The request's one log line (the base logger with the id as a field: a child per request costs more than a hit). */
  const logRequest = (
    request: GatewayRequest,
    correlationId: string,
    started: number,
    status: number,
    cacheState: 'hit' | 'miss' | 'off',
    ctx: GatewayContext | undefined,
    touched: CacheEntry['touched'] = [],
  ): void => {
    log.info('request', {
      correlation_id: correlationId,
      method: request.method,
      path: request.path,
      status,
      duration_ms: Date.now() - started,
      cache: cacheState,
      engine_queries: ctx?.scope.stats.engineQueries ?? 0,
      bytes_scanned: ctx?.scope.stats.bytesScanned ?? 0,
      marts: ctx ? [...ctx.scope.touched.keys()] : touched.map(([martAt]) => martAt),
    });
  };

  return {
    apollo,
    cache,
    pointers,
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
          await handleRest(request, undefined, { logger: log, catalog }).catch((e) =>
            restErrorResponse(e, log),
          ),
          correlationId,
        );
      }
      let principal: Principal;
      try {
        principal = await verify(request.headers.authorization, correlationId);
      } catch {
        return withCorrelation(UNAUTHORIZED, correlationId);
      }
      // Only reads exist: GraphQL has no mutations and REST answers GET only. Streams are never cached.
      const key = cache.enabled
        ? AnswerCache.key(options.policy.fingerprint(principal), cacheParts(request))
        : undefined;
      const hit = key === undefined ? undefined : await fromCache(key);
      if (hit) {
        logRequest(request, correlationId, started, hit.status, 'hit', undefined, hit.touched);
        return cachedResponse(hit, correlationId);
      }
      const ctx = contextFor(principal, correlationId, request.signal);
      let computed: (() => void) | undefined;
      if (key !== undefined && !computing.has(key))
        computing.set(key, new Promise<void>((resolve) => (computed = resolve)));
      let response: GatewayResponse;
      try {
        response = rest
          ? await handleRest(request, ctx, { logger: log, catalog }).catch((e: unknown) =>
              restErrorResponse(e, ctx.scope.log),
            )
          : await graphql(request, ctx);
        if (key !== undefined) keep(key, ctx, response);
      } finally {
        if (key !== undefined && computed) {
          computing.delete(key);
          computed();
        }
      }
      logRequest(request, correlationId, started, response.status, key === undefined ? 'off' : 'miss', ctx);
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

/** A kept answer as sent again: its headers, marked as a hit, with this request's correlation id. */
function cachedResponse(answer: CacheEntry, correlationId: string): GatewayResponse {
  const headers = new Map(answer.headers);
  headers.set('x-cache', 'hit');
  headers.set('x-correlation-id', correlationId);
  return { status: answer.status, headers, body: answer.body, bytes: answer.bytes };
}

/**
 * What an answer depends on besides the caller's policy: the request as sent.
 * `content-type` and the preflight headers decide whether the body is JSON and
 * whether Apollo's CSRF rule lets the request through, `accept` the answer's
 * format; the raw body is keyed as received (the same bytes parse the same).
 */
function cacheParts(request: GatewayRequest): string[] {
  const h = request.headers;
  const preflight = Boolean(h['x-apollo-operation-name'] || h['apollo-require-preflight']);
  return [
    request.method.toUpperCase(),
    request.path,
    request.search,
    h.accept ?? '',
    h['content-type'] ?? '',
    preflight ? '1' : '0',
    request.rawBody ??
      (typeof request.body === 'string' ? request.body : JSON.stringify(request.body ?? null)),
  ];
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
    // A caller that hung up is no failure of ours: noted, not logged as an error.
    if (original.code === 'ENGINE_ABORTED')
      log.info('request cancelled by its caller', { error: describeError(original) });
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
