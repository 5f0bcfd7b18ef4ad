import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CompanyHistory, ZohoRecord, ZohoVersion } from '../demo/history.js';
import { ZOHO_ENTITIES, type ZohoEntity } from './entities.js';

/**
 * A local Zoho Books-compatible server for tests and `goldgate demo`: the
 * OAuth token endpoint under `/accounts/oauth/v2/token` and the Books list
 * endpoints under `/books/v3/...`, with the parameters and envelopes of the
 * OpenAPI files (`organization_id`, `page`, `per_page` up to 200,
 * `last_modified_time`, `page_context`, `{code, message}` errors). Its data is
 * a `CompanyHistory` seen at the server's own settable clock; it has its own
 * rate limit (429 without Retry-After, as Zoho) and switches that inject 5xx
 * answers, slow answers and dropped connections.
 */

/** Credentials the local accounts server accepts by default. Not secrets: local only. */
export const LOCAL_ZOHO_CREDENTIALS = {
  clientId: '1000.GOLDGATELOCALCLIENT',
  clientSecret: 'goldgate-local-client-secret',
  refreshToken: '1000.goldgate-local-refresh-token',
} as const;

export const LOCAL_ZOHO_ORGANIZATION_ID = '10234695';

/** A fault injected into Books API answers: requests numbered n with `n % every` in `[offset, offset + length)`. */
export interface FaultPlan {
  readonly kind: 'error' | 'drop' | 'slow';
  readonly every: number;
  readonly length?: number;
  readonly offset?: number;
  /** For `error` (default 503). */
  readonly status?: number;
  /** For `slow` (default 1000 ms). */
  readonly delayMs?: number;
}

/** A limit on Books API requests per window of real time (the data clock does not move it). */
export interface ServerRateLimit {
  readonly limit: number;
  readonly windowMs: number;
}

export interface LocalZohoServerOptions {
  readonly history: CompanyHistory;
  /** The data clock at start (default: the history's end). */
  readonly now?: Date | string;
  readonly organizationId?: string;
  readonly credentials?: {
    readonly clientId: string;
    readonly clientSecret: string;
    readonly refreshToken: string;
  };
  /** Default 100 requests per minute, as Zoho; `null` for none. */
  readonly rateLimit?: ServerRateLimit | null;
  /** Token refreshes per real minute before "Access Denied" (default 10). */
  readonly maxRefreshesPerMinute?: number;
  /** Access token life in data-clock seconds (default 3600). */
  readonly tokenTtlS?: number;
  readonly faults?: readonly FaultPlan[];
  readonly port?: number;
}

/** Counters of what the server saw and did. */
export interface LocalZohoServerStats {
  apiRequests: number;
  tokenRequests: number;
  throttled: number;
  unauthorized: number;
  errorsInjected: number;
  dropsInjected: number;
  slowInjected: number;
  pagesServed: number;
  /** Books requests by path, e.g. `invoices`. */
  byPath: Record<string, number>;
}

interface Indexed {
  readonly id: string;
  /** Versions ascending by `validFrom` (ms). */
  readonly versions: ReadonlyArray<{ readonly at: number; readonly record: ZohoRecord | null }>;
}

interface Visible {
  readonly record: ZohoRecord;
  readonly modifiedAt: number;
  readonly createdAt: number;
  readonly id: string;
}

const PATH_TO_ENTITY = new Map<string, ZohoEntity>(
  (Object.keys(ZOHO_ENTITIES) as ZohoEntity[]).map((entity) => [ZOHO_ENTITIES[entity].path, entity]),
);

const NOT_AUTHORIZED = { code: 57, message: 'You are not authorized to perform this operation' };

/** The Books-compatible server. Start with `LocalZohoServer.start`. */
export class LocalZohoServer {
  readonly stats: LocalZohoServerStats = {
    apiRequests: 0,
    tokenRequests: 0,
    throttled: 0,
    unauthorized: 0,
    errorsInjected: 0,
    dropsInjected: 0,
    slowInjected: 0,
    pagesServed: 0,
    byPath: {},
  };
  readonly organizationId: string;
  readonly credentials: {
    readonly clientId: string;
    readonly clientSecret: string;
    readonly refreshToken: string;
  };
  private clock: number;
  private rateLimit: ServerRateLimit | null;
  private faults: FaultPlan[];
  private readonly accepted: number[] = [];
  private readonly refreshTimes: number[] = [];
  private readonly tokens = new Map<string, number>();
  private readonly index = new Map<ZohoEntity, Indexed[]>();
  private readonly cache = new Map<ZohoEntity, { key: string; rows: Visible[] }>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly maxRefreshesPerMinute: number;
  private readonly tokenTtlMs: number;
  private server: Server | undefined;
  private baseUrl = '';

  private constructor(options: LocalZohoServerOptions) {
    this.organizationId = options.organizationId ?? LOCAL_ZOHO_ORGANIZATION_ID;
    this.credentials = options.credentials ?? LOCAL_ZOHO_CREDENTIALS;
    this.clock = Date.parse(String(options.now ?? options.history.end));
    if (!Number.isFinite(this.clock)) throw new RangeError('local Zoho server: invalid start time');
    this.rateLimit = options.rateLimit === undefined ? { limit: 100, windowMs: 60_000 } : options.rateLimit;
    this.faults = [...(options.faults ?? [])];
    this.maxRefreshesPerMinute = options.maxRefreshesPerMinute ?? 10;
    this.tokenTtlMs = (options.tokenTtlS ?? 3600) * 1000;
    this.load(options.history.zoho);
  }

  /** Start listening on 127.0.0.1 (port 0 picks a free one). */
  static async start(options: LocalZohoServerOptions): Promise<LocalZohoServer> {
    const instance = new LocalZohoServer(options);
    const server = createServer((req, res) => instance.handle(req, res));
    instance.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    instance.baseUrl = `http://127.0.0.1:${port}`;
    return instance;
  }

  /** `http://127.0.0.1:{port}`: the API domain (Books lives under `/books/v3`). */
  get url(): string {
    return this.baseUrl;
  }

  /** The accounts server URL for the client (`/accounts`). */
  get accountsUrl(): string {
    return `${this.baseUrl}/accounts`;
  }

  /** The data clock. */
  now(): Date {
    return new Date(this.clock);
  }

  /** Move the data clock (forward or back): the answers show the history at that time. */
  setNow(at: Date | string): void {
    const ms = typeof at === 'string' ? Date.parse(at) : at.getTime();
    if (!Number.isFinite(ms)) throw new RangeError('local Zoho server: invalid time');
    this.clock = ms;
  }

  /** Move the data clock forward by `ms`. */
  advance(ms: number): void {
    this.clock += ms;
  }

  /** Change the server's rate limit (`null`: none). */
  setRateLimit(limit: ServerRateLimit | null): void {
    this.rateLimit = limit;
    this.accepted.length = 0;
  }

  /** Replace the injected faults (`[]`: none). */
  setFaults(plans: readonly FaultPlan[]): void {
    this.faults = [...plans];
  }

  /** Stop listening and cut every connection. */
  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    const server = this.server;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private load(versions: readonly ZohoVersion[]): void {
    const byEntity = new Map<ZohoEntity, Map<string, Array<{ at: number; record: ZohoRecord | null }>>>();
    for (const version of versions) {
      const at = Date.parse(version.validFrom);
      if (!Number.isFinite(at)) throw new RangeError(`local Zoho server: bad validFrom for ${version.id}`);
      let ids = byEntity.get(version.entity);
      if (!ids) {
        ids = new Map();
        byEntity.set(version.entity, ids);
      }
      let list = ids.get(version.id);
      if (!list) {
        list = [];
        ids.set(version.id, list);
      }
      list.push({ at, record: version.record });
    }
    for (const [entity, ids] of byEntity) {
      this.index.set(
        entity,
        [...ids.entries()].map(([id, list]) => ({ id, versions: list.sort((a, b) => a.at - b.at) })),
      );
    }
  }

  /** What the list API shows at the data clock: latest version per id, deleted ones absent. */
  private visible(entity: ZohoEntity): Visible[] {
    const key = String(this.clock);
    const hit = this.cache.get(entity);
    if (hit?.key === key) return hit.rows;
    const rows: Visible[] = [];
    for (const { id, versions } of this.index.get(entity) ?? []) {
      let lo = 0;
      let hi = versions.length - 1;
      let found = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if ((versions[mid]?.at ?? Number.POSITIVE_INFINITY) <= this.clock) {
          found = mid;
          lo = mid + 1;
        } else hi = mid - 1;
      }
      const version = versions[found];
      if (!version?.record) continue;
      const created = parseZohoTime(version.record.created_time);
      rows.push({ record: version.record, id, modifiedAt: version.at, createdAt: created ?? version.at });
    }
    // Zoho pages by a stable order; creation time then id keeps pages stable while records change.
    rows.sort((a, b) => a.createdAt - b.createdAt || compareIds(a.id, b.id));
    this.cache.set(entity, { key, rows });
    return rows;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname === '/accounts/oauth/v2/token') {
      this.handleToken(req, res, url);
      return;
    }
    const match = /^\/books\/v3\/([a-z]+)\/?$/.exec(url.pathname);
    const entity = match?.[1] ? PATH_TO_ENTITY.get(match[1]) : undefined;
    if (!entity) {
      this.send(res, 404, { code: 5, message: 'Invalid URL Passed' });
      return;
    }
    if (req.method !== 'GET') {
      this.send(res, 405, { code: 37, message: 'The HTTP method is not allowed for the requested resource' });
      return;
    }
    this.stats.apiRequests += 1;
    const path = ZOHO_ENTITIES[entity].path;
    this.stats.byPath[path] = (this.stats.byPath[path] ?? 0) + 1;

    const fault = this.faultFor(this.stats.apiRequests);
    if (fault?.kind === 'drop') {
      this.stats.dropsInjected += 1;
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'error') {
      this.stats.errorsInjected += 1;
      this.send(res, fault.status ?? 503, { code: 1000, message: 'Internal error' });
      return;
    }
    const answer = (): void => this.answerList(req, res, url, entity);
    if (fault?.kind === 'slow') {
      this.stats.slowInjected += 1;
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        if (!res.destroyed) answer();
      }, fault.delayMs ?? 1000);
      this.timers.add(timer);
      return;
    }
    answer();
  }

  private answerList(req: IncomingMessage, res: ServerResponse, url: URL, entity: ZohoEntity): void {
    const auth = /^Zoho-oauthtoken (\S+)$/.exec(req.headers.authorization ?? '');
    const expiresAt = auth?.[1] ? this.tokens.get(auth[1]) : undefined;
    if (expiresAt === undefined || expiresAt <= this.clock) {
      this.stats.unauthorized += 1;
      this.send(res, 401, NOT_AUTHORIZED);
      return;
    }
    if (!this.admit()) {
      this.stats.throttled += 1;
      // Like Zoho: no Retry-After header.
      this.send(res, 429, {
        code: 44,
        message: 'You have exceeded the maximum number of API requests allowed per minute.',
      });
      return;
    }
    const params = url.searchParams;
    if (params.get('organization_id') !== this.organizationId) {
      this.send(res, 400, {
        code: 6041,
        message: 'This user is not associated with the organization_id given.',
      });
      return;
    }
    const page = intParam(params.get('page'), 1);
    const perPage = intParam(params.get('per_page'), 200);
    if (page === undefined || page < 1) {
      this.send(res, 400, { code: 2, message: 'Invalid value passed for page' });
      return;
    }
    if (perPage === undefined || perPage < 1 || perPage > 200) {
      this.send(res, 400, { code: 2, message: 'Invalid value passed for per_page' });
      return;
    }
    const sinceText = params.get('last_modified_time');
    const since = sinceText === null ? undefined : parseZohoTime(sinceText);
    if (sinceText !== null && since === undefined) {
      this.send(res, 400, { code: 2, message: 'Invalid value passed for last_modified_time' });
      return;
    }
    const rows = this.visible(entity);
    const matching = since === undefined ? rows : rows.filter((row) => row.modifiedAt >= since);
    const start = (page - 1) * perPage;
    const slice = matching.slice(start, start + perPage);
    this.stats.pagesServed += 1;
    this.send(res, 200, {
      code: 0,
      message: 'success',
      [ZOHO_ENTITIES[entity].listKey]: slice.map((row) => row.record),
      page_context: {
        page,
        per_page: perPage,
        has_more_page: start + perPage < matching.length,
        report_name: entity,
        applied_filter: sinceText === null ? 'Status.All' : 'LastModifiedTime',
        sort_column: 'created_time',
        sort_order: 'A',
      },
    });
  }

  private handleToken(req: IncomingMessage, res: ServerResponse, url: URL): void {
    if (req.method !== 'POST') {
      this.send(res, 405, { error: 'invalid_request' });
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      this.stats.tokenRequests += 1;
      // Zoho reads the parameters from the query string or a form body.
      const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
      const value = (name: string): string | null => form.get(name) ?? url.searchParams.get(name);
      const now = Date.now();
      while (this.refreshTimes.length > 0 && now - (this.refreshTimes[0] ?? now) >= 60_000)
        this.refreshTimes.shift();
      if (this.refreshTimes.length >= this.maxRefreshesPerMinute) {
        this.send(res, 400, {
          error: 'Access Denied',
          error_description:
            'You have made too many requests continuously. Please try again after some time.',
          status: 'failure',
        });
        return;
      }
      this.refreshTimes.push(now);
      if (value('grant_type') !== 'refresh_token') {
        this.send(res, 200, { error: 'unsupported_grant_type' });
        return;
      }
      if (value('client_id') !== this.credentials.clientId) {
        this.send(res, 200, { error: 'invalid_client' });
        return;
      }
      if (value('client_secret') !== this.credentials.clientSecret) {
        this.send(res, 200, { error: 'invalid_client_secret' });
        return;
      }
      if (value('refresh_token') !== this.credentials.refreshToken) {
        this.send(res, 200, { error: 'invalid_code' });
        return;
      }
      const token = `1000.${randomBytes(16).toString('hex')}.${randomBytes(16).toString('hex')}`;
      this.tokens.set(token, this.clock + this.tokenTtlMs);
      this.send(res, 200, {
        access_token: token,
        expires_in: Math.round(this.tokenTtlMs / 1000),
        api_domain: this.baseUrl,
        token_type: 'Bearer',
      });
    });
  }

  /** Sliding window over real time: the strictest reading of "N requests per minute". */
  private admit(): boolean {
    const limit = this.rateLimit;
    if (!limit) return true;
    const now = performance.now();
    while (this.accepted.length > 0 && now - (this.accepted[0] ?? now) >= limit.windowMs)
      this.accepted.shift();
    if (this.accepted.length >= limit.limit) return false;
    this.accepted.push(now);
    return true;
  }

  private faultFor(n: number): FaultPlan | undefined {
    for (const plan of this.faults) {
      const every = Math.max(1, plan.every);
      const slot = (n - 1) % every;
      const offset = plan.offset ?? 0;
      if (slot >= offset && slot < offset + (plan.length ?? 1)) return plan;
    }
    return undefined;
  }

  private send(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'Content-Type': 'application/json;charset=UTF-8',
      'Content-Length': Buffer.byteLength(text),
      // The data clock, as Zoho's own clock would be: the puller reads it.
      Date: new Date(this.clock).toUTCString(),
    });
    res.end(text);
  }
}

/** Read a Zoho timestamp (`2026-11-21T11:45:00+0530`, with or without the colon, or `Z`) to ms. */
export function parseZohoTime(value: unknown): number | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?)(Z|[+-]\d{2}:?\d{2})?$/.exec(value.trim());
  if (!m?.[1]) return undefined;
  const zone = m[2] === undefined || m[2] === 'Z' ? 'Z' : `${m[2].slice(0, 3)}:${m[2].slice(-2)}`;
  const ms = Date.parse(`${m[1]}${zone}`);
  return Number.isFinite(ms) ? ms : undefined;
}

function intParam(value: string | null, fallback: number): number | undefined {
  if (value === null) return fallback;
  return /^\d{1,9}$/.test(value) ? Number(value) : undefined;
}

function compareIds(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}
