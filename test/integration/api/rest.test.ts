import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MARTS } from '../../../src/catalog/index.js';
import type { ColumnDef, MartDef } from '../../../src/catalog/types.js';
import { goldDataset } from '../../../src/lake/layout.js';
import { resolveLatest } from '../../../src/lake/publish.js';
import type { SqlValue } from '../../../src/sql/fragment.js';
import { type ApiHarness, startApiHarness } from '../../support/api-harness.js';

/**
 * The REST API over HTTP on a demo lake, for every mart of the catalog. Every
 * expectation is computed here with SQL written in this file, on the harness's
 * own DuckDB reading the same served Gold parquet (copied into one table per
 * mart), never through the API's query builder.
 */

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
type JsonRow = Record<string, Json>;

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  readonly json: unknown;
}

interface PageBody {
  data: JsonRow[];
  page: { next_cursor: string | null; has_more: boolean; total?: number };
  links: { self: string; next: string | null };
}

let h: ApiHarness;
let base: string;
let token: string;
/** Every mart's rows, in key order, as the API must show them (computed by SQL here). */
const expected = new Map<string, JsonRow[]>();
const runIds = new Map<string, string>();

/** A table name for a mart in the tests' DuckDB. */
const table = (mart: MartDef): string => `t_${mart.name}`;
const q = (name: string): string => `"${name}"`;

/** The SQL giving a value of a column's type exactly as the API must show it (written independently here). */
function apiExpression(c: ColumnDef, expr = q(c.name)): string {
  switch (c.apiType) {
    case 'Int':
      return `CAST(${expr} AS DOUBLE)`;
    case 'Decimal':
    case 'Date':
      return `CAST(${expr} AS VARCHAR)`;
    case 'DateTime':
      return `replace(CAST(${expr} AS VARCHAR), ' ', 'T') || 'Z'`;
    default:
      return expr;
  }
}

async function sql(text: string, params: readonly SqlValue[] = []): Promise<Record<string, Json>[]> {
  const result = await h.engine.query({ sql: { text, params }, label: 'test.expectation' });
  return result.rows as Record<string, Json>[];
}

/** The key order; `prefix` qualifies the columns where the select list reuses their names. */
const keyOrder = (mart: MartDef, prefix = ''): string =>
  mart.key.map((k) => `${prefix}${q(k)} ASC`).join(', ');

/** Rows of a mart under a WHERE clause, in the given order, as the API shows them. */
async function expectedRows(
  mart: MartDef,
  where = 'TRUE',
  params: readonly SqlValue[] = [],
  order = keyOrder(mart),
): Promise<JsonRow[]> {
  const select = mart.columns.map((c) => `${apiExpression(c)} AS ${q(c.name)}`).join(', ');
  return sql(`SELECT ${select} FROM ${table(mart)} WHERE ${where} ORDER BY ${order}`, params);
}

/** A row's key as one comparable text. */
const keyOf = (mart: MartDef, row: JsonRow): string => JSON.stringify(mart.key.map((k) => String(row[k])));

async function get(path: string, o: { token?: string | null; accept?: string } = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  const bearer = o.token === undefined ? token : o.token;
  if (bearer !== null) headers.authorization = `Bearer ${bearer}`;
  if (o.accept) headers.accept = o.accept;
  const response = await fetch(`${base}${path}`, { headers });
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

function ok(answer: Answer): void {
  expect(answer.status, answer.text.slice(0, 500)).toBe(200);
}

/** Follow `links.next` to the end; checks the page invariants on the way. */
async function walk(path: string, limit: number): Promise<{ rows: JsonRow[]; pages: number }> {
  const rows: JsonRow[] = [];
  let next = `${path}${path.includes('?') ? '&' : '?'}limit=${limit}`;
  for (let pages = 1; pages <= 400; pages += 1) {
    const answer = await get(next);
    ok(answer);
    const body = answer.json as PageBody;
    expect(body.data.length).toBeLessThanOrEqual(limit);
    rows.push(...body.data);
    expect(body.page.has_more).toBe(body.page.next_cursor !== null);
    if (!body.page.has_more) {
      expect(body.links.next).toBeNull();
      return { rows, pages };
    }
    expect(body.data).toHaveLength(limit);
    expect(body.links.next).toContain(`cursor=${encodeURIComponent(body.page.next_cursor ?? '')}`);
    next = body.links.next ?? '';
  }
  throw new Error('pagination does not end');
}

/** Rows sorted by the mart's key, compared as the engine orders them (numbers as numbers, text as text). */
function inKeyOrder(mart: MartDef, rows: readonly JsonRow[]): JsonRow[] {
  const compare = (a: Json | undefined, b: Json | undefined): number =>
    typeof a === 'number' && typeof b === 'number'
      ? a - b
      : String(a) < String(b)
        ? -1
        : String(a) > String(b)
          ? 1
          : 0;
  return [...rows].sort((x, y) => {
    for (const k of mart.key) {
      const c = compare(x[k], y[k]);
      if (c !== 0) return c;
    }
    return 0;
  });
}

/** Split an NDJSON body into rows; fails on an error line. */
function ndjson(text: string): JsonRow[] {
  expect(text.endsWith('\n') || text === '').toBe(true);
  const rows = text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as JsonRow);
  for (const row of rows) expect(row).not.toHaveProperty('error');
  return rows;
}

/** An RFC 4180 reader: an unquoted empty field is null, a quoted one is text. */
function parseCsv(text: string): Array<Array<string | null>> {
  const records: Array<Array<string | null>> = [];
  let record: Array<string | null> = [];
  let i = 0;
  while (i < text.length) {
    let field: string | null;
    if (text[i] === '"') {
      let value = '';
      i += 1;
      for (;;) {
        const quote = text.indexOf('"', i);
        if (quote < 0) throw new Error('unterminated quoted field');
        value += text.slice(i, quote);
        if (text[quote + 1] === '"') {
          value += '"';
          i = quote + 2;
        } else {
          i = quote + 1;
          break;
        }
      }
      field = value;
    } else {
      let end = i;
      while (end < text.length && text[end] !== ',' && text[end] !== '\r') end += 1;
      const value = text.slice(i, end);
      expect(value).not.toMatch(/["\n]/);
      field = value === '' ? null : value;
      i = end;
    }
    record.push(field);
    if (text[i] === ',') {
      i += 1;
    } else if (text.startsWith('\r\n', i)) {
      records.push(record);
      record = [];
      i += 2;
    } else {
      throw new Error(`unexpected character at ${i}`);
    }
  }
  expect(record).toEqual([]);
  return records;
}

/** The CSV text the documented rules give for a cell (formula prefix on text cells only). */
function csvText(c: ColumnDef, value: Json): string | null {
  if (value === null) return null;
  if (typeof value === 'string' && (c.apiType === 'String' || c.apiType === 'ID')) {
    return /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  }
  return String(value);
}

beforeAll(async () => {
  h = await startApiHarness();
  token = await h.adminToken();
  base = h.baseUrl;
  for (const mart of MARTS) {
    const pointer = await resolveLatest(h.store, goldDataset(mart.name, mart.schemaVersion));
    if (!pointer) throw new Error(`${mart.name} was not published`);
    runIds.set(mart.name, pointer.run_id);
    const relation = h.engine.martRelation({
      mart: mart.name,
      schemaVersion: mart.schemaVersion,
      runId: pointer.run_id,
      prefix: pointer.path,
    });
    await h.engine.execute({
      sql: { text: `CREATE TABLE ${table(mart)} AS SELECT * FROM ${relation.text}`, params: relation.params },
    });
    const rows = await expectedRows(mart);
    expect(rows.length, `${mart.name} has rows`).toBeGreaterThan(0);
    expected.set(mart.name, rows);
  }
}, 180_000);

afterAll(async () => {
  await h?.close();
});

const rowsOf = (mart: MartDef): JsonRow[] => expected.get(mart.name) ?? [];

/** A page size that takes about six pages (at most the 500 maximum). */
const pageSizeFor = (mart: MartDef): number => Math.min(500, Math.max(1, Math.ceil(rowsOf(mart).length / 6)));

/** The column to sort descending on: one holding nulls if any, else a nullable one, else the first non-key. */
async function sortColumn(mart: MartDef): Promise<ColumnDef> {
  for (const c of mart.columns.filter((c) => c.nullable)) {
    const [found] = await sql(`SELECT count(*) AS n FROM ${table(mart)} WHERE ${q(c.name)} IS NULL`);
    if (Number(found?.n) > 0) return c;
  }
  const candidate =
    mart.columns.find((c) => c.nullable) ?? mart.columns.find((c) => !mart.key.includes(c.name));
  if (!candidate) throw new Error(`${mart.name}: nothing to sort on`);
  return candidate;
}

interface FilterCase {
  readonly label: string;
  /** The query string part, already encoded. */
  readonly query: string;
  readonly where: string;
  readonly params: readonly SqlValue[];
}

const cast = (c: ColumnDef): string => `CAST(? AS ${c.sqlType})`;

/** The value as the test binds it and as the query string carries it. */
function bound(c: ColumnDef, value: Json): { bind: SqlValue; text: string } {
  if (c.apiType === 'Int' || c.apiType === 'Float') return { bind: Number(value), text: String(value) };
  return { bind: String(value), text: String(value) };
}

/** Filter cases of one column, with values taken from the data. */
async function filterCases(mart: MartDef, c: ColumnDef): Promise<FilterCase[]> {
  const distinct = await sql(
    `SELECT ${apiExpression(c)} AS v FROM (SELECT DISTINCT ${q(c.name)} FROM ${table(mart)} WHERE ${q(c.name)} IS NOT NULL) ORDER BY ${q(c.name)}`,
  );
  const values = distinct.map((r) => r.v as Json);
  const cases: FilterCase[] = [];
  const name = c.name;
  const col = q(name);
  const mid = values[Math.floor(values.length / 2)];
  const low = values[Math.floor(values.length / 4)];
  const enc = encodeURIComponent;
  if (mid !== undefined && low !== undefined) {
    const m = bound(c, mid);
    const l = bound(c, low);
    const typed = c.apiType === 'Int' || c.apiType === 'Float';
    const param = (): string => (typed ? '?' : cast(c));
    cases.push({
      label: 'eq',
      query: `${name}=${enc(m.text)}`,
      where: `${col} = ${param()}`,
      params: [m.bind],
    });
    cases.push({
      label: 'ne (nulls included)',
      query: `${name}[ne]=${enc(m.text)}`,
      where: `${col} IS DISTINCT FROM ${param()}`,
      params: [m.bind],
    });
    cases.push({
      label: 'in',
      query: `${name}[in]=${enc(m.text)},${enc(l.text)}`,
      where: `${col} IN (${param()}, ${param()})`,
      params: [m.bind, l.bind],
    });
    if (c.apiType !== 'Boolean' && c.apiType !== 'ID') {
      for (const [op, sign] of [
        ['lt', '<'],
        ['lte', '<='],
        ['gt', '>'],
        ['gte', '>='],
      ] as const) {
        cases.push({
          label: op,
          query: `${name}[${op}]=${enc(m.text)}`,
          where: `${col} ${sign} ${param()}`,
          params: [m.bind],
        });
      }
    }
    if ((c.apiType === 'String' || c.apiType === 'ID') && typeof mid === 'string' && mid.length >= 3) {
      const middle = mid.slice(1, Math.min(mid.length, 4));
      cases.push({
        label: 'contains',
        query: `${name}[contains]=${enc(middle)}`,
        where: `contains(${col}, ?)`,
        params: [middle],
      });
      const start = mid.slice(0, 2);
      cases.push({
        label: 'startsWith',
        query: `${name}[startsWith]=${enc(start)}`,
        where: `left(${col}, length(CAST(? AS VARCHAR))) = ?`,
        params: [start, start],
      });
    }
  }
  if (c.nullable) {
    cases.push({ label: 'isNull true', query: `${name}[isNull]=true`, where: `${col} IS NULL`, params: [] });
    cases.push({
      label: 'isNull false',
      query: `${name}[isNull]=false`,
      where: `${col} IS NOT NULL`,
      params: [],
    });
  }
  return cases;
}

describe.each(MARTS.map((mart) => [mart.name, mart] as const))('%s over REST', (_name, mart) => {
  const path = `/v1/marts/${mart.name}`;

  it('walking every page returns every row exactly once, in key order, equal to the parquet', async () => {
    const limit = pageSizeFor(mart);
    const { rows, pages } = await walk(path, limit);
    const all = rowsOf(mart);
    expect(pages).toBe(Math.max(1, Math.ceil(all.length / limit)));
    expect(new Set(rows.map((r) => keyOf(mart, r))).size).toBe(rows.length);
    expect(rows).toEqual(all);
  });

  it('walking with a descending sort on a nullable (or non-key) column returns every row once, nulls last', async () => {
    const c = await sortColumn(mart);
    const limit = pageSizeFor(mart);
    const { rows } = await walk(`${path}?sort=-${c.name}&fields=${c.name}`, limit);
    const order = `${q(c.name)} DESC NULLS LAST, ${keyOrder(mart)}`;
    const want = await expectedRows(mart, 'TRUE', [], order);
    expect(rows.map((r) => keyOf(mart, r))).toEqual(want.map((r) => keyOf(mart, r)));
    expect(rows.map((r) => r[c.name])).toEqual(want.map((r) => r[c.name]));
    // fields: the key and the asked field, nothing else.
    expect(Object.keys(rows[0] ?? {}).sort()).toEqual([...new Set([...mart.key, c.name])].sort());
  });

  it('count=true gives the total; the answer carries the served Gold run id', async () => {
    const answer = await get(`${path}?limit=1&count=true`);
    ok(answer);
    expect((answer.json as PageBody).page.total).toBe(rowsOf(mart).length);
    expect(answer.headers.get('x-gold-version')).toBe(runIds.get(mart.name));
    expect(answer.headers.get('content-type')).toContain('application/json');
  });

  it('the NDJSON export holds the paged rows (Accept and format=ndjson)', async () => {
    const { rows } = await walk(path, 500);
    const byAccept = await get(path, { accept: 'application/x-ndjson' });
    ok(byAccept);
    expect(byAccept.headers.get('content-type')).toContain('application/x-ndjson');
    expect(byAccept.headers.get('x-gold-version')).toBe(runIds.get(mart.name));
    // Without `sort` an export promises no order: compare in key order.
    expect(inKeyOrder(mart, ndjson(byAccept.text))).toEqual(rows);
    const byParam = await get(`${path}?format=ndjson`);
    ok(byParam);
    expect(inKeyOrder(mart, ndjson(byParam.text))).toEqual(rows);
  });

  it('the CSV export holds the paged rows (RFC 4180, header row, nulls empty, formulas neutralised)', async () => {
    const { rows } = await walk(path, 500);
    const answer = await get(`${path}?sort=${mart.key.join(',')}`, { accept: 'text/csv' });
    ok(answer);
    expect(answer.headers.get('content-type')).toContain('text/csv');
    const [header, ...records] = parseCsv(answer.text);
    expect(header).toEqual(mart.columns.map((c) => c.name));
    expect(records).toEqual(rows.map((row) => mart.columns.map((c) => csvText(c, row[c.name] ?? null))));
  });

  it('an export honours filters, sort and limit like a page does', async () => {
    const c = await sortColumn(mart);
    const limit = Math.max(1, Math.floor(rowsOf(mart).length / 3));
    const answer = await get(`${path}?sort=-${c.name}&limit=${limit}&format=ndjson`);
    ok(answer);
    const order = `${q(c.name)} DESC NULLS LAST, ${keyOrder(mart)}`;
    const want = (await expectedRows(mart, 'TRUE', [], order)).slice(0, limit);
    expect(ndjson(answer.text)).toEqual(want);
  });

  it('filters agree with SQL over the same parquet for every column (nulls included)', async () => {
    let narrowing = 0;
    for (const c of mart.columns) {
      for (const f of await filterCases(mart, c)) {
        const want = (
          await sql(
            `SELECT ${mart.key.map((k) => `CAST(${q(k)} AS VARCHAR) AS ${q(k)}`).join(', ')} FROM ${table(mart)} AS t WHERE ${f.where} ORDER BY ${keyOrder(mart, 't.')}`,
            f.params,
          )
        ).map((r) => keyOf(mart, r));
        if (want.length > 0 && want.length < rowsOf(mart).length) narrowing += 1;
        const label = `${mart.name} ${c.name} ${f.label}: ${f.query}`;
        const streamed = await get(`${path}?${f.query}&fields=${mart.key.join(',')}`, {
          accept: 'application/x-ndjson',
        });
        expect(streamed.status, `${label}: ${streamed.text.slice(0, 300)}`).toBe(200);
        expect(
          inKeyOrder(mart, ndjson(streamed.text)).map((r) => keyOf(mart, r)),
          label,
        ).toEqual(want);
        const page = await get(`${path}?${f.query}&fields=${mart.key.join(',')}&limit=500&count=true`);
        expect(page.status, `${label}: ${page.text.slice(0, 300)}`).toBe(200);
        const body = page.json as PageBody;
        expect(body.page.total, label).toBe(want.length);
        expect(
          body.data.map((r) => keyOf(mart, r)),
          label,
        ).toEqual(want.slice(0, 500));
      }
    }
    // The cases mean something: most of them keep some rows and drop others.
    expect(narrowing).toBeGreaterThan(mart.columns.length / 2);
  });

  it('a walk under a filter with a descending sort returns the filtered rows once each', async () => {
    const c = await sortColumn(mart);
    const [f] = (await filterCases(mart, mart.columns.find((x) => x.name === 'region') ?? c)).filter(
      (x) => x.label === 'ne (nulls included)',
    );
    if (!f) throw new Error(`${mart.name}: no ne case`);
    const order = `${q(c.name)} DESC NULLS LAST, ${keyOrder(mart)}`;
    const want = await expectedRows(mart, f.where, f.params, order);
    const limit = Math.min(500, Math.max(1, Math.ceil(want.length / 5)));
    const { rows } = await walk(`${path}?${f.query}&sort=-${c.name}`, limit);
    expect(rows).toEqual(want);
  });

  it('aggregates equal SQL computed here (count, sum, avg, min, max per group)', async () => {
    const numeric = mart.columns.filter((c) => ['Int', 'Float', 'Decimal'].includes(c.apiType));
    const dated = mart.columns.find((c) => c.apiType === 'Date' || c.apiType === 'DateTime');
    const dim =
      mart.columns.find((c) => c.name === 'region') ??
      mart.columns.find(
        (c) => !['Int', 'Float', 'Decimal'].includes(c.apiType) && !mart.key.includes(c.name),
      ) ??
      mart.columns.find((c) => !['Int', 'Float', 'Decimal'].includes(c.apiType));
    if (!dim) throw new Error(`${mart.name}: no dimension`);
    const measures = [
      ...numeric.flatMap((c) => ['sum', 'avg', 'min', 'max'].map((fn) => `${fn}:${c.name}`)),
      ...(dated ? [`min:${dated.name}`, `max:${dated.name}`] : []),
    ];
    const answer = await get(`${path}/aggregate?groupBy=${dim.name}&measures=${measures.join(',')}`);
    ok(answer);
    expect(answer.headers.get('x-gold-version')).toBe(runIds.get(mart.name));
    type Group = { key: JsonRow; count: number } & Record<'sum' | 'avg' | 'min' | 'max', JsonRow>;
    const groups = (answer.json as { groups: Group[] }).groups;
    const select = [
      `${apiExpression(dim)} AS k`,
      'CAST(count(*) AS DOUBLE) AS n',
      ...numeric.flatMap((c) => [
        `${apiExpression(c, `sum(${q(c.name)})`)} AS ${q(`sum_${c.name}`)}`,
        `CAST(sum(${q(c.name)}) AS DOUBLE) / count(*) AS ${q(`avg_${c.name}`)}`,
        `${apiExpression(c, `min(${q(c.name)})`)} AS ${q(`min_${c.name}`)}`,
        `${apiExpression(c, `max(${q(c.name)})`)} AS ${q(`max_${c.name}`)}`,
      ]),
      ...(dated
        ? [
            `${apiExpression(dated, `min(${q(dated.name)})`)} AS ${q(`min_${dated.name}`)}`,
            `${apiExpression(dated, `max(${q(dated.name)})`)} AS ${q(`max_${dated.name}`)}`,
          ]
        : []),
    ];
    const want = await sql(
      `SELECT ${select.join(', ')} FROM ${table(mart)} GROUP BY ${q(dim.name)} ORDER BY ${q(dim.name)} NULLS LAST`,
    );
    expect(groups).toHaveLength(want.length);
    groups.forEach((group, i) => {
      const w = want[i] ?? {};
      expect(group.key).toEqual({ [dim.name]: w.k });
      expect(group.count).toBe(w.n);
      for (const c of numeric) {
        expect(group.sum[c.name], `sum ${c.name}`).toEqual(w[`sum_${c.name}`]);
        expect(group.min[c.name], `min ${c.name}`).toEqual(w[`min_${c.name}`]);
        expect(group.max[c.name], `max ${c.name}`).toEqual(w[`max_${c.name}`]);
        const avg = Number(group.avg[c.name]);
        const wantAvg = Number(w[`avg_${c.name}`]);
        expect(Math.abs(avg - wantAvg), `avg ${c.name}`).toBeLessThanOrEqual(
          1e-6 * Math.max(1, Math.abs(wantAvg)),
        );
        // Exact decimals stay text, even summed.
        if (c.apiType === 'Decimal')
          expect(group.sum[c.name]).toEqual(expect.stringMatching(/^-?\d+\.\d{2}$/));
      }
      if (dated) {
        expect(group.min[dated.name]).toEqual(w[`min_${dated.name}`]);
        expect(group.max[dated.name]).toEqual(w[`max_${dated.name}`]);
      }
    });
  });

  it('an aggregate without groupBy under a filter is one group of the filtered rows', async () => {
    const c = await sortColumn(mart);
    const [f] = (await filterCases(mart, c)).filter((x) => x.label === 'ne (nulls included)');
    if (!f) throw new Error(`${mart.name}: no ne case`);
    const answer = await get(`${path}/aggregate?${f.query}`);
    ok(answer);
    const [want] = await sql(
      `SELECT CAST(count(*) AS DOUBLE) AS n FROM ${table(mart)} WHERE ${f.where}`,
      f.params,
    );
    expect(answer.json).toEqual({ groups: [{ key: {}, count: want?.n }] });
  });
});

describe('REST: the catalog, the OpenAPI document and values', () => {
  it('GET /v1/marts lists every mart with its readable columns for an admin', async () => {
    const answer = await get('/v1/marts');
    ok(answer);
    const body = answer.json as {
      marts: Array<{
        name: string;
        schema_version: number;
        key: string[];
        columns: Array<{
          name: string;
          type: string;
          pii: string | null;
          masked: boolean;
          operators: string[];
        }>;
        relations: Array<{ field: string; target: string }>;
        detail: boolean;
        aggregates: { allowed: boolean; min_group_size: number };
        deprecation: string | null;
        freshness: {
          served: { run_id: string; row_count: number; published_at: string } | null;
          newest_source_change: Array<{ source: string; at: string }>;
          sla: { kind: string; state: string };
        };
      }>;
    };
    expect(body.marts.map((m) => m.name)).toEqual(MARTS.map((m) => m.name));
    for (const [i, info] of body.marts.entries()) {
      const mart = MARTS[i] as MartDef;
      expect(info.schema_version).toBe(mart.schemaVersion);
      expect(info.key).toEqual(mart.key);
      expect(info.columns.map((c) => [c.name, c.type, c.pii])).toEqual(
        mart.columns.map((c) => [c.name, c.apiType, c.pii ?? null]),
      );
      expect(info.columns.every((c) => !c.masked && c.operators.includes('eq'))).toBe(true);
      expect(info.relations.map((r) => r.target)).toEqual(mart.relations.map((r) => r.target));
      expect(info.detail).toBe(true);
      expect(info.aggregates).toEqual({ allowed: true, min_group_size: 1 });
      expect(info.deprecation).toBeNull();
      // Freshness names the run the pointer serves, read here from the lake itself.
      const pointer = await resolveLatest(h.store, goldDataset(mart.name, mart.schemaVersion));
      expect(info.freshness.served?.run_id).toBe(pointer?.run_id);
      expect(info.freshness.served?.row_count).toBe(pointer?.row_count);
      expect(info.freshness.served?.published_at).toBe(pointer?.published_at);
      expect(['on_time', 'late', 'breached']).toContain(info.freshness.sla.state);
      expect(info.freshness.newest_source_change.length).toBeGreaterThan(0);
    }
    // The clock decides the SLA state: the catalog answer is never served from the cache.
    const again = await get('/v1/marts');
    ok(again);
    expect(again.headers.get('x-cache')).not.toBe('hit');
  });

  it('a role the policy does not define sees no mart, and a granted mart reads as missing', async () => {
    const intern = await h.token({ roles: ['intern'] });
    const list = await get('/v1/marts', { token: intern });
    ok(list);
    expect(list.json).toEqual({ marts: [] });
    const granted = await get('/v1/marts/invoices', { token: intern });
    const missing = await get('/v1/marts/no_such_mart');
    expect(granted.status).toBe(404);
    expect(missing.status).toBe(404);
    expect(granted.text).toBe(missing.text);
    expect(granted.json).toEqual({ error: { code: 'NOT_FOUND', message: 'not found' } });
    for (const path of ['/v1/marts/invoices/aggregate', '/v1/marts/invoices?format=csv']) {
      expect((await get(path, { token: intern })).text).toBe(missing.text);
    }
  });
  it('GET /v1/openapi.json needs no token and lists every mart with a parameter per column', async () => {
    const answer = await get('/v1/openapi.json', { token: null });
    ok(answer);
    const doc = answer.json as {
      openapi: string;
      paths: Record<string, { get: { parameters: Array<{ name?: string }> } }>;
    };
    expect(doc.openapi).toBe('3.1.0');
    for (const mart of MARTS) {
      const rows = doc.paths[`/v1/marts/${mart.name}`];
      expect(rows, mart.name).toBeDefined();
      expect(doc.paths[`/v1/marts/${mart.name}/aggregate`], mart.name).toBeDefined();
      const names = new Set(rows?.get.parameters.map((p) => p.name));
      for (const c of mart.columns) expect(names.has(`${c.name}[eq]`), `${mart.name}.${c.name}`).toBe(true);
    }
  });

  it('ids are strings beyond 2^53, decimals exact strings, Int columns numbers', async () => {
    const answer = await get('/v1/marts/customer_360?limit=500');
    ok(answer);
    const data = (answer.json as PageBody).data;
    expect(data).toEqual(rowsOf(MARTS[0] as MartDef));
    const ids = data.map((r) => r.customer_id);
    expect(ids.every((id) => typeof id === 'string' && BigInt(id) > 2n ** 53n)).toBe(true);
    expect(ids.some((id) => String(Number(id)) !== id)).toBe(true);
    expect(
      data.every((r) => typeof r.lifetime_revenue === 'string' && /^\d+\.\d{2}$/.test(r.lifetime_revenue)),
    ).toBe(true);
    expect(data.every((r) => Number.isInteger(r.health_score))).toBe(true);
    expect(data.some((r) => typeof r.last_activity_at === 'string' && r.last_activity_at.endsWith('Z'))).toBe(
      true,
    );
  });

  it('an `in` value with %2C holds a literal comma; + and %20 are spaces', async () => {
    const [first, second] = rowsOf(MARTS[0] as MartDef);
    const name = String(first?.name);
    expect(name).toContain(' ');
    const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
    const answer = await get(
      `/v1/marts/customer_360?name[in]=${enc(name)},${encodeURIComponent(`${second?.name}, Ltd`)}&fields=name`,
    );
    ok(answer);
    const want = await sql(
      `SELECT customer_id, name FROM ${table(MARTS[0] as MartDef)} WHERE name IN (?, ?) ORDER BY customer_id`,
      [name, `${second?.name}, Ltd`],
    );
    expect((answer.json as PageBody).data).toEqual(want);
    // Had the value been split on the decoded comma, `second` itself would match and the answers differ.
    expect(want.length).toBeGreaterThan(0);
  });
});

describe('REST under the demo policy (policies/demo.yaml)', () => {
  const c360 = (): MartDef => MARTS[0] as MartDef;
  const regionsClaim = 'https://goldgate.dev/regions';

  it('analyst: the catalog shows customer_360 as aggregate-only with hashed PII; rows and exports are FORBIDDEN', async () => {
    const analyst = await h.token({ roles: ['analyst'] });
    const list = await get('/v1/marts', { token: analyst });
    ok(list);
    type Info = {
      name: string;
      detail: boolean;
      aggregates: { allowed: boolean; min_group_size: number };
      columns: Array<{ name: string; masked: boolean; mask?: string; operators: string[] }>;
      links: Record<string, string>;
    };
    const marts = (list.json as { marts: Info[] }).marts;
    expect(marts.map((m) => m.name)).toEqual(MARTS.map((m) => m.name));
    const customer = marts.find((m) => m.name === 'customer_360');
    expect(customer?.detail).toBe(false);
    expect(customer?.aggregates).toEqual({ allowed: true, min_group_size: 5 });
    expect(customer?.links).toEqual({ aggregate: '/v1/marts/customer_360/aggregate' });
    for (const column of customer?.columns ?? []) {
      const pii = c360().columns.find((c) => c.name === column.name)?.pii;
      expect(column.masked, column.name).toBe(pii !== undefined);
      if (pii) expect(column).toMatchObject({ mask: 'hash', operators: [] });
    }
    for (const path of ['/v1/marts/customer_360', '/v1/marts/customer_360?format=ndjson']) {
      const answer = await get(path, { token: analyst });
      expect(answer.status, path).toBe(403);
      expect((answer.json as { error: { code: string } }).error.code).toBe('FORBIDDEN');
      expect(answer.text).not.toContain(String(rowsOf(c360())[0]?.customer_id));
    }
  });

  it('analyst: aggregates leave out groups smaller than 5, as SQL with HAVING says', async () => {
    const analyst = await h.token({ roles: ['analyst'] });
    const answer = await get('/v1/marts/customer_360/aggregate?groupBy=region,plan&measures=sum:mrr', {
      token: analyst,
    });
    ok(answer);
    const want = await sql(
      `SELECT region, plan, CAST(count(*) AS DOUBLE) AS n, CAST(sum(mrr) AS VARCHAR) AS mrr FROM ${table(c360())}
       GROUP BY region, plan HAVING count(*) >= 5 ORDER BY region NULLS LAST, plan NULLS LAST`,
    );
    const [all] = await sql(
      `SELECT count(*) AS n FROM (SELECT 1 FROM ${table(c360())} GROUP BY region, plan)`,
    );
    expect(want.length, 'some groups are suppressed').toBeLessThan(Number(all?.n));
    expect(answer.json).toEqual({
      groups: want.map((w) => ({ key: { region: w.region, plan: w.plan }, count: w.n, sum: { mrr: w.mrr } })),
    });
  });

  it('analyst: a masked column cannot be filtered, sorted or grouped in clear', async () => {
    const analyst = await h.token({ roles: ['analyst'] });
    const filtered = await get('/v1/marts/customer_360/aggregate?email[isNull]=false', { token: analyst });
    expect(filtered.status).toBe(400);
    expect((filtered.json as { error: { message: string } }).error.message).toContain('email');
  });

  it('csm with regions [EU]: rows, exports and aggregates hold EU customers only; finance relations are hidden', async () => {
    const csm = await h.token({ roles: ['csm'], extraClaims: { [regionsClaim]: ['EU'] } });
    const want = await expectedRows(c360(), 'region = ?', ['EU']);
    expect(want.length).toBeGreaterThan(0);
    expect(want.length).toBeLessThan(rowsOf(c360()).length);
    const page = await get('/v1/marts/customer_360?limit=500&count=true', { token: csm });
    ok(page);
    expect((page.json as PageBody).data).toEqual(want);
    expect((page.json as PageBody).page.total).toBe(want.length);
    const exported = await get('/v1/marts/customer_360', { token: csm, accept: 'application/x-ndjson' });
    ok(exported);
    expect(inKeyOrder(c360(), ndjson(exported.text))).toEqual(want);
    // Asking for another region filters within the scope: nothing.
    const other = await get('/v1/marts/customer_360?region=NA&count=true', { token: csm });
    expect((other.json as PageBody).page.total).toBe(0);
    const groups = await get('/v1/marts/customer_360/aggregate?groupBy=region', { token: csm });
    expect(groups.json).toEqual({ groups: [{ key: { region: 'EU' }, count: want.length }] });
    const list = await get('/v1/marts', { token: csm });
    const marts = (list.json as { marts: Array<{ name: string; relations: unknown[] }> }).marts;
    expect(marts.map((m) => m.name).sort()).toEqual(
      ['customer_360', 'kpi_daily_usage', 'kpi_funnel', 'kpi_retention'].sort(),
    );
    expect(marts.find((m) => m.name === 'customer_360')?.relations).toEqual([]);
  });

  it('finance: PII comes partially masked in pages, NDJSON and CSV alike', async () => {
    const finance = await h.token({ roles: ['finance'] });
    const page = await get('/v1/marts/customer_360?limit=500&fields=email,phone', { token: finance });
    ok(page);
    const rows = (page.json as PageBody).data;
    const clear = rowsOf(c360());
    expect(rows).toHaveLength(clear.length);
    rows.forEach((row, i) => {
      if (clear[i]?.email !== null) {
        expect(row.email).not.toBe(clear[i]?.email);
        expect(String(row.email)).toContain('***');
      }
    });
    const exported = await get('/v1/marts/customer_360?fields=email,phone&format=ndjson', { token: finance });
    expect(inKeyOrder(c360(), ndjson(exported.text))).toEqual(rows);
    const csv = await get('/v1/marts/customer_360?fields=email,phone&sort=customer_id&format=csv', {
      token: finance,
    });
    const [, ...records] = parseCsv(csv.text);
    expect(records.map((r) => r[1])).toEqual(rows.map((r) => r.email));
  });
});

describe('REST: authentication and errors', () => {
  const PROTECTED = [
    '/v1/marts',
    '/v1/marts/customer_360',
    '/v1/marts/invoices?format=ndjson',
    '/v1/marts/invoices/aggregate?groupBy=region',
  ];

  it.each(PROTECTED)('%s without a valid token is 401 with the one body of every path', async (path) => {
    // The gateway answers every failed authentication with one body, on GraphQL and REST alike.
    const graphql = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"query":"{ __typename }"}',
    });
    const one = await graphql.text();
    expect(graphql.status).toBe(401);
    expect(JSON.parse(one)).toEqual({
      errors: [{ message: 'Unauthorized', extensions: { code: 'UNAUTHENTICATED' } }],
    });
    const analyst = await h.token({ roles: ['admin'], audience: 'another-api' });
    for (const bearer of [null, 'garbage', 'not.a.jwt', analyst]) {
      const answer = await get(path, { token: bearer });
      expect(answer.status).toBe(401);
      expect(answer.text).toBe(one);
      expect(answer.headers.get('www-authenticate')).toBe('Bearer');
      for (const row of rowsOf(MARTS[0] as MartDef).slice(0, 20)) {
        expect(answer.text).not.toContain(String(row.customer_id));
      }
    }
  });

  const BAD: ReadonlyArray<readonly [string, string]> = [
    ['/v1/marts/invoices?bogus=1', 'bogus'],
    ['/v1/marts/invoices?region[like]=EU', 'like'],
    ['/v1/marts/invoices?invoice_id[lt]=1', 'lt'],
    ['/v1/marts/customer_360?health_score=1.5', 'health_score'],
    ['/v1/marts/customer_360?health_score[gt]=ten', 'health_score'],
    ['/v1/marts/customer_360?mrr[gt]=1e3', 'mrr'],
    ['/v1/marts/customer_360?signup_date[gte]=2025-02-30', 'signup_date'],
    ['/v1/marts/customer_360?account_id[isNull]=yes', 'isNull'],
    ['/v1/marts/customer_360?region=EU&region[eq]=NA', 'region'],
    ['/v1/marts/invoices?limit=0', 'limit'],
    ['/v1/marts/invoices?limit=501&format=json', 'limit'],
    ['/v1/marts/invoices?limit=ten', 'limit'],
    ['/v1/marts/invoices?limit=5&limit=6', 'limit'],
    ['/v1/marts/invoices?cursor=not-a-cursor', 'cursor'],
    ['/v1/marts/invoices?sort=-nope', 'nope'],
    ['/v1/marts/invoices?fields=total,nope', 'nope'],
    ['/v1/marts/invoices?format=xml', 'format'],
    ['/v1/marts/invoices?format=ndjson&cursor=abc', 'cursor'],
    ['/v1/marts/invoices?count=maybe', 'count'],
    ['/v1/marts/invoices?region=%E0%A4%A', 'percent'],
    [`/v1/marts/invoices?region[in]=${Array.from({ length: 501 }, () => 'EU').join(',')}`, 'region[in]'],
    ['/v1/marts/invoices/aggregate?measures=median:total', 'median'],
    ['/v1/marts/invoices/aggregate?groupBy=total', 'total'],
    ['/v1/marts/invoices/aggregate?measures=sum:status', 'status'],
    ['/v1/marts/invoices/aggregate?sort=region', 'sort'],
  ];

  it.each(BAD)('%s is 400 BAD_USER_INPUT naming %s', async (path, named) => {
    for (const accept of [undefined, 'application/x-ndjson']) {
      const answer = await get(path, accept ? { accept } : {});
      expect(answer.status, answer.text).toBe(400);
      const body = answer.json as { error: { code: string; message: string } };
      expect(body.error.code).toBe('BAD_USER_INPUT');
      expect(body.error.message).toContain(named);
      expect(answer.headers.get('content-type')).toContain('application/json');
    }
  });

  it('a cursor of another sort is refused', async () => {
    const first = await get('/v1/marts/invoices?limit=2');
    const cursor = (first.json as PageBody).page.next_cursor ?? '';
    const answer = await get(
      `/v1/marts/invoices?limit=2&sort=-invoice_date&cursor=${encodeURIComponent(cursor)}`,
    );
    expect(answer.status).toBe(400);
    expect((answer.json as { error: { code: string } }).error.code).toBe('BAD_USER_INPUT');
  });

  it('unknown paths are 404 and other methods 405, with problem bodies', async () => {
    for (const path of [
      '/v1/nothing',
      '/v1/marts/invoices/extra',
      '/v1/marts/Invoices',
      '/v1/marts/invoices/',
    ]) {
      const answer = await get(path);
      expect(answer.status, path).toBe(404);
      expect(answer.json).toEqual({ error: { code: 'NOT_FOUND', message: 'not found' } });
    }
    const post = await fetch(`${base}/v1/marts/invoices`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET');
    expect(((await post.json()) as { error: { code: string } }).error.code).toBe('BAD_REQUEST');
  });
});
