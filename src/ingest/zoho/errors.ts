import { GoldgateError } from '../../errors.js';

/**
 * Errors of the Zoho Books client, puller and reconciler. Messages name what
 * failed and never carry a token, client secret, refresh token or full URL.
 */

/** The accounts server refused the client id, client secret or refresh token. */
export class ZohoInvalidCredentialsError extends GoldgateError {
  readonly code = 'INVALID_CREDENTIALS';
  constructor(
    /** Zoho's own error word (`invalid_code`, `invalid_client`), never a secret. */
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`Zoho accounts server refused the OAuth credentials (${reason})`, options);
  }
}

/** Refreshing the access token again now would exceed the allowed refreshes per minute. */
export class ZohoTokenRefreshLimitedError extends GoldgateError {
  readonly code = 'TOKEN_REFRESH_LIMITED';
}

/** Zoho Books refused a call even with a freshly refreshed token (scope, organisation). */
export class ZohoUnauthorizedError extends GoldgateError {
  readonly code = 'ZOHO_UNAUTHORIZED';
}

/** Zoho Books kept answering 429 until the attempts ran out. */
export class ZohoRateLimitedError extends GoldgateError {
  readonly code = 'ZOHO_RATE_LIMITED';
}

/** The daily request budget of the organisation is spent; the next run resumes. */
export class ZohoDailyBudgetExhaustedError extends GoldgateError {
  readonly code = 'ZOHO_DAILY_BUDGET_EXHAUSTED';
}

/** 5xx answers, timeouts or dropped connections until the attempts ran out. */
export class ZohoUnavailableError extends GoldgateError {
  readonly code = 'ZOHO_UNAVAILABLE';
}

/** Zoho answered with an error envelope `{code, message}` that retrying cannot fix. */
export class ZohoApiError extends GoldgateError {
  readonly code = 'ZOHO_API_ERROR';
  constructor(
    readonly status: number,
    /** Zoho's numeric error code, e.g. 1002. */
    readonly zohoCode: number | undefined,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** An answer that is not the JSON the API documents. */
export class ZohoBadResponseError extends GoldgateError {
  readonly code = 'ZOHO_BAD_RESPONSE';
}

/** The caller stopped the work (signal aborted). */
export class ZohoAbortedError extends GoldgateError {
  readonly code = 'ZOHO_ABORTED';
}

/** A scheduled pull or reconciliation failed for some entities (the others ran); fails the invocation. */
export class ZohoIngestFailedError extends GoldgateError {
  readonly code = 'ZOHO_INGEST_FAILED';
}
