import { GoldgateError } from '../errors.js';

/** An incoming record or event does not match the source's contract. */
export class InvalidSourceRecordError extends GoldgateError {
  readonly code = 'INVALID_SOURCE_RECORD';
}

/** A Bronze write was refused (bad run reference, events of another entity). */
export class BronzeWriteError extends GoldgateError {
  readonly code = 'BRONZE_WRITE_FAILED';
}
