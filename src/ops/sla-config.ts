import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { MARTS } from '../catalog/index.js';
import { customer360 } from '../catalog/marts/customer.js';
import { FINANCE_MARTS } from '../catalog/marts/finance.js';
import { KPI_MARTS } from '../catalog/marts/kpi.js';
import { REVENUE_MARTS } from '../catalog/marts/revenue.js';
import type { MartDef } from '../catalog/types.js';
import { SlaConfigError } from './errors.js';
import { isClockTime, isTimeZone } from './time.js';

/**
 * Freshness promises per mart, as configuration. Two kinds:
 * - `deadline`: every local day, by `at` in `timeZone`, the mart serves a
 *   version built after that day's local midnight (so it covers the whole
 *   previous day). "Customer 360 ready by 06:00 IST".
 * - `max_age`: the served version is at most `maxAgeMinutes` old, measured
 *   from when it was published (`basis: publish`) or from the newest source
 *   change it includes (`basis: source`). "Finance hourly".
 * `graceMinutes` is the time after the promise is missed during which the
 * state is `late` rather than `breached`.
 */

const minutes = (max: number) => z.number().int().min(0).max(max);

export const deadlineSlaSchema = z.strictObject({
  kind: z.literal('deadline'),
  at: z.string().refine(isClockTime, 'expected a 24-hour HH:MM'),
  timeZone: z.string().refine(isTimeZone, 'expected an IANA time zone such as Asia/Kolkata'),
  graceMinutes: minutes(24 * 60).default(0),
});

export const maxAgeSlaSchema = z.strictObject({
  kind: z.literal('max_age'),
  maxAgeMinutes: minutes(31 * 24 * 60).refine((n) => n > 0, 'must be positive'),
  basis: z.enum(['publish', 'source']).default('publish'),
  graceMinutes: minutes(24 * 60).default(0),
});

export const slaSchema = z.discriminatedUnion('kind', [deadlineSlaSchema, maxAgeSlaSchema]);

export type DeadlineSla = z.infer<typeof deadlineSlaSchema>;
export type MaxAgeSla = z.infer<typeof maxAgeSlaSchema>;
export type Sla = z.infer<typeof slaSchema>;

/** The SLA of every mart, by mart name. */
export type SlaConfig = Readonly<Record<string, Sla>>;

/** What the seeds promise: the daily products by 06:00 IST, finance (and revenue, built from it) hourly. */
const DAILY_BY_0600_IST: Sla = { kind: 'deadline', at: '06:00', timeZone: 'Asia/Kolkata', graceMinutes: 0 };
const HOURLY: Sla = { kind: 'max_age', maxAgeMinutes: 60, basis: 'publish', graceMinutes: 15 };

function each(marts: readonly MartDef[], sla: Sla): Record<string, Sla> {
  return Object.fromEntries(marts.map((m) => [m.name, sla]));
}

/**
 * The built-in SLAs, keyed by the catalog's own groups so that a mart added to
 * a group gets its group's promise; a mart in no group fails validation.
 */
export const DEFAULT_SLAS: SlaConfig = {
  [customer360.name]: DAILY_BY_0600_IST,
  ...each(FINANCE_MARTS, HOURLY),
  ...each(REVENUE_MARTS, HOURLY),
  ...each(KPI_MARTS, DAILY_BY_0600_IST),
};

const overridesSchema = z.record(z.string(), slaSchema);

/** Problems with a configuration against the catalog: every mart has an SLA, and no SLA names an unknown mart. */
export function validateSlaConfig(config: SlaConfig, marts: readonly MartDef[] = MARTS): string[] {
  const problems: string[] = [];
  const names = new Set(marts.map((m) => m.name));
  for (const mart of marts) if (!config[mart.name]) problems.push(`${mart.name}: no SLA`);
  for (const name of Object.keys(config)) if (!names.has(name)) problems.push(`${name}: not a mart`);
  for (const [name, sla] of Object.entries(config)) {
    const parsed = slaSchema.safeParse(sla);
    if (!parsed.success)
      problems.push(...parsed.error.issues.map((i) => `${name}.${i.path.join('.')}: ${i.message}`));
  }
  return problems;
}

function parseOverrides(text: string, origin: string, format: 'json' | 'yaml'): Record<string, Sla> {
  let value: unknown;
  try {
    value = format === 'json' ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new SlaConfigError([`${origin}: not valid ${format.toUpperCase()}`], { cause: error });
  }
  const parsed = overridesSchema.safeParse(value);
  if (!parsed.success) {
    throw new SlaConfigError(
      parsed.error.issues.map((i) => `${origin}: ${i.path.join('.') || '(root)'}: ${i.message}`),
      { cause: parsed.error },
    );
  }
  return parsed.data;
}

/**
 * The SLAs in force: the defaults, then per-mart replacements from
 * `GOLDGATE_SLA_FILE` (YAML or JSON: `{ mart: { kind, ... } }`), then from
 * `GOLDGATE_SLAS` (the same shape as inline JSON, handy in `serverless.yml`).
 * Throws `SlaConfigError` naming every problem.
 */
export function loadSlaConfig(
  env: NodeJS.ProcessEnv = process.env,
  marts: readonly MartDef[] = MARTS,
  defaults: SlaConfig = DEFAULT_SLAS,
): SlaConfig {
  const config: Record<string, Sla> = { ...defaults };
  const file = env.GOLDGATE_SLA_FILE;
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new SlaConfigError(['GOLDGATE_SLA_FILE: cannot be read'], { cause: error });
    }
    Object.assign(config, parseOverrides(text, 'GOLDGATE_SLA_FILE', 'yaml'));
  }
  if (env.GOLDGATE_SLAS) Object.assign(config, parseOverrides(env.GOLDGATE_SLAS, 'GOLDGATE_SLAS', 'json'));
  const problems = validateSlaConfig(config, marts);
  if (problems.length > 0) throw new SlaConfigError(problems);
  return Object.freeze(config);
}

/** A one-line description of an SLA for people ("daily by 06:00 Asia/Kolkata"). */
export function describeSla(sla: Sla): string {
  const grace = sla.graceMinutes > 0 ? `, ${sla.graceMinutes} min grace` : '';
  if (sla.kind === 'deadline') return `daily by ${sla.at} ${sla.timeZone}${grace}`;
  const basis = sla.basis === 'publish' ? 'since published' : 'since the newest source change';
  return `at most ${sla.maxAgeMinutes} min old ${basis}${grace}`;
}
