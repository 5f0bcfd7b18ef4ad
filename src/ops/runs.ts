import { z } from 'zod';
import type { ObjectStore } from '../adapters/object-store/port.js';
import { LakeCorruptError } from '../lake/errors.js';
import { readJson } from '../lake/json.js';
import { runReportKey } from '../lake/layout.js';
import { checkResultSchema } from '../lake/publish.js';
import { RUN_ID_PATTERN } from '../lake/run-id.js';
import { logger } from '../runtime/logger.js';
import { PIPELINE_JOB, type PipelineReport, type StepReport } from '../transform/pipeline.js';

/**
 * The run reports the pipeline writes (`_runs/pipeline/{RUN_ID}.json`), parsed
 * at the edge. Fields added after the first reports were written are optional.
 */
const stepSchema = z.object({
  step: z.string(),
  status: z.enum(['published', 'skipped', 'blocked']),
  rowsIn: z.number(),
  rowsOut: z.number(),
  quarantined: z.number(),
  condemned: z.number().optional(),
  recovered: z.number().optional(),
  durationMs: z.number(),
  runId: z.string().optional(),
  reused: z.boolean().optional(),
  checks: z.array(checkResultSchema),
  inputs: z.record(z.string(), z.unknown()).optional(),
});

export const pipelineReportSchema = z.object({
  runId: z.string(),
  startedAt: z.string(),
  finishedAt: z.string(),
  status: z.enum(['succeeded', 'blocked', 'failed']),
  steps: z.array(stepSchema),
  error: z
    .object({ step: z.string(), code: z.string(), causeCode: z.string().optional(), message: z.string() })
    .optional(),
});

// The writer's type must stay readable by this schema: a field added to one and not the other fails here.
type Writable<T> = { -readonly [K in keyof T]: T[K] extends readonly (infer U)[] ? Writable<U>[] : T[K] };
const _reportsParse: (report: Writable<PipelineReport>) => z.input<typeof pipelineReportSchema> = (r) => r;
type Unread<T, S> = [Exclude<keyof T, keyof S>] extends [never] ? true : false;
const _everyReportField: Unread<PipelineReport, z.input<typeof pipelineReportSchema>> = true;
const _everyStepField: Unread<StepReport, z.input<typeof stepSchema>> = true;
void [_reportsParse, _everyReportField, _everyStepField];

/** One step of a run, as the history shows it. */
export type RunStep = z.infer<typeof stepSchema>;

/** A check that failed in a run, with the step it belongs to. */
export interface FailedCheck {
  readonly step: string;
  readonly name: string;
  readonly blocking: boolean;
  readonly detail: string | null;
}

/** One pipeline run in the history. */
export interface RunSummary {
  readonly runId: string;
  readonly status: 'succeeded' | 'blocked' | 'failed';
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
  readonly steps: readonly RunStep[];
  /** Every failed check (blocking ones stopped their step's publication). */
  readonly failedChecks: readonly FailedCheck[];
  /** Rows set aside this run, over all Silver steps; of which condemned. */
  readonly quarantined: number;
  readonly condemned: number;
  /** Why a `failed` run stopped. */
  readonly error: {
    readonly step: string;
    readonly code: string;
    readonly causeCode: string | null;
    readonly message: string;
  } | null;
}

/** The last `limit` pipeline runs, newest first. Unreadable reports are skipped and logged. */
export async function listPipelineRuns(
  store: ObjectStore,
  options: { readonly limit?: number } = {},
): Promise<RunSummary[]> {
  const limit = Math.max(1, Math.min(options.limit ?? 20, 1000));
  const ids: string[] = [];
  for await (const info of store.list(`_runs/${PIPELINE_JOB}/`)) {
    const m = /\/([^/]+)\.json$/.exec(info.key);
    if (m?.[1] && RUN_ID_PATTERN.test(m[1])) ids.push(m[1]);
  }
  const newest = ids.sort().reverse().slice(0, limit);
  const out: RunSummary[] = [];
  for (const runId of newest) {
    try {
      const report = await readJson(store, runReportKey(PIPELINE_JOB, runId), pipelineReportSchema);
      if (report) out.push(summarise(report));
    } catch (error) {
      if (!(error instanceof LakeCorruptError)) throw error;
      logger.warn('run report unreadable; left out of the history', { run_id: runId, code: error.code });
    }
  }
  return out;
}

function summarise(report: z.infer<typeof pipelineReportSchema>): RunSummary {
  const started = Date.parse(report.startedAt);
  const finished = Date.parse(report.finishedAt);
  const failedChecks = report.steps.flatMap((s) =>
    s.checks
      .filter((c) => !c.passed)
      .map((c) => ({ step: s.step, name: c.name, blocking: c.blocking, detail: c.detail ?? null })),
  );
  return {
    runId: report.runId,
    status: report.status,
    startedAt: report.startedAt,
    finishedAt: report.finishedAt,
    durationMs: Number.isFinite(finished - started) ? Math.max(0, finished - started) : 0,
    steps: report.steps,
    failedChecks,
    quarantined: report.steps.reduce((n, s) => n + s.quarantined, 0),
    condemned: report.steps.reduce((n, s) => n + (s.condemned ?? 0), 0),
    error: report.error ? { ...report.error, causeCode: report.error.causeCode ?? null } : null,
  };
}
