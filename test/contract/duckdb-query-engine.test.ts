import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalObjectStore } from '../../src/adapters/object-store/local.js';
import { DuckDbQueryEngine } from '../../src/adapters/query-engine/duckdb.js';
import { goldDataset, runPrefix } from '../../src/lake/layout.js';
import { newRunId } from '../../src/lake/run-id.js';
import { sql } from '../../src/sql/fragment.js';
import { queryEngineContract } from './query-engine.contract.js';

let dir = '';
let store: LocalObjectStore;
queryEngineContract({
  name: 'DuckDB (embedded)',
  async create() {
    dir = await mkdtemp(join(tmpdir(), 'goldgate-engine-'));
    store = new LocalObjectStore(dir);
    return DuckDbQueryEngine.create({ store, connections: 3 });
  },
  async seedMart(rows) {
    const dataset = goldDataset('contract_mart', 1);
    const runId = newRunId();
    const prefix = runPrefix(dataset, runId);
    const writer = await DuckDbQueryEngine.create({ store });
    const values = rows.map((r) => sql`(${r.id}, ${r.region}, ${r.amount})`);
    const body = values.reduce((acc, v, i) => sql`${acc}${i ? sql`, ` : sql``}${v}`, sql``);
    await writer.execute({
      sql: sql`COPY (SELECT CAST(id AS BIGINT) AS id, CAST(region AS VARCHAR) AS region,
                 CAST(amount AS DECIMAL(18,2)) AS amount FROM (VALUES ${body}) AS t(id, region, amount))
               TO ${`${await store.prepareWrite(prefix)}/part-00000.parquet`} (FORMAT parquet)`,
    });
    await writer.close();
    return { mart: 'contract_mart', schemaVersion: 1, runId, prefix };
  },
  async dispose() {
    await rm(dir, { recursive: true, force: true });
  },
});
