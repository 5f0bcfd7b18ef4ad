import { describeError } from '../../errors.js';
import type { IdeOptions } from '../static.js';

/**
 * What `goldgate start`/`serve` call before serving: build the IDE if its folder
 * is stale (about 2 s, once), then hand its folder and the demo token to the
 * gateway. A failed build (say, dev dependencies left out) serves the API without
 * the page rather than not at all.
 */
export async function prepareIde(options: {
  readonly token?: string;
  readonly onProgress: (message: string) => void;
}): Promise<IdeOptions | undefined> {
  try {
    // Loaded here only: esbuild is a dev dependency, and nothing else in the server needs it.
    const { buildIde } = await import('./build.js');
    const { dir } = await buildIde({ onProgress: options.onProgress });
    return options.token ? { dir, token: options.token } : { dir };
  } catch (error) {
    const { code, message } = describeError(error);
    options.onProgress(
      `the GraphQL IDE is unavailable (${code ?? 'ERROR'}: ${message}); serving the API without it`,
    );
    return undefined;
  }
}
