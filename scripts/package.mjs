#!/usr/bin/env node
// `npm run package -- --stage prod`: build the CloudFormation template and one zip per
// function into `.serverless/` with osls + serverless-esbuild, offline. Packaging needs no
// AWS account and no network; the proxy below makes any attempt fail at once instead of
// hanging a CI job (osls sends no telemetry; the switches cover the upstream v3 CLI too).
import { spawn } from 'node:child_process';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
if (!args.some((a) => a === '--stage' || a.startsWith('--stage='))) args.push('--stage', 'dev');

const env = {
  ...process.env,
  SLS_TELEMETRY_DISABLED: '1',
  SLS_NOTIFICATIONS_MODE: 'off',
  SLS_DEPRECATION_NOTIFICATION_MODE: 'warn:summary',
  HTTP_PROXY: 'http://127.0.0.1:9',
  HTTPS_PROXY: 'http://127.0.0.1:9',
  http_proxy: 'http://127.0.0.1:9',
  https_proxy: 'http://127.0.0.1:9',
  NO_PROXY: '',
  no_proxy: '',
};

// serverless-esbuild keeps its output folder (the metafiles are read after packaging) and only
// adds to it: a file copied there by an earlier run (a removed policy file) would be zipped again.
await rm(new URL('../.esbuild/', import.meta.url), { recursive: true, force: true });

const started = process.hrtime.bigint();
const code = await new Promise((resolve) => {
  const child = spawn(process.execPath, ['node_modules/osls/bin/serverless.js', 'package', ...args], {
    cwd: root,
    env,
    stdio: 'inherit',
  });
  child.on('exit', (status, signal) => resolve(status ?? (signal ? 1 : 0)));
});
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
if (code !== 0) {
  process.stderr.write(`package failed (exit ${code}) after ${seconds.toFixed(1)} s\n`);
  process.exit(code);
}
const dir = new URL('../.serverless/', import.meta.url);

// Lambda unpacks a function's zip under /var/task. A setting naming a file there (the api's
// GOLDGATE_POLICY_FILE or GOLDGATE_LF_MAPPING_FILE) must find it in that zip: a missing one
// would only show as a function that cannot start, after the deploy.
const TASK_ROOT = '/var/task/';
const state = JSON.parse(await readFile(new URL('serverless-state.json', dir), 'utf8'));
const missing = [];
for (const [name, fn] of Object.entries(state.service.functions ?? {})) {
  const environment = { ...state.service.provider.environment, ...fn.environment };
  const wanted = Object.entries(environment).filter(
    ([, value]) => typeof value === 'string' && value.startsWith(TASK_ROOT),
  );
  if (wanted.length === 0) continue;
  const artifact = fn.package?.artifact;
  const names = artifact ? zipEntryNames(await readFile(new URL(artifact, new URL('..', dir)))) : new Set();
  for (const [variable, value] of wanted) {
    if (!names.has(value.slice(TASK_ROOT.length)))
      missing.push(`${name}: ${variable}=${value} is not in ${artifact ?? 'its package'}`);
  }
}
if (missing.length > 0) {
  process.stderr.write(
    `package failed: files the functions name are not packaged\n  ${missing.join('\n  ')}\n`,
  );
  process.exit(1);
}
const lines = [];
for (const name of (await readdir(dir)).sort()) {
  if (!name.endsWith('.zip') && !name.endsWith('.json')) continue;
  const { size } = await stat(new URL(name, dir));
  lines.push(`  ${name.padEnd(44)} ${(size / 1024).toFixed(1).padStart(9)} KB`);
}
process.stdout.write(`.serverless/ (packaged in ${seconds.toFixed(1)} s)\n${lines.join('\n')}\n`);

/** The names of the files in a zip archive, from its central directory. */
function zipEntryNames(zip) {
  let at = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 65_557); i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) {
      at = i;
      break;
    }
  }
  if (at < 0) throw new Error('not a zip archive');
  const count = zip.readUInt16LE(at + 10);
  let entry = zip.readUInt32LE(at + 16);
  const names = new Set();
  for (let n = 0; n < count; n++) {
    if (zip.readUInt32LE(entry) !== 0x02014b50) throw new Error('broken central directory');
    const nameLength = zip.readUInt16LE(entry + 28);
    names.add(zip.toString('utf8', entry + 46, entry + 46 + nameLength));
    entry += 46 + nameLength + zip.readUInt16LE(entry + 30) + zip.readUInt16LE(entry + 32);
  }
  return names;
}
