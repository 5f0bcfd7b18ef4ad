import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ListObjectsV2CommandOutput, S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { GoldgateError } from '../../errors.js';
import {
  InvalidKeyError,
  ObjectExistsError,
  ObjectNotFoundError,
  ObjectStoreAccessDeniedError,
  ObjectStoreBucketMissingError,
  ObjectStoreError,
  type ObjectStoreOperation,
  ObjectStoreThrottledError,
  ObjectStoreUnavailableError,
  ObjectTooLargeToCopyError,
} from './errors.js';
import { isValidPrefix, type ObjectInfo, type ObjectStore } from './port.js';
import { type S3Layout, type S3Location, S3Router } from './s3-layout.js';

export { LAKE_LAYERS, type LakeLayer, type S3Layout } from './s3-layout.js';

/** How to build the S3 client when the caller does not pass one. */
export interface S3ClientSettings {
  /** AWS region; the SDK's own chain (`AWS_REGION`, profile) when absent. */
  readonly region?: string;
  /** Another S3 endpoint (a local RADOS Gateway, a VPC endpoint URL). */
  readonly endpoint?: string;
  /** Path-style addressing (`endpoint/bucket/key`), needed where bucket DNS names do not resolve. */
  readonly forcePathStyle?: boolean;
  /** Static credentials (tests); the SDK's default chain (Lambda role, profile) when absent. */
  readonly credentials?: {
    readonly accessKeyId: string;
    readonly secretAccessKey: string;
    readonly sessionToken?: string;
  };
  /**
   * `WHEN_SUPPORTED` (the SDK default) adds a CRC to every upload; `WHEN_REQUIRED` only where the
   * API demands one. Servers that do not take `aws-chunked` stream bodies (RGW 16) need `WHEN_REQUIRED`.
   */
  readonly requestChecksumCalculation?: 'WHEN_SUPPORTED' | 'WHEN_REQUIRED';
  /** Whether downloads are checked against the checksum the server sends. */
  readonly responseChecksumValidation?: 'WHEN_SUPPORTED' | 'WHEN_REQUIRED';
  /** Attempts per request, retries included (throttling and 5xx are retried with backoff). */
  readonly maxAttempts?: number;
}

/** The S3 object store's options. */
export interface S3ObjectStoreOptions {
  /** The container's client, or settings to build (and share) one. */
  readonly client: S3Client | S3ClientSettings;
  readonly layout: S3Layout;
  /** Part size of multipart uploads (`putStream`); at least 5 MiB, S3's minimum. */
  readonly partSizeBytes?: number;
  /** Parts uploaded at once; `putStream` holds at most `partSize * queueSize` bytes. */
  readonly uploadQueueSize?: number;
  /** Keys per `ListObjectsV2` page (S3 caps it at 1000). */
  readonly listPageSize?: number;
}

const MIN_PART = 5 * 1024 * 1024;
// The largest source one CopyObject takes; beyond it S3 requires UploadPartCopy.
const MAX_SINGLE_COPY = 5 * 1024 * 1024 * 1024;
const DEFAULT_PART = 8 * 1024 * 1024;
// AWS answers a conditional write racing another one with 409 and asks for a retry; the SDK does not retry 409.
const CONFLICT_RETRIES = 5;

// The SDK is loaded on first use, not on import: the embedded home never pays for it (0.3-1 s on 2 cores).
type S3Sdk = typeof import('@aws-sdk/client-s3');
let s3Sdk: Promise<S3Sdk> | undefined;
const loadS3Sdk = (): Promise<S3Sdk> => {
  s3Sdk ??= import('@aws-sdk/client-s3');
  return s3Sdk;
};

const clients = new Map<string, Promise<S3Client>>();

/**
 * The S3 client of this container for `settings`: built once and reused, so a
 * Lambda container keeps one connection pool across invocations.
 */
export function containerS3Client(settings: S3ClientSettings): Promise<S3Client> {
  const id = JSON.stringify(settings);
  let client = clients.get(id);
  if (!client) {
    client = loadS3Sdk().then((sdk) => new sdk.S3Client(clientConfig(settings)));
    clients.set(id, client);
  }
  return client;
}

function isS3Client(value: S3Client | S3ClientSettings): value is S3Client {
  return typeof (value as { send?: unknown }).send === 'function';
}

function clientConfig(settings: S3ClientSettings): S3ClientConfig {
  return {
    ...(settings.region ? { region: settings.region } : {}),
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    ...(settings.credentials ? { credentials: { ...settings.credentials } } : {}),
    forcePathStyle: settings.forcePathStyle ?? false,
    requestChecksumCalculation: settings.requestChecksumCalculation ?? 'WHEN_SUPPORTED',
    responseChecksumValidation: settings.responseChecksumValidation ?? 'WHEN_SUPPORTED',
    maxAttempts: settings.maxAttempts ?? 5,
  };
}

/** Build the S3 object store, on the given client or on the container's client for the settings. */
export function createS3ObjectStore(options: S3ObjectStoreOptions): S3ObjectStore {
  return new S3ObjectStore(options);
}

/**
 * The object store on S3 (or any S3 implementation that honours
 * `If-None-Match: *`). One bucket with an optional key prefix, or a bucket per
 * lake layer (see `s3-layout.ts`); keys are identical to the local store's.
 *
 * - `put`/`replace`: one `PutObject`, which S3 applies atomically: readers see
 *   the old object or the new one, never a prefix.
 * - `createIfAbsent`: `PutObject` with `If-None-Match: *`; a 412 means another
 *   writer got there first.
 * - `putStream`: a multipart upload in bounded memory, aborted on failure so no
 *   partial object ever becomes visible.
 * - `copy`: `CopyObject`, server-side, up to 5 GiB (no multipart copy).
 *
 * Errors are the typed errors of `errors.ts`; their messages never carry a
 * bucket or key (those are in `cause`, for logs).
 */
export class S3ObjectStore implements ObjectStore {
  readonly kind = 's3';
  private readonly client: Promise<S3Client>;
  private readonly router: S3Router;
  private readonly partSize: number;
  private readonly queueSize: number;
  private readonly pageSize: number;

  constructor(options: S3ObjectStoreOptions) {
    this.client = isS3Client(options.client)
      ? Promise.resolve(options.client)
      : containerS3Client(options.client);
    this.router = new S3Router(options.layout);
    this.partSize = Math.max(MIN_PART, options.partSizeBytes ?? DEFAULT_PART);
    this.queueSize = Math.max(1, options.uploadQueueSize ?? 2);
    this.pageSize = Math.min(1000, Math.max(1, options.listPageSize ?? 1000));
  }

  locationOf(keyOrPrefix: string): string {
    if (!isValidPrefix(keyOrPrefix)) throw new InvalidKeyError(keyOrPrefix);
    const trimmed = keyOrPrefix.replace(/\/+$/, '');
    // No trailing `/`, as on disk: callers append `/file` themselves.
    const bucket = this.router.bucketOf(trimmed);
    return `s3://${bucket}/${this.router.prefix}${trimmed}`.replace(/\/+$/, '');
  }

  async prepareWrite(prefix: string): Promise<string> {
    // S3 has no folders to create.
    return this.locationOf(prefix);
  }

  async get(key: string): Promise<Uint8Array> {
    const body = await this.getIfExists(key);
    if (body === undefined) throw new ObjectNotFoundError(key);
    return body;
  }

  async getIfExists(key: string): Promise<Uint8Array | undefined> {
    const at = this.router.locate(key);
    try {
      const { s3, client } = await this.sdk();
      const out = await client.send(new s3.GetObjectCommand({ Bucket: at.bucket, Key: at.s3Key }));
      if (!out.Body) return new Uint8Array();
      return await out.Body.transformToByteArray();
    } catch (error) {
      const mapped = toStoreError(error, 'get', key, at);
      if (mapped instanceof ObjectNotFoundError) return undefined;
      throw mapped;
    }
  }

  async getStream(key: string): Promise<Readable> {
    const at = this.router.locate(key);
    try {
      const { s3, client } = await this.sdk();
      const out = await client.send(new s3.GetObjectCommand({ Bucket: at.bucket, Key: at.s3Key }));
      if (out.Body instanceof Readable) return out.Body;
      if (out.Body === undefined) return Readable.from([]);
      throw new ObjectStoreError('read failed: the S3 client returned no Node stream');
    } catch (error) {
      throw toStoreError(error, 'get', key, at);
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const at = this.router.locate(key);
    try {
      const { s3, client } = await this.sdk();
      const out = await client.send(new s3.HeadObjectCommand({ Bucket: at.bucket, Key: at.s3Key }));
      return { key, size: out.ContentLength ?? 0, lastModified: out.LastModified ?? new Date(0) };
    } catch (error) {
      // A HEAD answer has no body, so a missing bucket also reads as 404 here; every other call tells.
      const mapped = toStoreError(error, 'head', key, at);
      if (mapped instanceof ObjectNotFoundError) return undefined;
      throw mapped;
    }
  }

  async put(key: string, body: Uint8Array | string): Promise<void> {
    const at = this.router.locate(key);
    try {
      const { s3, client } = await this.sdk();
      await client.send(new s3.PutObjectCommand({ Bucket: at.bucket, Key: at.s3Key, Body: body }));
    } catch (error) {
      throw toStoreError(error, 'put', key, at);
    }
  }

  async putStream(key: string, body: Readable): Promise<void> {
    const at = this.router.locate(key);
    try {
      const [{ Upload }, client] = await Promise.all([import('@aws-sdk/lib-storage'), this.client]);
      const upload = new Upload({
        client,
        params: { Bucket: at.bucket, Key: at.s3Key, Body: body },
        partSize: this.partSize,
        queueSize: this.queueSize,
        // Abort on failure: no parts left behind to pay for, and no partial object was ever visible.
        leavePartsOnError: false,
      });
      await upload.done();
    } catch (error) {
      throw toStoreError(error, 'put', key, at);
    }
  }

  /**
   * Create `key` only if it is free. When the SDK had to resend the request
   * (a lost answer), a 412 may be our own first attempt: the stored body is
   * then compared with ours, which is why contenders must write distinct
   * bodies (lock leases carry their owner).
   */
  async createIfAbsent(key: string, body: Uint8Array | string): Promise<boolean> {
    const at = this.router.locate(key);
    for (let attempt = 0; ; attempt++) {
      try {
        const { s3, client } = await this.sdk();
        await client.send(
          new s3.PutObjectCommand({ Bucket: at.bucket, Key: at.s3Key, Body: body, IfNoneMatch: '*' }),
        );
        return true;
      } catch (error) {
        const mapped = toStoreError(error, 'create', key, at);
        if (mapped instanceof ObjectExistsError) {
          if (attemptsOf(error) > 1) return this.holds(key, body);
          return false;
        }
        if (errorName(error) === 'ConditionalRequestConflict' && attempt < CONFLICT_RETRIES) {
          await sleep(Math.random() * 50 * 2 ** attempt);
          continue;
        }
        throw mapped;
      }
    }
  }

  async replace(key: string, body: Uint8Array | string): Promise<void> {
    // One PutObject is already an atomic swap on S3.
    await this.put(key, body);
  }

  /**
   * One `CopyObject` (atomic like `PutObject`), after a `HeadObject` that
   * refuses sources over 5 GiB, which would need a multipart copy. Works
   * across the buckets of a per-layer layout.
   */
  async copy(from: string, to: string): Promise<void> {
    const source = this.router.locate(from);
    const target = this.router.locate(to);
    // For logs only (the cause): both ends, as a missing or refused bucket may be either.
    const both: S3Location = {
      bucket: source.bucket,
      s3Key: `${source.s3Key} -> s3://${target.bucket}/${target.s3Key}`,
    };
    try {
      const { s3, client } = await this.sdk();
      const size = await client
        .send(new s3.HeadObjectCommand({ Bucket: source.bucket, Key: source.s3Key }))
        .then(
          (out) => out.ContentLength,
          (error: unknown) => {
            // An absent source is left to CopyObject to report: its answer, unlike HEAD's, tells a missing bucket apart.
            if (toStoreError(error, 'copy', from, both) instanceof ObjectNotFoundError) return undefined;
            throw error;
          },
        );
      if (size !== undefined && size > MAX_SINGLE_COPY) {
        throw new ObjectTooLargeToCopyError(from, size, MAX_SINGLE_COPY);
      }
      // S3 rejects a copy onto itself that changes nothing; the object is already its own copy.
      if (size !== undefined && from === to) return;
      await client.send(
        new s3.CopyObjectCommand({
          Bucket: target.bucket,
          Key: target.s3Key,
          CopySource: `${source.bucket}/${source.s3Key.split('/').map(encodeURIComponent).join('/')}`,
        }),
      );
    } catch (error) {
      // A 404 names the source (the target's key need not exist); a missing bucket is told by name.
      throw toStoreError(error, 'copy', from, both);
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    if (!isValidPrefix(prefix)) throw new InvalidKeyError(prefix);
    const buckets = this.router.bucketsFor(prefix);
    const [only] = buckets;
    if (buckets.length === 1 && only !== undefined) {
      yield* this.listBucket(only, prefix);
      return;
    }
    yield* mergeSorted(buckets.map((bucket) => this.listBucket(bucket, prefix)));
  }

  async delete(key: string): Promise<void> {
    const at = this.router.locate(key);
    try {
      const { s3, client } = await this.sdk();
      await client.send(new s3.DeleteObjectCommand({ Bucket: at.bucket, Key: at.s3Key }));
    } catch (error) {
      const mapped = toStoreError(error, 'delete', key, at);
      if (mapped instanceof ObjectNotFoundError) return;
      throw mapped;
    }
  }

  private async *listBucket(bucket: string, prefix: string): AsyncGenerator<ObjectInfo> {
    let token: string | undefined;
    do {
      let page: ListObjectsV2CommandOutput;
      try {
        const { s3, client } = await this.sdk();
        page = await client.send(
          new s3.ListObjectsV2Command({
            Bucket: bucket,
            Prefix: `${this.router.prefix}${prefix}`,
            ContinuationToken: token,
            MaxKeys: this.pageSize,
          }),
        );
      } catch (error) {
        throw toStoreError(error, 'list', prefix, { bucket, s3Key: `${this.router.prefix}${prefix}` });
      }
      for (const object of page.Contents ?? []) {
        const key = object.Key === undefined ? undefined : this.router.keyOf(bucket, object.Key);
        // Objects other tools put there (odd names, another layer's keys) are not keys of this store.
        if (key === undefined) continue;
        yield { key, size: object.Size ?? 0, lastModified: object.LastModified ?? new Date(0) };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  /** The SDK's command classes and this store's client, both loaded on first use. */
  private async sdk(): Promise<{ readonly s3: S3Sdk; readonly client: S3Client }> {
    const [s3, client] = await Promise.all([loadS3Sdk(), this.client]);
    return { s3, client };
  }

  private async holds(key: string, body: Uint8Array | string): Promise<boolean> {
    const stored = await this.getIfExists(key);
    const mine =
      typeof body === 'string' ? Buffer.from(body) : Buffer.from(body.buffer, body.byteOffset, body.length);
    return stored !== undefined && Buffer.compare(Buffer.from(stored), mine) === 0;
  }
}

/** Merge ascending listings of several buckets into one ascending listing. */
async function* mergeSorted(sources: AsyncGenerator<ObjectInfo>[]): AsyncGenerator<ObjectInfo> {
  const heads = await Promise.all(sources.map((source) => source.next()));
  try {
    for (;;) {
      let best = -1;
      for (let i = 0; i < heads.length; i++) {
        const head = heads[i];
        if (!head || head.done) continue;
        const current = best < 0 ? undefined : heads[best];
        if (!current || current.done || head.value.key < current.value.key) best = i;
      }
      const source = sources[best];
      const winner = heads[best];
      if (!source || !winner || winner.done) return;
      yield winner.value;
      heads[best] = await source.next();
    }
  } finally {
    await Promise.all(sources.map((source) => source.return(undefined)));
  }
}

const ACCESS_DENIED = new Set([
  'AccessDenied',
  'AllAccessDisabled',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'InvalidToken',
  'AccountProblem',
]);
const THROTTLED = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'RequestThrottled',
  'RequestLimitExceeded',
]);
const UNREACHABLE = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN']);

function errorName(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const name = (error as { name?: unknown; Code?: unknown }).name;
  return typeof name === 'string' ? name : undefined;
}

function statusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const status = (error as { $metadata?: { httpStatusCode?: unknown } }).$metadata?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

function attemptsOf(error: unknown): number {
  if (typeof error !== 'object' || error === null) return 1;
  const attempts = (error as { $metadata?: { attempts?: unknown } }).$metadata?.attempts;
  return typeof attempts === 'number' ? attempts : 1;
}

function systemCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Turn whatever the SDK threw into a typed store error. The message is fixed
 * per code; where it happened (bucket and key) travels in `cause` only.
 */
export function toStoreError(
  error: unknown,
  operation: ObjectStoreOperation,
  key: string,
  at: S3Location,
): GoldgateError {
  if (error instanceof GoldgateError) return error;
  const cause = new Error(`S3 ${operation} s3://${at.bucket}/${at.s3Key}`, { cause: error });
  const name = errorName(error);
  const status = statusOf(error);
  if (name === 'NoSuchBucket') return new ObjectStoreBucketMissingError(operation, { cause });
  if (name === 'NoSuchKey' || name === 'NotFound' || (status === 404 && operation !== 'list')) {
    return new ObjectNotFoundError(key, { cause });
  }
  if (name === 'PreconditionFailed' || status === 412) return new ObjectExistsError(key, { cause });
  if ((name !== undefined && ACCESS_DENIED.has(name)) || status === 403) {
    return new ObjectStoreAccessDeniedError(operation, { cause });
  }
  if ((name !== undefined && THROTTLED.has(name)) || status === 429) {
    return new ObjectStoreThrottledError(operation, { cause });
  }
  const code = systemCode(error);
  if (
    (status !== undefined && status >= 500) ||
    name === 'TimeoutError' ||
    name === 'RequestTimeout' ||
    (code !== undefined && UNREACHABLE.has(code))
  ) {
    return new ObjectStoreUnavailableError(operation, { cause });
  }
  return new ObjectStoreError(`object store ${operation} failed`, { cause });
}
