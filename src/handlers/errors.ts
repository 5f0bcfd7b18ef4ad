import { GoldgateError } from '../errors.js';

/** A Lambda was invoked with a payload it cannot act on (a manual invocation with a wrong option). */
export class InvalidInvocationError extends GoldgateError {
  readonly code = 'INVALID_INVOCATION';
}
