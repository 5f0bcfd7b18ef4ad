#!/usr/bin/env node
// `npm run bench -- <name>` runs bench/<name>.bench.ts; with no name it lists them.
import { readdirSync } from 'node:fs';
import { register } from 'tsx/esm/api';

register();
const benches = readdirSync(new URL('../bench/', import.meta.url))
  .filter((f) => f.endsWith('.bench.ts'))
  .map((f) => f.slice(0, -'.bench.ts'.length))
  .sort();
const [name, ...args] = process.argv.slice(2);
if (!name || !benches.includes(name)) {
  process.stderr.write(`usage: npm run bench -- <name> [args]\nbenchmarks: ${benches.join(', ')}\n`);
  process.exit(name ? 2 : 0);
}
const mod = await import(`../bench/${name}.bench.ts`);
await mod.default(args);
