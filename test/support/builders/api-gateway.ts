import type { APIGatewayProxyEventV2 } from 'aws-lambda';

/** What varies between the HTTP API requests the tests send. */
export interface HttpApiRequest {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** JSON-encoded into the event's body when given. */
  readonly body?: unknown;
  readonly requestId?: string;
}

/** A request as API Gateway (HTTP API, payload format 2.0) delivers it to a Lambda function. */
export function httpApiEvent(request: HttpApiRequest): APIGatewayProxyEventV2 {
  const routeKey = `${request.method} ${request.path}`;
  return {
    version: '2.0',
    routeKey,
    rawPath: request.path,
    rawQueryString: '',
    headers: { ...request.headers },
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'api.example.com',
      domainPrefix: 'api',
      http: {
        method: request.method,
        path: request.path,
        protocol: 'HTTP/1.1',
        sourceIp: '127.0.0.1',
        userAgent: 'test',
      },
      requestId: request.requestId ?? 'req-1',
      routeKey,
      stage: '$default',
      time: '21/Nov/2026:06:00:00 +0000',
      timeEpoch: 1_795_240_800_000,
    },
    ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
    isBase64Encoded: false,
  };
}
