import { GoldgateError } from '../../errors.js';

/**
 * A stream record was not turned into a Bronze event. Thrown inside the batch
 * processor's record handler, which is how Powertools learns that a record
 * failed; `reason` names paths, never values (they may be personal data).
 */
export class StreamRecordRejectedError extends GoldgateError {
  readonly code = 'STREAM_RECORD_REJECTED';
}

/**
 * The batch processor did not account for every record (a Powertools change or
 * a bug here). Thrown, so that Lambda delivers the whole batch again rather
 * than lose a record nobody looked at.
 */
export class StreamBatchProcessingError extends GoldgateError {
  readonly code = 'STREAM_BATCH_PROCESSING_FAILED';
}
