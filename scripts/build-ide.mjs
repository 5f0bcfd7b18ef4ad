#!/usr/bin/env node
// Build the GraphQL IDE page's assets into build/ide/ (skipped when newer than its inputs; --force rebuilds).
// `goldgate start` and `goldgate serve` do the same on their own; this is for doing it ahead of time.
import { register } from 'tsx/esm/api';

register();
const { buildIde } = await import('../src/api/ide/build.ts');
const force = process.argv.includes('--force');
try {
  await buildIde({ force, onProgress: (message) => process.stderr.write(`${message}\n`) });
} catch (error) {
  process.stderr.write(`build-ide: ${error?.code ?? 'FAILED'}: ${error?.message ?? String(error)}\n`);
  process.exitCode = 1;
}
