/**
 * The shared base of every typed error in goldgate.
 *
 * Callers switch on `code` (stable, documented); `message` is safe to show a
 * caller; `cause` keeps the underlying error for logs only. Bucket paths, SQL
 * and secrets must never be put into `message`.
 */
export abstract class GoldgateError extends Error {
  /** Stable machine-readable code, e.g. `OBJECT_NOT_FOUND`. */
  abstract readonly code: string;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Narrow an unknown thrown value to a goldgate error. */
export function isGoldgateError(value: unknown): value is GoldgateError {
  return value instanceof GoldgateError;
}

/** A short description of any thrown value for logs (never for callers). */
export function describeError(value: unknown): { name: string; message: string; code?: string } {
  if (value instanceof GoldgateError) return { name: value.name, message: value.message, code: value.code };
  if (value instanceof Error) return { name: value.name, message: value.message };
  return { name: 'NonError', message: String(value) };
}
