import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { PolicySourceLog } from '../../../src/adapters/policy-source/lake-formation.js';
import { createPolicy, resolveMaskSecret } from '../../../src/auth/policy/index.js';
import { loadConfig } from '../../../src/config/index.js';
import { httpApiEvent } from '../../support/builders/api-gateway.js';
import { type ParametersExtension, startParametersExtension } from '../../support/parameters-extension.js';

/**
 * The mask secret on the aws home: `GOLDGATE_MASK_SECRET_PARAM` names a
 * Parameter Store parameter (a Secrets Manager secret by its
 * `/aws/reference/secretsmanager/` name), read through the Parameters and
 * Secrets extension (here a stand-in over HTTP on 127.0.0.1) once per
 * container, and never written to a log or an error.
 */

const PARAM = '/aws/reference/secretsmanager/goldgate/test/mask-secret';
const SECRET = `mask-${'s3cr3t'.repeat(8)}`;

let dir: string;
let extension: ParametersExtension;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'goldgate-mask-secret-'));
});
beforeEach(async () => {
  extension = await startParametersExtension({ [PARAM]: SECRET });
});
afterEach(async () => {
  vi.unstubAllEnvs();
  await extension.close();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The aws home's settings the api needs to start, with the mask secret behind the extension. */
function awsEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    GOLDGATE_HOME: 'aws',
    NODE_ENV: 'production',
    GOLDGATE_STATE_DIR: join(dir, 'state'),
    GOLDGATE_MASK_SECRET_PARAM: PARAM,
    ...extra,
  };
}

/** What a thrown error shows a caller and a log: its code and message. */
async function failure(promise: Promise<unknown>): Promise<{ code: unknown; message: string }> {
  try {
    await promise;
  } catch (error) {
    return { code: (error as { code?: unknown }).code, message: (error as Error).message };
  }
  throw new Error('expected a failure');
}

describe('GOLDGATE_MASK_SECRET_PARAM: the mask secret through the Parameters and Secrets extension', () => {
  it('reads the parameter with decryption, presenting the session token, and masks with its value', async () => {
    const secret = await resolveMaskSecret(loadConfig(awsEnv()), extension.env());
    expect(secret).toBe(SECRET);
    expect(extension.requests).toEqual([
      {
        path: '/systemsmanager/parameters/get',
        name: PARAM,
        withDecryption: 'true',
        authorized: true,
      },
    ]);
  });

  it('createPolicy serves with it on the aws home and never logs it', async () => {
    for (const [name, value] of Object.entries(extension.env())) vi.stubEnv(name, value);
    const lines: string[] = [];
    const log: PolicySourceLog = {
      info: (message, extra) => lines.push(JSON.stringify({ message, ...extra })),
      warn: (message, extra) => lines.push(JSON.stringify({ message, ...extra })),
      error: (message, extra) => lines.push(JSON.stringify({ message, ...extra })),
    };
    const runtime = await createPolicy(loadConfig(awsEnv()), { log });
    try {
      expect(runtime.maskSecret).toBe(SECRET);
      expect(lines.length).toBeGreaterThan(0);
      expect(lines.join('\n')).not.toContain(SECRET);
    } finally {
      await runtime.close();
    }
  });

  it('a token the extension does not know is refused; the error names the parameter, not a value', async () => {
    const result = await failure(
      resolveMaskSecret(loadConfig(awsEnv()), { ...extension.env(), AWS_SESSION_TOKEN: 'another-session' }),
    );
    expect(result.code).toBe('CONFIG_INVALID');
    expect(result.message).toContain(PARAM);
    expect(result.message).toContain('HTTP 401');
    expect(result.message).not.toContain(SECRET);
    expect(extension.requests.map((r) => r.authorized)).toEqual([false]);
  });

  it('a parameter that does not exist fails start-up naming it', async () => {
    extension.parameters.delete(PARAM);
    const result = await failure(resolveMaskSecret(loadConfig(awsEnv()), extension.env()));
    expect(result.code).toBe('CONFIG_INVALID');
    expect(result.message).toContain(PARAM);
  });

  it('a short secret in the parameter is refused without echoing it', async () => {
    extension.parameters.set(PARAM, 'hunter2-short');
    const result = await failure(resolveMaskSecret(loadConfig(awsEnv()), extension.env()));
    expect(result.code).toBe('MASK_SECRET_INVALID');
    expect(result.message).toContain(PARAM);
    expect(result.message).not.toContain('hunter2');
  });

  it('outside Lambda (no session token) or with no extension listening, start-up fails with a clear error', async () => {
    const config = loadConfig(awsEnv());
    const noSession = await failure(
      resolveMaskSecret(config, { PARAMETERS_SECRETS_EXTENSION_HTTP_PORT: extension.port }),
    );
    expect(noSession).toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringContaining('no AWS session'),
    });
    const closed = await startParametersExtension();
    await closed.close();
    const noExtension = await failure(resolveMaskSecret(config, closed.env()));
    expect(noExtension).toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringContaining('the parameters extension did not answer'),
    });
  });

  it('neither the value nor the parameter on the aws home: the error names both', async () => {
    const config = loadConfig({ GOLDGATE_HOME: 'aws', GOLDGATE_STATE_DIR: join(dir, 'none') });
    const result = await failure(resolveMaskSecret(config, extension.env()));
    expect(result.code).toBe('CONFIG_INVALID');
    expect(result.message).toContain('GOLDGATE_MASK_SECRET or GOLDGATE_MASK_SECRET_PARAM');
    expect(extension.requests).toEqual([]);
  });

  it('the config refuses both at once, and a parameter name that is not one', () => {
    expect(() => loadConfig(awsEnv({ GOLDGATE_MASK_SECRET: SECRET }))).toThrow(
      /GOLDGATE_MASK_SECRET, GOLDGATE_MASK_SECRET_PARAM: set one, not both/,
    );
    try {
      loadConfig(awsEnv({ GOLDGATE_MASK_SECRET: SECRET }));
    } catch (error) {
      expect((error as Error).message).not.toContain(SECRET);
    }
    expect(() => loadConfig(awsEnv({ GOLDGATE_MASK_SECRET_PARAM: 'goldgate mask secret?' }))).toThrow(
      /GOLDGATE_MASK_SECRET_PARAM: not an SSM parameter name/,
    );
    expect(loadConfig(awsEnv()).policy).toMatchObject({ maskSecret: undefined, maskSecretParam: PARAM });
  });
});

/** `GET /health` as API Gateway (HTTP API, payload v2) delivers it. */
function healthEvent(requestId: string): APIGatewayProxyEventV2 {
  return httpApiEvent({ method: 'GET', path: '/health', requestId });
}

describe('the api Lambda handler on the aws home', () => {
  it('reads the mask secret once per container, and a failed read does not poison the container', async () => {
    const env = awsEnv({
      ...extension.env(),
      GOLDGATE_S3_BUCKET: 'goldgate-test-control',
      GOLDGATE_ATHENA_DATABASE: 'goldgate_test_gold',
      // Nothing listens there: starting up must not call Athena, the IdP or S3.
      GOLDGATE_ATHENA_ENDPOINT: 'http://127.0.0.1:9',
      GOLDGATE_JWKS_URL: 'http://127.0.0.1:9/.well-known/jwks.json',
      GOLDGATE_LOG_LEVEL: 'DEBUG',
      AWS_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'AKIDTEST',
      AWS_SECRET_ACCESS_KEY: 'test-secret',
    });
    for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
    const written: string[] = [];
    const capture = (chunk: string | Uint8Array): boolean => {
      written.push(String(chunk));
      return true;
    };
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(capture);
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(capture);
    try {
      vi.resetModules();
      const { handler } = await import('../../../src/handlers/api.js');
      const context = { awsRequestId: 'req', functionName: 'goldgate-test-api' } as Context;

      // The secret is not there yet: start-up fails, naming the parameter.
      extension.parameters.delete(PARAM);
      const first = await failure(handler(healthEvent('req-0'), context));
      expect(first.code).toBe('CONFIG_INVALID');
      expect(first.message).toContain(PARAM);

      // Created: the next invocation starts the runtime, and the warm ones reuse it.
      extension.parameters.set(PARAM, SECRET);
      for (const id of ['req-1', 'req-2', 'req-3']) {
        const result = await handler(healthEvent(id), context);
        expect(result.statusCode, id).toBe(200);
      }
      expect(extension.requests.map((r) => [r.name, r.authorized])).toEqual([
        [PARAM, true],
        [PARAM, true],
      ]);
      // The start-up was logged (at DEBUG), and the secret was not.
      expect(written.join('')).toContain('policy in force');
      expect(written.join('')).not.toContain(SECRET);
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
    }
  });
});
