import { randomUUID } from 'node:crypto';
import { base64url, decodeJwt, exportSPKI, generateKeyPair, importJWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it, type MockInstance, vi } from 'vitest';
import { logger } from '../../../src/runtime/logger.js';
import { type ApiHarness, ROLES_CLAIM, startApiHarness, TOKEN_SETTINGS } from '../../support/api-harness.js';

/**
 * Security suite, part 1: forged and tampered tokens over HTTP through the real
 * gateway. `test/integration/api/auth.test.ts` covers the first variant of each
 * threat (alg none, HS256 keyed with the JWK JSON, expired, ...); this suite
 * adds the other ways attackers build them (HS256 keyed with the PEM or the raw
 * point, alg spelled otherwise, embedded `jwk`/`jku` keys, psychic signatures,
 * spliced signatures, widened claims, `crit` extensions) and checks the other
 * half of the contract: every one answers the same generic 401 body, and the
 * reason reaches the log only, without the token.
 */

const UNAUTHORIZED_BODY = '{"errors":[{"message":"Unauthorized","extensions":{"code":"UNAUTHENTICATED"}}]}';
const QUERY = '{ customers(first: 2) { nodes { customerId email } } }';
const REGIONS_CLAIM = `${TOKEN_SETTINGS.claimsNamespace}regions`;

let h: ApiHarness;
let out: MockInstance;
let err: MockInstance;

beforeAll(async () => {
  h = await startApiHarness({ customers: 30 });
  // The harness quiets the logger; this suite reads the authentication warnings.
  logger.setLogLevel('WARN');
  // Captured, not printed: the suite asserts on them.
  out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
});

afterAll(async () => {
  out?.mockRestore();
  err?.mockRestore();
  logger.setLogLevel('ERROR');
  await h?.close();
});

const now = (): number => Math.floor(Date.now() / 1000);
const segment = (value: unknown): string => base64url.encode(JSON.stringify(value));

function validClaims(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    sub: 'mallory',
    iss: TOKEN_SETTINGS.issuer,
    aud: TOKEN_SETTINGS.audience,
    iat: now(),
    exp: now() + 3600,
    [ROLES_CLAIM]: ['admin'],
    ...extra,
  };
}

/** JSON log lines written since `mark` that carry this correlation id. */
function logLinesFor(correlationId: string, mark: { out: number; err: number }): Record<string, unknown>[] {
  const written = [...out.mock.calls.slice(mark.out), ...err.mock.calls.slice(mark.err)].map((c) =>
    String(c[0]),
  );
  return written
    .flatMap((chunk) => chunk.split('\n'))
    .filter((line) => line.includes(correlationId))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

async function call(authorization: string) {
  const correlationId = randomUUID();
  const mark = { out: out.mock.calls.length, err: err.mock.calls.length };
  const answer = await h.post(
    { query: QUERY },
    { authorization, headers: { 'x-correlation-id': correlationId } },
  );
  return { answer, lines: logLinesFor(correlationId, mark) };
}

/** A forged token and the reason the log must give for it (jose's stable error code). */
type Forgery = readonly [name: string, build: () => Promise<string>, reason: string];

const forgeries: Forgery[] = [
  [
    'alg "NONE" (upper case), unsigned',
    async () => `${segment({ alg: 'NONE', typ: 'JWT' })}.${segment(validClaims())}.`,
    // An empty signature segment is refused before jose sees it.
    'malformed authorization header',
  ],
  [
    'alg "None" with the real kid and a junk signature',
    async () =>
      `${segment({ alg: 'None', kid: h.signingKey.kid })}.${segment(validClaims())}.${base64url.encode('sig')}`,
    'ERR_JOSE_ALG_NOT_ALLOWED',
  ],
  [
    'HS256 keyed with the public key as SPKI PEM bytes',
    async () => {
      const pub = await importJWK(h.publicJwk, 'ES256', { extractable: true });
      const pem = await exportSPKI(pub as Parameters<typeof exportSPKI>[0]);
      return h.token({ alg: 'HS256', key: new TextEncoder().encode(pem) });
    },
    'ERR_JOSE_ALG_NOT_ALLOWED',
  ],
  [
    'HS256 keyed with the raw public point (x || y)',
    async () => {
      const x = base64url.decode(String(h.publicJwk.x));
      const y = base64url.decode(String(h.publicJwk.y));
      return h.token({ alg: 'HS256', key: new Uint8Array([4, ...x, ...y]) });
    },
    'ERR_JOSE_ALG_NOT_ALLOWED',
  ],
  ['expired a day ago', async () => h.token({ iat: now() - 90_000, exp: now() - 86_400 }), 'ERR_JWT_EXPIRED'],
  [
    'not yet valid: issued and valid from an hour ahead',
    async () => h.token({ iat: now() + 3600, nbf: now() + 3600, exp: now() + 7200 }),
    'ERR_JWT_CLAIM_VALIDATION_FAILED',
  ],
  [
    'issuer differing by a trailing slash',
    async () => h.token({ issuer: `${TOKEN_SETTINGS.issuer}/` }),
    'ERR_JWT_CLAIM_VALIDATION_FAILED',
  ],
  [
    'issuer differing by case',
    async () => h.token({ issuer: TOKEN_SETTINGS.issuer.toUpperCase() }),
    'ERR_JWT_CLAIM_VALIDATION_FAILED',
  ],
  [
    'audience list without ours',
    async () =>
      new SignJWT({ [ROLES_CLAIM]: ['admin'] })
        .setProtectedHeader({ alg: 'ES256', kid: h.signingKey.kid })
        .setSubject('mallory')
        .setIssuer(TOKEN_SETTINGS.issuer)
        .setAudience(['goldgate-api-staging', 'goldgate'])
        .setIssuedAt()
        .setExpirationTime('1h')
        .sign(h.signingKey.key),
    'ERR_JWT_CLAIM_VALIDATION_FAILED',
  ],
  [
    'kid as a path traversal',
    async () => h.token({ kid: '../keys/private.jwk.json' }),
    'ERR_JWKS_NO_MATCHING_KEY',
  ],
  [
    "another key's kid, signed by that key",
    async () => {
      const other = await generateKeyPair('ES256');
      return h.token({ key: other.privateKey, kid: 'attacker-key-1' });
    },
    'ERR_JWKS_NO_MATCHING_KEY',
  ],
  [
    'an embedded jwk header carrying the attacker key',
    async () => {
      const other = await generateKeyPair('ES256', { extractable: true });
      const { exportJWK } = await import('jose');
      const jwk = await exportJWK(other.publicKey);
      return new SignJWT({ [ROLES_CLAIM]: ['admin'] })
        .setProtectedHeader({ alg: 'ES256', kid: h.signingKey.kid, jwk })
        .setSubject('mallory')
        .setIssuer(TOKEN_SETTINGS.issuer)
        .setAudience(TOKEN_SETTINGS.audience)
        .setIssuedAt()
        .setExpirationTime('1h')
        .sign(other.privateKey);
    },
    'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
  ],
  [
    'a jku header pointing at the attacker key set',
    async () => {
      const other = await generateKeyPair('ES256');
      return new SignJWT({ [ROLES_CLAIM]: ['admin'] })
        .setProtectedHeader({
          alg: 'ES256',
          kid: h.signingKey.kid,
          jku: 'https://attacker.example/jwks.json',
        })
        .setSubject('mallory')
        .setIssuer(TOKEN_SETTINGS.issuer)
        .setAudience(TOKEN_SETTINGS.audience)
        .setIssuedAt()
        .setExpirationTime('1h')
        .sign(other.privateKey);
    },
    'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
  ],
  [
    'a psychic ES256 signature (r = s = 0)',
    async () =>
      `${segment({ alg: 'ES256', kid: h.signingKey.kid, typ: 'JWT' })}.${segment(validClaims())}.${base64url.encode(new Uint8Array(64))}`,
    'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
  ],
  [
    'payload tampered: the regions claim widened after signing',
    async () => {
      const signed = await h.token({ roles: ['csm'], extraClaims: { [REGIONS_CLAIM]: ['EU'] } });
      const [header, , signature] = signed.split('.');
      const claims = decodeJwt(signed);
      return `${header}.${segment({ ...claims, [REGIONS_CLAIM]: ['EU', 'NA', 'APAC', 'LATAM'] })}.${signature}`;
    },
    'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
  ],
  [
    'payload tampered: the subject changed after signing',
    async () => {
      const signed = await h.token({ subject: 'intern' });
      const [header, , signature] = signed.split('.');
      return `${header}.${segment({ ...decodeJwt(signed), sub: 'cfo' })}.${signature}`;
    },
    'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
  ],
  [
    "a csm token's header and payload with an admin token's signature",
    async () => {
      const csm = (await h.token({ roles: ['csm'] })).split('.');
      const admin = (await h.token({ roles: ['admin'] })).split('.');
      return `${csm[0]}.${csm[1]}.${admin[2]}`;
    },
    'ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
  ],
  [
    'header tampered: alg switched to ES384 over the same signature',
    async () => {
      const [, payload, signature] = (await h.adminToken()).split('.');
      return `${segment({ alg: 'ES384', kid: h.signingKey.kid, typ: 'JWT' })}.${payload}.${signature}`;
    },
    'ERR_JOSE_ALG_NOT_ALLOWED',
  ],
  [
    'a correctly signed token demanding an unknown critical extension',
    async () => {
      // jose will not sign this header, so it is signed by hand (ES256 over WebCrypto is JWS's r || s).
      const header = {
        alg: 'ES256',
        kid: h.signingKey.kid,
        crit: ['x-goldgate-bypass'],
        'x-goldgate-bypass': true,
      };
      const input = `${segment(header)}.${segment(validClaims())}`;
      const signature = await globalThis.crypto.subtle.sign(
        { name: 'ECDSA', hash: 'SHA-256' },
        h.signingKey.key,
        new TextEncoder().encode(input),
      );
      return `${input}.${base64url.encode(new Uint8Array(signature))}`;
    },
    'ERR_JOSE_NOT_SUPPORTED',
  ],
];

describe('forged and tampered tokens', () => {
  const bodies = new Set<string>();

  it.each(forgeries)(
    '%s: 401, the generic body, the reason only in the log',
    async (_name, build, reason) => {
      const token = await build();
      const { answer, lines } = await call(`Bearer ${token}`);
      expect(answer.status).toBe(401);
      expect(answer.text.trimEnd()).toBe(UNAUTHORIZED_BODY);
      expect(answer.headers.get('www-authenticate')).toBe('Bearer');
      bodies.add(answer.text);
      expect(answer.text).not.toContain(reason);

      const failures = lines.filter((l) => l.message === 'authentication failed');
      expect(failures).toHaveLength(1);
      expect(failures[0]).toMatchObject({ level: 'WARN', reason });
      // No data access was logged, and the token itself never reaches the log.
      expect(lines.some((l) => l.audit === true)).toBe(false);
      const signature = token.split('.')[2] ?? '';
      for (const line of lines) {
        expect(JSON.stringify(line)).not.toContain(token.split('.')[1]);
        if (signature.length > 8) expect(JSON.stringify(line)).not.toContain(signature);
      }
    },
  );

  it('every forgery got the very same body', () => {
    expect(bodies.size).toBe(1);
  });
});

describe('the builders above are sound', () => {
  it('the untampered tokens they start from are accepted, with nothing logged as a failure', async () => {
    for (const token of [
      await h.adminToken(),
      await h.token({ roles: ['admin'], extraClaims: { [REGIONS_CLAIM]: ['EU'] } }),
    ]) {
      const { answer, lines } = await call(`Bearer ${token}`);
      expect(answer.status).toBe(200);
      expect(answer.json?.errors).toBeUndefined();
      expect(lines.some((l) => l.message === 'authentication failed')).toBe(false);
    }
  });

  it('a token signed by hand with validClaims() and the dev key is accepted', async () => {
    const header = { alg: 'ES256', kid: h.signingKey.kid, typ: 'JWT' };
    const jwt = await new SignJWT(validClaims()).setProtectedHeader(header).sign(h.signingKey.key);
    const { answer } = await call(`Bearer ${jwt}`);
    expect(answer.status).toBe(200);
  });

  it('a token signed by hand over WebCrypto (as the crit forgery is) is accepted without the crit header', async () => {
    const input = `${segment({ alg: 'ES256', kid: h.signingKey.kid, typ: 'JWT' })}.${segment(validClaims())}`;
    const signature = await globalThis.crypto.subtle.sign(
      { name: 'ECDSA', hash: 'SHA-256' },
      h.signingKey.key,
      new TextEncoder().encode(input),
    );
    const { answer } = await call(`Bearer ${input}.${base64url.encode(new Uint8Array(signature))}`);
    expect(answer.status).toBe(200);
  });
});
