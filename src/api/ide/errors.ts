import { GoldgateError } from '../../errors.js';

/** The IDE bundle could not be built (esbuild missing or failing, unexpected output). */
export class IdeBuildError extends GoldgateError {
  readonly code = 'IDE_BUILD_FAILED';
}

/** The built IDE folder is missing, incomplete or holds an unreadable manifest. */
export class IdeUnavailableError extends GoldgateError {
  readonly code = 'IDE_UNAVAILABLE';
}
