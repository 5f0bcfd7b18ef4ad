import { describe, expect, it } from 'vitest';
import { S3Router } from '../../../src/adapters/object-store/s3-layout.js';
import { loadConfig } from '../../../src/config/index.js';
import { createObjectStore } from '../../../src/runtime/stores.js';

describe('S3 layout routing', () => {
  const router = new S3Router({
    bucket: 'acme-lake',
    prefix: 'prod',
    layerBuckets: { bronze: 'acme-bronze', gold: 'acme-gold' },
  });

  it('routes by the first key segment and keeps the whole key under the prefix', () => {
    expect(router.locate('bronze/zoho_books/invoices/x')).toEqual({
      bucket: 'acme-bronze',
      s3Key: 'prod/bronze/zoho_books/invoices/x',
    });
    expect(router.locate('silver/zoho_books/contacts/_LATEST.json').bucket).toBe('acme-lake');
    expect(router.locate('bronzed/x').bucket).toBe('acme-lake');
    expect(router.locate('_locks/pipeline/lease-0000000001.json').bucket).toBe('acme-lake');
  });

  it('lists from every bucket a partial first segment can reach, and from one otherwise', () => {
    expect(router.bucketsFor('')).toEqual(['acme-bronze', 'acme-gold', 'acme-lake']);
    expect(router.bucketsFor('b')).toEqual(['acme-bronze', 'acme-lake']);
    expect(router.bucketsFor('bronze')).toEqual(['acme-bronze', 'acme-lake']);
    expect(router.bucketsFor('bronze/')).toEqual(['acme-bronze']);
    expect(router.bucketsFor('s')).toEqual(['acme-lake']);
  });

  it('takes a listed S3 key as ours only in the bucket it routes to and under the prefix', () => {
    expect(router.keyOf('acme-bronze', 'prod/bronze/a')).toBe('bronze/a');
    expect(router.keyOf('acme-lake', 'prod/bronze/a')).toBeUndefined();
    expect(router.keyOf('acme-lake', 'other/silver/a')).toBeUndefined();
    expect(router.keyOf('acme-lake', 'prod/silver/.tmp')).toBeUndefined();
  });

  it('rejects bad layouts and bad keys with typed errors', () => {
    expect(() => new S3Router({ bucket: 'Not_A_Bucket' })).toThrow(
      expect.objectContaining({ code: 'OBJECT_STORE_ERROR' }),
    );
    expect(() => new S3Router({ bucket: 'ok-bucket', prefix: 'a/../b' })).toThrow(
      expect.objectContaining({ code: 'OBJECT_STORE_ERROR' }),
    );
    expect(() => router.locate('a//b')).toThrow(expect.objectContaining({ code: 'INVALID_KEY' }));
  });
});

describe('S3 settings (GOLDGATE_S3_*) and the aws home', () => {
  const aws = { GOLDGATE_HOME: 'aws', GOLDGATE_ATHENA_DATABASE: 'gold' };

  it('parses a bucket per layer, a prefix and the client switches', () => {
    const config = loadConfig({
      ...aws,
      GOLDGATE_S3_BUCKET: 'acme-lake',
      GOLDGATE_S3_BUCKETS: 'bronze=acme-bronze, silver=acme-silver,gold=acme-gold,quarantine=acme-q',
      GOLDGATE_S3_PREFIX: '/stage/dev/',
      GOLDGATE_S3_ENDPOINT: 'http://127.0.0.1:7480',
      GOLDGATE_S3_FORCE_PATH_STYLE: 'true',
      GOLDGATE_S3_CHECKSUMS: 'WHEN_REQUIRED',
      GOLDGATE_S3_REGION: 'eu-central-1',
    });
    expect(config.s3).toMatchObject({
      bucket: 'acme-lake',
      layerBuckets: { bronze: 'acme-bronze', silver: 'acme-silver', gold: 'acme-gold', quarantine: 'acme-q' },
      prefix: 'stage/dev/',
      forcePathStyle: true,
      checksums: 'WHEN_REQUIRED',
      region: 'eu-central-1',
    });
    const store = createObjectStore(config);
    expect(store.kind).toBe('s3');
    expect(store.locationOf('gold/customer_360/schema_v=1/')).toBe(
      's3://acme-gold/stage/dev/gold/customer_360/schema_v=1',
    );
    expect(store.locationOf('_runs/pipeline')).toBe('s3://acme-lake/stage/dev/_runs/pipeline');
  });

  it('defaults to one bucket, no prefix, SDK checksums and virtual-hosted addressing', () => {
    const config = loadConfig({ ...aws, GOLDGATE_S3_BUCKET: 'acme-lake' });
    expect(config.s3).toMatchObject({
      layerBuckets: {},
      prefix: '',
      forcePathStyle: false,
      checksums: 'WHEN_SUPPORTED',
    });
    expect(createObjectStore(config).locationOf('bronze/x')).toBe('s3://acme-lake/bronze/x');
  });

  it('names the variable of every bad S3 setting', () => {
    for (const [name, value] of [
      ['GOLDGATE_S3_BUCKETS', 'bronze=acme-bronze,platinum=acme-p'],
      ['GOLDGATE_S3_BUCKETS', 'gold=Acme_Gold'],
      ['GOLDGATE_S3_BUCKETS', 'gold=acme-a,gold=acme-b'],
      ['GOLDGATE_S3_BUCKET', 'x'],
      ['GOLDGATE_S3_PREFIX', 'a/../b'],
      ['GOLDGATE_S3_CHECKSUMS', 'NEVER'],
      ['GOLDGATE_S3_FORCE_PATH_STYLE', 'maybe'],
    ] as const) {
      expect(() => loadConfig({ ...aws, GOLDGATE_S3_BUCKET: 'acme-lake', [name]: value })).toThrow(
        expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining(name) }),
      );
    }
  });

  it('refuses the aws home without a default bucket', () => {
    expect(() => createObjectStore(loadConfig(aws))).toThrow(
      expect.objectContaining({
        code: 'CONFIG_INVALID',
        message: expect.stringContaining('GOLDGATE_S3_BUCKET'),
      }),
    );
  });
});
