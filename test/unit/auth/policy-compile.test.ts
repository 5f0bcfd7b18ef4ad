import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { MartAccess } from '../../../src/auth/access.js';
import { compilePolicy, validatePolicy } from '../../../src/auth/policy/compile.js';
import { PolicyInvalidError } from '../../../src/auth/policy/errors.js';
import type { PolicyDocument, PolicyDocumentInput } from '../../../src/auth/policy/model.js';
import type { Principal } from '../../../src/auth/principal.js';
import { findMart, MARTS } from '../../../src/catalog/index.js';
import type { MartDef } from '../../../src/catalog/types.js';

function mart(name: string): MartDef {
  const def = findMart(name);
  if (!def) throw new Error(`no mart ${name}`);
  return def;
}

function who(roles: string[], scopes: Record<string, string[]> = {}): Principal {
  return { subject: 'tester', roles, scopes };
}

/** A policy exercising every combination rule; each role is small so expectations stay readable. */
const DOC: PolicyDocument = {
  version: 1,
  roles: {
    admin: { marts: { '*': { columns: '*', pii: { default: 'none' }, detail: true } } },
    regional: {
      marts: {
        '*': { columns: '*', rows: [{ dimension: 'region', claim: 'regions' }], detail: true },
      },
    },
    contacts: {
      marts: {
        customer_360: {
          columns: ['customer_id', 'name', 'email', 'phone', 'region'],
          pii: { email: 'partial' },
          rows: [{ dimension: 'region', claim: 'regions' }],
          detail: true,
        },
      },
    },
    hasher: {
      marts: {
        customer_360: {
          columns: { allBut: ['phone'] },
          pii: { default: 'hash' },
          rows: [{ dimension: 'customer', claim: 'customer_ids' }],
          detail: true,
        },
      },
    },
    counter: {
      marts: {
        customer_360: {
          columns: '*',
          pii: { default: 'none' },
          detail: false,
          aggregates: { allowed: true, minGroupSize: 5 },
        },
      },
    },
    counter10: {
      marts: {
        customer_360: {
          columns: ['customer_id', 'region', 'mrr'],
          detail: false,
          aggregates: { allowed: true, minGroupSize: 10 },
        },
      },
    },
    eu_only: {
      marts: {
        customer_360: {
          columns: '*',
          rows: [
            { dimension: 'region', values: ['EU', 'UK'] },
            { dimension: 'region', claim: 'regions' },
          ],
          detail: true,
        },
      },
    },
    either: {
      marts: {
        invoices: {
          columns: '*',
          rows: {
            anyOf: [
              [{ dimension: 'region', claim: 'regions' }],
              [{ column: 'customer_id', claim: 'customer_ids' }],
            ],
          },
          detail: true,
        },
      },
    },
    service: {
      marts: {
        kpi_daily_usage: {
          columns: '*',
          rows: [{ dimension: 'region', claim: 'regions', absent: 'all' }],
          detail: true,
        },
      },
    },
  },
};

const policy = compilePolicy(DOC, MARTS);

function access(principal: Principal, name: string): MartAccess {
  const a = policy.accessFor(principal, mart(name));
  if (!a) throw new Error(`no access to ${name}`);
  return a;
}

describe('compilePolicy: grants', () => {
  it('no grant, no role, or an unknown role: the mart does not exist', () => {
    expect(policy.accessFor(who([]), mart('invoices'))).toBeUndefined();
    expect(policy.accessFor(who(['nobody']), mart('invoices'))).toBeUndefined();
    expect(policy.accessFor(who(['contacts']), mart('invoices'))).toBeUndefined();
  });

  it('admin: every column in clear, every row, detail and unsuppressed aggregates', () => {
    for (const def of MARTS) {
      const a = access(who(['admin']), def.name);
      expect([...a.columns]).toEqual(def.columns.map((c) => c.name));
      expect(a.masks.size).toBe(0);
      expect(a.rows).toBeNull();
      expect(a.detail).toBe(true);
      expect(a.aggregates).toEqual({ allowed: true, minGroupSize: 1 });
    }
  });

  it('a `*` grant whose row rule needs a dimension a mart lacks skips that mart', () => {
    const regional = who(['regional'], { regions: ['EU'] });
    expect(mart('revenue_cohorts').rowScope.region).toBeUndefined();
    expect(policy.accessFor(regional, mart('revenue_cohorts'))).toBeUndefined();
    for (const def of MARTS.filter((m) => m.rowScope.region))
      expect(access(regional, def.name).rows).toEqual([[{ column: def.rowScope.region, values: ['EU'] }]]);
  });

  it('a PII column a grant does not name is redacted; named tags use their mask', () => {
    const a = access(who(['contacts'], { regions: ['EU'] }), 'customer_360');
    expect([...a.columns]).toEqual(['customer_id', 'name', 'email', 'phone', 'region']);
    expect(a.masks).toEqual(
      new Map([
        ['email', 'partial'],
        ['phone', 'redact'],
      ]),
    );
  });

  it('allBut grants every column but the listed ones', () => {
    const a = access(who(['hasher'], { customer_ids: ['1'] }), 'customer_360');
    const expected = mart('customer_360')
      .columns.map((c) => c.name)
      .filter((n) => n !== 'phone');
    expect([...a.columns]).toEqual(expected);
    expect(a.masks).toEqual(new Map([['email', 'hash']]));
  });
});

describe('compilePolicy: union of roles', () => {
  it('columns union and the most permissive mask among the roles granting the column wins', () => {
    const a = access(who(['contacts', 'hasher'], { regions: ['EU'], customer_ids: ['7'] }), 'customer_360');
    expect(a.columns.has('phone')).toBe(true);
    expect(a.columns.has('mrr')).toBe(true);
    // email: partial (contacts) beats hash (hasher); phone: only contacts grants it (redact).
    expect(a.masks).toEqual(
      new Map([
        ['email', 'partial'],
        ['phone', 'redact'],
      ]),
    );
  });

  it('row scopes combine by OR, each role its own AND-group', () => {
    const a = access(
      who(['contacts', 'hasher'], { regions: ['NA', 'EU'], customer_ids: ['7'] }),
      'customer_360',
    );
    expect(a.rows).toEqual([
      [{ column: 'customer_id', values: ['7'] }],
      [{ column: 'region', values: ['EU', 'NA'] }],
    ]);
  });

  it('any role granting every row gives every row', () => {
    const a = access(who(['contacts', 'admin'], { regions: ['EU'] }), 'customer_360');
    expect(a.rows).toBeNull();
    expect(a.masks.size).toBe(0);
  });

  it('a missing claim is an empty list: no row from that group', () => {
    expect(access(who(['contacts']), 'customer_360').rows).toEqual([]);
    expect(access(who(['contacts'], { regions: [] }), 'customer_360').rows).toEqual([]);
    const a = access(who(['contacts', 'hasher'], { customer_ids: ['9'] }), 'customer_360');
    expect(a.rows).toEqual([[{ column: 'customer_id', values: ['9'] }]]);
  });

  it('`absent: all` lets a token without the claim read every row, but an empty claim none', () => {
    expect(access(who(['service']), 'kpi_daily_usage').rows).toBeNull();
    expect(access(who(['service'], { regions: ['EU'] }), 'kpi_daily_usage').rows).toEqual([
      [{ column: 'region', values: ['EU'] }],
    ]);
    expect(access(who(['service'], { regions: [] }), 'kpi_daily_usage').rows).toEqual([]);
  });

  it('fixed values and claims on one column intersect (the fixed list is an upper bound)', () => {
    expect(access(who(['eu_only'], { regions: ['EU', 'NA'] }), 'customer_360').rows).toEqual([
      [{ column: 'region', values: ['EU'] }],
    ]);
    expect(access(who(['eu_only'], { regions: ['NA'] }), 'customer_360').rows).toEqual([]);
  });

  it('anyOf groups in one grant are alternatives', () => {
    expect(access(who(['either'], { regions: ['EU'], customer_ids: ['3', '1'] }), 'invoices').rows).toEqual([
      [{ column: 'customer_id', values: ['1', '3'] }],
      [{ column: 'region', values: ['EU'] }],
    ]);
  });

  it('aggregate-only: detail false; the smallest minimum group size among the roles allowing aggregates', () => {
    const one = access(who(['counter']), 'customer_360');
    expect(one.detail).toBe(false);
    expect(one.aggregates).toEqual({ allowed: true, minGroupSize: 5 });
    const two = access(who(['counter10', 'counter']), 'customer_360');
    expect(two.detail).toBe(false);
    expect(two.aggregates.minGroupSize).toBe(5);
    expect(two.rows).toBeNull();
  });

  it('an aggregate-only grant never widens what a row-level grant reads', () => {
    const a = access(who(['contacts', 'counter'], { regions: ['EU'] }), 'customer_360');
    expect(a.detail).toBe(true);
    // Rows, columns and masks come from the row-level grant alone.
    expect(a.rows).toEqual([[{ column: 'region', values: ['EU'] }]]);
    expect([...a.columns]).toEqual(['customer_id', 'name', 'email', 'phone', 'region']);
    expect(a.masks.get('phone')).toBe('redact');
    expect(a.aggregates.allowed).toBe(true);
  });

  it('the order and repetition of roles and claim values do not matter', () => {
    const a = who(['hasher', 'contacts', 'hasher'], { regions: ['NA', 'EU', 'NA'], customer_ids: ['7'] });
    const b = who(['contacts', 'hasher'], { regions: ['EU', 'NA'], customer_ids: ['7', '7'] });
    expect(access(a, 'customer_360')).toStrictEqual(access(b, 'customer_360'));
    expect(policy.fingerprint(a)).toBe(policy.fingerprint(b));
  });

  it('a MartDef from another catalog is not granted', () => {
    expect(policy.accessFor(who(['admin']), { ...mart('invoices') })).toBeUndefined();
  });

  it('compiles a caller once: equal principals share the compiled access', () => {
    const first = access(who(['contacts'], { regions: ['EU'] }), 'customer_360');
    const again = access(who(['contacts'], { regions: ['EU'] }), 'customer_360');
    expect(again).toBe(first);
  });
});

describe('fingerprint', () => {
  it('is sha256 hex, the same for equal access whatever the roles are called', () => {
    const fp = policy.fingerprint(who(['contacts'], { regions: ['EU'] }));
    expect(fp).toMatch(/^[0-9a-f]{64}$/);
    // An unknown role grants nothing, so the access (and the fingerprint) is the same.
    expect(policy.fingerprint(who(['contacts', 'ghost'], { regions: ['EU'] }))).toBe(fp);
    // A claim no rule of the role reads changes nothing either.
    expect(policy.fingerprint(who(['contacts'], { regions: ['EU'], customer_ids: ['1'] }))).toBe(fp);
  });

  it('differs whenever the effective access differs', () => {
    const prints = [
      who(['contacts'], { regions: ['EU'] }),
      who(['contacts'], { regions: ['NA'] }),
      who(['contacts'], { regions: ['EU', 'NA'] }),
      who(['contacts']),
      who(['hasher'], { customer_ids: ['1'] }),
      who(['counter']),
      who(['counter10']),
      who(['admin']),
      who([]),
    ].map((p) => policy.fingerprint(p));
    expect(new Set(prints).size).toBe(prints.length);
  });

  it('property: equal fingerprints exactly when every mart reads the same', () => {
    const roleNames = Object.keys(DOC.roles);
    const principal = fc.record({
      roles: fc.subarray([...roleNames, 'ghost'], { maxLength: 3 }),
      regions: fc.option(fc.subarray(['EU', 'NA', 'UK', 'APAC']), { nil: undefined }),
      ids: fc.option(fc.subarray(['1', '2', '3']), { nil: undefined }),
    });
    const build = (p: { roles: string[]; regions?: string[] | undefined; ids?: string[] | undefined }) =>
      who(p.roles, {
        ...(p.regions ? { regions: p.regions } : {}),
        ...(p.ids ? { customer_ids: p.ids } : {}),
      });
    const effective = (p: Principal): string =>
      JSON.stringify(
        MARTS.map((m) => {
          const a = policy.accessFor(p, m);
          return a
            ? [m.name, [...a.columns], [...a.masks], a.rows, a.detail, a.aggregates]
            : [m.name, 'no access'];
        }),
      );
    fc.assert(
      fc.property(principal, principal, (x, y) => {
        const a = build(x);
        const b = build(y);
        expect(policy.fingerprint(a) === policy.fingerprint(b)).toBe(effective(a) === effective(b));
      }),
      { numRuns: 300 },
    );
  });
});

describe('validatePolicy', () => {
  function problems(doc: unknown): string[] {
    return validatePolicy(doc, MARTS).map((p) => `${p.path.join('.')}: ${p.message}`);
  }

  it('the schema: a wrong version, an unknown key, a bad mask', () => {
    const found = problems({
      version: 2,
      roles: { x: { marts: { invoices: { columns: '*', pii: { default: 'blur' } } }, colour: 'red' } },
    });
    expect(found.some((p) => p.startsWith('version:'))).toBe(true);
    expect(found.some((p) => p.startsWith('roles.x:') && p.includes('colour'))).toBe(true);
    expect(found.some((p) => p.startsWith('roles.x.marts.invoices.pii.default:'))).toBe(true);
  });

  it('an empty rows list is refused: it would read as "no row" but mean every row', () => {
    const found = problems({ version: 1, roles: { x: { marts: { invoices: { columns: '*', rows: [] } } } } });
    expect(found.some((p) => p.startsWith('roles.x.marts.invoices.rows'))).toBe(true);
    const empty = problems({
      version: 1,
      roles: { x: { marts: { invoices: { columns: '*', rows: { anyOf: [[]] } } } } },
    });
    expect(empty.some((p) => p.startsWith('roles.x.marts.invoices.rows'))).toBe(true);
  });

  it('a rule with both claim and values, or neither, is refused', () => {
    const both = problems({
      version: 1,
      roles: {
        x: {
          marts: {
            invoices: { columns: '*', rows: [{ dimension: 'region', claim: 'regions', values: ['EU'] }] },
          },
        },
      },
    });
    expect(both.join('\n')).toContain('exactly one of claim or values');
  });

  it('unknown marts, columns, PII tags and claims name their place', () => {
    const found = problems({
      version: 1,
      roles: {
        csm: {
          marts: {
            customer_360: {
              columns: ['customer_id', 'emial'],
              pii: { emial: 'none' },
              rows: [{ dimension: 'region', claim: 'region' }],
            },
            customers: { columns: '*' },
            invoices: { columns: { allBut: ['totl'] } },
          },
        },
      },
    });
    expect(found).toEqual(
      expect.arrayContaining([
        'roles.csm.marts.customer_360.columns.1: unknown column "emial" of customer_360',
        'roles.csm.marts.customer_360.pii.emial: unknown PII tag "emial" (known: default, email, phone)',
        'roles.csm.marts.customer_360.rows.0.claim: unknown claim "region" (known: regions, customer_ids)',
        'roles.csm.marts.customers: unknown mart "customers"',
        'roles.csm.marts.invoices.columns.allBut.0: unknown column "totl" of invoices',
      ]),
    );
  });

  it('an explicit grant whose dimension the mart lacks is a problem (a `*` grant just skips it)', () => {
    expect(
      problems({
        version: 1,
        roles: {
          x: {
            marts: { revenue_cohorts: { columns: '*', rows: [{ dimension: 'region', claim: 'regions' }] } },
          },
        },
      }),
    ).toEqual(['roles.x.marts.revenue_cohorts.rows.0.dimension: revenue_cohorts has no region dimension']);
  });

  it('a `*` grant naming a column of no mart is a typo', () => {
    expect(
      problems({ version: 1, roles: { x: { marts: { '*': { columns: ['region', 'regoin'] } } } } }),
    ).toEqual(['roles.x.marts.*.columns.1: unknown column "regoin" of every mart']);
  });

  it('detail reads need the key; a grant without detail must allow aggregates', () => {
    expect(
      problems({
        version: 1,
        roles: {
          x: {
            marts: {
              customer_360: { columns: ['name'] },
              invoices: { columns: '*', detail: false, aggregates: { allowed: false } },
            },
          },
        },
      }),
    ).toEqual([
      'roles.x.marts.customer_360.columns: detail reads of customer_360 need its key column "customer_id"',
      'roles.x.marts.invoices.detail: a grant without detail reads must allow aggregates, or it grants nothing',
    ]);
  });

  it('classification may add PII classes, never contradict the catalog', () => {
    expect(
      problems({
        version: 1,
        roles: {},
        classification: { customer_360: { email: 'phone', nmae: 'email' }, nowhere: { a: 'email' } },
      }),
    ).toEqual([
      'classification.customer_360.email: customer_360.email is classified "email" by the catalog, not "phone"',
      'classification.customer_360.nmae: unknown column "nmae" of customer_360',
      'classification.nowhere: unknown mart "nowhere"',
    ]);
  });

  it('compilePolicy throws every problem at once with code POLICY_INVALID', () => {
    const bad: PolicyDocumentInput = {
      version: 1,
      roles: { x: { marts: { nope: { columns: '*' }, invoices: { columns: ['zz'] } } } },
    };
    expect(() => compilePolicy(bad, MARTS)).toThrow(PolicyInvalidError);
    try {
      compilePolicy(bad, MARTS);
    } catch (error) {
      expect((error as PolicyInvalidError).code).toBe('POLICY_INVALID');
      expect((error as PolicyInvalidError).problems).toHaveLength(2);
    }
  });
});

describe('classification from the source', () => {
  const classified = compilePolicy(
    {
      version: 1,
      roles: {
        clear: { marts: { customer_360: { columns: '*', pii: { email: 'none' } } } },
        masked: { marts: { customer_360: { columns: '*', pii: { default: 'hash' } } } },
      },
      classification: { customer_360: { company_name: 'email' } },
    },
    MARTS,
  );

  it('a column only the source classifies is shown to roles that read its tag in clear, hidden from others', () => {
    const clear = classified.accessFor(who(['clear']), mart('customer_360'));
    const masked = classified.accessFor(who(['masked']), mart('customer_360'));
    expect(clear?.columns.has('company_name')).toBe(true);
    expect(clear?.masks.has('company_name')).toBe(false);
    expect(masked?.columns.has('company_name')).toBe(false);
    expect(masked?.masks.get('email')).toBe('hash');
  });
});
