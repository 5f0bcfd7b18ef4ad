import { GoldgateError } from '../../errors.js';

export { PolicyInvalidError } from '../../auth/policy/errors.js';

/** The policy file cannot be read (missing, unreadable). */
export class PolicyUnreadableError extends GoldgateError {
  readonly code = 'POLICY_UNREADABLE';
}

/** The Lake Formation mapping file is missing or breaks its schema. */
export class LakeFormationMappingError extends GoldgateError {
  readonly code = 'LF_MAPPING_INVALID';
}

/** A Lake Formation row filter expression is outside the grammar goldgate accepts. */
export class RowFilterSyntaxError extends GoldgateError {
  readonly code = 'LF_ROW_FILTER_UNSUPPORTED';
  constructor(
    readonly expression: string,
    readonly position: number,
    problem: string,
  ) {
    super(`row filter ${JSON.stringify(expression)} at ${position + 1}: ${problem}`);
  }
}

/** Lake Formation could not be read (network, permissions, throttling) and no good policy is cached. */
export class PolicySourceUnavailableError extends GoldgateError {
  readonly code = 'POLICY_SOURCE_UNAVAILABLE';
}
