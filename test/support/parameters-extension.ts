import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in for the AWS Parameters and Secrets Lambda extension: HTTP on
 * 127.0.0.1, `GET /systemsmanager/parameters/get?name=...&withDecryption=true`,
 * answering only requests whose `X-Aws-Parameters-Secrets-Token` header holds
 * the session token (the extension compares it with the function's
 * `AWS_SESSION_TOKEN`). Secrets Manager secrets are reached as the extension
 * reaches them, by their `/aws/reference/secretsmanager/...` parameter name.
 * Requests are recorded without their values.
 */

export interface ParametersExtensionRequest {
  readonly path: string;
  readonly name: string | null;
  readonly withDecryption: string | null;
  /** Whether the request carried the session token. */
  readonly authorized: boolean;
}

export interface ParametersExtension {
  /** `PARAMETERS_SECRETS_EXTENSION_HTTP_PORT` of a function using this stand-in. */
  readonly port: string;
  /** `AWS_SESSION_TOKEN` of a function using this stand-in. */
  readonly token: string;
  /** Parameter name -> value; change it to rotate or remove a parameter. */
  readonly parameters: Map<string, string>;
  readonly requests: ParametersExtensionRequest[];
  /** The environment a function reading through this stand-in has. */
  env(): { PARAMETERS_SECRETS_EXTENSION_HTTP_PORT: string; AWS_SESSION_TOKEN: string };
  close(): Promise<void>;
}

/** Start the stand-in on a free port of 127.0.0.1. */
export async function startParametersExtension(
  parameters: Readonly<Record<string, string>> = {},
): Promise<ParametersExtension> {
  const token = randomBytes(24).toString('base64url');
  const values = new Map(Object.entries(parameters));
  const requests: ParametersExtensionRequest[] = [];

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const authorized = req.headers['x-aws-parameters-secrets-token'] === token;
    const name = url.searchParams.get('name');
    requests.push({
      path: url.pathname,
      name,
      withDecryption: url.searchParams.get('withDecryption'),
      authorized,
    });
    const send = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (!authorized) return send(401, { message: 'Unauthorized' });
    if (req.method !== 'GET' || url.pathname !== '/systemsmanager/parameters/get')
      return send(404, { message: 'Not Found' });
    const value = name === null ? undefined : values.get(name);
    if (name === null || value === undefined)
      return send(400, { __type: 'ParameterNotFound', message: 'parameter not found' });
    const secret = name.startsWith('/aws/reference/secretsmanager/');
    return send(200, {
      Parameter: {
        ARN: `arn:aws:ssm:eu-west-1:123456789012:parameter${name}`,
        DataType: 'text',
        LastModifiedDate: '2026-11-21T06:00:00.000Z',
        Name: name,
        Selector: null,
        SourceResult: secret ? '{"Name":"secret"}' : null,
        Type: 'SecureString',
        Value: value,
        Version: 1,
      },
      ResultMetadata: {},
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = String((server.address() as AddressInfo).port);
  return {
    port,
    token,
    parameters: values,
    requests,
    env: () => ({ PARAMETERS_SECRETS_EXTENSION_HTTP_PORT: port, AWS_SESSION_TOKEN: token }),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}
