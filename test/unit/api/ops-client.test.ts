import { readFile, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { buildOpsClient, GENERATED_CLIENT, generatedClientModule } from '../../../src/api/ops/build.js';
import { OPS_CLIENT_JS } from '../../../src/api/ops/client.generated.js';
import { mayReadOps, OPS_DEFAULT_RUNS, OPS_MAX_RUNS, parseOpsQuery } from '../../../src/api/ops/data.js';
import { type OpsData, opsDataSchema } from '../../../src/api/ops/schema.js';
import {
  ageText,
  escapeHtml,
  renderOpsView,
  runChart,
  runTime,
  sparkline,
} from '../../../src/api/ops/view.js';
import { SLA_STATES } from '../../../src/ops/sla.js';

/** The ops page's script bundle, its query parsing, and the view it renders (pure, no browser). */

describe('the ops page script bundle', () => {
  it('is the build of the current sources (GOLDGATE_UPDATE_OPS=1 rewrites it)', async () => {
    const expected = generatedClientModule(await buildOpsClient());
    const committed = await readFile(GENERATED_CLIENT, 'utf8');
    if (process.env.GOLDGATE_UPDATE_OPS === '1' && committed !== expected) {
      await writeFile(GENERATED_CLIENT, expected);
    } else {
      expect(committed, 'run GOLDGATE_UPDATE_OPS=1 npx vitest run test/unit/api/ops-client.test.ts').toBe(
        expected,
      );
    }
    // Whatever the page reaches is in the bundle: nothing is fetched from elsewhere at run time.
    expect(OPS_CLIENT_JS).not.toMatch(/\bimport\s*[("'{]/);
    expect(OPS_CLIENT_JS).not.toMatch(/https?:\/\//);
  }, 60_000);
});

describe('GET /ops/data query', () => {
  it('takes runs from 1 to the maximum, with a default', () => {
    expect(parseOpsQuery('')).toEqual({ runs: OPS_DEFAULT_RUNS });
    expect(parseOpsQuery('?runs=1')).toEqual({ runs: 1 });
    expect(parseOpsQuery(`?runs=${OPS_MAX_RUNS}`)).toEqual({ runs: OPS_MAX_RUNS });
  });

  it.each([
    '?runs=0',
    `?runs=${OPS_MAX_RUNS + 1}`,
    '?runs=-1',
    '?runs=1.5',
    '?runs=abc',
    '?runs=',
    '?runs=1&runs=2',
    '?limit=5',
  ])('refuses %s with BAD_USER_INPUT', (search) => {
    expect(() => parseOpsQuery(search)).toThrow(expect.objectContaining({ code: 'BAD_USER_INPUT' }));
  });

  it('admits the admin and ops roles only', () => {
    const who = (roles: string[]) => ({ subject: 's', roles, scopes: {} });
    expect(mayReadOps(who(['admin']))).toBe(true);
    expect(mayReadOps(who(['csm', 'ops']))).toBe(true);
    expect(mayReadOps(who(['csm']))).toBe(false);
    expect(mayReadOps(who(['analyst', 'finance']))).toBe(false);
    expect(mayReadOps(who([]))).toBe(false);
  });
});

const RUN_A = '20261120T060000Z-aaaa';
const RUN_B = '20261121T060000Z-bbbb';
const RUN_C = '20261121T090000Z-cccc';
const NOW = '2026-11-21T10:00:00.000Z';

function sla(state: (typeof SLA_STATES)[number]) {
  return {
    kind: 'max_age' as const,
    description: 'at most 60 min old',
    state,
    reasons: [`reason for ${state}`],
    evaluatedAt: NOW,
    dueAt: null,
    deliveredAt: null,
    ageSeconds: 60,
    breachedSince: null,
  };
}

function step(
  mart: string,
  status: 'published' | 'blocked',
  durationMs: number,
  reusedRun: string | null = null,
) {
  return {
    step: `gold.${mart}`,
    status,
    rowsIn: 10,
    rowsOut: 5,
    quarantined: 0,
    condemned: 0,
    durationMs,
    reusedRun,
  };
}

/** Three runs (the newest blocked by a failed check) over one mart per SLA state, one named to break out. */
function sample(): OpsData {
  const marts = SLA_STATES.map((state, i) => ({
    mart: i === 0 ? 'alpha<script>alert(1)</script>' : `mart_${state}`,
    schemaVersion: 1,
    served:
      state === 'unknown'
        ? null
        : {
            runId: RUN_B,
            publishedAt: '2026-11-21T06:05:00.000Z',
            builtAt: '2026-11-21T06:00:00.000Z',
            readyAt: '2026-11-21T06:05:00.000Z',
            rowCount: 1234,
            rolledBackFrom: null,
            failedChecks: state === 'late' ? ['references_customer_360.customer_id'] : [],
          },
    newestSourceChange: [{ source: 'zoho_books', at: '2026-11-21T05:00:00.000Z' }],
    sla: sla(state),
  }));
  const names = marts.map((m) => m.mart);
  const run = (runId: string, blocked: boolean, ms: number) => ({
    runId,
    status: blocked ? ('blocked' as const) : ('succeeded' as const),
    startedAt: `${runId.slice(0, 4)}-${runId.slice(4, 6)}-${runId.slice(6, 8)}T${runId.slice(9, 11)}:00:00.000Z`,
    finishedAt: NOW,
    durationMs: ms,
    steps: names.map((n, i) => step(n, blocked && i === 1 ? 'blocked' : 'published', ms / 10 + i)),
    failedChecks: blocked
      ? [{ step: `gold.${names[1]}`, name: 'unique_key', blocking: true, detail: '1 duplicates' }]
      : [],
    quarantined: 2,
    condemned: 0,
    error: null,
  });
  return opsDataSchema.parse({
    generatedAt: NOW,
    marts,
    runs: [run(RUN_C, true, 9000), run(RUN_B, false, 6000), run(RUN_A, false, 3000)],
    quarantine: [
      { entity: 'zoho_books/invoices', open: 2, condemned: 1, released: 0, reasons: { NEGATIVE_AMOUNT: 3 } },
    ],
  });
}

describe('the ops view', () => {
  it('shows every mart with its SLA state as a class, and escapes every value', () => {
    const data = sample();
    const html = renderOpsView(data);
    expect(html).not.toContain('<script>');
    expect(html).toContain(escapeHtml(data.marts[0]?.mart ?? ''));
    for (const m of data.marts) {
      expect(html).toContain(`data-mart="${escapeHtml(m.mart)}" data-sla-state="${m.sla.state}"`);
      expect(html).toContain(`<span class="badge state-${m.sla.state}">`);
    }
    // No inline style anywhere: the page's CSP refuses them.
    expect(html).not.toMatch(/\sstyle=/);
  });

  it('highlights the blocking check of the last build and lists the served version’s warnings', () => {
    const data = sample();
    const html = renderOpsView(data);
    const blockedRow = html.split('<tr class="mart').find((r) => r.includes('data-mart="mart_late"')) ?? '';
    expect(blockedRow).toContain('<li class="failed-check blocking" data-check="unique_key">');
    expect(blockedRow).toContain('1 duplicates');
    expect(blockedRow).toContain('blocked publication');
    expect(blockedRow).toContain(
      '<li class="failed-check warning" data-check="references_customer_360.customer_id">',
    );
    const quiet = html.split('<tr class="mart').find((r) => r.includes('data-mart="mart_breached"')) ?? '';
    expect(quiet).not.toContain('failed-check');
  });

  it('draws a bar per run and a point per build, oldest first, the blocked one flagged', () => {
    const data = sample();
    const chart = runChart(data.runs);
    expect(chart.match(/<rect /g)).toHaveLength(data.runs.length);
    // Oldest first: the bars' titles are in run id order.
    const ids = [...chart.matchAll(/<title>([^:<]+):/g)].map((m) => m[1]);
    expect(ids).toEqual([...data.runs.map((r) => r.runId)].sort());
    // The longest run is full height, the shortest a third of it.
    const heights = [...chart.matchAll(/height="([\d.]+)"><title>/g)].map((m) => Number(m[1]));
    expect(heights[2]).toBeCloseTo((heights[0] ?? 0) * 3, 0);

    const row = renderOpsView(data)
      .split('<tr class="mart')
      .find((r) => r.includes('data-mart="mart_late"'));
    expect(row?.match(/<circle /g)).toHaveLength(data.runs.length);
    expect(row?.match(/flag-bad/g)).toHaveLength(1);
  });

  it('says when a run served a mart’s unchanged run again, and leaves that reuse off the build-time line', () => {
    const data = sample();
    const [newest] = data.runs;
    if (!newest) throw new Error('no run');
    const reusedStep = newest.steps.find((s) => s.step === 'gold.mart_breached');
    if (!reusedStep) throw new Error('no step');
    const reused = { ...reusedStep, reusedRun: RUN_B, durationMs: 1 };
    const html = renderOpsView({
      ...data,
      runs: [
        { ...newest, steps: newest.steps.map((s) => (s === reusedStep ? reused : s)) },
        ...data.runs.slice(1),
      ],
    });
    const row = html.split('<tr class="mart').find((r) => r.includes('data-mart="mart_breached"')) ?? '';
    expect(row).toContain(
      `<span class="badge step-published" title="published: ${RUN_B} served again">reused</span>`,
    );
    expect(row).toContain(`checked and served again: <code>${RUN_B}</code> unchanged`);
    // Two builds on the line, not three: the reuse is not a build.
    expect(row.match(/<circle /g)).toHaveLength(data.runs.length - 1);
    // The run's own step table says it too; other marts' rows keep their build.
    const runRow = html.split('<tr class="run"').find((r) => r.includes(`data-run="${newest.runId}"`)) ?? '';
    expect(runRow).toContain(
      'data-step="gold.mart_breached"><td><code>gold.mart_breached</code></td><td><span class="badge step-published" title=',
    );
    const other = html.split('<tr class="mart').find((r) => r.includes('data-mart="mart_late"')) ?? '';
    expect(other).not.toContain('reused');
    expect(other.match(/<circle /g)).toHaveLength(data.runs.length);
  });

  it('a run driven by a fixed clock (no recorded span) takes the sum of its steps', () => {
    const [run] = sample().runs;
    if (!run) throw new Error('no run');
    const steps = run.steps.reduce((ms, s) => ms + s.durationMs, 0);
    expect(runTime(run)).toBe(run.durationMs);
    expect(runTime({ ...run, durationMs: 0 })).toBe(steps);
    expect(steps).toBeGreaterThan(0);
  });

  it('sparklines cope with no point and one point', () => {
    expect(sparkline([], 'none')).not.toContain('<svg');
    const one = sparkline([{ value: 5, flag: 'ok', label: 'x' }], 'one');
    expect(one.match(/<circle /g)).toHaveLength(1);
    expect(one).not.toContain('<polyline');
  });

  it('says ages the way people read them', () => {
    expect(ageText('2026-11-21T09:59:40.000Z', NOW)).toBe('just now');
    expect(ageText('2026-11-21T09:18:00.000Z', NOW)).toBe('42 min');
    expect(ageText('2026-11-21T06:55:00.000Z', NOW)).toBe('3 h 05 min');
    expect(ageText('2026-11-19T06:00:00.000Z', NOW)).toBe('2 d 4 h');
    expect(ageText('2026-11-21T11:00:00.000Z', NOW)).toBe('in the future');
  });

  it('says so when there is nothing in quarantine and no run', () => {
    const html = renderOpsView({ ...sample(), runs: [], quarantine: [] });
    expect(html).toContain('Nothing in quarantine.');
    expect(html).toContain('No pipeline run recorded yet.');
  });
});
