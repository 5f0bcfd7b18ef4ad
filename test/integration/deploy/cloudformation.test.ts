import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { LocalObjectStore } from '../../../src/adapters/object-store/local.js';
import { loadLakeFormationMapping } from '../../../src/adapters/policy-source/lake-formation.js';
import { definedRoles } from '../../../src/auth/policy/index.js';
import { MARTS } from '../../../src/catalog/index.js';
import { loadConfig } from '../../../src/config/index.js';
import { parseStreamTables } from '../../../src/handlers/ddb-stream.js';
import { parseZohoSettings } from '../../../src/ingest/zoho/client.js';
import { checkSlas, powertoolsSlaMetrics, SLA_METRICS } from '../../../src/ops/index.js';
import { httpApiEvent } from '../../support/builders/api-gateway.js';
import {
  type LfDataCellsFilter,
  lfColumnTags,
  lfFilter,
  startLakeFormationServer,
} from '../../support/lake-formation-server.js';
import { startParametersExtension } from '../../support/parameters-extension.js';
import { extractZip, readZip, type ZipEntry } from '../../support/zip.js';
import {
  checkAlarms,
  checkAthenaWorkGroups,
  checkBronzeLifecycle,
  checkBuckets,
  checkFunctionRoles,
  checkIdentityPolicies,
  checkKeys,
  checkMetricAlarms,
  checkNoSecretsInEnvironment,
  checkStreamMappings,
  type ExpectedMetricAlarm,
  functionEnvironments,
  identityPolicies,
  parseTemplate,
  physicalNames,
  stringOf,
  type Template,
  withNames,
} from './template-checks.js';

const run = promisify(execFile);
const repo = new URL('../../../', import.meta.url).pathname;

/**
 * The values the stage's SSM parameters (`/goldgate/<stage>/<name>`) must hold
 * (docs/runbook.md creates them); the functions read these from CloudFormation
 * dynamic references.
 */
const SSM_EXAMPLES: Readonly<Record<string, string>> = {
  'jwt-issuer': 'https://id.example.com/',
  'jwt-audience': 'goldgate-api',
  'jwks-url': 'https://id.example.com/.well-known/jwks.json',
  'zoho/organization-id': '60012345678',
  'zoho/dc': 'eu',
};

/**
 * Settings serverless.yml sets that no code reads yet, waiting for the
 * adapters that will (issue 7). A name leaves this list once `src/` reads it.
 */
const PENDING_NAMES: ReadonlySet<string> = new Set([
  'GOLDGATE_S3_BUCKETS',
  'GOLDGATE_S3_BUCKET',
  'GOLDGATE_GLUE_DATABASES',
]);

/** Where Lambda unpacks a function's zip (and its working directory). */
const TASK_ROOT = '/var/task';

/**
 * A function's environment as it will be in the account: references to the
 * stack's resources by their physical names, the stage's SSM dynamic
 * references by the example values above. Undefined where a value has no example.
 */
function exampleEnvironment(
  variables: Readonly<Record<string, string | undefined>>,
  names: ReadonlyMap<string, string>,
  stage = 'prod',
): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(variables)) {
    if (value === undefined) {
      env[name] = undefined;
      continue;
    }
    const resolved = withNames(value, names);
    const ssm = /^\{\{resolve:ssm:([^}]+)\}\}$/.exec(resolved)?.[1];
    const prefix = `/goldgate/${stage}/`;
    if (ssm === undefined) env[name] = resolved;
    else env[name] = ssm.startsWith(prefix) ? SSM_EXAMPLES[ssm.slice(prefix.length)] : undefined;
  }
  return env;
}

/** The parts of `serverless print` these tests read. */
interface PrintedService {
  readonly provider: { readonly environment: Record<string, unknown> };
  readonly functions: {
    readonly api: {
      readonly environment: Record<string, unknown>;
      readonly package: { readonly patterns: readonly string[] };
    };
  };
  readonly resources: { readonly Resources: Template['Resources'] };
}

/** The service as a stage resolves it (`serverless print`, offline), with no packaging. */
async function printed(stage: string, cwd: string): Promise<PrintedService> {
  const { stdout } = await run(
    process.execPath,
    ['node_modules/osls/bin/serverless.js', 'print', '--stage', stage, '--format', 'json'],
    {
      cwd,
      env: {
        ...process.env,
        SLS_TELEMETRY_DISABLED: '1',
        HTTP_PROXY: 'http://127.0.0.1:9',
        HTTPS_PROXY: 'http://127.0.0.1:9',
      },
      timeout: 120_000,
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  return JSON.parse(stdout) as PrintedService;
}

/** `GET /health` as API Gateway (HTTP API, payload v2) delivers it. */
function healthEvent(requestId: string): APIGatewayProxyEventV2 {
  return httpApiEvent({ method: 'GET', path: '/health', requestId });
}

/** Set by the runtime or read by libraries (Powertools), not by goldgate's own code. */
const LIBRARY_NAMES = /^(NODE_ENV|POWERTOOLS_[A-Z_]+|AWS_[A-Z_]+)$/;

const FUNCTIONS = [
  'api',
  'pipeline',
  'zohoPull',
  'zohoReconcile',
  'ddbStream',
  'slaCheck',
  'maintenance',
] as const;

/** The Lake Formation operations the policy source calls, read from its imports of the SDK. */
async function lakeFormationOperations(): Promise<string[]> {
  const text = await readFile(join(repo, 'src/adapters/policy-source/lake-formation.ts'), 'utf8');
  const imports = /import\s*\{([^}]*)\}\s*from\s*'@aws-sdk\/client-lakeformation'/.exec(text)?.[1] ?? '';
  const operations = new Set<string>();
  for (const name of imports.split(',').map((n) => n.trim())) {
    const operation = /^paginate(\w+)$/.exec(name)?.[1] ?? /^(\w+)Command$/.exec(name)?.[1];
    if (operation) operations.add(operation);
  }
  return [...operations].sort();
}

/**
 * The SLA metric series the code writes, as CloudWatch will store them: run
 * the SLA check over an empty lake with Powertools' EMF sink configured from
 * `env` (the function's environment) and read the namespace and dimensions of
 * each line it prints.
 */
async function emittedSlaSeries(
  env: Readonly<Record<string, string | undefined>>,
): Promise<ExpectedMetricAlarm[]> {
  const lake = await mkdtemp(join(tmpdir(), 'goldgate-sla-series-'));
  const lines: string[] = [];
  for (const name of ['POWERTOOLS_METRICS_NAMESPACE', 'POWERTOOLS_SERVICE_NAME'])
    vi.stubEnv(name, env[name] ?? '');
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    await checkSlas(
      new LocalObjectStore(lake),
      { kind: 'schedule' },
      { metrics: powertoolsSlaMetrics(), logger: new Logger({ logLevel: 'SILENT' }) },
    );
  } finally {
    write.mockRestore();
    vi.unstubAllEnvs();
    await rm(lake, { recursive: true, force: true });
  }
  const series: ExpectedMetricAlarm[] = [];
  for (const line of lines.flatMap((l) => l.split('\n')).filter((l) => l.includes('"_aws"'))) {
    const emf = JSON.parse(line) as Record<string, unknown> & {
      _aws: {
        CloudWatchMetrics: Array<{
          Namespace: string;
          Dimensions: string[][];
          Metrics: Array<{ Name: string }>;
        }>;
      };
    };
    for (const directive of emf._aws.CloudWatchMetrics) {
      if (!directive.Metrics.some((m) => m.Name === SLA_METRICS.breached)) continue;
      for (const set of directive.Dimensions)
        series.push({
          namespace: directive.Namespace,
          metric: SLA_METRICS.breached,
          dimensions: Object.fromEntries(set.map((name) => [name, String(emf[name])])),
        });
    }
  }
  return series;
}

async function sourceText(dir: string): Promise<string> {
  let text = '';
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) text += await sourceText(path);
    else if (entry.name.endsWith('.ts')) text += await readFile(path, 'utf8');
  }
  return text;
}

describe('npm run package -- --stage prod: the CloudFormation template', () => {
  let work: string;
  let template: Template;
  let packageOutput: string;

  beforeAll(async () => {
    // A copy of the service, so that packaging never touches the working tree's .serverless/.
    work = await mkdtemp(join(tmpdir(), 'goldgate-package-'));
    for (const file of ['serverless.yml', 'package.json', 'tsconfig.json'])
      await cp(join(repo, file), join(work, file));
    for (const dir of ['src', 'policies']) await cp(join(repo, dir), join(work, dir), { recursive: true });
    await mkdir(join(work, 'scripts'));
    await cp(join(repo, 'scripts/package.mjs'), join(work, 'scripts/package.mjs'));
    await symlink(join(repo, 'node_modules'), join(work, 'node_modules'), 'dir');
    const { stdout, stderr } = await run(process.execPath, ['scripts/package.mjs', '--stage', 'prod'], {
      cwd: work,
      timeout: 280_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    packageOutput = `${stdout}\n${stderr}`;
    template = parseTemplate(
      await readFile(join(work, '.serverless/cloudformation-template-update-stack.json'), 'utf8'),
    );
  }, 300_000);

  afterAll(async () => {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('packages one zip per function', async () => {
    const zips = (await readdir(join(work, '.serverless'))).filter((f) => f.endsWith('.zip')).sort();
    expect(zips).toEqual(FUNCTIONS.map((f) => `${f}.zip`).sort());
    expect(packageOutput).toContain('packaged in');
  });

  it('grants no wildcard action, and no data action on a wildcard resource', () => {
    expect(checkIdentityPolicies(template)).toEqual([]);
  });

  it('runs every function as a role of its own', () => {
    expect(checkFunctionRoles(template)).toEqual([]);
    const names = Object.values(template.Resources)
      .filter((r) => r.Type === 'AWS::Lambda::Function')
      .map((r) => r.Properties?.FunctionName);
    expect(names.sort()).toEqual(FUNCTIONS.map((f) => `goldgate-prod-${f}`).sort());
  });

  it('encrypts every bucket with KMS, blocks public access, versions it and refuses plain HTTP', () => {
    expect(checkBuckets(template, { awsManagedKeyAllowed: ['ServerlessDeploymentBucket'] })).toEqual([]);
    const buckets = Object.keys(template.Resources).filter(
      (id) => template.Resources[id]?.Type === 'AWS::S3::Bucket',
    );
    expect(buckets).toEqual(
      expect.arrayContaining([
        'BronzeBucket',
        'SilverBucket',
        'GoldBucket',
        'QuarantineBucket',
        'ControlBucket',
        'AthenaResultsBucket',
      ]),
    );
  });

  it('moves Bronze to Infrequent Access at 30 days and Glacier at 90', () => {
    expect(
      checkBronzeLifecycle(template, 'BronzeBucket', { prefix: 'bronze/', iaDays: 30, glacierDays: 90 }),
    ).toEqual([]);
  });

  it('rotates its KMS keys and gives each data layer its own', () => {
    expect(checkKeys(template, ['BronzeBucket', 'SilverBucket', 'GoldBucket'])).toEqual([]);
  });

  it('maps each stream with partial batch responses, bounded retries, bisect and a KMS-encrypted DLQ', () => {
    expect(checkStreamMappings(template, { maxRetryAttempts: 10, maxRecordAgeSeconds: 86_400 })).toEqual([]);
    const mappings = Object.values(template.Resources).filter(
      (r) => r.Type === 'AWS::Lambda::EventSourceMapping',
    );
    expect(mappings).toHaveLength(3);
  });

  it('enforces an encrypted Athena workgroup with a bytes-scanned cutoff', () => {
    expect(checkAthenaWorkGroups(template, 100 * 1024 ** 3)).toEqual([]);
  });

  it('alarms on function errors, stream iterator age and DLQ depth', () => {
    expect(checkAlarms(template)).toEqual([]);
  });

  it('alarms on every mart of the catalog breaching its SLA, on the series src/ops writes, missing data breaching', async () => {
    const environments = functionEnvironments(template);
    const slaCheck = environments.get('SlaCheckLambdaFunction') ?? {};
    // The pipeline writes the same series after each run: both must write them to one place.
    expect(environments.get('PipelineLambdaFunction')?.POWERTOOLS_METRICS_NAMESPACE).toBe(
      slaCheck.POWERTOOLS_METRICS_NAMESPACE,
    );
    expect(slaCheck.POWERTOOLS_METRICS_NAMESPACE).toBe('goldgate/prod');
    const series = await emittedSlaSeries(slaCheck);
    expect(series.map((s) => s.dimensions.mart).sort()).toEqual(MARTS.map((m) => m.name).sort());
    expect(checkMetricAlarms(template, series, { treatMissingData: 'breaching' })).toEqual([]);
  });

  it('checks SLAs every 5 minutes with a role that only reads Gold pointers and manifests', () => {
    const rules = Object.values(template.Resources).filter(
      (r) =>
        r.Type === 'AWS::Events::Rule' &&
        JSON.stringify(r.Properties?.Targets ?? []).includes('"SlaCheckLambdaFunction"'),
    );
    expect(rules.map((r) => r.Properties?.ScheduleExpression)).toEqual(['rate(5 minutes)']);
    const statements = identityPolicies(template)
      .filter((p) => p.owner.startsWith('SlaCheckRole/'))
      .flatMap((p) => p.statements);
    expect(new Set(statements.flatMap((s) => [s.Action].flat()))).toEqual(
      new Set(['logs:CreateLogStream', 'logs:PutLogEvents', 's3:GetObject', 's3:ListBucket', 'kms:Decrypt']),
    );
    const reads = statements
      .filter((s) => [s.Action].flat().includes('s3:GetObject'))
      .flatMap((s) => [s.Resource].flat().map(stringOf));
    expect(reads.sort()).toEqual([
      `\${GoldBucket.Arn}/gold/*/_LATEST.json`,
      `\${GoldBucket.Arn}/gold/*/_SUCCESS`,
    ]);
  });

  it('lets the api read what the Lake Formation policy source calls', async () => {
    const operations = await lakeFormationOperations();
    expect(operations).toEqual(expect.arrayContaining(['GetResourceLFTags', 'ListDataCellsFilter']));
    const allowed = identityPolicies(template)
      .filter((p) => p.owner.startsWith('ApiRole/'))
      .flatMap((p) => p.statements)
      .filter((s) => s.Effect === 'Allow')
      .flatMap((s) => [s.Action].flat());
    for (const operation of operations) expect(allowed).toContain(`lakeformation:${operation}`);
  });

  it('puts no secret value in function configuration', () => {
    expect(checkNoSecretsInEnvironment(template)).toEqual([]);
  });

  it('runs reconciliation and the puller one at a time', () => {
    for (const id of ['ZohoReconcileLambdaFunction', 'ZohoPullLambdaFunction']) {
      expect(template.Resources[id]?.Properties?.ReservedConcurrentExecutions).toBe(1);
    }
  });

  it('routes /graphql, /v1/{proxy+} and /health to the api function', () => {
    const routes = Object.values(template.Resources)
      .filter((r) => r.Type === 'AWS::ApiGatewayV2::Route')
      .map((r) => r.Properties?.RouteKey);
    expect(routes).toEqual(
      expect.arrayContaining([
        'GET /graphql',
        'POST /graphql',
        'GET /v1/{proxy+}',
        'POST /v1/{proxy+}',
        'GET /health',
      ]),
    );
  });

  it('sets only settings the code reads, with values it parses', async () => {
    const source = await sourceText(join(repo, 'src'));
    const names = physicalNames(template);
    const environments = functionEnvironments(template);
    expect([...environments.keys()]).toHaveLength(FUNCTIONS.length);
    const unread = new Set<string>();
    for (const [fn, variables] of environments) {
      const env: Record<string, string> = {};
      for (const [name, example] of Object.entries(exampleEnvironment(variables, names))) {
        expect(variables[name], `${fn} ${name}`).toBeDefined();
        expect(example, `${fn} ${name}: no example for ${variables[name]}`).toBeDefined();
        expect(example, `${fn} ${name} still names a resource`).not.toMatch(/\$\{/);
        env[name] = example ?? '';
        if (!LIBRARY_NAMES.test(name) && !source.includes(name)) unread.add(name);
      }
      const config = loadConfig(env);
      expect(config.home).toBe('aws');
      expect(config.production).toBe(true);
      if (fn === 'DdbStreamLambdaFunction') expect(Object.keys(parseStreamTables(env))).toHaveLength(3);
      if (fn.startsWith('Zoho')) expect(parseZohoSettings(env).clientId).toHaveProperty('ssmName');
      if ('GOLDGATE_ATHENA_DATABASE' in env) expect(config.athena.database).toMatch(/^goldgate_prod_/);
    }
    expect([...unread].sort()).toEqual([...PENDING_NAMES].filter((n) => !source.includes(n)).sort());
  });

  it('bundles load with no node_modules in reach: DuckDB and the other embedded-only packages stay out', async () => {
    const built = join(work, '.esbuild/.build/src/handlers');
    const bundles = (await readdir(built)).filter((f) => f.endsWith('.js'));
    expect(bundles).toHaveLength(FUNCTIONS.length);
    const alone = await mkdtemp(join(tmpdir(), 'goldgate-bundle-'));
    try {
      for (const bundle of bundles) {
        const path = join(alone, bundle);
        await writeFile(path, await readFile(join(built, bundle)));
        const probe = `
          const m = require(${JSON.stringify(path)});
          let duckdb = 'absent';
          try { require.resolve('@duckdb/node-api', { paths: [${JSON.stringify(alone)}] }); duckdb = 'resolvable'; } catch {}
          process.stdout.write(JSON.stringify({ handler: typeof m.handler, duckdb }));`;
        const { stdout } = await run(process.execPath, ['-e', probe], {
          cwd: alone,
          env: { PATH: process.env.PATH },
        });
        expect(JSON.parse(stdout), bundle).toEqual({ handler: 'function', duckdb: 'absent' });
      }
    } finally {
      await rm(alone, { recursive: true, force: true });
    }
  });

  describe('the api: its policy and mask secret as the stage sets them', () => {
    let apiEnv: Record<string, string>;
    let entries: ZipEntry[];
    let task: string;

    beforeAll(async () => {
      const variables = functionEnvironments(template).get('ApiLambdaFunction') ?? {};
      apiEnv = {};
      for (const [name, value] of Object.entries(exampleEnvironment(variables, physicalNames(template))))
        if (value !== undefined) apiEnv[name] = value;
      entries = readZip(await readFile(join(work, '.serverless/api.zip')));
      // Unpacked as Lambda does under /var/task.
      task = await mkdtemp(join(tmpdir(), 'goldgate-api-task-'));
      await extractZip(entries, task);
    });

    afterAll(async () => {
      if (task) await rm(task, { recursive: true, force: true });
    });

    /** A path under /var/task as the same file of the unpacked zip. */
    const inTask = (path: string): string =>
      path.startsWith(`${TASK_ROOT}/`) ? join(task, relative(TASK_ROOT, path)) : path;

    it('prod reads Lake Formation through the mapping its zip holds where GOLDGATE_LF_MAPPING_FILE points', async () => {
      const policies = (await readdir(join(repo, 'policies'))).map((f) => `policies/${f}`);
      expect(entries.map((e) => e.name).sort()).toEqual([...policies, 'src/handlers/api.js'].sort());
      const config = loadConfig(apiEnv);
      expect(config.policy.source).toBe('lakeformation');
      // Only the stage's own source's file is set.
      expect(Object.keys(apiEnv)).not.toContain('GOLDGATE_POLICY_FILE');
      const mappingFile = config.policy.lakeFormation.mappingFile ?? '';
      expect(mappingFile).toBe(`${TASK_ROOT}/policies/lake-formation.prod.yaml`);
      expect(entries.map((e) => e.name)).toContain(relative(TASK_ROOT, mappingFile));
      const mapping = await loadLakeFormationMapping(inTask(mappingFile));
      // The filters it reads are on the tables the api queries.
      expect(mapping.database).toBe(config.athena.database);
      expect(mapping.database).toBe('goldgate_prod_gold');
      const demo = await definedRoles(loadConfig({}));
      expect(Object.keys(mapping.roles)).toEqual(expect.arrayContaining(demo.roles.map((r) => r.name)));
    });

    it('lets the api read the mask secret parameter it names, and no other', () => {
      const param = apiEnv.GOLDGATE_MASK_SECRET_PARAM ?? '';
      expect(loadConfig(apiEnv).policy).toMatchObject({ maskSecret: undefined, maskSecretParam: param });
      const secretName = /^\/aws\/reference\/secretsmanager\/(.+)$/.exec(param)?.[1];
      expect(secretName).toBe('goldgate/prod/mask-secret');
      const statements = identityPolicies(template)
        .filter((p) => p.owner.startsWith('ApiRole/'))
        .flatMap((p) => p.statements)
        .filter((s) => s.Effect === 'Allow');
      const resourcesOf = (action: string): string[] =>
        statements
          .filter((s) => [s.Action].flat().includes(action))
          .flatMap((s) => [s.Resource].flat().map((r) => stringOf(r) ?? '?'));
      expect(resourcesOf('ssm:GetParameter')).toEqual([
        `arn:aws:ssm:eu-west-1:123456789012:parameter${param}`,
      ]);
      expect(resourcesOf('secretsmanager:GetSecretValue')).toEqual([
        `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${secretName}-??????`,
      ]);
    });

    it('starts from its zip alone: the mask secret read once per container, the policy from Lake Formation, no secret in its output', async () => {
      const database = apiEnv.GOLDGATE_ATHENA_DATABASE ?? '';
      const param = apiEnv.GOLDGATE_MASK_SECRET_PARAM ?? '';
      const secret = randomBytes(48).toString('base64');
      const onGold = (filter: LfDataCellsFilter): LfDataCellsFilter => ({
        ...filter,
        DatabaseName: database,
      });
      const lf = await startLakeFormationServer({
        filters: [
          ...MARTS.map((m) => onGold(lfFilter(m.name, 'goldgate_admin', 'all', { excluding: [] }))),
          onGold(lfFilter('customer_360', 'goldgate_csm', 'all', { excluding: [] })),
        ],
        columnTags: Object.fromEntries(
          MARTS.map((m) => [
            m.name,
            lfColumnTags(
              Object.fromEntries(m.columns.flatMap((c) => (c.pii ? [[c.name, { pii: c.pii }]] : []))),
            ),
          ]),
        ),
      });
      const extension = await startParametersExtension({ [param]: secret });
      const env: Record<string, string> = {
        PATH: process.env.PATH ?? '',
        ...Object.fromEntries(Object.entries(apiEnv).map(([name, value]) => [name, inTask(value)])),
        ...extension.env(),
        AWS_REGION: 'eu-west-1',
        AWS_ACCESS_KEY_ID: 'AKIDTEST',
        AWS_SECRET_ACCESS_KEY: 'test-secret',
        GOLDGATE_LF_ENDPOINT: lf.endpoint,
        // Nothing listens there: starting must not query Athena (nor S3, nor the IdP).
        GOLDGATE_ATHENA_ENDPOINT: 'http://127.0.0.1:9',
      };
      const probe = `
        const { handler } = require(${JSON.stringify(join(task, 'src/handlers/api.js'))});
        const events = ${JSON.stringify([healthEvent('cold'), healthEvent('warm')])};
        (async () => {
          const statuses = [];
          for (const event of events) {
            const context = { awsRequestId: event.requestContext.requestId, functionName: 'goldgate-prod-api' };
            statuses.push((await handler(event, context)).statusCode);
          }
          process.stdout.write('\\nRESULT ' + JSON.stringify(statuses) + '\\n');
        })().catch((error) => {
          process.stdout.write('\\nFAILED ' + JSON.stringify({ code: error.code, message: error.message }) + '\\n');
          process.exitCode = 1;
        });`;
      let output: string;
      try {
        const { stdout, stderr } = await run(process.execPath, ['-e', probe], {
          cwd: task,
          env,
          timeout: 60_000,
        });
        output = `${stdout}\n${stderr}`;
      } catch (error) {
        const { stdout, stderr } = error as { stdout?: string; stderr?: string };
        output = `${stdout ?? ''}\n${stderr ?? ''}`;
      } finally {
        await extension.close();
        await lf.close();
      }
      expect(/^RESULT (.*)$/m.exec(output)?.[1], output).toBe('[200,200]');
      expect(extension.requests).toEqual([
        { path: '/systemsmanager/parameters/get', name: param, withDecryption: 'true', authorized: true },
      ]);
      expect(output).toMatch(/"message":"policy in force".*"source":"lakeformation"/);
      const tables = lf.requests
        .filter((r) => r.operation === 'GetResourceLFTags')
        .map((r) => (r.body.Resource as { Table: { DatabaseName: string; Name: string } }).Table);
      expect(tables).toEqual(MARTS.map((m) => ({ DatabaseName: database, Name: m.name })));
      expect(lf.requests.every((r) => r.signed)).toBe(true);
      expect(output).not.toContain(secret);
    });

    it('dev serves the demo policy file, packaged by the same patterns', async () => {
      const [dev, prod] = await Promise.all([printed('dev', work), printed('prod', work)]);
      // So what prod's zip holds (above), dev's holds too.
      expect(dev.functions.api.package.patterns).toEqual(prod.functions.api.package.patterns);
      const variables: Record<string, string | undefined> = {};
      for (const [name, value] of Object.entries({
        ...dev.provider.environment,
        ...dev.functions.api.environment,
      }))
        if (value !== null) variables[name] = stringOf(value);
      const env: Record<string, string> = {};
      const names = physicalNames(parseTemplate({ Resources: dev.resources.Resources }));
      for (const [name, value] of Object.entries(exampleEnvironment(variables, names, 'dev'))) {
        expect(value, `dev api ${name}: no example for ${variables[name]}`).toBeDefined();
        expect(value, `dev api ${name} still names a resource`).not.toMatch(/\$\{/);
        env[name] = value ?? '';
      }
      const config = loadConfig(env);
      expect(config.athena.database).toBe('goldgate_dev_gold');
      expect(config.policy.source).toBe('file');
      expect(Object.keys(env)).not.toContain('GOLDGATE_LF_MAPPING_FILE');
      expect(config.policy.file).toBe(`${TASK_ROOT}/policies/demo.yaml`);
      expect(entries.map((e) => e.name)).toContain(relative(TASK_ROOT, config.policy.file));
      const demo = await definedRoles(loadConfig({}));
      const packaged = await definedRoles(loadConfig({ GOLDGATE_POLICY_FILE: inTask(config.policy.file) }));
      expect(packaged.roles).toEqual(demo.roles);
    });
  });
});
