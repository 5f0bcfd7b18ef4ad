import { readFileSync } from 'node:fs';
import type { ColumnInfo } from '@aws-sdk/client-athena';
import { describe, expect, it } from 'vitest';
import { cellConverter, columnMeta } from '../../../src/adapters/query-engine/athena.js';
import type { Cell } from '../../../src/adapters/query-engine/port.js';
import { columnInfo, javaDouble, renderCell } from '../../support/athena-local/render.js';
import { fixturesDir } from '../../support/fixtures.js';

const convert = (type: string, text: string, extra: Partial<ColumnInfo> = {}): Cell =>
  cellConverter({ Name: 'c', Type: type, ...extra })(text);

describe('Athena ColumnInfo to the port', () => {
  it('reads the column types and values of the captured GetQueryResults', () => {
    const capture = JSON.parse(
      readFileSync(new URL('moto-5.2.1_athena_wire_capture.json', fixturesDir('athena')), 'utf8'),
    ) as {
      GetQueryResults: {
        response: {
          body: {
            ResultSet: {
              Rows: Array<{ Data: Array<{ VarCharValue?: string }> }>;
              ResultSetMetadata: { ColumnInfo: ColumnInfo[] };
            };
          };
        };
      };
    };
    const { Rows, ResultSetMetadata } = capture.GetQueryResults.response.body.ResultSet;
    const infos = ResultSetMetadata.ColumnInfo;
    expect(infos.map(columnMeta)).toEqual([
      { name: 'customer_id', sqlType: 'VARCHAR' },
      { name: 'mrr', sqlType: 'DECIMAL(18,2)' },
    ]);
    const data = Rows[1]?.Data ?? [];
    expect(infos.map((info, i) => cellConverter(info)(data[i]?.VarCharValue ?? ''))).toEqual([
      'c1',
      '100.50',
    ]);
  });

  it('spells types as the embedded engine does', () => {
    const meta = (Type: string, extra: Partial<ColumnInfo> = {}) =>
      columnMeta({ Name: 'c', Type, ...extra }).sqlType;
    expect(meta('integer')).toBe('INTEGER');
    expect(meta('real')).toBe('FLOAT');
    expect(meta('decimal', { Precision: 38, Scale: 6 })).toBe('DECIMAL(38,6)');
    expect(meta('decimal(10,3)')).toBe('DECIMAL(10,3)');
    expect(meta('varchar(12)')).toBe('VARCHAR');
    expect(meta('char', { Precision: 3 })).toBe('CHAR(3)');
    expect(meta('timestamp with time zone')).toBe('TIMESTAMP WITH TIME ZONE');
    expect(meta('varbinary')).toBe('BLOB');
    expect(meta('unknown')).toBe('NULL');
    expect(meta('ipaddress')).toBe('IPADDRESS');
  });

  it('converts text to cells: exact where JavaScript numbers are not', () => {
    expect(convert('bigint', '9007199254740993')).toBe('9007199254740993');
    expect(convert('decimal', '-0.10', { Precision: 18, Scale: 2 })).toBe('-0.10');
    expect(convert('integer', '-7')).toBe(-7);
    expect(convert('double', '1.0E21')).toBe(1e21);
    expect(convert('double', 'NaN')).toBe('NaN');
    expect(convert('boolean', 'false')).toBe(false);
    expect(convert('date', '2026-01-02')).toBe('2026-01-02');
    expect(convert('timestamp', '2026-03-04 05:06:07.000')).toBe('2026-03-04 05:06:07');
    expect(convert('timestamp', '2026-03-04 05:06:07.120')).toBe('2026-03-04 05:06:07.12');
    expect(convert('timestamp', '2026-03-04 05:06:07.123')).toBe('2026-03-04 05:06:07.123');
    expect(convert('time', '05:06:07.500')).toBe('05:06:07.5');
    expect(convert('array', '[a, b]')).toBe('[a, b]');
  });

  it('reads back what the local endpoint renders, for every mart column type', () => {
    const samples: Array<[sqlType: string, cell: Cell]> = [
      ['BIGINT', '-9223372036854775808'],
      ['INTEGER', 2147483647],
      ['DOUBLE', 0.1],
      ['DOUBLE', 12345678.9],
      ['DOUBLE', -1e-7],
      ['DECIMAL(18,2)', '1234567890123456.78'],
      ['BOOLEAN', true],
      ['DATE', '2026-02-28'],
      ['TIMESTAMP', '2026-02-28 23:59:59.999'],
      ['TIMESTAMP', '2026-02-28 00:00:00'],
      ['VARCHAR', 'naïve, "quoted" \u2603'],
    ];
    for (const [sqlType, cell] of samples) {
      const info = columnInfo({ name: 'c', sqlType });
      expect(columnMeta(info).sqlType).toBe(sqlType);
      expect(cellConverter(info)(renderCell(cell, sqlType) as string)).toEqual(cell);
    }
  });

  it('prints doubles as Trino (Java) does', () => {
    expect(javaDouble(1)).toBe('1.0');
    expect(javaDouble(1.5)).toBe('1.5');
    expect(javaDouble(1e7)).toBe('1.0E7');
    expect(javaDouble(12345678.9)).toBe('1.23456789E7');
    expect(javaDouble(0.0001)).toBe('1.0E-4');
  });
});
