import {
  CopyObjectCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  ListObjectsV2Command,
  NoSuchBucket,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { S3ObjectStore } from '../../../src/adapters/object-store/s3.js';
import { GoldgateError } from '../../../src/errors.js';

// Error answers RGW on 127.0.0.1 cannot be made to give (IAM denials, throttling that outlasts the
// SDK's retries, AWS's 409 on racing conditional writes). Everything else runs over HTTP in
// test/contract/s3-object-store.test.ts.

const BUCKET = 'acme-prod-gold-7f3a';
const KEY = 'gold/customer_360/schema_v=1/_LATEST.json';

function s3Error(name: string, status: number, extra: { attempts?: number; message?: string } = {}) {
  return new S3ServiceException({
    name,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status, attempts: extra.attempts ?? 1 },
    message:
      extra.message ??
      `User: arn:aws:iam::1:role/x is not authorized on resource: arn:aws:s3:::${BUCKET}/${KEY}`,
  });
}

function bodyOf(text: string): GetObjectCommandOutput['Body'] {
  const bytes = new TextEncoder().encode(text);
  // Only what the adapter reads of a response body.
  return { transformToByteArray: async () => bytes } as unknown as GetObjectCommandOutput['Body'];
}

async function failure(promise: Promise<unknown>): Promise<GoldgateError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(GoldgateError);
  return error as GoldgateError;
}

function expectNoLocation(error: GoldgateError): void {
  expect(error.message).not.toContain(BUCKET);
  expect(error.message).not.toContain('customer_360');
  expect(error.message).not.toContain('arn:');
  // The location is kept for logs, in the cause.
  expect(String(error.cause)).toContain(`s3://${BUCKET}/${KEY}`);
}

describe('S3 adapter error mapping (mocked client)', () => {
  const client = new S3Client({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
  });
  const mock = mockClient(client);
  const store = new S3ObjectStore({ client, layout: { bucket: BUCKET } });

  beforeEach(() => {
    mock.reset();
  });

  it('AccessDenied on every kind of call is OBJECT_STORE_ACCESS_DENIED, without bucket or key in the message', async () => {
    const denied = s3Error('AccessDenied', 403);
    mock.on(PutObjectCommand).rejects(denied);
    mock.on(GetObjectCommand).rejects(denied);
    mock.on(HeadObjectCommand).rejects(s3Error('Forbidden', 403));
    mock.on(ListObjectsV2Command).rejects(denied);
    for (const call of [
      store.put(KEY, '{}'),
      store.replace(KEY, '{}'),
      store.createIfAbsent(KEY, '{}'),
      store.get(KEY),
      store.getIfExists(KEY),
      // A denied HEAD must not read as "absent".
      store.head(KEY),
    ]) {
      const error = await failure(call);
      expect(error.code).toBe('OBJECT_STORE_ACCESS_DENIED');
      expectNoLocation(error);
    }
    const listed = await failure(
      (async () => {
        for await (const _ of store.list('gold/customer_360/')) break;
      })(),
    );
    expect(listed.code).toBe('OBJECT_STORE_ACCESS_DENIED');
    expect(listed.message).not.toContain(BUCKET);
  });

  it('throttling that outlasts the SDK retries is OBJECT_STORE_THROTTLED', async () => {
    mock
      .on(PutObjectCommand)
      .rejects(s3Error('SlowDown', 503, { attempts: 5, message: 'Please reduce your request rate.' }));
    const error = await failure(store.put(KEY, '{}'));
    expect(error.code).toBe('OBJECT_STORE_THROTTLED');
    expectNoLocation(error);
    mock.on(ListObjectsV2Command).rejects(s3Error('TooManyRequestsException', 429, { attempts: 5 }));
    const listed = await failure(
      (async () => {
        for await (const _ of store.list('gold/')) break;
      })(),
    );
    expect(listed.code).toBe('OBJECT_STORE_THROTTLED');
  });

  it('NoSuchBucket is OBJECT_STORE_BUCKET_MISSING, not a missing object', async () => {
    const missing = new NoSuchBucket({
      message: 'The specified bucket does not exist',
      $metadata: { httpStatusCode: 404 },
    });
    mock.on(GetObjectCommand).rejects(missing);
    mock.on(ListObjectsV2Command).rejects(missing);
    const got = await failure(store.getIfExists(KEY));
    expect(got.code).toBe('OBJECT_STORE_BUCKET_MISSING');
    expectNoLocation(got);
    const listed = await failure(
      (async () => {
        for await (const _ of store.list('gold/')) break;
      })(),
    );
    expect(listed.code).toBe('OBJECT_STORE_BUCKET_MISSING');
  });

  it('server errors that outlast the retries are OBJECT_STORE_UNAVAILABLE; unknown ones OBJECT_STORE_ERROR', async () => {
    mock
      .on(GetObjectCommand)
      .rejects(s3Error('InternalError', 500, { attempts: 5, message: 'We encountered an internal error.' }));
    expect((await failure(store.get(KEY))).code).toBe('OBJECT_STORE_UNAVAILABLE');
    mock
      .on(PutObjectCommand)
      .rejects(
        s3Error('EntityTooLarge', 400, { message: 'Your proposed upload exceeds the maximum allowed size' }),
      );
    const error = await failure(store.put(KEY, '{}'));
    expect(error.code).toBe('OBJECT_STORE_ERROR');
    expectNoLocation(error);
  });

  it("AWS's 409 on racing conditional writes is retried; the answer after it decides", async () => {
    mock
      .on(PutObjectCommand)
      .rejectsOnce(s3Error('ConditionalRequestConflict', 409))
      .rejectsOnce(s3Error('ConditionalRequestConflict', 409))
      .resolves({});
    expect(await store.createIfAbsent(KEY, 'mine')).toBe(true);
    expect(mock.commandCalls(PutObjectCommand)).toHaveLength(3);
    expect(mock.commandCalls(PutObjectCommand)[0]?.args[0].input.IfNoneMatch).toBe('*');

    mock.reset();
    mock
      .on(PutObjectCommand)
      .rejectsOnce(s3Error('ConditionalRequestConflict', 409))
      .rejects(s3Error('PreconditionFailed', 412));
    expect(await store.createIfAbsent(KEY, 'mine')).toBe(false);

    mock.reset();
    mock.on(PutObjectCommand).rejects(s3Error('ConditionalRequestConflict', 409));
    const error = await failure(store.createIfAbsent(KEY, 'mine'));
    expect(error.code).toBe('OBJECT_STORE_ERROR');
    expectNoLocation(error);
  });

  it('a 412 on a resent conditional create counts as ours only when the stored body is ours', async () => {
    // The first attempt's answer was lost and the SDK resent it: the 412 may be our own object.
    mock.on(PutObjectCommand).rejects(s3Error('PreconditionFailed', 412, { attempts: 2 }));
    mock.on(GetObjectCommand).resolves({ Body: bodyOf('lease owned by me') });
    expect(await store.createIfAbsent(KEY, 'lease owned by me')).toBe(true);
    expect(await store.createIfAbsent(KEY, 'lease owned by someone else')).toBe(false);
    // A first-attempt 412 is another writer's object; nothing is read.
    mock.reset();
    mock.on(PutObjectCommand).rejects(s3Error('PreconditionFailed', 412, { attempts: 1 }));
    expect(await store.createIfAbsent(KEY, 'x')).toBe(false);
    expect(mock.commandCalls(GetObjectCommand)).toHaveLength(0);
  });

  it('copy refuses a source over 5 GiB (one CopyObject takes no more) before sending it; 5 GiB itself copies', async () => {
    const limit = 5 * 1024 ** 3;
    mock.on(HeadObjectCommand).resolves({ ContentLength: limit + 1 });
    mock.on(CopyObjectCommand).resolves({});
    const error = await failure(store.copy(KEY, 'gold/customer_360/schema_v=1/copy.parquet'));
    expect(error).toMatchObject({ code: 'OBJECT_TOO_LARGE_TO_COPY', key: KEY, size: limit + 1, limit });
    expect(error.message).not.toContain(BUCKET);
    expect(error.message).not.toContain('customer_360');
    expect(mock.commandCalls(CopyObjectCommand)).toHaveLength(0);
    mock.on(HeadObjectCommand).resolves({ ContentLength: limit });
    await store.copy(KEY, 'gold/customer_360/schema_v=1/copy.parquet');
    expect(mock.commandCalls(CopyObjectCommand)).toHaveLength(1);
  });

  it('copy sends one CopyObject from the source bucket, the key encoded segment by segment, to the target bucket', async () => {
    const layered = new S3ObjectStore({
      client,
      layout: {
        bucket: 'acme-default',
        prefix: 'lake',
        layerBuckets: { silver: 'acme-silver', gold: BUCKET },
      },
    });
    mock.on(HeadObjectCommand).resolves({ ContentLength: 10 });
    mock.on(CopyObjectCommand).resolves({});
    await layered.copy('silver/s/run_id=1/part+0@a.parquet', 'gold/m/run_id=2/part-0.parquet');
    expect(mock.commandCalls(HeadObjectCommand)[0]?.args[0].input).toMatchObject({
      Bucket: 'acme-silver',
      Key: 'lake/silver/s/run_id=1/part+0@a.parquet',
    });
    const calls = mock.commandCalls(CopyObjectCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.args[0].input).toEqual({
      Bucket: BUCKET,
      Key: 'lake/gold/m/run_id=2/part-0.parquet',
      CopySource: 'acme-silver/lake/silver/s/run_id%3D1/part%2B0%40a.parquet',
    });
  });

  it('copy errors: a missing source is OBJECT_NOT_FOUND naming it, a missing bucket and a denial say so', async () => {
    const target = 'gold/customer_360/schema_v=1/copy.parquet';
    // HEAD cannot tell a missing key from a missing bucket: CopyObject's answer decides.
    mock.on(HeadObjectCommand).rejects(s3Error('NotFound', 404));
    mock
      .on(CopyObjectCommand)
      .rejects(
        new NoSuchKey({ message: 'The specified key does not exist.', $metadata: { httpStatusCode: 404 } }),
      );
    const absent = await failure(store.copy(KEY, target));
    expect(absent).toMatchObject({ code: 'OBJECT_NOT_FOUND', key: KEY });
    expectNoLocation(absent);
    mock.on(CopyObjectCommand).rejects(
      new NoSuchBucket({
        message: 'The specified bucket does not exist',
        $metadata: { httpStatusCode: 404 },
      }),
    );
    expect((await failure(store.copy(KEY, target))).code).toBe('OBJECT_STORE_BUCKET_MISSING');
    mock.reset();
    mock.on(HeadObjectCommand).rejects(s3Error('Forbidden', 403));
    const denied = await failure(store.copy(KEY, target));
    expect(denied).toMatchObject({ code: 'OBJECT_STORE_ACCESS_DENIED', operation: 'copy' });
    expectNoLocation(denied);
    expect(mock.commandCalls(CopyObjectCommand)).toHaveLength(0);
  });

  it('a 412 outside a conditional create is OBJECT_EXISTS', async () => {
    mock.on(PutObjectCommand).rejects(s3Error('PreconditionFailed', 412));
    const error = await failure(store.put(KEY, 'x'));
    expect(error.code).toBe('OBJECT_EXISTS');
    expect(error.message).not.toContain(BUCKET);
  });
});
