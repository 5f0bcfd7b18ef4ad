import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@aws-lambda-powertools/logger';
import { describeError } from '../errors.js';
import type { GatewayRequest, GatewayResponse } from './gateway.js';
import { IdeUnavailableError } from './ide/errors.js';
import { IDE_MANIFEST_FILE, type IdeManifest, IdeManifestSchema, ideContentType } from './ide/manifest.js';

/**
 * The GraphQL IDE page at `/` and its built assets under `/ide/*`, read from
 * a folder built by `src/api/ide/build.ts`. Only the local server is given
 * one (`goldgate start`/`serve`); without the `ide` option the gateway serves
 * no page, which is how the Lambda API runs.
 */

/** The gateway's `ide` option. */
export interface IdeOptions {
  /** The built IDE folder (it holds `manifest.json`). */
  readonly dir: string;
  /** A dev token pre-filled as `Authorization: Bearer <token>`; absent, the header is empty. */
  readonly token?: string;
}

/** The GraphQL endpoint the page talks to, relative to the page. */
export const IDE_ENDPOINT = '/graphql';

/** The query the page opens with: a customers page that returns rows on the demo lake. */
export const IDE_DEFAULT_QUERY = `# goldgate GraphQL IDE: the Authorization header (Headers, below) carries your JWT.
# Run with Ctrl+Enter or the play button; Docs (top left) lists every mart and field.
{
  customers(first: 5) {
    nodes { customerId name region plan lifetimeRevenue }
    pageInfo { hasNextPage endCursor }
  }
}
`;

/** The page's Content-Security-Policy: nothing leaves the origin; Monaco needs inline styles. */
export const IDE_CSP =
  "default-src 'self'; style-src 'self' 'unsafe-inline'; font-src 'self' data:; img-src 'self' data:; " +
  "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const ASSET_PREFIX = '/ide/';

/** The config the page reads from `script#ide-config`. */
export interface IdePageConfig {
  readonly endpoint: string;
  readonly query: string;
  /** GraphiQL's headers editor text: a JSON object. */
  readonly headers: string;
  readonly workers: { readonly editor: string; readonly json: string; readonly graphql: string };
}

/** The page's config for a build and an optional dev token. */
export function idePageConfig(manifest: IdeManifest, token: string | undefined): IdePageConfig {
  return {
    endpoint: IDE_ENDPOINT,
    query: IDE_DEFAULT_QUERY,
    headers: JSON.stringify({ Authorization: token ? `Bearer ${token}` : '' }, null, 2),
    workers: {
      editor: ASSET_PREFIX + manifest.workers.editor,
      json: ASSET_PREFIX + manifest.workers.json,
      graphql: ASSET_PREFIX + manifest.workers.graphql,
    },
  };
}

/** JSON safe inside an HTML `<script>` element: no `<` (so no `</script>`), no line separators. */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replaceAll('<', '\\u003c')
    .replaceAll('>', '\\u003e')
    .replaceAll('&', '\\u0026')
    .replaceAll('\u2028', '\\u2028')
    .replaceAll('\u2029', '\\u2029');
}

/** The IDE's HTML page. */
export function renderIdePage(manifest: IdeManifest, config: IdePageConfig): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>goldgate GraphQL IDE</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${ASSET_PREFIX}${manifest.entry.css}">
<style>html, body, #graphiql { height: 100%; margin: 0; }</style>
</head>
<body>
<div id="graphiql"></div>
<noscript>The GraphQL IDE needs JavaScript. The API itself is at ${IDE_ENDPOINT}.</noscript>
<script type="application/json" id="ide-config">${scriptJson(config)}</script>
<script type="module" src="${ASSET_PREFIX}${manifest.entry.js}"></script>
</body>
</html>
`;
}

interface LoadedIde {
  readonly page: string;
  /** Every servable file by name, read once: names are content hashes, so contents never change. */
  readonly files: ReadonlyMap<string, string>;
}

/** The IDE routes the gateway consults before its own. */
export interface IdeRoutes {
  /** Whether the request is the IDE's to answer: GET or HEAD of `/` or `/ide/*`. */
  matches(request: GatewayRequest): boolean;
  handle(request: GatewayRequest): Promise<GatewayResponse>;
}

/** Serve the IDE from a built folder: only files its manifest lists, with a strict CSP on the page. */
export function createIdeRoutes(options: IdeOptions, log: Logger): IdeRoutes {
  let loading: Promise<LoadedIde> | undefined;
  const load = (): Promise<LoadedIde> => {
    loading ??= loadIde(options).catch((error: unknown) => {
      // Try again on the next request: the folder may be being rebuilt.
      loading = undefined;
      throw error;
    });
    return loading;
  };

  return {
    matches: (request) =>
      (request.method === 'GET' || request.method === 'HEAD') &&
      (request.path === '/' || request.path.startsWith(ASSET_PREFIX)),
    async handle(request) {
      let ide: LoadedIde;
      try {
        ide = await load();
      } catch (error) {
        log.warn('GraphQL IDE unavailable', {
          error: describeError(error),
          cause: describeError(causeOf(error)),
        });
        return text(503, 'application/json; charset=utf-8', errorBody('IDE_UNAVAILABLE', 'IDE unavailable'), {
          'cache-control': 'no-store',
        });
      }
      const head = request.method === 'HEAD';
      if (request.path === '/') {
        return text(
          200,
          'text/html; charset=utf-8',
          ide.page,
          {
            // The page may carry a token: never cached, never sent on as a referrer, never framed.
            'cache-control': 'no-store',
            'content-security-policy': IDE_CSP,
            'referrer-policy': 'no-referrer',
            'x-frame-options': 'DENY',
          },
          head,
        );
      }
      // An exact manifest name or nothing: no decoding, no path joining of caller input.
      const contents = ide.files.get(request.path.slice(ASSET_PREFIX.length));
      if (contents === undefined)
        return text(404, 'application/json; charset=utf-8', errorBody('NOT_FOUND', 'not found'));
      return text(
        200,
        ideContentType(request.path),
        contents,
        {
          'cache-control': 'public, max-age=31536000, immutable',
        },
        head,
      );
    },
  };
}

async function loadIde(options: IdeOptions): Promise<LoadedIde> {
  let manifest: IdeManifest;
  try {
    const raw = JSON.parse(await readFile(join(options.dir, IDE_MANIFEST_FILE), 'utf8')) as unknown;
    manifest = IdeManifestSchema.parse(raw);
  } catch (error) {
    throw new IdeUnavailableError('the IDE build has no readable manifest', { cause: error });
  }
  const files = new Map<string, string>();
  for (const name of Object.keys(manifest.files)) {
    try {
      files.set(name, await readFile(join(options.dir, name), 'utf8'));
    } catch (error) {
      throw new IdeUnavailableError('a file of the IDE build is missing', { cause: error });
    }
  }
  return { page: renderIdePage(manifest, idePageConfig(manifest, options.token)), files };
}

/** A complete text answer with its length and `nosniff` (HEAD answers carry no body). */
export function text(
  status: number,
  contentType: string,
  body: string,
  extra: Readonly<Record<string, string>> = {},
  head = false,
): GatewayResponse {
  return {
    status,
    headers: new Map([
      ['content-type', contentType],
      ['content-length', String(Buffer.byteLength(body))],
      ['x-content-type-options', 'nosniff'],
      ...Object.entries(extra),
    ]),
    body: head ? '' : body,
  };
}

const errorBody = (code: string, message: string): string => JSON.stringify({ error: { code, message } });

const causeOf = (error: unknown): unknown => (error instanceof Error ? error.cause : undefined);
