import { Logger } from '@aws-lambda-powertools/logger';

/**
 * The one structured JSON logger (Powertools). Each request or run appends a
 * `correlation_id` with `withCorrelation`; secrets are never passed to it.
 */
export const logger = new Logger({
  serviceName: 'goldgate',
  logLevel: (process.env.GOLDGATE_LOG_LEVEL ?? process.env.POWERTOOLS_LOG_LEVEL ?? 'INFO') as 'INFO',
});

/** A child logger whose every line carries the correlation id of a request or run. */
export function withCorrelation(correlationId: string, extra: Record<string, string> = {}): Logger {
  return logger.createChild({ persistentKeys: { correlation_id: correlationId, ...extra } });
}
