#!/usr/bin/env node
// The registry reachable here serves only the linux-x64 builds of some packages' per-platform
// optional dependencies (Biome's CLI, DuckDB's bindings), so `npm install` leaves the others out
// of package-lock.json and `npm ci` then refuses the lock as out of sync. This adds an entry for
// each missing platform package, with the os/cpu/libc that npm reads to skip it on other
// machines: the lock is complete again and nothing is fetched for a platform that is not this one.
// Run it after every `npm install` that changes the lock.
import { readFileSync, writeFileSync } from 'node:fs';

const lockPath = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(lockPath, 'utf8'));
const packages = lock.packages;
let added = 0;

function platformOf(name) {
  const m = /-(android|darwin|linux|win32|freebsd)-(arm64|x64|arm|ia32)(-musl)?$/.exec(name);
  if (!m) return undefined;
  return { os: [m[1]], cpu: [m[2]], ...(m[3] ? { libc: ['musl'] } : {}) };
}

for (const [path, entry] of Object.entries(packages)) {
  for (const [dep, range] of Object.entries(entry.optionalDependencies ?? {})) {
    const key = `node_modules/${dep}`;
    if (packages[key]) continue;
    const platform = platformOf(dep);
    if (!platform || !/^\d+\.\d+\.\d+(-[\w.]+)?$/.test(range)) {
      console.error(`left alone: ${dep}@${range} (needed by ${path || 'the root'})`);
      continue;
    }
    packages[key] = {
      version: range,
      ...platform,
      optional: true,
      ...(entry.dev ? { dev: true } : {}),
      ...(entry.license ? { license: entry.license } : {}),
    };
    added += 1;
  }
}
const sorted = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : 1)),
);
lock.packages = sorted;
writeFileSync(lockPath, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`package-lock.json: ${added} platform entries added`);
