import { describe, expect, it } from 'vitest';
import type { MartAccess } from '../../../src/auth/access.js';
import { accessToEarlierVersion } from '../../../src/auth/versions.js';
import {
  CATALOG,
  createCatalog,
  MARTS,
  servedVersions,
  validateCatalog,
} from '../../../src/catalog/index.js';
import { customer360 } from '../../../src/catalog/marts/customer.js';
import type { MartDef } from '../../../src/catalog/types.js';
import { validateVersions } from '../../../src/catalog/versions.js';
import { duckdbDialect } from '../../../src/sql/dialect.js';
import { raw } from '../../../src/sql/fragment.js';
import { GOLD_MODELS } from '../../../src/transform/gold/index.js';
import { earlierVersionModels, goldStepName } from '../../../src/transform/gold/versions.js';

/** customer_360 after a breaking change: `email` became `contact_email`, `region` became `home_region`. */
const RENAMES: Readonly<Record<string, string>> = { email: 'contact_email', region: 'home_region' };
const v2: MartDef = {
  ...customer360,
  schemaVersion: 2,
  columns: customer360.columns.map((c) => ({ ...c, name: RENAMES[c.name] ?? c.name })),
  rowScope: { region: 'home_region', customer: 'customer_id' },
  checks: undefined,
  previousVersions: [
    {
      schemaVersion: 1,
      change: 'email is contact_email, region is home_region',
      columns: customer360.columns.map((c) => (RENAMES[c.name] ? { ...c, from: RENAMES[c.name] } : c)),
    },
  ],
};

describe('served schema versions', () => {
  it('serves every product mart once, under its plain names, while no mart has an earlier version', () => {
    expect(CATALOG.served.map((m) => [m.name, m.schemaVersion, m.api.listField])).toEqual(
      MARTS.map((m) => [m.name, m.schemaVersion, m.api.listField]),
    );
    expect(validateCatalog()).toEqual([]);
  });

  it('keeps plain names on v1 and gives v2 suffixed names; each version has its own columns', () => {
    const [one, two] = servedVersions(v2);
    expect([one?.schemaVersion, one?.api.listField, one?.api.typeName, one?.api.itemField]).toEqual([
      1,
      'customers',
      'Customer',
      'customer',
    ]);
    expect([two?.schemaVersion, two?.api.listField, two?.api.typeName, two?.api.itemField]).toEqual([
      2,
      'customersV2',
      'CustomerV2',
      'customerV2',
    ]);
    expect(one?.columns.map((c) => c.name)).toEqual(customer360.columns.map((c) => c.name));
    expect(one?.rowScope).toEqual({ region: 'region', customer: 'customer_id' });
    expect(one?.api.deprecation).toContain('email is contact_email');
    expect(two?.api.deprecation).toBeUndefined();
    // No `from` leaks into the served columns.
    expect(one?.columns.some((c) => 'from' in c)).toBe(false);
  });

  it('gives the plain names to the oldest version once version 1 is retired', () => {
    const v3: MartDef = {
      ...v2,
      schemaVersion: 3,
      previousVersions: [{ schemaVersion: 2, change: 'x', columns: v2.columns }],
    };
    const [two, three] = servedVersions(v3);
    expect(two?.api.listField).toBe('customersV2');
    expect(two?.api.aliases).toEqual([{ listField: 'customers', itemField: 'customer' }]);
    expect(three?.api.listField).toBe('customersV3');
    expect(three?.api.aliases).toBeUndefined();
  });

  it('finds the default (oldest) version by name and any version by number', () => {
    const catalog = createCatalog(MARTS.map((m) => (m.name === 'customer_360' ? v2 : m)));
    expect(catalog.find('customer_360')?.schemaVersion).toBe(1);
    expect(catalog.find('customer_360', 2)?.api.listField).toBe('customersV2');
    expect(catalog.find('customer_360', 3)).toBeUndefined();
    expect(catalog.current('customer_360')).toBe(v2);
    expect(catalog.versions('invoices')).toHaveLength(1);
  });

  it('refuses versions it cannot serve', () => {
    const bad: MartDef = {
      ...v2,
      previousVersions: [
        { schemaVersion: 2, change: 'same as current', columns: v2.columns },
        {
          schemaVersion: 1,
          change: 'x',
          retiresOn: 'soon',
          columns: [{ ...customer360.columns[1], from: 'no_such_column' } as MartDef['columns'][number]],
        },
      ],
    };
    const problems = validateVersions([bad]);
    expect(problems).toEqual(
      expect.arrayContaining([
        'customer_360 v2: an earlier version must be below the current v2',
        'customer_360 v2: declared twice',
        'customer_360 v1: retiresOn is not YYYY-MM-DD',
        expect.stringMatching(/derives from no_such_column, not a current column/),
        'customer_360 v1: no column derives from customer_id, needed as key or partition',
      ]),
    );
    expect(() => createCatalog([bad])).toThrow(/mart catalog/);
  });
});

describe('access to an earlier version', () => {
  const one = servedVersions(v2)[0] as MartDef;
  const grant: MartAccess = {
    mart: v2,
    columns: new Set(v2.columns.map((c) => c.name).filter((n) => n !== 'phone')),
    masks: new Map([['contact_email', 'partial']]),
    rows: [[{ column: 'home_region', values: ['EU'] }]],
    detail: true,
    aggregates: { allowed: true, minGroupSize: 3 },
  };

  it('follows the grant column by column: hidden stays hidden, masks and row scopes move with the rename', () => {
    const access = accessToEarlierVersion(grant, one);
    expect(access?.mart).toBe(one);
    expect(access?.columns.has('email')).toBe(true);
    expect(access?.columns.has('phone')).toBe(false);
    expect(access?.columns.has('contact_email')).toBe(false);
    expect([...(access?.masks ?? [])]).toEqual([['email', 'partial']]);
    expect(access?.rows).toEqual([[{ column: 'region', values: ['EU'] }]]);
    expect(access?.aggregates).toEqual({ allowed: true, minGroupSize: 3 });
    expect(access?.detail).toBe(true);
  });

  it('denies the version when a row rule has no column there, and refuses another mart grant', () => {
    const scoped: MartAccess = { ...grant, rows: [[{ column: 'lifecycle_stage', values: ['active'] }]] };
    const noStage = {
      ...one,
      projectedFrom: {
        current: v2,
        columnFrom: new Map(
          [...(one.projectedFrom?.columnFrom ?? [])].filter(([n]) => n !== 'lifecycle_stage'),
        ),
      },
    };
    expect(accessToEarlierVersion(scoped, noStage)).toBeUndefined();
    expect(accessToEarlierVersion({ ...grant, mart: customer360 }, one)).toBeUndefined();
  });
});

describe('earlier-version models', () => {
  it('projects the current model onto the earlier columns, in key order, under its own step name', () => {
    const base = GOLD_MODELS.find((m) => m.mart.name === 'customer_360');
    if (!base) throw new Error('no customer_360 model');
    const [model, ...rest] = earlierVersionModels([{ ...base, mart: v2 }]);
    expect(rest).toEqual([]);
    expect(model?.mart.schemaVersion).toBe(1);
    expect(goldStepName(model?.mart as MartDef)).toBe('gold.customer_360.v1');
    expect(goldStepName(v2)).toBe('gold.customer_360');
    const inputs = Object.fromEntries(Object.keys(base.inputs).map((name) => [name, raw(`silver_${name}`)]));
    const text = model?.query({ inputs, asOf: '2026-11-21', dialect: duckdbDialect }).text ?? '';
    expect(text).toContain('CAST(current_version."contact_email" AS VARCHAR) AS "email"');
    expect(text).toContain('CAST(current_version."home_region" AS VARCHAR) AS "region"');
    expect(text).toMatch(/ORDER BY "customer_id"$/);
    expect(earlierVersionModels(GOLD_MODELS)).toEqual([]);
  });
});
