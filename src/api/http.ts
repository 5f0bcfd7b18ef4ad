import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Gateway, GatewayRequest, GatewayResponse } from './gateway.js';

const MAX_BODY_BYTES = 1024 * 1024;

/** A path the WHATWG URL parser leaves as it is (no dot segments, escapes or odd characters to normalise). */
const PLAIN_PATH = /^\/[A-Za-z0-9_\-/]*$/;

/** The local HTTP transport over the gateway core. */
export function createHttpServer(gateway: Gateway, log: Logger): Server {
  return createServer((req, res) => {
    void serve(gateway, req, res).catch((error: unknown) => {
      log.error('http transport failure', { error: String(error) });
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ message: 'Internal error', extensions: { code: 'INTERNAL' } }] }));
    });
  });
}

async function serve(gateway: Gateway, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const target = req.url ?? '/';
  // The URL parser costs more than a cache hit's lookup: plain paths without a query skip it.
  let path = target;
  let search = '';
  if (!PLAIN_PATH.test(target)) {
    const url = new URL(target, 'http://localhost');
    path = url.pathname;
    search = url.search;
  }
  // The abort signal is made only when something asks for it (an engine statement): a cache hit never does.
  let controller: AbortController | undefined;
  let hungUp = false;
  res.once('close', () => {
    if (res.writableFinished) return;
    hungUp = true;
    controller?.abort();
  });
  const raw = await readBody(req);
  if (raw === undefined) {
    send(res, 413, JSON_ERROR('request too large'));
    return;
  }
  let body: unknown = raw;
  if (raw.length > 0 && (req.headers['content-type'] ?? '').includes('json')) {
    try {
      body = JSON.parse(raw);
    } catch {
      send(res, 400, JSON_ERROR('body is not JSON'));
      return;
    }
  }
  const request: GatewayRequest = {
    method: req.method ?? 'GET',
    path,
    search,
    headers: headersOf(req),
    body,
    rawBody: raw,
    get signal(): AbortSignal {
      if (!controller) {
        controller = new AbortController();
        if (hungUp) controller.abort();
      }
      return controller.signal;
    },
  };
  const response = await gateway.handle(request);
  if (response.bytes) {
    // Kept bytes: headers and body go out in one writev, and no per-request copy of the body is made.
    res.writeHead(response.status, rawHeaders(response, response.bytes.length));
    res.end(response.bytes);
    return;
  }
  if (typeof response.body === 'string') {
    // A known length: no chunked encoding to write (or for the client to parse). A string, not a
    // Buffer: Node sends headers and body in one write, and no external memory is left for the GC.
    res.writeHead(response.status, rawHeaders(response, Buffer.byteLength(response.body, 'utf8')));
    res.end(response.body, 'utf8');
    return;
  }
  res.writeHead(response.status, rawHeaders(response));
  for await (const chunk of response.body) {
    // Leaving the loop closes the body, which closes the engine cursor.
    if (res.destroyed) break;
    // Backpressure: a slow client must not make the server buffer the whole export.
    if (!res.write(chunk)) await drained(res);
  }
  res.end();
}

function JSON_ERROR(message: string): string {
  return JSON.stringify({ errors: [{ message, extensions: { code: 'BAD_REQUEST' } }] });
}

function send(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, [
    'content-type',
    'application/json',
    'content-length',
    String(Buffer.byteLength(body)),
  ]);
  res.end(body);
}

/** The response's headers as Node's flat list (no object to build), with the length when known. */
function rawHeaders(response: GatewayResponse, length?: number): string[] {
  const out: string[] = [];
  for (const [name, value] of response.headers) {
    if (length === undefined || name.toLowerCase() !== 'content-length') out.push(name, value);
  }
  if (length !== undefined) out.push('content-length', String(length));
  return out;
}

/** Node's header object as the gateway takes it: one string per name (Node already joins repeats, but set-cookie). */
function headersOf(req: IncomingMessage): Record<string, string | undefined> {
  const headers = req.headers;
  if (headers['set-cookie'] === undefined) return headers as Record<string, string | undefined>;
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/**
 * The whole body as text, or `undefined` as soon as it passes the size limit
 * (the rest is read and dropped). Events, not an async iterator: cheaper per request.
 */
function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        over = true;
        chunks.length = 0;
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    let ended = false;
    req.once('end', () => {
      ended = true;
      const [only] = chunks;
      resolve(chunks.length === 1 && only ? only.toString('utf8') : Buffer.concat(chunks).toString('utf8'));
    });
    req.once('error', reject);
    // Every request closes after its end; only a close before it is a hang-up (an Error costs a stack trace).
    req.once('close', () => {
      if (!ended && !over) reject(new Error('the client closed the request before its body ended'));
    });
  });
}
