import { LocalObjectStore } from '../adapters/object-store/local.js';
import type { ObjectStore } from '../adapters/object-store/port.js';
import { createS3ObjectStore } from '../adapters/object-store/s3.js';
import type { QueryEngine } from '../adapters/query-engine/port.js';
import { ConfigError } from '../config/errors.js';
import { type Config, loadConfig } from '../config/index.js';

/**
 * Build the adapters for the configured home. The choice is configuration,
 * never code: the AWS adapters plug in here.
 */
export function createObjectStore(config: Config): ObjectStore {
  if (config.home === 'embedded') return new LocalObjectStore(config.lakeDir);
  // The S3 adapter loads the AWS SDK on its first request, so importing it here costs the embedded home nothing.
  const s3 = config.s3;
  if (!s3.bucket) {
    throw new ConfigError([
      'GOLDGATE_S3_BUCKET: required when GOLDGATE_HOME is aws (the bucket of _locks, _checkpoints, _runs and of layers without one in GOLDGATE_S3_BUCKETS)',
    ]);
  }
  return createS3ObjectStore({
    layout: { bucket: s3.bucket, prefix: s3.prefix, layerBuckets: s3.layerBuckets },
    client: {
      region: s3.region,
      endpoint: s3.endpoint,
      forcePathStyle: s3.forcePathStyle,
      requestChecksumCalculation: s3.checksums,
      responseChecksumValidation: s3.checksums,
      maxAttempts: s3.maxAttempts,
    },
  });
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
  // Athena reads Gold through its Glue tables, not through `store`.
  const athena = config.athena;
  if (!athena.database) {
    throw new ConfigError([
      'GOLDGATE_ATHENA_DATABASE: required when GOLDGATE_HOME is aws (the Gold database)',
    ]);
  }
  const { AthenaQueryEngine, sharedAthenaClient } = await import('../adapters/query-engine/athena.js');
  return new AthenaQueryEngine({
    client: sharedAthenaClient(athena.endpoint ? { endpoint: athena.endpoint } : {}),
    workGroup: athena.workGroup,
    catalog: athena.catalog,
    database: athena.database,
    ...(athena.outputLocation ? { outputLocation: athena.outputLocation } : {}),
    poll: athena.poll,
    retry: athena.retry,
    resultReuseMaxAgeMinutes: athena.resultReuseMaxAgeMinutes,
  });
}

let containerStore: ObjectStore | undefined;

/** The object store of this process (a Lambda container keeps it across invocations). */
export function createObjectStoreFromEnv(): ObjectStore {
  containerStore ??= createObjectStore(loadConfig());
  return containerStore;
}
