import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalObjectStore } from '../src/adapters/object-store/local.js';
import { DuckDbQueryEngine } from '../src/adapters/query-engine/duckdb.js';
import type { QueryEngine } from '../src/adapters/query-engine/port.js';
import { logger } from '../src/runtime/logger.js';
import { GOLD_MODELS } from '../src/transform/gold/index.js';
import { type PipelineReport, runPipeline } from '../src/transform/pipeline.js';
import { quantile, report } from './lib/report.js';
import { linkTree } from './support/files.js';

/**
 * The Gold step alone on the pipeline bench's lake (10M Bronze events by
 * default). Bronze comes from the pipeline bench's cache (run
 * `npm run bench -- pipeline` once first); it is hard-linked into a fresh
 * folder, merged once (the full run), then the 1% increment is merged too, so
 * Silver has the shape an incremental run reads (a snapshot plus a delta).
 * Then Gold is run again and again with nothing new in Bronze: the Silver
 * steps are skipped and every mart is rebuilt (`rebuildGold`: its served run
 * would otherwise be reused) and checked. Figures: the median over the runs
 * of each mart's step (build + checks), of the whole Gold step, and of its
 * builds and checks; then one run without `rebuildGold`, where every mart's
 * served run is reused (checked again, served as of the run). Args: [events] [runs].
 */

const CACHE_ROOT = join(tmpdir(), 'goldgate-bench-pipeline-cache');

/** The newest complete Bronze cache of the pipeline bench for this many events. */
async function bronzeCache(events: number): Promise<string> {
  let best: { dir: string; at: number } | undefined;
  const names = await readdir(CACHE_ROOT).catch(() => [] as string[]);
  for (const name of names) {
    if (!name.startsWith(`${events}-`) || name.includes('.tmp-')) continue;
    const dir = join(CACHE_ROOT, name);
    const done = await stat(join(dir, 'bronze.json')).catch(() => undefined);
    if (done && (!best || done.mtimeMs > best.at)) best = { dir, at: done.mtimeMs };
  }
  if (!best)
    throw new Error(
      `no Bronze cache for ${events} events: run \`npm run bench -- pipeline ${events}\` first`,
    );
  return best.dir;
}

/** Adds each statement's time to `build` or `checks` by its label (`gold.<mart>.build`, `checks.<mart>`). */
function split(engine: DuckDbQueryEngine, totals: { build: number; checks: number }): QueryEngine {
  const timed = async <T>(label: string | undefined, run: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    try {
      return await run();
    } finally {
      const ms = performance.now() - started;
      if (label?.startsWith('checks.')) totals.checks += ms;
      else if (label?.startsWith('gold.')) totals.build += ms;
    }
  };
  return {
    kind: engine.kind,
    martRelation: (ref) => engine.martRelation(ref),
    close: () => engine.close(),
    stream: (request) => engine.stream(request),
    query: (request) => timed(request.label, () => engine.query(request)),
    execute: (request) => timed(request.label, () => engine.execute(request)),
  };
}

function goldSteps(run: PipelineReport): PipelineReport['steps'] {
  return run.steps.filter((s) => s.step.startsWith('gold.'));
}

export default async function bench(args: readonly string[]): Promise<void> {
  const events = Number(args[0] ?? 10_000_000);
  const runs = Math.max(1, Number(args[1] ?? 3));
  logger.setLogLevel('ERROR');
  const cache = await bronzeCache(events);
  const root = await mkdtemp(join(tmpdir(), 'goldgate-bench-gold-'));
  const store = new LocalObjectStore(root);
  const engine = await DuckDbQueryEngine.create({ store, connections: 1 });
  let clock = Date.parse('2026-11-21T06:00:00Z');
  // Each read of the clock moves it a second on, so every run id is new (and as_of stays 2026-11-21).
  const now = (): Date => {
    clock += 1000;
    return new Date(clock);
  };
  try {
    process.stderr.write(`merging ${events} Bronze events, then the 1% increment\n`);
    await linkTree(join(cache, 'full'), root);
    await runPipeline({ store, engine, now });
    await linkTree(join(cache, 'incremental'), root);
    await runPipeline({ store, engine, now });

    const perMart = new Map<string, number[]>();
    const totals: number[] = [];
    const builds: number[] = [];
    const checks: number[] = [];
    for (let i = 0; i < runs; i++) {
      const spent = { build: 0, checks: 0 };
      const run = await runPipeline({
        store,
        engine: split(engine, spent),
        now,
        models: GOLD_MODELS,
        rebuildGold: true,
      });
      const steps = goldSteps(run);
      if (run.steps.some((s) => s.step.startsWith('silver.') && s.status !== 'skipped'))
        throw new Error('a Silver step ran: Bronze changed under the bench');
      for (const s of steps) perMart.set(s.step, [...(perMart.get(s.step) ?? []), s.durationMs / 1000]);
      totals.push(steps.reduce((sum, s) => sum + s.durationMs, 0) / 1000);
      builds.push(spent.build / 1000);
      checks.push(spent.checks / 1000);
      process.stderr.write(`gold run ${i + 1}/${runs}: ${totals.at(-1)?.toFixed(2)} s\n`);
    }
    const reuse = await runPipeline({ store, engine, now, models: GOLD_MODELS });
    const reused = goldSteps(reuse);
    if (reused.some((s) => !s.reused)) throw new Error('a mart was rebuilt with nothing new');
    const median = (values: readonly number[]): number => quantile(values, 0.5);
    const marts = [...perMart.entries()].sort((a, b) => median(b[1]) - median(a[1]));
    await report('gold', {
      bronze_events: { value: events, unit: 'events' },
      gold_runs: { value: runs, unit: 'runs (figures are medians)' },
      gold_step_s: { value: median(totals), unit: 's (every mart built and checked)' },
      gold_build_s: { value: median(builds), unit: 's (model queries written to Parquet)' },
      gold_checks_s: { value: median(checks), unit: 's (catalog checks on the written files)' },
      gold_reused_s: {
        value: reused.reduce((sum, s) => sum + s.durationMs, 0) / 1000,
        unit: 's (nothing new: every served run reused, checked again)',
      },
      ...Object.fromEntries(
        marts.map(([step, values]) => [`${step}_s`, { value: median(values), unit: 's' }]),
      ),
    });
  } finally {
    await engine.close();
    await rm(root, { recursive: true, force: true });
  }
}
