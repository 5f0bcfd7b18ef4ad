import type { Cell, ColumnMeta } from '../../../src/adapters/query-engine/port.js';

/**
 * How the endpoint shows DuckDB results as Athena does: ColumnInfo with
 * Trino's type names and precision/scale, and every value as the text Athena
 * puts in `VarCharValue` (Trino's rendering: `TIMESTAMP` with milliseconds,
 * `DOUBLE` as Java prints it, arrays as `[a, b]`, rows and maps as `{k=v}`).
 */

/** One ColumnInfo entry, as in the fixture's GetQueryResults. */
export interface WireColumnInfo {
  readonly CatalogName: string;
  readonly SchemaName: string;
  readonly TableName: string;
  readonly Name: string;
  readonly Label: string;
  readonly Type: string;
  readonly Precision: number;
  readonly Scale: number;
  readonly Nullable: 'UNKNOWN';
  readonly CaseSensitive: boolean;
}

const SIMPLE: Readonly<Record<string, readonly [type: string, precision: number]>> = {
  BOOLEAN: ['boolean', 0],
  TINYINT: ['tinyint', 3],
  SMALLINT: ['smallint', 5],
  INTEGER: ['integer', 10],
  BIGINT: ['bigint', 19],
  // Trino has no 128-bit integer; DuckDB's sum(BIGINT) is one, Trino's is bigint.
  HUGEINT: ['bigint', 19],
  FLOAT: ['real', 24],
  DOUBLE: ['double', 53],
  VARCHAR: ['varchar', 2_147_483_647],
  DATE: ['date', 0],
  TIMESTAMP: ['timestamp', 3],
  'TIMESTAMP WITH TIME ZONE': ['timestamp with time zone', 3],
  TIME: ['time', 3],
  BLOB: ['varbinary', 2_147_483_647],
  UUID: ['uuid', 0],
  INTERVAL: ['interval day to second', 0],
  NULL: ['unknown', 0],
  '"NULL"': ['unknown', 0],
};

/** The Athena type of a DuckDB column type, with its precision and scale. */
export function athenaType(sqlType: string): { type: string; precision: number; scale: number } {
  const decimal = /^DECIMAL\((\d+),\s*(\d+)\)$/.exec(sqlType);
  if (decimal) return { type: 'decimal', precision: Number(decimal[1]), scale: Number(decimal[2]) };
  const simple = SIMPLE[sqlType];
  if (simple) return { type: simple[0], precision: simple[1], scale: 0 };
  if (sqlType.endsWith('[]')) return { type: 'array', precision: 0, scale: 0 };
  if (sqlType.startsWith('STRUCT')) return { type: 'row', precision: 0, scale: 0 };
  if (sqlType.startsWith('MAP')) return { type: 'map', precision: 0, scale: 0 };
  return { type: 'varchar', precision: 2_147_483_647, scale: 0 };
}

/** ColumnInfo for one result column. */
export function columnInfo(column: ColumnMeta): WireColumnInfo {
  const { type, precision, scale } = athenaType(column.sqlType);
  return {
    CatalogName: 'hive',
    SchemaName: '',
    TableName: '',
    Name: column.name,
    Label: column.name,
    Type: type,
    Precision: precision,
    Scale: scale,
    Nullable: 'UNKNOWN',
    CaseSensitive: type === 'varchar',
  };
}

/** A number as Java's Double.toString prints it (Trino's DOUBLE text). */
export function javaDouble(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (!Number.isFinite(n)) return n > 0 ? 'Infinity' : '-Infinity';
  if (n === 0) return Object.is(n, -0) ? '-0.0' : '0.0';
  const abs = Math.abs(n);
  if (abs >= 1e-3 && abs < 1e7) {
    const text = String(n);
    return text.includes('.') ? text : `${text}.0`;
  }
  const [mantissa = '', exponent = '0'] = n.toExponential().split('e');
  const m = mantissa.includes('.') ? mantissa : `${mantissa}.0`;
  return `${m}E${Number(exponent)}`;
}

/** `HH:MM:SS[.ffffff]` with exactly three fractional digits. */
function millis(time: string): string {
  const [whole = '', fraction = ''] = time.split('.');
  return `${whole}.${fraction.padEnd(3, '0').slice(0, 3)}`;
}

function nested(cell: Cell): string {
  if (cell === null) return 'null';
  if (Array.isArray(cell)) return `[${cell.map(nested).join(', ')}]`;
  if (typeof cell === 'object') {
    return `{${Object.entries(cell)
      .map(([k, v]) => `${k}=${nested(v)}`)
      .join(', ')}}`;
  }
  return String(cell);
}

/** The VarCharValue of a cell (`undefined` for NULL: Athena sends an empty Datum). */
export function renderCell(cell: Cell, sqlType: string): string | undefined {
  if (cell === null) return undefined;
  const { type } = athenaType(sqlType);
  switch (type) {
    case 'double':
    case 'real':
      return typeof cell === 'number' ? javaDouble(cell) : String(cell);
    case 'timestamp': {
      const [date = '', time = ''] = String(cell).split(' ');
      return `${date} ${millis(time)}`;
    }
    case 'timestamp with time zone': {
      const m = /^(\S+) ([\d:.]+)([+-]\d\d(?::?\d\d)?)$/.exec(String(cell));
      if (!m) return String(cell);
      const zone = m[3] === '+00' || m[3] === '+00:00' ? 'UTC' : m[3];
      return `${m[1]} ${millis(m[2] as string)} ${zone}`;
    }
    case 'time':
      return millis(String(cell));
    case 'map':
      // DuckDB gives a map as [{key, value}, ...].
      return Array.isArray(cell)
        ? `{${cell
            .map((e) =>
              e && typeof e === 'object' && !Array.isArray(e)
                ? `${nested(e.key ?? null)}=${nested(e.value ?? null)}`
                : '',
            )
            .join(', ')}}`
        : nested(cell);
    default:
      return typeof cell === 'object' ? nested(cell) : String(cell);
  }
}
