import { GoldgateError } from '../errors.js';

/** The SLA configuration (defaults, file or environment) is invalid or does not match the catalog. */
export class SlaConfigError extends GoldgateError {
  readonly code = 'SLA_CONFIG_INVALID';
  constructor(
    readonly problems: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(`invalid SLA configuration: ${problems.join('; ')}`, options);
  }
}

/** An operations request names a mart the catalog does not declare. */
export class UnknownMartError extends GoldgateError {
  readonly code = 'MART_NOT_FOUND';
  constructor(readonly mart: string) {
    super(`no mart named ${mart}`);
  }
}

/** A Gold run has no lineage: it was built before lineage was recorded and its Silver inputs are unknown. */
export class LineageUnavailableError extends GoldgateError {
  readonly code = 'LINEAGE_UNAVAILABLE';
  constructor(
    readonly mart: string,
    readonly runId: string,
  ) {
    super(`run ${runId} of ${mart} records no lineage`);
  }
}
