import { GoldgateError } from '../errors.js';

/**
 * The request carries no valid token. The message is the same whatever went
 * wrong; `reason` (for the log only) says what.
 */
export class UnauthenticatedError extends GoldgateError {
  readonly code = 'UNAUTHENTICATED';
  constructor(
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super('authentication required', options);
  }
}

/** The dev key files are missing or unreadable. */
export class KeyStoreError extends GoldgateError {
  readonly code = 'KEY_STORE_ERROR';
}
