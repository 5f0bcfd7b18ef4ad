import { GoldgateError } from '../../errors.js';

/** The key does not exist in the store. */
export class ObjectNotFoundError extends GoldgateError {
  readonly code = 'OBJECT_NOT_FOUND';
  constructor(
    readonly key: string,
    options?: { cause?: unknown },
  ) {
    super('object not found', options);
  }
}

/** A conditional create lost: the key already exists. */
export class ObjectExistsError extends GoldgateError {
  readonly code = 'OBJECT_EXISTS';
  constructor(
    readonly key: string,
    options?: { cause?: unknown },
  ) {
    super('object already exists', options);
  }
}

/** The key is not a valid object key (empty segment, `..`, leading dot, ...). */
export class InvalidKeyError extends GoldgateError {
  readonly code = 'INVALID_KEY';
  constructor(readonly key: string) {
    super('invalid object key');
  }
}

/** A copy's source is larger than one server-side copy can take (5 GiB on S3, which would need a multipart copy). */
export class ObjectTooLargeToCopyError extends GoldgateError {
  readonly code = 'OBJECT_TOO_LARGE_TO_COPY';
  constructor(
    readonly key: string,
    readonly size: number,
    readonly limit: number,
  ) {
    super('object too large for a server-side copy');
  }
}

/** The store failed for a reason other than the above (I/O, network, permissions). */
export class ObjectStoreError extends GoldgateError {
  readonly code = 'OBJECT_STORE_ERROR';
}

/** What a store call was doing when it failed: safe to log and to show. */
export type ObjectStoreOperation = 'get' | 'head' | 'put' | 'create' | 'copy' | 'list' | 'delete';

/** The store refused the credentials or the action (S3 `AccessDenied`, 403, bad or expired keys). */
export class ObjectStoreAccessDeniedError extends GoldgateError {
  readonly code = 'OBJECT_STORE_ACCESS_DENIED';
  constructor(
    readonly operation: ObjectStoreOperation,
    options?: { cause?: unknown },
  ) {
    super(`object store denied access (${operation})`, options);
  }
}

/** A bucket the layout names does not exist (S3 `NoSuchBucket`): a deployment mistake. */
export class ObjectStoreBucketMissingError extends GoldgateError {
  readonly code = 'OBJECT_STORE_BUCKET_MISSING';
  constructor(
    readonly operation: ObjectStoreOperation,
    options?: { cause?: unknown },
  ) {
    super(`object store bucket missing (${operation})`, options);
  }
}

/** The store kept throttling (S3 `SlowDown`, 503) after the client's retries. Retry later. */
export class ObjectStoreThrottledError extends GoldgateError {
  readonly code = 'OBJECT_STORE_THROTTLED';
  constructor(
    readonly operation: ObjectStoreOperation,
    options?: { cause?: unknown },
  ) {
    super(`object store throttled the request (${operation})`, options);
  }
}

/** The store could not be reached or kept failing on its side (network, timeouts, 5xx) after retries. */
export class ObjectStoreUnavailableError extends GoldgateError {
  readonly code = 'OBJECT_STORE_UNAVAILABLE';
  constructor(
    readonly operation: ObjectStoreOperation,
    options?: { cause?: unknown },
  ) {
    super(`object store unavailable (${operation})`, options);
  }
}
