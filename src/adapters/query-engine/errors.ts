import { GoldgateError } from '../../errors.js';

/** The engine rejected or failed the statement. The engine's own text stays in `cause`. */
export class QueryFailedError extends GoldgateError {
  readonly code = 'ENGINE_QUERY_FAILED';
  constructor(
    readonly label: string,
    options?: { cause?: unknown; reason?: string },
  ) {
    super('query failed', options);
    this.reason = options?.reason;
  }
  /** The engine's own reason (Athena `StateChangeReason`, DuckDB message): for logs only. */
  readonly reason: string | undefined;
}

/** The statement ran past its time limit and was stopped. */
export class QueryTimeoutError extends GoldgateError {
  readonly code = 'ENGINE_TIMEOUT';
  constructor(readonly timeoutMs: number) {
    super('query timed out');
  }
}

/** The caller aborted the statement (client went away, request cancelled). */
export class QueryAbortedError extends GoldgateError {
  readonly code = 'ENGINE_ABORTED';
  constructor() {
    super('query aborted');
  }
}

/** The engine has no capacity now (queue full, throttled); the caller may retry. */
export class EngineBusyError extends GoldgateError {
  readonly code = 'ENGINE_BUSY';
}

/**
 * Athena's own account of a statement that did not succeed. It travels only as
 * the `cause` of the port's errors and in logs: `reason` (StateChangeReason)
 * may quote the statement, so it never reaches a caller's message.
 */
export class AthenaQueryStateError extends GoldgateError {
  readonly code = 'ATHENA_QUERY_STATE';
  constructor(
    readonly queryId: string,
    readonly state: string,
    readonly reason: string | undefined,
    readonly athenaError?: {
      readonly category?: number;
      readonly type?: number;
      readonly retryable?: boolean;
    },
  ) {
    super(`athena query ${state.toLowerCase()}`);
  }
}
