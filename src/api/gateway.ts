import { randomUUID } from 'node:crypto';
import { ApolloServer, type GraphQLRequestContext, HeaderMap } from '@apollo/server';
import { unwrapResolverError } from '@apollo/server/errors';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { GraphQLFormattedError } from 'graphql';
import type { ObjectStore } from '../adapters/object-store/port.js';
import type { QueryEngine } from '../adapters/query-engine/port.js';
import type { AccessPolicy } from '../auth/access.js';
import { UnauthenticatedError } from '../auth/errors.js';
import type { Verifier } from '../auth/verify.js';
import { MARTS } from '../catalog/index.js';
import { describeError, isGoldgateError } from '../errors.js';
import { MartReader, RequestScope } from '../query/service.js';
import { buildResolvers, type GatewayContext } from '../resolvers/index.js';
import { buildTypeDefs } from '../schema/sdl.js';
import { HTTP_STATUS, PUBLIC_CODES, unauthenticated } from './errors.js';
import { createIdeRoutes, type IdeOptions } from './static.js';

export interface GatewayOptions {
  readonly engine: QueryEngine;
  readonly store: ObjectStore;
  readonly verifier: Verifier;
  readonly policy: AccessPolicy;
  readonly logger: Logger;
  readonly queryTimeoutMs: number;
  readonly maxPageSize: number;
  /** Production mode: no introspection. */
  readonly production: boolean;
  /** Serve the GraphQL IDE page at `/` from this build (local server only; the Lambda API has none). */
  readonly ide?: IdeOptions;
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
  const reader = new MartReader({
    engine: options.engine,
    store: options.store,
    policy: options.policy,
    queryTimeoutMs: options.queryTimeoutMs,
    maxPageSize: options.maxPageSize,
  });
  const log = options.logger;
  const apollo = new ApolloServer<GatewayContext>({
    typeDefs: buildTypeDefs(MARTS),
    resolvers: buildResolvers(MARTS),
    // Stack traces go to the log only, in every mode: a dev answer must not leak paths either.
    includeStacktraceInErrorResponses: false,
    csrfPrevention: true,
    // The CLI and Lambda own shutdown: Apollo must not re-raise SIGTERM before the engine is closed.
    stopOnTerminationSignals: false,
    introspection: !options.production,
    plugins: [ApolloServerPluginLandingPageDisabled(), statusPlugin()],
    formatError: (formatted, error) => formatError(formatted, error, log),
  });
  await apollo.start();

  const context = async (authorization: string | undefined, correlationId: string, signal?: AbortSignal) => {
    const requestLog = log.createChild({ persistentKeys: { correlation_id: correlationId } });
    try {
      const principal = await options.verifier(authorization);
      return { reader, scope: new RequestScope(principal, requestLog, signal) };
    } catch (error) {
      // The reason goes to the log only; the caller gets the same 401 whatever it was.
      const reason = error instanceof UnauthenticatedError ? error.reason : describeError(error).message;
      requestLog.warn('authentication failed', { reason });
      throw unauthenticated();
    }
  };

  const ide = options.ide && createIdeRoutes(options.ide, log);

  return {
    apollo,
    context,
    async handle(request) {
      if (ide?.matches(request)) return ide.handle(request);
      const correlationId = request.headers['x-correlation-id']?.slice(0, 64) || randomUUID();
      if (request.path === '/health' && request.method === 'GET') return json(200, { status: 'ok' });
      if (request.path !== '/graphql')
        return json(404, { error: { code: 'NOT_FOUND', message: 'not found' } });
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
        context: () => context(request.headers.authorization, correlationId, request.signal),
      });
      const outHeaders = new Map<string, string>([...response.headers]);
      outHeaders.set('x-correlation-id', correlationId);
      const body = response.body.kind === 'complete' ? response.body.string : response.body.asyncIterator;
      return { status: response.status ?? 200, headers: outHeaders, body };
    },
    stop: () => apollo.stop(),
  };
}

/** Callers see stable codes and safe messages, never SQL, paths or stack traces of internal errors. */
function formatError(formatted: GraphQLFormattedError, error: unknown, log: Logger): GraphQLFormattedError {
  const original = unwrapResolverError(error);
  // Apollo prefixes context failures ("Context creation failed: "); a 401 must read the same everywhere.
  if (formatted.extensions?.code === 'UNAUTHENTICATED') {
    return { message: 'Unauthorized', extensions: { code: 'UNAUTHENTICATED' } };
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
          const codes = (ctx.errors ?? [])
            .map((e) => unwrapResolverError(e))
            .map((e) => (isGoldgateError(e) ? e.code : ''));
          const status = codes.map((c) => HTTP_STATUS[c]).find((s) => s !== undefined);
          if (status && ctx.response.http) ctx.response.http.status = status;
        },
      };
    },
  };
}
