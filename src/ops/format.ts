import type { MartFreshness } from './freshness.js';
import type { MartLineage } from './lineage.js';
import type { RunSummary } from './runs.js';

/** Plain-text views of the operations data, for the CLI (no colour: output is often piped or logged). */

function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, cell.length);
  }
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** `1234567` -> `1,234,567`. */
function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** `1530` -> `1.5 s`; under a second in ms; over a minute in min and s. */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60_000);
  return `${m} min ${Math.round((ms - m * 60_000) / 1000)} s`;
}

/** `2026-11-21T06:00:00.000Z` -> `2026-11-21 06:00:00Z`. */
function instant(iso: string | null | undefined): string {
  if (!iso) return '-';
  return iso.replace('T', ' ').replace(/\.\d{3}Z$/, 'Z');
}

/** The run history: one header line per run, then its steps that did something and its failed checks. */
export function formatRuns(runs: readonly RunSummary[]): string {
  if (runs.length === 0) return 'no pipeline runs recorded\n';
  const out: string[] = [];
  for (const run of runs) {
    const failed = run.failedChecks.filter((c) => c.blocking).length;
    out.push(
      `${run.runId}  ${run.status.toUpperCase()}  started ${instant(run.startedAt)}  took ${duration(run.durationMs)}` +
        `  quarantined ${count(run.quarantined)}${run.condemned ? ` (${count(run.condemned)} condemned)` : ''}` +
        `  failed checks ${failed}${run.failedChecks.length > failed ? ` (+${run.failedChecks.length - failed} non-blocking)` : ''}`,
    );
    if (run.error) {
      out.push(
        `  stopped in ${run.error.step}: ${run.error.code}${run.error.causeCode ? ` (${run.error.causeCode})` : ''}`,
      );
    }
    const active = run.steps.filter((s) => s.status !== 'skipped');
    const rows = active.map((s) => [
      `  ${s.step}`,
      s.reused ? `${s.status} (reused ${s.runId ?? 'run'})` : s.status,
      `in ${count(s.rowsIn)}`,
      `out ${count(s.rowsOut)}`,
      s.quarantined ? `quarantined ${count(s.quarantined)}` : '',
      duration(s.durationMs),
    ]);
    if (rows.length > 0) out.push(table(rows));
    const skipped = run.steps.length - active.length;
    if (skipped > 0) out.push(`  (${skipped} step${skipped === 1 ? '' : 's'} skipped: nothing new)`);
    for (const c of run.failedChecks) {
      out.push(
        `  ${c.blocking ? 'FAILED' : 'warning'} ${c.step} ${c.name}${c.detail ? `: ${c.detail}` : ''}${c.blocking ? ' (blocked publication)' : ''}`,
      );
    }
    out.push('');
  }
  return `${out.join('\n')}`;
}

/** A Gold run's lineage as a tree: Gold run, Silver versions, Bronze runs, Bronze objects. */
export function formatLineage(l: MartLineage): string {
  const out: string[] = [];
  const passed = l.checks.filter((c) => c.passed).length;
  out.push(
    `gold ${l.mart} v${l.schemaVersion} run ${l.runId} (${l.status}${l.served ? ', served' : ''})` +
      `  built ${instant(l.builtAt)}  ${count(l.rowCount)} rows  checks ${passed}/${l.checks.length} passed`,
  );
  if (l.confirmedAsOf) {
    out.push(`  unchanged since: served again by a later run as of ${instant(l.confirmedAsOf)}`);
  }
  const newest = Object.entries(l.newestSourceChange).sort(([a], [b]) => a.localeCompare(b));
  if (newest.length > 0) {
    out.push(`  newest source change: ${newest.map(([s, at]) => `${s} ${instant(at)}`).join(', ')}`);
  }
  if (l.recordedIn === 'silver_history') {
    out.push('  (run built before lineage was recorded: rebuilt from the Silver versions it names)');
  }
  for (const s of l.silver) {
    const rows = s.rowCount === null ? '' : `  ${count(s.rowCount)} rows`;
    const ts = s.newestSourceTs ? `  newest change ${instant(s.newestSourceTs)}` : '';
    out.push(
      `  silver ${s.entity} ${s.runId ? `run ${s.runId}` : '(no version: read as empty)'}${rows}${ts}  <- ${s.bronzeRuns.length} bronze run${s.bronzeRuns.length === 1 ? '' : 's'}`,
    );
    for (const b of s.bronzeRuns) {
      const events =
        b.eventCount === null
          ? 'manifest unreadable'
          : `${count(b.eventCount)} event${b.eventCount === 1 ? '' : 's'}`;
      out.push(`    bronze ${b.key}  ${events}`);
      for (const o of b.objects) out.push(`      ${o.key}  ${count(o.size)} B`);
    }
  }
  return `${out.join('\n')}\n`;
}

/** Freshness and SLA state of every mart, one row each, then the reasons of those not on time. */
export function formatFreshness(marts: readonly MartFreshness[]): string {
  const rows: string[][] = [['MART', 'STATE', 'SLA', 'SERVED RUN', 'READY', 'NEWEST SOURCE CHANGE']];
  for (const f of marts) {
    rows.push([
      f.mart,
      f.sla.state.toUpperCase(),
      f.sla.description,
      f.served?.runId ?? '-',
      instant(f.served?.readyAt),
      f.newestSourceChange.map((s) => `${s.source} ${instant(s.at)}`).join(', ') || '-',
    ]);
  }
  const notes = marts
    .filter((f) => f.sla.state !== 'on_time')
    .map((f) => `${f.mart}: ${f.sla.reasons.join('; ')}`);
  return `${table(rows)}\n${notes.length > 0 ? `\n${notes.join('\n')}\n` : ''}`;
}
