import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Gateway, GatewayRequest } from './gateway.js';

const MAX_BODY_BYTES = 1024 * 1024;

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
  const url = new URL(req.url ?? '/', 'http://localhost');
  const controller = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) controller.abort();
  });
  const raw = await readBody(req);
  if (raw === undefined) {
    res.writeHead(413, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({ errors: [{ message: 'request too large', extensions: { code: 'BAD_REQUEST' } }] }),
    );
    return;
  }
  let body: unknown = raw;
  if (raw.length > 0 && (req.headers['content-type'] ?? '').includes('json')) {
    try {
      body = JSON.parse(raw);
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ errors: [{ message: 'body is not JSON', extensions: { code: 'BAD_REQUEST' } }] }),
      );
      return;
    }
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  const request: GatewayRequest = {
    method: req.method ?? 'GET',
    path: url.pathname,
    search: url.search,
    headers,
    body,
    signal: controller.signal,
  };
  const response = await gateway.handle(request);
  res.writeHead(response.status, Object.fromEntries(response.headers));
  if (typeof response.body === 'string') {
    res.end(response.body);
    return;
  }
  for await (const chunk of response.body) {
    // Leaving the loop closes the body, which closes the engine cursor.
    if (res.destroyed) break;
    // Backpressure: a slow client must not make the server buffer the whole export.
    if (!res.write(chunk)) await drained(res);
  }
  res.end();
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

async function readBody(req: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}
