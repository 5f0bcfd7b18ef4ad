import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Row } from '../../../src/adapters/query-engine/port.js';
import {
  csvField,
  csvHeader,
  csvLine,
  errorTrailer,
  exportBody,
  ndjsonLine,
  neutraliseFormula,
  restRow,
  restValue,
} from '../../../src/api/export.js';
import type { ColumnDef } from '../../../src/catalog/types.js';

const col = (
  name: string,
  apiType: ColumnDef['apiType'],
  sqlType: ColumnDef['sqlType'] = 'VARCHAR',
): ColumnDef => ({
  name,
  apiType,
  sqlType,
  nullable: true,
  description: `${name} column`,
});

const COLUMNS: ColumnDef[] = [
  col('id', 'ID'),
  col('name', 'String'),
  col('n', 'Int', 'BIGINT'),
  col('amount', 'Decimal', 'DECIMAL(18,2)'),
  col('at', 'DateTime', 'TIMESTAMP'),
  col('day', 'Date', 'DATE'),
  col('rate', 'Float', 'DOUBLE'),
];

/** A strict RFC 4180 reader of one line (no trailing CRLF): unquoted empty = null. */
function readLine(line: string): Array<string | null> {
  const out: Array<string | null> = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let value = '';
      i += 1;
      for (;;) {
        const quote = line.indexOf('"', i);
        if (quote < 0) throw new Error('unterminated');
        value += line.slice(i, quote);
        if (line[quote + 1] === '"') {
          value += '"';
          i = quote + 2;
        } else {
          i = quote + 1;
          break;
        }
      }
      out.push(value);
    } else {
      const end = line.indexOf(',', i) < 0 ? line.length : line.indexOf(',', i);
      const value = line.slice(i, end);
      if (/["\r\n]/.test(value)) throw new Error(`bare special character in ${JSON.stringify(value)}`);
      out.push(value === '' ? null : value);
      i = end;
    }
    if (i === line.length) return out;
    if (line[i] !== ',') throw new Error(`unexpected ${line[i]} at ${i}`);
    i += 1;
  }
}

describe('restValue', () => {
  it('turns engine 64-bit integers into numbers when safe, and keeps them as text beyond 2^53', () => {
    expect(restValue(col('n', 'Int'), '42')).toBe(42);
    expect(restValue(col('n', 'Int'), '-9007199254740991')).toBe(-9007199254740991);
    expect(restValue(col('n', 'Int'), '9007199254740993')).toBe('9007199254740993');
    expect(restValue(col('n', 'Int'), 7)).toBe(7);
  });

  it('shows instants as ISO-8601 UTC and leaves decimals and ids as text', () => {
    expect(restValue(col('at', 'DateTime'), '2026-11-21 06:15:00')).toBe('2026-11-21T06:15:00Z');
    expect(restValue(col('at', 'DateTime'), '2026-11-21 06:15:00.123')).toBe('2026-11-21T06:15:00.123Z');
    expect(restValue(col('at', 'DateTime'), '2026-11-21T06:15:00+05:30')).toBe('2026-11-21T06:15:00+05:30');
    expect(restValue(col('amount', 'Decimal'), '0.10')).toBe('0.10');
    expect(restValue(col('id', 'ID'), '460000000000000001')).toBe('460000000000000001');
    expect(restValue(col('day', 'Date'), '2026-11-21')).toBe('2026-11-21');
    expect(restValue(col('name', 'String'), undefined)).toBeNull();
  });

  it('restRow keeps exactly the asked columns, in their order', () => {
    const row: Row = { n: '3', id: '1', extra: 'x' };
    expect(Object.keys(restRow([col('n', 'Int'), col('id', 'ID')], row))).toEqual(['n', 'id']);
    expect(restRow([col('n', 'Int'), col('id', 'ID')], row)).toEqual({ n: 3, id: '1' });
  });
});

/** Text made of the characters CSV and spreadsheets treat specially, and some plain ones. */
const CSV_TEXT = fc.oneof(
  fc.string({
    maxLength: 20,
    unit: fc.constantFrom('a', 'Z', ',', '"', '\r', '\n', '=', '+', '-', '@', '\t', ' ', "'"),
  }),
  fc.string({ maxLength: 20, unit: 'binary' }),
);

describe('CSV writer', () => {
  it('quotes only when needed and tells an empty string from null', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('cr\r')).toBe('"cr\r"');
    expect(csvField('')).toBe('""');
    expect(csvField(null)).toBe('');
  });

  it('neutralises formula starts in text cells only', () => {
    for (const start of ['=', '+', '-', '@', '\t', '\r'])
      expect(neutraliseFormula(`${start}1+1`)).toBe(`'${start}1+1`);
    expect(neutraliseFormula('Acme')).toBe('Acme');
    expect(neutraliseFormula("'quoted")).toBe("'quoted");
    const line = csvLine(COLUMNS, {
      id: '-1',
      name: '=HYPERLINK("http://x")',
      n: '-5',
      amount: '-12.50',
      at: null,
      day: '2026-01-02',
      rate: -0.5,
    });
    expect(line).toBe(`'-1,"'=HYPERLINK(""http://x"")",-5,-12.50,,2026-01-02,-0.5\r\n`);
  });

  it('writes a header of column names and CRLF line ends', () => {
    expect(csvHeader(COLUMNS)).toBe('id,name,n,amount,at,day,rate\r\n');
  });

  it('any text survives the round trip through an RFC 4180 reader (formula prefix aside)', () => {
    fc.assert(
      fc.property(fc.array(fc.option(CSV_TEXT), { minLength: 2, maxLength: 2 }), ([a, b]) => {
        const line = csvLine([col('id', 'ID'), col('name', 'String')], { id: a ?? null, name: b ?? null });
        expect(line.endsWith('\r\n')).toBe(true);
        const fields = readLine(line.slice(0, -2));
        const want = (v: string | null | undefined) =>
          v === null || v === undefined ? null : neutraliseFormula(v);
        expect(fields).toEqual([want(a), want(b)]);
      }),
    );
  });

  it('the NDJSON line is one JSON object with API values', () => {
    const line = ndjsonLine(COLUMNS, {
      id: '1',
      name: 'a\nb',
      n: '2',
      amount: '1.00',
      at: '2026-01-01 00:00:00',
    });
    expect(line.endsWith('\n')).toBe(true);
    expect(line.slice(0, -1)).not.toContain('\n');
    expect(JSON.parse(line)).toEqual({
      id: '1',
      name: 'a\nb',
      n: 2,
      amount: '1.00',
      at: '2026-01-01T00:00:00Z',
      day: null,
      rate: null,
    });
  });

  it('error trailers say the export failed, in each format', () => {
    const failure = { code: 'ENGINE_TIMEOUT', message: 'query timed out, sorry' };
    expect(JSON.parse(errorTrailer('ndjson', failure))).toEqual({ error: failure });
    expect(errorTrailer('csv', failure)).toBe('#error,ENGINE_TIMEOUT,"query timed out, sorry"\r\n');
  });
});

/** A source of batches that records how it is driven. */
function source(batches: Row[][], failAt?: number) {
  const log = { nexts: 0, closed: false };
  async function* gen(): AsyncGenerator<Row[]> {
    try {
      for (const [i, batch] of batches.entries()) {
        if (i === failAt) throw new Error('engine exploded: SELECT * FROM secret_path');
        yield batch;
      }
    } finally {
      log.closed = true;
    }
  }
  const inner = gen();
  const iterator: AsyncIterator<Row[]> = {
    next: () => {
      log.nexts += 1;
      return inner.next();
    },
    return: () => inner.return(undefined),
  };
  return { iterator, log };
}

const ID = [col('id', 'ID')];
const batch = (from: number, n: number): Row[] =>
  Array.from({ length: n }, (_, i) => ({ id: String(from + i) }));

describe('exportBody', () => {
  it('writes every batch, in order, and closes the source at the end', async () => {
    const { iterator, log } = source([batch(0, 2), batch(2, 3)]);
    const first = await iterator.next();
    const chunks: string[] = [];
    for await (const chunk of exportBody('csv', ID, first, iterator, () => ({ code: 'X', message: 'x' }))) {
      chunks.push(chunk);
    }
    expect(chunks).toEqual(['id\r\n', '0\r\n1\r\n', '2\r\n3\r\n4\r\n']);
    expect(log.closed).toBe(true);
  });

  it('pulls a batch only when the consumer asks for the next chunk (backpressure)', async () => {
    const { iterator, log } = source([batch(0, 1), batch(1, 1), batch(2, 1), batch(3, 1)]);
    const first = await iterator.next();
    const body = exportBody('ndjson', ID, first, iterator, () => ({ code: 'X', message: 'x' }));
    expect(log.nexts).toBe(1);
    await body.next();
    expect(log.nexts).toBe(1);
    await body.next();
    expect(log.nexts).toBe(2);
    await body.next();
    expect(log.nexts).toBe(3);
  });

  it('closes the source when the consumer stops early (the caller went away)', async () => {
    const { iterator, log } = source([batch(0, 1), batch(1, 1), batch(2, 1)]);
    const first = await iterator.next();
    const body = exportBody('ndjson', ID, first, iterator, () => ({ code: 'X', message: 'x' }));
    await body.next();
    expect(log.closed).toBe(false);
    await body.return(undefined);
    expect(log.closed).toBe(true);
  });

  it('ends a failed export with one error line and no internal detail', async () => {
    for (const format of ['ndjson', 'csv'] as const) {
      const { iterator, log } = source([batch(0, 2), batch(2, 2), batch(4, 2)], 2);
      const first = await iterator.next();
      const seen: unknown[] = [];
      const chunks: string[] = [];
      const body = exportBody(format, ID, first, iterator, (error) => {
        seen.push(error);
        return { code: 'INTERNAL', message: 'Internal error' };
      });
      for await (const chunk of body) chunks.push(chunk);
      expect(seen).toHaveLength(1);
      expect(log.closed).toBe(true);
      const text = chunks.join('');
      expect(text).not.toContain('secret_path');
      const lines = text.split(format === 'csv' ? '\r\n' : '\n').filter((l) => l !== '');
      expect(lines.at(-1)).toBe(
        format === 'csv'
          ? '#error,INTERNAL,Internal error'
          : '{"error":{"code":"INTERNAL","message":"Internal error"}}',
      );
      expect(lines).toHaveLength(format === 'csv' ? 6 : 5);
    }
  });
});
