import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/**
 * Bundles the ops page's script (src/api/ops/client.ts with the view, the wire
 * schema and zod/mini) into `OPS_CLIENT_JS` in src/api/ops/client.generated.ts.
 * The bundle is committed, so that serving the page needs no build step and no
 * dev dependency; test/unit/api/ops-client.test.ts fails when it is stale, and
 * rewrites it under GOLDGATE_UPDATE_OPS=1. Only that test imports this module.
 */

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The generated module's path. */
export const GENERATED_CLIENT = fileURLToPath(new URL('./client.generated.ts', import.meta.url));

/** The page's script, minified, as the browser runs it. */
export async function buildOpsClient(): Promise<string> {
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: [fileURLToPath(new URL('./client.ts', import.meta.url))],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    legalComments: 'none',
    write: false,
    logLevel: 'silent',
  });
  const [output] = result.outputFiles;
  if (!output || result.outputFiles.length !== 1) throw new TypeError('ops client: expected one output file');
  return output.text;
}

/** The text of src/api/ops/client.generated.ts for a built script. */
export function generatedClientModule(script: string): string {
  return `// biome-ignore-all lint: generated (minified) code
// biome-ignore-all format: one generated line
// Generated from src/api/ops/client.ts by src/api/ops/build.ts: do not edit. After a change to the
// page's script, view or schema, run: GOLDGATE_UPDATE_OPS=1 npx vitest run test/unit/api/ops-client.test.ts

/** The ops page's script, served as /ops/ops.js. */
export const OPS_CLIENT_JS = ${JSON.stringify(script)};
`;
}
