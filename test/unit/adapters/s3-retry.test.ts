import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3ObjectStore, type S3ClientSettings } from '../../../src/adapters/object-store/s3.js';

// Throttling as the SDK sees it on the wire: a tiny HTTP server on 127.0.0.1 that answers S3's
// 503 SlowDown for as long as it is told to. This checks the client settings the adapter builds
// (the SDK's own retries), which a mocked client would bypass.

const SLOW_DOWN = `<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>r1</RequestId></Error>`;

let server: Server;
let endpoint: string;
let slowDowns = 0;
const seen: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      seen.push(`${req.method} ${(req.url ?? '').split('?')[0]}`);
      if (slowDowns > 0) {
        slowDowns -= 1;
        res.writeHead(503, { 'content-type': 'application/xml' }).end(SLOW_DOWN);
        return;
      }
      res.writeHead(200, { etag: '"0123456789abcdef0123456789abcdef"' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

function settings(maxAttempts: number, at = endpoint): S3ClientSettings {
  return {
    endpoint: at,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    maxAttempts,
  };
}

describe('S3 adapter retries (HTTP on 127.0.0.1)', () => {
  it('retries SlowDown with backoff and then succeeds', async () => {
    seen.length = 0;
    slowDowns = 2;
    const store = createS3ObjectStore({ client: settings(3), layout: { bucket: 'retry-bucket' } });
    await store.put('bronze/a/b', 'x');
    expect(seen).toEqual(Array(3).fill('PUT /retry-bucket/bronze/a/b'));
  });

  it('gives up after maxAttempts with OBJECT_STORE_THROTTLED', async () => {
    seen.length = 0;
    slowDowns = 100;
    const store = createS3ObjectStore({ client: settings(2), layout: { bucket: 'retry-bucket' } });
    await expect(store.put('bronze/a/c', 'x')).rejects.toMatchObject({ code: 'OBJECT_STORE_THROTTLED' });
    expect(seen).toHaveLength(2);
    slowDowns = 0;
  });

  it('reports a store nobody answers at as OBJECT_STORE_UNAVAILABLE', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const store = createS3ObjectStore({
      client: settings(1, `http://127.0.0.1:${port}`),
      layout: { bucket: 'retry-bucket' },
    });
    const error = await store.get('bronze/a/b').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'OBJECT_STORE_UNAVAILABLE' });
    expect((error as Error).message).not.toContain('retry-bucket');
  });
});
