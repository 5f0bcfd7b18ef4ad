import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../../src/adapters/object-store/local.js';
import { DuckDbQueryEngine } from '../../../src/adapters/query-engine/duckdb.js';
import { ensureDevKeys } from '../../../src/auth/dev-keys.js';
import { signDevToken } from '../../../src/auth/token.js';
import { buildDemoLake } from '../../../src/cli/demo.js';
import { loadConfig } from '../../../src/config/index.js';
import { logger } from '../../../src/runtime/logger.js';

/** An API Gateway HTTP API (payload v2) event, as Lambda delivers it. */
function httpEvent(body: unknown, headers: Record<string, string>): APIGatewayProxyEventV2 {
  return {
    version: '2.0',
    routeKey: 'POST /graphql',
    rawPath: '/graphql',
    rawQueryString: '',
    headers: { 'content-type': 'application/json', ...headers },
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'api.example.com',
      domainPrefix: 'api',
      http: {
        method: 'POST',
        path: '/graphql',
        protocol: 'HTTP/1.1',
        sourceIp: '127.0.0.1',
        userAgent: 'test',
      },
      requestId: 'req-1',
      routeKey: 'POST /graphql',
      stage: '$default',
      time: '21/Nov/2026:06:00:00 +0000',
      timeEpoch: 1_795_240_800_000,
    },
    body: JSON.stringify(body),
    isBase64Encoded: false,
  };
}

const lambdaContext = { awsRequestId: 'req-1', functionName: 'api' } as Context;

describe('Lambda API handler (same gateway core as the local server)', () => {
  let root: string;
  let token: string;

  beforeAll(async () => {
    logger.setLogLevel('SILENT');
    root = await mkdtemp(join(tmpdir(), 'goldgate-lambda-'));
    process.env.GOLDGATE_LAKE_DIR = join(root, 'lake');
    process.env.GOLDGATE_STATE_DIR = join(root, 'state');
    const config = loadConfig();
    const store = new LocalObjectStore(config.lakeDir);
    const engine = await DuckDbQueryEngine.create({ store });
    await buildDemoLake({ store, engine, seed: 3, customers: 25, now: new Date('2026-11-21T06:00:00Z') });
    await engine.close();
    const key = await ensureDevKeys(config.stateDir);
    token = await signDevToken(key, { subject: 'lambda-test', roles: ['admin'] }, config.auth);
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('answers a GraphQL query with rows', async () => {
    const { handler } = await import('../../../src/handlers/api.js');
    const result = await handler(
      httpEvent(
        { query: '{ customers(first: 3) { nodes { customerId region } pageInfo { hasNextPage } } }' },
        {
          authorization: `Bearer ${token}`,
        },
      ),
      lambdaContext,
    );
    expect(result.statusCode).toBe(200);
    const body = JSON.parse(String(result.body));
    expect(body.data.customers.nodes).toHaveLength(3);
    expect(body.data.customers.pageInfo.hasNextPage).toBe(true);
    expect(result.headers?.['x-correlation-id']).toBe('req-1');
  });

  it('refuses a request without a token with the same 401 as the local server', async () => {
    const { handler } = await import('../../../src/handlers/api.js');
    const result = await handler(
      httpEvent({ query: '{ customers { nodes { customerId } } }' }, {}),
      lambdaContext,
    );
    expect(result.statusCode).toBe(401);
    expect(JSON.parse(String(result.body))).toEqual({
      errors: [{ message: 'Unauthorized', extensions: { code: 'UNAUTHENTICATED' } }],
    });
  });
});
