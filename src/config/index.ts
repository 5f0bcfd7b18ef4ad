import * as path from 'node:path';
import { z } from 'zod';
import {
  bucketNameSchema,
  keyPrefixSchema,
  type LakeLayer,
  layerBucketsSchema,
  layerMapSchema,
} from '../adapters/object-store/s3-layout.js';
import { ConfigError } from './errors.js';

const port = z.coerce.number().int().min(0).max(65_535);
const glueName = z.string().regex(/^[a-z_][a-z0-9_]{0,127}$/, 'not a Glue database name (a-z, 0-9, _)');

/** `bronze=db1,silver=db2,gold=db3,quarantine=db4`: the Glue database of each lake layer. */
const glueDatabasesSchema = layerMapSchema(glueName);
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
  // Athena (GOLDGATE_HOME=aws). The database is Gold's Glue database; OUTPUT only when the workgroup enforces none.
  GOLDGATE_ATHENA_WORKGROUP: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,128}$/)
    .default('primary'),
  GOLDGATE_ATHENA_CATALOG: z.string().min(1).max(256).default('AwsDataCatalog'),
  GOLDGATE_ATHENA_DATABASE: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,127}$/)
    .optional(),
  GOLDGATE_ATHENA_OUTPUT: z
    .string()
    .regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/)
    .optional(),
  GOLDGATE_ATHENA_ENDPOINT: z.url().optional(),
  GOLDGATE_ATHENA_POLL_INITIAL_MS: positiveInt.default(100),
  GOLDGATE_ATHENA_POLL_MAX_MS: positiveInt.default(2_000),
  GOLDGATE_ATHENA_RETRY_ATTEMPTS: positiveInt.max(20).default(5),
  GOLDGATE_ATHENA_RETRY_BASE_MS: positiveInt.default(100),
  GOLDGATE_ATHENA_RETRY_MAX_MS: positiveInt.default(5_000),
  // Result reuse for reads of immutable Gold runs, in minutes (Athena allows up to 7 days); 0 turns it off.
  GOLDGATE_ATHENA_RESULT_REUSE_MAX_AGE_MIN: z.coerce.number().int().min(0).max(10_080).default(60),
  // The Glue database of each layer, for the transforms on Athena (`bronze=...,silver=...,gold=...,quarantine=...`).
  GOLDGATE_GLUE_DATABASES: glueDatabasesSchema.optional(),
  // The first Bronze `ingest_date` the partition projection of the Bronze tables knows.
  GOLDGATE_BRONZE_PROJECTION_START: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/)
    .default('2020-01-01'),
  // S3 object store (GOLDGATE_HOME=aws): the default bucket, and optionally a bucket per layer (`bronze=b1,gold=b2`).
  GOLDGATE_S3_BUCKET: bucketNameSchema.optional(),
  GOLDGATE_S3_BUCKETS: layerBucketsSchema.optional(),
  GOLDGATE_S3_PREFIX: keyPrefixSchema.default(''),
  GOLDGATE_S3_REGION: z
    .string()
    .regex(/^[a-z]{2}(-[a-z]+)+-\d+$/)
    .optional(),
  GOLDGATE_S3_ENDPOINT: z.url().optional(),
  GOLDGATE_S3_FORCE_PATH_STYLE: z.stringbool().default(false),
  // WHEN_REQUIRED for S3 servers that refuse aws-chunked uploads (Ceph RGW 16); AWS takes either.
  GOLDGATE_S3_CHECKSUMS: z.enum(['WHEN_SUPPORTED', 'WHEN_REQUIRED']).default('WHEN_SUPPORTED'),
  GOLDGATE_S3_MAX_ATTEMPTS: positiveInt.max(20).default(5),
  GOLDGATE_MAX_PAGE_SIZE: positiveInt.default(500),
  // Admission control: engine statements at once (on Athena, this instance's share of the account quota).
  GOLDGATE_ENGINE_MAX_CONCURRENT: positiveInt.default(8),
  GOLDGATE_ENGINE_MAX_QUEUE: z.coerce.number().int().min(0).default(256),
  GOLDGATE_ENGINE_QUEUE_TIMEOUT_MS: positiveInt.default(5_000),
  GOLDGATE_MAX_ENGINE_QUERIES_PER_REQUEST: positiveInt.default(16),
  // Answer cache size; 0 turns it off.
  GOLDGATE_CACHE_BYTES: z.coerce
    .number()
    .int()
    .min(0)
    .default(64 * 1024 * 1024),
  GOLDGATE_GRAPHQL_MAX_DEPTH: positiveInt.default(8),
  GOLDGATE_GRAPHQL_MAX_ALIASES: positiveInt.default(15),
  GOLDGATE_GRAPHQL_MAX_TOKENS: positiveInt.default(2_000),
  // Rows one GraphQL operation may ask for: the product of nested `first` values, summed.
  GOLDGATE_GRAPHQL_MAX_ROWS: positiveInt.default(100_000),
  // Policy: a YAML file (embedded default) or Lake Formation through a mapping file (docs/access.md).
  GOLDGATE_POLICY_SOURCE: z.enum(['file', 'lakeformation']).default('file'),
  GOLDGATE_POLICY_FILE: z.string().min(1).default('policies/demo.yaml'),
  GOLDGATE_LF_MAPPING_FILE: z.string().min(1).optional(),
  GOLDGATE_LF_REFRESH_S: positiveInt.default(300),
  GOLDGATE_LF_ENDPOINT: z.url().optional(),
  // HMAC key of `hash` masking; required on the aws home and in production (never logged).
  GOLDGATE_MASK_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  // Or the Parameter Store name holding it (`/aws/reference/secretsmanager/...` for a Secrets Manager
  // secret), read through the AWS Parameters and Secrets Lambda extension once at start.
  GOLDGATE_MASK_SECRET_PARAM: z
    .string()
    .regex(/^[A-Za-z0-9_./-]{1,2048}$/, 'not an SSM parameter name')
    .optional(),
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
  readonly api: {
    readonly maxPageSize: number;
    readonly maxEngineQueriesPerRequest: number;
    readonly cacheBytes: number;
    readonly admission: {
      readonly limit: number;
      readonly maxQueue: number;
      readonly queueTimeoutMs: number;
    };
    readonly guards: {
      readonly maxDepth: number;
      readonly maxAliases: number;
      readonly maxTokens: number;
      readonly maxRows: number;
    };
  };
  readonly pipeline: { readonly lockTtlMs: number };
  readonly athena: {
    readonly workGroup: string;
    readonly catalog: string;
    /** Gold's Glue database; required on the aws home. */
    readonly database: string | undefined;
    readonly outputLocation: string | undefined;
    /** A local Athena-protocol endpoint (tests); unset on AWS. */
    readonly endpoint: string | undefined;
    readonly poll: { readonly initialMs: number; readonly maxMs: number };
    readonly retry: { readonly attempts: number; readonly baseMs: number; readonly maxMs: number };
    readonly resultReuseMaxAgeMinutes: number;
    /** The Glue database of each layer (the transforms need all four). */
    readonly glueDatabases: Partial<Record<LakeLayer, string>>;
    readonly bronzeProjectionStart: string;
  };
  readonly policy: {
    readonly source: 'file' | 'lakeformation';
    /** The policy YAML (absolute). */
    readonly file: string;
    readonly lakeFormation: {
      /** The LF -> goldgate mapping file (absolute); required with the lakeformation source. */
      readonly mappingFile: string | undefined;
      readonly refreshMs: number;
      /** A local Lake Formation-protocol endpoint (tests); unset on AWS. */
      readonly endpoint: string | undefined;
    };
    /** Secret of `hash` masking; on the embedded home one is generated into the state dir when unset. */
    readonly maskSecret: string | undefined;
    /** The SSM parameter holding the mask secret instead (read at start through the Lambda extension). */
    readonly maskSecretParam: string | undefined;
  };
  /** The aws home's object store; `bucket` is required there. Credentials come from the SDK's chain. */
  readonly s3: {
    readonly bucket: string | undefined;
    readonly layerBuckets: Partial<Record<LakeLayer, string>>;
    readonly prefix: string;
    readonly region: string | undefined;
    readonly endpoint: string | undefined;
    readonly forcePathStyle: boolean;
    readonly checksums: 'WHEN_SUPPORTED' | 'WHEN_REQUIRED';
    readonly maxAttempts: number;
  };
  readonly demo: { readonly seed: number; readonly customers: number };
}

/** Parse the environment. Throws `ConfigError` naming every bad setting. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`));
  }
  const e = parsed.data;
  if (e.GOLDGATE_MASK_SECRET !== undefined && e.GOLDGATE_MASK_SECRET_PARAM !== undefined) {
    // Two sources of one secret would let a stale value mask silently: name exactly one.
    throw new ConfigError(['GOLDGATE_MASK_SECRET, GOLDGATE_MASK_SECRET_PARAM: set one, not both']);
  }
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
    api: {
      maxPageSize: e.GOLDGATE_MAX_PAGE_SIZE,
      maxEngineQueriesPerRequest: e.GOLDGATE_MAX_ENGINE_QUERIES_PER_REQUEST,
      cacheBytes: e.GOLDGATE_CACHE_BYTES,
      admission: {
        limit: e.GOLDGATE_ENGINE_MAX_CONCURRENT,
        maxQueue: e.GOLDGATE_ENGINE_MAX_QUEUE,
        queueTimeoutMs: e.GOLDGATE_ENGINE_QUEUE_TIMEOUT_MS,
      },
      guards: {
        maxDepth: e.GOLDGATE_GRAPHQL_MAX_DEPTH,
        maxAliases: e.GOLDGATE_GRAPHQL_MAX_ALIASES,
        maxTokens: e.GOLDGATE_GRAPHQL_MAX_TOKENS,
        maxRows: e.GOLDGATE_GRAPHQL_MAX_ROWS,
      },
    },
    pipeline: { lockTtlMs: e.GOLDGATE_LOCK_TTL_S * 1000 },
    athena: {
      workGroup: e.GOLDGATE_ATHENA_WORKGROUP,
      catalog: e.GOLDGATE_ATHENA_CATALOG,
      database: e.GOLDGATE_ATHENA_DATABASE,
      outputLocation: e.GOLDGATE_ATHENA_OUTPUT,
      endpoint: e.GOLDGATE_ATHENA_ENDPOINT,
      poll: { initialMs: e.GOLDGATE_ATHENA_POLL_INITIAL_MS, maxMs: e.GOLDGATE_ATHENA_POLL_MAX_MS },
      retry: {
        attempts: e.GOLDGATE_ATHENA_RETRY_ATTEMPTS,
        baseMs: e.GOLDGATE_ATHENA_RETRY_BASE_MS,
        maxMs: e.GOLDGATE_ATHENA_RETRY_MAX_MS,
      },
      resultReuseMaxAgeMinutes: e.GOLDGATE_ATHENA_RESULT_REUSE_MAX_AGE_MIN,
      glueDatabases: e.GOLDGATE_GLUE_DATABASES ?? {},
      bronzeProjectionStart: e.GOLDGATE_BRONZE_PROJECTION_START,
    },
    policy: {
      source: e.GOLDGATE_POLICY_SOURCE,
      file: path.resolve(e.GOLDGATE_POLICY_FILE),
      lakeFormation: {
        mappingFile: e.GOLDGATE_LF_MAPPING_FILE ? path.resolve(e.GOLDGATE_LF_MAPPING_FILE) : undefined,
        refreshMs: e.GOLDGATE_LF_REFRESH_S * 1000,
        endpoint: e.GOLDGATE_LF_ENDPOINT,
      },
      maskSecret: e.GOLDGATE_MASK_SECRET,
      maskSecretParam: e.GOLDGATE_MASK_SECRET_PARAM,
    },
    s3: {
      bucket: e.GOLDGATE_S3_BUCKET,
      layerBuckets: e.GOLDGATE_S3_BUCKETS ?? {},
      prefix: e.GOLDGATE_S3_PREFIX,
      region: e.GOLDGATE_S3_REGION,
      endpoint: e.GOLDGATE_S3_ENDPOINT,
      forcePathStyle: e.GOLDGATE_S3_FORCE_PATH_STYLE,
      checksums: e.GOLDGATE_S3_CHECKSUMS,
      maxAttempts: e.GOLDGATE_S3_MAX_ATTEMPTS,
    },
    demo: { seed: e.GOLDGATE_DEMO_SEED, customers: e.GOLDGATE_DEMO_CUSTOMERS },
  };
}
