import { randomUUID } from 'node:crypto';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { ObjectStore } from '../../adapters/object-store/port.js';
import { UnauthenticatedError } from '../../auth/errors.js';
import type { Principal } from '../../auth/principal.js';
import type { Verifier } from '../../auth/verify.js';
import { describeError } from '../../errors.js';
import type { SlaConfig } from '../../ops/index.js';
import type { GatewayRequest, GatewayResponse } from '../gateway.js';
import { text } from '../static.js';
import { OPS_CLIENT_JS } from './client.generated.js';
import { collectOpsData, mayReadOps, OPS_DEFAULT_RUNS, parseOpsQuery } from './data.js';
import { OpsForbiddenError, OpsQueryInvalidError } from './errors.js';
import { OPS_CSP, OPS_CSS, OPS_PATHS, renderOpsPage } from './page.js';

/**
 * The ops page at `/ops`, its script and stylesheet, and `GET /ops/data`. The
 * page and its files hold no data and need no token; `/ops/data` needs a valid
 * token (else the gateway's one 401 answer) with the `admin` or `ops` role
 * (else 403 FORBIDDEN: the caller is known, and being told which role is
 * missing reveals nothing about the data). Only the local server serves them.
 */

/** The gateway's `ops` option. */
export interface OpsPageOptions {
  /** A dev token the page uses until one is pasted (loopback `goldgate start` only). */
  readonly token?: string;
  /** The clock SLAs and ages are judged by (default: the system clock). */
  readonly now?: () => Date;
  /** The SLAs in force (default: the process's, from the environment). */
  readonly slas?: SlaConfig;
}

/** What the routes need of the gateway. */
export interface OpsRouteContext {
  readonly store: ObjectStore;
  readonly verifier: Verifier;
  /** The gateway's 401 answer, the same on every path. */
  readonly unauthorized: GatewayResponse;
  readonly logger: Logger;
}

/** The ops routes the gateway consults after the IDE's. */
export interface OpsRoutes {
  /** Whether the request is the ops page's: GET or HEAD of `/ops` or `/ops/*`. */
  matches(request: GatewayRequest): boolean;
  handle(request: GatewayRequest): Promise<GatewayResponse>;
}

const JSON_TYPE = 'application/json; charset=utf-8';

/** Create the routes once per gateway. */
export function createOpsRoutes(options: OpsPageOptions, context: OpsRouteContext): OpsRoutes {
  const page = renderOpsPage({
    dataPath: OPS_PATHS.data,
    runs: OPS_DEFAULT_RUNS,
    token: options.token ?? null,
  });
  const now = options.now ?? (() => new Date());
  const log = context.logger;

  const data = async (request: GatewayRequest): Promise<GatewayResponse> => {
    const started = Date.now();
    const correlationId = request.headers['x-correlation-id']?.slice(0, 64) || randomUUID();
    const requestLog = log.createChild({ persistentKeys: { correlation_id: correlationId } });
    let principal: Principal;
    try {
      principal = await context.verifier(request.headers.authorization);
    } catch (error) {
      // The reason goes to the log only; the caller gets the same 401 whatever it was.
      const reason = error instanceof UnauthenticatedError ? error.reason : describeError(error).message;
      requestLog.warn('authentication failed', { reason, path: request.path });
      return withHeader(context.unauthorized, 'x-correlation-id', correlationId);
    }
    let response: GatewayResponse;
    try {
      if (!mayReadOps(principal)) throw new OpsForbiddenError('the admin or ops role is needed');
      const query = parseOpsQuery(request.search);
      const body = await collectOpsData(context.store, now(), {
        runs: query.runs,
        ...(options.slas ? { slas: options.slas } : {}),
      });
      response = text(200, JSON_TYPE, JSON.stringify(body), { 'cache-control': 'no-store' });
    } catch (error) {
      response = failure(error, requestLog);
    }
    requestLog.info('request', {
      method: request.method,
      path: request.path,
      status: response.status,
      duration_ms: Date.now() - started,
      subject: principal.subject,
    });
    return withHeader(response, 'x-correlation-id', correlationId);
  };

  return {
    matches: (request) =>
      (request.method === 'GET' || request.method === 'HEAD') &&
      (request.path === OPS_PATHS.page || request.path.startsWith(`${OPS_PATHS.page}/`)),
    async handle(request) {
      const head = request.method === 'HEAD';
      switch (request.path) {
        case OPS_PATHS.page:
          return text(
            200,
            'text/html; charset=utf-8',
            page,
            {
              // The page may carry a dev token: never cached, never sent on as a referrer, never framed.
              'cache-control': 'no-store',
              'content-security-policy': OPS_CSP,
              'referrer-policy': 'no-referrer',
              'x-frame-options': 'DENY',
            },
            head,
          );
        case OPS_PATHS.script:
          return text(
            200,
            'text/javascript; charset=utf-8',
            OPS_CLIENT_JS,
            { 'cache-control': 'no-cache' },
            head,
          );
        case OPS_PATHS.styles:
          return text(200, 'text/css; charset=utf-8', OPS_CSS, { 'cache-control': 'no-cache' }, head);
        case OPS_PATHS.data:
          if (head)
            return text(405, JSON_TYPE, errorBody('METHOD_NOT_ALLOWED', 'GET only'), { allow: 'GET' });
          return data(request);
        default:
          return text(404, JSON_TYPE, errorBody('NOT_FOUND', 'not found'));
      }
    },
  };
}

/** A refusal or failure as `{"error":{"code","message"}}`; anything unexpected is logged and INTERNAL. */
function failure(error: unknown, log: Logger): GatewayResponse {
  if (error instanceof OpsForbiddenError) return text(403, JSON_TYPE, errorBody(error.code, error.message));
  if (error instanceof OpsQueryInvalidError)
    return text(400, JSON_TYPE, errorBody(error.code, error.message));
  log.error('ops data failed', {
    error: describeError(error),
    cause: describeError(error instanceof Error ? error.cause : undefined),
  });
  return text(500, JSON_TYPE, errorBody('INTERNAL', 'Internal error'));
}

function withHeader(response: GatewayResponse, name: string, value: string): GatewayResponse {
  const headers = new Map(response.headers);
  headers.set(name, value);
  return { ...response, headers };
}

const errorBody = (code: string, message: string): string => JSON.stringify({ error: { code, message } });
