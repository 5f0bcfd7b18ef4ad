import { GoldgateError } from '../../errors.js';

/** The transforms on Athena cannot run with the settings given (a Glue database or bucket is missing). */
export class AthenaTransformConfigError extends GoldgateError {
  readonly code = 'ATHENA_TRANSFORM_CONFIG';
}

/**
 * What the lake holds does not fit the Athena transforms: e.g. a Silver
 * version published by the embedded home (no Iceberg snapshot to read).
 */
export class AthenaLakeStateError extends GoldgateError {
  readonly code = 'ATHENA_LAKE_STATE';
}
