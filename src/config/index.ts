import * as path from 'node:path';
import { z } from 'zod';
import { ConfigError } from './errors.js';

const port = z.coerce.number().int().min(0).max(65_535);
const positiveInt = z.coerce.number().int().positive();

/**
 * Every setting goldgate reads from the environment, parsed once at the edge.
 * Names are `GOLDGATE_*`; defaults give the embedded home on one laptop.
 */
const envSchema = z.object({
  GOLDGATE_HOME: z.enum(['embedded', 'aws']).default('embedded'),
  GOLDGATE_LAKE_DIR: z.string().min(1).default('.lake'),
  GOLDGATE_STATE_DIR: z.string().min(1).default('.goldgate'),
  GOLDGATE_HOST: z.string().min(1).default('127.0.0.1'),
  GOLDGATE_PORT: port.default(4000),
  GOLDGATE_JWT_ISSUER: z.string().min(1).default('goldgate-local'),
  GOLDGATE_JWT_AUDIENCE: z.string().min(1).default('goldgate-api'),
  GOLDGATE_JWKS_URL: z.url().optional(),
  GOLDGATE_JWKS_FILE: z.string().min(1).optional(),
  GOLDGATE_JWT_ALGORITHMS: z
    .string()
    .default('ES256,RS256')
    .transform((s) => s.split(',').map((a) => a.trim()))
    .pipe(z.array(z.enum(['ES256', 'ES384', 'RS256', 'RS384', 'RS512', 'PS256', 'EdDSA'])).min(1)),
  GOLDGATE_JWT_CLOCK_TOLERANCE_S: z.coerce.number().int().min(0).max(300).default(30),
  GOLDGATE_CLAIMS_NAMESPACE: z.string().default('https://goldgate.dev/'),
  GOLDGATE_QUERY_TIMEOUT_MS: positiveInt.default(30_000),
  GOLDGATE_ENGINE_CONNECTIONS: positiveInt.default(4),
  GOLDGATE_DUCKDB_THREADS: positiveInt.optional(),
  GOLDGATE_DUCKDB_MEMORY_LIMIT: z
    .string()
    .regex(/^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i)
    .optional(),
  GOLDGATE_MAX_PAGE_SIZE: positiveInt.default(500),
  GOLDGATE_LOCK_TTL_S: positiveInt.default(900),
  GOLDGATE_DEMO_SEED: z.coerce.number().int().default(42),
  // About 2,000 customers, as the ingestion issue describes the demo: ~440k Bronze events, ~35 s on 2 cores.
  GOLDGATE_DEMO_CUSTOMERS: positiveInt.default(2000),
  NODE_ENV: z.string().optional(),
});

/** The parsed, typed configuration. */
export interface Config {
  readonly home: 'embedded' | 'aws';
  readonly lakeDir: string;
  readonly stateDir: string;
  readonly production: boolean;
  readonly server: { readonly host: string; readonly port: number };
  readonly auth: {
    readonly issuer: string;
    readonly audience: string;
    readonly jwksUrl: string | undefined;
    readonly jwksFile: string;
    readonly algorithms: readonly string[];
    readonly clockToleranceS: number;
    readonly claimsNamespace: string;
  };
  readonly engine: {
    readonly queryTimeoutMs: number;
    readonly connections: number;
    readonly threads: number | undefined;
    readonly memoryLimit: string | undefined;
  };
  readonly api: { readonly maxPageSize: number };
  readonly pipeline: { readonly lockTtlMs: number };
  readonly demo: { readonly seed: number; readonly customers: number };
}

/** Parse the environment. Throws `ConfigError` naming every bad setting. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`));
  }
  const e = parsed.data;
  const stateDir = path.resolve(e.GOLDGATE_STATE_DIR);
  return {
    home: e.GOLDGATE_HOME,
    lakeDir: path.resolve(e.GOLDGATE_LAKE_DIR),
    stateDir,
    production: e.NODE_ENV === 'production',
    server: { host: e.GOLDGATE_HOST, port: e.GOLDGATE_PORT },
    auth: {
      issuer: e.GOLDGATE_JWT_ISSUER,
      audience: e.GOLDGATE_JWT_AUDIENCE,
      jwksUrl: e.GOLDGATE_JWKS_URL,
      jwksFile: path.resolve(e.GOLDGATE_JWKS_FILE ?? path.join(stateDir, 'keys', 'jwks.json')),
      algorithms: e.GOLDGATE_JWT_ALGORITHMS,
      clockToleranceS: e.GOLDGATE_JWT_CLOCK_TOLERANCE_S,
      claimsNamespace: e.GOLDGATE_CLAIMS_NAMESPACE,
    },
    engine: {
      queryTimeoutMs: e.GOLDGATE_QUERY_TIMEOUT_MS,
      connections: e.GOLDGATE_ENGINE_CONNECTIONS,
      threads: e.GOLDGATE_DUCKDB_THREADS,
      memoryLimit: e.GOLDGATE_DUCKDB_MEMORY_LIMIT,
    },
    api: { maxPageSize: e.GOLDGATE_MAX_PAGE_SIZE },
    pipeline: { lockTtlMs: e.GOLDGATE_LOCK_TTL_S * 1000 },
    demo: { seed: e.GOLDGATE_DEMO_SEED, customers: e.GOLDGATE_DEMO_CUSTOMERS },
  };
}
