import type { ApiType, ColumnDef } from '../catalog/types.js';
import { BadUserInputError } from './errors.js';

const PATTERNS: Partial<Record<ApiType, RegExp>> = {
  Decimal: /^-?\d{1,16}(\.\d{1,6})?$/,
  Date: /^\d{4}-\d{2}-\d{2}$/,
  DateTime: /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:?\d{2})?$/,
};

/**
 * Check a caller's filter value against its column's API type and return the
 * text to bind. Binding still happens as a parameter; this only gives a clear
 * error instead of an engine cast failure.
 */
export function bindableValue(column: ColumnDef, value: unknown): string | number | boolean {
  const fail = (): never => {
    throw new BadUserInputError(`invalid value for ${column.name}: expected ${column.apiType}`);
  };
  switch (column.apiType) {
    case 'Int':
      return typeof value === 'number' && Number.isSafeInteger(value) ? value : fail();
    case 'Float':
      return typeof value === 'number' && Number.isFinite(value) ? value : fail();
    case 'Boolean':
      return typeof value === 'boolean' ? value : fail();
    case 'ID':
    case 'String':
      return typeof value === 'string' && value.length <= 1000 ? value : fail();
    default: {
      const pattern = PATTERNS[column.apiType];
      if (typeof value !== 'string' || !pattern?.test(value)) return fail();
      if (column.apiType === 'Date' && !isCalendarDate(value)) return fail();
      return value;
    }
  }
}

/** `2025-02-30` matches the pattern but is no day; Date.parse would roll it over to March. */
function isCalendarDate(value: string): boolean {
  const [y, m, d] = value.split('-').map(Number);
  if (y === undefined || m === undefined || d === undefined) return false;
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}
