import type { ObjectStore } from '../adapters/object-store/port.js';
import type { QueryEngine } from '../adapters/query-engine/port.js';
import { createGateway, type Gateway } from '../api/gateway.js';
import type { IdeOptions } from '../api/static.js';
import { ensureDevKeys } from '../auth/dev-keys.js';
import { maskRow } from '../auth/mask.js';
import { createPolicy, type PolicyRuntime } from '../auth/policy/index.js';
import { createVerifier } from '../auth/verify.js';
import { CATALOG, type Catalog } from '../catalog/index.js';
import type { Config } from '../config/index.js';
import { logger } from './logger.js';
import { createObjectStore, createQueryEngine } from './stores.js';

/** Everything the API needs, built once per process (per Lambda container). */
export interface ApiRuntime {
  readonly store: ObjectStore;
  readonly engine: QueryEngine;
  readonly gateway: Gateway;
  readonly policy: PolicyRuntime;
  close(): Promise<void>;
}

/** Compose the API for the configured home; only the local server passes `ide` (the GraphQL IDE page). */
export async function createApiRuntime(
  config: Config,
  extras: { readonly ide?: IdeOptions; readonly catalog?: Catalog } = {},
): Promise<ApiRuntime> {
  // The embedded home is its own identity provider: its public keys must exist before verifying.
  if (config.home === 'embedded' && !config.auth.jwksUrl) await ensureDevKeys(config.stateDir);
  const store = createObjectStore(config);
  const engine = await createQueryEngine(config, store);
  const verifier = await createVerifier(config.auth);
  // A bad policy fails start-up with every problem listed: never serve under a half-read policy.
  const catalog = extras.catalog ?? CATALOG;
  const policy = await createPolicy(config, { marts: catalog.marts });
  const secret = policy.maskSecret;
  const gateway = await createGateway({
    engine,
    store,
    verifier,
    policy: policy.policy,
    mask: (access, row) => maskRow(access, row, secret),
    logger,
    queryTimeoutMs: config.engine.queryTimeoutMs,
    maxPageSize: config.api.maxPageSize,
    maxEngineQueriesPerRequest: config.api.maxEngineQueriesPerRequest,
    admission: config.api.admission,
    cacheBytes: config.api.cacheBytes,
    guards: config.api.guards,
    production: config.production,
    ide: extras.ide,
    catalog,
  });
  return {
    store,
    engine,
    gateway,
    policy,
    async close() {
      await gateway.stop();
      await policy.close();
      await engine.close();
    },
  };
}
