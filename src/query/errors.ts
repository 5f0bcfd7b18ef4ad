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

/** The mart has never been published. */
export class MartUnavailableError extends GoldgateError {
  readonly code = 'MART_UNAVAILABLE';
}
