import { LocalObjectStore } from '../adapters/object-store/local.js';
import type { ObjectStore } from '../adapters/object-store/port.js';
import type { QueryEngine } from '../adapters/query-engine/port.js';
import { ConfigError } from '../config/errors.js';
import { type Config, loadConfig } from '../config/index.js';

/**
 * Build the adapters for the configured home. The choice is configuration,
 * never code: the AWS adapters plug in here.
 */
export function createObjectStore(config: Config): ObjectStore {
  if (config.home === 'embedded') return new LocalObjectStore(config.lakeDir);
  throw new ConfigError([
    'GOLDGATE_HOME: the aws home needs the S3 adapter, which this build does not include yet',
  ]);
}

/** The query engine of the configured home, reading the lake of `store`. */
export async function createQueryEngine(config: Config, store: ObjectStore): Promise<QueryEngine> {
  if (config.home === 'embedded') {
    // Loaded on demand: the AWS bundles leave @duckdb/node-api out, so nothing on their load path may import it.
    const { DuckDbQueryEngine } = await import('../adapters/query-engine/duckdb.js');
    return DuckDbQueryEngine.create({
      store,
      connections: config.engine.connections,
      threads: config.engine.threads,
      memoryLimit: config.engine.memoryLimit,
    });
  }
  throw new ConfigError([
    'GOLDGATE_HOME: the aws home needs the Athena adapter, which this build does not include yet',
  ]);
}

let containerStore: ObjectStore | undefined;

/** The object store of this process (a Lambda container keeps it across invocations). */
export function createObjectStoreFromEnv(): ObjectStore {
  containerStore ??= createObjectStore(loadConfig());
  return containerStore;
}
