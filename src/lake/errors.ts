import { GoldgateError } from '../errors.js';

/** Another run of the same job holds the lock. */
export class LockHeldError extends GoldgateError {
  readonly code = 'LOCK_HELD';
  constructor(
    readonly job: string,
    readonly holder: string | undefined,
    readonly expiresAt: string | undefined,
  ) {
    super(`job ${job} is already running`);
  }
}

/** The lock was lost (expired and taken over) while the run still worked. */
export class LockLostError extends GoldgateError {
  readonly code = 'LOCK_LOST';
  constructor(readonly job: string) {
    super(`lock for job ${job} was lost`);
  }
}

/** A blocking quality check failed: nothing was published. */
export class PublishBlockedError extends GoldgateError {
  readonly code = 'PUBLISH_BLOCKED';
  constructor(
    readonly target: string,
    readonly failedChecks: readonly string[],
  ) {
    super(`publication of ${target} blocked by failed checks: ${failedChecks.join(', ')}`);
  }
}

/** A run asked for (rollback, lineage) does not exist or is incomplete. */
export class RunNotFoundError extends GoldgateError {
  readonly code = 'RUN_NOT_FOUND';
  constructor(
    readonly target: string,
    readonly runId: string,
  ) {
    super(`no complete run ${runId} for ${target}`);
  }
}

/** A lake object does not match its contract (bad pointer, bad checkpoint, bad key). */
export class LakeCorruptError extends GoldgateError {
  readonly code = 'LAKE_CORRUPT';
}

/** A value that must name a run, mart or entity has the wrong shape. */
export class InvalidNameError extends GoldgateError {
  readonly code = 'INVALID_NAME';
}
