import { flat } from './ids.js';

/**
 * Time helpers of the synthetic company. Everything is integer milliseconds
 * since the epoch (UTC) or whole days: no local time zone of the machine ever
 * leaks in, so the same seed gives the same bytes everywhere.
 *
 * Zoho's organisation runs on India time (`+0530`): document dates (`date`,
 * `due_date`, `start_date`) are days of that calendar and timestamps carry
 * that offset, as in the docs examples.
 */

export const SECOND_MS = 1000;
export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

/** +05:30, the organisation's offset. */
const ZOHO_OFFSET_MS = 330 * MINUTE_MS;

/** Zoho's timestamp style: wall-clock time at `+0530`, whole seconds. */
export function zohoTimestamp(ms: number): string {
  return flat(`${new Date(floorSecond(ms) + ZOHO_OFFSET_MS).toISOString().slice(0, 19)}+0530`);
}

const TWO_DIGITS = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, '0'));
const THREE_DIGITS = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'));
let cachedDay = Number.NaN;
let cachedDayText = '';

/**
 * A UTC ISO instant with milliseconds (the DynamoDB items' and the history's
 * style), as `Date#toISOString` writes it. Formatted by hand with the day
 * cached: it runs once per stream record.
 */
export function isoUtc(ms: number): string {
  if (!Number.isInteger(ms) || ms < 0 || ms >= 253_402_300_800_000) return new Date(ms).toISOString();
  const day = Math.floor(ms / DAY_MS);
  if (day !== cachedDay) {
    cachedDay = day;
    cachedDayText = new Date(day * DAY_MS).toISOString().slice(0, 11);
  }
  let rest = ms - day * DAY_MS;
  const hours = Math.floor(rest / HOUR_MS);
  rest -= hours * HOUR_MS;
  const minutes = Math.floor(rest / MINUTE_MS);
  rest -= minutes * MINUTE_MS;
  const seconds = Math.floor(rest / SECOND_MS);
  return flat(
    `${cachedDayText}${TWO_DIGITS[hours]}:${TWO_DIGITS[minutes]}:${TWO_DIGITS[seconds]}.${THREE_DIGITS[rest - seconds * SECOND_MS]}Z`,
  );
}

/** Round down to a whole second: Zoho keeps no milliseconds. */
export function floorSecond(ms: number): number {
  return Math.floor(ms / SECOND_MS) * SECOND_MS;
}

/** The organisation's calendar day (days since 1970-01-01) at an instant. */
export function zohoDay(ms: number): number {
  return Math.floor((ms + ZOHO_OFFSET_MS) / DAY_MS);
}

/** The instant of `minute` minutes after midnight of a Zoho calendar day. */
export function zohoDayAt(day: number, minute: number): number {
  return day * DAY_MS + minute * MINUTE_MS - ZOHO_OFFSET_MS;
}

/** `YYYY-MM-DD` of a day number. */
export function dayText(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}

/** The day `months` calendar months after `day`, clamped to the month's end (Jan 31 + 1 month = Feb 28/29). */
export function addMonths(day: number, months: number): number {
  const at = new Date(day * DAY_MS);
  const y = at.getUTCFullYear();
  const m = at.getUTCMonth() + months;
  const d = at.getUTCDate();
  const lastDay = new Date(Date.UTC(y, m + 1, 0)).getUTCDate();
  return Math.floor(Date.UTC(y, m, Math.min(d, lastDay)) / DAY_MS);
}

/** Months between the months of two instants (UTC), e.g. for the exchange-rate table. */
export function monthIndex(fromMs: number, ms: number): number {
  const a = new Date(fromMs);
  const b = new Date(ms);
  return (b.getUTCFullYear() - a.getUTCFullYear()) * 12 + b.getUTCMonth() - a.getUTCMonth();
}

/** Day of the week of a day number, 0 = Sunday. */
export function weekday(day: number): number {
  // 1970-01-01 was a Thursday.
  return (day + 4) % 7;
}
