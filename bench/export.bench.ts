import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serverNodeFlags } from '../bin/server-flags.mjs';
import { LocalObjectStore } from '../src/adapters/object-store/local.js';
import { DuckDbQueryEngine } from '../src/adapters/query-engine/duckdb.js';
import { ensureDevKeys } from '../src/auth/dev-keys.js';
import { signDevToken } from '../src/auth/token.js';
import { INVOICE_STATUSES, MART_REGIONS } from '../src/catalog/domain.js';
import { findMart } from '../src/catalog/index.js';
import { loadConfig } from '../src/config/index.js';
import { goldDataset, runPrefix } from '../src/lake/layout.js';
import { publishRun, resolveLatest } from '../src/lake/publish.js';
import { logger } from '../src/runtime/logger.js';
import { sql } from '../src/sql/fragment.js';
import { report } from './lib/report.js';

/**
 * `npm run bench -- export [rows]`: stream every invoice as NDJSON over HTTP
 * and measure the API process's peak memory (issue 5: 2M invoices under
 * 300 MB of peak RSS).
 *
 * The Gold lake is the invoices mart only, written straight to Parquet by
 * DuckDB in the catalog's column types and published with `publishRun`
 * (the demo pipeline at 2M invoices takes minutes and the export reads no
 * other mart). It is cached under GOLDGATE_BENCH_CACHE (default
 * `$TMPDIR/goldgate-bench-cache`) and reused while its row count matches.
 *
 * The API runs in a child process, composed from configuration exactly as
 * `goldgate serve` does (bench/lib/export-server.ts); its peak RSS is VmHWM
 * from /proc/<pid>/status. The client counts rows and bytes as they arrive.
 * GOLDGATE_* settings (e.g. GOLDGATE_DUCKDB_MEMORY_LIMIT, GOLDGATE_DUCKDB_THREADS)
 * pass through to the API; GOLDGATE_BENCH_API_NODE_OPTIONS becomes its
 * NODE_OPTIONS (default: the heap cap `goldgate serve` runs with, bin/server-flags.mjs). Both are printed and saved.
 */

const RUN_ID = '20261121T000000Z-benchexport';
const PART_ROWS = 500_000;

async function buildLake(lakeDir: string, rows: number): Promise<'built' | 'reused'> {
  const store = new LocalObjectStore(lakeDir);
  const mart = findMart('invoices');
  if (!mart) throw new Error('the catalog has no invoices mart');
  const dataset = goldDataset(mart.name, mart.schemaVersion);
  const served = await resolveLatest(store, dataset);
  if (served?.run_id === RUN_ID && served.row_count === rows) return 'reused';
  const engine = await DuckDbQueryEngine.create({ store, connections: 1 });
  try {
    const location = await store.prepareWrite(runPrefix(dataset, RUN_ID));
    for (let start = 0, part = 0; start < rows; start += PART_ROWS, part += 1) {
      const end = Math.min(rows, start + PART_ROWS);
      // Column types are the catalog's (checked below); values are spread like a real ledger.
      await engine.execute({
        sql: sql`COPY (
          SELECT invoice_id, invoice_number, customer_id, region, invoice_date,
            strftime(invoice_date, '%Y-%m') AS invoice_month,
            CASE WHEN i % 50 = 0 THEN NULL ELSE CAST(invoice_date + 15 AS DATE) END AS due_date,
            status, currency_code, total, total_base, balance, balance_base,
            CAST(total_base - balance_base AS DECIMAL(18,2)) AS paid_amount_base,
            CAST(CASE WHEN balance > 0 THEN i % 120 ELSE 0 END AS INTEGER) AS days_overdue
          FROM (
            SELECT i,
              CAST(98200000000000000 + (i * 7919) % ${rows} AS VARCHAR) AS invoice_id,
              'INV-' || lpad(CAST(i AS VARCHAR), 9, '0') AS invoice_number,
              CAST(11149000000000000 + (i * 104729) % 100000 AS VARCHAR) AS customer_id,
              list_extract(${[...MART_REGIONS]}, 1 + CAST(i % ${MART_REGIONS.length} AS INTEGER)) AS region,
              CAST(DATE '2024-11-21' + CAST(i % 730 AS INTEGER) AS DATE) AS invoice_date,
              list_extract(${[...INVOICE_STATUSES]}, 1 + CAST(i % ${INVOICE_STATUSES.length} AS INTEGER)) AS status,
              CASE i % 3 WHEN 0 THEN 'USD' WHEN 1 THEN 'EUR' ELSE 'INR' END AS currency_code,
              CAST(10 + (i % 99991) / 100.0 AS DECIMAL(18,2)) AS total,
              CAST((10 + (i % 99991) / 100.0) * 1.08 AS DECIMAL(18,2)) AS total_base,
              CAST(CASE WHEN i % 4 = 0 THEN 10 + (i % 99991) / 100.0 ELSE 0 END AS DECIMAL(18,2)) AS balance,
              CAST(CASE WHEN i % 4 = 0 THEN (10 + (i % 99991) / 100.0) * 1.08 ELSE 0 END AS DECIMAL(18,2)) AS balance_base
            FROM range(${start}, ${end}) AS r(i)
          )
        ) TO ${`${location}/part-${String(part).padStart(5, '0')}.parquet`} (FORMAT parquet)`,
      });
    }
    const relation = engine.martRelation({
      mart: mart.name,
      schemaVersion: mart.schemaVersion,
      runId: RUN_ID,
      prefix: runPrefix(dataset, RUN_ID),
    });
    const described = await engine.query({
      sql: { text: `DESCRIBE SELECT * FROM ${relation.text}`, params: relation.params },
    });
    const got = described.rows.map((r) => `${r.column_name} ${r.column_type}`);
    const want = mart.columns.map((c) => `${c.name} ${c.sqlType}`);
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      throw new Error(`bench invoices do not match the catalog:\n${got.join('\n')}\nvs\n${want.join('\n')}`);
    }
    await publishRun(store, dataset, { runId: RUN_ID, rowCount: rows, checks: [] });
    return 'built';
  } finally {
    await engine.close();
  }
}

/** `VmHWM` (peak resident set) and `VmRSS` of a process, in MB. */
async function memoryOf(pid: number): Promise<{ peakMb: number; rssMb: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number =>
    Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN);
  return { peakMb: kb('VmHWM') / 1024, rssMb: kb('VmRSS') / 1024 };
}

async function startServer(env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; port: number }> {
  const script = fileURLToPath(new URL('./lib/export-server.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  for await (const chunk of child.stdout ?? []) {
    out += String(chunk);
    const m = /listening (\d+)/.exec(out);
    if (m) return { child, port: Number(m[1]) };
  }
  throw new Error(`the API process exited before listening (code ${child.exitCode})`);
}

export default async function bench(args: readonly string[]): Promise<void> {
  const rows = Number(args[0] ?? 2_000_000);
  if (!Number.isSafeInteger(rows) || rows < 1) throw new Error('usage: npm run bench -- export [rows]');
  logger.setLogLevel('ERROR');
  const root = join(
    process.env.GOLDGATE_BENCH_CACHE ?? join(tmpdir(), 'goldgate-bench-cache'),
    `export-${rows}`,
  );
  const lakeDir = join(root, 'lake');
  const stateDir = join(root, 'state');

  const buildStart = performance.now();
  const lake = await buildLake(lakeDir, rows);
  const buildS = (performance.now() - buildStart) / 1000;
  process.stdout.write(`lake ${lake} in ${buildS.toFixed(1)} s (${lakeDir})\n`);

  // The API runs with the flags `goldgate serve` gives itself, unless the bench is told otherwise.
  const nodeOptions =
    process.env.GOLDGATE_BENCH_API_NODE_OPTIONS ?? serverNodeFlags(process.env, []).join(' ');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NODE_OPTIONS: nodeOptions,
    GOLDGATE_LAKE_DIR: lakeDir,
    GOLDGATE_STATE_DIR: stateDir,
    GOLDGATE_LOG_LEVEL: process.env.GOLDGATE_LOG_LEVEL ?? 'ERROR',
  };
  const settings = Object.entries(env)
    .filter(([name]) => name.startsWith('GOLDGATE_DUCKDB_') || name.startsWith('GOLDGATE_ENGINE_'))
    .map(([name, value]) => `${name}=${value}`);
  const described = `API settings: NODE_OPTIONS=${JSON.stringify(nodeOptions)}${settings.length ? ` ${settings.join(' ')}` : ' (engine defaults)'}`;
  process.stdout.write(`${described}\n`);
  const config = loadConfig({ ...env, GOLDGATE_PORT: '0' });
  // Keys first: the server process would otherwise race the client to create them.
  const key = await ensureDevKeys(stateDir);
  const token = await signDevToken(key, { subject: 'bench', roles: ['admin'] }, config.auth);

  const { child, port } = await startServer(env);
  const pid = child.pid;
  if (pid === undefined) throw new Error('no pid for the API process');
  try {
    const idle = await memoryOf(pid);
    let sampledPeak = idle.rssMb;
    const sampler = setInterval(() => {
      void memoryOf(pid)
        .then((m) => {
          sampledPeak = Math.max(sampledPeak, m.rssMb);
        })
        .catch(() => undefined);
    }, 100);
    const started = performance.now();
    let firstByteMs = Number.NaN;
    let bytes = 0;
    let lines = 0;
    let tail = '';
    try {
      const response = await fetch(`http://127.0.0.1:${port}/v1/marts/invoices`, {
        headers: { authorization: `Bearer ${token}`, accept: 'application/x-ndjson' },
      });
      if (response.status !== 200 || !response.body) throw new Error(`export answered ${response.status}`);
      for await (const chunk of response.body) {
        if (Number.isNaN(firstByteMs)) firstByteMs = performance.now() - started;
        const buffer = chunk as Uint8Array;
        bytes += buffer.length;
        for (let i = buffer.indexOf(10); i >= 0; i = buffer.indexOf(10, i + 1)) lines += 1;
        tail = (tail + Buffer.from(buffer.subarray(Math.max(0, buffer.length - 200))).toString('utf8')).slice(
          -200,
        );
      }
    } finally {
      clearInterval(sampler);
    }
    const seconds = (performance.now() - started) / 1000;
    const after = await memoryOf(pid);
    if (tail.includes('"error"')) throw new Error(`the export ended with an error line: ${tail}`);
    if (lines !== rows) throw new Error(`the export returned ${lines} rows of ${rows}`);

    await report('export', {
      rows: { value: lines, unit: 'rows' },
      bytes: { value: bytes, unit: 'bytes' },
      duration_s: { value: seconds, unit: 's' },
      rows_per_s: { value: Math.round(lines / seconds), unit: 'rows/s' },
      mb_per_s: { value: bytes / 1024 / 1024 / seconds, unit: 'MB/s' },
      first_byte_ms: { value: firstByteMs, unit: 'ms' },
      api_rss_idle_mb: { value: idle.rssMb, unit: 'MB' },
      api_peak_rss_mb: { value: after.peakMb, unit: 'MB (VmHWM; goal < 300)' },
      api_sampled_peak_rss_mb: { value: sampledPeak, unit: 'MB (VmRSS every 100 ms)' },
      lake_build_s: { value: buildS, unit: `s (${lake})` },
      api_settings: { value: settings.length + (nodeOptions ? 1 : 0), unit: described },
    });
  } finally {
    child.kill('SIGTERM');
    await once(child, 'exit');
  }
}
