import { z } from 'zod';

/**
 * The AWS JSON 1.1 shapes the local endpoint accepts, after the botocore
 * model athena/2017-05-18 (field names, lengths and ranges), parsed with zod
 * at the edge like every external input.
 */

const id = z.string().min(1).max(128);

export const startQueryExecutionInput = z.object({
  QueryString: z.string().min(1).max(262_144),
  ClientRequestToken: z.string().min(32).max(128).optional(),
  QueryExecutionContext: z
    .object({
      Database: z.string().min(1).max(255).optional(),
      Catalog: z.string().min(1).max(256).optional(),
    })
    .optional(),
  ResultConfiguration: z.object({ OutputLocation: z.string().optional() }).loose().optional(),
  WorkGroup: z.string().optional(),
  ExecutionParameters: z.array(z.string().min(1).max(1024)).min(1).optional(),
  ResultReuseConfiguration: z
    .object({
      ResultReuseByAgeConfiguration: z
        .object({ Enabled: z.boolean(), MaxAgeInMinutes: z.number().int().min(0).max(10_080).optional() })
        .optional(),
    })
    .optional(),
});
export type StartQueryExecutionInput = z.infer<typeof startQueryExecutionInput>;

export const queryExecutionIdInput = z.object({ QueryExecutionId: id });

export const getQueryResultsInput = z.object({
  QueryExecutionId: id,
  NextToken: z.string().min(1).max(1024).optional(),
  MaxResults: z.number().int().min(1).max(1000).optional(),
});

/** The operations the endpoint serves (`X-Amz-Target: AmazonAthena.<op>`). */
export const OPERATIONS = [
  'StartQueryExecution',
  'GetQueryExecution',
  'GetQueryResults',
  'StopQueryExecution',
] as const;
export type Operation = (typeof OPERATIONS)[number];

/** An error answer as Athena sends it: status, `__type`, `Message` and the shape's own fields. */
export interface WireError {
  readonly status: number;
  readonly type: string;
  readonly message: string;
  readonly fields?: Readonly<Record<string, string>>;
}

/** `InvalidRequestException`, with `AthenaErrorCode` when Athena gives one. */
export function invalidRequest(message: string, athenaErrorCode?: string): WireError {
  return {
    status: 400,
    type: 'InvalidRequestException',
    message,
    ...(athenaErrorCode ? { fields: { AthenaErrorCode: athenaErrorCode } } : {}),
  };
}

/** `TooManyRequestsException` (Athena's throttling shape, with its `Reason`). */
export function tooManyRequests(reason = 'CONCURRENT_QUERY_LIMIT_EXCEEDED'): WireError {
  return {
    status: 400,
    type: 'TooManyRequestsException',
    message: 'You have exceeded the limit for the number of queries you can run concurrently.',
    fields: { Reason: reason },
  };
}

/** The generic AWS throttling answer (API request rate), not modelled by Athena. */
export function throttling(): WireError {
  return { status: 400, type: 'ThrottlingException', message: 'Rate exceeded' };
}

/** `InternalServerException`. */
export function internalError(): WireError {
  return { status: 500, type: 'InternalServerException', message: 'Internal error' };
}

/** Thrown inside a handler to answer with an error shape. */
export class WireFault extends Error {
  constructor(readonly wire: WireError) {
    super(wire.message);
    this.name = 'WireFault';
  }
}
