import { z } from 'zod';

/**
 * Checks on a CloudFormation template, as `npm run package` writes it
 * (`.serverless/cloudformation-template-update-stack.json`). Each check
 * returns what it found wrong, so a test asserts an empty list and a unit
 * test can show that a deliberately bad template is caught.
 */

const resourceSchema = z.looseObject({
  Type: z.string(),
  Properties: z.record(z.string(), z.unknown()).optional(),
});

/** The part of a template the checks read. */
export const templateSchema = z.looseObject({
  Resources: z.record(z.string(), resourceSchema),
});

/** A parsed template. */
export type Template = z.infer<typeof templateSchema>;
type Resource = z.infer<typeof resourceSchema>;

/** One thing wrong with one resource. */
export interface Finding {
  readonly resource: string;
  readonly problem: string;
}

const statementSchema = z.looseObject({
  Sid: z.string().optional(),
  Effect: z.enum(['Allow', 'Deny']),
  Action: z.unknown().optional(),
  NotAction: z.unknown().optional(),
  Resource: z.unknown().optional(),
  NotResource: z.unknown().optional(),
  Principal: z.unknown().optional(),
  Condition: z.unknown().optional(),
});
type Statement = z.infer<typeof statementSchema>;
const documentSchema = z.looseObject({
  Statement: z.union([statementSchema, z.array(statementSchema)]),
});

/** Parse a template (JSON text or an object); throws when it is not one. */
export function parseTemplate(input: unknown): Template {
  return templateSchema.parse(typeof input === 'string' ? JSON.parse(input) : input);
}

// Pseudo parameters written out so that ARNs split on `:` as they will in the account.
const PSEUDO: Readonly<Record<string, string>> = {
  'AWS::Partition': 'aws',
  'AWS::Region': 'eu-west-1',
  'AWS::AccountId': '123456789012',
  'AWS::URLSuffix': 'amazonaws.com',
};

/**
 * A value as the string CloudFormation will make of it, with references left
 * as `${Logical}` / `${Logical.Attr}` and pseudo parameters written out;
 * `undefined` for shapes this reader does not follow.
 */
export function stringOf(value: unknown): string | undefined {
  let text: string | undefined;
  if (typeof value === 'string') text = value;
  else if (isRecord(value)) {
    if (typeof value.Ref === 'string') text = `\${${value.Ref}}`;
    else if ('Fn::GetAtt' in value) {
      const att = value['Fn::GetAtt'];
      if (Array.isArray(att) && typeof att[0] === 'string' && typeof att[1] === 'string')
        text = `\${${att[0]}.${att[1]}}`;
      else if (typeof att === 'string') text = `\${${att}}`;
    } else if ('Fn::Sub' in value) {
      const sub = value['Fn::Sub'];
      if (typeof sub === 'string') text = sub;
      else if (Array.isArray(sub) && typeof sub[0] === 'string') text = sub[0];
    } else if ('Fn::Join' in value) {
      const join = value['Fn::Join'];
      if (Array.isArray(join) && typeof join[0] === 'string' && Array.isArray(join[1])) {
        const parts = join[1].map(stringOf);
        if (parts.every((p): p is string => p !== undefined)) text = parts.join(join[0]);
      }
    }
  }
  if (text === undefined) return undefined;
  return text.replace(/\$\{(AWS::[A-Za-z]+)\}/g, (whole, name: string) => PSEUDO[name] ?? whole);
}

/** The logical id a `Ref` or `Fn::GetAtt` points at. */
export function targetOf(value: unknown): string | undefined {
  if (!isRecord(value)) return undefined;
  if (typeof value.Ref === 'string') return value.Ref;
  const att = value['Fn::GetAtt'];
  if (Array.isArray(att) && typeof att[0] === 'string') return att[0];
  if (typeof att === 'string') return att.split('.')[0];
  return undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function list(value: unknown): unknown[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

function isTrue(value: unknown): boolean {
  return value === true || value === 'true';
}

function isFalse(value: unknown): boolean {
  return value === false || value === 'false';
}

function prop(resource: Resource | undefined, path: string): unknown {
  let at: unknown = resource?.Properties;
  for (const key of path.split('.')) at = isRecord(at) ? at[key] : undefined;
  return at;
}

function resourcesOf(template: Template, type: string): Array<[string, Resource]> {
  return Object.entries(template.Resources).filter(([, r]) => r.Type === type);
}

function statementsOf(document: unknown): Statement[] {
  const parsed = documentSchema.safeParse(document);
  if (!parsed.success) return [];
  return list(parsed.data.Statement) as Statement[];
}

/** Every identity policy of the template: where it is, and its statements. */
export function identityPolicies(template: Template): Array<{ owner: string; statements: Statement[] }> {
  const out: Array<{ owner: string; statements: Statement[] }> = [];
  for (const [id, role] of resourcesOf(template, 'AWS::IAM::Role')) {
    for (const policy of list(prop(role, 'Policies'))) {
      const name = isRecord(policy) && typeof policy.PolicyName === 'string' ? policy.PolicyName : '?';
      out.push({
        owner: `${id}/${name}`,
        statements: statementsOf(isRecord(policy) ? policy.PolicyDocument : undefined),
      });
    }
  }
  for (const type of ['AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy']) {
    for (const [id, policy] of resourcesOf(template, type)) {
      out.push({ owner: id, statements: statementsOf(prop(policy, 'PolicyDocument')) });
    }
  }
  return out;
}

/**
 * Actions AWS authorises only on `Resource: '*'` and that reach no data by
 * themselves; an entry here needs a reason beside it. Lake Formation defines no
 * IAM resource types at all (Service Authorization Reference, "Actions,
 * resources, and condition keys for AWS Lake Formation": the resource types
 * column is empty for every action), so each of its actions is one of these.
 */
export const ACTIONS_ONLY_ON_STAR: ReadonlySet<string> = new Set<string>([
  // Vends Lake Formation's temporary credentials; the data access itself is Lake Formation's grant.
  'lakeformation:GetDataAccess',
  // The Lake Formation policy source (api): data cells filters, i.e. grant definitions, never rows.
  'lakeformation:ListDataCellsFilter',
  // The Lake Formation policy source (api): grants of the mapped principals, filtered by the caller's own.
  'lakeformation:ListPermissions',
  // The Lake Formation policy source (api): the LF-tags on the Gold tables' columns (PII classes).
  'lakeformation:GetResourceLFTags',
]);

/** True when a resource string names everything, or any region, account or resource of a service. */
export function isWildcardResource(resource: string): boolean {
  if (resource === '*') return true;
  if (!resource.startsWith('arn:')) return false;
  const parts = resource.split(':');
  const [, partition, , region, account] = parts;
  const rest = parts.slice(5).join(':');
  return [partition, region, account].includes('*') || rest === '' || rest.startsWith('*');
}

/**
 * Least privilege in identity policies: no Allow with a wildcard in an action
 * (`*`, `s3:*`, `s3:Get*`), no NotAction/NotResource, no wildcard resource
 * except for actions that exist only on `*`, no managed policies (each grant
 * is written out), and roles only Lambda can assume.
 */
export function checkIdentityPolicies(template: Template): Finding[] {
  const findings: Finding[] = [];
  const policies = identityPolicies(template);
  if (policies.length === 0) findings.push({ resource: '(template)', problem: 'no identity policy at all' });
  for (const { owner, statements } of policies) {
    if (statements.length === 0) findings.push({ resource: owner, problem: 'policy without statements' });
    for (const [i, s] of statements.entries()) {
      if (s.Effect !== 'Allow') continue;
      const where = `${owner}#${s.Sid ?? i}`;
      if (s.NotAction !== undefined) findings.push({ resource: where, problem: 'Allow with NotAction' });
      if (s.NotResource !== undefined) findings.push({ resource: where, problem: 'Allow with NotResource' });
      const actions = list(s.Action);
      if (actions.length === 0 && s.NotAction === undefined)
        findings.push({ resource: where, problem: 'Allow without actions' });
      for (const action of actions) {
        if (typeof action !== 'string') findings.push({ resource: where, problem: 'action is not a string' });
        else if (action.includes('*'))
          findings.push({ resource: where, problem: `wildcard action ${action}` });
      }
      const resources = list(s.Resource);
      if (resources.length === 0 && s.NotResource === undefined)
        findings.push({ resource: where, problem: 'Allow without resources' });
      for (const value of resources) {
        const resource = stringOf(value);
        if (resource === undefined) {
          findings.push({ resource: where, problem: `resource not readable: ${JSON.stringify(value)}` });
          continue;
        }
        if (!isWildcardResource(resource)) continue;
        const scoped = actions.every((a) => typeof a === 'string' && ACTIONS_ONLY_ON_STAR.has(a));
        if (!scoped)
          findings.push({
            resource: where,
            problem: `wildcard resource ${resource} for ${actions.join(', ')}`,
          });
      }
    }
  }
  for (const [id, role] of resourcesOf(template, 'AWS::IAM::Role')) {
    if (list(prop(role, 'ManagedPolicyArns')).length > 0)
      findings.push({ resource: id, problem: 'managed policies attached (grants not written out)' });
    if (list(prop(role, 'Policies')).length === 0)
      findings.push({ resource: id, problem: 'role without an inline policy' });
    for (const s of statementsOf(prop(role, 'AssumeRolePolicyDocument'))) {
      if (s.Effect !== 'Allow') continue;
      const principal = s.Principal;
      const services = isRecord(principal) ? list(principal.Service) : [];
      const others = isRecord(principal) ? Object.keys(principal).filter((k) => k !== 'Service') : ['*'];
      if (others.length > 0 || services.some((svc) => svc !== 'lambda.amazonaws.com'))
        findings.push({ resource: id, problem: `assumable by ${JSON.stringify(principal)}` });
    }
  }
  return findings;
}

/** Every function runs as a role of its own, declared in the template. */
export function checkFunctionRoles(template: Template): Finding[] {
  const findings: Finding[] = [];
  const functions = resourcesOf(template, 'AWS::Lambda::Function');
  if (functions.length === 0) findings.push({ resource: '(template)', problem: 'no Lambda function' });
  const users = new Map<string, string[]>();
  for (const [id, fn] of functions) {
    const role = targetOf(prop(fn, 'Role'));
    if (!role || template.Resources[role]?.Type !== 'AWS::IAM::Role') {
      findings.push({ resource: id, problem: 'role is not an IAM role of this template' });
      continue;
    }
    users.set(role, [...(users.get(role) ?? []), id]);
  }
  for (const [role, fns] of users) {
    if (fns.length > 1) findings.push({ resource: role, problem: `shared by ${fns.join(', ')}` });
  }
  return findings;
}

/** Options of {@link checkBuckets}. */
export interface BucketCheckOptions {
  /** Buckets that may use the AWS managed key (`aws/s3`) instead of a key of the template. */
  readonly awsManagedKeyAllowed?: readonly string[];
}

/**
 * Every bucket: SSE-KMS by default (a key of the template unless allowed
 * otherwise), all four public access blocks, versioning, and a bucket
 * policy that denies any request not made over TLS, on the bucket and its objects.
 */
export function checkBuckets(template: Template, options: BucketCheckOptions = {}): Finding[] {
  const findings: Finding[] = [];
  const buckets = resourcesOf(template, 'AWS::S3::Bucket');
  if (buckets.length === 0) findings.push({ resource: '(template)', problem: 'no bucket' });
  const policies = resourcesOf(template, 'AWS::S3::BucketPolicy');
  for (const [id, bucket] of buckets) {
    const rules = list(prop(bucket, 'BucketEncryption.ServerSideEncryptionConfiguration'));
    if (rules.length === 0) findings.push({ resource: id, problem: 'no default encryption' });
    for (const rule of rules) {
      const byDefault = isRecord(rule) ? rule.ServerSideEncryptionByDefault : undefined;
      const algorithm = isRecord(byDefault) ? byDefault.SSEAlgorithm : undefined;
      if (algorithm !== 'aws:kms' && algorithm !== 'aws:kms:dsse')
        findings.push({ resource: id, problem: `encrypted with ${String(algorithm)}, not KMS` });
      const key = isRecord(byDefault) ? targetOf(byDefault.KMSMasterKeyID) : undefined;
      const keyIsOurs = key !== undefined && template.Resources[key]?.Type === 'AWS::KMS::Key';
      if (!keyIsOurs && !options.awsManagedKeyAllowed?.includes(id))
        findings.push({ resource: id, problem: 'not encrypted with a KMS key of this template' });
    }
    for (const flag of [
      'BlockPublicAcls',
      'BlockPublicPolicy',
      'IgnorePublicAcls',
      'RestrictPublicBuckets',
    ]) {
      if (!isTrue(prop(bucket, `PublicAccessBlockConfiguration.${flag}`)))
        findings.push({ resource: id, problem: `public access not blocked (${flag})` });
    }
    if (prop(bucket, 'VersioningConfiguration.Status') !== 'Enabled')
      findings.push({ resource: id, problem: 'versioning not enabled' });
    const ownPolicies = policies.filter(([, p]) => targetOf(prop(p, 'Bucket')) === id);
    const bucketArns = [`\${${id}.Arn}`, `arn:aws:s3:::\${${id}}`];
    const tlsOnly = ownPolicies.some(([, p]) =>
      statementsOf(prop(p, 'PolicyDocument')).some((s) => {
        const everyone =
          s.Principal === '*' || (isRecord(s.Principal) && list(s.Principal.AWS).includes('*'));
        const allActions = list(s.Action).some((a) => a === 's3:*' || a === '*');
        const condition = isRecord(s.Condition) ? s.Condition.Bool : undefined;
        const insecure = isRecord(condition) && isFalse(condition['aws:SecureTransport']);
        const resources = list(s.Resource).map(stringOf);
        const coversBucket = bucketArns.some((arn) => resources.includes(arn));
        const coversObjects = bucketArns.some((arn) => resources.includes(`${arn}/*`));
        return s.Effect === 'Deny' && everyone && allActions && insecure && coversBucket && coversObjects;
      }),
    );
    if (!tlsOnly) findings.push({ resource: id, problem: 'no policy denying requests without TLS' });
  }
  return findings;
}

/**
 * Bronze ages: an enabled lifecycle rule over the Bronze keys moves objects to
 * STANDARD_IA after `iaDays` and GLACIER after `glacierDays`.
 */
export function checkBronzeLifecycle(
  template: Template,
  bucketId: string,
  expected: { readonly prefix: string; readonly iaDays: number; readonly glacierDays: number },
): Finding[] {
  const bucket = template.Resources[bucketId];
  if (bucket?.Type !== 'AWS::S3::Bucket') return [{ resource: bucketId, problem: 'no such bucket' }];
  const ok = list(prop(bucket, 'LifecycleConfiguration.Rules')).some((rule) => {
    if (!isRecord(rule) || rule.Status !== 'Enabled') return false;
    const filter = isRecord(rule.Filter) ? rule.Filter.Prefix : undefined;
    const prefix = rule.Prefix ?? filter ?? '';
    if (typeof prefix !== 'string' || !expected.prefix.startsWith(prefix)) return false;
    const transitions = list(rule.Transitions).filter(isRecord);
    const days = (cls: string) => Number(transitions.find((t) => t.StorageClass === cls)?.TransitionInDays);
    return days('STANDARD_IA') === expected.iaDays && days('GLACIER') === expected.glacierDays;
  });
  return ok
    ? []
    : [
        {
          resource: bucketId,
          problem: `no enabled rule over ${expected.prefix} to STANDARD_IA at ${expected.iaDays} and GLACIER at ${expected.glacierDays} days`,
        },
      ];
}

function roleOfFunction(template: Template, functionRef: unknown): [string, Resource] | undefined {
  const fnId = targetOf(functionRef);
  const fn = fnId ? template.Resources[fnId] : undefined;
  const roleId = targetOf(prop(fn, 'Role'));
  const role = roleId ? template.Resources[roleId] : undefined;
  return roleId && role ? [roleId, role] : undefined;
}

function roleAllows(template: Template, roleId: string, action: string, resourceRef: string): boolean {
  return identityPolicies(template)
    .filter((p) => p.owner.startsWith(`${roleId}/`))
    .some((p) =>
      p.statements.some(
        (s) =>
          s.Effect === 'Allow' &&
          list(s.Action).includes(action) &&
          list(s.Resource).map(stringOf).includes(resourceRef),
      ),
    );
}

/** Limits a stream mapping must keep. */
export interface StreamLimits {
  /** The most retries of one batch (`-1`, infinite, never passes). */
  readonly maxRetryAttempts: number;
  /** The oldest record still retried, in seconds (`-1`, infinite, never passes). */
  readonly maxRecordAgeSeconds: number;
}

/**
 * Every stream event source mapping: partial batch responses, bounded
 * retries and record age, bisect on error, and an on-failure destination
 * that is a KMS-encrypted queue of the template which the function's role may send to.
 */
export function checkStreamMappings(template: Template, limits: StreamLimits): Finding[] {
  const findings: Finding[] = [];
  const mappings = resourcesOf(template, 'AWS::Lambda::EventSourceMapping');
  if (mappings.length === 0) findings.push({ resource: '(template)', problem: 'no event source mapping' });
  for (const [id, m] of mappings) {
    if (!list(prop(m, 'FunctionResponseTypes')).includes('ReportBatchItemFailures'))
      findings.push({
        resource: id,
        problem: 'no ReportBatchItemFailures (a failed record would be skipped)',
      });
    const retries = prop(m, 'MaximumRetryAttempts');
    if (typeof retries !== 'number' || retries < 0 || retries > limits.maxRetryAttempts)
      findings.push({
        resource: id,
        problem: `retries not bounded by ${limits.maxRetryAttempts}: ${retries}`,
      });
    const age = prop(m, 'MaximumRecordAgeInSeconds');
    if (typeof age !== 'number' || age < 60 || age > limits.maxRecordAgeSeconds)
      findings.push({
        resource: id,
        problem: `record age not bounded by ${limits.maxRecordAgeSeconds}: ${age}`,
      });
    if (!isTrue(prop(m, 'BisectBatchOnFunctionError')))
      findings.push({ resource: id, problem: 'does not bisect a failing batch' });
    const queueId = targetOf(prop(m, 'DestinationConfig.OnFailure.Destination'));
    const queue = queueId ? template.Resources[queueId] : undefined;
    if (!queueId || queue?.Type !== 'AWS::SQS::Queue') {
      findings.push({ resource: id, problem: 'no on-failure SQS queue of this template' });
      continue;
    }
    if (prop(queue, 'KmsMasterKeyId') === undefined && !isTrue(prop(queue, 'SqsManagedSseEnabled')))
      findings.push({ resource: queueId, problem: 'dead-letter queue not KMS-encrypted' });
    else if (prop(queue, 'KmsMasterKeyId') === undefined)
      findings.push({ resource: queueId, problem: 'dead-letter queue uses SQS-managed keys, not KMS' });
    const role = roleOfFunction(template, prop(m, 'FunctionName'));
    if (!role || !roleAllows(template, role[0], 'sqs:SendMessage', `\${${queueId}.Arn}`))
      findings.push({ resource: id, problem: `the function's role may not send to ${queueId}` });
  }
  return findings;
}

/** The smallest cutoff Athena accepts (10 MB). */
const ATHENA_MIN_CUTOFF = 10_000_000;

/**
 * Every Athena workgroup: its configuration enforced on clients, a
 * bytes-scanned cutoff per query, and results encrypted with KMS.
 */
export function checkAthenaWorkGroups(template: Template, maxCutoffBytes: number): Finding[] {
  const findings: Finding[] = [];
  const groups = resourcesOf(template, 'AWS::Athena::WorkGroup');
  if (groups.length === 0) findings.push({ resource: '(template)', problem: 'no Athena workgroup' });
  for (const [id, wg] of groups) {
    if (!isTrue(prop(wg, 'WorkGroupConfiguration.EnforceWorkGroupConfiguration')))
      findings.push({ resource: id, problem: 'configuration not enforced (clients may override it)' });
    const cutoff = Number(prop(wg, 'WorkGroupConfiguration.BytesScannedCutoffPerQuery'));
    if (!Number.isFinite(cutoff) || cutoff < ATHENA_MIN_CUTOFF || cutoff > maxCutoffBytes)
      findings.push({ resource: id, problem: `bytes-scanned cutoff missing or above ${maxCutoffBytes}` });
    const encryption = prop(wg, 'WorkGroupConfiguration.ResultConfiguration.EncryptionConfiguration');
    const option = isRecord(encryption) ? encryption.EncryptionOption : undefined;
    if ((option !== 'SSE_KMS' && option !== 'CSE_KMS') || !isRecord(encryption) || !encryption.KmsKey)
      findings.push({ resource: id, problem: `results not KMS-encrypted (${String(option)})` });
    if (!prop(wg, 'WorkGroupConfiguration.ResultConfiguration.OutputLocation'))
      findings.push({ resource: id, problem: 'no result location' });
  }
  return findings;
}

/**
 * KMS keys rotate, no key policy allows every principal without a condition,
 * and the given buckets are encrypted with one key each (a key per layer).
 */
export function checkKeys(template: Template, layerBuckets: readonly string[]): Finding[] {
  const findings: Finding[] = [];
  for (const [id, key] of resourcesOf(template, 'AWS::KMS::Key')) {
    if (!isTrue(prop(key, 'EnableKeyRotation'))) findings.push({ resource: id, problem: 'rotation off' });
    for (const s of statementsOf(prop(key, 'KeyPolicy'))) {
      const everyone = s.Principal === '*' || (isRecord(s.Principal) && list(s.Principal.AWS).includes('*'));
      if (s.Effect === 'Allow' && everyone && s.Condition === undefined)
        findings.push({ resource: id, problem: 'key policy allows everyone' });
    }
  }
  const owners = new Map<string, string>();
  for (const bucketId of layerBuckets) {
    const rules = list(
      prop(template.Resources[bucketId], 'BucketEncryption.ServerSideEncryptionConfiguration'),
    );
    const rule = rules[0];
    const byDefault = isRecord(rule) ? rule.ServerSideEncryptionByDefault : undefined;
    const key = isRecord(byDefault) ? targetOf(byDefault.KMSMasterKeyID) : undefined;
    if (!key || template.Resources[key]?.Type !== 'AWS::KMS::Key') {
      findings.push({ resource: bucketId, problem: 'no KMS key of this template' });
      continue;
    }
    const other = owners.get(key);
    if (other) findings.push({ resource: bucketId, problem: `shares key ${key} with ${other}` });
    owners.set(key, bucketId);
  }
  return findings;
}

function alarmsOn(template: Template, namespace: string, metric: string, dimension: string, target: string) {
  return resourcesOf(template, 'AWS::CloudWatch::Alarm').filter(
    ([, a]) =>
      prop(a, 'Namespace') === namespace &&
      prop(a, 'MetricName') === metric &&
      list(prop(a, 'Dimensions')).some(
        (d) => isRecord(d) && d.Name === dimension && targetOf(d.Value) === target,
      ) &&
      list(prop(a, 'AlarmActions')).length > 0,
  );
}

/**
 * Alarms with an action: errors of every function, iterator age of every
 * stream consumer, and depth of every on-failure queue.
 */
export function checkAlarms(template: Template): Finding[] {
  const findings: Finding[] = [];
  const functions = resourcesOf(template, 'AWS::Lambda::Function');
  for (const [id] of functions) {
    if (alarmsOn(template, 'AWS/Lambda', 'Errors', 'FunctionName', id).length === 0)
      findings.push({ resource: id, problem: 'no errors alarm' });
  }
  for (const [id, m] of resourcesOf(template, 'AWS::Lambda::EventSourceMapping')) {
    const fn = targetOf(prop(m, 'FunctionName'));
    if (!fn || alarmsOn(template, 'AWS/Lambda', 'IteratorAge', 'FunctionName', fn).length === 0)
      findings.push({ resource: id, problem: 'no iterator age alarm on its function' });
    const queue = targetOf(prop(m, 'DestinationConfig.OnFailure.Destination'));
    if (
      queue &&
      alarmsOn(template, 'AWS/SQS', 'ApproximateNumberOfMessagesVisible', 'QueueName', queue).length === 0
    )
      findings.push({ resource: queue, problem: 'no depth alarm' });
  }
  return findings;
}

/** An alarm a metric needs: exactly this namespace, metric name and set of dimensions. */
export interface ExpectedMetricAlarm {
  readonly namespace: string;
  readonly metric: string;
  readonly dimensions: Readonly<Record<string, string>>;
}

/** Options of {@link checkMetricAlarms}. */
export interface MetricAlarmOptions {
  /** What a period without a value means (`breaching` when silence is itself a failure). */
  readonly treatMissingData: 'breaching' | 'notBreaching' | 'ignore' | 'missing';
}

function dimensionsOf(alarm: Resource): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const d of list(prop(alarm, 'Dimensions'))) {
    const value = isRecord(d) ? stringOf(d.Value) : undefined;
    if (!isRecord(d) || typeof d.Name !== 'string' || value === undefined) return undefined;
    out[d.Name] = value;
  }
  return out;
}

function sameDimensions(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((k) => b[k] === a[k]);
}

/**
 * Alarms on metrics the code writes itself (EMF): one alarm with an action
 * for each expected series, matching its namespace, name and every dimension
 * (CloudWatch matches the full set: one dimension more or less is another
 * series, and the alarm would never see a value), with the given treatment of
 * missing data. An alarm on one of those metrics that matches no expected
 * series (a mart no longer in the catalog) is reported too: with missing data
 * breaching it would stay in ALARM for ever.
 */
export function checkMetricAlarms(
  template: Template,
  expected: readonly ExpectedMetricAlarm[],
  options: MetricAlarmOptions,
): Finding[] {
  const findings: Finding[] = [];
  if (expected.length === 0) findings.push({ resource: '(expected)', problem: 'no metric series to check' });
  const alarms = resourcesOf(template, 'AWS::CloudWatch::Alarm');
  const describe = (e: ExpectedMetricAlarm): string =>
    `${e.namespace} ${e.metric} ${Object.entries(e.dimensions)
      .map(([k, v]) => `${k}=${v}`)
      .join(',')}`;
  for (const e of expected) {
    const matching = alarms.filter(([, a]) => {
      const dims = dimensionsOf(a);
      return (
        stringOf(prop(a, 'Namespace')) === e.namespace &&
        prop(a, 'MetricName') === e.metric &&
        dims !== undefined &&
        sameDimensions(dims, e.dimensions)
      );
    });
    if (matching.length === 0) {
      findings.push({ resource: describe(e), problem: 'no alarm on this series' });
      continue;
    }
    for (const [id, a] of matching) {
      if (list(prop(a, 'AlarmActions')).length === 0)
        findings.push({ resource: id, problem: 'no alarm action' });
      if (prop(a, 'TreatMissingData') !== options.treatMissingData)
        findings.push({
          resource: id,
          problem: `missing data is ${String(prop(a, 'TreatMissingData'))}, not ${options.treatMissingData}`,
        });
    }
  }
  for (const [id, a] of alarms) {
    const namespace = stringOf(prop(a, 'Namespace'));
    const metric = prop(a, 'MetricName');
    const same = expected.filter((e) => e.namespace === namespace && e.metric === metric);
    if (same.length === 0) continue;
    const dims = dimensionsOf(a);
    if (!dims || !same.some((e) => sameDimensions(dims, e.dimensions)))
      findings.push({
        resource: id,
        problem: `watches a series the code does not write: ${JSON.stringify(dims)}`,
      });
  }
  return findings;
}

const SECRET_NAME = /SECRET|TOKEN|PASSWORD|PASSPHRASE|PRIVATE_KEY|CREDENTIAL/i;

/**
 * No secret value in function configuration: secret-looking variables only
 * as `*_PARAM` names (read at run time through the parameters extension), and
 * no dynamic reference that would resolve a secret into the configuration.
 */
export function checkNoSecretsInEnvironment(template: Template): Finding[] {
  const findings: Finding[] = [];
  for (const [id, fn] of resourcesOf(template, 'AWS::Lambda::Function')) {
    const variables = prop(fn, 'Environment.Variables');
    if (!isRecord(variables)) continue;
    for (const [name, value] of Object.entries(variables)) {
      if (SECRET_NAME.test(name) && !name.endsWith('_PARAM'))
        findings.push({ resource: id, problem: `${name} holds a secret value` });
      const text = stringOf(value) ?? '';
      if (/\{\{resolve:(secretsmanager|ssm-secure):/.test(text))
        findings.push({ resource: id, problem: `${name} resolves a secret into the configuration` });
    }
  }
  return findings;
}

/** The environment of each function, values as {@link stringOf} reads them. */
export function functionEnvironments(template: Template): Map<string, Record<string, string | undefined>> {
  const out = new Map<string, Record<string, string | undefined>>();
  for (const [id, fn] of resourcesOf(template, 'AWS::Lambda::Function')) {
    const variables = prop(fn, 'Environment.Variables');
    const env: Record<string, string | undefined> = {};
    if (isRecord(variables))
      for (const [name, value] of Object.entries(variables)) env[name] = stringOf(value);
    out.set(id, env);
  }
  return out;
}

/**
 * The names resources will have in the account, for references in values:
 * a bucket's `BucketName`, a Glue database's name, a workgroup's `Name`.
 */
export function physicalNames(template: Template): Map<string, string> {
  const names = new Map<string, string>();
  for (const [id, r] of Object.entries(template.Resources)) {
    const name =
      stringOf(prop(r, 'BucketName')) ??
      stringOf(prop(r, 'DatabaseInput.Name')) ??
      (r.Type === 'AWS::Athena::WorkGroup' ? stringOf(prop(r, 'Name')) : undefined) ??
      stringOf(prop(r, 'QueueName'));
    if (name !== undefined) names.set(id, name);
  }
  return names;
}

/** A value with `${Logical}` references replaced by the resources' names (unknown ones left as they are). */
export function withNames(value: string, names: ReadonlyMap<string, string>): string {
  return value.replace(/\$\{([A-Za-z0-9]+)\}/g, (whole, id: string) => names.get(id) ?? whole);
}
