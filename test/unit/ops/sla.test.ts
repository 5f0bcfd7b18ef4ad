import { describe, expect, it } from 'vitest';
import { evaluateSla, type MartFacts, type PublishedVersion } from '../../../src/ops/sla.js';
import type { DeadlineSla, MaxAgeSla } from '../../../src/ops/sla-config.js';
import { zonedInstant } from '../../../src/ops/time.js';

/**
 * SLAs judged with a controlled clock, in IST (UTC+05:30), where a local day
 * starts at 18:30 UTC of the previous UTC day: every case that crosses local
 * midnight would be judged on the wrong day by UTC arithmetic.
 */
const IST = 'Asia/Kolkata';
/** An instant given as IST wall time. */
const ist = (date: string, time: string): Date => zonedInstant(date, time, IST);

let runs = 0;
/** A published version built and ready at IST wall times. */
function version(built: [string, string], ready: [string, string]): PublishedVersion {
  runs += 1;
  return { runId: `run-${runs}`, builtAt: ist(...built), readyAt: ist(...ready) };
}

function facts(
  served: PublishedVersion | undefined,
  extra: { earlier?: PublishedVersion[]; sources?: Record<string, Date> } = {},
): MartFacts {
  return { mart: 'probe', served, earlier: extra.earlier ?? [], newestSourceChange: extra.sources ?? {} };
}

describe('a deadline SLA: daily by 06:00 Asia/Kolkata', () => {
  const sla: DeadlineSla = { kind: 'deadline', at: '06:00', timeZone: IST, graceMinutes: 0 };
  const withGrace: DeadlineSla = { ...sla, graceMinutes: 30 };

  it('is on time when a version built after local midnight was ready by 06:00', () => {
    // Built 00:15 IST on the 10th = 18:45 UTC on the 9th.
    const served = version(['2026-03-10', '00:15'], ['2026-03-10', '00:40']);
    const verdict = evaluateSla(sla, facts(served), ist('2026-03-10', '06:30'));
    expect(verdict.state).toBe('on_time');
    expect(verdict.dueAt?.toISOString()).toBe('2026-03-10T00:30:00.000Z');
    expect(verdict.deliveredAt).toEqual(served.readyAt);
    expect(verdict.reasons.join()).toContain('2026-03-10');
  });

  it('does not count a version built before local midnight, though it is the same UTC day', () => {
    // Built 23:45 IST on the 9th = 18:15 UTC on the 9th; the on-time version above was 18:45 UTC on the 9th too.
    const served = version(['2026-03-09', '23:45'], ['2026-03-09', '23:55']);
    const verdict = evaluateSla(sla, facts(served), ist('2026-03-10', '06:30'));
    expect(verdict.state).toBe('breached');
    expect(verdict.breachedSince?.toISOString()).toBe('2026-03-10T00:30:00.000Z');
  });

  it("before today's deadline, judges yesterday's delivery", () => {
    const yesterdayOnTime = version(['2026-03-09', '00:15'], ['2026-03-09', '00:30']);
    expect(evaluateSla(sla, facts(yesterdayOnTime), ist('2026-03-10', '03:00')).state).toBe('on_time');
    const yesterdayMissing = version(['2026-03-08', '01:00'], ['2026-03-08', '01:10']);
    const stale = evaluateSla(sla, facts(yesterdayMissing), ist('2026-03-10', '03:00'));
    expect(stale.state).toBe('breached');
    expect(stale.dueAt?.toISOString()).toBe(ist('2026-03-09', '06:00').toISOString());
  });

  it("is on time before the deadline once today's version is in", () => {
    const served = version(['2026-03-10', '00:10'], ['2026-03-10', '00:20']);
    const verdict = evaluateSla(sla, facts(served), ist('2026-03-10', '01:00'));
    expect(verdict.state).toBe('on_time');
    expect(verdict.dueAt?.toISOString()).toBe(ist('2026-03-10', '06:00').toISOString());
  });

  it('is late within the grace period, then breached, then late once delivered after the deadline, then on time the next day', () => {
    const old = version(['2026-03-09', '00:15'], ['2026-03-09', '00:30']);
    const graceLate = evaluateSla(withGrace, facts(old), ist('2026-03-10', '06:10'));
    expect(graceLate.state).toBe('late');
    expect(graceLate.reasons.join()).toContain('grace until 2026-03-10 06:30');

    const breached = evaluateSla(withGrace, facts(old), ist('2026-03-10', '06:31'));
    expect(breached.state).toBe('breached');
    expect(breached.breachedSince?.toISOString()).toBe(ist('2026-03-10', '06:30').toISOString());

    // Recovered: today's version arrives at 07:00, an hour after the deadline.
    const recovered = version(['2026-03-10', '06:50'], ['2026-03-10', '07:00']);
    const late = evaluateSla(withGrace, facts(recovered, { earlier: [old] }), ist('2026-03-10', '07:05'));
    expect(late.state).toBe('late');
    expect(late.deliveredAt).toEqual(recovered.readyAt);
    expect(late.reasons.join()).toContain('60 min after the 06:00 deadline');

    // Still the last delivery at 03:00 the next day; the next day's on-time version makes it on time.
    expect(evaluateSla(withGrace, facts(recovered), ist('2026-03-11', '03:00')).state).toBe('late');
    const nextDay = version(['2026-03-11', '00:15'], ['2026-03-11', '00:25']);
    expect(evaluateSla(withGrace, facts(nextDay), ist('2026-03-11', '06:01')).state).toBe('on_time');
  });

  it('judges the first version that covered the day, not the one served now', () => {
    // Rebuilt every hour: at 10:00 the served version was ready at 09:05, but the day was covered at 00:20.
    const early = version(['2026-03-10', '00:10'], ['2026-03-10', '00:20']);
    const served = version(['2026-03-10', '09:00'], ['2026-03-10', '09:05']);
    const now = ist('2026-03-10', '10:00');
    const verdict = evaluateSla(sla, facts(served, { earlier: [early] }), now);
    expect(verdict.state).toBe('on_time');
    expect(verdict.deliveredAt).toEqual(early.readyAt);
    // Without that history the same served version reads as delivered late.
    expect(evaluateSla(sla, facts(served), now).state).toBe('late');
  });

  it('is breached when a rollback serves a version from before the day, whatever came earlier', () => {
    const covering = version(['2026-03-10', '00:10'], ['2026-03-10', '00:20']);
    const rolledBack = version(['2026-03-09', '22:00'], ['2026-03-10', '08:00']);
    const verdict = evaluateSla(sla, facts(rolledBack, { earlier: [covering] }), ist('2026-03-10', '08:05'));
    expect(verdict.state).toBe('breached');
  });

  it('is unknown when the mart was never published', () => {
    const verdict = evaluateSla(sla, facts(undefined), ist('2026-03-10', '08:00'));
    expect(verdict).toMatchObject({ state: 'unknown', reasons: ['never published'] });
  });
});

describe('a max-age SLA: at most 60 minutes, 15 minutes grace', () => {
  const sla: MaxAgeSla = { kind: 'max_age', maxAgeMinutes: 60, basis: 'publish', graceMinutes: 15 };

  it('goes on time, late, breached and back to on time across local midnight', () => {
    // Published 23:40 IST on the 9th; the clock walks past midnight IST (18:30 UTC).
    const before = version(['2026-03-09', '23:35'], ['2026-03-09', '23:40']);
    const onTime = evaluateSla(sla, facts(before), ist('2026-03-10', '00:30'));
    expect(onTime).toMatchObject({ state: 'on_time', ageSeconds: 50 * 60 });

    const late = evaluateSla(sla, facts(before), ist('2026-03-10', '00:50'));
    expect(late).toMatchObject({ state: 'late', ageSeconds: 70 * 60 });

    const breached = evaluateSla(sla, facts(before), ist('2026-03-10', '01:10'));
    expect(breached.state).toBe('breached');
    expect(breached.breachedSince?.toISOString()).toBe(ist('2026-03-10', '00:55').toISOString());

    const after = version(['2026-03-10', '01:12'], ['2026-03-10', '01:15']);
    expect(evaluateSla(sla, facts(after, { earlier: [before] }), ist('2026-03-10', '01:20'))).toMatchObject({
      state: 'on_time',
      ageSeconds: 5 * 60,
    });
  });

  it('measured from the newest source change, takes the newest over all sources', () => {
    const bySource: MaxAgeSla = { ...sla, basis: 'source' };
    const served = version(['2026-03-10', '01:00'], ['2026-03-10', '01:05']);
    const sources = { zoho_books: ist('2026-03-09', '23:00'), dynamodb: ist('2026-03-10', '00:45') };
    const verdict = evaluateSla(bySource, facts(served, { sources }), ist('2026-03-10', '01:30'));
    expect(verdict).toMatchObject({ state: 'on_time', ageSeconds: 45 * 60 });
    const stale = evaluateSla(bySource, facts(served, { sources }), ist('2026-03-10', '02:01'));
    expect(stale.state).toBe('breached');
    expect(evaluateSla(bySource, facts(served), ist('2026-03-10', '01:30')).state).toBe('unknown');
  });
});
