import { GoldgateError } from '../errors.js';

/** The environment or a config file is invalid; `issues` name each setting and problem. */
export class ConfigError extends GoldgateError {
  readonly code = 'CONFIG_INVALID';
  constructor(
    readonly issues: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(`invalid configuration:\n  - ${issues.join('\n  - ')}`, options);
  }
}
