import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { z } from 'zod';
import { readZip } from '../test/support/zip.js';
import { type Figure, quantile, report } from './lib/report.js';

const run = promisify(execFile);
const root = new URL('../', import.meta.url).pathname;

/** The goal of issue 7 for the `api` bundle. */
const API_GOAL = { bytes: 3 * 1024 * 1024, importMs: 300 };

const stateSchema = z.object({
  service: z.object({
    functions: z.record(
      z.string(),
      z.object({ handler: z.string(), package: z.object({ artifact: z.string() }) }),
    ),
  }),
});

const metafileSchema = z.object({
  outputs: z.record(
    z.string(),
    z.object({ bytes: z.number(), inputs: z.record(z.string(), z.object({ bytesInOutput: z.number() })) }),
  ),
});

/** Bytes of the bundle by where they came from: an npm package, or `src/<folder>`. */
function bytesBySource(metafile: z.infer<typeof metafileSchema>): Array<[string, number]> {
  const by = new Map<string, number>();
  for (const output of Object.values(metafile.outputs)) {
    for (const [path, input] of Object.entries(output.inputs)) {
      const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)?.[1];
      const source = pkg ?? (path.startsWith('src/') ? `src/${path.split('/')[1]}` : path);
      by.set(source, (by.get(source) ?? 0) + input.bytesInOutput);
    }
  }
  return [...by].sort((a, b) => b[1] - a[1]);
}

const PROBE = `
const t0 = process.hrtime.bigint();
const c0 = process.cpuUsage();
const m = require(process.argv[1]);
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
const cpu = process.cpuUsage(c0);
if (typeof m.handler !== 'function') process.exit(3);
process.stdout.write(JSON.stringify({ ms, cpuMs: (cpu.user + cpu.system) / 1000 }));`;

/** One cold import: a fresh `node` requiring the bundle, with no node_modules in reach. */
async function coldImport(bundle: string): Promise<{ ms: number; cpuMs: number; processMs: number }> {
  const started = process.hrtime.bigint();
  const { stdout } = await run(process.execPath, ['-e', PROBE, bundle], {
    cwd: dirname(bundle),
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', AWS_REGION: 'eu-west-1' },
  });
  const processMs = Number(process.hrtime.bigint() - started) / 1e6;
  const parsed = z.object({ ms: z.number(), cpuMs: z.number() }).parse(JSON.parse(stdout));
  return { ...parsed, processMs };
}

const kb = (bytes: number): Figure => ({ value: Math.round((bytes / 1024) * 10) / 10, unit: 'KB' });
const ms = (value: number): Figure => ({ value: Math.round(value * 10) / 10, unit: 'ms' });
const slug = (name: string) => name.replace(/^@/, '').replace(/[^A-Za-z0-9]+/g, '_');

/**
 * Each function's bundle as `npm run package -- --stage prod` builds it: zipped
 * and unzipped size, and its cold import time (a fresh `node` requiring the
 * unpacked handler with no node_modules in reach, median of N runs). Then
 * what dominates each bundle, from esbuild's metafile.
 * Args: `[runs=15] [--no-package]` (reuse `.serverless/` as it is).
 */
export default async function bench(args: readonly string[]): Promise<void> {
  const runs = Number(args.find((a) => /^\d+$/.test(a)) ?? 15);
  const figures: Record<string, Figure> = {};

  if (!args.includes('--no-package')) {
    process.stderr.write('packaging (npm run package -- --stage prod)...\n');
    const started = process.hrtime.bigint();
    await run(process.execPath, ['scripts/package.mjs', '--stage', 'prod'], {
      cwd: root,
      maxBuffer: 16 * 1024 * 1024,
    });
    figures.package_s = { value: Number(process.hrtime.bigint() - started) / 1e9, unit: 's' };
  }

  const state = stateSchema.parse(
    JSON.parse(await readFile(join(root, '.serverless/serverless-state.json'), 'utf8')),
  );
  const work = await mkdtemp(join(tmpdir(), 'goldgate-lambda-bench-'));
  const dominance: string[] = [];
  try {
    const baseline: number[] = [];
    for (let i = 0; i < runs; i++) {
      const started = process.hrtime.bigint();
      await run(process.execPath, ['-e', '0'], { cwd: work });
      baseline.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
    figures.node_start_p50_ms = ms(quantile(baseline, 0.5));

    for (const [name, fn] of Object.entries(state.service.functions)) {
      const artifact = join(root, fn.package.artifact);
      const zipped = (await stat(artifact)).size;
      const entries = readZip(await readFile(artifact));
      const unzipped = entries.reduce((sum, e) => sum + e.data.length, 0);
      const dir = join(work, name);
      for (const entry of entries) {
        await mkdir(dirname(join(dir, entry.name)), { recursive: true });
        await writeFile(join(dir, entry.name), entry.data);
      }
      const base = fn.handler.slice(0, fn.handler.lastIndexOf('.'));
      const bundle = join(dir, `${base}.js`);
      const samples: Array<{ ms: number; cpuMs: number; processMs: number }> = [];
      for (let i = 0; i < runs; i++) samples.push(await coldImport(bundle));
      figures[`${name}_zip_kb`] = kb(zipped);
      figures[`${name}_unzipped_kb`] = kb(unzipped);
      figures[`${name}_files`] = { value: entries.length, unit: 'files' };
      figures[`${name}_import_p50_ms`] = ms(
        quantile(
          samples.map((s) => s.ms),
          0.5,
        ),
      );
      figures[`${name}_import_p90_ms`] = ms(
        quantile(
          samples.map((s) => s.ms),
          0.9,
        ),
      );
      figures[`${name}_import_cpu_p50_ms`] = ms(
        quantile(
          samples.map((s) => s.cpuMs),
          0.5,
        ),
      );
      figures[`${name}_process_p50_ms`] = ms(
        quantile(
          samples.map((s) => s.processMs),
          0.5,
        ),
      );

      const metaPath = join(root, '.esbuild/.build', `${base}-meta.json`);
      const meta = await readFile(metaPath, 'utf8').catch(() => undefined);
      if (meta) {
        const sources = bytesBySource(metafileSchema.parse(JSON.parse(meta)));
        const total = sources.reduce((sum, [, b]) => sum + b, 0);
        dominance.push(
          `${name} (${(total / 1024).toFixed(0)} KB of code): ${sources
            .slice(0, 8)
            .map(
              ([source, b]) => `${source} ${(b / 1024).toFixed(0)} KB (${((100 * b) / total).toFixed(0)}%)`,
            )
            .join(', ')}`,
        );
        if (name === 'api')
          for (const [source, b] of sources.slice(0, 6)) figures[`api_from_${slug(source)}_kb`] = kb(b);
      }
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }

  await report('lambda', figures);
  const size = figures.api_unzipped_kb?.value ?? Number.NaN;
  const importMs = figures.api_import_p50_ms?.value ?? Number.NaN;
  process.stdout.write(
    `\napi goal: unzipped ${size.toFixed(0)} KB ${size * 1024 < API_GOAL.bytes ? '<' : '>='} 3 MB, ` +
      `cold import p50 ${importMs.toFixed(0)} ms ${importMs < API_GOAL.importMs ? '<' : '>='} 300 ms ` +
      `(node itself starts in ${figures.node_start_p50_ms?.value} ms)\n\nwhat each bundle is made of (esbuild metafile):\n  ${dominance.join('\n  ')}\n`,
  );
}
