import { z } from 'zod';
import type { ObjectStore } from '../../adapters/object-store/port.js';
import type { Principal } from '../../auth/principal.js';
import {
  freshnessOfAll,
  listPipelineRuns,
  type MartFreshness,
  type RunSummary,
  type SlaConfig,
} from '../../ops/index.js';
import { type QuarantineSummary, summariseQuarantine } from '../../transform/quarantine.js';
import { OpsQueryInvalidError } from './errors.js';
import type { OpsData, OpsMart, OpsRun } from './schema.js';

/**
 * What `GET /ops/data` answers: every mart's freshness and SLA, the last
 * pipeline runs and the quarantine, gathered from the operations core.
 */

/**
 * Roles that may read operations facts. These are facts about the pipeline
 * (versions, times, row counts, check names, quarantine counts), never mart
 * rows, so they are granted by role name, not by the data policy: the demo
 * policy's `ops` role has no mart grant at all.
 */
export const OPS_ROLES: readonly string[] = ['admin', 'ops'];

/** Whether a caller may read the operations data. */
export function mayReadOps(principal: Principal): boolean {
  return principal.roles.some((role) => OPS_ROLES.includes(role));
}

/** Pipeline runs the page asks for, and the most one request may ask for. */
export const OPS_DEFAULT_RUNS = 20;
export const OPS_MAX_RUNS = 200;

const querySchema = z
  .object({
    runs: z
      .string()
      .regex(/^[1-9][0-9]{0,2}$/)
      .transform(Number)
      .pipe(z.number().max(OPS_MAX_RUNS))
      .optional(),
  })
  .strict();

/** The options of `GET /ops/data` from its query string (`?runs=N`); throws `OpsQueryInvalidError`. */
export function parseOpsQuery(search: string): { readonly runs: number } {
  const values: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(search)) {
    if (Object.hasOwn(values, name)) throw new OpsQueryInvalidError('a query parameter is given twice');
    values[name] = value;
  }
  const parsed = querySchema.safeParse(values);
  if (!parsed.success) {
    throw new OpsQueryInvalidError(
      `the only parameter is runs, a whole number from 1 to ${OPS_MAX_RUNS} (default ${OPS_DEFAULT_RUNS})`,
      { cause: parsed.error },
    );
  }
  return { runs: parsed.data.runs ?? OPS_DEFAULT_RUNS };
}

/** Gather the operations data at `now`: every mart of the catalog, the last `runs` runs, the quarantine. */
export async function collectOpsData(
  store: ObjectStore,
  now: Date,
  options: { readonly runs: number; readonly slas?: SlaConfig },
): Promise<OpsData> {
  const [marts, runs, quarantine] = await Promise.all([
    freshnessOfAll(store, now, options.slas ? { slas: options.slas } : {}),
    listPipelineRuns(store, { limit: options.runs }),
    summariseQuarantine(store),
  ]);
  return {
    generatedAt: now.toISOString(),
    marts: marts.map(wireMart),
    runs: runs.map(wireRun),
    quarantine: quarantine.map(wireQuarantine),
  };
}

function wireMart(m: MartFreshness): OpsMart {
  return {
    mart: m.mart,
    schemaVersion: m.schemaVersion,
    served: m.served && { ...m.served, failedChecks: [...m.served.failedChecks] },
    newestSourceChange: m.newestSourceChange.map((c) => ({ source: c.source, at: c.at })),
    sla: { ...m.sla, reasons: [...m.sla.reasons] },
  };
}

// Step inputs and passed checks stay out: the page shows rows, times and what failed.
function wireRun(r: RunSummary): OpsRun {
  return {
    runId: r.runId,
    status: r.status,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    durationMs: r.durationMs,
    steps: r.steps.map((s) => ({
      step: s.step,
      status: s.status,
      rowsIn: s.rowsIn,
      rowsOut: s.rowsOut,
      quarantined: s.quarantined,
      condemned: s.condemned ?? 0,
      durationMs: s.durationMs,
      reusedRun: s.reused ? (s.runId ?? null) : null,
    })),
    failedChecks: r.failedChecks.map((c) => ({ ...c })),
    quarantined: r.quarantined,
    condemned: r.condemned,
    error: r.error && { ...r.error },
  };
}

function wireQuarantine(q: QuarantineSummary): OpsData['quarantine'][number] {
  return {
    entity: q.entity,
    open: q.open,
    condemned: q.condemned,
    released: q.released,
    reasons: { ...q.reasons },
  };
}
