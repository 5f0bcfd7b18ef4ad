import {
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  InternalServerException,
  InvalidRequestException,
  StartQueryExecutionCommand,
  StopQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { AthenaQueryEngine, createAthenaClient } from '../../../src/adapters/query-engine/athena.js';
import { AthenaQueryStateError } from '../../../src/adapters/query-engine/errors.js';
import { sql } from '../../../src/sql/fragment.js';

/**
 * Error paths the local endpoint cannot produce: dropped connections, a
 * StopQueryExecution that itself fails, a statement cancelled by someone
 * else, odd answers. Everything the endpoint can do is tested over HTTP in
 * test/contract/athena-query-engine.test.ts.
 */

const client = createAthenaClient({ region: 'us-east-1' });
const athena = mockClient(client);

function engine(): AthenaQueryEngine {
  return new AthenaQueryEngine({
    client,
    workGroup: 'primary',
    database: 'goldgate_gold',
    poll: { initialMs: 1, maxMs: 4 },
    retry: { attempts: 3, baseMs: 1, maxMs: 4 },
    stopTimeoutMs: 500,
  });
}

const succeeded = {
  QueryExecution: {
    QueryExecutionId: 'q-1',
    StatementType: 'DML' as const,
    Status: { State: 'SUCCEEDED' as const },
    Statistics: { DataScannedInBytes: 42 },
  },
};
const oneRow = {
  ResultSet: {
    Rows: [{ Data: [{ VarCharValue: 'n' }] }, { Data: [{ VarCharValue: '1' }] }],
    ResultSetMetadata: { ColumnInfo: [{ Name: 'n', Type: 'bigint' }] },
  },
};

afterEach(() => {
  athena.reset();
});

describe('Athena adapter error paths (mocked SDK)', () => {
  it('retries a poll that lost its connection', async () => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-1' });
    athena
      .on(GetQueryExecutionCommand)
      .rejectsOnce(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))
      .resolves(succeeded);
    athena.on(GetQueryResultsCommand).resolves(oneRow);
    const result = await engine().query({ sql: sql`SELECT 1 AS n` });
    expect(result.rows).toEqual([{ n: '1' }]);
    expect(result.stats).toEqual({ queryId: 'q-1', bytesScanned: 42 });
    expect(athena.commandCalls(GetQueryExecutionCommand)).toHaveLength(2);
  });

  it('still reports ENGINE_TIMEOUT when StopQueryExecution fails', async () => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-2' });
    athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: 'RUNNING' } } });
    athena
      .on(StopQueryExecutionCommand)
      .rejects(new InternalServerException({ message: 'internal', $metadata: { httpStatusCode: 500 } }));
    await expect(engine().query({ sql: sql`SELECT 1`, timeoutMs: 50 })).rejects.toMatchObject({
      code: 'ENGINE_TIMEOUT',
    });
    const stops = athena.commandCalls(StopQueryExecutionCommand);
    expect(stops.length).toBeGreaterThan(0);
    expect(stops[0]?.args[0].input).toEqual({ QueryExecutionId: 'q-2' });
  });

  it('fails a statement cancelled by someone else without stopping it again', async () => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-3' });
    athena.on(GetQueryExecutionCommand).resolves({
      QueryExecution: { Status: { State: 'CANCELLED', StateChangeReason: 'Query cancelled by user' } },
    });
    const error = await engine()
      .query({ sql: sql`SELECT 1` })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ENGINE_QUERY_FAILED', message: 'query failed' });
    expect((error as Error).cause).toBeInstanceOf(AthenaQueryStateError);
    expect((error as Error).cause).toMatchObject({ state: 'CANCELLED', reason: 'Query cancelled by user' });
    expect(athena.commandCalls(StopQueryExecutionCommand)).toHaveLength(0);
  });

  it('does not retry a rejected start, and keeps its text out of the message', async () => {
    athena.on(StartQueryExecutionCommand).rejects(
      new InvalidRequestException({
        message: 'line 1:8: mismatched input',
        AthenaErrorCode: 'MALFORMED_QUERY',
        $metadata: { httpStatusCode: 400 },
      }),
    );
    const error = await engine()
      .query({ sql: sql`SELEC 1`, label: 'bad' })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ENGINE_QUERY_FAILED', message: 'query failed', label: 'bad' });
    expect((error as { reason?: string }).reason).toMatch(/mismatched input/);
    expect(athena.commandCalls(StartQueryExecutionCommand)).toHaveLength(1);
  });

  it('fails a start answered without an id', async () => {
    athena.on(StartQueryExecutionCommand).resolves({});
    await expect(engine().query({ sql: sql`SELECT 1` })).rejects.toMatchObject({
      code: 'ENGINE_QUERY_FAILED',
    });
    expect(athena.commandCalls(GetQueryExecutionCommand)).toHaveLength(0);
  });

  it('answers ENGINE_BUSY when the service keeps failing', async () => {
    athena
      .on(StartQueryExecutionCommand)
      .rejects(new InternalServerException({ message: 'internal', $metadata: { httpStatusCode: 500 } }));
    await expect(engine().query({ sql: sql`SELECT 1` })).rejects.toMatchObject({
      code: 'ENGINE_BUSY',
      message: 'engine is unavailable',
    });
    expect(athena.commandCalls(StartQueryExecutionCommand)).toHaveLength(3);
  });

  it('keeps the first row of a result that has no header (DDL and utility statements)', async () => {
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-4' });
    athena.on(GetQueryExecutionCommand).resolves({
      QueryExecution: { StatementType: 'UTILITY', Status: { State: 'SUCCEEDED' } },
    });
    athena.on(GetQueryResultsCommand).resolves({
      ResultSet: {
        Rows: [{ Data: [{ VarCharValue: 'customers' }] }, { Data: [{ VarCharValue: 'invoices' }] }],
        ResultSetMetadata: { ColumnInfo: [{ Name: 'tab_name', Type: 'string' }] },
      },
    });
    const { rows } = await engine().query({ sql: sql`SHOW TABLES` });
    expect(rows).toEqual([{ tab_name: 'customers' }, { tab_name: 'invoices' }]);
  });

  it('stops statements still running when the engine closes', async () => {
    let stopped = false;
    athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: 'q-5' });
    athena.on(GetQueryExecutionCommand).callsFake(async () => ({
      QueryExecution: { Status: { State: stopped ? 'CANCELLED' : 'RUNNING' } },
    }));
    athena.on(StopQueryExecutionCommand).callsFake(async () => {
      stopped = true;
      return {};
    });
    const subject = engine();
    const pending = subject.query({ sql: sql`SELECT 1` }).catch((e: unknown) => e);
    await expect.poll(() => athena.commandCalls(GetQueryExecutionCommand).length).toBeGreaterThan(0);
    await subject.close();
    expect(athena.commandCalls(StopQueryExecutionCommand)[0]?.args[0].input).toEqual({
      QueryExecutionId: 'q-5',
    });
    expect(await pending).toMatchObject({ code: 'ENGINE_QUERY_FAILED' });
  });
});
