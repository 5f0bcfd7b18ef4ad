import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidNameError } from '../../../src/lake/errors.js';
import {
  assertRunId,
  deterministicRunId,
  newRunId,
  RUN_ID_PATTERN,
  runIdTime,
  utcDate,
} from '../../../src/lake/run-id.js';

const AT = new Date('2026-11-21T06:15:00.000Z');
const dates = fc.date({
  min: new Date('2000-01-01T00:00:00Z'),
  max: new Date('2999-12-31T23:59:59Z'),
  noInvalidDate: true,
});

describe('newRunId', () => {
  it('is the UTC timestamp plus a short hex suffix', () => {
    const id = newRunId(AT);
    expect(id).toMatch(/^20261121T061500Z-[0-9a-f]{4}$/);
    expect(id).toMatch(RUN_ID_PATTERN);
    // Milliseconds are dropped, the zone is always UTC.
    expect(newRunId(new Date('2026-11-21T06:15:00.999Z')).slice(0, 17)).toBe('20261121T061500Z-');
    expect(newRunId(new Date('2026-11-21T11:45:00+05:30')).slice(0, 17)).toBe('20261121T061500Z-');
  });

  it('gives two runs of the same second different ids', () => {
    const ids = new Set(Array.from({ length: 50 }, () => newRunId(AT)));
    // 16 bits of randomness: 50 draws collide with probability ~2%; allow one collision.
    expect(ids.size).toBeGreaterThanOrEqual(49);
  });

  it('sorts by time: a later second always sorts after an earlier one (property)', () => {
    fc.assert(
      fc.property(dates, fc.integer({ min: 1, max: 10 * 365 * 86_400 }), (at, seconds) => {
        const later = new Date(at.getTime() + seconds * 1000);
        const a = newRunId(at);
        const b = newRunId(later);
        expect(a < b).toBe(true);
        expect([b, a].sort()).toEqual([a, b]);
      }),
      { numRuns: 500 },
    );
  });

  it('encodes its time, to the second (property)', () => {
    fc.assert(
      fc.property(dates, (at) => {
        expect(runIdTime(newRunId(at)).getTime()).toBe(Math.floor(at.getTime() / 1000) * 1000);
      }),
      { numRuns: 300 },
    );
    expect(runIdTime('20261121T061500Z-7f3a').toISOString()).toBe('2026-11-21T06:15:00.000Z');
  });
});

describe('deterministicRunId', () => {
  const parts = [
    'shardId-00000001700000000000-abcdef12',
    '100000000000000000017',
    '100000000000000000034',
  ] as const;

  it('is stable: the same batch always maps to the same id (pinned, so a deploy cannot change it)', () => {
    const id = deterministicRunId(AT, ...parts);
    expect(id).toBe('20261121T061500Z-ae1da8200a9c');
    expect(deterministicRunId(new Date(AT.getTime()), ...parts)).toBe(id);
    expect(assertRunId(id)).toBe(id);
  });

  it('changes with any input', () => {
    const id = deterministicRunId(AT, ...parts);
    expect(deterministicRunId(AT, parts[0], parts[1], '100000000000000000051')).not.toBe(id);
    expect(deterministicRunId(AT, parts[1], parts[0], parts[2])).not.toBe(id);
    expect(deterministicRunId(new Date('2026-11-21T06:15:01Z'), ...parts)).not.toBe(id);
    expect(deterministicRunId(AT, `${parts[0]}${parts[1]}`, parts[2])).not.toBe(id);
  });

  it('sorts by time like any run id', () => {
    expect(deterministicRunId(AT, 'z') < deterministicRunId(new Date('2026-11-21T06:15:01Z'), 'a')).toBe(
      true,
    );
  });
});

describe('assertRunId and utcDate', () => {
  it('accepts run ids and rejects anything else with INVALID_NAME', () => {
    expect(assertRunId('20261121T061500Z-7f3a')).toBe('20261121T061500Z-7f3a');
    for (const bad of [
      '',
      'latest',
      '20261121T061500Z',
      '20261121T061500Z-7f3',
      '20261121T061500Z-7F3A',
      '20261121T061500-7f3a',
      '2026-11-21T06:15:00Z-7f3a',
      '20261121T061500Z-7f3a/../x',
      `20261121T061500Z-${'a'.repeat(25)}`,
    ]) {
      expect(() => assertRunId(bad), bad).toThrow(InvalidNameError);
      expect(() => assertRunId(bad), bad).toThrow(expect.objectContaining({ code: 'INVALID_NAME' }));
    }
    expect(() => runIdTime('latest')).toThrow(InvalidNameError);
  });

  it('dates in UTC', () => {
    expect(utcDate(new Date('2026-11-21T23:30:00-05:00'))).toBe('2026-11-22');
    expect(utcDate(new Date('2026-11-22T00:00:00.000Z'))).toBe('2026-11-22');
    expect(utcDate(new Date('2026-11-21T23:59:59.999Z'))).toBe('2026-11-21');
  });
});
