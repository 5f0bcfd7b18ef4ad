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
import { httpApiEvent } from '../../support/builders/api-gateway.js';

/** A GraphQL POST as API Gateway delivers it. */
function httpEvent(body: unknown, headers: Record<string, string>): APIGatewayProxyEventV2 {
  return httpApiEvent({
    method: 'POST',
    path: '/graphql',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
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
