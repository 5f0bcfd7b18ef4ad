import { createHmac } from 'node:crypto';
import type { Cell, Row } from '../adapters/query-engine/port.js';
import type { MartAccess, MaskKind } from './access.js';

/**
 * PII masking (`access.md`), pure functions of the clear value and the
 * per-stage secret, so every engine and the gateway produce the same output:
 *
 * - `partial`: email `j***@example.com` (first character of the local part and
 *   the domain), phone `***-***-1234` (the last 4 digits, only when the number
 *   has at least 7 digits); anything else, or a tag without a partial form, shows
 *   nothing (`***`).
 * - `hash`: HMAC-SHA256 of the UTF-8 text under the secret, lower-case hex. The
 *   same on Athena as `lower(to_hex(hmac_sha256(to_utf8(col), to_utf8(secret))))`,
 *   so masked values still join and group across engines.
 * - `redact`: null.
 */

/** What a partial mask shows when the value has no safe partial form. */
export const FULLY_MASKED = '***';

/** The fewest digits a phone number needs before its last 4 may be shown. */
const PHONE_MIN_DIGITS = 7;

/** Mask one clear value of a column tagged `piiTag` (`email`, `phone`, ...). */
export function maskValue(kind: MaskKind, piiTag: string | undefined, value: Cell, secret: string): Cell {
  if (kind === 'none' || value === null) return value;
  if (kind === 'redact') return null;
  if (typeof value === 'object') return null;
  const text = String(value);
  if (kind === 'hash') return hmacHex(secret, text);
  if (piiTag === 'email') return partialEmail(text);
  if (piiTag === 'phone') return partialPhone(text);
  return FULLY_MASKED;
}

/** HMAC-SHA256 of `text` (UTF-8) under `secret`, lower-case hex. */
export function hmacHex(secret: string, text: string): string {
  return createHmac('sha256', secret).update(text, 'utf8').digest('hex');
}

function partialEmail(text: string): string {
  const at = text.lastIndexOf('@');
  const local = at > 0 ? text.slice(0, at) : '';
  const domain = at > 0 ? text.slice(at + 1) : '';
  // One code point, so an astral first character is not split into a lone surrogate.
  const first = local.codePointAt(0);
  if (first === undefined || domain === '') return FULLY_MASKED;
  return `${String.fromCodePoint(first)}***@${domain}`;
}

function partialPhone(text: string): string {
  const digits = text.replace(/\D/g, '');
  if (digits.length < PHONE_MIN_DIGITS) return '***-***-****';
  return `***-***-${digits.slice(-4)}`;
}

/**
 * Apply a caller's masks to one result row (snake_case catalog names). Columns
 * the row does not carry are left out; the input row is never modified.
 */
export function maskRow(access: MartAccess, row: Row, secret: string): Row {
  if (access.masks.size === 0) return row;
  const out: Row = { ...row };
  for (const [name, kind] of access.masks) {
    if (!Object.hasOwn(out, name)) continue;
    const tag = access.mart.columns.find((c) => c.name === name)?.pii;
    out[name] = maskValue(kind, tag, out[name] ?? null, secret);
  }
  return out;
}
