import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createVerifier, type Verifier } from '../../../src/auth/verify.js';

/** The verified-token memory: it saves the signature check, never a check that time can change. */

let dir: string;
let verify: Verifier;
let sign: (claims: { exp: number; nbf?: number }) => Promise<string>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'goldgate-verify-'));
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  await writeFile(join(dir, 'jwks.json'), JSON.stringify({ keys: [jwk] }));
  verify = await createVerifier({
    issuer: 'iss',
    audience: 'aud',
    algorithms: ['ES256'],
    clockToleranceS: 5,
    claimsNamespace: 'https://goldgate.dev/',
    jwksFile: join(dir, 'jwks.json'),
  });
  sign = async ({ exp, nbf }) => {
    const jwt = new SignJWT({ 'https://goldgate.dev/roles': ['admin'] })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setSubject('s')
      .setIssuer('iss')
      .setAudience('aud')
      .setIssuedAt()
      .setExpirationTime(exp);
    if (nbf !== undefined) jwt.setNotBefore(nbf);
    return jwt.sign(privateKey);
  };
});

afterEach(() => {
  vi.useRealTimers();
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('verified tokens are remembered until they expire', () => {
  it('accepts a remembered token again, and refuses it once expired (tolerance included)', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await sign({ exp: now + 60 });
    expect((await verify(`Bearer ${token}`)).roles).toEqual(['admin']);
    expect((await verify(`Bearer ${token}`)).subject).toBe('s');
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime((now + 60 + 4) * 1000);
    expect((await verify(`Bearer ${token}`)).subject).toBe('s');
    vi.setSystemTime((now + 60 + 6) * 1000);
    await expect(verify(`Bearer ${token}`)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('does not remember a token that is not valid yet', async () => {
    const now = Math.floor(Date.now() / 1000);
    const early = await sign({ exp: now + 600, nbf: now + 3 });
    // Within the tolerance it passes, but it is checked again next time.
    expect((await verify(`Bearer ${early}`)).subject).toBe('s');
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime((now - 10) * 1000);
    await expect(verify(`Bearer ${early}`)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });
});
