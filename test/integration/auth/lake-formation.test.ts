import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type LakeFormationMapping,
  LakeFormationPolicySource,
  type PolicySourceLog,
  parseLakeFormationMapping,
} from '../../../src/adapters/policy-source/lake-formation.js';
import { compilePolicy } from '../../../src/auth/policy/compile.js';
import { findMart, MARTS } from '../../../src/catalog/index.js';
import {
  ACCOUNT,
  type LakeFormationServer,
  type LfPrincipalPermission,
  lfColumnTags,
  lfFilter,
  startLakeFormationServer,
} from '../../support/lake-formation-server.js';

/**
 * The Lake Formation source against a Lake Formation-protocol endpoint over
 * HTTP (REST-JSON, SigV4-signed by the real SDK client), with response
 * payloads in the documented shapes.
 */

const FINANCE_ARN = `arn:aws:iam::${ACCOUNT}:role/goldgate-finance`;

function permission(resource: Record<string, unknown>, permissions = ['SELECT']): LfPrincipalPermission {
  return {
    Principal: { DataLakePrincipalIdentifier: FINANCE_ARN },
    Resource: resource,
    Permissions: permissions,
    PermissionsWithGrantOption: [],
  };
}

/** Every Gold table's column tags: the catalog's PII columns tagged as the catalog says. */
function catalogTags(): Record<string, ReturnType<typeof lfColumnTags>> {
  const out: Record<string, ReturnType<typeof lfColumnTags>> = {};
  for (const mart of MARTS) {
    const tags: Record<string, Record<string, string>> = {};
    for (const c of mart.columns) if (c.pii) tags[c.name] = { pii: c.pii };
    out[mart.name === 'invoices' ? 'gold_invoices_v' : mart.name] = lfColumnTags(tags);
  }
  return out;
}

const MAPPING = {
  version: 1,
  catalogId: ACCOUNT,
  database: 'goldgate_gold',
  tables: { gold_invoices_v: 'invoices' },
  roles: {
    csm: { filters: ['csm_emea', 'csm_na'], pii: { default: 'none' } },
    support: { filters: [{ name: 'support_a' }, { name: 'support_b', table: 'customer_360' }] },
    finance: { principals: [FINANCE_ARN], pii: { default: 'partial' } },
    regional: {
      filters: [{ name: 'regional', claims: { region: 'regions' } }],
      detail: false,
      aggregates: { allowed: true, minGroupSize: 5 },
    },
  },
};

let lf: LakeFormationServer;
let logged: Array<{ level: string; message: string; extra: Record<string, unknown> }>;
const log: PolicySourceLog = {
  info: (message, extra) => logged.push({ level: 'info', message, extra }),
  warn: (message, extra) => logged.push({ level: 'warn', message, extra }),
  error: (message, extra) => logged.push({ level: 'error', message, extra }),
};

beforeEach(async () => {
  logged = [];
  lf = await startLakeFormationServer({
    filters: [
      // Multi-filter grant: two filters of csm on one table, one with a wildcard exclusion.
      lfFilter('customer_360', 'csm_emea', { expression: "region IN ('EU','UK')" }, { excluding: ['phone'] }),
      lfFilter(
        'customer_360',
        'csm_na',
        { expression: "region = 'NA'" },
        { names: ['customer_id', 'name', 'region', 'email'] },
      ),
      // The same filter name on another table: csm inherits both.
      lfFilter('kpi_funnel', 'csm_emea', 'all', { excluding: [] }),
      // Two wildcard filters with different exclusions: the union excludes only what both exclude.
      lfFilter('customer_360', 'support_a', 'all', { excluding: ['email', 'phone'] }),
      lfFilter('customer_360', 'support_b', 'all', { excluding: ['phone', 'mrr'] }),
      lfFilter('kpi_funnel', 'support_b', 'all', { excluding: [] }),
      lfFilter('gold_invoices_v', 'finance_all', 'all', { excluding: ['invoice_number'] }),
      lfFilter(
        'gold_invoices_v',
        'regional',
        { expression: "region IN ('EU','NA','UK')" },
        { names: ['customer_id', 'region', 'total_base', 'status'] },
      ),
      // Nobody maps this one: its expression is outside the grammar but is never parsed.
      lfFilter('customer_360', 'unmapped', { expression: "name LIKE 'A%'" }, { excluding: [] }),
      { ...lfFilter('customer_360', 'csm_emea', 'all', { excluding: [] }), DatabaseName: 'other_db' },
    ],
    columnTags: {
      ...catalogTags(),
      customer_360: lfColumnTags({
        email: { pii: 'email' },
        phone: { pii: 'phone' },
        company_name: { pii: 'email' },
        health_score: { team: 'cs' },
      }),
    },
    permissions: [
      permission({
        DataCellsFilter: {
          TableCatalogId: ACCOUNT,
          DatabaseName: 'goldgate_gold',
          TableName: 'gold_invoices_v',
          Name: 'finance_all',
        },
      }),
      permission({
        TableWithColumns: {
          CatalogId: ACCOUNT,
          DatabaseName: 'goldgate_gold',
          Name: 'payments',
          ColumnWildcard: { ExcludedColumnNames: [] },
        },
      }),
      permission({ Table: { CatalogId: ACCOUNT, DatabaseName: 'goldgate_gold', Name: 'ar_aging' } }),
      permission({ Table: { CatalogId: ACCOUNT, DatabaseName: 'goldgate_gold', Name: 'mrr_monthly' } }, [
        'DESCRIBE',
      ]),
      {
        ...permission({
          Table: { CatalogId: ACCOUNT, DatabaseName: 'goldgate_gold', Name: 'revenue_cohorts' },
        }),
        Condition: { Expression: "context.region = 'eu'" },
      },
      {
        ...permission({
          Table: { CatalogId: ACCOUNT, DatabaseName: 'goldgate_gold', Name: 'kpi_retention' },
        }),
        Principal: { DataLakePrincipalIdentifier: `arn:aws:iam::${ACCOUNT}:role/someone-else` },
      },
    ],
  });
});

afterEach(async () => {
  await lf.close();
});

function source(
  mapping: LakeFormationMapping = parseLakeFormationMapping(MAPPING),
  options: { ttlMs?: number; now?: () => number } = {},
): LakeFormationPolicySource {
  return new LakeFormationPolicySource({
    client: lf.client(),
    mapping,
    marts: MARTS,
    ttlMs: options.ttlMs ?? 60_000,
    log,
    ...(options.now ? { now: options.now } : {}),
  });
}

describe('Lake Formation filters and LF-tags become the policy document', () => {
  it('turns the filters, grants and tags into the expected policy', async () => {
    const snapshot = await source().load();
    expect(snapshot.document).toEqual({
      version: 1,
      roles: {
        csm: {
          marts: {
            customer_360: {
              // allBut [phone] ∪ [customer_id, name, region, email] = all but phone.
              columns: { allBut: ['phone'] },
              rows: {
                anyOf: [[{ column: 'region', values: ['EU', 'UK'] }], [{ column: 'region', values: ['NA'] }]],
              },
              pii: { default: 'none' },
              detail: true,
            },
            kpi_funnel: { columns: '*', pii: { default: 'none' }, detail: true },
          },
        },
        support: {
          marts: {
            // support_b is mapped on customer_360 only: its kpi_funnel twin is not inherited.
            customer_360: { columns: { allBut: ['phone'] }, detail: true },
          },
        },
        finance: {
          marts: {
            invoices: { columns: { allBut: ['invoice_number'] }, pii: { default: 'partial' }, detail: true },
            payments: { columns: '*', pii: { default: 'partial' }, detail: true },
            ar_aging: { columns: '*', pii: { default: 'partial' }, detail: true },
          },
        },
        regional: {
          marts: {
            invoices: {
              columns: ['customer_id', 'region', 'status', 'total_base'],
              rows: [
                { column: 'region', values: ['EU', 'NA', 'UK'] },
                { column: 'region', claim: 'regions' },
              ],
              detail: false,
              aggregates: { allowed: true, minGroupSize: 5 },
            },
          },
        },
      },
      classification: { customer_360: { company_name: 'email' } },
    });
    expect(snapshot.origin).toBe('lakeformation:goldgate_gold');
    expect(snapshot.digest).toMatch(/^[0-9a-f]{64}$/);
  });

  it('reports LF-tags that disagree with the catalog, and mapped filters LF does not have', async () => {
    lf.state.columnTags.customer_360 = lfColumnTags({
      email: { pii: 'phone' },
      company_name: { pii: 'email' },
    });
    const mapping = parseLakeFormationMapping({
      ...MAPPING,
      roles: { ...MAPPING.roles, ghost: { filters: ['no_such_filter'] } },
    });
    const snapshot = await source(mapping).load();
    expect(snapshot.warnings).toEqual(
      expect.arrayContaining([
        'customer_360.email: the catalog tags it email; Lake Formation says pii=phone',
        'customer_360.phone: the catalog tags it phone; Lake Formation has no pii tag',
        'customer_360.company_name: Lake Formation tags it pii=email; the catalog does not',
        'role ghost: Lake Formation has no data cells filter "no_such_filter"',
      ]),
    );
    // The catalog's classes hold whatever LF says.
    expect(snapshot.document.classification).toEqual({ customer_360: { company_name: 'email' } });
    const warned = logged.filter((l) => l.level === 'warn').map((l) => l.extra.warning);
    expect(warned).toEqual(expect.arrayContaining([...snapshot.warnings]));
  });

  it('onPiiDisagreement: fail refuses the policy', async () => {
    const strict = parseLakeFormationMapping({ ...MAPPING, onPiiDisagreement: 'fail' });
    await expect(source(strict).load()).rejects.toMatchObject({
      code: 'POLICY_INVALID',
      message: expect.stringContaining('company_name'),
    });
  });

  it('pages through every answer, signs every request, and reads the configured database only', async () => {
    await source().load();
    const listCalls = lf.requests.filter((r) => r.operation === 'ListDataCellsFilter');
    expect(listCalls.length).toBeGreaterThan(3);
    expect(listCalls[0]?.body).toMatchObject({
      Table: { CatalogId: ACCOUNT, DatabaseName: 'goldgate_gold', TableWildcard: {} },
    });
    expect(listCalls.slice(1).every((r) => typeof r.body.NextToken === 'string')).toBe(true);
    expect(lf.requests.filter((r) => r.operation === 'ListPermissions').length).toBeGreaterThan(1);
    const tagged = lf.requests.filter((r) => r.operation === 'GetResourceLFTags').map((r) => r.body.Resource);
    expect(tagged).toContainEqual({
      Table: { CatalogId: ACCOUNT, DatabaseName: 'goldgate_gold', Name: 'gold_invoices_v' },
    });
    expect(lf.requests.every((r) => r.signed)).toBe(true);
  });

  it('compiles into the access the filters describe', async () => {
    const snapshot = await source().load();
    const policy = compilePolicy(snapshot.document, MARTS, { digest: snapshot.digest });
    const c360 = findMart('customer_360');
    const invoices = findMart('invoices');
    if (!c360 || !invoices) throw new Error('catalog');
    const csm = policy.accessFor({ subject: 's', roles: ['csm'], scopes: {} }, c360);
    expect(csm?.columns.has('phone')).toBe(false);
    expect(csm?.rows).toEqual([
      [{ column: 'region', values: ['EU', 'UK'] }],
      [{ column: 'region', values: ['NA'] }],
    ]);
    // The claim can narrow the LF filter's regions, never widen them.
    const regional = policy.accessFor(
      { subject: 's', roles: ['regional'], scopes: { regions: ['EU', 'APAC'] } },
      invoices,
    );
    expect(regional?.rows).toEqual([[{ column: 'region', values: ['EU'] }]]);
    expect(regional?.detail).toBe(false);
    // company_name is PII only in LF: finance reads PII partially, so it does not see it at all.
    const support = policy.accessFor({ subject: 's', roles: ['support'], scopes: {} }, c360);
    expect(support?.columns.has('company_name')).toBe(false);
    expect(support?.masks.get('email')).toBe('redact');
  });

  it('a mapped filter outside the row filter grammar fails the load, naming the filter and the position', async () => {
    lf.state.filters.push(
      lfFilter('customer_360', 'csm_na', { expression: "region <> 'NA'" }, { excluding: [] }),
    );
    await expect(source().load()).rejects.toMatchObject({
      code: 'POLICY_INVALID',
      message: expect.stringContaining(`filter "csm_na" on customer_360: row filter "region <> 'NA'" at 8`),
    });
  });

  it('a grant that hides the key of a mart read row by row drops that mart, with a warning', async () => {
    lf.state.filters.push(lfFilter('kpi_daily_usage', 'csm_emea', 'all', { names: ['dau', 'region'] }));
    const snapshot = await source().load();
    expect(snapshot.document.roles.csm?.marts.kpi_daily_usage).toBeUndefined();
    expect(snapshot.warnings).toContain(
      'role csm: Lake Formation grants no date of kpi_daily_usage; detail reads need the key, so the role does not get kpi_daily_usage',
    );
  });
});

describe('caching and refresh', () => {
  it('serves the cache while fresh, refreshes after the ttl, and keeps the last good policy when a refresh fails', async () => {
    let clock = 1_000_000;
    const lfSource = source(undefined, { ttlMs: 60_000, now: () => clock });
    const first = await lfSource.load();
    const calls = lf.requests.length;
    expect(await lfSource.load()).toBe(first);
    expect(lf.requests.length).toBe(calls);

    // LF changes and then fails: the stale policy is served, the failure logged, nothing thrown.
    lf.state.filters = lf.state.filters.filter((f) => f.Name !== 'csm_na');
    lf.state.failWith = 'AccessDeniedException';
    clock += 60_000;
    expect(await lfSource.load()).toBe(first);
    expect(await lfSource.refresh()).toBe(false);
    expect(await lfSource.load()).toBe(first);
    const failure = logged.find((l) => l.level === 'error');
    expect(failure?.message).toBe('policy refresh failed; keeping the last good policy');
    expect(failure?.extra).toMatchObject({
      digest: first.digest,
      error: { code: 'POLICY_SOURCE_UNAVAILABLE' },
    });

    // A refresh whose data no longer fits is refused the same way.
    lf.state.failWith = undefined;
    lf.state.filters.push(
      lfFilter('customer_360', 'csm_emea', { expression: 'region = EU' }, { excluding: [] }),
    );
    expect(await lfSource.refresh()).toBe(false);
    expect(await lfSource.load()).toBe(first);

    // LF is healthy again: the next refresh takes the new policy.
    lf.state.filters = lf.state.filters.filter((f) => f.RowFilter?.FilterExpression !== 'region = EU');
    expect(await lfSource.refresh()).toBe(true);
    const second = await lfSource.load();
    expect(second.digest).not.toBe(first.digest);
    expect(second.document.roles.csm?.marts.customer_360?.rows).toEqual([
      { column: 'region', values: ['EU', 'UK'] },
    ]);
  });

  it('a stale load triggers one background refresh and still answers at once', async () => {
    let clock = 0;
    const lfSource = source(undefined, { ttlMs: 1_000, now: () => clock });
    const first = await lfSource.load();
    lf.state.filters = lf.state.filters.filter((f) => f.Name !== 'csm_na');
    clock += 1_000;
    const before = lf.requests.length;
    const stale = await Promise.all([lfSource.load(), lfSource.load(), lfSource.load()]);
    expect(stale.every((s) => s === first)).toBe(true);
    // The three loads share one refresh: wait for it through refresh(), which joins it.
    expect(await lfSource.refresh()).toBe(true);
    // One fetch reads each Gold table's tags once.
    const tagCalls = lf.requests.slice(before).filter((r) => r.operation === 'GetResourceLFTags').length;
    expect(tagCalls).toBe(MARTS.length);
    expect((await lfSource.load()).digest).not.toBe(first.digest);
  });

  it('without any good policy yet, a failure is POLICY_SOURCE_UNAVAILABLE', async () => {
    lf.state.failWith = 'InternalServiceException';
    await expect(source().load()).rejects.toMatchObject({ code: 'POLICY_SOURCE_UNAVAILABLE' });
  });
});

describe('the mapping file', () => {
  it('is checked with every problem named', () => {
    expect(() =>
      parseLakeFormationMapping(
        { version: 1, database: '', roles: { CSM: {}, ok: { filters: [{ nme: 'x' }] } } },
        'lf.yaml',
      ),
    ).toThrow(/^lf\.yaml: database: .*roles\.CSM/);
    try {
      parseLakeFormationMapping(
        { version: 1, database: 'd', roles: { ok: { pii: { email: 'blur' } } } },
        'lf.yaml',
      );
      expect.unreachable();
    } catch (error) {
      expect((error as { code: string }).code).toBe('LF_MAPPING_INVALID');
      expect((error as Error).message).toContain('roles.ok.pii.email');
    }
  });
});
