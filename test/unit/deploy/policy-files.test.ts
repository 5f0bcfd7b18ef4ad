import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadLakeFormationMapping } from '../../../src/adapters/policy-source/lake-formation.js';
import { definedRoles } from '../../../src/auth/policy/index.js';
import { SCOPE_CLAIMS } from '../../../src/auth/principal.js';
import { loadConfig } from '../../../src/config/index.js';

/**
 * The api's policy per stage, as serverless.yml chooses it: each stage names
 * its source, the file it names is under policies/ (which the api packages at
 * /var/task/policies/), and every Lake Formation mapping parses, reads the
 * stage's Gold database and maps the demo roles. The packaged zip itself is
 * checked by test/integration/deploy/cloudformation.test.ts.
 */

const root = fileURLToPath(new URL('../../../', import.meta.url));
const STAGES = ['dev', 'staging', 'prod'] as const;
const TASK_POLICIES = '/var/task/policies/';

const service = parse(readFileSync(`${root}serverless.yml`, 'utf8'), { logLevel: 'silent' }) as {
  params: Record<string, Record<string, unknown>>;
  functions: { api: { package?: { patterns?: string[] } } };
  resources: {
    Resources: { GoldDatabase: { Properties: { DatabaseInput: { Name: string } } } };
  };
};

/** A stage's params as the framework resolves them: the stage's block over `default`. */
function paramsOf(stage: string): Record<string, unknown> {
  return { ...service.params.default, ...service.params[stage] };
}

/** The repository file a /var/task/policies/ path names (the api packages policies/** there). */
function repoFile(taskPath: unknown): string {
  expect(typeof taskPath === 'string' && taskPath.startsWith(TASK_POLICIES), String(taskPath)).toBe(true);
  return `${root}policies/${String(taskPath).slice(TASK_POLICIES.length)}`;
}

const demoRoles = async () => (await definedRoles(loadConfig({}))).roles.map((r) => r.name);

describe('serverless.yml: the api policy of each stage', () => {
  it('packages policies/** with the api, and no stage inherits a policy source by default', () => {
    expect(service.functions.api.package?.patterns).toContain('policies/**');
    expect(service.params.default).not.toHaveProperty('apiPolicySource');
    expect(service.params.default).not.toHaveProperty('apiPolicyFile');
    expect(service.params.default).not.toHaveProperty('apiLfMappingFile');
  });

  it('dev serves the demo policy file', async () => {
    const params = paramsOf('dev');
    expect(params.apiPolicySource).toBe('file');
    expect(params).not.toHaveProperty('apiLfMappingFile');
    const file = repoFile(params.apiPolicyFile);
    const packaged = await definedRoles(loadConfig({ GOLDGATE_POLICY_FILE: file }));
    expect(packaged.roles.map((r) => r.name)).toEqual(await demoRoles());
  });

  it.each(['staging', 'prod'])(
    '%s reads Lake Formation through its own mapping of the demo roles',
    async (stage) => {
      const params = paramsOf(stage);
      expect(params.apiPolicySource).toBe('lakeformation');
      expect(params).not.toHaveProperty('apiPolicyFile');
      expect(params.apiLfMappingFile).toBe(`${TASK_POLICIES}lake-formation.${stage}.yaml`);
      const mapping = await loadLakeFormationMapping(repoFile(params.apiLfMappingFile));
      const goldDatabase = service.resources.Resources.GoldDatabase.Properties.DatabaseInput.Name;
      // serverless.yml names it goldgate_${sls:stage}_gold.
      expect(mapping.database).toBe(goldDatabase.replace(/\$\{sls:stage\}/, stage));
      expect(Object.keys(mapping.roles)).toEqual(expect.arrayContaining(await demoRoles()));
      // Row scopes come from claims the verifier reads: any other would match no row.
      const claims = Object.values(mapping.roles).flatMap((role) => [
        ...Object.values(role.claims ?? {}),
        ...role.filters.flatMap((f) => (typeof f === 'string' ? [] : Object.values(f.claims ?? {}))),
      ]);
      expect(claims.length).toBeGreaterThan(0);
      for (const claim of claims) expect(SCOPE_CLAIMS).toContain(claim);
    },
  );

  it("every mapping file under policies/ is a stage's, and the stages' differ only in the stage", () => {
    const mappings = readdirSync(`${root}policies`).filter((f) => f.startsWith('lake-formation.'));
    const used = STAGES.map((stage) => paramsOf(stage).apiLfMappingFile).filter((f) => f !== undefined);
    expect(mappings.map((f) => `${TASK_POLICIES}${f}`).sort()).toEqual([...used].sort());
    const text = (stage: string) => readFileSync(`${root}policies/lake-formation.${stage}.yaml`, 'utf8');
    expect(text('staging').replaceAll('staging', 'STAGE')).toBe(text('prod').replaceAll('prod', 'STAGE'));
    for (const stage of STAGES) {
      const file = paramsOf(stage).apiPolicyFile ?? paramsOf(stage).apiLfMappingFile;
      expect(existsSync(repoFile(file)), `${stage}: ${String(file)}`).toBe(true);
    }
  });
});
