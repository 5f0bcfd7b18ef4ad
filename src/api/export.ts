import type { Cell, Row } from '../adapters/query-engine/port.js';
import type { ColumnDef } from '../catalog/types.js';

/**
 * How rows leave the REST API: the JSON value of each cell, and the NDJSON
 * and CSV writers of streamed exports.
 *
 * Values: ids and exact decimals are strings; Int columns are numbers (an
 * engine's 64-bit integer arrives as text and becomes a number when it is a
 * safe integer, else stays text); Date is `YYYY-MM-DD`; DateTime is an ISO-8601
 * UTC instant (`2026-11-21T06:15:00Z`), as in GraphQL.
 *
 * CSV (RFC 4180): CRLF line ends, a header row of column names, fields quoted
 * when they hold a comma, a double quote, CR or LF (quotes doubled inside).
 * A null is an empty field; an empty string is `""`, so the two stay apart.
 * Spreadsheet formula injection: a text cell (String or ID column) that starts
 * with `=`, `+`, `-`, `@`, a tab or a CR is written with a single quote in
 * front (`'=1+1`), so Excel, Sheets and LibreOffice show it as text instead of
 * running it. Numbers, decimals and dates are never prefixed (`-12.50` stays a
 * number). A consumer that needs the exact text strips that one leading quote
 * from text cells that start with `'` followed by one of those characters.
 *
 * Order: an export given `sort` comes in that order (the engine sorts the
 * whole result first); without it, an export promises no order, so that the
 * engine may stream it without a sort.
 *
 * A failure after the first byte cannot change the HTTP status, so the stream
 * ends with a last line saying so instead: for NDJSON an object
 * `{"error":{"code":"...","message":"..."}}` (never a row: no mart has a column
 * named `error`), for CSV a line `#error,<CODE>,<message>` (a row that does not
 * fit the header: strict CSV readers stop on it, and a person sees it). An
 * export without such a line is complete.
 */

/** `2026-11-21 06:15:00` (engines) -> `2026-11-21T06:15:00Z`; text with an offset keeps it. */
function isoInstant(text: string): string {
  const t = text.replace(' ', 'T');
  return /(Z|[+-]\d{2}:?\d{2})$/.test(t.slice(19)) ? t : `${t}Z`;
}

/** One cell as the API shows it, per its column's API type. */
export function restValue(def: ColumnDef, value: Cell | undefined): Cell {
  if (value === undefined || value === null) return null;
  switch (def.apiType) {
    case 'Int':
      if (typeof value === 'string' && /^-?\d+$/.test(value)) {
        const n = Number(value);
        return Number.isSafeInteger(n) ? n : value;
      }
      return value;
    case 'DateTime':
      return typeof value === 'string' ? isoInstant(value) : value;
    case 'Date':
      return typeof value === 'string' ? value.slice(0, 10) : value;
    default:
      return value;
  }
}

/** A row with exactly `columns`, in their order, as the API shows it. */
export function restRow(columns: readonly ColumnDef[], row: Row): Record<string, Cell> {
  const out: Record<string, Cell> = {};
  for (const c of columns) out[c.name] = restValue(c, row[c.name]);
  return out;
}

/** Characters that make a spreadsheet read a cell as a formula. */
const FORMULA_START = /^[=+\-@\t\r]/;

/** A text cell made safe to open in a spreadsheet (see the module comment). */
export function neutraliseFormula(text: string): string {
  return FORMULA_START.test(text) ? `'${text}` : text;
}

/** One CSV field (RFC 4180), quoted only when needed; an empty string is `""` to tell it from null. */
export function csvField(text: string | null): string {
  if (text === null) return '';
  if (text === '' || /[",\r\n]/.test(text)) return `"${text.replace(/"/g, '""')}"`;
  return text;
}

/** A cell's CSV text (before quoting): nested values as JSON, text cells neutralised. */
function csvText(def: ColumnDef, value: Cell): string | null {
  if (value === null) return null;
  if (typeof value === 'object') return JSON.stringify(value);
  if (typeof value === 'string' && (def.apiType === 'String' || def.apiType === 'ID')) {
    return neutraliseFormula(value);
  }
  return String(value);
}

/** The CSV header line. */
export function csvHeader(columns: readonly ColumnDef[]): string {
  return `${columns.map((c) => csvField(c.name)).join(',')}\r\n`;
}

/** One CSV line for a row. */
export function csvLine(columns: readonly ColumnDef[], row: Row): string {
  return `${columns.map((c) => csvField(csvText(c, restValue(c, row[c.name])))).join(',')}\r\n`;
}

/** One NDJSON line for a row. */
export function ndjsonLine(columns: readonly ColumnDef[], row: Row): string {
  return `${JSON.stringify(restRow(columns, row))}\n`;
}

/** The public face of a failure, as the caller may see it. */
export interface PublicFailure {
  readonly code: string;
  readonly message: string;
}

/** The last line of an export that failed after its first byte. */
export function errorTrailer(format: 'ndjson' | 'csv', failure: PublicFailure): string {
  if (format === 'ndjson') return `${JSON.stringify({ error: failure })}\n`;
  return `${['#error', failure.code, failure.message].map(csvField).join(',')}\r\n`;
}

/** How an export body reports a failure after its first byte: log it and say what the caller may see. */
export type ExportFailureHandler = (error: unknown) => PublicFailure;

/**
 * The body of an export: the header (CSV), then one chunk per engine batch,
 * pulled only when the transport asks for the next chunk, so a slow reader
 * slows the engine down instead of filling memory. `first` is the batch the
 * handler already read (to answer early failures with a status); `rest` yields
 * the remaining ones. Ending early (the caller went away) closes `rest`, which
 * releases the engine cursor.
 */
export async function* exportBody(
  format: 'ndjson' | 'csv',
  columns: readonly ColumnDef[],
  first: IteratorResult<Row[]>,
  rest: AsyncIterator<Row[]>,
  onFailure: ExportFailureHandler,
): AsyncGenerator<string> {
  const line = format === 'ndjson' ? ndjsonLine : csvLine;
  try {
    if (format === 'csv') yield csvHeader(columns);
    let step = first;
    while (!step.done) {
      let chunk = '';
      for (const row of step.value) chunk += line(columns, row);
      if (chunk !== '') yield chunk;
      step = await rest.next();
    }
  } catch (error) {
    yield errorTrailer(format, onFailure(error));
  } finally {
    await rest.return?.();
  }
}
