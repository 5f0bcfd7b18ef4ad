import { parseArgs } from 'node:util';
import type { Config } from '../config/index.js';
import {
  formatFreshness,
  formatLineage,
  formatRuns,
  freshnessOfAll,
  listPipelineRuns,
  readLineage,
} from '../ops/index.js';
import { createObjectStore } from '../runtime/stores.js';

/** A command line that does not parse; `main` prints the usage with it. */
export class OpsUsageError extends Error {}

const json = (value: unknown): void => {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
};

/** `goldgate runs [--limit N] [--json]`: the last pipeline runs, newest first. */
export async function runsCommand(config: Config, args: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: { limit: { type: 'string' }, json: { type: 'boolean' } },
  });
  const limit = values.limit === undefined ? 10 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw new OpsUsageError('--limit takes a whole number from 1 to 1000');
  }
  const runs = await listPipelineRuns(createObjectStore(config), { limit });
  if (values.json) json(runs);
  else process.stdout.write(formatRuns(runs));
  return 0;
}

/** `goldgate lineage <mart> [run_id] [--summary] [--json]`: a Gold run down to its Bronze objects. */
export async function lineageCommand(config: Config, args: readonly string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: { json: { type: 'boolean' }, summary: { type: 'boolean' } },
  });
  const [mart, runId, ...extra] = positionals;
  if (!mart || extra.length > 0) throw new OpsUsageError('expected: goldgate lineage <mart> [run_id]');
  const lineage = await readLineage(createObjectStore(config), mart, runId, { objects: !values.summary });
  if (values.json) json(lineage);
  else process.stdout.write(formatLineage(lineage));
  return 0;
}

/**
 * `goldgate sla [--json]`: freshness and SLA state of every mart now. Exits 1
 * when a mart is breached, so a cron job or a CI check can act on it.
 */
export async function slaCommand(config: Config, args: readonly string[]): Promise<number> {
  const { values } = parseArgs({ args: [...args], options: { json: { type: 'boolean' } } });
  const marts = await freshnessOfAll(createObjectStore(config), new Date());
  if (values.json) json(marts);
  else process.stdout.write(formatFreshness(marts));
  return marts.some((f) => f.sla.state === 'breached') ? 1 : 0;
}
