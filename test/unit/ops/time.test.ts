import { describe, expect, it } from 'vitest';
import {
  addDays,
  isClockTime,
  isTimeZone,
  localDate,
  localDateTime,
  zonedInstant,
} from '../../../src/ops/time.js';

describe('zoned time on Intl', () => {
  it('places a local wall time of a non-UTC zone on the UTC line', () => {
    // IST is UTC+05:30 all year: 06:00 IST is 00:30 UTC the same day, midnight IST is 18:30 UTC the day before.
    expect(zonedInstant('2026-03-10', '06:00', 'Asia/Kolkata').toISOString()).toBe(
      '2026-03-10T00:30:00.000Z',
    );
    expect(zonedInstant('2026-03-10', '00:00', 'Asia/Kolkata').toISOString()).toBe(
      '2026-03-09T18:30:00.000Z',
    );
    expect(zonedInstant('2026-01-01', '00:00', 'UTC').toISOString()).toBe('2026-01-01T00:00:00.000Z');
  });

  it('gives the local date across midnight', () => {
    expect(localDate(new Date('2026-03-09T18:29:59Z'), 'Asia/Kolkata')).toBe('2026-03-09');
    expect(localDate(new Date('2026-03-09T18:30:00Z'), 'Asia/Kolkata')).toBe('2026-03-10');
    expect(localDate(new Date('2026-03-10T03:00:00Z'), 'America/Los_Angeles')).toBe('2026-03-09');
    expect(localDateTime(new Date('2026-03-09T18:45:00Z'), 'Asia/Kolkata')).toBe('2026-03-10 00:15');
  });

  it('follows daylight saving: offsets change, skipped times move past the jump, repeated ones take the first', () => {
    // New York: EST (-5) until 2026-03-08 02:00, EDT (-4) after; back to EST on 2026-11-01 at 02:00.
    expect(zonedInstant('2026-03-07', '06:00', 'America/New_York').toISOString()).toBe(
      '2026-03-07T11:00:00.000Z',
    );
    expect(zonedInstant('2026-03-09', '06:00', 'America/New_York').toISOString()).toBe(
      '2026-03-09T10:00:00.000Z',
    );
    expect(zonedInstant('2026-03-08', '02:30', 'America/New_York').toISOString()).toBe(
      '2026-03-08T07:30:00.000Z',
    );
    expect(zonedInstant('2026-11-01', '01:30', 'America/New_York').toISOString()).toBe(
      '2026-11-01T05:30:00.000Z',
    );
  });

  it('adds calendar days over month and year ends', () => {
    expect(addDays('2026-02-28', 1)).toBe('2026-03-01');
    expect(addDays('2024-02-28', 1)).toBe('2024-02-29');
    expect(addDays('2026-01-01', -1)).toBe('2025-12-31');
  });

  it('validates zones and clock times', () => {
    expect(isTimeZone('Asia/Kolkata')).toBe(true);
    expect(isTimeZone('Mars/Olympus')).toBe(false);
    expect(isClockTime('06:00')).toBe(true);
    expect(isClockTime('23:59')).toBe(true);
    expect(isClockTime('24:00')).toBe(false);
    expect(isClockTime('6:00')).toBe(false);
  });
});
