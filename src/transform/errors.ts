import { GoldgateError } from '../errors.js';

/** A transform step failed; the run published nothing past the last committed step. */
export class TransformError extends GoldgateError {
  readonly code = 'TRANSFORM_FAILED';
  constructor(
    readonly step: string,
    options?: { cause?: unknown },
  ) {
    super(`transform step ${step} failed`, options);
  }
}

/** An operator command names something that is not there (e.g. no condemned rows for an entity). */
export class NothingToDoError extends GoldgateError {
  readonly code = 'NOTHING_TO_DO';
}

/** A Silver run folder's `version.json` cannot be read: the version's files are unknown. */
export class SilverVersionError extends GoldgateError {
  readonly code = 'SILVER_VERSION_UNREADABLE';
  constructor(
    readonly target: string,
    readonly runId: string,
    options?: { cause?: unknown },
  ) {
    super(`the files of ${target} run ${runId} are not described`, options);
  }
}
