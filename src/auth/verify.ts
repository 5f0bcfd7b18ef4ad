import { readFile } from 'node:fs/promises';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  type JSONWebKeySet,
  type JWTPayload,
  errors as joseErrors,
  jwtVerify,
} from 'jose';
import { LRUCache } from 'lru-cache';
import { z } from 'zod';
import { UnauthenticatedError } from './errors.js';
import { type Principal, SCOPE_CLAIMS } from './principal.js';

/** Verification settings (from config). */
export interface VerifierSettings {
  readonly issuer: string;
  readonly audience: string;
  readonly algorithms: readonly string[];
  readonly clockToleranceS: number;
  readonly claimsNamespace: string;
  /** The IdP's JWKS URL (AWS home)... */
  readonly jwksUrl?: string | undefined;
  /** ...or a local JWKS file (embedded home). */
  readonly jwksFile: string;
}

/** Turns an `Authorization` header into a principal, or throws `UnauthenticatedError`. */
export type Verifier = (authorization: string | undefined) => Promise<Principal>;

const stringList = z.array(z.string().min(1)).max(1000);
const jwksSchema = z.object({ keys: z.array(z.looseObject({ kty: z.string() })).min(1) });

/**
 * Build the verifier once per process: the key set is loaded (or, for a URL,
 * fetched and cached by jose) once and reused across requests.
 */
export async function createVerifier(settings: VerifierSettings): Promise<Verifier> {
  const keySet = settings.jwksUrl
    ? createRemoteJWKSet(new URL(settings.jwksUrl), { cooldownDuration: 30_000, cacheMaxAge: 600_000 })
    : createLocalJWKSet(await readLocalJwks(settings.jwksFile));
  const ns = settings.claimsNamespace;
  // Callers send the same token for many requests: a verified token is remembered until it
  // expires, so the signature check runs once per token, not once per request.
  const verified = new LRUCache<string, { principal: Principal; expS: number }>({ max: 10_000 });

  return async (authorization) => {
    const match = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/.exec(
      authorization?.trim() ?? '',
    );
    if (!match?.[1])
      throw new UnauthenticatedError(authorization ? 'malformed authorization header' : 'no token');
    const known = verified.get(match[1]);
    if (known) {
      // The same bytes passed every check before; only time can have changed since (exp).
      if (Date.now() / 1000 <= known.expS + settings.clockToleranceS) return known.principal;
      verified.delete(match[1]);
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(match[1], keySet, {
        issuer: settings.issuer,
        audience: settings.audience,
        algorithms: [...settings.algorithms],
        clockTolerance: settings.clockToleranceS,
        requiredClaims: ['exp', 'sub'],
      }));
    } catch (error) {
      throw new UnauthenticatedError(reasonOf(error), { cause: error });
    }
    const roles = stringList.safeParse(payload[`${ns}roles`] ?? []);
    if (!roles.success || !payload.sub) throw new UnauthenticatedError('token claims break the contract');
    const scopes: Record<string, readonly string[]> = {};
    for (const name of SCOPE_CLAIMS) {
      const claim = payload[`${ns}${name}`];
      if (claim === undefined) continue;
      const values = stringList.safeParse(claim);
      if (!values.success) throw new UnauthenticatedError(`claim ${name} is not a list of strings`);
      scopes[name] = values.data;
    }
    const principal: Principal = { subject: payload.sub, roles: roles.data, scopes };
    // A token not yet valid (nbf within the tolerance) is not remembered: it is checked again next time.
    if (typeof payload.exp === 'number' && (payload.nbf === undefined || payload.nbf <= Date.now() / 1000)) {
      verified.set(match[1], { principal, expS: payload.exp });
    }
    return principal;
  };
}

async function readLocalJwks(file: string): Promise<JSONWebKeySet> {
  const text = await readFile(file, 'utf8').catch((error: unknown) => {
    throw new UnauthenticatedError('the local JWKS file cannot be read', { cause: error });
  });
  return jwksSchema.parse(JSON.parse(text)) as unknown as JSONWebKeySet;
}

/** A short reason for the log, from jose's stable error codes. */
function reasonOf(error: unknown): string {
  if (error instanceof joseErrors.JOSEError) return error.code;
  return 'verification failed';
}
