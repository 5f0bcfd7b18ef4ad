import { AthenaClient } from '@aws-sdk/client-athena';
import { TrinoSQL } from 'dt-sql-parser';
import { describe, expect, it } from 'vitest';
import { AthenaQueryEngine, athenaStatement } from '../../../src/adapters/query-engine/athena.js';
import { fullAccess, type MartAccess } from '../../../src/auth/access.js';
import { MARTS } from '../../../src/catalog/index.js';
import type { ColumnDef, MartDef } from '../../../src/catalog/types.js';
import { goldDataset, runPrefix } from '../../../src/lake/layout.js';
import {
  aggregateQuery,
  buildPage,
  countQuery,
  cursorOf,
  exportQuery,
  isMeasureColumn,
  type MartFilter,
  relationQuery,
  resolveOrder,
} from '../../../src/query/builder.js';
import type { SqlFragment } from '../../../src/sql/fragment.js';

/**
 * Every statement shape the API sends (page with filters, sort and cursor,
 * count, export, relation batch, aggregate), rendered for Athena exactly as the
 * adapter sends it, parses under the Trino grammar; and only WHERE keeps `?`.
 */

const trino = new TrinoSQL();
const RUN = '20261121T061500Z-0001';
// No request is ever sent: the engine only names tables and shapes statements here.
const engine = new AthenaQueryEngine({
  client: new AthenaClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } }),
  workGroup: 'goldgate',
  database: 'goldgate_gold',
});

function sample(c: ColumnDef): unknown {
  switch (c.apiType) {
    case 'Int':
      return 3;
    case 'Float':
      return 0.5;
    case 'Boolean':
      return true;
    case 'Decimal':
      return '12.50';
    case 'Date':
      return '2026-01-31';
    case 'DateTime':
      return '2026-01-31T10:00:00Z';
    default:
      return "O'Brien";
  }
}

/** A filter using several operators on every column where they apply. */
function richFilter(mart: MartDef): MartFilter {
  const filter: Record<string, Record<string, unknown>> = {};
  for (const c of mart.columns) {
    const v = sample(c);
    const ops: Record<string, unknown> = { eq: v, ne: v, in: [v, v], isNull: false };
    if (c.apiType !== 'Boolean' && c.apiType !== 'ID') Object.assign(ops, { gte: v, lt: v });
    if (c.apiType === 'String' || c.apiType === 'ID')
      Object.assign(ops, { contains: 'a%_', startsWith: "x'" });
    filter[c.name] = ops;
  }
  return filter;
}

function rendered(fragment: SqlFragment): string {
  const statement = athenaStatement(fragment);
  return statement.text;
}

function expectTrino(text: string): void {
  expect(
    trino.validate(text).map((e) => e.message),
    text,
  ).toEqual([]);
}

describe.each(MARTS.map((m) => [m.name, m] as const))('API statements on Athena for %s', (_n, mart) => {
  const access: MartAccess = {
    ...fullAccess(mart),
    // A row scope with two alternatives, as roles combine.
    rows: mart.rowScope.region ? [[{ column: mart.rowScope.region, values: ['EU', 'NA'] }], []] : null,
  };
  const relation = engine.martRelation({
    mart: mart.name,
    schemaVersion: mart.schemaVersion,
    runId: RUN,
    prefix: runPrefix(goldDataset(mart.name, mart.schemaVersion), RUN),
  });
  const filter = richFilter(mart);
  const sortable = mart.columns.filter((c) => c.nullable).slice(0, 2);
  const orderBy = sortable.map((c, i) => ({ column: c.name, desc: i === 0 }));
  const terms = resolveOrder(access, orderBy);
  const after = cursorOf(terms, Object.fromEntries(mart.columns.map((c) => [c.name, sample(c)])));
  const columns = mart.columns.map((c) => c.name);

  it('page, count and export parse, with values bound only in WHERE', () => {
    const page = buildPage({ access, relation, columns, filter, first: 50, after, orderBy }).sql;
    for (const q of [
      page,
      countQuery({ access, relation, filter }),
      exportQuery({ access, relation, columns, filter, orderBy }),
    ]) {
      const text = rendered(q);
      expectTrino(text);
      // Bound values stay in WHERE: the text after it holds no `?` except before ORDER/LIMIT.
      const tail = text.slice(text.lastIndexOf(' ORDER BY '));
      expect(tail).not.toContain('?');
    }
  });

  it('relation batches and aggregates parse', () => {
    const link = mart.key[0] as string;
    expectTrino(
      rendered(
        relationQuery({
          access,
          relation,
          childColumn: link,
          parentValues: ['1', "2'3"],
          columns,
          filter,
          orderBy,
          perParent: 20,
        }),
      ),
    );
    const dims = mart.columns
      .filter((c) => !isMeasureColumn(c))
      .slice(0, 2)
      .map((c) => c.name);
    const measures = mart.columns
      .filter(isMeasureColumn)
      .slice(0, 2)
      .flatMap((c) => [
        { fn: 'sum' as const, column: c.name },
        { fn: 'avg' as const, column: c.name },
        { fn: 'max' as const, column: c.name },
      ]);
    const grouped = { ...access, aggregates: { allowed: true, minGroupSize: 5 } };
    expectTrino(
      rendered(aggregateQuery({ access: grouped, relation, filter, groupBy: dims, measures, limit: 1000 })),
    );
    expectTrino(
      rendered(aggregateQuery({ access: grouped, relation, filter: {}, groupBy: [], measures, limit: 1 })),
    );
  });
});

describe('the grammar check can fail', () => {
  it('rejects broken SQL', () => {
    expect(trino.validate('SELECT "a" FROM WHERE ?')).not.toEqual([]);
  });
});
