import { Readable } from 'node:stream';
import {
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readAll } from '../../src/adapters/object-store/port.js';
import {
  createS3ObjectStore,
  type S3Layout,
  type S3ObjectStore,
} from '../../src/adapters/object-store/s3.js';
import { LOCAL_S3_START_TIMEOUT_MS, type LocalS3, startLocalS3 } from '../support/local-s3.js';
import { objectStoreContract } from './object-store.contract.js';

// One throw-away Ceph RADOS Gateway for this file (real S3 over HTTP on 127.0.0.1), shared by both layouts.
let rgw: LocalS3 | undefined;
beforeAll(async () => {
  rgw = await startLocalS3();
}, LOCAL_S3_START_TIMEOUT_MS);
afterAll(async () => {
  await rgw?.stop();
});

function server(): LocalS3 {
  if (!rgw) throw new Error('local S3 did not start');
  return rgw;
}

// Each store gets a client of its own, as a separate container would.
function open(layout: S3Layout): S3ObjectStore {
  return createS3ObjectStore({ client: server().client(), layout, partSizeBytes: 5 * 1024 * 1024 });
}

const single: S3Layout = { bucket: 'gg-single', prefix: 'lake/' };
objectStoreContract({
  name: 'S3 on RGW, one bucket with a key prefix',
  async create() {
    await server().createBuckets(single.bucket);
    return open(single);
  },
  async createPeer() {
    return open(single);
  },
});

const perLayer: S3Layout = {
  bucket: 'gg-default',
  layerBuckets: { bronze: 'gg-bronze', silver: 'gg-silver', gold: 'gg-gold', quarantine: 'gg-quarantine' },
};
objectStoreContract({
  name: 'S3 on RGW, a bucket per layer',
  async create() {
    await server().createBuckets('gg-default', 'gg-bronze', 'gg-silver', 'gg-gold', 'gg-quarantine');
    return open(perLayer);
  },
  async createPeer() {
    return open(perLayer);
  },
});

describe('S3 adapter on RGW: where objects go', () => {
  let raw: S3Client;
  const keysIn = async (Bucket: string, Prefix = ''): Promise<string[]> => {
    const out = await raw.send(new ListObjectsV2Command({ Bucket, Prefix }));
    return (out.Contents ?? []).map((o) => o.Key ?? '');
  };

  beforeAll(async () => {
    raw = server().client();
    await server().createBuckets('gg-where-default', 'gg-where-bronze', 'gg-where-gold', 'gg-where-prefixed');
  });

  it('a bucket per layer: each key lands in its layer bucket under its full key, the rest in the default', async () => {
    const store = open({
      bucket: 'gg-where-default',
      layerBuckets: { bronze: 'gg-where-bronze', gold: 'gg-where-gold' },
    });
    await store.put('bronze/zoho_books/invoices/part-00000.jsonl.gz', 'b');
    await store.put('gold/customer_360/schema_v=1/_LATEST.json', 'g');
    await store.put('silver/zoho_books/contacts/_LATEST.json', 's');
    await store.put('_locks/pipeline/lease-0000000001.json', 'l');
    expect(await keysIn('gg-where-bronze')).toEqual(['bronze/zoho_books/invoices/part-00000.jsonl.gz']);
    expect(await keysIn('gg-where-gold')).toEqual(['gold/customer_360/schema_v=1/_LATEST.json']);
    expect(await keysIn('gg-where-default')).toEqual([
      '_locks/pipeline/lease-0000000001.json',
      'silver/zoho_books/contacts/_LATEST.json',
    ]);
    expect(store.locationOf('gold/customer_360/schema_v=1/')).toBe(
      's3://gg-where-gold/gold/customer_360/schema_v=1',
    );
    expect(store.locationOf('silver/zoho_books/contacts')).toBe(
      's3://gg-where-default/silver/zoho_books/contacts',
    );
  });

  it('a bucket per layer: a stray copy in a bucket the key does not route to is not listed', async () => {
    const store = open({ bucket: 'gg-where-default', layerBuckets: { bronze: 'gg-where-bronze' } });
    await raw.send(new PutObjectCommand({ Bucket: 'gg-where-default', Key: 'bronze/stray/x', Body: 'x' }));
    const listed: string[] = [];
    for await (const info of store.list('bronze/')) listed.push(info.key);
    expect(listed).not.toContain('bronze/stray/x');
    expect(listed).toContain('bronze/zoho_books/invoices/part-00000.jsonl.gz');
    expect(await store.head('bronze/stray/x')).toBeUndefined();
  });

  it('one bucket with a prefix: every key lives under the prefix, listing strips it', async () => {
    const store = open({ bucket: 'gg-where-prefixed', prefix: 'stage/lake' });
    await store.put('gold/m/_LATEST.json', '{}');
    await raw.send(new PutObjectCommand({ Bucket: 'gg-where-prefixed', Key: 'outside/x', Body: 'x' }));
    expect(await keysIn('gg-where-prefixed', 'stage/')).toEqual(['stage/lake/gold/m/_LATEST.json']);
    const listed: string[] = [];
    for await (const info of store.list('')) listed.push(info.key);
    expect(listed).toEqual(['gold/m/_LATEST.json']);
    expect(store.locationOf('gold/m/')).toBe('s3://gg-where-prefixed/stage/lake/gold/m');
  });

  it('putStream sends a large object as a multipart upload, in parts of the configured size', async () => {
    const store = open({ bucket: 'gg-where-prefixed' });
    const part = 5 * 1024 * 1024;
    const total = 2 * part + 12_345;
    async function* gen(): AsyncGenerator<Buffer> {
      // Odd-sized chunks: the uploader, not the source, decides where parts end.
      for (let sent = 0; sent < total; sent += 999_999) {
        yield Buffer.alloc(Math.min(999_999, total - sent), sent % 251);
      }
    }
    await store.putStream('big/mpu.bin', Readable.from(gen()));
    const head = await raw.send(new HeadObjectCommand({ Bucket: 'gg-where-prefixed', Key: 'big/mpu.bin' }));
    expect(head.ContentLength).toBe(total);
    // A multipart object's ETag is "md5-of-part-md5s-N" with N parts.
    expect(head.ETag).toMatch(/^"[0-9a-f]{32}-3"$/);
    const back = await readAll(await store.getStream('big/mpu.bin'));
    expect(back.byteLength).toBe(total);
    expect(back[999_999]).toBe(999_999 % 251);
    expect(back[total - 1]).toBe((Math.floor((total - 1) / 999_999) * 999_999) % 251);
  });

  it('a putStream whose source fails aborts its multipart upload: no parts are left to pay for', async () => {
    const store = open({ bucket: 'gg-where-bronze' });
    async function* broken(): AsyncGenerator<Buffer> {
      yield Buffer.alloc(11 * 1024 * 1024, 3);
      throw new Error('source failed');
    }
    await expect(
      store.putStream('bronze/aborted/part-00000.jsonl.gz', Readable.from(broken())),
    ).rejects.toMatchObject({
      code: 'OBJECT_STORE_ERROR',
    });
    const uploads = await raw.send(new ListMultipartUploadsCommand({ Bucket: 'gg-where-bronze' }));
    expect(uploads.Uploads ?? []).toEqual([]);
    expect(await store.head('bronze/aborted/part-00000.jsonl.gz')).toBeUndefined();
  });

  it('reports a bucket that does not exist with a code, and no bucket or key in the message', async () => {
    const store = open({ bucket: 'gg-no-such-bucket' });
    const failure = await store.put('gold/secret-mart/k', 'x').then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toMatchObject({ code: 'OBJECT_STORE_BUCKET_MISSING' });
    const message = (failure as Error).message;
    expect(message).not.toContain('gg-no-such-bucket');
    expect(message).not.toContain('secret-mart');
    expect(String((failure as Error).cause)).toContain('gg-no-such-bucket');
  });

  it('reports wrong credentials as OBJECT_STORE_ACCESS_DENIED', async () => {
    const store = createS3ObjectStore({
      client: { ...server().settings, credentials: { accessKeyId: 'WRONGKEY', secretAccessKey: 'wrong' } },
      layout: { bucket: 'gg-where-prefixed' },
    });
    await expect(store.get('gold/m/_LATEST.json')).rejects.toMatchObject({
      code: 'OBJECT_STORE_ACCESS_DENIED',
    });
  });
});
