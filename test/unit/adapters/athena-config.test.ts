import { describe, expect, it } from 'vitest';
import { LocalObjectStore } from '../../../src/adapters/object-store/local.js';
import { ConfigError } from '../../../src/config/errors.js';
import { loadConfig } from '../../../src/config/index.js';
import { createQueryEngine } from '../../../src/runtime/stores.js';

const store = new LocalObjectStore('.lake-unused');

describe('Athena settings', () => {
  it('parses the Athena settings with their defaults', () => {
    const config = loadConfig({ GOLDGATE_ATHENA_DATABASE: 'goldgate_prod_gold' });
    expect(config.athena).toEqual({
      workGroup: 'primary',
      catalog: 'AwsDataCatalog',
      database: 'goldgate_prod_gold',
      outputLocation: undefined,
      endpoint: undefined,
      poll: { initialMs: 100, maxMs: 2000 },
      retry: { attempts: 5, baseMs: 100, maxMs: 5000 },
      resultReuseMaxAgeMinutes: 60,
      glueDatabases: {},
      bronzeProjectionStart: '2020-01-01',
    });
  });

  it('reads every setting from the environment', () => {
    const config = loadConfig({
      GOLDGATE_ATHENA_WORKGROUP: 'goldgate-prod',
      GOLDGATE_ATHENA_CATALOG: 'AwsDataCatalog',
      GOLDGATE_ATHENA_DATABASE: 'gold',
      GOLDGATE_ATHENA_OUTPUT: 's3://goldgate-prod-results/athena/',
      GOLDGATE_ATHENA_ENDPOINT: 'http://127.0.0.1:4566',
      GOLDGATE_ATHENA_POLL_INITIAL_MS: '50',
      GOLDGATE_ATHENA_POLL_MAX_MS: '1000',
      GOLDGATE_ATHENA_RETRY_ATTEMPTS: '8',
      GOLDGATE_ATHENA_RETRY_BASE_MS: '20',
      GOLDGATE_ATHENA_RETRY_MAX_MS: '3000',
      GOLDGATE_ATHENA_RESULT_REUSE_MAX_AGE_MIN: '0',
    });
    expect(config.athena).toMatchObject({
      workGroup: 'goldgate-prod',
      outputLocation: 's3://goldgate-prod-results/athena/',
      endpoint: 'http://127.0.0.1:4566',
      poll: { initialMs: 50, maxMs: 1000 },
      retry: { attempts: 8, baseMs: 20, maxMs: 3000 },
      resultReuseMaxAgeMinutes: 0,
    });
  });

  it('refuses names that could not be SQL identifiers, bad locations and out-of-range ages', () => {
    expect(() => loadConfig({ GOLDGATE_ATHENA_DATABASE: 'Gold"; DROP' })).toThrow(ConfigError);
    expect(() => loadConfig({ GOLDGATE_ATHENA_OUTPUT: 'https://bucket/' })).toThrow(ConfigError);
    expect(() => loadConfig({ GOLDGATE_ATHENA_RESULT_REUSE_MAX_AGE_MIN: '10081' })).toThrow(ConfigError);
    expect(() => loadConfig({ GOLDGATE_ATHENA_WORKGROUP: 'work group' })).toThrow(ConfigError);
  });

  it('gives the aws home the Athena engine, and needs the Gold database for it', async () => {
    const engine = await createQueryEngine(
      loadConfig({ GOLDGATE_HOME: 'aws', GOLDGATE_ATHENA_DATABASE: 'goldgate_gold' }),
      store,
    );
    expect(engine.kind).toBe('athena');
    await engine.close();
    await expect(createQueryEngine(loadConfig({ GOLDGATE_HOME: 'aws' }), store)).rejects.toBeInstanceOf(
      ConfigError,
    );
  });
});
