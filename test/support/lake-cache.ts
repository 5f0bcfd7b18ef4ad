import { cp, mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { inject } from 'vitest';

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

/**
 * Fill `target` with the lake `build` makes for `key`, building it once per
 * test run: the first file to ask builds it (under a mkdir lock, into a
 * temporary folder renamed when complete), the others wait and copy it. Each
 * file gets its own copy, so tests that publish or break runs stay isolated.
 */
export async function cachedLake(
  key: string,
  target: string,
  build: (dir: string) => Promise<void>,
): Promise<void> {
  const root = inject('demoLakeCache');
  if (!root) {
    await build(target);
    return;
  }
  const done = join(root, key);
  const lock = join(root, `${key}.lock`);
  const deadline = Date.now() + 300_000;
  while (!(await exists(done))) {
    if (Date.now() > deadline) throw new Error(`lake cache: ${key} was not built in time`);
    let owner = false;
    try {
      await mkdir(lock);
      owner = true;
    } catch {
      await sleep(250);
      continue;
    }
    if (owner) {
      const building = join(root, `${key}.building`);
      try {
        await rm(building, { recursive: true, force: true });
        await mkdir(building, { recursive: true });
        await build(building);
        await rename(building, done);
      } finally {
        await rm(building, { recursive: true, force: true });
        await rm(lock, { recursive: true, force: true });
      }
    }
  }
  await cp(done, target, { recursive: true });
}
