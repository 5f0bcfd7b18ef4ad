import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import {
  type CryptoKey,
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
} from 'jose';
import { z } from 'zod';
import { KeyStoreError } from './errors.js';

const ALG = 'ES256';

const privateJwkSchema = z.looseObject({ kty: z.string(), kid: z.string(), d: z.string(), alg: z.string() });

/** The local signing key of the embedded home. */
export interface DevSigningKey {
  readonly kid: string;
  readonly alg: string;
  readonly key: CryptoKey;
}

/** Paths of the dev key files under the state folder (kept out of git). */
export function devKeyPaths(stateDir: string): { privateJwk: string; jwks: string } {
  return {
    privateJwk: path.join(stateDir, 'keys', 'private.jwk.json'),
    jwks: path.join(stateDir, 'keys', 'jwks.json'),
  };
}

/**
 * Load the dev key pair, creating it on first use: an ES256 private JWK
 * (mode 0600) and the public JWKS the verifier reads.
 */
export async function ensureDevKeys(stateDir: string): Promise<DevSigningKey> {
  const paths = devKeyPaths(stateDir);
  const existing = await readFile(paths.privateJwk, 'utf8').catch(() => undefined);
  if (existing !== undefined) return loadPrivate(existing);
  const { privateKey, publicKey } = await generateKeyPair(ALG, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  const privateJwk: JWK = { ...(await exportJWK(privateKey)), kid, alg: ALG, use: 'sig' };
  await mkdir(path.dirname(paths.privateJwk), { recursive: true, mode: 0o700 });
  await writeFile(paths.privateJwk, JSON.stringify(privateJwk), { mode: 0o600, flag: 'wx' }).catch(
    async (error) => {
      // Another process created it first: use theirs, so both sign with the same key.
      if ((error as { code?: string }).code !== 'EEXIST') throw error;
    },
  );
  const stored = await readFile(paths.privateJwk, 'utf8');
  const signing = await loadPrivate(stored);
  const storedPublic = {
    ...publicFromPrivate(JSON.parse(stored) as JWK),
    kid: signing.kid,
    alg: ALG,
    use: 'sig',
  };
  await writeFile(paths.jwks, JSON.stringify({ keys: [storedPublic] }, null, 2));
  await chmod(paths.privateJwk, 0o600);
  return signing;
}

async function loadPrivate(text: string): Promise<DevSigningKey> {
  const parsed = privateJwkSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new KeyStoreError('the dev private key file is not a private JWK');
  const key = await importJWK(parsed.data as JWK, parsed.data.alg);
  if (!(typeof key === 'object' && 'type' in key))
    throw new KeyStoreError('the dev private key is not an asymmetric key');
  return { kid: parsed.data.kid, alg: parsed.data.alg, key };
}

function publicFromPrivate(jwk: JWK): JWK {
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = jwk;
  return pub;
}
