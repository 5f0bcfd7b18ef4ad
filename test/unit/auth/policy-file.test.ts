import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FilePolicySource, parsePolicyYaml } from '../../../src/adapters/policy-source/file.js';
import type { MartAccess } from '../../../src/auth/access.js';
import { compilePolicy } from '../../../src/auth/policy/compile.js';
import { PolicyInvalidError } from '../../../src/auth/policy/errors.js';
import type { Principal } from '../../../src/auth/principal.js';
import { MARTS } from '../../../src/catalog/index.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'goldgate-policy-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** 1-based line and column of the first occurrence of `needle` in `text`. */
function positionOf(text: string, needle: string, from = 0): { line: number; column: number } {
  const offset = text.indexOf(needle, from);
  if (offset < 0) throw new Error(`${needle} not in text`);
  const before = text.slice(0, offset).split('\n');
  return { line: before.length, column: (before.at(-1) ?? '').length + 1 };
}

function problemsOf(text: string, name = 'policies/test.yaml'): string[] {
  try {
    parsePolicyYaml(text, MARTS, name);
  } catch (error) {
    expect(error).toBeInstanceOf(PolicyInvalidError);
    return (error as PolicyInvalidError).problems.map(
      (p) => `${p.location?.file}:${p.location?.line}:${p.location?.column} ${p.message}`,
    );
  }
  throw new Error('the policy was accepted');
}

describe('policy file errors name the file, line, column and problem', () => {
  const typo = `version: 1
roles:
  csm:
    marts:
      customer_360:
        columns:
          - customer_id
          - emial
        rows:
          - { dimension: region, claim: regions }
`;

  it('an unknown column points at the column as written', () => {
    const at = positionOf(typo, 'emial');
    expect(at).toEqual({ line: 8, column: 13 });
    try {
      parsePolicyYaml(typo, MARTS, 'policies/demo.yaml');
      expect.unreachable();
    } catch (error) {
      expect((error as PolicyInvalidError).code).toBe('POLICY_INVALID');
      expect((error as Error).message).toContain(
        'policies/demo.yaml:8:13 roles.csm.marts.customer_360.columns[1]: unknown column "emial" of customer_360',
      );
    }
  });

  it('an unknown key points at the key', () => {
    const text = `version: 1
roles:
  finance:
    marts:
      invoices:
        columns: "*"
        colums: "*"
`;
    const at = positionOf(text, 'colums');
    expect(problemsOf(text)).toEqual([
      `policies/test.yaml:${at.line}:${at.column} Unrecognized key: "colums"`,
    ]);
  });

  it('a bad value points at the value; every problem is listed', () => {
    const text = `version: 1
roles:
  analyst:
    marts:
      customer_360:
        columns: "*"
        pii: { default: blur }
      payments:
        columns: "*"
        aggregates: { minGroupSize: 0 }
`;
    const blur = positionOf(text, 'blur');
    const zero = positionOf(text, '0 }');
    const found = problemsOf(text);
    expect(found).toHaveLength(2);
    expect(found[0]).toMatch(new RegExp(`^policies/test.yaml:${blur.line}:${blur.column} `));
    expect(found[1]).toMatch(new RegExp(`^policies/test.yaml:${zero.line}:${zero.column} `));
  });

  it('a row rule on a dimension the mart lacks points at the rule', () => {
    const text = `version: 1
roles:
  csm:
    marts:
      revenue_cohorts:
        columns: "*"
        rows:
          - dimension: region
            claim: regions
`;
    const at = positionOf(text, 'region\n');
    expect(problemsOf(text)).toEqual([
      `policies/test.yaml:${at.line}:${at.column} revenue_cohorts has no region dimension`,
    ]);
  });

  it('YAML syntax errors and duplicate keys are located too', () => {
    const duplicate = `version: 1
roles:
  csm:
    marts: {}
  csm:
    marts: {}
`;
    const found = problemsOf(duplicate);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^policies\/test\.yaml:5:3 YAML: /);
    const broken = 'version: 1\nroles:\n  csm: [unclosed\n';
    expect(problemsOf(broken)[0]).toMatch(/^policies\/test\.yaml:\d+:\d+ YAML: /);
  });

  it('an empty file is a document-level problem', () => {
    expect(problemsOf('')[0]).toMatch(/^policies\/test\.yaml:1:1 /);
  });
});

describe('FilePolicySource', () => {
  it('a missing file is POLICY_UNREADABLE, naming the file but not the reason of the OS beyond its code', async () => {
    const source = new FilePolicySource({
      file: join(dir, 'absent.yaml'),
      marts: MARTS,
      displayName: 'absent.yaml',
    });
    await expect(source.load()).rejects.toMatchObject({
      code: 'POLICY_UNREADABLE',
      message: 'absent.yaml: cannot be read (ENOENT)',
    });
  });

  it('loads once and reports the digest of the document', async () => {
    const file = join(dir, 'small.yaml');
    await writeFile(file, 'version: 1\nroles:\n  admin:\n    marts:\n      "*": { columns: "*" }\n');
    const source = new FilePolicySource({ file, marts: MARTS });
    const first = await source.load();
    await writeFile(file, 'version: 1\nroles: {}\n');
    const second = await source.load();
    expect(second).toBe(first);
    expect(first.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(Object.keys(first.document.roles)).toEqual(['admin']);
  });
});

describe('the demo policy (policies/demo.yaml)', () => {
  const REGIONS = { regions: ['EU'] };
  let accessOf: (roles: string[], scopes?: Principal['scopes']) => Map<string, MartAccess>;
  let roles: readonly string[];

  beforeAll(async () => {
    const snapshot = await new FilePolicySource({ file: 'policies/demo.yaml', marts: MARTS }).load();
    const policy = compilePolicy(snapshot.document, MARTS, { digest: snapshot.digest });
    roles = policy.roles;
    accessOf = (r, scopes = {}) => {
      const out = new Map<string, MartAccess>();
      for (const mart of MARTS) {
        const a = policy.accessFor({ subject: 't', roles: r, scopes }, mart);
        if (a) out.set(mart.name, a);
      }
      return out;
    };
  });

  const FINANCE = ['invoices', 'payments', 'ar_aging', 'mrr_monthly', 'revenue_cohorts'];
  const KPI = ['kpi_daily_usage', 'kpi_funnel', 'kpi_retention'];

  it('defines the six roles of the issue, and ops (no mart: the ops page only)', () => {
    expect(roles).toEqual(['admin', 'analyst', 'csm', 'custify', 'databrain', 'finance', 'ops']);
    expect(accessOf(['ops']).size).toBe(0);
  });

  it('admin reads everything in clear', () => {
    const all = accessOf(['admin']);
    expect([...all.keys()]).toEqual(MARTS.map((m) => m.name));
    for (const a of all.values()) expect([a.masks.size, a.rows, a.detail]).toEqual([0, null, true]);
  });

  it('finance: the finance marts and customer_360, every region, PII partial', () => {
    const all = accessOf(['finance']);
    expect([...all.keys()].sort()).toEqual([...FINANCE, 'customer_360'].sort());
    const c360 = all.get('customer_360');
    expect(c360?.rows).toBeNull();
    expect(c360?.masks).toEqual(
      new Map([
        ['email', 'partial'],
        ['phone', 'partial'],
      ]),
    );
  });

  it('csm: customer_360 and the KPI marts of its regions, PII clear, no finance mart', () => {
    const all = accessOf(['csm'], REGIONS);
    expect([...all.keys()].sort()).toEqual(['customer_360', ...KPI].sort());
    for (const a of all.values()) {
      expect(a.rows).toEqual([[{ column: 'region', values: ['EU'] }]]);
      expect(a.masks.size).toBe(0);
      expect(a.detail).toBe(true);
    }
    for (const mart of FINANCE) expect(all.has(mart)).toBe(false);
  });

  it('analyst: every mart, PII hashed, customer_360 aggregate-only with groups of at least 5', () => {
    const all = accessOf(['analyst']);
    expect(all.size).toBe(MARTS.length);
    const c360 = all.get('customer_360');
    expect(c360?.detail).toBe(false);
    expect(c360?.aggregates).toEqual({ allowed: true, minGroupSize: 5 });
    expect(c360?.masks).toEqual(
      new Map([
        ['email', 'hash'],
        ['phone', 'hash'],
      ]),
    );
    for (const [name, a] of all) if (name !== 'customer_360') expect(a.detail).toBe(true);
  });

  it('databrain: KPI marts and cohorts row by row, person-level marts as aggregates only, PII redacted', () => {
    const all = accessOf(['databrain']);
    expect(all.size).toBe(MARTS.length);
    for (const name of [...KPI, 'revenue_cohorts']) expect(all.get(name)?.detail).toBe(true);
    for (const name of ['customer_360', 'invoices', 'payments', 'ar_aging', 'mrr_monthly']) {
      expect(all.get(name)?.detail).toBe(false);
      expect(all.get(name)?.aggregates.minGroupSize).toBe(5);
    }
    expect(all.get('customer_360')?.masks).toEqual(
      new Map([
        ['email', 'redact'],
        ['phone', 'redact'],
      ]),
    );
  });

  it('custify: customer_360 and daily usage, PII clear; regions from the claim, or every region without one', () => {
    const scoped = accessOf(['custify'], REGIONS);
    expect([...scoped.keys()].sort()).toEqual(['customer_360', 'kpi_daily_usage']);
    for (const a of scoped.values()) expect(a.rows).toEqual([[{ column: 'region', values: ['EU'] }]]);
    for (const a of accessOf(['custify']).values()) expect(a.rows).toBeNull();
    expect(scoped.get('customer_360')?.masks.size).toBe(0);
  });
});
