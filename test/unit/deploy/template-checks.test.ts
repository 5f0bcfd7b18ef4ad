// biome-ignore-all lint/suspicious/noTemplateCurlyInString: CloudFormation writes references as ${Logical} inside Fn::Sub strings.
import { describe, expect, it } from 'vitest';
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
  type Finding,
  isWildcardResource,
  parseTemplate,
  stringOf,
} from '../../integration/deploy/template-checks.js';

// The checks run on the packaged template in test/integration/deploy; here each is fed a small
// template that passes, then the same template broken in one place, to show that it can fail.

const arn = (id: string) => ({ 'Fn::GetAtt': [id, 'Arn'] });
const ref = (id: string) => ({ Ref: id });

function key() {
  return {
    Type: 'AWS::KMS::Key',
    Properties: {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: [
          {
            Effect: 'Allow',
            Principal: { AWS: { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:root' } },
            Action: 'kms:*',
            Resource: '*',
          },
        ],
      },
    },
  };
}

function bucket(keyId: string | undefined) {
  return {
    Type: 'AWS::S3::Bucket',
    Properties: {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          {
            ServerSideEncryptionByDefault: {
              SSEAlgorithm: 'aws:kms',
              ...(keyId ? { KMSMasterKeyID: arn(keyId) } : {}),
            },
          },
        ],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      VersioningConfiguration: { Status: 'Enabled' },
    },
  };
}

function tlsOnly(bucketId: string) {
  return {
    Type: 'AWS::S3::BucketPolicy',
    Properties: {
      Bucket: ref(bucketId),
      PolicyDocument: {
        Statement: [
          {
            Effect: 'Deny',
            Principal: '*',
            Action: 's3:*',
            Resource: [arn(bucketId), { 'Fn::Sub': `\${${bucketId}.Arn}/*` }],
            Condition: { Bool: { 'aws:SecureTransport': false } },
          },
        ],
      },
    },
  };
}

function alarm(namespace: string, metric: string, dimension: string, value: unknown) {
  return {
    Type: 'AWS::CloudWatch::Alarm',
    Properties: {
      Namespace: namespace,
      MetricName: metric,
      Dimensions: [{ Name: dimension, Value: value }],
      AlarmActions: [ref('Topic')],
    },
  };
}

/** A template every check passes. */
function good(): Record<string, unknown> {
  const bronze = bucket('BronzeKey');
  (bronze.Properties as Record<string, unknown>).LifecycleConfiguration = {
    Rules: [
      {
        Status: 'Enabled',
        Prefix: 'bronze/',
        Transitions: [
          { StorageClass: 'STANDARD_IA', TransitionInDays: 30 },
          { StorageClass: 'GLACIER', TransitionInDays: 90 },
        ],
      },
    ],
  };
  return {
    Resources: {
      BronzeKey: key(),
      SilverKey: key(),
      GoldKey: key(),
      BronzeBucket: bronze,
      BronzeBucketPolicy: tlsOnly('BronzeBucket'),
      SilverBucket: bucket('SilverKey'),
      SilverBucketPolicy: tlsOnly('SilverBucket'),
      GoldBucket: bucket('GoldKey'),
      GoldBucketPolicy: tlsOnly('GoldBucket'),
      // The framework's bucket: AWS managed key, policy written with Fn::Join as osls writes it.
      ServerlessDeploymentBucket: bucket(undefined),
      ServerlessDeploymentBucketPolicy: {
        Type: 'AWS::S3::BucketPolicy',
        Properties: {
          Bucket: ref('ServerlessDeploymentBucket'),
          PolicyDocument: {
            Statement: [
              {
                Action: 's3:*',
                Effect: 'Deny',
                Principal: '*',
                Resource: [
                  {
                    'Fn::Join': [
                      '',
                      ['arn:', ref('AWS::Partition'), ':s3:::', ref('ServerlessDeploymentBucket'), '/*'],
                    ],
                  },
                  {
                    'Fn::Join': [
                      '',
                      ['arn:', ref('AWS::Partition'), ':s3:::', ref('ServerlessDeploymentBucket')],
                    ],
                  },
                ],
                Condition: { Bool: { 'aws:SecureTransport': false } },
              },
            ],
          },
        },
      },
      Dlq: { Type: 'AWS::SQS::Queue', Properties: { KmsMasterKeyId: arn('GoldKey') } },
      Topic: { Type: 'AWS::SNS::Topic', Properties: {} },
      StreamRole: {
        Type: 'AWS::IAM::Role',
        Properties: {
          AssumeRolePolicyDocument: {
            Statement: [
              { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
            ],
          },
          Policies: [
            {
              PolicyName: 'stream',
              PolicyDocument: {
                Statement: [
                  {
                    Sid: 'Bronze',
                    Effect: 'Allow',
                    Action: ['s3:GetObject', 's3:PutObject'],
                    Resource: { 'Fn::Sub': '${BronzeBucket.Arn}/bronze/dynamodb/*' },
                  },
                  {
                    Sid: 'Logs',
                    Effect: 'Allow',
                    Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
                    Resource: {
                      'Fn::Sub':
                        'arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/lambda/fn:*',
                    },
                  },
                  { Sid: 'Dlq', Effect: 'Allow', Action: ['sqs:SendMessage'], Resource: arn('Dlq') },
                  { Sid: 'Deny', Effect: 'Deny', Action: '*', Resource: '*' },
                ],
              },
            },
          ],
        },
      },
      StreamFunction: {
        Type: 'AWS::Lambda::Function',
        Properties: {
          Role: arn('StreamRole'),
          Environment: { Variables: { ZOHO_CLIENT_SECRET_PARAM: '/aws/reference/secretsmanager/x' } },
        },
      },
      Mapping: {
        Type: 'AWS::Lambda::EventSourceMapping',
        Properties: {
          FunctionName: arn('StreamFunction'),
          EventSourceArn: 'arn:aws:dynamodb:eu-west-1:123456789012:table/t/stream/1',
          FunctionResponseTypes: ['ReportBatchItemFailures'],
          MaximumRetryAttempts: 5,
          MaximumRecordAgeInSeconds: 21_600,
          BisectBatchOnFunctionError: true,
          DestinationConfig: { OnFailure: { Destination: arn('Dlq') } },
        },
      },
      WorkGroup: {
        Type: 'AWS::Athena::WorkGroup',
        Properties: {
          WorkGroupConfiguration: {
            EnforceWorkGroupConfiguration: true,
            BytesScannedCutoffPerQuery: 10 * 1024 ** 3,
            ResultConfiguration: {
              OutputLocation: 's3://results/',
              EncryptionConfiguration: { EncryptionOption: 'SSE_KMS', KmsKey: arn('GoldKey') },
            },
          },
        },
      },
      FunctionErrors: alarm('AWS/Lambda', 'Errors', 'FunctionName', ref('StreamFunction')),
      IteratorAge: alarm('AWS/Lambda', 'IteratorAge', 'FunctionName', ref('StreamFunction')),
      DlqDepth: alarm('AWS/SQS', 'ApproximateNumberOfMessagesVisible', 'QueueName', {
        'Fn::GetAtt': ['Dlq', 'QueueName'],
      }),
    },
  };
}

/** Every check, with the settings the integration test uses. */
function allFindings(input: unknown): Finding[] {
  const t = parseTemplate(input);
  return [
    ...checkIdentityPolicies(t),
    ...checkFunctionRoles(t),
    ...checkBuckets(t, { awsManagedKeyAllowed: ['ServerlessDeploymentBucket'] }),
    ...checkBronzeLifecycle(t, 'BronzeBucket', { prefix: 'bronze/', iaDays: 30, glacierDays: 90 }),
    ...checkKeys(t, ['BronzeBucket', 'SilverBucket', 'GoldBucket']),
    ...checkStreamMappings(t, { maxRetryAttempts: 10, maxRecordAgeSeconds: 86_400 }),
    ...checkAthenaWorkGroups(t, 100 * 1024 ** 3),
    ...checkAlarms(t),
    ...checkNoSecretsInEnvironment(t),
  ];
}

/** A copy of the good template with `change` applied at a dotted path (`undefined` deletes). */
function broken(path: string, change: unknown): Record<string, unknown> {
  const template = good();
  const keys = path.split('.');
  const last = keys.pop() ?? '';
  let at: unknown = template;
  for (const k of keys) {
    if (typeof at !== 'object' || at === null) throw new Error(`no ${path}`);
    at = (at as Record<string, unknown>)[k];
  }
  if (typeof at !== 'object' || at === null) throw new Error(`no ${path}`);
  if (change === undefined) delete (at as Record<string, unknown>)[last];
  else (at as Record<string, unknown>)[last] = change;
  return template;
}

/** The problems found in a template broken at one place. */
function problems(path: string, change: unknown): string[] {
  return allFindings(broken(path, change)).map((f) => `${f.resource}: ${f.problem}`);
}

const STREAM_STATEMENTS = 'Resources.StreamRole.Properties.Policies.0.PolicyDocument.Statement';

describe('CloudFormation checks', () => {
  it('pass a template that keeps every rule', () => {
    expect(allFindings(good())).toEqual([]);
  });

  it('find nothing to check as a failure, not a pass', () => {
    expect(allFindings({ Resources: {} }).length).toBeGreaterThanOrEqual(6);
  });

  describe('identity policies', () => {
    it.each([
      ['*', 'wildcard action *'],
      ['s3:*', 'wildcard action s3:*'],
      [['s3:Get*'], 'wildcard action s3:Get*'],
    ])('reject the action %j', (action, problem) => {
      expect(problems(`${STREAM_STATEMENTS}.0.Action`, action)).toEqual([
        `StreamRole/stream#Bronze: ${problem}`,
      ]);
    });

    it.each([
      '*',
      'arn:aws:s3:::*',
      { 'Fn::Sub': 'arn:${AWS::Partition}:logs:*:${AWS::AccountId}:log-group:x' },
      { 'Fn::Sub': 'arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:*' },
    ])('reject a data action on the wildcard resource %j', (resource) => {
      const found = problems(`${STREAM_STATEMENTS}.0.Resource`, resource);
      expect(found).toHaveLength(1);
      expect(found[0]).toMatch(
        /^StreamRole\/stream#Bronze: wildcard resource .* for s3:GetObject, s3:PutObject$/,
      );
    });

    it('accept an action that exists only on *, as listed', () => {
      expect(
        problems(`${STREAM_STATEMENTS}.3`, {
          Effect: 'Allow',
          Action: 'lakeformation:GetDataAccess',
          Resource: '*',
        }),
      ).toEqual([]);
    });

    it('accept the Lake Formation policy source reads on *, but not beside a data action', () => {
      const lakeFormation = [
        'lakeformation:ListDataCellsFilter',
        'lakeformation:ListPermissions',
        'lakeformation:GetResourceLFTags',
      ];
      expect(
        problems(`${STREAM_STATEMENTS}.3`, {
          Sid: 'Lf',
          Effect: 'Allow',
          Action: lakeFormation,
          Resource: '*',
        }),
      ).toEqual([]);
      expect(
        problems(`${STREAM_STATEMENTS}.3`, {
          Sid: 'Lf',
          Effect: 'Allow',
          Action: [...lakeFormation, 's3:GetObject'],
          Resource: '*',
        }),
      ).toEqual([
        `StreamRole/stream#Lf: wildcard resource * for ${[...lakeFormation, 's3:GetObject'].join(', ')}`,
      ]);
      expect(
        problems(`${STREAM_STATEMENTS}.3`, {
          Sid: 'Lf',
          Effect: 'Allow',
          Action: 'lakeformation:GrantPermissions',
          Resource: '*',
        }),
      ).toEqual(['StreamRole/stream#Lf: wildcard resource * for lakeformation:GrantPermissions']);
    });

    it('reject NotAction, managed policies and roles others may assume', () => {
      expect(problems(`${STREAM_STATEMENTS}.2.NotAction`, 'iam:*')).toEqual([
        'StreamRole/stream#Dlq: Allow with NotAction',
      ]);
      expect(
        problems('Resources.StreamRole.Properties.ManagedPolicyArns', [
          'arn:aws:iam::aws:policy/AdministratorAccess',
        ]),
      ).toEqual(['StreamRole: managed policies attached (grants not written out)']);
      expect(
        problems('Resources.StreamRole.Properties.AssumeRolePolicyDocument.Statement.0.Principal', {
          AWS: '*',
        }),
      ).toEqual(['StreamRole: assumable by {"AWS":"*"}']);
    });

    it('reject a resource it cannot read rather than pass it', () => {
      expect(problems(`${STREAM_STATEMENTS}.0.Resource`, { 'Fn::If': ['c', '*', 'x'] })).toEqual([
        'StreamRole/stream#Bronze: resource not readable: {"Fn::If":["c","*","x"]}',
      ]);
    });
  });

  it('reject functions that share a role or run as a role from elsewhere', () => {
    const shared = good();
    (shared.Resources as Record<string, unknown>).OtherFunction = {
      Type: 'AWS::Lambda::Function',
      Properties: { Role: arn('StreamRole') },
    };
    expect(checkFunctionRoles(parseTemplate(shared))).toEqual([
      { resource: 'StreamRole', problem: 'shared by StreamFunction, OtherFunction' },
    ]);
    expect(
      problems('Resources.StreamFunction.Properties.Role', 'arn:aws:iam::123456789012:role/admin'),
    ).toContain('StreamFunction: role is not an IAM role of this template');
  });

  describe('buckets', () => {
    const encryption =
      'Resources.SilverBucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration.0';
    it('reject SSE-S3 and buckets without a key of the template', () => {
      expect(problems(`${encryption}.ServerSideEncryptionByDefault`, { SSEAlgorithm: 'AES256' })).toEqual(
        expect.arrayContaining([
          'SilverBucket: encrypted with AES256, not KMS',
          'SilverBucket: not encrypted with a KMS key of this template',
        ]),
      );
      expect(problems('Resources.SilverBucket.Properties.BucketEncryption', undefined)).toContain(
        'SilverBucket: no default encryption',
      );
    });

    it('reject any public access block left open, and versioning off', () => {
      expect(
        problems(
          'Resources.GoldBucket.Properties.PublicAccessBlockConfiguration.RestrictPublicBuckets',
          false,
        ),
      ).toEqual(['GoldBucket: public access not blocked (RestrictPublicBuckets)']);
      expect(problems('Resources.GoldBucket.Properties.VersioningConfiguration.Status', 'Suspended')).toEqual(
        ['GoldBucket: versioning not enabled'],
      );
    });

    it.each([
      ['Resources.GoldBucketPolicy', undefined],
      ['Resources.GoldBucketPolicy.Properties.PolicyDocument.Statement.0.Effect', 'Allow'],
      [
        'Resources.GoldBucketPolicy.Properties.PolicyDocument.Statement.0.Condition.Bool.aws:SecureTransport',
        true,
      ],
      ['Resources.GoldBucketPolicy.Properties.PolicyDocument.Statement.0.Resource', [arn('GoldBucket')]],
      ['Resources.GoldBucketPolicy.Properties.PolicyDocument.Statement.0.Action', 's3:GetObject'],
    ])('reject a bucket that answers plain HTTP (%s = %j)', (path, change) => {
      expect(problems(path, change)).toEqual(['GoldBucket: no policy denying requests without TLS']);
    });
  });

  it.each([
    ['Rules.0.Transitions.1.TransitionInDays', 120],
    ['Rules.0.Transitions.0.StorageClass', 'ONEZONE_IA'],
    ['Rules.0.Status', 'Disabled'],
    ['Rules.0.Prefix', 'silver/'],
  ])('reject a Bronze lifecycle with %s = %j', (path, change) => {
    expect(problems(`Resources.BronzeBucket.Properties.LifecycleConfiguration.${path}`, change)).toEqual([
      'BronzeBucket: no enabled rule over bronze/ to STANDARD_IA at 30 and GLACIER at 90 days',
    ]);
  });

  describe('stream mappings', () => {
    const m = 'Resources.Mapping.Properties';
    it.each([
      ['FunctionResponseTypes', [], 'no ReportBatchItemFailures (a failed record would be skipped)'],
      ['MaximumRetryAttempts', -1, 'retries not bounded by 10: -1'],
      ['MaximumRetryAttempts', undefined, 'retries not bounded by 10: undefined'],
      ['MaximumRecordAgeInSeconds', -1, 'record age not bounded by 86400: -1'],
      ['BisectBatchOnFunctionError', false, 'does not bisect a failing batch'],
      ['DestinationConfig', undefined, 'no on-failure SQS queue of this template'],
      ['DestinationConfig.OnFailure.Destination', ref('Topic'), 'no on-failure SQS queue of this template'],
    ])('reject %s = %j', (path, change, problem) => {
      expect(problems(`${m}.${path}`, change)).toContain(`Mapping: ${problem}`);
    });

    it('reject a DLQ without KMS and a role that may not send to it', () => {
      expect(problems('Resources.Dlq.Properties.KmsMasterKeyId', undefined)).toEqual([
        'Dlq: dead-letter queue not KMS-encrypted',
      ]);
      expect(problems(`${STREAM_STATEMENTS}.2.Resource`, { 'Fn::Sub': '${Dlq.Arn}-other' })).toEqual([
        "Mapping: the function's role may not send to Dlq",
      ]);
    });
  });

  describe('Athena workgroups', () => {
    const c = 'Resources.WorkGroup.Properties.WorkGroupConfiguration';
    it.each([
      ['EnforceWorkGroupConfiguration', false, 'configuration not enforced (clients may override it)'],
      ['BytesScannedCutoffPerQuery', undefined, `bytes-scanned cutoff missing or above ${100 * 1024 ** 3}`],
      ['BytesScannedCutoffPerQuery', 1024 ** 4, `bytes-scanned cutoff missing or above ${100 * 1024 ** 3}`],
      [
        'ResultConfiguration.EncryptionConfiguration.EncryptionOption',
        'SSE_S3',
        'results not KMS-encrypted (SSE_S3)',
      ],
      [
        'ResultConfiguration.EncryptionConfiguration.KmsKey',
        undefined,
        'results not KMS-encrypted (SSE_KMS)',
      ],
    ])('reject %s = %j', (path, change, problem) => {
      expect(problems(`${c}.${path}`, change)).toEqual([`WorkGroup: ${problem}`]);
    });
  });

  it('reject keys that do not rotate, open key policies, and layers sharing a key', () => {
    expect(problems('Resources.GoldKey.Properties.EnableKeyRotation', false)).toEqual([
      'GoldKey: rotation off',
    ]);
    expect(problems('Resources.GoldKey.Properties.KeyPolicy.Statement.0.Principal', '*')).toEqual([
      'GoldKey: key policy allows everyone',
    ]);
    expect(
      problems(
        'Resources.GoldBucket.Properties.BucketEncryption.ServerSideEncryptionConfiguration.0.ServerSideEncryptionByDefault.KMSMasterKeyID',
        arn('SilverKey'),
      ),
    ).toEqual(['GoldBucket: shares key SilverKey with SilverBucket']);
  });

  it.each([
    ['FunctionErrors', 'StreamFunction: no errors alarm'],
    ['IteratorAge', 'Mapping: no iterator age alarm on its function'],
    ['DlqDepth', 'Dlq: no depth alarm'],
  ])('reject a template without the %s alarm', (id, problem) => {
    expect(problems(`Resources.${id}`, undefined)).toEqual([problem]);
    expect(problems(`Resources.${id}.Properties.AlarmActions`, [])).toEqual([problem]);
  });

  it('reject secret values in function configuration', () => {
    const vars = 'Resources.StreamFunction.Properties.Environment.Variables';
    expect(problems(`${vars}.ZOHO_REFRESH_TOKEN`, 'abc')).toEqual([
      'StreamFunction: ZOHO_REFRESH_TOKEN holds a secret value',
    ]);
    expect(problems(`${vars}.GOLDGATE_MASK`, '{{resolve:secretsmanager:goldgate/mask}}')).toEqual([
      'StreamFunction: GOLDGATE_MASK resolves a secret into the configuration',
    ]);
  });

  it('read references and pseudo parameters as CloudFormation writes them', () => {
    expect(stringOf({ 'Fn::Sub': 'arn:${AWS::Partition}:s3:::${Bucket}/*' })).toBe(
      'arn:aws:s3:::${Bucket}/*',
    );
    expect(stringOf({ 'Fn::GetAtt': ['Q', 'Arn'] })).toBe('${Q.Arn}');
    expect(stringOf({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::', { Ref: 'B' }]] })).toBe(
      'arn:aws:s3:::${B}',
    );
    expect(isWildcardResource('arn:aws:dynamodb:eu-west-1:123456789012:table/t/stream/1')).toBe(false);
    expect(isWildcardResource('arn:aws:dynamodb:*:123456789012:table/t')).toBe(true);
    expect(isWildcardResource('${B.Arn}/bronze/*')).toBe(false);
  });
});

describe('alarms on metrics the code writes', () => {
  const series = ['customer_360', 'invoices'].map((mart) => ({
    namespace: 'goldgate/prod',
    metric: 'SlaBreached',
    dimensions: { service: 'goldgate', mart },
  }));

  function slaAlarm(mart: string) {
    return {
      Type: 'AWS::CloudWatch::Alarm',
      Properties: {
        Namespace: 'goldgate/prod',
        MetricName: 'SlaBreached',
        Dimensions: [
          { Name: 'service', Value: 'goldgate' },
          { Name: 'mart', Value: mart },
        ],
        TreatMissingData: 'breaching',
        AlarmActions: [ref('Topic')],
      },
    };
  }

  type Alarms = { A: ReturnType<typeof slaAlarm>; B: ReturnType<typeof slaAlarm>; [more: string]: unknown };

  function template(change?: (resources: Alarms) => void) {
    const resources: Alarms = { A: slaAlarm('customer_360'), B: slaAlarm('invoices') };
    change?.(resources);
    return parseTemplate({ Resources: { Topic: { Type: 'AWS::SNS::Topic' }, ...resources } });
  }

  const found = (t: ReturnType<typeof template>) =>
    checkMetricAlarms(t, series, { treatMissingData: 'breaching' }).map((f) => `${f.resource}: ${f.problem}`);

  it('pass one alarm per series with an action, missing data breaching', () => {
    expect(found(template())).toEqual([]);
  });

  it('reject a series without its alarm, or watched under another namespace, name or dimension set', () => {
    const missing = 'goldgate/prod SlaBreached service=goldgate,mart=invoices: no alarm on this series';
    expect(found(template((r) => Reflect.deleteProperty(r, 'B')))).toEqual([missing]);
    expect(
      found(
        template((r) => {
          r.B.Properties.Namespace = 'goldgate';
        }),
      ),
    ).toEqual([missing]);
    expect(
      found(
        template((r) => {
          r.B.Properties.MetricName = 'SlaLate';
        }),
      ),
    ).toEqual([missing]);
    // CloudWatch matches every dimension: without `service` the alarm watches a series nobody writes.
    expect(
      found(
        template((r) => {
          r.B.Properties.Dimensions = [{ Name: 'mart', Value: 'invoices' }];
        }),
      ),
    ).toEqual([missing, 'B: watches a series the code does not write: {"mart":"invoices"}']);
  });

  it('reject missing data that does not alarm, and an alarm without an action', () => {
    expect(
      found(
        template((r) => {
          r.A.Properties.TreatMissingData = 'notBreaching';
          r.B.Properties.AlarmActions = [];
        }),
      ),
    ).toEqual(['A: missing data is notBreaching, not breaching', 'B: no alarm action']);
  });

  it('reject an alarm on a mart the code no longer reports (it would stay in ALARM)', () => {
    expect(
      found(
        template((r) => {
          r.C = slaAlarm('old_mart');
        }),
      ),
    ).toEqual(['C: watches a series the code does not write: {"service":"goldgate","mart":"old_mart"}']);
  });

  it('find nothing to check as a failure', () => {
    expect(checkMetricAlarms(template(), [], { treatMissingData: 'breaching' })).toEqual([
      { resource: '(expected)', problem: 'no metric series to check' },
    ]);
  });
});
