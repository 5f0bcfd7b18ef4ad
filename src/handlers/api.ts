import { handlers } from '@as-integrations/aws-lambda';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { loadConfig } from '../config/index.js';
import { type ApiRuntime, createApiRuntime } from '../runtime/app.js';
import { logger } from '../runtime/logger.js';

// Built once per container: the engine client, the verifier's key set and Apollo are reused when warm.
let runtime: Promise<ApiRuntime> | undefined;
const requestHandler = handlers.createAPIGatewayProxyEventV2RequestHandler();

/**
 * Lambda entry point for the HTTP API (API Gateway HTTP API, payload v2).
 * The event conversion comes from `@as-integrations/aws-lambda`; everything
 * else is the same gateway core the local server runs.
 */
export async function handler(
  event: APIGatewayProxyEventV2,
  context: Context,
): Promise<APIGatewayProxyStructuredResultV2> {
  logger.addContext(context);
  runtime ??= createApiRuntime(loadConfig()).catch((error: unknown) => {
    // A failed start (bad policy, unreachable JWKS) must not poison the container for good.
    runtime = undefined;
    throw error;
  });
  const { gateway } = await runtime;
  const request = requestHandler.fromEvent(event);
  const headers: Record<string, string> = {};
  for (const [name, value] of request.headers) headers[name] = value;
  headers['x-correlation-id'] ??= event.requestContext.requestId;
  const response = await gateway.handle({
    method: request.method,
    path: event.rawPath,
    search: request.search,
    headers,
    body: request.body,
  });
  let body = '';
  if (typeof response.body === 'string') body = response.body;
  else {
    // A buffered Lambda answer is capped at 6 MB: a larger export must be paged (or served by the local server).
    for await (const chunk of response.body) {
      body += chunk;
      if (Buffer.byteLength(body) > MAX_LAMBDA_BODY_BYTES) return tooLarge(headers['x-correlation-id']);
    }
  }
  return { statusCode: response.status, headers: Object.fromEntries(response.headers), body };
}

/** API Gateway's payload limit, less room for headers. */
const MAX_LAMBDA_BODY_BYTES = 5_900_000;

function tooLarge(correlationId: string | undefined): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode: 413,
    headers: { 'content-type': 'application/json; charset=utf-8', 'x-correlation-id': correlationId ?? '' },
    body: JSON.stringify({
      error: {
        code: 'EXPORT_TOO_LARGE',
        message:
          'the export exceeds what one Lambda answer may carry; read it as JSON pages (limit and cursor)',
      },
    }),
  };
}
