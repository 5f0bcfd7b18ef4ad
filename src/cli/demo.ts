import type { ObjectStore } from '../adapters/object-store/port.js';
import type { QueryEngine } from '../adapters/query-engine/port.js';
import { type CompanyOptions, generateCompany } from '../ingest/demo/company.js';
import { DemoSources, stamp } from '../ingest/demo/land.js';
import { silverKeysFromEngine } from '../ingest/zoho/reconcile.js';
import { type PipelineReport, runPipeline } from '../transform/pipeline.js';

/**
 * `goldgate demo`: a synthetic company's last two years, landed the way
 * production lands them. The lake "goes live" a year before `now` with a full
 * Zoho pull; scheduled incremental pulls follow as the local Zoho server's
 * clock moves on, each preceded by the stream records written by then (the
 * consumer runs all along); the pipeline builds Silver and Gold; the
 * reconciliation lands the deletes Zoho never announces; a second pipeline
 * run merges them.
 */

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

/** When each part of the demo happens. */
export interface DemoSchedule {
  /** The company's history begins (24 months before `now`). */
  readonly start: Date;
  /** The Zoho pulls, oldest first: the full pull at go-live, then incremental ones. */
  readonly pulls: readonly Date[];
  /** The first pipeline run. */
  readonly pipeline: Date;
  /** The Zoho reconciliation, against the first run's Silver. */
  readonly reconcile: Date;
  /** The second pipeline run: `now`, the history's end. */
  readonly end: Date;
}

/** The demo's timeline for a given `now`: go-live a year back, then pulls a month, a day and half an hour back. */
export function demoSchedule(now: Date): DemoSchedule {
  const t = now.getTime();
  if (!Number.isFinite(t)) throw new RangeError('demo: invalid time');
  const before = (ms: number): Date => new Date(t - ms);
  return {
    start: before(730 * DAY_MS),
    // Zoho has no delete feed: only a record seen by one pull and gone at the reconciliation is
    // deleted in the lake, so the pulls are spread out (closer ones catch short-lived records).
    pulls: [before(365 * DAY_MS), before(30 * DAY_MS), before(DAY_MS), before(30 * MINUTE_MS)],
    pipeline: before(20 * MINUTE_MS),
    reconcile: before(10 * MINUTE_MS),
    end: now,
  };
}

/** The generator's options for the demo company (tests regenerate the same history with them). */
export function demoCompanyOptions(seed: number, customers: number, schedule: DemoSchedule): CompanyOptions {
  return { seed, customers, start: schedule.start, end: schedule.end };
}

/** Build the demo lake: generate the company, pull and stream its sources into Bronze, run the pipeline. */
export async function buildDemoLake(input: {
  readonly store: ObjectStore;
  readonly engine: QueryEngine;
  readonly seed: number;
  readonly customers: number;
  readonly now?: Date;
  readonly onProgress?: (message: string) => void;
}): Promise<{ events: number; report: PipelineReport }> {
  const { store, engine } = input;
  const say = (message: string): void => input.onProgress?.(message);
  const schedule = demoSchedule(input.now ?? new Date());

  say(`generating a demo company (seed ${input.seed}, ${input.customers} customers, 24 months)`);
  const { history } = generateCompany(demoCompanyOptions(input.seed, input.customers, schedule));
  const records = Object.values(history.streams).reduce((sum, list) => sum + list.length, 0);
  say(`generated ${history.zoho.length} Zoho Books versions and ${records} DynamoDB stream records`);

  const sources = await DemoSources.start({ store, history, onProgress: say });
  try {
    say(`local Zoho Books server listening on ${sources.server.url}`);
    for (const at of schedule.pulls) {
      await sources.deliverStreams(at);
      await sources.pull(at);
    }
    await sources.deliverStreams(schedule.pipeline);
    const pipeline = (at: Date, what: string): Promise<PipelineReport> => {
      say(`${stamp(at)} ${what}`);
      return runPipeline({
        store,
        engine,
        now: () => at,
        onProgress: (e) => say(`[${e.index}/${e.total}] ${e.step}: ${e.detail}`),
      });
    };
    await pipeline(schedule.pipeline, 'pipeline run 1 of 2: Bronze -> Silver -> Gold');
    await sources.reconcile(schedule.reconcile, silverKeysFromEngine(store, engine));
    await sources.deliverStreams(schedule.end);
    const report = await pipeline(schedule.end, 'pipeline run 2 of 2: the deletes and the latest records');
    say(`landed ${sources.events} Bronze events in all`);
    return { events: sources.events, report };
  } finally {
    await sources.close();
  }
}
