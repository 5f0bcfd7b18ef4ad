import { scriptJson } from '../static.js';
import type { OpsPageConfig } from './schema.js';

/**
 * The ops page's HTML shell and stylesheet. The shell holds no operations
 * data, only where to fetch it and, on a loopback `goldgate start`, the dev
 * token; the script (src/api/ops/client.ts) fetches `/ops/data` with a token
 * and renders it.
 */

/** Where the page and its files are served. */
export const OPS_PATHS = {
  page: '/ops',
  data: '/ops/data',
  script: '/ops/ops.js',
  styles: '/ops/ops.css',
} as const;

/**
 * The page's Content-Security-Policy: its own script and stylesheet only, no
 * inline script or style (charts are SVG elements styled by class), requests
 * to its own origin only.
 */
export const OPS_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/** The shell: a token form, a status line and the place the dashboard goes. */
export function renderOpsPage(config: OpsPageConfig): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>goldgate operations</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${OPS_PATHS.styles}">
</head>
<body>
<header>
<h1>goldgate operations</h1>
<button type="button" id="ops-refresh">Refresh</button>
<button type="button" id="ops-change-token">Change token</button>
</header>
<form id="ops-token-form" autocomplete="off" hidden>
<label for="ops-token">Bearer token with the <code>admin</code> or <code>ops</code> role
(<code>npx goldgate token --role ops</code>); kept in this tab only</label>
<input id="ops-token" name="token" type="password" spellcheck="false" required>
<button type="submit">Show</button>
</form>
<p id="ops-status" role="status"></p>
<main id="ops-view"></main>
<noscript>The ops page needs JavaScript. Its data is at ${OPS_PATHS.data} (send a Bearer token).</noscript>
<script type="application/json" id="ops-config">${scriptJson(config)}</script>
<script type="module" src="${OPS_PATHS.script}"></script>
</body>
</html>
`;
}

/** The page's stylesheet: SLA states and run statuses by colour, failed checks highlighted. */
export const OPS_CSS = `:root {
  --ok: #1a7f37; --ok-bg: #dafbe1;
  --warn: #9a6700; --warn-bg: #fff8c5;
  --bad: #cf222e; --bad-bg: #ffebe9;
  --grey: #59636e; --grey-bg: #eff2f5;
  --line: #d1d9e0;
  color-scheme: light;
}
* { box-sizing: border-box; }
body { margin: 0 1.5rem 2rem; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2328; background: #fff; }
header { display: flex; align-items: center; gap: 0.75rem; }
h1 { font-size: 1.35rem; margin: 1rem auto 0.5rem 0; }
h2 { font-size: 1.1rem; margin: 1.75rem 0 0.5rem; }
code { font: 12px/1.3 ui-monospace, SFMono-Regular, Menlo, monospace; }
button { font: inherit; padding: 0.25rem 0.75rem; border: 1px solid var(--line); border-radius: 6px; background: #f6f8fa; cursor: pointer; }
form { display: flex; flex-wrap: wrap; gap: 0.5rem; align-items: center; margin: 0.5rem 0; padding: 0.75rem; border: 1px solid var(--line); border-radius: 6px; background: #f6f8fa; }
form[hidden] { display: none; }
form label { flex-basis: 100%; }
form input { flex: 1; min-width: 20rem; font: 12px ui-monospace, monospace; padding: 0.3rem; }
#ops-status:empty { display: none; }
#ops-status { padding: 0.5rem 0.75rem; border-radius: 6px; background: var(--grey-bg); }
#ops-status.error { background: var(--bad-bg); color: var(--bad); font-weight: 600; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 0.4rem 0.6rem; border-bottom: 1px solid var(--line); }
thead th { font-size: 12px; text-transform: uppercase; letter-spacing: 0.03em; color: var(--grey); }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.muted { color: var(--grey); font-size: 12px; }
.ok { color: var(--ok); }
.note { color: var(--warn); font-size: 12px; }
.asof { color: var(--grey); margin: 0 0 0.5rem; }
ul.plain, ul.reasons, ul.summary { list-style: none; margin: 0; padding: 0; }
ul.reasons { font-size: 12px; color: var(--grey); max-width: 28rem; }
ul.summary { display: flex; flex-wrap: wrap; gap: 0.5rem; }
.badge { display: inline-block; padding: 0.05rem 0.5rem; border-radius: 999px; font-size: 12px; font-weight: 600; white-space: nowrap; }
.state-on_time, .run-succeeded, .step-published { background: var(--ok-bg); color: var(--ok); }
.state-late, .run-blocked { background: var(--warn-bg); color: var(--warn); }
.state-breached, .run-failed, .step-blocked { background: var(--bad-bg); color: var(--bad); }
.state-unknown, .step-skipped { background: var(--grey-bg); color: var(--grey); }
tr.mart > th { border-left: 6px solid var(--grey); }
tr.sla-on_time > th { border-left-color: var(--ok); }
tr.sla-late > th { border-left-color: var(--warn); }
tr.sla-breached > th { border-left-color: var(--bad); }
tr.sla-breached { background: #fff7f7; }
.failed-check { padding: 0.1rem 0.35rem; border-radius: 4px; margin-bottom: 0.2rem; }
.failed-check.blocking { background: var(--bad-bg); color: var(--bad); font-weight: 600; }
.failed-check.warning { background: var(--warn-bg); color: var(--warn); }
.failed-check .why { font-weight: 400; font-size: 12px; }
tr.has-condemned > th { color: var(--bad); }
tr.has-open > th { color: var(--warn); }
table.steps { margin-top: 0.35rem; font-size: 12px; }
table.steps td, table.steps th { padding: 0.15rem 0.4rem; }
svg .spark-line { fill: none; stroke: var(--grey); stroke-width: 1.5; }
svg .spark-dot.flag-ok { fill: var(--ok); }
svg .spark-dot.flag-warn { fill: var(--warn); }
svg .spark-dot.flag-bad { fill: var(--bad); }
svg .bar.run-succeeded { fill: var(--ok); }
svg .bar.run-blocked { fill: var(--warn); }
svg .bar.run-failed { fill: var(--bad); }
svg .axis { stroke: var(--line); }
svg .axis-label { fill: var(--grey); font-size: 11px; }
svg .axis-label.end { text-anchor: end; }
svg.run-chart { display: block; margin-bottom: 0.75rem; max-width: 100%; }
`;
