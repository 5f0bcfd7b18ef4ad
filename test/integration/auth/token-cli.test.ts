import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devKeyPaths } from '../../../src/auth/dev-keys.js';
import { createVerifier } from '../../../src/auth/verify.js';
import { loadConfig } from '../../../src/config/index.js';

/** `goldgate token` as a newcomer runs it: a child process, the policy file, the dev keys. */

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'goldgate.mjs');

let stateDir: string;

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'goldgate-token-'));
});
afterAll(async () => {
  await rm(stateDir, { recursive: true, force: true });
});

function baseEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('GOLDGATE_')) env[k] = v;
  return { ...env, GOLDGATE_STATE_DIR: stateDir, ...extra };
}

function goldgate(
  args: readonly string[],
  extra: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env: baseEnv(extra),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString('utf8');
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString('utf8');
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function verify(jwt: string) {
  const config = loadConfig(baseEnv());
  const verifier = await createVerifier({ ...config.auth, jwksFile: devKeyPaths(stateDir).jwks });
  return verifier(`Bearer ${jwt}`);
}

describe('goldgate token', () => {
  it('mints a csm token with its regions, customer ids and subject, verified as the API verifies', async () => {
    const result = await goldgate([
      'token',
      '--role',
      'csm',
      '--regions',
      'EU,US',
      '--customer-ids',
      'a,b',
      '--subject',
      'alice',
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toBe('');
    const principal = await verify(result.stdout.trim());
    expect(principal).toEqual({
      subject: 'alice',
      roles: ['csm'],
      scopes: { regions: ['EU', 'US'], customer_ids: ['a', 'b'] },
    });
  });

  it('mints every demo role (one process: each start costs seconds on a busy machine)', async () => {
    const roles = ['admin', 'finance', 'csm', 'analyst', 'databrain', 'custify'];
    const result = await goldgate(['token', ...roles.flatMap((r) => ['--role', r]), '--regions', 'EU']);
    expect(result.code, result.stderr).toBe(0);
    expect((await verify(result.stdout.trim())).roles).toEqual(roles);
  });

  it('refuses a role the policy does not define: exit 2, a clear message, no token', async () => {
    const result = await goldgate(['token', '--role', 'csm', '--role', 'auditor']);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain(
      'goldgate: "auditor" is a role the policy (policies/demo.yaml) does not define; defined: admin, analyst, csm, custify, databrain, finance, ops',
    );
  });

  it('notes a claim the role needs but the token lacks', async () => {
    const result = await goldgate(['token', '--role', 'csm']);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('role csm reads rows by the regions claim; without --regions');
    // custify reads every region without the claim: nothing to note.
    const custify = await goldgate(['token', '--role', 'custify']);
    expect(custify.stderr).toBe('');
  });

  it('follows the configured policy file', async () => {
    const file = join(stateDir, 'one-role.yaml');
    await writeFile(file, 'version: 1\nroles:\n  auditor:\n    marts:\n      invoices: { columns: "*" }\n');
    const ok = await goldgate(['token', '--role', 'auditor'], { GOLDGATE_POLICY_FILE: file });
    expect(ok.code, ok.stderr).toBe(0);
    const refused = await goldgate(['token', '--role', 'admin'], { GOLDGATE_POLICY_FILE: file });
    expect(refused.code).toBe(2);
  });
});
