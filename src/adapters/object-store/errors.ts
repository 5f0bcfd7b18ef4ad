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

/** The store failed for a reason other than the above (I/O, network, permissions). */
export class ObjectStoreError extends GoldgateError {
  readonly code = 'OBJECT_STORE_ERROR';
}
