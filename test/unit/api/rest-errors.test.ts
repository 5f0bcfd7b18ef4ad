import { Logger } from '@aws-lambda-powertools/logger';
import { describe, expect, it, vi } from 'vitest';
import {
  EngineBusyError as EngineQueueFullError,
  QueryFailedError,
  QueryTimeoutError,
} from '../../../src/adapters/query-engine/errors.js';
import { unauthenticated } from '../../../src/api/errors.js';
import { handleRest, restErrorResponse } from '../../../src/api/rest.js';
import { UnauthenticatedError } from '../../../src/auth/errors.js';
import {
  BadUserInputError,
  EngineBusyError,
  ForbiddenError,
  MartNotFoundError,
  MartUnavailableError,
  QueryTooComplexError,
} from '../../../src/query/errors.js';

function quietLogger(): { log: Logger; error: ReturnType<typeof vi.fn> } {
  const log = new Logger({ serviceName: 'test', logLevel: 'SILENT' });
  const error = vi.fn();
  vi.spyOn(log, 'error').mockImplementation(error);
  vi.spyOn(log, 'warn').mockImplementation(() => undefined);
  return { log, error };
}

const body = (r: { body: unknown }) =>
  JSON.parse(r.body as string) as { error: { code: string; message: string } };

describe('restErrorResponse', () => {
  it.each([
    [new BadUserInputError('unknown query parameter x'), 400, 'BAD_USER_INPUT'],
    [new QueryTooComplexError('too many engine queries'), 400, 'QUERY_TOO_COMPLEX'],
    [new ForbiddenError('rows of x are not granted to you'), 403, 'FORBIDDEN'],
    [new MartNotFoundError(), 404, 'NOT_FOUND'],
    [new MartUnavailableError('the mart has not been published yet'), 503, 'MART_UNAVAILABLE'],
    [new QueryTimeoutError(5000), 504, 'ENGINE_TIMEOUT'],
  ] as const)('%s -> %i %s with its own message', (error, status, code) => {
    const { log, error: logged } = quietLogger();
    const r = restErrorResponse(error, log);
    expect(r.status).toBe(status);
    expect(r.headers.get('content-type')).toContain('application/json');
    expect(body(r)).toEqual({ error: { code, message: error.message } });
    expect(logged).not.toHaveBeenCalled();
  });

  it('ENGINE_BUSY is 503 with Retry-After from the admission error, 1 s otherwise', () => {
    const { log } = quietLogger();
    const busy = restErrorResponse(new EngineBusyError('queue full', { retryAfterS: 7 }), log);
    expect(busy.status).toBe(503);
    expect(busy.headers.get('retry-after')).toBe('7');
    expect(body(busy).error.code).toBe('ENGINE_BUSY');
    const engine = restErrorResponse(new EngineQueueFullError('engine queue is full'), log);
    expect(engine.status).toBe(503);
    expect(engine.headers.get('retry-after')).toBe('1');
  });

  it('a missing or bad token is the one 401 body, whatever the cause', () => {
    const { log } = quietLogger();
    for (const error of [unauthenticated(), new UnauthenticatedError('expired 90 s ago')]) {
      const r = restErrorResponse(error, log);
      expect(r.status).toBe(401);
      expect(r.body).toBe('{"error":{"code":"UNAUTHENTICATED","message":"Unauthorized"}}');
      expect(r.headers.get('www-authenticate')).toBe('Bearer');
    }
  });

  it('anything else is INTERNAL, logged, and shows no SQL, path or stack', () => {
    const { log, error: logged } = quietLogger();
    const failures = [
      new Error('Binder Error at /home/app/.lake/gold/customer_360/run_id=x: SELECT secret'),
      new QueryFailedError('customers.page', { reason: 'read_parquet(/srv/lake/gold/x) failed' }),
      'a thrown string',
      undefined,
    ];
    for (const failure of failures) {
      const r = restErrorResponse(failure, log);
      expect(r.status).toBe(500);
      expect(r.body).toBe('{"error":{"code":"INTERNAL","message":"Internal error"}}');
    }
    expect(logged).toHaveBeenCalledTimes(failures.length);
  });
});

describe('handleRest routing', () => {
  const request = (path: string, method = 'GET') => ({
    method,
    path,
    search: '',
    headers: {},
    body: undefined,
  });
  const { log } = quietLogger();

  it('unknown paths are NOT_FOUND and protected paths without a context are UNAUTHENTICATED', async () => {
    for (const path of [
      '/v1',
      '/v1/',
      '/v1/nothing',
      '/v1/marts/x/y/z',
      '/v1/marts/invoices/rows',
      '/v1/openapi.json/',
    ]) {
      await expect(handleRest(request(path), undefined, { logger: log }), path).rejects.toBeInstanceOf(
        MartNotFoundError,
      );
    }
    for (const path of ['/v1/marts', '/v1/marts/invoices', '/v1/marts/invoices/aggregate']) {
      await expect(handleRest(request(path), undefined, { logger: log }), path).rejects.toBeInstanceOf(
        UnauthenticatedError,
      );
    }
  });

  it('only GET is allowed', async () => {
    const r = await handleRest(request('/v1/openapi.json', 'DELETE'), undefined, { logger: log });
    expect(r.status).toBe(405);
    expect(r.headers.get('allow')).toBe('GET');
    expect(body(r).error.code).toBe('BAD_REQUEST');
  });
});
