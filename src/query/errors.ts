import { GoldgateError } from '../errors.js';

/** The caller's arguments are invalid (bad cursor, bad value, unknown or hidden field). */
export class BadUserInputError extends GoldgateError {
  readonly code = 'BAD_USER_INPUT';
}

/** The mart is unknown to this caller (missing and forbidden read the same). */
export class MartNotFoundError extends GoldgateError {
  readonly code = 'NOT_FOUND';
  constructor() {
    super('not found');
  }
}

/** The caller knows the mart (an aggregate-only grant) but may not read its rows. */
export class ForbiddenError extends GoldgateError {
  readonly code = 'FORBIDDEN';
}

/** The mart has never been published. */
export class MartUnavailableError extends GoldgateError {
  readonly code = 'MART_UNAVAILABLE';
}

/** The request needs more engine statements than one request may run, or breaks a query guard. */
export class QueryTooComplexError extends GoldgateError {
  readonly code = 'QUERY_TOO_COMPLEX';
}

/** No engine capacity now (admission queue full or too slow); retry after `retryAfterS`. */
export class EngineBusyError extends GoldgateError {
  readonly code = 'ENGINE_BUSY';
  readonly retryAfterS: number;
  constructor(message: string, options: { retryAfterS: number; cause?: unknown }) {
    super(message, options);
    this.retryAfterS = options.retryAfterS;
  }
}

/**
 * The caller went away (closed the connection) while its statement waited for
 * the engine: nothing ran. Not a failure of the service; the same public code
 * as an engine statement aborted mid-way.
 */
export class QueryAbortedError extends GoldgateError {
  readonly code = 'ENGINE_ABORTED';
  constructor(options?: { cause?: unknown }) {
    super('the request was cancelled by its caller', options);
  }
}
