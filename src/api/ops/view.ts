import { duration } from '../../ops/format.js';
import type { SlaState } from '../../ops/sla.js';
import type { OpsData, OpsMart, OpsRun } from './schema.js';

/**
 * The ops page's body, rendered from `GET /ops/data` in the browser
 * (bundled into src/api/ops/client.generated.ts) and in tests alike: pure
 * functions from data to HTML text with inline SVG charts, no DOM. Every value
 * from the data is escaped; nothing uses a `style` attribute, so the page's CSP
 * can refuse inline styles (colours come from classes in the page's stylesheet).
 */

const ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Text safe in HTML content and in double- or single-quoted attributes. */
export function escapeHtml(value: string | number): string {
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

const STATE_LABEL: Readonly<Record<SlaState, string>> = {
  on_time: 'on time',
  late: 'late',
  breached: 'breached',
  unknown: 'unknown',
};

const count = (n: number): string => n.toLocaleString('en-US');

/** `2026-11-21T06:00:00.000Z` -> `2026-11-21 06:00Z` (the page shows UTC; the title holds the instant). */
function shortInstant(iso: string): string {
  return iso.replace('T', ' ').replace(/:\d{2}(\.\d+)?Z$/, 'Z');
}

/** How long before `now` an instant was, for people: `just now`, `42 min`, `3 h 05 min`, `2 d 4 h`. */
export function ageText(iso: string, now: string): string {
  const ms = Date.parse(now) - Date.parse(iso);
  if (!Number.isFinite(ms)) return '?';
  if (ms < -60_000) return 'in the future';
  const minutes = Math.floor(Math.max(0, ms) / 60_000);
  if (minutes < 1) return 'just now';
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${String(minutes % 60).padStart(2, '0')} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

function time(iso: string, now: string, suffix = ' ago'): string {
  const age = ageText(iso, now);
  const text = age === 'just now' || age === 'in the future' ? age : `${age}${suffix}`;
  return `<time datetime="${escapeHtml(iso)}" title="${escapeHtml(iso)}">${escapeHtml(text)}</time>`;
}

/** A point of a sparkline: its value, how it went, and the tooltip. */
export interface SparkPoint {
  readonly value: number;
  readonly flag: 'ok' | 'warn' | 'bad';
  readonly label: string;
}

/**
 * A small line chart as inline SVG: values scaled to the tallest, oldest on
 * the left, a dot per point coloured by its flag with its label as tooltip.
 */
export function sparkline(points: readonly SparkPoint[], caption: string, width = 132, height = 30): string {
  if (points.length === 0) return '<span class="muted">no build yet</span>';
  const pad = 4;
  const max = Math.max(1, ...points.map((p) => p.value));
  const step = points.length > 1 ? (width - 2 * pad) / (points.length - 1) : 0;
  const xy = points.map((p, i) => {
    const x = points.length > 1 ? pad + i * step : width / 2;
    const y = height - pad - (Math.max(0, p.value) / max) * (height - 2 * pad);
    return { x: x.toFixed(1), y: y.toFixed(1), p };
  });
  const line =
    xy.length > 1
      ? `<polyline class="spark-line" points="${xy.map((c) => `${c.x},${c.y}`).join(' ')}"/>`
      : '';
  const dots = xy
    .map(
      (c) =>
        `<circle class="spark-dot flag-${c.p.flag}" cx="${c.x}" cy="${c.y}" r="2.6"><title>${escapeHtml(c.p.label)}</title></circle>`,
    )
    .join('');
  return `<svg class="spark" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeHtml(caption)}"><title>${escapeHtml(caption)}</title>${line}${dots}</svg>`;
}

/**
 * How long a run took: its recorded span, or the sum of its steps when that is
 * longer (a run driven by a fixed clock, like the demo's, records no span).
 */
export function runTime(run: OpsRun): number {
  return Math.max(
    run.durationMs,
    run.steps.reduce((ms, s) => ms + s.durationMs, 0),
  );
}

/** A bar per pipeline run (oldest on the left), its height the run's duration, coloured by status. */
export function runChart(runs: readonly OpsRun[], width = 640, height = 132): string {
  if (runs.length === 0) return '<p class="muted">No pipeline run recorded yet.</p>';
  const chrono = [...runs].reverse();
  const top = 18;
  const bottom = 16;
  const plot = height - top - bottom;
  const max = Math.max(1, ...chrono.map(runTime));
  const slot = width / chrono.length;
  const bar = Math.max(2, Math.min(36, slot * 0.7));
  const bars = chrono
    .map((r, i) => {
      const h = Math.max(1, (runTime(r) / max) * plot);
      const x = i * slot + (slot - bar) / 2;
      const y = top + plot - h;
      const tip = `${r.runId}: ${r.status}, ${duration(runTime(r))}, ${r.failedChecks.length} failed checks`;
      return `<rect class="bar run-${r.status}" x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${bar.toFixed(1)}" height="${h.toFixed(1)}"><title>${escapeHtml(tip)}</title></rect>`;
    })
    .join('');
  const first = chrono[0];
  const last = chrono[chrono.length - 1];
  const axis =
    `<line class="axis" x1="0" y1="${top + plot + 0.5}" x2="${width}" y2="${top + plot + 0.5}"/>` +
    `<text class="axis-label" x="0" y="12">${escapeHtml(duration(max))}</text>` +
    (first && last
      ? `<text class="axis-label" x="0" y="${height - 3}">${escapeHtml(shortInstant(first.startedAt))}</text>` +
        `<text class="axis-label end" x="${width}" y="${height - 3}">${escapeHtml(shortInstant(last.startedAt))}</text>`
      : '');
  const caption = `Pipeline run durations, the last ${chrono.length} runs, oldest first`;
  return `<svg class="run-chart" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeHtml(caption)}"><title>${escapeHtml(caption)}</title>${axis}${bars}</svg>`;
}

/** The newest run with a step for the mart (a build, or a reuse of its served run), and that step. */
function lastBuild(
  mart: string,
  runs: readonly OpsRun[],
): { run: OpsRun; step: OpsRun['steps'][number] } | undefined {
  for (const run of runs) {
    const step = run.steps.find((s) => s.step === `gold.${mart}`);
    if (step) return { run, step };
  }
  return undefined;
}

/** A step's status; a Gold step that served its unchanged run again says `reused`. */
function stepBadge(s: OpsRun['steps'][number]): string {
  const label = s.reusedRun ? 'reused' : s.status;
  const title = s.reusedRun ? ` title="${escapeHtml(`${s.status}: ${s.reusedRun} served again`)}"` : '';
  return `<span class="badge step-${s.status}"${title}>${escapeHtml(label)}</span>`;
}

function stateBadge(state: SlaState): string {
  return `<span class="badge state-${state}">${escapeHtml(STATE_LABEL[state])}</span>`;
}

function martRow(m: OpsMart, data: OpsData): string {
  const now = data.generatedAt;
  const step = `gold.${m.mart}`;
  const build = lastBuild(m.mart, data.runs);
  const served = m.served
    ? `<code>${escapeHtml(m.served.runId)}</code><div class="muted">${escapeHtml(count(m.served.rowCount))} rows · published ${time(m.served.publishedAt, now)}</div>` +
      (m.served.rolledBackFrom
        ? `<div class="note">rolled back from <code>${escapeHtml(m.served.rolledBackFrom)}</code></div>`
        : '')
    : '<span class="muted">never published</span>';
  const age = m.served ? time(m.served.builtAt, now, '') : '<span class="muted">–</span>';
  const sources =
    m.newestSourceChange.length > 0
      ? `<ul class="plain">${m.newestSourceChange
          .map((c) => `<li>${escapeHtml(c.source)}: ${time(c.at, now)}</li>`)
          .join('')}</ul>`
      : '<span class="muted">–</span>';
  const last = build
    ? `${stepBadge(build.step)} ${escapeHtml(duration(build.step.durationMs))}` +
      `<div class="muted"><code title="${escapeHtml(build.run.runId)}">${escapeHtml(build.run.runId)}</code></div>` +
      (build.step.reusedRun
        ? `<div class="note">checked and served again: <code>${escapeHtml(build.step.reusedRun)}</code> unchanged</div>`
        : '')
    : '<span class="muted">not built in these runs</span>';
  const checks: string[] = [];
  for (const c of build?.run.failedChecks.filter((f) => f.step === step) ?? []) {
    const why = c.blocking
      ? build?.step.status === 'blocked'
        ? 'blocked publication'
        : 'blocking'
      : 'warning';
    checks.push(
      `<li class="failed-check ${c.blocking ? 'blocking' : 'warning'}" data-check="${escapeHtml(c.name)}"><code>${escapeHtml(c.name)}</code>${c.detail ? `: ${escapeHtml(c.detail)}` : ''} <span class="why">(${escapeHtml(why)})</span></li>`,
    );
  }
  const listed = new Set(build?.run.failedChecks.filter((f) => f.step === step).map((c) => c.name));
  for (const name of m.served?.failedChecks ?? []) {
    if (listed.has(name)) continue;
    checks.push(
      `<li class="failed-check warning" data-check="${escapeHtml(name)}"><code>${escapeHtml(name)}</code> <span class="why">(served version, warning)</span></li>`,
    );
  }
  const failed =
    checks.length > 0 ? `<ul class="plain">${checks.join('')}</ul>` : '<span class="ok">none</span>';
  const history = [...data.runs]
    .reverse()
    // A reuse costs its checks only: its time is not a build's, so it stays off the build-time line.
    .flatMap((run) => run.steps.filter((s) => s.step === step && !s.reusedRun).map((s) => ({ run, s })))
    .map(
      ({ run, s }): SparkPoint => ({
        value: s.durationMs,
        flag: s.status === 'blocked' ? 'bad' : s.status === 'skipped' ? 'warn' : 'ok',
        label: `${run.runId}: ${s.status}, ${duration(s.durationMs)}, ${count(s.rowsOut)} rows out`,
      }),
    );
  const reasons = m.sla.reasons.map((r) => `<li>${escapeHtml(r)}</li>`).join('');
  return `<tr class="mart sla-${m.sla.state}" data-mart="${escapeHtml(m.mart)}" data-sla-state="${m.sla.state}">
<th scope="row"><code>${escapeHtml(m.mart)}</code> <span class="muted">v${escapeHtml(m.schemaVersion)}</span></th>
<td class="sla">${stateBadge(m.sla.state)}<div class="muted">${escapeHtml(m.sla.description)}</div><ul class="reasons">${reasons}</ul></td>
<td>${served}</td>
<td class="age">${age}</td>
<td>${sources}</td>
<td>${last}</td>
<td class="checks">${failed}</td>
<td>${sparkline(history, `${m.mart}: build time over the last ${history.length} builds, oldest first`)}</td>
</tr>`;
}

function summary(data: OpsData): string {
  const states = new Map<SlaState, number>();
  for (const m of data.marts) states.set(m.sla.state, (states.get(m.sla.state) ?? 0) + 1);
  const chips = [...states.entries()]
    .sort(([a], [b]) => severity(b) - severity(a))
    .map(([state, n]) => `<li class="badge state-${state}">${n} ${escapeHtml(STATE_LABEL[state])}</li>`);
  const latest = data.runs[0];
  if (latest) {
    chips.push(
      `<li class="badge run-${latest.status}">last run ${escapeHtml(latest.status)} ${time(latest.startedAt, data.generatedAt)}</li>`,
    );
  }
  const open = data.quarantine.reduce((n, q) => n + q.open, 0);
  const condemned = data.quarantine.reduce((n, q) => n + q.condemned, 0);
  chips.push(
    `<li class="badge ${condemned > 0 ? 'state-breached' : open > 0 ? 'state-late' : 'state-on_time'}">quarantine: ${escapeHtml(count(open))} open, ${escapeHtml(count(condemned))} condemned</li>`,
  );
  return `<ul class="summary">${chips.join('')}</ul>`;
}

const SEVERITY: readonly SlaState[] = ['on_time', 'unknown', 'late', 'breached'];
const severity = (state: SlaState): number => SEVERITY.indexOf(state);

function runRow(run: OpsRun, now: string): string {
  const failed =
    run.failedChecks.length > 0
      ? `<ul class="plain">${run.failedChecks
          .map(
            (c) =>
              `<li class="failed-check ${c.blocking ? 'blocking' : 'warning'}"><code>${escapeHtml(c.step)}</code> <code>${escapeHtml(c.name)}</code>${c.detail ? `: ${escapeHtml(c.detail)}` : ''}</li>`,
          )
          .join('')}</ul>`
      : '<span class="ok">none</span>';
  const error = run.error
    ? `<div class="failed-check blocking">stopped in <code>${escapeHtml(run.error.step)}</code>: ${escapeHtml(run.error.code)}${run.error.causeCode ? ` (${escapeHtml(run.error.causeCode)})` : ''}</div>`
    : '';
  const steps = run.steps
    .map(
      (s) =>
        `<tr class="step-row" data-step="${escapeHtml(s.step)}"><td><code>${escapeHtml(s.step)}</code></td><td>${stepBadge(s)}</td><td class="num">${escapeHtml(count(s.rowsIn))}</td><td class="num">${escapeHtml(count(s.rowsOut))}</td><td class="num">${escapeHtml(count(s.quarantined))}</td><td class="num">${escapeHtml(count(s.condemned))}</td><td class="num">${escapeHtml(duration(s.durationMs))}</td></tr>`,
    )
    .join('');
  return `<tr class="run" data-run="${escapeHtml(run.runId)}" data-status="${run.status}">
<th scope="row"><code>${escapeHtml(run.runId)}</code></th>
<td><span class="badge run-${run.status}">${escapeHtml(run.status)}</span></td>
<td>${time(run.startedAt, now)}</td>
<td class="num">${escapeHtml(duration(runTime(run)))}</td>
<td class="num">${escapeHtml(count(run.quarantined))} / ${escapeHtml(count(run.condemned))}</td>
<td class="checks">${failed}${error}</td>
<td><details><summary>${run.steps.length} steps</summary><table class="steps"><thead><tr><th>step</th><th>status</th><th>rows in</th><th>rows out</th><th>quarantined</th><th>condemned</th><th>time</th></tr></thead><tbody>${steps}</tbody></table></details></td>
</tr>`;
}

function quarantineTable(data: OpsData): string {
  if (data.quarantine.length === 0) return '<p class="ok">Nothing in quarantine.</p>';
  const rows = data.quarantine
    .map((q) => {
      const reasons = Object.entries(q.reasons)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([code, n]) => `<code>${escapeHtml(code)}</code> × ${escapeHtml(count(n))}`)
        .join(', ');
      return `<tr data-entity="${escapeHtml(q.entity)}" class="${q.condemned > 0 ? 'has-condemned' : q.open > 0 ? 'has-open' : ''}"><th scope="row"><code>${escapeHtml(q.entity)}</code></th><td class="num">${escapeHtml(count(q.open))}</td><td class="num">${escapeHtml(count(q.condemned))}</td><td class="num">${escapeHtml(count(q.released))}</td><td>${reasons || '<span class="muted">–</span>'}</td></tr>`;
    })
    .join('');
  return `<table class="quarantine"><thead><tr><th>entity</th><th>open</th><th>condemned</th><th>released</th><th>reasons</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/** The whole dashboard for one answer of `GET /ops/data`. */
export function renderOpsView(data: OpsData): string {
  const marts = data.marts.map((m) => martRow(m, data)).join('\n');
  const runs = data.runs.map((r) => runRow(r, data.generatedAt)).join('\n');
  return `<p class="asof">As of ${time(data.generatedAt, data.generatedAt)} (<span title="${escapeHtml(data.generatedAt)}">${escapeHtml(shortInstant(data.generatedAt))}</span>); times in UTC.</p>
${summary(data)}
<section id="marts" aria-labelledby="marts-title">
<h2 id="marts-title">Marts</h2>
<table class="marts">
<thead><tr><th>mart</th><th>SLA</th><th>served version</th><th>age</th><th>newest source change</th><th>last build</th><th>failed checks</th><th>build time</th></tr></thead>
<tbody>
${marts}
</tbody>
</table>
</section>
<section id="runs" aria-labelledby="runs-title">
<h2 id="runs-title">Pipeline runs</h2>
${runChart(data.runs)}
${
  data.runs.length > 0
    ? `<table class="runs">
<thead><tr><th>run</th><th>status</th><th>started</th><th>duration</th><th>quarantined / condemned</th><th>failed checks</th><th>steps</th></tr></thead>
<tbody>
${runs}
</tbody>
</table>`
    : ''
}
</section>
<section id="quarantine" aria-labelledby="quarantine-title">
<h2 id="quarantine-title">Quarantine</h2>
${quarantineTable(data)}
</section>`;
}
