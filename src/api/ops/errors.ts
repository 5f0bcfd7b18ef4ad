import { GoldgateError } from '../../errors.js';

/** `GET /ops/data` was asked with a query it does not take (an unknown parameter, a bad `runs`). */
export class OpsQueryInvalidError extends GoldgateError {
  readonly code = 'BAD_USER_INPUT';
}

/** A valid token without the `admin` or `ops` role asked for operations data. */
export class OpsForbiddenError extends GoldgateError {
  readonly code = 'FORBIDDEN';
}
