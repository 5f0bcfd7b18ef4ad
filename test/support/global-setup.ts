import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A folder for lakes built once per test run and copied by each test file that needs one. */
    demoLakeCache: string;
  }
}

/** One cache folder per `vitest run`, removed at the end: nothing carries over between runs. */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = await mkdtemp(join(tmpdir(), 'goldgate-lake-cache-'));
  project.provide('demoLakeCache', dir);
  return () => rm(dir, { recursive: true, force: true });
}
