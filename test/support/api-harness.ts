import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GraphQLError } from 'graphql';
import { type CryptoKey, type JWK, SignJWT } from 'jose';
import { LocalObjectStore } from '../../src/adapters/object-store/local.js';
import type { ObjectStore } from '../../src/adapters/object-store/port.js';
import { DuckDbQueryEngine } from '../../src/adapters/query-engine/duckdb.js';
import type { QueryEngine, Row } from '../../src/adapters/query-engine/port.js';
import { createHttpServer } from '../../src/api/http.js';
import { type DevSigningKey, devKeyPaths, ensureDevKeys } from '../../src/auth/dev-keys.js';
import type { Catalog } from '../../src/catalog/index.js';
import { buildDemoLake } from '../../src/cli/demo.js';
import { type Config, loadConfig } from '../../src/config/index.js';
import { goldDataset } from '../../src/lake/layout.js';
import { type LatestPointer, resolveLatest } from '../../src/lake/publish.js';
import { type ApiRuntime, createApiRuntime } from '../../src/runtime/app.js';
import { logger } from '../../src/runtime/logger.js';
import type { SqlFragment, SqlValue } from '../../src/sql/fragment.js';
import { cachedLake } from './lake-cache.js';

/**
 * A real goldgate API for integration tests: a demo lake built in a temp
 * folder, the runtime composed from configuration exactly as `goldgate serve`
 * does, and the HTTP transport listening on 127.0.0.1 on a free port.
 *
 * Expectations are computed on a separate DuckDB instance (`engine`) reading
 * the same Gold parquet, with SQL written by the tests, never through the
 * API's own query builder.
 */

/** What the tests expect of the embedded home's token settings (defaults of the config). */
export const TOKEN_SETTINGS = {
  issuer: 'goldgate-local',
  audience: 'goldgate-api',
  claimsNamespace: 'https://goldgate.dev/',
} as const;

export const ROLES_CLAIM = `${TOKEN_SETTINGS.claimsNamespace}roles`;

/** The fixed clock of the demo company, so the lake is the same on every run. */
export const DEMO_NOW = new Date('2026-11-21T06:15:00.000Z');
/** A seed whose company deleted no contact by DEMO_NOW: customer_360 has a row per generated customer. */
export const DEMO_SEED = 20_261_123;
export const DEMO_CUSTOMERS = 120;

/**
 * vitest would resolve `graphql` for the sources it transforms to the ESM
 * build while `@apollo/server`, loaded by Node, gets the CommonJS one: two
 * `GraphQLError` classes, and a server under test that differs from the real
 * one. `vitest.config.ts` aliases `graphql` to one file; this guard fails
 * loudly if that ever stops holding.
 */
function assertOneGraphqlCopy(): void {
  const asNode = (createRequire(import.meta.url)('graphql') as { GraphQLError: unknown }).GraphQLError;
  if (asNode !== GraphQLError) {
    throw new Error(
      'api harness: two copies of graphql-js are loaded; check the graphql alias in vitest.config.ts',
    );
  }
}

export interface HarnessOptions {
  readonly customers?: number;
  readonly seed?: number;
  /** Extra GOLDGATE_* settings for the API (the lake, state and port are set by the harness). */
  readonly env?: Readonly<Record<string, string>>;
  /** The marts and schema versions served (default: the product's catalog). */
  readonly catalog?: Catalog;
  /** Runs on this file's copy of the lake before the API starts (e.g. a pipeline run with other models). */
  readonly prepareLake?: (store: ObjectStore, engine: QueryEngine) => Promise<void>;
}

/** What a test may put in a token; every field has a valid default. */
export interface TokenOptions {
  readonly roles?: readonly string[];
  readonly subject?: string;
  readonly issuer?: string;
  readonly audience?: string;
  /** Seconds since the epoch; default now + 1 h. */
  readonly exp?: number;
  readonly nbf?: number;
  readonly iat?: number;
  /** Default: the dev signing key. */
  readonly key?: CryptoKey | Uint8Array;
  readonly alg?: string;
  /** Default: the dev key's kid; `null` leaves it out. */
  readonly kid?: string | null;
  readonly extraClaims?: Readonly<Record<string, unknown>>;
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** The parsed body, or `undefined` when it is not JSON. */
  readonly json: GraphQLAnswer | undefined;
}

export interface GraphQLAnswer {
  readonly data?: Record<string, unknown> | null;
  readonly errors?: ReadonlyArray<{
    readonly message: string;
    readonly path?: ReadonlyArray<string | number>;
    readonly extensions?: { readonly code?: string } & Record<string, unknown>;
  }>;
}

export interface PostOptions {
  /** A bearer token; the header is `Authorization: Bearer <token>`. */
  readonly token?: string;
  /** The raw `Authorization` header (wins over `token`). */
  readonly authorization?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

export interface ApiHarness {
  readonly config: Config;
  readonly runtime: ApiRuntime;
  readonly server: Server;
  /** `http://127.0.0.1:PORT` */
  readonly baseUrl: string;
  /** `http://127.0.0.1:PORT/graphql` */
  readonly graphqlUrl: string;
  readonly lakeDir: string;
  readonly stateDir: string;
  /** The lake's object store (the same folder the API reads). */
  readonly store: ObjectStore;
  /** A DuckDB instance of the tests' own, for independent expectations. */
  readonly engine: QueryEngine;
  /** The dev signing key (private) and the public JWK the API trusts. */
  readonly signingKey: DevSigningKey;
  readonly publicJwk: JWK;
  /** Sign a token with jose directly (not through goldgate's token helper). */
  token(options?: TokenOptions): Promise<string>;
  /** A valid admin token. */
  adminToken(): Promise<string>;
  /** POST a JSON body to /graphql. */
  post(body: unknown, options?: PostOptions): Promise<HttpAnswer>;
  /** POST a GraphQL operation with a valid admin token unless told otherwise. */
  graphql(query: string, variables?: Record<string, unknown>, options?: PostOptions): Promise<HttpAnswer>;
  /** The Gold pointer of customer_360 served now. */
  latestCustomer360(): Promise<LatestPointer>;
  /** A relation reading the served customer_360 run (for `FROM ... AS m`). */
  customer360Relation(): Promise<SqlFragment>;
  /** Run SQL on the tests' engine: `{rel}` in `text` is replaced by the customer_360 relation. */
  sql(text: string, params?: readonly SqlValue[]): Promise<Row[]>;
  /**
   * One more API over the same lake and settings, with other extras (the IDE
   * page, another catalog), on its own free port; closed with the harness.
   */
  serve(extras: Parameters<typeof createApiRuntime>[1]): Promise<{ runtime: ApiRuntime; baseUrl: string }>;
  close(): Promise<void>;
}

function hermeticEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith('GOLDGATE_')) env[name] = value;
  }
  return { ...env, ...extra };
}

/** Build the demo lake and start the API on a free port. Call `close()` in `afterAll`. */
export async function startApiHarness(options: HarnessOptions = {}): Promise<ApiHarness> {
  assertOneGraphqlCopy();
  // Audit lines and expected authentication warnings would drown the test output.
  if (!process.env.GOLDGATE_LOG_LEVEL) logger.setLogLevel('ERROR');
  const lakeDir = await mkdtemp(join(tmpdir(), 'goldgate-api-lake-'));
  const stateDir = await mkdtemp(join(tmpdir(), 'goldgate-api-state-'));
  const cleanups: Array<() => Promise<void>> = [
    () => rm(stateDir, { recursive: true, force: true }),
    () => rm(lakeDir, { recursive: true, force: true }),
  ];
  const closeAll = async (): Promise<void> => {
    const errors: unknown[] = [];
    for (const cleanup of cleanups.splice(0).reverse()) {
      try {
        await cleanup();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, 'api harness: close failed');
  };

  try {
    const seed = options.seed ?? DEMO_SEED;
    const customers = options.customers ?? DEMO_CUSTOMERS;
    // The demo lake is deterministic: build it once per test run and copy it into each file's folder.
    await cachedLake(`demo-${seed}-${customers}`, lakeDir, async (dir) => {
      const buildStore = new LocalObjectStore(dir);
      const buildEngine = await DuckDbQueryEngine.create({ store: buildStore, connections: 2 });
      try {
        await buildDemoLake({ store: buildStore, engine: buildEngine, seed, customers, now: DEMO_NOW });
      } finally {
        await buildEngine.close();
      }
    });
    const store = new LocalObjectStore(lakeDir);
    const engine = await DuckDbQueryEngine.create({ store, connections: 2 });
    cleanups.push(() => engine.close());
    await options.prepareLake?.(store, engine);

    const config = loadConfig(
      hermeticEnv({
        ...options.env,
        GOLDGATE_LAKE_DIR: lakeDir,
        GOLDGATE_STATE_DIR: stateDir,
        GOLDGATE_PORT: '0',
      }),
    );
    const serve = async (extras: Parameters<typeof createApiRuntime>[1]) => {
      const runtime = await createApiRuntime(config, extras);
      cleanups.push(() => runtime.close());
      const server = createHttpServer(runtime.gateway, logger);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve());
      });
      cleanups.push(
        () =>
          new Promise<void>((resolve, reject) => {
            server.close((error) => (error ? reject(error) : resolve()));
            server.closeAllConnections();
          }),
      );
      const { port } = server.address() as AddressInfo;
      return { runtime, server, baseUrl: `http://127.0.0.1:${port}` };
    };
    const { runtime, server, baseUrl } = await serve(options.catalog ? { catalog: options.catalog } : {});
    const graphqlUrl = `${baseUrl}/graphql`;

    // The runtime created the dev keys; the tests sign with the same private key.
    const signingKey = await ensureDevKeys(stateDir);
    const jwks = JSON.parse(await readFile(devKeyPaths(stateDir).jwks, 'utf8')) as { keys: JWK[] };
    const publicJwk = jwks.keys[0];
    if (!publicJwk) throw new Error('api harness: the dev JWKS holds no key');

    const token = async (t: TokenOptions = {}): Promise<string> => {
      const now = Math.floor(Date.now() / 1000);
      const payload: Record<string, unknown> = {
        [ROLES_CLAIM]: [...(t.roles ?? ['admin'])],
        ...t.extraClaims,
      };
      const header: Record<string, unknown> = { alg: t.alg ?? signingKey.alg, typ: 'JWT' };
      const kid = t.kid === undefined ? signingKey.kid : t.kid;
      if (kid !== null) header.kid = kid;
      const jwt = new SignJWT(payload)
        .setProtectedHeader(header as { alg: string })
        .setSubject(t.subject ?? 'test-user')
        .setIssuer(t.issuer ?? TOKEN_SETTINGS.issuer)
        .setAudience(t.audience ?? TOKEN_SETTINGS.audience)
        .setIssuedAt(t.iat ?? now)
        .setExpirationTime(t.exp ?? now + 3600);
      if (t.nbf !== undefined) jwt.setNotBefore(t.nbf);
      return jwt.sign(t.key ?? signingKey.key);
    };

    const post = async (body: unknown, o: PostOptions = {}): Promise<HttpAnswer> => {
      const headers: Record<string, string> = { 'content-type': 'application/json', ...o.headers };
      const authorization = o.authorization ?? (o.token !== undefined ? `Bearer ${o.token}` : undefined);
      if (authorization !== undefined) headers.authorization = authorization;
      const response = await fetch(graphqlUrl, {
        method: 'POST',
        headers,
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await response.text();
      let json: GraphQLAnswer | undefined;
      try {
        json = JSON.parse(text) as GraphQLAnswer;
      } catch {
        json = undefined;
      }
      return { status: response.status, headers: response.headers, text, json };
    };

    const latestCustomer360 = async (): Promise<LatestPointer> => {
      const pointer = await resolveLatest(store, goldDataset('customer_360', 1));
      if (!pointer) throw new Error('api harness: customer_360 was not published');
      return pointer;
    };

    const customer360Relation = async (): Promise<SqlFragment> => {
      const pointer = await latestCustomer360();
      return engine.martRelation({
        mart: 'customer_360',
        schemaVersion: pointer.schema_version,
        runId: pointer.run_id,
        prefix: pointer.path,
      });
    };

    return {
      config,
      runtime,
      server,
      baseUrl,
      graphqlUrl,
      lakeDir,
      stateDir,
      store,
      engine,
      signingKey,
      publicJwk,
      token,
      adminToken: () => token({ roles: ['admin'] }),
      post,
      async graphql(query, variables, o) {
        const auth =
          o?.token !== undefined || o?.authorization !== undefined ? o : { ...o, token: await token() };
        return post({ query, ...(variables ? { variables } : {}) }, auth);
      },
      latestCustomer360,
      customer360Relation,
      async serve(extras) {
        const { runtime: extra, baseUrl: url } = await serve(extras);
        return { runtime: extra, baseUrl: url };
      },
      async sql(text, params = []) {
        const parts = text.split('{rel}');
        let rel: SqlFragment | undefined;
        if (parts.length > 1) rel = await customer360Relation();
        // `{rel}` carries its own `?` (the parquet glob): splice its params in text order.
        const allParams: SqlValue[] = [];
        let out = '';
        let paramIndex = 0;
        parts.forEach((part, i) => {
          const marks = (part.match(/\?/g) ?? []).length;
          allParams.push(...params.slice(paramIndex, paramIndex + marks));
          paramIndex += marks;
          out += part;
          if (i < parts.length - 1 && rel) {
            out += rel.text;
            allParams.push(...rel.params);
          }
        });
        if (paramIndex !== params.length)
          throw new Error(`api harness: ${params.length} params for ${paramIndex} ?`);
        const result = await engine.query({
          sql: { text: out, params: allParams },
          label: 'test.expectation',
        });
        return result.rows;
      },
      close: closeAll,
    };
  } catch (error) {
    await closeAll().catch(() => undefined);
    throw error;
  }
}
