import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BuildOptions, build } from 'esbuild';
import { describeError } from '../../errors.js';
import { IdeBuildError } from './errors.js';
import { IDE_MANIFEST_FILE, type IdeManifest, IdeManifestSchema } from './manifest.js';

/**
 * Builds the GraphQL IDE page's assets with esbuild: the GraphiQL bundle (JS + CSS,
 * fonts inlined so every served file is text) and the three Monaco workers, all with
 * content-hashed names, plus `manifest.json` listing them. Only the CLI loads this
 * module (esbuild is a dev dependency; the Lambda API never builds or serves the IDE).
 */

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Where `goldgate start`/`serve` and `scripts/build-ide.mjs` put the IDE (gitignored). */
export const DEFAULT_IDE_DIR = join(ROOT, 'build', 'ide');

// A change to any of these makes the build stale: the page source, this builder, the installed packages.
const INPUTS = [
  fileURLToPath(new URL('./ide.tsx', import.meta.url)),
  fileURLToPath(import.meta.url),
  fileURLToPath(new URL('./manifest.ts', import.meta.url)),
  join(ROOT, 'package-lock.json'),
  join(ROOT, 'node_modules', '.package-lock.json'),
];

// Output names by entry key: `editor.worker-<hash>.js` and so on.
const WORKERS = {
  'editor.worker': 'monaco-editor/esm/vs/editor/editor.worker.js',
  'json.worker': 'monaco-editor/esm/vs/language/json/json.worker.js',
  'graphql.worker': 'monaco-graphql/esm/graphql.worker.js',
} as const;

const COMMON: BuildOptions = {
  absWorkingDir: ROOT,
  bundle: true,
  minify: true,
  platform: 'browser',
  target: 'es2022',
  entryNames: '[name]-[hash]',
  write: false,
  logLevel: 'silent',
  define: { 'process.env.NODE_ENV': '"production"' },
};

/** The outcome of `buildIde`. */
export interface IdeBuild {
  readonly dir: string;
  readonly manifest: IdeManifest;
  /** False when the folder was already newer than every input. */
  readonly built: boolean;
  readonly ms: number;
}

/** Build the IDE into `dir` unless it is newer than its inputs; files appear atomically, the manifest last. */
export async function buildIde(
  options: {
    readonly dir?: string;
    readonly force?: boolean;
    readonly onProgress?: (message: string) => void;
  } = {},
): Promise<IdeBuild> {
  const dir = options.dir ?? DEFAULT_IDE_DIR;
  const say = (message: string): void => options.onProgress?.(message);
  const started = performance.now();
  const shown = relative(process.cwd(), dir) || dir;
  if (!options.force) {
    const fresh = await freshManifest(dir);
    if (fresh) {
      say(`GraphQL IDE is up to date in ${shown}`);
      return { dir, manifest: fresh, built: false, ms: performance.now() - started };
    }
  }
  say(`building the GraphQL IDE (GraphiQL + Monaco workers, esbuild) into ${shown}`);
  let outputs: Array<{ path: string; contents: Uint8Array }>;
  try {
    const [page, workers] = await Promise.all([
      build({
        ...COMMON,
        entryPoints: { ide: fileURLToPath(new URL('./ide.tsx', import.meta.url)) },
        outdir: dir,
        format: 'esm',
        jsx: 'automatic',
        // Fonts go into the CSS as data URLs (the CSP allows `font-src data:`): the server serves text only.
        loader: {
          '.ttf': 'dataurl',
          '.woff': 'dataurl',
          '.woff2': 'dataurl',
          '.svg': 'dataurl',
          '.png': 'dataurl',
        },
        // Only GraphiQL's subscription transport imports it, lazily; the IDE sends no subscriptions.
        external: ['graphql-ws'],
      }),
      build({ ...COMMON, entryPoints: WORKERS, outdir: dir, format: 'iife' }),
    ]);
    outputs = [...(page.outputFiles ?? []), ...(workers.outputFiles ?? [])];
  } catch (error) {
    throw new IdeBuildError(`esbuild failed: ${describeError(error).message}`, { cause: error });
  }

  const names = outputs.map((o) => basename(o.path));
  const pick = (prefix: string, ext: string): string => {
    const found = names.filter((n) => n.startsWith(`${prefix}-`) && n.endsWith(ext));
    if (found.length !== 1 || !found[0])
      throw new IdeBuildError(`expected one ${prefix}*${ext} in the build, got ${found.length}`);
    return found[0];
  };
  const manifest = IdeManifestSchema.safeParse({
    version: 1,
    entry: { js: pick('ide', '.js'), css: pick('ide', '.css') },
    workers: {
      editor: pick('editor.worker', '.js'),
      json: pick('json.worker', '.js'),
      graphql: pick('graphql.worker', '.js'),
    },
    files: Object.fromEntries(outputs.map((o) => [basename(o.path), { bytes: o.contents.byteLength }])),
  });
  if (!manifest.success)
    throw new IdeBuildError(`unexpected build output: ${names.join(', ')}`, { cause: manifest.error });

  await mkdir(dir, { recursive: true });
  for (const output of outputs) {
    const target = join(dir, basename(output.path));
    // A hashed name with the right size already holds these bytes (another process built the same inputs).
    const existing = await stat(target).catch(() => undefined);
    if (existing?.size !== output.contents.byteLength) await writeAtomically(target, output.contents);
  }
  await writeAtomically(join(dir, IDE_MANIFEST_FILE), `${JSON.stringify(manifest.data, null, 2)}\n`);
  await prune(dir, manifest.data);

  const ms = performance.now() - started;
  const size = (name: string): string => formatBytes(manifest.data.files[name]?.bytes ?? 0);
  const { entry, workers } = manifest.data;
  say(
    `GraphQL IDE built in ${(ms / 1000).toFixed(1)} s: ${entry.js} ${size(entry.js)}, ${entry.css} ${size(entry.css)}, ` +
      `workers ${size(workers.editor)} + ${size(workers.json)} + ${size(workers.graphql)}`,
  );
  return { dir, manifest: manifest.data, built: true, ms };
}

/** The folder's manifest when it is newer than every input and every file it lists exists. */
async function freshManifest(dir: string): Promise<IdeManifest | undefined> {
  const built = await stat(join(dir, IDE_MANIFEST_FILE)).catch(() => undefined);
  if (!built) return undefined;
  for (const input of INPUTS) {
    const info = await stat(input).catch(() => undefined);
    if (info && info.mtimeMs >= built.mtimeMs) return undefined;
  }
  try {
    const manifest = IdeManifestSchema.parse(
      JSON.parse(await readFile(join(dir, IDE_MANIFEST_FILE), 'utf8')) as unknown,
    );
    for (const [name, { bytes }] of Object.entries(manifest.files)) {
      if ((await stat(join(dir, name))).size !== bytes) return undefined;
    }
    return manifest;
  } catch {
    return undefined;
  }
}

// Temp file plus rename: a server reading the folder never sees half a file, and two builders never clash.
async function writeAtomically(target: string, contents: Uint8Array | string): Promise<void> {
  const temp = join(
    dirname(target),
    `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`,
  );
  await writeFile(temp, contents);
  await rename(temp, target);
}

function formatBytes(bytes: number): string {
  return bytes < 1e6 ? `${Math.round(bytes / 1e3)} KB` : `${(bytes / 1e6).toFixed(1)} MB`;
}

/** Remove hashed files an earlier build left (temp files of a concurrent builder start with a dot). */
async function prune(folder: string, manifest: IdeManifest): Promise<void> {
  for (const name of await readdir(folder)) {
    if (name === IDE_MANIFEST_FILE || name.startsWith('.') || name in manifest.files) continue;
    await rm(join(folder, name), { force: true });
  }
}
