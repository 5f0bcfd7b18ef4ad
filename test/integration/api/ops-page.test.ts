import { existsSync } from 'node:fs';
import { type Browser, type BrowserContext, chromium, type Page, type Response } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildIde } from '../../../src/api/ide/build.js';
import { OPS_CLIENT_JS } from '../../../src/api/ops/client.generated.js';
import { OPS_DEFAULT_RUNS } from '../../../src/api/ops/data.js';
import { OPS_CSP, OPS_CSS } from '../../../src/api/ops/page.js';
import { type OpsData, opsDataSchema } from '../../../src/api/ops/schema.js';
import { MARTS } from '../../../src/catalog/index.js';
import { goldDataset } from '../../../src/lake/layout.js';
import { resolveLatest } from '../../../src/lake/publish.js';
import { SLA_STATES, type SlaState } from '../../../src/ops/sla.js';
import { type PipelineReport, runPipeline } from '../../../src/transform/pipeline.js';
import { summariseQuarantine } from '../../../src/transform/quarantine.js';
import { type ApiHarness, DEMO_NOW, startApiHarness, TOKEN_SETTINGS } from '../../support/api-harness.js';
import { invoice, landEvents } from '../../support/builders/bronze.js';

/**
 * The ops page end to end (issue 8, Done-when 4): the demo lake, then a
 * pipeline run made to fail a blocking check with bad Bronze data; the gateway
 * composed as `goldgate start` does (the `ide` option, which brings `/ops`)
 * over HTTP on 127.0.0.1; Debian's Chromium driven by playwright-core. The page
 * must show every mart of the catalog and the failed check, refuse a token
 * without the admin or ops role, and make no request off 127.0.0.1.
 */

const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];
const CUSTOMERS = 40;
/** The background of each state's badge (the page's stylesheet): the state is told by colour. */
const STATE_BACKGROUND: Readonly<Record<SlaState, string>> = {
  on_time: 'rgb(218, 251, 225)',
  late: 'rgb(255, 248, 197)',
  breached: 'rgb(255, 235, 233)',
  unknown: 'rgb(239, 242, 245)',
};

let h: ApiHarness;
let baseUrl: string;
let admin: string;
let ops: string;
let csm: string;
let analyst: string;
let blocked: PipelineReport;
let duplicated: string;

/** The browser's `getComputedStyle`, typed for the server's type-check (it has no DOM lib). */
interface StyleWindow {
  getComputedStyle(element: unknown): { backgroundColor: string; color: string };
}

beforeAll(async () => {
  const ide = await buildIde();
  h = await startApiHarness({ customers: CUSTOMERS });
  [admin, ops, csm, analyst] = await Promise.all([
    h.token({ roles: ['admin'] }),
    h.token({ roles: ['ops'] }),
    h.token({ roles: ['csm'], extraClaims: { [`${TOKEN_SETTINGS.claimsNamespace}regions`]: ['EU'] } }),
    h.token({ roles: ['analyst'] }),
  ]);

  // Bad data: an invoice landed under a new key whose payload repeats an existing invoice's id (a source
  // bug). Silver keeps events by key, so both rows pass its contract; Gold's unique_key check must block.
  const pointer = await resolveLatest(h.store, goldDataset('invoices', 1));
  if (!pointer) throw new Error('ops page test: invoices was not published');
  const relation = h.engine.martRelation({
    mart: 'invoices',
    schemaVersion: 1,
    runId: pointer.run_id,
    prefix: pointer.path,
  });
  const { rows } = await h.engine.query({
    sql: {
      text: `SELECT invoice_id, customer_id FROM ${relation.text} ORDER BY invoice_id LIMIT 1`,
      params: [...relation.params],
    },
    label: 'test.pick_invoice',
  });
  duplicated = String(rows[0]?.invoice_id);
  const customer = String(rows[0]?.customer_id);
  // A clock after the demo's runs that still moves, so the run and its steps take measurable time.
  const base = Math.max(Date.now(), DEMO_NOW.getTime() + 3_600_000);
  const t0 = performance.now();
  const now = () => new Date(base + (performance.now() - t0));
  const bad = invoice(duplicated, new Date(base - 60_000).toISOString(), {
    customer,
    status: 'sent',
    date: '2026-11-01',
    due: '2026-12-01',
    total: 100,
    balance: 100,
  });
  await landEvents(h.store, 'zoho_books', 'invoices', [{ ...bad, key: '999000000000000001' }], now());
  blocked = await runPipeline({ store: h.store, engine: h.engine, now });

  baseUrl = (await h.serve({ ide: { dir: ide.dir, token: admin } })).baseUrl;
}, 180_000);

afterAll(async () => {
  await h?.close();
});

async function getData(
  token: string | undefined,
  search = '',
): Promise<{ status: number; text: string; headers: Headers }> {
  const response = await fetch(`${baseUrl}/ops/data${search}`, {
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
  return { status: response.status, text: await response.text(), headers: response.headers };
}

describe('the run made to fail', () => {
  it('was blocked by the invoices unique_key check, and the previous invoices version kept serving', async () => {
    expect(blocked.status).toBe('blocked');
    const step = blocked.steps.find((s) => s.step === 'gold.invoices');
    expect(step?.status).toBe('blocked');
    expect(step?.checks.find((c) => c.name === 'unique_key')).toMatchObject({
      passed: false,
      blocking: true,
    });
    expect((await resolveLatest(h.store, goldDataset('invoices', 1)))?.run_id).not.toBe(blocked.runId);
  });
});

describe('GET /ops/data', () => {
  let data: OpsData;

  beforeAll(async () => {
    const answer = await getData(admin);
    expect(answer.status, answer.text).toBe(200);
    expect(answer.headers.get('cache-control')).toBe('no-store');
    data = opsDataSchema.parse(JSON.parse(answer.text));
  });

  it('lists every mart of the catalog, in catalog order, with the version each serves', async () => {
    expect(data.marts.map((m) => m.mart)).toEqual(MARTS.map((m) => m.name));
    for (const m of data.marts) {
      const def = MARTS.find((d) => d.name === m.mart);
      const pointer = def && (await resolveLatest(h.store, goldDataset(def.name, def.schemaVersion)));
      expect(m.served?.runId, m.mart).toBe(pointer?.run_id);
      expect(m.served?.rowCount, m.mart).toBe(pointer?.row_count);
      expect(SLA_STATES, m.mart).toContain(m.sla.state);
      expect(m.sla.reasons.length, m.mart).toBeGreaterThan(0);
    }
  });

  it('has the runs newest first with per-step rows and times, the blocked run on top with its failed check', async () => {
    expect(data.runs[0]?.runId).toBe(blocked.runId);
    expect(data.runs[0]?.status).toBe('blocked');
    const reports: string[] = [];
    for await (const info of h.store.list('_runs/pipeline/')) reports.push(info.key);
    // Every run the lake recorded (the demo lake's, then this one): fewer than the page's default.
    expect(reports.length).toBeGreaterThan(1);
    expect(data.runs).toHaveLength(reports.length);
    expect(data.runs.map((r) => r.runId)).toEqual([...data.runs.map((r) => r.runId)].sort().reverse());
    expect(data.runs[0]?.failedChecks).toContainEqual({
      step: 'gold.invoices',
      name: 'unique_key',
      blocking: true,
      detail: blocked.steps
        .find((s) => s.step === 'gold.invoices')
        ?.checks.find((c) => c.name === 'unique_key')?.detail,
    });
    expect(data.runs[0]?.steps.map((s) => [s.step, s.status, s.rowsIn, s.rowsOut, s.durationMs])).toEqual(
      blocked.steps.map((s) => [s.step, s.status, s.rowsIn, s.rowsOut, s.durationMs]),
    );
  });

  it('has the quarantine per entity as the lake holds it', async () => {
    const expected = await summariseQuarantine(h.store);
    expect(data.quarantine).toEqual(expected.map((q) => ({ ...q })));
  });

  it('keeps to ?runs=N and refuses a bad query with 400 BAD_USER_INPUT', async () => {
    const one = await getData(admin, '?runs=1');
    expect(opsDataSchema.parse(JSON.parse(one.text)).runs.map((r) => r.runId)).toEqual([blocked.runId]);
    for (const search of ['?runs=0', '?runs=abc', '?limit=3']) {
      const answer = await getData(admin, search);
      expect(answer.status, search).toBe(400);
      expect(JSON.parse(answer.text).error.code, search).toBe('BAD_USER_INPUT');
    }
  });

  it('answers the ops role (no mart grant) as it answers admin', async () => {
    const answer = await getData(ops);
    expect(answer.status, answer.text).toBe(200);
    const byOps = opsDataSchema.parse(JSON.parse(answer.text));
    expect(byOps.marts.map((m) => [m.mart, m.served?.runId])).toEqual(
      data.marts.map((m) => [m.mart, m.served?.runId]),
    );
    expect(byOps.runs.map((r) => r.runId)).toEqual(data.runs.map((r) => r.runId));
  });

  it('without a valid token: the gateway’s own 401, word for word', async () => {
    const graphql = await h.post({ query: '{ __typename }' });
    expect(graphql.status).toBe(401);
    const expired = await h.token({ roles: ['admin'], exp: Math.floor(Date.now() / 1000) - 600 });
    for (const token of [undefined, 'not-a-jwt', expired]) {
      const answer = await getData(token);
      expect(answer.status).toBe(401);
      expect(answer.headers.get('www-authenticate')).toBe('Bearer');
      expect(answer.text).toBe(graphql.text);
    }
  });

  it('a valid token without the admin or ops role: 403 FORBIDDEN and no data', async () => {
    for (const token of [csm, analyst]) {
      const answer = await getData(token);
      expect(answer.status).toBe(403);
      expect(JSON.parse(answer.text)).toEqual({
        error: { code: 'FORBIDDEN', message: 'the admin or ops role is needed' },
      });
      expect(answer.text).not.toContain(blocked.runId);
    }
  });
});

describe('the page and its files', () => {
  it('serves the shell with a strict CSP and no data in it, only the pre-filled dev token', async () => {
    const response = await fetch(`${baseUrl}/ops`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('content-security-policy')).toBe(OPS_CSP);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const html = await response.text();
    expect(html).toContain(admin);
    for (const mart of MARTS) expect(html).not.toContain(mart.name);
    expect(html).not.toContain(blocked.runId);
    expect(html).not.toContain('unique_key');
  });

  it('serves its script and stylesheet; nothing else under /ops; the GraphQL IDE still at /', async () => {
    const script = await fetch(`${baseUrl}/ops/ops.js`);
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await script.text()).toBe(OPS_CLIENT_JS);
    const styles = await fetch(`${baseUrl}/ops/ops.css`);
    expect(styles.headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect(await styles.text()).toBe(OPS_CSS);
    for (const path of ['/ops/', '/ops/nope', '/ops/data/', '/ops/../ops/ops.js.map', '/ops/client.ts']) {
      expect((await fetch(`${baseUrl}${path}`)).status, path).toBe(404);
    }
    expect((await fetch(`${baseUrl}/ops/data`, { method: 'HEAD' })).status).toBe(405);
    expect((await fetch(`${baseUrl}/`)).headers.get('content-type')).toBe('text/html; charset=utf-8');
  });

  it('the API without the ide option (the Lambda API) serves no ops page and no ops data', async () => {
    expect((await fetch(`${h.baseUrl}/ops`)).status).toBe(404);
    const data = await fetch(`${h.baseUrl}/ops/data`, { headers: { authorization: `Bearer ${admin}` } });
    expect(data.status).toBe(404);
  });
});

describe('the ops page in headless Chromium', () => {
  let browser: Browser | undefined;
  let context: BrowserContext;
  let page: Page;
  const offsite: string[] = [];
  const local: string[] = [];
  const problems: string[] = [];

  beforeAll(async () => {
    // A failure, not a skip: the page is part of the product, and `npm test` installs Chromium.
    expect(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`).toBe(true);
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
    context = await browser.newContext({ viewport: { width: 1500, height: 1400 } });
    await context.route('**/*', (route) => {
      const url = new URL(route.request().url());
      if (url.hostname !== '127.0.0.1') {
        offsite.push(url.href);
        return route.abort();
      }
      local.push(`${url.pathname}${url.search}`);
      return route.continue();
    });
    page = await context.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning')
        problems.push(`console: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
  });

  /** The next answer of /ops/data the page receives. */
  const nextData = (): Promise<Response> =>
    page.waitForResponse((r) => new URL(r.url()).pathname === '/ops/data', { timeout: 60_000 });

  it('with the admin token: every mart with its SLA colour, served version and the failed check', async () => {
    const answered = nextData();
    await page.goto(`${baseUrl}/ops`);
    const response = await answered;
    expect(response.status()).toBe(200);
    const shown = opsDataSchema.parse(await response.json());
    const rows = page.locator('tr.mart');
    await expect.poll(() => rows.count(), { timeout: 30_000 }).toBe(MARTS.length);
    expect(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-mart')))).toEqual(
      MARTS.map((m) => m.name),
    );

    let reusedShown = 0;
    for (const mart of shown.marts) {
      const row = page.locator(`tr.mart[data-mart="${mart.mart}"]`);
      expect(await row.getAttribute('data-sla-state'), mart.mart).toBe(mart.sla.state);
      const badge = row.locator('td.sla .badge');
      expect((await badge.textContent())?.replace('_', ' '), mart.mart).toBe(
        mart.sla.state.replace('_', ' '),
      );
      // The stylesheet loaded under the CSP: the state is told by colour.
      expect(
        await badge.evaluate(
          (el) => (globalThis as unknown as StyleWindow).getComputedStyle(el).backgroundColor,
        ),
        mart.mart,
      ).toBe(STATE_BACKGROUND[mart.sla.state]);
      const pointer = await resolveLatest(h.store, goldDataset(mart.mart, mart.schemaVersion));
      expect(await row.locator('td').nth(1).textContent(), mart.mart).toContain(
        pointer?.run_id ?? 'never published',
      );
      // A build-time sparkline: a point per run that built the mart (a reuse of its served run is no build).
      const steps = shown.runs.flatMap((r) => r.steps.filter((s) => s.step === `gold.${mart.mart}`));
      const builds = steps.filter((s) => s.reusedRun === null).length;
      expect(await row.locator('svg.spark circle').count(), mart.mart).toBe(builds);
      // The last build column says when the newest run served the unchanged run again.
      // Here the newest run (blocked) built every mart; the unit test of the view covers a newest reuse.
      const lastBuild = await row.locator('td').nth(4).textContent();
      if (steps[0]?.reusedRun) {
        expect(lastBuild, mart.mart).toContain('reused');
        expect(lastBuild, mart.mart).toContain(`checked and served again: ${steps[0].reusedRun} unchanged`);
      } else {
        expect(lastBuild, mart.mart).not.toContain('served again');
      }
      // Each run's step table says which steps served their unchanged run again.
      for (const run of shown.runs) {
        const s = run.steps.find((x) => x.step === `gold.${mart.mart}`);
        if (!s) continue;
        const badge = page.locator(
          `tr.run[data-run="${run.runId}"] tr.step-row[data-step="${s.step}"] .badge`,
        );
        expect(await badge.textContent(), `${run.runId} ${s.step}`).toBe(s.reusedRun ? 'reused' : s.status);
        if (s.reusedRun) reusedShown += 1;
      }
    }
    // An earlier run of the history changed only some entities: the step-table reuse check ran.
    expect(reusedShown).toBeGreaterThan(0);

    const invoices = page.locator('tr.mart[data-mart="invoices"]');
    const check = invoices.locator('li.failed-check.blocking[data-check="unique_key"]');
    await expect.poll(() => check.count()).toBe(1);
    const detail = blocked.steps
      .find((s) => s.step === 'gold.invoices')
      ?.checks.find((c) => c.name === 'unique_key')?.detail;
    expect(await check.textContent()).toContain(`unique_key: ${detail} (blocked publication)`);
    expect(
      await check.evaluate((el) => (globalThis as unknown as StyleWindow).getComputedStyle(el).color),
    ).toBe('rgb(207, 34, 46)');
    expect(await invoices.locator('td').nth(4).textContent()).toContain(blocked.runId);
    expect(await invoices.locator('svg.spark circle.flag-bad').count()).toBe(1);

    // The pipeline: a bar per run, the blocked run first in the table with its failed check.
    expect(await page.locator('svg.run-chart rect.bar').count()).toBe(shown.runs.length);
    const firstRun = page.locator('table.runs tr.run').first();
    expect(await firstRun.getAttribute('data-run')).toBe(blocked.runId);
    expect(await firstRun.getAttribute('data-status')).toBe('blocked');
    expect(await firstRun.locator('.failed-check.blocking').textContent()).toContain(
      'gold.invoices unique_key',
    );
    expect(await page.locator('table.quarantine tbody tr').count()).toBe(shown.quarantine.length);

    expect(new Set(local)).toEqual(
      new Set(['/ops', '/ops/ops.css', '/ops/ops.js', `/ops/data?runs=${OPS_DEFAULT_RUNS}`]),
    );
    expect(offsite).toEqual([]);
    expect(problems).toEqual([]);
  }, 120_000);

  it('a csm token pasted into the page is refused: the data goes and stays gone after a reload', async () => {
    await page.locator('#ops-change-token').click();
    await page.locator('#ops-token').fill(csm);
    const answered = nextData();
    await page.locator('#ops-token-form button[type="submit"]').click();
    expect((await answered).status()).toBe(403);
    await expect
      .poll(() => page.locator('#ops-status').textContent())
      .toContain('neither the admin nor the ops role');
    expect(await page.locator('tr.mart').count()).toBe(0);
    expect(await page.locator('#ops-view').innerHTML()).toBe('');
    expect(await page.locator('#ops-token-form').isVisible()).toBe(true);

    // The pasted token is kept for the tab: a reload asks with it again, not with the pre-filled admin one.
    const again = nextData();
    await page.reload();
    const response = await again;
    expect(response.status()).toBe(403);
    expect(response.request().headers().authorization).toBe(`Bearer ${csm}`);
    await expect
      .poll(() => page.locator('#ops-status').textContent())
      .toContain('neither the admin nor the ops role');
    expect(await page.locator('tr.mart').count()).toBe(0);

    // A token that is not one at all reads as refused too, and no data is shown.
    await page.locator('#ops-token').fill('not-a-token');
    const refused = nextData();
    await page.locator('#ops-token-form button[type="submit"]').click();
    expect((await refused).status()).toBe(401);
    await expect.poll(() => page.locator('#ops-status').textContent()).toContain('The token was refused');
    expect(await page.locator('tr.mart').count()).toBe(0);

    expect(offsite).toEqual([]);
    expect(problems.filter((p) => !p.includes('status of 40'))).toEqual([]);
  }, 120_000);
});
