import { SignJWT } from 'jose';
import type { DevSigningKey } from './dev-keys.js';

/** What a dev token says about its holder. */
export interface DevTokenClaims {
  readonly subject: string;
  readonly roles: readonly string[];
  readonly scopes?: Readonly<Record<string, readonly string[]>>;
  readonly expiresInS?: number;
}

/** Sign a token with the local dev key (the embedded home's stand-in for the IdP). */
export async function signDevToken(
  key: DevSigningKey,
  claims: DevTokenClaims,
  settings: { issuer: string; audience: string; claimsNamespace: string },
): Promise<string> {
  const ns = settings.claimsNamespace;
  const payload: Record<string, unknown> = { [`${ns}roles`]: [...claims.roles] };
  for (const [name, values] of Object.entries(claims.scopes ?? {})) payload[`${ns}${name}`] = [...values];
  return new SignJWT(payload)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
    .setSubject(claims.subject)
    .setIssuer(settings.issuer)
    .setAudience(settings.audience)
    .setIssuedAt()
    .setExpirationTime(`${claims.expiresInS ?? 8 * 3600}s`)
    .sign(key.key);
}
