import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import autocannon, { type AutocannonOptions, type AutocannonResult } from 'autocannon';
import { quantile } from '../lib/report.js';

/** `goldgate serve` as a child process: its address, its warnings and errors, and a way to stop it. */
export interface ServedApi {
  /** `http://127.0.0.1:PORT` */
  readonly baseUrl: string;
  readonly pid: number;
  /** Log lines at ERROR and WARN the server wrote since it started (stderr). */
  readonly logs: { errors: number; warnings: number; lastError: string | undefined };
  /** CPU time (user + system, ms) the server's processes have used so far; NaN without /proc. */
  cpuMs(): number;
  stop(): Promise<void>;
}

/** Clock ticks per second of /proc's utime and stime (USER_HZ, 100 on Linux). */
const USER_HZ = 100;

/** User + system CPU ms of a process and its descendants, from /proc (`goldgate serve` re-executes itself). */
function treeCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .split(' ')
      .filter(Boolean)
      .map(Number);
    return (ticks * 1000) / USER_HZ + children.reduce((sum, child) => sum + treeCpuMs(child), 0);
  } catch {
    return Number.NaN;
  }
}

const STARTUP_TIMEOUT_MS = 120_000;

/**
 * Start `node bin/goldgate.mjs serve` with `env` and wait until it listens.
 * `serve` prints `goldgate API listening on http://HOST:PORT/graphql` on stderr;
 * its request and audit log lines go to stdout, dropped here (the server still
 * formats and writes every one). Warnings and errors go to stderr and are counted.
 */
export async function startServer(options: {
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
}): Promise<ServedApi> {
  const child: ChildProcess = spawn(process.execPath, ['bin/goldgate.mjs', 'serve'], {
    cwd: options.cwd,
    env: options.env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const logs = { errors: 0, warnings: 0, lastError: undefined as string | undefined };
  let stderrTail = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const baseUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the API did not start in time')), STARTUP_TIMEOUT_MS);
    let pending = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        stderrTail = `${stderrTail}\n${line}`.slice(-2000);
        if (line.includes('"level":"ERROR"')) {
          logs.errors += 1;
          logs.lastError = line.slice(0, 500);
        } else if (line.includes('"level":"WARN"')) logs.warnings += 1;
        const match = /listening on (http:\/\/\S+?)\/graphql/.exec(line);
        if (match?.[1]) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the API exited with ${code} before listening:${stderrTail}`));
    });
  });
  const pid = child.pid ?? 0;
  return {
    baseUrl,
    pid,
    logs,
    cpuMs: () => treeCpuMs(pid),
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** One POST /graphql; the parsed answer. */
export async function postGraphql(
  baseUrl: string,
  token: string,
  body: string,
): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${baseUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body,
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: res.status, json };
}

/** What one fixed-duration load run measured. */
export interface LoadRun {
  readonly connections: number;
  readonly durationS: number;
  /** 2xx answers per second over the run. */
  readonly reqPerS: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly meanMs: number;
  readonly answers2xx: number;
  readonly non2xx: number;
  readonly statusCodes: Record<string, number>;
  readonly errors: number;
  readonly timeouts: number;
  /** CPU ms the server used per 2xx answer (NaN when unknown). */
  readonly serverCpuMsPerReq: number;
  /** CPU ms this process (autocannon) used per 2xx answer: the load generator shares the cores. */
  readonly clientCpuMsPerReq: number;
  /** The 1-minute load average of the machine before and after the run (other work shares the cores). */
  readonly loadBefore: number;
  readonly loadAfter: number;
  /** Latencies of 2xx answers in ms (not saved: the quantiles are). */
  readonly latencies: readonly number[];
}

/**
 * autocannon against POST /graphql: `warmupS` first (discarded), then
 * `durationS` measured. Latencies are taken from every answer as autocannon
 * times it (sub-millisecond), not from its integer histogram.
 */
export async function loadRun(options: {
  readonly baseUrl: string;
  readonly token: string;
  readonly body: string;
  readonly connections: number;
  readonly durationS: number;
  readonly warmupS: number;
  /** The server's CPU ms so far (for CPU per answer). */
  readonly serverCpuMs?: () => number;
}): Promise<LoadRun> {
  const request = {
    url: `${options.baseUrl}/graphql`,
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${options.token}` },
    body: options.body,
    connections: options.connections,
    timeout: 30,
  };
  if (options.warmupS > 0) await fire({ ...request, duration: options.warmupS }, () => {});
  const latencies: number[] = [];
  const loadBefore = loadavg()[0] ?? 0;
  const serverBefore = options.serverCpuMs?.() ?? Number.NaN;
  const clientBefore = process.cpuUsage();
  const started = performance.now();
  const result = await fire({ ...request, duration: options.durationS }, (status, ms) => {
    if (status >= 200 && status < 300) latencies.push(ms);
  });
  const elapsedS = (performance.now() - started) / 1000;
  const serverCpu = (options.serverCpuMs?.() ?? Number.NaN) - serverBefore;
  const client = process.cpuUsage(clientBefore);
  const answers = Math.max(1, latencies.length);
  const statusCodes: Record<string, number> = {};
  for (const [code, stat] of Object.entries(result.statusCodeStats)) statusCodes[code] = stat.count;
  return {
    connections: options.connections,
    durationS: elapsedS,
    reqPerS: latencies.length / elapsedS,
    p50Ms: quantile(latencies, 0.5),
    p99Ms: quantile(latencies, 0.99),
    meanMs: latencies.reduce((a, b) => a + b, 0) / Math.max(1, latencies.length),
    answers2xx: latencies.length,
    non2xx: result.non2xx,
    statusCodes,
    errors: result.errors,
    timeouts: result.timeouts,
    serverCpuMsPerReq: serverCpu / answers,
    clientCpuMsPerReq: (client.user + client.system) / 1000 / answers,
    loadBefore,
    loadAfter: loadavg()[0] ?? 0,
    latencies,
  };
}

/** One autocannon job; `onAnswer` sees every answer's status and time. */
function fire(
  options: AutocannonOptions,
  onAnswer: (status: number, ms: number) => void,
): Promise<AutocannonResult> {
  return new Promise<AutocannonResult>((resolve, reject) => {
    const instance = autocannon(options, (error, result) => (error ? reject(error) : resolve(result)));
    instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) =>
      onAnswer(status, ms),
    );
  });
}
