#!/usr/bin/env node
// Runs the TypeScript sources directly through tsx: no build step between a clone and `npm start`.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { serverNodeFlags } from './server-flags.mjs';

const args = process.argv.slice(2);
const flags = ['serve', 'start'].includes(args[0] ?? '') ? serverNodeFlags() : [];
if (flags.length > 0) {
  // A server gets its heap cap from the start (V8 cannot take it later): run again with it.
  // The child sees the flag in its execArgv, so it does not spawn again.
  const child = spawn(process.execPath, [...flags, fileURLToPath(import.meta.url), ...args], {
    stdio: 'inherit',
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  const { run } = await import('../src/cli/main.ts');
  await run(args);
}
