import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ConfigError } from '../../config/errors.js';
import { readSsmParameter } from '../../config/ssm.js';
import { InvalidSourceRecordError } from '../errors.js';
import { ZOHO_ENTITIES, type ZohoEntity } from './entities.js';
import {
  ZohoAbortedError,
  ZohoApiError,
  ZohoBadResponseError,
  ZohoDailyBudgetExhaustedError,
  ZohoInvalidCredentialsError,
  ZohoRateLimitedError,
  ZohoTokenRefreshLimitedError,
  ZohoUnauthorizedError,
  ZohoUnavailableError,
} from './errors.js';
import { parseZohoListPage } from './records.js';

/**
 * The Zoho Books API v3 client: OAuth refresh-token flow, data-centre aware
 * URLs, a request budget per organisation shared by the whole process, and
 * retries with exponential backoff and full jitter. Secrets travel only in
 * request bodies and headers; nothing here logs or throws them.
 */

/** Zoho's data centres: the accounts server issues tokens, the API domain serves Books. */
export const ZOHO_DATA_CENTRES = {
  com: { accountsUrl: 'https://accounts.zoho.com', apiDomain: 'https://www.zohoapis.com' },
  eu: { accountsUrl: 'https://accounts.zoho.eu', apiDomain: 'https://www.zohoapis.eu' },
  in: { accountsUrl: 'https://accounts.zoho.in', apiDomain: 'https://www.zohoapis.in' },
  'com.au': { accountsUrl: 'https://accounts.zoho.com.au', apiDomain: 'https://www.zohoapis.com.au' },
  jp: { accountsUrl: 'https://accounts.zoho.jp', apiDomain: 'https://www.zohoapis.jp' },
  // Canada is the odd one: its accounts server lives on zohocloud.ca.
  ca: { accountsUrl: 'https://accounts.zohocloud.ca', apiDomain: 'https://www.zohoapis.ca' },
  sa: { accountsUrl: 'https://accounts.zoho.sa', apiDomain: 'https://www.zohoapis.sa' },
  uk: { accountsUrl: 'https://accounts.zoho.uk', apiDomain: 'https://www.zohoapis.uk' },
  'com.cn': { accountsUrl: 'https://accounts.zoho.com.cn', apiDomain: 'https://www.zohoapis.com.cn' },
} as const;

export type ZohoDataCentre = keyof typeof ZOHO_DATA_CENTRES;

/** The accounts server and default API domain of a data centre. */
export function zohoEndpoints(dc: ZohoDataCentre): { accountsUrl: string; apiDomain: string } {
  return { ...ZOHO_DATA_CENTRES[dc] };
}

/** `true` for a known data-centre suffix (`com`, `eu`, `ca`, ...). */
export function isZohoDataCentre(value: string): value is ZohoDataCentre {
  return Object.hasOwn(ZOHO_DATA_CENTRES, value);
}

/** The OAuth client and the long-lived refresh token of one Zoho user. */
export interface ZohoCredentials {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly refreshToken: string;
}

/** Where the client logs; a Powertools logger fits. Fields never hold secrets. */
export interface ZohoLog {
  debug(message: string, fields: Record<string, unknown>): void;
  info(message: string, fields: Record<string, unknown>): void;
  warn(message: string, fields: Record<string, unknown>): void;
}

const silentLog: ZohoLog = { debug() {}, info() {}, warn() {} };

/** Sleep `ms`, rejecting with `ZohoAbortedError` when `signal` aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new ZohoAbortedError('stopped by the caller', { cause: signal.reason }));
      return;
    }
    const timer = setTimeout(
      () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      },
      Math.max(0, ms),
    );
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new ZohoAbortedError('stopped by the caller', { cause: signal?.reason }));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

// ---------------------------------------------------------------------------
// JSON with exact ids

/**
 * Parse JSON, keeping integers beyond 2^53 exact by reading them as strings.
 * Zoho ids are strings in real answers but numbers in its docs, and JSON.parse
 * would silently round `11149000000061058`.
 */
export function parseJsonExact(text: string): unknown {
  return JSON.parse(/\d{16}/.test(text) ? quoteUnsafeIntegers(text) : text);
}

function isDigit(code: number | undefined): boolean {
  return code !== undefined && code >= 48 && code <= 57;
}

function quoteUnsafeIntegers(text: string): string {
  let out = '';
  let copied = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) {
      // Skip a string literal whole, escapes included: digits inside strings are text.
      i++;
      while (i < n && text.charCodeAt(i) !== 34) i += text.charCodeAt(i) === 92 ? 2 : 1;
      continue;
    }
    if (c !== 45 && !isDigit(c)) continue;
    const start = i;
    let j = c === 45 ? i + 1 : i;
    while (isDigit(text.charCodeAt(j))) j++;
    const intEnd = j;
    let integer = true;
    if (text.charCodeAt(j) === 46) {
      integer = false;
      j++;
      while (isDigit(text.charCodeAt(j))) j++;
    }
    if (text.charCodeAt(j) === 101 || text.charCodeAt(j) === 69) {
      integer = false;
      j++;
      if (text.charCodeAt(j) === 43 || text.charCodeAt(j) === 45) j++;
      while (isDigit(text.charCodeAt(j))) j++;
    }
    if (integer && intEnd - start >= 16 && !Number.isSafeInteger(Number(text.slice(start, intEnd)))) {
      out += `${text.slice(copied, start)}"${text.slice(start, intEnd)}"`;
      copied = intEnd;
    }
    i = j - 1;
  }
  return copied === 0 ? text : out + text.slice(copied);
}

// ---------------------------------------------------------------------------
// Request budget

/** How many requests an organisation may make. */
export interface RequestBudgetOptions {
  /** Requests per window (Zoho: 100 per minute per organisation). */
  readonly limit?: number;
  readonly windowMs?: number;
  /** Extra fraction of the window a token stays out, for clock granularity at the server (default 0.02). */
  readonly safety?: number;
  /** Requests per UTC day (Zoho's daily limit depends on the plan: 1,000 on the free plan). */
  readonly dailyLimit?: number;
  readonly now?: () => number;
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** What a budget has handed out. */
export interface BudgetUsage {
  readonly day: string;
  readonly usedToday: number;
  readonly dailyLimit: number;
  readonly granted: number;
}

/** Call when the request a token paid for has its answer (or failed): the token's way home starts then. */
export type BudgetRelease = () => void;

/**
 * A token bucket of `limit` tokens shared by every call of the process for one
 * organisation, where each token comes back one window (plus `safety`) after
 * the request it paid for *finished*, not after it was sent. The server
 * received that request before it finished, so any two requests `limit` apart
 * reach the server more than a window apart: a server counting any sliding or
 * fixed window never sees more than `limit`, whatever the network and event
 * loop delays. The price is one request's latency per token per window
 * (about 1% at Zoho's 100 per minute). Callers are served first come, first served.
 */
export class RequestBudget {
  readonly limit: number;
  readonly windowMs: number;
  readonly dailyLimit: number;
  /** How long a token stays out after its request finished. */
  readonly holdMs: number;
  /** Return times of settled tokens still out, ascending. */
  private readonly returning: number[] = [];
  private inFlight = 0;
  private blockedUntil = 0;
  private day = '';
  private usedToday = 0;
  private granted = 0;
  private queue: Promise<void> = Promise.resolve();
  private wake: (() => void) | undefined;
  private readonly now: () => number;
  private readonly wait: (ms: number, signal?: AbortSignal) => Promise<void>;

  constructor(options: RequestBudgetOptions = {}) {
    this.limit = Math.floor(options.limit ?? 100);
    this.windowMs = options.windowMs ?? 60_000;
    this.dailyLimit = options.dailyLimit ?? 1_000;
    const safety = options.safety ?? 0.02;
    if (!(this.limit >= 1) || !(this.windowMs > 0) || !(safety >= 0) || !(this.dailyLimit >= 0)) {
      throw new RangeError('request budget: limit and window must be positive');
    }
    this.holdMs = this.windowMs * (1 + safety);
    this.now = options.now ?? Date.now;
    this.wait = options.sleep ?? sleep;
  }

  /**
   * Wait for the right to send one request; call the returned release once it
   * has its answer. Throws `ZohoDailyBudgetExhaustedError` instead of waiting a day.
   */
  take(signal?: AbortSignal): Promise<BudgetRelease> {
    const turn = this.queue.then(() => this.acquire(signal));
    this.queue = turn.then(
      () => undefined,
      () => undefined,
    );
    return turn;
  }

  /** After a 429: nobody in this process sends before `ms` from now. */
  penalize(ms: number): void {
    this.blockedUntil = Math.max(this.blockedUntil, this.now() + ms);
  }

  /** Counters, for reports and persistence of the daily count. */
  usage(): BudgetUsage {
    this.rollDay(this.now());
    return { day: this.day, usedToday: this.usedToday, dailyLimit: this.dailyLimit, granted: this.granted };
  }

  /** Count requests made today by earlier processes (a persisted daily counter). */
  recordEarlierUse(day: string, used: number): void {
    this.rollDay(this.now());
    if (day === this.day) this.usedToday = Math.max(this.usedToday, used);
  }

  private rollDay(now: number): void {
    const day = new Date(now).toISOString().slice(0, 10);
    if (day !== this.day) {
      this.day = day;
      this.usedToday = 0;
    }
  }

  private async acquire(signal: AbortSignal | undefined): Promise<BudgetRelease> {
    for (;;) {
      if (signal?.aborted) throw new ZohoAbortedError('stopped by the caller', { cause: signal.reason });
      const now = this.now();
      this.rollDay(now);
      if (this.usedToday >= this.dailyLimit) {
        throw new ZohoDailyBudgetExhaustedError(
          `the daily budget of ${this.dailyLimit} Zoho Books requests is spent for ${this.day}`,
        );
      }
      while (this.returning.length > 0 && (this.returning[0] ?? 0) <= now) this.returning.shift();
      const free = this.limit - this.inFlight - this.returning.length;
      if (now >= this.blockedUntil && free > 0) {
        this.inFlight += 1;
        this.usedToday += 1;
        this.granted += 1;
        let released = false;
        return () => {
          if (released) return;
          released = true;
          this.inFlight -= 1;
          this.returning.push(this.now() + this.holdMs);
          this.returning.sort((a, b) => a - b);
          this.wake?.();
        };
      }
      // Wait for the next token home, the end of a penalty, or a request finishing (which schedules a return).
      const next = Math.max(
        this.blockedUntil,
        free > 0 ? now : (this.returning[0] ?? Number.POSITIVE_INFINITY),
      );
      const woken = new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      if (Number.isFinite(next)) {
        await Promise.race([this.wait(Math.max(1, Math.ceil(next - now)), signal), woken]);
      } else {
        await untilAborted(woken, signal);
      }
      this.wake = undefined;
    }
  }
}

/** `promise`, or a `ZohoAbortedError` as soon as `signal` aborts (the listener is removed either way). */
async function untilAborted(promise: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return promise;
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<void>((_, reject) => {
    onAbort = () => reject(new ZohoAbortedError('stopped by the caller', { cause: signal.reason }));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    await Promise.race([promise, aborted]);
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

const sharedBudgets = new Map<string, RequestBudget>();

/**
 * The budget of an organisation for this process (a Lambda container keeps it
 * across warm invocations). Options apply when it is first created.
 */
export function sharedRequestBudget(
  organizationId: string,
  options: RequestBudgetOptions = {},
): RequestBudget {
  let budget = sharedBudgets.get(organizationId);
  if (!budget) {
    budget = new RequestBudget(options);
    sharedBudgets.set(organizationId, budget);
  }
  return budget;
}

// ---------------------------------------------------------------------------
// Backoff

/** Retry policy for one call. */
export interface RetryOptions {
  /** Attempts in all, the first included. */
  readonly maxAttempts: number;
  readonly baseMs: number;
  readonly capMs: number;
}

/** Zoho sends no Retry-After and counts per minute: waits grow to about a minute. */
export const DEFAULT_RETRY: RetryOptions = { maxAttempts: 7, baseMs: 1_000, capMs: 60_000 };

/** Full jitter: a uniform wait in [0, min(cap, base * 2^(attempt-1))). */
export function backoffDelay(
  attempt: number,
  retry: RetryOptions,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(retry.capMs, retry.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}

// ---------------------------------------------------------------------------
// Access tokens

/** A cached access token. */
interface AccessToken {
  readonly value: string;
  readonly apiDomain: string | undefined;
  readonly expiresAt: number;
}

interface TokenSlot {
  token?: AccessToken;
  inflight?: Promise<AccessToken>;
  refreshes: number[];
}

/**
 * Access tokens by credentials, for the life of the process: a warm Lambda
 * container reuses its token for the hour it lives instead of refreshing on
 * every invocation (Zoho limits how many tokens a refresh token may mint).
 */
export class TokenCache {
  private readonly slots = new Map<string, TokenSlot>();

  /** The slot of one set of credentials; keyed by a hash, never by the secrets themselves. */
  slot(accountsUrl: string, credentials: ZohoCredentials): TokenSlot {
    const key = createHash('sha256')
      .update(`${accountsUrl}\u0000${credentials.clientId}\u0000${credentials.refreshToken}`)
      .digest('hex');
    let slot = this.slots.get(key);
    if (!slot) {
      slot = { refreshes: [] };
      this.slots.set(key, slot);
    }
    return slot;
  }

  /** Forget every token (tests). */
  clear(): void {
    this.slots.clear();
  }
}

/** The token cache of this process. */
export const processTokenCache = new TokenCache();

const tokenAnswerSchema = z.looseObject({
  access_token: z.string().min(1),
  expires_in: z.number().positive().optional(),
  expires_in_sec: z.number().positive().optional(),
  api_domain: z.string().optional(),
  token_type: z.string().optional(),
});

const tokenErrorSchema = z.looseObject({
  error: z.string(),
  error_description: z.string().optional(),
});

/** Zoho's envelope on every Books answer. */
const envelopeSchema = z.looseObject({ code: z.number().int(), message: z.string().optional() });

// ---------------------------------------------------------------------------
// The client

export interface ZohoClientOptions {
  readonly credentials: ZohoCredentials;
  readonly organizationId: string;
  /** Default `com`. */
  readonly dataCentre?: ZohoDataCentre;
  /** Override the accounts server (the local server's `/accounts`). */
  readonly accountsUrl?: string;
  /** Override the API domain; otherwise `api_domain` of the token answer, else the data centre's. */
  readonly apiDomain?: string;
  /** Default: the process-wide budget of the organisation. */
  readonly budget?: RequestBudget;
  /** Options of the shared budget when this client creates it. */
  readonly budgetOptions?: RequestBudgetOptions;
  readonly tokenCache?: TokenCache;
  /** Refreshes allowed per minute and credentials (default 3). */
  readonly maxRefreshesPerMinute?: number;
  /** Refresh this long before expiry (default 5 minutes). */
  readonly refreshSkewMs?: number;
  readonly retry?: Partial<RetryOptions>;
  /** Per attempt (default 30 s). */
  readonly timeoutMs?: number;
  /** Records per list page, at most 200 (default 200). */
  readonly perPage?: number;
  readonly fetch?: typeof fetch;
  readonly now?: () => number;
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly random?: () => number;
  readonly log?: ZohoLog;
}

/** A parsed Books answer and the server's clock (`Date` header) when it answered. */
export interface ZohoAnswer {
  readonly body: unknown;
  readonly serverDate: string | undefined;
}

/** One list page. */
export interface ZohoPage {
  readonly page: number;
  readonly records: ReadonlyArray<Record<string, unknown>>;
  readonly hasMorePage: boolean;
  readonly serverDate: string | undefined;
}

/** What a client did, for reports and tests. */
export interface ZohoClientStats {
  requests: number;
  retries: number;
  throttled: number;
  serverErrors: number;
  networkErrors: number;
  refreshes: number;
}

/** Zoho's timestamp format for `last_modified_time`: `2026-11-21T06:15:00+0000` (seconds, UTC). */
export function zohoTimestamp(instant: string | Date): string {
  const ms = typeof instant === 'string' ? Date.parse(instant) : instant.getTime();
  if (!Number.isFinite(ms)) throw new RangeError('not an instant');
  return `${new Date(ms).toISOString().slice(0, 19)}+0000`;
}

type Failure =
  | { readonly kind: 'throttled'; readonly status: number }
  | { readonly kind: 'server'; readonly status: number }
  | { readonly kind: 'network'; readonly cause: unknown };

/** A Zoho Books API v3 client for one organisation. */
export class ZohoBooksClient {
  readonly organizationId: string;
  readonly accountsUrl: string;
  readonly budget: RequestBudget;
  readonly perPage: number;
  readonly stats: ZohoClientStats = {
    requests: 0,
    retries: 0,
    throttled: 0,
    serverErrors: 0,
    networkErrors: 0,
    refreshes: 0,
  };
  private readonly credentials: ZohoCredentials;
  private readonly defaultApiDomain: string;
  private readonly apiDomainOverride: string | undefined;
  private readonly slot: TokenSlot;
  private readonly retry: RetryOptions;
  private readonly timeoutMs: number;
  private readonly maxRefreshesPerMinute: number;
  private readonly refreshSkewMs: number;
  private readonly fetchFn: typeof fetch;
  private readonly now: () => number;
  private readonly wait: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly random: () => number;
  private readonly log: ZohoLog;

  constructor(options: ZohoClientOptions) {
    const dc = zohoEndpoints(options.dataCentre ?? 'com');
    this.credentials = options.credentials;
    this.organizationId = options.organizationId;
    this.accountsUrl = trimSlash(options.accountsUrl ?? dc.accountsUrl);
    this.defaultApiDomain = dc.apiDomain;
    this.apiDomainOverride = options.apiDomain === undefined ? undefined : trimSlash(options.apiDomain);
    this.budget = options.budget ?? sharedRequestBudget(options.organizationId, options.budgetOptions);
    this.slot = (options.tokenCache ?? processTokenCache).slot(this.accountsUrl, options.credentials);
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.maxRefreshesPerMinute = options.maxRefreshesPerMinute ?? 3;
    this.refreshSkewMs = options.refreshSkewMs ?? 5 * 60_000;
    this.perPage = Math.min(200, Math.max(1, options.perPage ?? 200));
    this.fetchFn = options.fetch ?? fetch;
    this.now = options.now ?? Date.now;
    this.wait = options.sleep ?? sleep;
    this.random = options.random ?? Math.random;
    this.log = options.log ?? silentLog;
  }

  /** One page of an entity's list, optionally only records modified at or after `since`. */
  async listPage(
    entity: ZohoEntity,
    request: { readonly page: number; readonly since?: string | undefined },
    signal?: AbortSignal,
  ): Promise<ZohoPage> {
    const params: Record<string, string> = { page: String(request.page), per_page: String(this.perPage) };
    if (request.since !== undefined) params.last_modified_time = zohoTimestamp(request.since);
    const answer = await this.get(`/${ZOHO_ENTITIES[entity].path}`, params, signal);
    try {
      const parsed = parseZohoListPage(entity, answer.body);
      return { page: request.page, ...parsed, serverDate: answer.serverDate };
    } catch (error) {
      if (error instanceof InvalidSourceRecordError) {
        throw new ZohoBadResponseError(`Zoho ${entity} list page ${request.page} breaks its contract`, {
          cause: error,
        });
      }
      throw error;
    }
  }

  /** Every page of an entity's list from `startPage` until `has_more_page` is false. */
  async *listPages(
    entity: ZohoEntity,
    request: { readonly since?: string | undefined; readonly startPage?: number } = {},
    signal?: AbortSignal,
  ): AsyncGenerator<ZohoPage> {
    for (let page = request.startPage ?? 1; ; page++) {
      const answer = await this.listPage(entity, { page, since: request.since }, signal);
      yield answer;
      // An empty page cannot be followed by records under offset paging, whatever the flag says.
      if (!answer.hasMorePage || answer.records.length === 0) return;
    }
  }

  /** GET a Books path with `organization_id`, paced, authorised and retried. */
  async get(path: string, params: Record<string, string>, signal?: AbortSignal): Promise<ZohoAnswer> {
    let attempt = 0;
    let reauthorised = false;
    for (;;) {
      attempt += 1;
      const token = await this.accessToken(signal);
      const release = await this.budget.take(signal);
      const url = new URL(`${this.apiBase(token)}${path}`);
      url.searchParams.set('organization_id', this.organizationId);
      for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
      this.stats.requests += 1;

      let failure: Failure;
      try {
        const response = await this.fetchFn(url, {
          headers: { Authorization: `Zoho-oauthtoken ${token.value}`, Accept: 'application/json' },
          signal: this.attemptSignal(signal),
        });
        const text = await response.text();
        if (response.status === 401 || response.status === 403) {
          // An expired or revoked token: refresh once, then it is a permission problem.
          if (response.status === 401 && !reauthorised) {
            reauthorised = true;
            this.invalidate(token);
            attempt -= 1;
            continue;
          }
          throw new ZohoUnauthorizedError(
            `Zoho Books refused ${path} (HTTP ${response.status}${zohoCodeOf(text)}): check the scope and organisation`,
          );
        }
        if (response.status === 429) failure = { kind: 'throttled', status: 429 };
        else if (response.status >= 500) failure = { kind: 'server', status: response.status };
        else
          return { body: this.readEnvelope(path, response.status, text), serverDate: serverDate(response) };
      } catch (error) {
        if (signal?.aborted) throw new ZohoAbortedError('stopped by the caller', { cause: signal.reason });
        if (!isTransportError(error)) throw error;
        failure = { kind: 'network', cause: error };
      } finally {
        release();
      }

      if (failure.kind === 'throttled') this.stats.throttled += 1;
      else if (failure.kind === 'server') this.stats.serverErrors += 1;
      else this.stats.networkErrors += 1;
      if (attempt >= this.retry.maxAttempts) throw this.exhausted(path, failure, attempt);
      const delay = backoffDelay(attempt, this.retry, this.random);
      // Everyone in the process waits after a 429: the limit is per organisation, not per call.
      if (failure.kind === 'throttled') this.budget.penalize(delay);
      this.stats.retries += 1;
      this.log.warn('zoho request retried', {
        path,
        attempt,
        delay_ms: delay,
        ...(failure.kind === 'network'
          ? { error: transportErrorName(failure.cause) }
          : { status: failure.status }),
      });
      await this.wait(delay, signal);
    }
  }

  private readEnvelope(path: string, status: number, text: string): unknown {
    let body: unknown;
    try {
      body = parseJsonExact(text);
    } catch (error) {
      throw new ZohoBadResponseError(`Zoho Books answered ${path} with HTTP ${status} and no JSON`, {
        cause: error,
      });
    }
    const envelope = envelopeSchema.safeParse(body);
    if (!envelope.success) {
      throw new ZohoBadResponseError(`Zoho Books answered ${path} without its {code, message} envelope`, {
        cause: envelope.error,
      });
    }
    if (status >= 200 && status < 300 && envelope.data.code === 0) return body;
    throw new ZohoApiError(
      status,
      envelope.data.code,
      `Zoho Books error ${envelope.data.code} on ${path} (HTTP ${status}): ${(envelope.data.message ?? '').slice(0, 200)}`,
    );
  }

  private exhausted(path: string, failure: Failure, attempts: number): Error {
    if (failure.kind === 'throttled') {
      return new ZohoRateLimitedError(`Zoho Books answered 429 to ${attempts} attempts of ${path}`);
    }
    const what = failure.kind === 'server' ? `HTTP ${failure.status}` : 'no answer';
    return new ZohoUnavailableError(`Zoho Books gave ${what} to ${attempts} attempts of ${path}`, {
      cause: failure.kind === 'network' ? failure.cause : undefined,
    });
  }

  private attemptSignal(signal: AbortSignal | undefined): AbortSignal {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    return signal ? AbortSignal.any([signal, timeout]) : timeout;
  }

  private apiBase(token: AccessToken): string {
    return `${this.apiDomainOverride ?? token.apiDomain ?? this.defaultApiDomain}/books/v3`;
  }

  /** The cached access token, refreshed (once for all concurrent callers) when near expiry. */
  private async accessToken(signal: AbortSignal | undefined): Promise<AccessToken> {
    const cached = this.slot.token;
    if (cached && cached.expiresAt - this.refreshSkewMs > this.now()) return cached;
    if (!this.slot.inflight) {
      this.slot.inflight = this.refresh(signal).finally(() => {
        this.slot.inflight = undefined;
      });
    }
    return this.slot.inflight;
  }

  private invalidate(token: AccessToken): void {
    if (this.slot.token === token) this.slot.token = undefined;
  }

  private async refresh(signal: AbortSignal | undefined): Promise<AccessToken> {
    const now = this.now();
    this.slot.refreshes = this.slot.refreshes.filter((t) => now - t < 60_000);
    if (this.slot.refreshes.length >= this.maxRefreshesPerMinute) {
      throw new ZohoTokenRefreshLimitedError(
        `not refreshing the Zoho access token: ${this.slot.refreshes.length} refreshes in the last minute`,
      );
    }
    this.slot.refreshes.push(now);
    this.stats.refreshes += 1;
    const body = new URLSearchParams({
      refresh_token: this.credentials.refreshToken,
      client_id: this.credentials.clientId,
      client_secret: this.credentials.clientSecret,
      grant_type: 'refresh_token',
    });
    const url = `${this.accountsUrl}/oauth/v2/token`;
    for (let attempt = 1; ; attempt++) {
      let failure: Failure;
      try {
        const response = await this.fetchFn(url, {
          method: 'POST',
          headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
          body,
          signal: this.attemptSignal(signal),
        });
        const text = await response.text();
        if (response.status === 429) failure = { kind: 'throttled', status: 429 };
        else if (response.status >= 500) failure = { kind: 'server', status: response.status };
        else return this.readToken(response.status, text);
      } catch (error) {
        if (signal?.aborted) throw new ZohoAbortedError('stopped by the caller', { cause: signal.reason });
        if (!isTransportError(error)) throw error;
        failure = { kind: 'network', cause: error };
      }
      if (attempt >= Math.min(3, this.retry.maxAttempts)) {
        if (failure.kind === 'throttled') {
          throw new ZohoTokenRefreshLimitedError('the Zoho accounts server answered 429 to token refreshes');
        }
        throw this.exhausted('/oauth/v2/token', failure, attempt);
      }
      const delay = backoffDelay(attempt, this.retry, this.random);
      this.log.warn('zoho token refresh retried', {
        attempt,
        delay_ms: delay,
        ...(failure.kind === 'network'
          ? { error: transportErrorName(failure.cause) }
          : { status: failure.status }),
      });
      await this.wait(delay, signal);
    }
  }

  private readToken(status: number, text: string): AccessToken {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      if (status >= 400) throw new ZohoInvalidCredentialsError(`http_${status}`);
      throw new ZohoBadResponseError('the Zoho accounts server answered without JSON');
    }
    const ok = tokenAnswerSchema.safeParse(body);
    if (ok.success && status < 300) {
      const seconds = ok.data.expires_in_sec ?? normaliseExpiry(ok.data.expires_in);
      const apiDomain =
        ok.data.api_domain === undefined ? undefined : this.checkApiDomain(ok.data.api_domain);
      const token: AccessToken = {
        value: ok.data.access_token,
        apiDomain,
        expiresAt: this.now() + seconds * 1000,
      };
      this.slot.token = token;
      this.log.info('zoho access token refreshed', { expires_in_s: seconds, api_domain: apiDomain ?? null });
      return token;
    }
    const failed = tokenErrorSchema.safeParse(body);
    if (!failed.success && status < 300) {
      throw new ZohoBadResponseError('the Zoho accounts server answered without a token or an error');
    }
    const word = failed.success ? failed.data.error : `http_${status}`;
    const description = failed.success ? (failed.data.error_description ?? '') : '';
    // Zoho answers "Access Denied" / "too many requests continuously" when refreshes come too fast.
    if (/access denied/i.test(word) || /too many requests/i.test(description)) {
      throw new ZohoTokenRefreshLimitedError('the Zoho accounts server refuses refreshes for now (too many)');
    }
    throw new ZohoInvalidCredentialsError(/^[A-Za-z0-9_ ]{1,40}$/.test(word) ? word : 'rejected');
  }

  /** `api_domain` decides where the token is sent next: only https, or plain http to this machine. */
  private checkApiDomain(value: string): string {
    let url: URL;
    try {
      url = new URL(value);
    } catch (error) {
      throw new ZohoBadResponseError('the token answer carries an invalid api_domain', { cause: error });
    }
    const local = url.hostname === '127.0.0.1' || url.hostname === 'localhost' || url.hostname === '[::1]';
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && local)) {
      throw new ZohoBadResponseError('the token answer carries an api_domain that is not https');
    }
    return trimSlash(url.origin);
  }
}

function normaliseExpiry(value: number | undefined): number {
  if (value === undefined) return 3600;
  // Older accounts servers answered milliseconds in `expires_in`.
  return value > 86_400 ? Math.floor(value / 1000) : value;
}

function trimSlash(value: string): string {
  return value.replace(/\/+$/, '');
}

function serverDate(response: Response): string | undefined {
  const header = response.headers.get('date');
  if (!header) return undefined;
  const ms = Date.parse(header);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : undefined;
}

function zohoCodeOf(text: string): string {
  const match = /"code"\s*:\s*(\d{1,6})/.exec(text);
  return match ? `, Zoho code ${match[1]}` : '';
}

/** Errors of the transport (refused, reset, timed out, cut body), as opposed to our own bugs. */
function isTransportError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'TimeoutError' || error.name === 'AbortError') return true;
  if (error instanceof TypeError && /fetch failed|terminated|network/i.test(error.message)) return true;
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && /^(E[A-Z]+|UND_ERR_[A-Z_]+)$/.test(code);
}

function transportErrorName(error: unknown): string {
  if (!(error instanceof Error)) return 'unknown';
  const cause = error.cause as { code?: unknown } | undefined;
  const code = typeof cause?.code === 'string' ? cause.code : (error as { code?: unknown }).code;
  return typeof code === 'string' ? `${error.name}:${code}` : error.name;
}

// ---------------------------------------------------------------------------
// Settings from the environment (Lambda handlers and the CLI)

const secretName = z.string().regex(/^[A-Za-z0-9_./-]{1,2048}$/, 'not an SSM parameter name');
const positive = z.coerce.number().positive();

const zohoEnvSchema = z
  .object({
    ZOHO_ORGANIZATION_ID: z.string({ error: 'required' }).regex(/^\d{1,32}$/, 'digits expected'),
    ZOHO_DC: z
      .string()
      .default('com')
      .refine(isZohoDataCentre, `one of ${Object.keys(ZOHO_DATA_CENTRES).join(', ')}`),
    ZOHO_CLIENT_ID: z.string().min(1).optional(),
    ZOHO_CLIENT_ID_PARAM: secretName.optional(),
    ZOHO_CLIENT_SECRET: z.string().min(1).optional(),
    ZOHO_CLIENT_SECRET_PARAM: secretName.optional(),
    ZOHO_REFRESH_TOKEN: z.string().min(1).optional(),
    ZOHO_REFRESH_TOKEN_PARAM: secretName.optional(),
    ZOHO_ACCOUNTS_URL: z.url().optional(),
    ZOHO_API_DOMAIN: z.url().optional(),
    ZOHO_REQUESTS_PER_MINUTE: positive.default(100),
    ZOHO_DAILY_REQUEST_BUDGET: positive.default(1_000),
    ZOHO_TIMEOUT_MS: positive.default(30_000),
    ZOHO_OVERLAP_S: z.coerce.number().nonnegative().default(600),
    ZOHO_PAGES_PER_RUN: z.coerce.number().int().positive().default(25),
    ZOHO_RECONCILE_MAX_DELETE_RATIO: z.coerce.number().min(0).max(1).default(0.5),
    ZOHO_ENTITIES: z.string().optional(),
  })
  .superRefine((env, ctx) => {
    for (const name of ['ZOHO_CLIENT_ID', 'ZOHO_CLIENT_SECRET', 'ZOHO_REFRESH_TOKEN'] as const) {
      if (env[name] === undefined && env[`${name}_PARAM`] === undefined) {
        ctx.addIssue({ code: 'custom', path: [name], message: `set ${name} or ${name}_PARAM (an SSM name)` });
      }
    }
    for (const entity of splitList(env.ZOHO_ENTITIES)) {
      if (!Object.hasOwn(ZOHO_ENTITIES, entity)) {
        ctx.addIssue({
          code: 'custom',
          path: ['ZOHO_ENTITIES'],
          message: `unknown entity ${entity.slice(0, 40)}`,
        });
      }
    }
  });

/** Where a credential comes from: the value itself, or the name of an SSM parameter holding it. */
export type SecretSource = { readonly value: string } | { readonly ssmName: string };

/** The Zoho settings of a process, parsed once at the edge. */
export interface ZohoSettings {
  readonly organizationId: string;
  readonly dataCentre: ZohoDataCentre;
  readonly clientId: SecretSource;
  readonly clientSecret: SecretSource;
  readonly refreshToken: SecretSource;
  readonly accountsUrl: string | undefined;
  readonly apiDomain: string | undefined;
  readonly requestsPerMinute: number;
  readonly dailyRequestBudget: number;
  readonly timeoutMs: number;
  readonly overlapMs: number;
  readonly pagesPerRun: number;
  readonly maxDeleteRatio: number;
  readonly entities: readonly ZohoEntity[] | undefined;
}

function splitList(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Parse the `ZOHO_*` settings. Throws a `ConfigError` naming each bad setting, never its value. */
export function parseZohoSettings(env: NodeJS.ProcessEnv = process.env): ZohoSettings {
  const parsed = zohoEnvSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`));
  }
  const e = parsed.data;
  const source = (value: string | undefined, ssmName: string | undefined): SecretSource =>
    value !== undefined ? { value } : { ssmName: ssmName ?? '' };
  const entities = splitList(e.ZOHO_ENTITIES) as ZohoEntity[];
  return {
    organizationId: e.ZOHO_ORGANIZATION_ID,
    dataCentre: e.ZOHO_DC as ZohoDataCentre,
    clientId: source(e.ZOHO_CLIENT_ID, e.ZOHO_CLIENT_ID_PARAM),
    clientSecret: source(e.ZOHO_CLIENT_SECRET, e.ZOHO_CLIENT_SECRET_PARAM),
    refreshToken: source(e.ZOHO_REFRESH_TOKEN, e.ZOHO_REFRESH_TOKEN_PARAM),
    accountsUrl: e.ZOHO_ACCOUNTS_URL,
    apiDomain: e.ZOHO_API_DOMAIN,
    requestsPerMinute: e.ZOHO_REQUESTS_PER_MINUTE,
    dailyRequestBudget: e.ZOHO_DAILY_REQUEST_BUDGET,
    timeoutMs: e.ZOHO_TIMEOUT_MS,
    overlapMs: e.ZOHO_OVERLAP_S * 1000,
    pagesPerRun: e.ZOHO_PAGES_PER_RUN,
    maxDeleteRatio: e.ZOHO_RECONCILE_MAX_DELETE_RATIO,
    entities: entities.length > 0 ? entities : undefined,
  };
}

async function resolveSecret(source: SecretSource, env: NodeJS.ProcessEnv): Promise<string> {
  return 'value' in source ? source.value : readSsmParameter(source.ssmName, env);
}

/** Build the client of the configured organisation, credentials resolved from the environment or SSM. */
export async function createZohoClientFromSettings(
  settings: ZohoSettings,
  extra: Partial<Omit<ZohoClientOptions, 'credentials' | 'organizationId'>> = {},
  env: NodeJS.ProcessEnv = process.env,
): Promise<ZohoBooksClient> {
  const [clientId, clientSecret, refreshToken] = await Promise.all([
    resolveSecret(settings.clientId, env),
    resolveSecret(settings.clientSecret, env),
    resolveSecret(settings.refreshToken, env),
  ]);
  return new ZohoBooksClient({
    credentials: { clientId, clientSecret, refreshToken },
    organizationId: settings.organizationId,
    dataCentre: settings.dataCentre,
    ...(settings.accountsUrl ? { accountsUrl: settings.accountsUrl } : {}),
    ...(settings.apiDomain ? { apiDomain: settings.apiDomain } : {}),
    budgetOptions: {
      limit: settings.requestsPerMinute,
      windowMs: 60_000,
      dailyLimit: settings.dailyRequestBudget,
    },
    timeoutMs: settings.timeoutMs,
    ...extra,
  });
}
