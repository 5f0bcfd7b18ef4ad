import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { PolicySourceLog } from '../../../src/adapters/policy-source/lake-formation.js';
import { createPolicy, maskSecretPath, type PolicyRuntime } from '../../../src/auth/policy/index.js';
import { findMart } from '../../../src/catalog/index.js';
import { loadConfig } from '../../../src/config/index.js';
import { lfColumnTags, lfFilter, startLakeFormationServer } from '../../support/lake-formation-server.js';

let dir: string;
const runtimes: PolicyRuntime[] = [];
let lines: string[];
const log: PolicySourceLog = {
  info: (message, extra) => lines.push(JSON.stringify({ level: 'info', message, ...extra })),
  warn: (message, extra) => lines.push(JSON.stringify({ level: 'warn', message, ...extra })),
  error: (message, extra) => lines.push(JSON.stringify({ level: 'error', message, ...extra })),
};

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'goldgate-create-policy-'));
});
afterEach(async () => {
  for (const r of runtimes.splice(0)) await r.close();
  vi.unstubAllEnvs();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function start(env: Record<string, string>, now?: () => number): Promise<PolicyRuntime> {
  lines = [];
  const runtime = await createPolicy(loadConfig(env), { log, ...(now ? { now } : {}) });
  runtimes.push(runtime);
  return runtime;
}

const c360 = findMart('customer_360');
if (!c360) throw new Error('catalog');

describe('createPolicy on the embedded home', () => {
  it('loads policies/demo.yaml by default and decides by it', async () => {
    const state = join(dir, 'default');
    const { policy, current } = await start({ GOLDGATE_STATE_DIR: state });
    expect(current().roles).toContain('csm');
    const csm = policy.accessFor({ subject: 'a', roles: ['csm'], scopes: { regions: ['EU'] } }, c360);
    expect(csm?.rows).toEqual([[{ column: 'region', values: ['EU'] }]]);
    expect(policy.accessFor({ subject: 'a', roles: ['nobody'], scopes: {} }, c360)).toBeUndefined();
  });

  it('generates the mask secret once into the state folder (0600), reuses it, and never logs it', async () => {
    const state = join(dir, 'secret');
    const first = await start({ GOLDGATE_STATE_DIR: state });
    expect(first.maskSecret).toMatch(/^[0-9a-f]{64}$/);
    expect((await stat(maskSecretPath(state))).mode & 0o777).toBe(0o600);
    const second = await start({ GOLDGATE_STATE_DIR: state });
    expect(second.maskSecret).toBe(first.maskSecret);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.join('\n')).not.toContain(first.maskSecret);
  });

  it('GOLDGATE_MASK_SECRET wins over the generated one', async () => {
    const secret = 'x'.repeat(40);
    const runtime = await start({ GOLDGATE_STATE_DIR: join(dir, 'explicit'), GOLDGATE_MASK_SECRET: secret });
    expect(runtime.maskSecret).toBe(secret);
  });

  it('a policy file that does not fit fails start-up with its line', async () => {
    const file = join(dir, 'bad.yaml');
    await writeFile(file, 'version: 1\nroles:\n  x:\n    marts:\n      invoices: { columns: [totl] }\n');
    await expect(
      start({ GOLDGATE_STATE_DIR: join(dir, 'bad'), GOLDGATE_POLICY_FILE: file }),
    ).rejects.toMatchObject({
      code: 'POLICY_INVALID',
      message: expect.stringMatching(
        /bad\.yaml:5:\d+ roles\.x\.marts\.invoices\.columns\[0\]: unknown column "totl"/,
      ),
    });
  });
});

describe('createPolicy: the mask secret where one is required', () => {
  it.each([
    ['the aws home', { GOLDGATE_HOME: 'aws' }],
    ['production', { NODE_ENV: 'production' }],
  ])('%s without GOLDGATE_MASK_SECRET fails naming the variable', async (_name, env) => {
    await expect(start({ GOLDGATE_STATE_DIR: join(dir, 'required'), ...env })).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringContaining('GOLDGATE_MASK_SECRET'),
    });
  });

  it('a short secret is refused by the config without echoing it', () => {
    try {
      loadConfig({ GOLDGATE_MASK_SECRET: 'hunter2-short' });
      expect.unreachable();
    } catch (error) {
      expect((error as Error).message).toContain('GOLDGATE_MASK_SECRET');
      expect((error as Error).message).not.toContain('hunter2');
    }
  });

  it('the policy settings have their defaults', () => {
    const config = loadConfig({});
    expect(config.policy.source).toBe('file');
    expect(config.policy.file.endsWith('policies/demo.yaml')).toBe(true);
    expect(config.policy.lakeFormation.refreshMs).toBe(300_000);
    expect(() => loadConfig({ GOLDGATE_POLICY_SOURCE: 'ldap' })).toThrow(/GOLDGATE_POLICY_SOURCE/);
  });
});

describe('createPolicy with the Lake Formation source', () => {
  it('needs the mapping file', async () => {
    await expect(
      start({ GOLDGATE_STATE_DIR: join(dir, 'lf0'), GOLDGATE_POLICY_SOURCE: 'lakeformation' }),
    ).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringContaining('GOLDGATE_LF_MAPPING_FILE'),
    });
  });

  it('reads LF through the configured endpoint and swaps in a refreshed policy without a restart', async () => {
    const lf = await startLakeFormationServer({
      filters: [lfFilter('customer_360', 'csm', { expression: "region = 'EU'" }, { excluding: ['phone'] })],
      columnTags: { customer_360: lfColumnTags({ email: { pii: 'email' }, phone: { pii: 'phone' } }) },
    });
    try {
      vi.stubEnv('AWS_REGION', 'eu-west-1');
      vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDTEST');
      vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'test-secret');
      const mapping = join(dir, 'lf.yaml');
      await writeFile(
        mapping,
        'version: 1\ndatabase: goldgate_gold\nroles:\n  csm:\n    filters: [csm]\n    pii: { default: none }\n',
      );
      let clock = 0;
      const runtime = await start(
        {
          GOLDGATE_STATE_DIR: join(dir, 'lf'),
          GOLDGATE_POLICY_SOURCE: 'lakeformation',
          GOLDGATE_LF_MAPPING_FILE: mapping,
          GOLDGATE_LF_ENDPOINT: lf.endpoint,
          GOLDGATE_LF_REFRESH_S: '60',
        },
        () => clock,
      );
      const csm = { subject: 'c', roles: ['csm'], scopes: {} };
      expect(runtime.policy.accessFor(csm, c360)?.rows).toEqual([[{ column: 'region', values: ['EU'] }]]);
      expect(lf.requests.every((r) => r.signed)).toBe(true);
      const firstDigest = runtime.current().digest;

      lf.state.filters = [
        lfFilter('customer_360', 'csm', { expression: "region IN ('EU','NA')" }, { excluding: [] }),
      ];
      clock += 60_000;
      // The decision is answered at once from the current policy; the refresh happens behind it.
      expect(runtime.policy.accessFor(csm, c360)?.rows).toEqual([[{ column: 'region', values: ['EU'] }]]);
      await vi.waitFor(() => {
        clock += 5_000;
        runtime.policy.fingerprint(csm);
        expect(runtime.current().digest).not.toBe(firstDigest);
      });
      expect(runtime.policy.accessFor(csm, c360)?.rows).toEqual([
        [{ column: 'region', values: ['EU', 'NA'] }],
      ]);
      expect(runtime.policy.accessFor(csm, c360)?.columns.has('phone')).toBe(true);
    } finally {
      await lf.close();
    }
  });
});
