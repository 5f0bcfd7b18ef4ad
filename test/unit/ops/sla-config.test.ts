import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MARTS } from '../../../src/catalog/index.js';
import { SlaConfigError } from '../../../src/ops/errors.js';
import {
  DEFAULT_SLAS,
  describeSla,
  loadSlaConfig,
  type SlaConfig,
  validateSlaConfig,
} from '../../../src/ops/sla-config.js';

/** Await a call that must throw; return what it threw. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('SLA configuration', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'goldgate-sla-config-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('gives every mart of the catalog an SLA, and names no other', () => {
    expect(validateSlaConfig(DEFAULT_SLAS)).toEqual([]);
    expect(Object.keys(DEFAULT_SLAS).sort()).toEqual(MARTS.map((m) => m.name).sort());
  });

  it('holds the promises the seeds name: Customer 360 by 06:00 IST, finance hourly', () => {
    expect(describeSla(loadSlaConfig({}).customer_360 ?? fail())).toBe('daily by 06:00 Asia/Kolkata');
    for (const mart of ['invoices', 'payments', 'ar_aging']) {
      expect(loadSlaConfig({})[mart], mart).toMatchObject({ kind: 'max_age', maxAgeMinutes: 60 });
    }
  });

  it('reports a mart without an SLA and an SLA for no mart', () => {
    const { customer_360: _dropped, ...rest } = DEFAULT_SLAS;
    const config: SlaConfig = {
      ...rest,
      customer_306: { kind: 'max_age', maxAgeMinutes: 5, basis: 'publish', graceMinutes: 0 },
    };
    expect(validateSlaConfig(config)).toEqual(['customer_360: no SLA', 'customer_306: not a mart']);
  });

  it('takes per-mart replacements from a YAML file, then from GOLDGATE_SLAS', async () => {
    const file = join(dir, 'slas.yaml');
    await writeFile(
      file,
      'customer_360:\n  kind: deadline\n  at: "07:30"\n  timeZone: Europe/Berlin\n  graceMinutes: 10\ninvoices:\n  kind: max_age\n  maxAgeMinutes: 30\n',
    );
    const config = loadSlaConfig({
      GOLDGATE_SLA_FILE: file,
      GOLDGATE_SLAS: JSON.stringify({ invoices: { kind: 'max_age', maxAgeMinutes: 15, basis: 'source' } }),
    });
    expect(config.customer_360).toEqual({
      kind: 'deadline',
      at: '07:30',
      timeZone: 'Europe/Berlin',
      graceMinutes: 10,
    });
    expect(config.invoices).toEqual({ kind: 'max_age', maxAgeMinutes: 15, basis: 'source', graceMinutes: 0 });
    expect(config.payments).toEqual(DEFAULT_SLAS.payments);
  });

  it('refuses unknown zones, bad times, unknown marts and unknown fields, naming each', () => {
    const error = thrown(() =>
      loadSlaConfig({
        GOLDGATE_SLAS: JSON.stringify({
          customer_360: { kind: 'deadline', at: '6am', timeZone: 'Asia/Calcutta_' },
          invoices: { kind: 'max_age', maxAgeMinutes: 60, maxAge: 3 },
          nope: { kind: 'max_age', maxAgeMinutes: 60 },
        }),
      }),
    );
    expect(error).toBeInstanceOf(SlaConfigError);
    const problems = (error as SlaConfigError).problems.join('\n');
    expect((error as SlaConfigError).code).toBe('SLA_CONFIG_INVALID');
    expect(problems).toContain('customer_360.at');
    expect(problems).toContain('customer_360.timeZone');
    expect(problems).toContain('invoices');
  });

  it('refuses an SLA for a mart the catalog does not declare', () => {
    const error = thrown(() =>
      loadSlaConfig({ GOLDGATE_SLAS: JSON.stringify({ nope: { kind: 'max_age', maxAgeMinutes: 60 } }) }),
    );
    expect((error as SlaConfigError).problems).toEqual(['nope: not a mart']);
  });

  it('refuses a file that cannot be read or parsed, without its content in the message', async () => {
    expect(thrown(() => loadSlaConfig({ GOLDGATE_SLA_FILE: join(dir, 'missing.yaml') }))).toMatchObject({
      problems: ['GOLDGATE_SLA_FILE: cannot be read'],
    });
    expect(thrown(() => loadSlaConfig({ GOLDGATE_SLAS: '{secret' }))).toMatchObject({
      problems: ['GOLDGATE_SLAS: not valid JSON'],
    });
  });
});

function fail(): never {
  throw new Error('missing');
}
