#!/usr/bin/env node
// `npm run package -- --stage prod`: build the CloudFormation template and one zip per
// function into `.serverless/` with osls + serverless-esbuild, offline. Packaging needs no
// AWS account and no network; the proxy below makes any attempt fail at once instead of
// hanging a CI job (osls sends no telemetry; the switches cover the upstream v3 CLI too).
import { spawn } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
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
const lines = [];
for (const name of (await readdir(dir)).sort()) {
  if (!name.endsWith('.zip') && !name.endsWith('.json')) continue;
  const { size } = await stat(new URL(name, dir));
  lines.push(`  ${name.padEnd(44)} ${(size / 1024).toFixed(1).padStart(9)} KB`);
}
process.stdout.write(`.serverless/ (packaged in ${seconds.toFixed(1)} s)\n${lines.join('\n')}\n`);
