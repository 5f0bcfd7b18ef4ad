import { z } from 'zod';
import { ConfigError } from './errors.js';

/**
 * Read a SecureString parameter through the AWS Parameters and Secrets Lambda
 * extension (HTTP on localhost, no SDK). The value is returned, never logged.
 */
export async function readSsmParameter(
  name: string,
  env: NodeJS.ProcessEnv = process.env,
  fetchFn: typeof fetch = fetch,
): Promise<string> {
  const port = env.PARAMETERS_SECRETS_EXTENSION_HTTP_PORT ?? '2773';
  const token = env.AWS_SESSION_TOKEN;
  if (!token) throw new ConfigError([`SSM parameter ${name}: no AWS session (run inside Lambda)`]);
  let response: Response;
  try {
    response = await fetchFn(
      `http://localhost:${port}/systemsmanager/parameters/get?name=${encodeURIComponent(name)}&withDecryption=true`,
      { headers: { 'X-Aws-Parameters-Secrets-Token': token }, signal: AbortSignal.timeout(5_000) },
    );
  } catch (error) {
    throw new ConfigError([`SSM parameter ${name}: the parameters extension did not answer`], {
      cause: error,
    });
  }
  const body = z
    .object({ Parameter: z.object({ Value: z.string().min(1) }) })
    .safeParse(await response.json().catch(() => undefined));
  if (!response.ok || !body.success) {
    throw new ConfigError([`SSM parameter ${name}: not readable (HTTP ${response.status})`]);
  }
  return body.data.Parameter.Value;
}
