import { describe, expect, it } from 'vitest';
import { duckdbDialect, trinoDialect } from '../../../src/sql/dialect.js';
import { raw } from '../../../src/sql/fragment.js';
import { goldDefinitionKey } from '../../../src/transform/gold/build-key.js';
import { GOLD_MODELS } from '../../../src/transform/gold/index.js';
import { isRollup } from '../../../src/transform/gold/rollups.js';

const incremental = GOLD_MODELS.filter((m) => m.incremental);

describe('incremental Gold specs', () => {
  it('exist for the fact marts that are partitioned (invoices, payments)', () => {
    expect(incremental.map((m) => m.mart.name).sort()).toEqual(['invoices', 'payments']);
  });

  it.each(incremental.map((m) => [m.mart.name, m] as const))(
    '%s: the driver is an entity input, and its keys are columns of both the driver and the mart',
    (_name, model) => {
      const spec = model.incremental;
      if (!spec) throw new Error('unreachable');
      const driver = model.inputs[spec.driver];
      if (!driver || isRollup(driver)) throw new Error(`driver ${spec.driver} is not an entity input`);
      const driverFields = driver.fields.map((f) => f.name);
      const martColumns = model.mart.columns.map((c) => c.name);
      expect(spec.keys.length).toBeGreaterThan(0);
      for (const key of spec.keys) {
        expect(driverFields).toContain(key);
        expect(martColumns).toContain(key);
      }
      // Copy-on-write pays off only per partition: an unpartitioned mart is one file, rewritten whole.
      expect(model.mart.partitionBy.length).toBeGreaterThan(0);
    },
  );

  it('affected keys are rendered over the changed rows of every input the spec names', () => {
    for (const model of incremental) {
      const spec = model.incremental;
      if (!spec) continue;
      const names = Object.keys(model.inputs);
      const inputs = Object.fromEntries(names.map((n) => [n, raw(`(SELECT * FROM "input:${n}")`)]));
      const changed = Object.fromEntries(names.map((n) => [n, raw(`(SELECT * FROM "changed:${n}")`)]));
      const text = spec.affected({ inputs, changed, asOf: '2026-11-21', dialect: duckdbDialect }).text;
      expect(text).toContain(`"changed:${spec.driver}"`);
      // A customer's region comes from contacts and accounts: their changes must reach the driver's keys.
      expect(text).toContain('"changed:contacts"');
      expect(text).toContain('"changed:accounts"');
    }
  });
});

describe('goldDefinitionKey', () => {
  const [invoices] = incremental;
  const spec = invoices?.incremental;
  if (!invoices || !spec) throw new Error('expected an incremental model');

  it('is the same for the same definition and as_of, and differs by as_of, dialect, model and layout', () => {
    const key = goldDefinitionKey(invoices, duckdbDialect, '2026-11-21');
    expect(goldDefinitionKey(invoices, duckdbDialect, '2026-11-21')).toBe(key);
    const others = [
      goldDefinitionKey(invoices, duckdbDialect, '2026-11-22'),
      goldDefinitionKey(invoices, trinoDialect, '2026-11-21'),
      goldDefinitionKey(incremental[1] ?? invoices, duckdbDialect, '2026-11-21'),
      goldDefinitionKey(
        { ...invoices, mart: { ...invoices.mart, partitionBy: [] } },
        duckdbDialect,
        '2026-11-21',
      ),
      goldDefinitionKey(
        { ...invoices, incremental: { ...spec, keys: ['invoice_number'] } },
        duckdbDialect,
        '2026-11-21',
      ),
    ];
    expect(new Set([key, ...others]).size).toBe(others.length + 1);
  });
});
