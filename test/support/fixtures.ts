import { existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

/**
 * The shared, real-world fixtures (`shared/fixtures/`), which live beside the
 * repository (`../shared`), or wherever GOLDGATE_SHARED_DIR points.
 */
export function fixturesDir(kind: 'dynamodb' | 'zoho' | 'athena'): URL {
  const base = process.env.GOLDGATE_SHARED_DIR
    ? pathToFileURL(`${process.env.GOLDGATE_SHARED_DIR.replace(/\/$/, '')}/`)
    : new URL('../../../shared/', import.meta.url);
  const dir = new URL(`fixtures/${kind}/`, base);
  if (!existsSync(dir)) {
    throw new Error(
      `shared fixtures not found at ${dir.pathname}: clone next to shared/ or set GOLDGATE_SHARED_DIR`,
    );
  }
  return dir;
}
