import { base64url, decodeJwt, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminOnlyPolicy } from '../../../src/auth/access.js';
import { MartReader, RequestScope } from '../../../src/query/service.js';
import { logger } from '../../../src/runtime/logger.js';
import { type ApiHarness, ROLES_CLAIM, startApiHarness, TOKEN_SETTINGS } from '../../support/api-harness.js';

/** The one answer to any request without a valid token, byte for byte (Apollo ends JSON bodies with a newline). */
const UNAUTHORIZED_BODY = '{"errors":[{"message":"Unauthorized","extensions":{"code":"UNAUTHENTICATED"}}]}';

const QUERY = '{ customers(first: 3) { nodes { customerId name } } }';

let h: ApiHarness;
/** The first three customer ids in key order, read from the Gold parquet. */
let firstIds: string[];
let allIds: string[];

beforeAll(async () => {
  h = await startApiHarness();
  const rows = await h.sql('SELECT customer_id FROM {rel} ORDER BY customer_id');
  allIds = rows.map((r) => String(r.customer_id));
  firstIds = allIds.slice(0, 3);
  expect(allIds.length).toBeGreaterThan(100);
});

afterAll(async () => {
  await h?.close();
});

const now = (): number => Math.floor(Date.now() / 1000);

function encodeSegment(value: unknown): string {
  return base64url.encode(JSON.stringify(value));
}

/** Valid claims for a hand-built token. */
function validClaims(roles: readonly string[] = ['admin']): Record<string, unknown> {
  return {
    sub: 'mallory',
    iss: TOKEN_SETTINGS.issuer,
    aud: TOKEN_SETTINGS.audience,
    iat: now(),
    exp: now() + 3600,
    [ROLES_CLAIM]: [...roles],
  };
}

function expectNoCustomerData(text: string): void {
  for (const id of allIds) expect(text, `the answer leaks customer ${id}`).not.toContain(id);
}

describe('a request without a valid token', () => {
  const cases: ReadonlyArray<readonly [string, () => Promise<string | undefined>]> = [
    ['no Authorization header', async () => undefined],
    ['Bearer with garbage', async () => 'Bearer garbage'],
    ['Bearer with three garbage segments', async () => 'Bearer not.a.jwt'],
    ['a valid token without the Bearer scheme', async () => h.adminToken()],
    ['a valid token under the Basic scheme', async () => `Basic ${await h.adminToken()}`],
    [
      'a token signed by another ES256 key with the same kid',
      async () => {
        const other = await generateKeyPair('ES256');
        return `Bearer ${await h.token({ key: other.privateKey })}`;
      },
    ],
    [
      'alg none, unsigned (empty signature)',
      async () =>
        `Bearer ${encodeSegment({ alg: 'none', typ: 'JWT', kid: h.signingKey.kid })}.${encodeSegment(validClaims())}.`,
    ],
    [
      'alg none with a signature segment',
      async () =>
        `Bearer ${encodeSegment({ alg: 'none', typ: 'JWT', kid: h.signingKey.kid })}.${encodeSegment(validClaims())}.${base64url.encode('x')}`,
    ],
    [
      'HS256 signed with the public key JSON as the secret',
      async () => {
        const secret = new TextEncoder().encode(JSON.stringify(h.publicJwk));
        return `Bearer ${await h.token({ alg: 'HS256', key: secret })}`;
      },
    ],
    [
      'HS256 signed with the public key JSON as the secret, without kid',
      async () => {
        const secret = new TextEncoder().encode(JSON.stringify(h.publicJwk));
        return `Bearer ${await h.token({ alg: 'HS256', key: secret, kid: null })}`;
      },
    ],
    [
      'expired beyond the 30 s tolerance',
      async () => `Bearer ${await h.token({ iat: now() - 3600, exp: now() - 90 })}`,
    ],
    ['nbf in the future (beyond the tolerance)', async () => `Bearer ${await h.token({ nbf: now() + 600 })}`],
    ['wrong issuer', async () => `Bearer ${await h.token({ issuer: 'https://idp.evil.example/' })}`],
    ['wrong audience', async () => `Bearer ${await h.token({ audience: 'another-api' })}`],
    ['unknown kid', async () => `Bearer ${await h.token({ kid: 'no-such-key' })}`],
    [
      'tampered payload (roles changed after signing)',
      async () => {
        const signed = await h.token({ roles: ['analyst'] });
        const [header, , signature] = signed.split('.');
        const claims = decodeJwt(signed);
        expect(claims[ROLES_CLAIM]).toEqual(['analyst']);
        return `Bearer ${header}.${encodeSegment({ ...claims, [ROLES_CLAIM]: ['admin'] })}.${signature}`;
      },
    ],
    [
      'no exp claim',
      async () => {
        const jwt = await new SignJWT({ [ROLES_CLAIM]: ['admin'] })
          .setProtectedHeader({ alg: 'ES256', kid: h.signingKey.kid, typ: 'JWT' })
          .setSubject('no-exp')
          .setIssuer(TOKEN_SETTINGS.issuer)
          .setAudience(TOKEN_SETTINGS.audience)
          .setIssuedAt()
          .sign(h.signingKey.key);
        return `Bearer ${jwt}`;
      },
    ],
  ];

  it.each(cases)('%s: 401 with the generic body only', async (_name, authorization) => {
    const header = await authorization();
    const answer = await h.post({ query: QUERY }, header === undefined ? {} : { authorization: header });
    expect(answer.status).toBe(401);
    expect(answer.text.trimEnd()).toBe(UNAUTHORIZED_BODY);
    expect(answer.json).toStrictEqual({
      errors: [{ message: 'Unauthorized', extensions: { code: 'UNAUTHENTICATED' } }],
    });
    expect(answer.headers.get('www-authenticate')).toBe('Bearer');
    expectNoCustomerData(answer.text);
  });
});

describe('a valid token', () => {
  it('admin: 200 with the first customers in key order', async () => {
    const answer = await h.post({ query: QUERY }, { token: await h.adminToken() });
    expect(answer.status).toBe(200);
    expect(answer.json?.errors).toBeUndefined();
    const customers = answer.json?.data?.customers as
      | { nodes: Array<{ customerId: string; name: string }> }
      | undefined;
    const nodes = customers?.nodes ?? [];
    expect(nodes.map((n) => n.customerId)).toEqual(firstIds);
    for (const node of nodes) expect(typeof node.name).toBe('string');
  });

  it('expired by less than the 30 s clock tolerance is still accepted', async () => {
    const token = await h.token({ iat: now() - 3600, exp: now() - 5 });
    const answer = await h.post({ query: QUERY }, { token });
    expect(answer.status).toBe(200);
    expect(answer.json?.errors).toBeUndefined();
  });

  it('nbf less than the 30 s clock tolerance ahead is still accepted', async () => {
    const token = await h.token({ nbf: now() + 5 });
    const answer = await h.post({ query: QUERY }, { token });
    expect(answer.status).toBe(200);
    expect(answer.json?.errors).toBeUndefined();
  });
});

describe('a valid token without a grant on the mart', () => {
  /** The error a mart that does not exist at all answers with, from the same reader. */
  async function missingMartError(): Promise<{ message: string; code: string }> {
    const reader = new MartReader({
      engine: h.runtime.engine,
      store: h.store,
      policy: adminOnlyPolicy,
      queryTimeoutMs: 10_000,
      maxPageSize: 500,
      maxEngineQueriesPerRequest: 16,
    });
    const scope = new RequestScope({ subject: 'admin', roles: ['admin'], scopes: {} }, logger);
    try {
      reader.access(scope, 'no_such_mart');
    } catch (error) {
      return { message: (error as Error).message, code: (error as { code: string }).code };
    }
    throw new Error('a mart that does not exist was granted');
  }

  it.each([
    ['a role the policy does not define', ['intern']],
    ['no role at all', []],
    ['a role named like admin', ['Admin', 'admins']],
  ] as const)('%s: customers answers NOT_FOUND, like a missing mart, and no data', async (_name, roles) => {
    const missing = await missingMartError();
    expect(missing.code).toBe('NOT_FOUND');
    const answer = await h.post({ query: QUERY }, { token: await h.token({ roles }) });
    expect(answer.status).toBe(200);
    expect(answer.json).toStrictEqual({
      errors: [{ message: missing.message, extensions: { code: 'NOT_FOUND' }, path: ['customers'] }],
      data: null,
    });
    expectNoCustomerData(answer.text);
  });

  it('analyst (aggregate-only on customer_360): rows are FORBIDDEN, no data', async () => {
    const answer = await h.post({ query: QUERY }, { token: await h.token({ roles: ['analyst'] }) });
    expect(answer.json?.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(answer.json?.data ?? null).toBeNull();
    expectNoCustomerData(answer.text);
  });

  it('a role without grants: customer(id) of an existing customer answers NOT_FOUND and null', async () => {
    const missing = await missingMartError();
    const id = allIds[5];
    const answer = await h.post(
      { query: 'query ($id: ID!) { customer(id: $id) { customerId name } }', variables: { id } },
      { token: await h.token({ roles: ['intern'] }) },
    );
    expect(answer.json).toStrictEqual({
      errors: [{ message: missing.message, extensions: { code: 'NOT_FOUND' }, path: ['customer'] }],
      data: { customer: null },
    });
  });
});

describe('GET /health', () => {
  it('answers 200 without a token and exposes no data', async () => {
    const response = await fetch(`${h.baseUrl}/health`);
    const text = await response.text();
    expect(response.status).toBe(200);
    expect(JSON.parse(text)).toStrictEqual({ status: 'ok' });
    expectNoCustomerData(text);
  });
});
