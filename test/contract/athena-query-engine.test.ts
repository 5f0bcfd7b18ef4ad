import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalObjectStore } from '../../src/adapters/object-store/local.js';
import { AthenaQueryEngine, createAthenaClient } from '../../src/adapters/query-engine/athena.js';
import { DuckDbQueryEngine } from '../../src/adapters/query-engine/duckdb.js';
import type { MartVersionRef } from '../../src/adapters/query-engine/port.js';
import { MARTS } from '../../src/catalog/index.js';
import { goldDataset, runPrefix } from '../../src/lake/layout.js';
import { newRunId } from '../../src/lake/run-id.js';
import { sql } from '../../src/sql/fragment.js';
import { LocalAthena } from '../support/athena-local/server.js';
import { queryEngineContract } from './query-engine.contract.js';

const GOLD_DB = 'goldgate_gold';
/** Not secrets: the local endpoint reads no signature. */
const CREDENTIALS = { accessKeyId: 'AKIDLOCALATHENA', secretAccessKey: 'local-athena-not-a-secret' };

/** Write rows as one Gold run of `mart` (id BIGINT, region VARCHAR, amount DECIMAL(18,2)) in the folder store. */
async function seedRun(
  store: LocalObjectStore,
  mart: string,
  rows: ReadonlyArray<{ id: number; region: string; amount: string }>,
): Promise<MartVersionRef> {
  const runId = newRunId();
  const prefix = runPrefix(goldDataset(mart, 1), runId);
  const writer = await DuckDbQueryEngine.create({ store });
  const values = rows.map((r) => sql`(${r.id}, ${r.region}, ${r.amount})`);
  const body = values.reduce((acc, v, i) => sql`${acc}${i ? sql`, ` : sql``}${v}`, sql``);
  await writer.execute({
    sql: sql`COPY (SELECT CAST(id AS BIGINT) AS id, CAST(region AS VARCHAR) AS region,
               CAST(amount AS DECIMAL(18,2)) AS amount FROM (VALUES ${body}) AS t(id, region, amount))
             TO ${`${await store.prepareWrite(prefix)}/part-00000.parquet`} (FORMAT parquet)`,
  });
  await writer.close();
  return { mart, schemaVersion: 1, runId, prefix };
}

interface Setup {
  readonly dir: string;
  readonly store: LocalObjectStore;
  readonly server: LocalAthena;
}

async function setUp(): Promise<Setup> {
  const dir = await mkdtemp(join(tmpdir(), 'goldgate-athena-'));
  const store = new LocalObjectStore(dir);
  const server = await LocalAthena.start({ lakeDir: dir, goldDatabase: GOLD_DB });
  return { dir, store, server };
}

function engineFor(
  server: LocalAthena,
  overrides: Partial<ConstructorParameters<typeof AthenaQueryEngine>[0]> = {},
): AthenaQueryEngine {
  return new AthenaQueryEngine({
    client: createAthenaClient({ endpoint: server.endpoint, region: 'us-east-1', credentials: CREDENTIALS }),
    ownsClient: true,
    workGroup: 'primary',
    database: GOLD_DB,
    outputLocation: 's3://goldgate-local-results/athena/',
    poll: { initialMs: 5, maxMs: 40 },
    retry: { attempts: 5, baseMs: 2, maxMs: 20 },
    resultReuseMaxAgeMinutes: 60,
    marts: [...MARTS.map((m) => m.name), 'contract_mart'],
    ...overrides,
  });
}

let setup: Setup;
queryEngineContract({
  name: 'Athena (over HTTP, local endpoint)',
  async create() {
    setup = await setUp();
    return engineFor(setup.server);
  },
  seedMart: (rows) => seedRun(setup.store, 'contract_mart', rows),
  async dispose() {
    await setup.server.close();
    await rm(setup.dir, { recursive: true, force: true });
  },
});
