import { GoldgateError } from '../../errors.js';

/** Where a problem sits in a policy file, when the source knows it (1-based). */
export interface PolicyLocation {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/** One problem of a policy document: the path to the offending value and what is wrong. */
export interface PolicyProblem {
  readonly path: readonly (string | number)[];
  readonly message: string;
  readonly location?: PolicyLocation;
}

/** `roles.csm.marts.customer_360.columns[1]`: a document path as people read it. */
export function formatPolicyPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? segment : `.${segment}`;
  }
  return out === '' ? '(document)' : out;
}

/** `policies/demo.yaml:14:7 roles.csm...: unknown column "emial" of customer_360` */
export function formatPolicyProblem(problem: PolicyProblem): string {
  const where = problem.location
    ? `${problem.location.file}:${problem.location.line}:${problem.location.column} `
    : '';
  return `${where}${formatPolicyPath(problem.path)}: ${problem.message}`;
}

/**
 * The policy document breaks the schema or does not fit the mart catalog.
 * A load error: the process does not start with it, and a refresh keeps the last good policy.
 */
export class PolicyInvalidError extends GoldgateError {
  readonly code = 'POLICY_INVALID';
  constructor(
    readonly problems: readonly PolicyProblem[],
    options?: { cause?: unknown; origin?: string },
  ) {
    super(
      `invalid policy${options?.origin ? ` (${options.origin})` : ''}:\n  - ${problems.map(formatPolicyProblem).join('\n  - ')}`,
      options,
    );
  }
}

/** The per-stage masking secret is missing or too short where one is required. */
export class MaskSecretError extends GoldgateError {
  readonly code = 'MASK_SECRET_INVALID';
}
