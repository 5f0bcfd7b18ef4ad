import { readFile } from 'node:fs/promises';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  backoffDelay,
  parseJsonExact,
  parseZohoSettings,
  RequestBudget,
  type RetryOptions,
  TokenCache,
  ZohoBooksClient,
  type ZohoClientOptions,
  type ZohoLog,
  zohoEndpoints,
  zohoTimestamp,
} from '../../../src/ingest/zoho/client.js';
import { fixturesDir } from '../../support/fixtures.js';

const SECRETS = {
  clientId: '1000.UNITCLIENTID',
  clientSecret: 'unit-client-secret-6f1e2d',
  refreshToken: '1000.unit-refresh-token-93ab',
};
const ORG = '10234695';
const START = Date.parse('2026-11-21T06:00:00.000Z');

type Handler = (url: URL, init: RequestInit) => Response | Promise<Response>;

interface Harness {
  readonly client: ZohoBooksClient;
  readonly calls: Array<{ url: URL; init: RequestInit }>;
  readonly sleeps: number[];
  readonly logs: Array<{ level: string; message: string; fields: Record<string, unknown> }>;
  readonly clock: { t: number };
  readonly budget: RequestBudget;
}

function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

let tokenCounter = 0;
function tokenAnswer(apiDomain?: string): Response {
  tokenCounter += 1;
  return json({
    access_token: `1000.access-${tokenCounter}-c0ffee`,
    expires_in: 3600,
    ...(apiDomain ? { api_domain: apiDomain } : {}),
    token_type: 'Bearer',
  });
}

function listAnswer(records: unknown[], hasMore: boolean, page = 1): Response {
  return json({
    code: 0,
    message: 'success',
    contacts: records,
    page_context: { page, per_page: 200, has_more_page: hasMore },
  });
}

/** A client over a scripted fetch, a fake clock and a sleep that only moves the clock. */
function harness(handler: Handler, options: Partial<ZohoClientOptions> = {}): Harness {
  const clock = { t: START };
  const sleeps: number[] = [];
  const calls: Array<{ url: URL; init: RequestInit }> = [];
  const logs: Harness['logs'] = [];
  const now = (): number => clock.t;
  const sleep = async (ms: number): Promise<void> => {
    sleeps.push(ms);
    clock.t += ms;
  };
  const log: ZohoLog = {
    debug: (message, fields) => logs.push({ level: 'debug', message, fields }),
    info: (message, fields) => logs.push({ level: 'info', message, fields }),
    warn: (message, fields) => logs.push({ level: 'warn', message, fields }),
  };
  const budget =
    options.budget ?? new RequestBudget({ limit: 1000, windowMs: 1000, dailyLimit: 100_000, now, sleep });
  const fetchFn = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(String(input));
    calls.push({ url, init: init ?? {} });
    return handler(url, init ?? {});
  }) as typeof fetch;
  const client = new ZohoBooksClient({
    credentials: SECRETS,
    organizationId: ORG,
    fetch: fetchFn,
    now,
    sleep,
    random: () => 0.5,
    tokenCache: new TokenCache(),
    retry: { maxAttempts: 4, baseMs: 100, capMs: 1_000 },
    log,
    ...options,
    budget,
  });
  return { client, calls, sleeps, logs, clock, budget };
}

const isToken = (url: URL): boolean => url.pathname.endsWith('/oauth/v2/token');

describe('data centres', () => {
  it('maps each data centre to its accounts server and API domain (Canada on zohocloud.ca)', () => {
    expect(zohoEndpoints('com')).toEqual({
      accountsUrl: 'https://accounts.zoho.com',
      apiDomain: 'https://www.zohoapis.com',
    });
    expect(zohoEndpoints('eu').accountsUrl).toBe('https://accounts.zoho.eu');
    expect(zohoEndpoints('ca')).toEqual({
      accountsUrl: 'https://accounts.zohocloud.ca',
      apiDomain: 'https://www.zohoapis.ca',
    });
    expect(zohoEndpoints('com.au').apiDomain).toBe('https://www.zohoapis.com.au');
  });

  it('refreshes on the data centre accounts server and calls the api_domain of the token answer', async () => {
    const h = harness(
      (url) => (isToken(url) ? tokenAnswer('https://www.zohoapis.eu') : listAnswer([], false)),
      { dataCentre: 'eu' },
    );
    await h.client.listPage('contacts', { page: 1 });
    expect(h.calls[0]?.url.origin).toBe('https://accounts.zoho.eu');
    expect(h.calls[0]?.init.method).toBe('POST');
    expect(`${h.calls[1]?.url.origin}${h.calls[1]?.url.pathname}`).toBe(
      'https://www.zohoapis.eu/books/v3/contacts',
    );
  });

  it('falls back to the data centre API domain, and refuses a plain-http api_domain off this machine', async () => {
    const fallback = harness((url) => (isToken(url) ? tokenAnswer() : listAnswer([], false)), {
      dataCentre: 'ca',
    });
    await fallback.client.listPage('contacts', { page: 1 });
    expect(fallback.calls[1]?.url.origin).toBe('https://www.zohoapis.ca');

    const bad = harness((url) => (isToken(url) ? tokenAnswer('http://evil.example') : listAnswer([], false)));
    await expect(bad.client.listPage('contacts', { page: 1 })).rejects.toMatchObject({
      code: 'ZOHO_BAD_RESPONSE',
    });
  });
});

describe('requests', () => {
  it('sends organization_id, per_page=200, the Zoho-oauthtoken header and the last_modified_time filter', async () => {
    const h = harness((url) => (isToken(url) ? tokenAnswer() : listAnswer([], false)));
    await h.client.listPage('contacts', { page: 3, since: '2026-11-20T10:11:12.345Z' });
    const call = h.calls[1];
    expect(call?.url.searchParams.get('organization_id')).toBe(ORG);
    expect(call?.url.searchParams.get('per_page')).toBe('200');
    expect(call?.url.searchParams.get('page')).toBe('3');
    expect(call?.url.searchParams.get('last_modified_time')).toBe('2026-11-20T10:11:12+0000');
    expect((call?.init.headers as Record<string, string> | undefined)?.Authorization).toMatch(
      /^Zoho-oauthtoken 1000\.access-/,
    );
    // The refresh token travels in the POST body, never in a URL.
    expect(h.calls[0]?.url.search).toBe('');
    expect(String(h.calls[0]?.init.body)).toContain('grant_type=refresh_token');
  });

  it('pages until has_more_page is false and accepts page_context as an array', async () => {
    const h = harness((url) => {
      if (isToken(url)) return tokenAnswer();
      const page = Number(url.searchParams.get('page'));
      if (page < 3) return listAnswer([{ contact_id: String(page) }], true, page);
      return json({
        code: 0,
        message: 'success',
        contacts: [{ contact_id: '3' }],
        page_context: [{ has_more_page: false }],
      });
    });
    const pages = [];
    for await (const page of h.client.listPages('contacts'))
      pages.push(page.records.map((r) => r.contact_id));
    expect(pages).toEqual([['1'], ['2'], ['3']]);
  });

  it('keeps ids beyond 2^53 exact (docs examples carry them as JSON numbers)', async () => {
    // The docs example parses as plain JSON does; the OAS example id 11149000000061058 stays exact.
    const text = await readFile(new URL('list_contacts.json', fixturesDir('zoho')), 'utf8');
    expect(parseJsonExact(text)).toEqual(JSON.parse(text));
    expect(parseJsonExact(text.replace('460000000026049', '11149000000061058'))).toMatchObject({
      contacts: [{ contact_id: '11149000000061058' }],
    });
    expect(
      parseJsonExact(
        '{"a":12345678901234567890,"b":1.5e3,"c":"99999999999999999","d":-90071992547409930,"e":12}',
      ),
    ).toEqual({
      a: '12345678901234567890',
      b: 1500,
      c: '99999999999999999',
      d: '-90071992547409930',
      e: 12,
    });
    // Fractions and safe integers are left to JSON.parse, however many digits they have.
    expect(parseJsonExact('[1.12345678901234567, 9007199254740991]')).toEqual(
      JSON.parse('[1.12345678901234567, 9007199254740991]'),
    );
  });

  it('formats the filter as Zoho does', () => {
    expect(zohoTimestamp('2026-01-02T03:04:05.999Z')).toBe('2026-01-02T03:04:05+0000');
  });
});

describe('access tokens', () => {
  it('refreshes once, reuses the token, and refreshes again only near its expiry', async () => {
    const h = harness((url) => (isToken(url) ? tokenAnswer() : listAnswer([], false)));
    await Promise.all([
      h.client.listPage('contacts', { page: 1 }),
      h.client.listPage('contacts', { page: 2 }),
    ]);
    await h.client.listPage('contacts', { page: 3 });
    expect(h.calls.filter((c) => isToken(c.url))).toHaveLength(1);
    h.clock.t += 56 * 60_000; // inside the 5-minute margin before the 1 h expiry
    await h.client.listPage('contacts', { page: 4 });
    expect(h.calls.filter((c) => isToken(c.url))).toHaveLength(2);
  });

  it('shares the cached token across clients of the process (warm Lambda invocations)', async () => {
    const cache = new TokenCache();
    const handler: Handler = (url) => (isToken(url) ? tokenAnswer() : listAnswer([], false));
    const first = harness(handler, { tokenCache: cache });
    const second = harness(handler, { tokenCache: cache });
    await first.client.listPage('contacts', { page: 1 });
    await second.client.listPage('contacts', { page: 1 });
    expect(second.calls.filter((c) => isToken(c.url))).toHaveLength(0);
  });

  it('on 401 refreshes once and retries; a second 401 is ZOHO_UNAUTHORIZED', async () => {
    let api = 0;
    const h = harness((url) => {
      if (isToken(url)) return tokenAnswer();
      api += 1;
      return api === 1 ? json({ code: 57, message: 'not authorized' }, 401) : listAnswer([], false);
    });
    await h.client.listPage('contacts', { page: 1 });
    expect(h.calls.filter((c) => isToken(c.url))).toHaveLength(2);

    const denied = harness((url) => (isToken(url) ? tokenAnswer() : json({ code: 57, message: 'no' }, 401)));
    await expect(denied.client.listPage('contacts', { page: 1 })).rejects.toMatchObject({
      code: 'ZOHO_UNAUTHORIZED',
    });
    expect(denied.calls.filter((c) => isToken(c.url))).toHaveLength(2);
  });

  it('refuses a fourth refresh within a minute (TOKEN_REFRESH_LIMITED), and allows it a minute later', async () => {
    const h = harness((url) => (isToken(url) ? tokenAnswer() : json({ code: 57, message: 'no' }, 401)));
    await expect(h.client.listPage('contacts', { page: 1 })).rejects.toMatchObject({
      code: 'ZOHO_UNAUTHORIZED',
    });
    // Two refreshes so far; the next call makes a third, the one after would need a fourth.
    await expect(h.client.listPage('contacts', { page: 1 })).rejects.toMatchObject({
      code: 'ZOHO_UNAUTHORIZED',
    });
    await expect(h.client.listPage('contacts', { page: 1 })).rejects.toMatchObject({
      code: 'TOKEN_REFRESH_LIMITED',
    });
    expect(h.calls.filter((c) => isToken(c.url))).toHaveLength(3);
    h.clock.t += 61_000;
    await expect(h.client.listPage('contacts', { page: 1 })).rejects.toMatchObject({
      code: 'ZOHO_UNAUTHORIZED',
    });
  });

  it('maps accounts-server refusals to INVALID_CREDENTIALS and "Access Denied" to TOKEN_REFRESH_LIMITED', async () => {
    for (const error of ['invalid_code', 'invalid_client', 'invalid_client_secret']) {
      const h = harness((url) => (isToken(url) ? json({ error }) : listAnswer([], false)));
      const failure = await h.client.listPage('contacts', { page: 1 }).catch((e: unknown) => e);
      expect(failure).toMatchObject({ code: 'INVALID_CREDENTIALS', reason: error });
      expect(h.calls).toHaveLength(1);
    }
    const busy = harness((url) =>
      isToken(url)
        ? json(
            { error: 'Access Denied', error_description: 'You have made too many requests continuously.' },
            400,
          )
        : listAnswer([], false),
    );
    await expect(busy.client.listPage('contacts', { page: 1 })).rejects.toMatchObject({
      code: 'TOKEN_REFRESH_LIMITED',
    });
  });
});

describe('retries and backoff', () => {
  const retry: RetryOptions = { maxAttempts: 6, baseMs: 100, capMs: 1_000 };

  it('keeps full-jitter delays within [0, min(cap, base * 2^(n-1)))', () => {
    for (let attempt = 1; attempt <= 12; attempt++) {
      const ceiling = Math.min(retry.capMs, retry.baseMs * 2 ** (attempt - 1));
      expect(backoffDelay(attempt, retry, () => 0)).toBe(0);
      const top = backoffDelay(attempt, retry, () => 0.999_999);
      expect(top).toBeLessThan(ceiling);
      expect(top).toBeGreaterThanOrEqual(ceiling - 1);
    }
  });

  it('retries 429 with growing waits, pauses the shared budget, and gives up after maxAttempts (ZOHO_RATE_LIMITED)', async () => {
    const h = harness(
      (url) => (isToken(url) ? tokenAnswer() : json({ code: 44, message: 'slow down' }, 429)),
      {
        retry,
        random: () => 0.999,
      },
    );
    const before = h.budget.usage().granted;
    await expect(h.client.listPage('contacts', { page: 1 })).rejects.toMatchObject({
      code: 'ZOHO_RATE_LIMITED',
    });
    const apiCalls = h.calls.filter((c) => !isToken(c.url)).length;
    expect(apiCalls).toBe(retry.maxAttempts);
    // Every attempt spends budget: Zoho counts retries too.
    expect(h.budget.usage().granted - before).toBe(apiCalls);
    const backoffs = h.logs
      .filter((l) => l.message === 'zoho request retried')
      .map((l) => Number(l.fields.delay_ms));
    expect(backoffs).toEqual([99, 199, 399, 799, 999]);
    expect(h.client.stats.throttled).toBe(retry.maxAttempts);
  });

  it('retries 5xx and network errors, then succeeds; exhausted, they are ZOHO_UNAVAILABLE', async () => {
    let api = 0;
    const flaky = harness((url) => {
      if (isToken(url)) return tokenAnswer();
      api += 1;
      if (api === 1) return json({ code: 1000, message: 'Internal error' }, 503);
      if (api === 2)
        throw new TypeError('fetch failed', {
          cause: Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }),
        });
      return listAnswer([{ contact_id: '1' }], false);
    });
    const page = await flaky.client.listPage('contacts', { page: 1 });
    expect(page.records).toHaveLength(1);
    expect(flaky.client.stats).toMatchObject({ serverErrors: 1, networkErrors: 1, retries: 2 });

    const down = harness((url) =>
      isToken(url) ? tokenAnswer() : json({ code: 1000, message: 'Internal error' }, 500),
    );
    await expect(down.client.listPage('contacts', { page: 1 })).rejects.toMatchObject({
      code: 'ZOHO_UNAVAILABLE',
    });
    expect(down.calls.filter((c) => !isToken(c.url))).toHaveLength(4);
  });

  it('does not retry Zoho error envelopes (1002) or answers that are not JSON', async () => {
    const missing = harness((url) =>
      isToken(url) ? tokenAnswer() : json({ code: 1002, message: 'Invoice does not exist.' }, 404),
    );
    const error = await missing.client.listPage('invoices', { page: 1 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ZOHO_API_ERROR', zohoCode: 1002, status: 404 });
    expect(missing.calls.filter((c) => !isToken(c.url))).toHaveLength(1);

    const html = harness((url) => (isToken(url) ? tokenAnswer() : new Response('<html>', { status: 200 })));
    await expect(html.client.listPage('contacts', { page: 1 })).rejects.toMatchObject({
      code: 'ZOHO_BAD_RESPONSE',
    });

    const softError = harness((url) =>
      isToken(url) ? tokenAnswer() : json({ code: 2, message: 'Invalid value' }),
    );
    await expect(softError.client.listPage('contacts', { page: 1 })).rejects.toMatchObject({
      code: 'ZOHO_API_ERROR',
    });
  });

  it('times out a slow answer and retries it', async () => {
    let api = 0;
    const h = harness(
      (url, init) => {
        if (isToken(url)) return tokenAnswer();
        api += 1;
        if (api > 1) return listAnswer([], false);
        return new Promise<Response>((_, reject) =>
          init.signal?.addEventListener('abort', () => reject(init.signal?.reason), { once: true }),
        );
      },
      { timeoutMs: 30 },
    );
    await h.client.listPage('contacts', { page: 1 });
    expect(h.client.stats.networkErrors).toBe(1);
  });
});

describe('request budget', () => {
  it('never lets more than the limit through in any window, and sustains close to it', async () => {
    const clock = { t: START };
    const budget = new RequestBudget({
      limit: 10,
      windowMs: 1_000,
      safety: 0.02,
      dailyLimit: 1_000,
      now: () => clock.t,
      sleep: async (ms) => {
        clock.t += ms;
      },
    });
    const granted: number[] = [];
    for (let i = 0; i < 200; i++) {
      const release = await budget.take();
      granted.push(clock.t);
      // Each request takes 5 ms; its token starts home when the answer is in.
      clock.t += 5;
      release();
    }
    for (let i = 0; i < granted.length; i++) {
      const inWindow = granted.filter((t) => t >= (granted[i] ?? 0) && t < (granted[i] ?? 0) + 1_000).length;
      expect(inWindow).toBeLessThanOrEqual(10);
    }
    const span = ((granted.at(-1) ?? 0) - (granted[0] ?? 0)) / 1000;
    // 10 tokens, each out for 5 ms plus 1.02 s: about 9.75 per second sustained.
    expect(199 / span).toBeGreaterThan(9.5);
    expect(budget.usage()).toMatchObject({ usedToday: 200, granted: 200 });
  });

  it('stops at the daily budget without waiting a day, and counts earlier processes', async () => {
    const clock = { t: START };
    const budget = new RequestBudget({
      limit: 100,
      windowMs: 60_000,
      dailyLimit: 3,
      now: () => clock.t,
      sleep: async (ms) => {
        clock.t += ms;
      },
    });
    budget.recordEarlierUse('2026-11-21', 2);
    (await budget.take())();
    await expect(budget.take()).rejects.toMatchObject({ code: 'ZOHO_DAILY_BUDGET_EXHAUSTED' });
    clock.t = Date.parse('2026-11-22T00:00:01Z');
    await expect(budget.take()).resolves.toBeTypeOf('function');
  });

  it('keeps a token out until its request has finished, so slow answers slow the pace', async () => {
    const clock = { t: START };
    const budget = new RequestBudget({
      limit: 2,
      windowMs: 1_000,
      safety: 0,
      now: () => clock.t,
      sleep: async (ms) => {
        clock.t += ms;
      },
    });
    const first = await budget.take();
    const second = await budget.take();
    clock.t += 3_000; // both requests are still waiting for their answers
    let third = false;
    const pending = budget.take().then((release) => {
      third = true;
      return release;
    });
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(third).toBe(false);
    first();
    second();
    // Woken by the release, then waits a full window from it.
    (await pending)();
    expect(clock.t - START).toBe(4_000);
  });

  it('holds every caller back after a 429 penalty', async () => {
    const clock = { t: START };
    const budget = new RequestBudget({
      limit: 100,
      windowMs: 1_000,
      now: () => clock.t,
      sleep: async (ms) => {
        clock.t += ms;
      },
    });
    await budget.take();
    budget.penalize(5_000);
    await budget.take();
    expect(clock.t - START).toBeGreaterThanOrEqual(5_000);
  });
});

describe('secrets', () => {
  it('never puts the client secret, refresh token or access token into errors or logs', async () => {
    const seen: unknown[] = [];
    const scenarios: Handler[] = [
      (url) => (isToken(url) ? json({ error: 'invalid_code' }) : listAnswer([], false)),
      (url) => (isToken(url) ? new Response('oops', { status: 401 }) : listAnswer([], false)),
      (url) => (isToken(url) ? tokenAnswer() : json({ code: 57, message: 'no' }, 401)),
      (url) => (isToken(url) ? tokenAnswer() : json({ code: 44, message: 'slow' }, 429)),
      (url) => {
        if (isToken(url)) return tokenAnswer();
        throw new TypeError('fetch failed', {
          cause: Object.assign(new Error('reset'), { code: 'ECONNRESET' }),
        });
      },
      (url) => (isToken(url) ? tokenAnswer() : json({ code: 1002, message: 'Invoice does not exist.' }, 400)),
    ];
    const tokens: string[] = [];
    for (const scenario of scenarios) {
      const h = harness(async (url, init) => {
        const answer = await scenario(url, init);
        if (isToken(url) && answer.ok) {
          const body = (await answer.clone().json()) as { access_token?: string };
          if (body.access_token) tokens.push(body.access_token);
        }
        return answer;
      });
      const error = await h.client.listPage('invoices', { page: 1 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
      seen.push(inspect(error, { depth: 10 }), JSON.stringify(h.logs));
    }
    const text = seen.join('\n');
    expect(tokens.length).toBeGreaterThan(0);
    for (const secret of [SECRETS.clientSecret, SECRETS.refreshToken, ...tokens])
      expect(text).not.toContain(secret);
  });

  it('reports bad settings by name, never by value', () => {
    expect(() =>
      parseZohoSettings({
        ZOHO_ORGANIZATION_ID: 'x',
        ZOHO_CLIENT_SECRET: SECRETS.clientSecret,
        ZOHO_DC: 'moon',
      }),
    ).toThrow(/ZOHO_ORGANIZATION_ID[\s\S]*ZOHO_DC[\s\S]*ZOHO_CLIENT_ID/);
    try {
      parseZohoSettings({ ZOHO_ORGANIZATION_ID: 'x', ZOHO_CLIENT_SECRET: SECRETS.clientSecret });
    } catch (error) {
      expect(inspect(error)).not.toContain(SECRETS.clientSecret);
    }
    const settings = parseZohoSettings({
      ZOHO_ORGANIZATION_ID: ORG,
      ZOHO_DC: 'ca',
      ZOHO_CLIENT_ID: SECRETS.clientId,
      ZOHO_CLIENT_SECRET_PARAM: '/goldgate/zoho/client_secret',
      ZOHO_REFRESH_TOKEN_PARAM: '/goldgate/zoho/refresh_token',
      ZOHO_ENTITIES: 'contacts, invoices',
    });
    expect(settings).toMatchObject({
      dataCentre: 'ca',
      clientSecret: { ssmName: '/goldgate/zoho/client_secret' },
      entities: ['contacts', 'invoices'],
      requestsPerMinute: 100,
    });
  });
});
