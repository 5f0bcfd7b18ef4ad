import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { z } from 'zod';
import { LocalObjectStore } from '../../../src/adapters/object-store/local.js';
import type { ColumnMeta, Row } from '../../../src/adapters/query-engine/port.js';
import type { SqlValue } from '../../../src/sql/fragment.js';
import { bindInWhereOnly } from '../../../src/transform/athena/bind.js';
import { LocalGoldCatalog } from './catalog.js';
import { LocalDuck } from './duck.js';
import { AthenaFailure, LocalLake } from './lake.js';
import { parseParameter } from './literals.js';
import { columnInfo, renderCell } from './render.js';
import { type Translation, TranslationError, translateStatement } from './trino.js';
import {
  getQueryResultsInput,
  internalError,
  invalidRequest,
  OPERATIONS,
  type Operation,
  queryExecutionIdInput,
  type StartQueryExecutionInput,
  startQueryExecutionInput,
  throttling,
  tooManyRequests,
  type WireError,
  WireFault,
} from './wire.js';

/**
 * A local Athena-protocol endpoint for tests: `node:http` on 127.0.0.1
 * speaking AWS JSON 1.1 (`POST /`, `X-Amz-Target: AmazonAthena.<op>`) with the
 * shapes of `shared/fixtures/athena` and the botocore model, so the real
 * `@aws-sdk/client-athena` talks to it unchanged. SigV4 signatures are
 * required to be present but not verified.
 *
 * - StartQueryExecution: workgroups (unknown -> InvalidRequestException, as the
 *   fixture), output location required unless the workgroup sets one,
 *   ClientRequestToken idempotency (same token and request -> same id;
 *   changed request -> InvalidRequestException), ExecutionParameters read as
 *   literals and bound to DuckDB as parameters, `?` accepted only in WHERE
 *   clauses (as Athena documents), result reuse by age (matched on the query
 *   text, context, workgroup and output, not the parameters), and an optional
 *   concurrent-query limit answered with TooManyRequestsException
 *   (CONCURRENT_QUERY_LIMIT_EXCEEDED).
 * - GetQueryExecution: the state moves at most one step per poll, so a client
 *   sees QUEUED, then RUNNING, then SUCCEEDED/FAILED; Statistics with
 *   DataScannedInBytes (the size of the Gold files the statement names);
 *   FAILED carries StateChangeReason and AthenaError.
 * - GetQueryResults: InvalidRequestException before SUCCEEDED; pages of at
 *   most MaxResults (<= 1000) rows with NextToken; on the first page of a DML
 *   result the header row comes first and counts toward MaxResults.
 * - StopQueryExecution: CANCELLED at once, and the DuckDB statement is
 *   interrupted.
 * - Faults on demand (`inject`): throttling, internal errors, or a start
 *   whose answer is lost after the query was accepted.
 *
 * SQL runs on DuckDB (`duck.ts`), values bound as parameters. Gold run tables
 * are mapped to the run's Parquet files in a local folder store (`catalog.ts`).
 */

/** Settings of the endpoint. */
export interface LocalAthenaOptions {
  /** The folder store holding Gold runs (`gold/{mart}/schema_v={N}/run_id={RUN}/`). */
  readonly lakeDir: string;
  /** The Glue database whose run tables map to Gold runs (default `goldgate_gold`). */
  readonly goldDatabase?: string;
  /** Workgroups, each with the output location it enforces, if any (default: `primary`, none). */
  readonly workGroups?: Readonly<Record<string, { readonly outputLocation?: string }>>;
  /** Queries QUEUED or RUNNING at once before TooManyRequestsException (default: no limit). */
  readonly concurrencyLimit?: number;
  /** How long a query waits in QUEUED before it runs (default 0). */
  readonly queueDelayMs?: number;
  /**
   * What the endpoint runs: `duckdb` (default) hands the statement to DuckDB
   * as written; `trino` translates Athena's SQL (`trino.ts`) and refuses what
   * it does not understand, with tables, files and snapshots kept by `lake.ts`.
   */
  readonly dialect?: 'duckdb' | 'trino';
  /** `trino`: S3 roots (`s3://bucket/prefix/`) -> local folders. */
  readonly s3Roots?: Readonly<Record<string, string>>;
  /** `trino`: the Glue databases besides the Gold one. */
  readonly databases?: readonly string[];
}

/** A statement made to fail on purpose: the first `times` executions whose text matches. */
export interface StatementFault {
  readonly match: RegExp;
  readonly times: number;
  /** The StateChangeReason (default `GENERIC_INTERNAL_ERROR: injected failure`). */
  readonly reason?: string;
}

type State = 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';
const SHOWN_STEPS = ['QUEUED', 'RUNNING'] as const;

/** One call as the endpoint received and answered it. */
export interface RecordedCall {
  readonly op: string;
  readonly body: Record<string, unknown>;
  readonly status: number;
  readonly errorType?: string;
}

/** A fault for the next `times` calls of an operation. */
export type Fault =
  | {
      readonly op: Operation;
      readonly kind: 'throttle';
      readonly times: number;
      /** TooManyRequestsException (Athena's, default) or the generic ThrottlingException. */
      readonly shape?: 'TooManyRequestsException' | 'ThrottlingException';
    }
  | { readonly op: Operation; readonly kind: 'internal-error'; readonly times: number }
  /** The query is accepted, then the answer is a 500: the client cannot know it started. */
  | { readonly op: 'StartQueryExecution'; readonly kind: 'lose-answer'; readonly times: number };

/** What a test may read about an execution. */
export interface ExecutionView {
  readonly id: string;
  readonly state: State;
  /** The states GetQueryExecution answered, in order, repeats removed. */
  readonly observed: readonly State[];
  readonly request: StartQueryExecutionInput;
  readonly stopRequested: boolean;
  readonly reused: boolean;
  readonly bytesScanned: number;
  readonly reason: string | undefined;
  /** Settles when the DuckDB statement has ended (finished, failed or interrupted). */
  readonly settled: Promise<void>;
}

interface Execution {
  readonly id: string;
  readonly request: StartQueryExecutionInput;
  readonly reuseKey: string;
  readonly workGroup: string;
  readonly outputLocation: string;
  readonly statementType: 'DML' | 'DDL' | 'UTILITY';
  readonly submitted: Date;
  readonly controller: AbortController;
  completed?: Date;
  actual: State;
  /** Index into QUEUED, RUNNING, final: how far clients have been shown. */
  shown: number;
  observed: State[];
  stopRequested: boolean;
  reused: boolean;
  bytesScanned: number;
  reason?: string;
  columns?: readonly ColumnMeta[];
  rows?: readonly Row[];
  settled: Promise<void>;
}

/** The local Athena endpoint. Start with `LocalAthena.start`, stop with `close`. */
export class LocalAthena {
  /** Every call received, in order. */
  readonly calls: RecordedCall[] = [];
  private readonly executions = new Map<string, Execution>();
  private readonly tokens = new Map<string, { id: string; fingerprint: string }>();
  private faults: Array<Fault & { left: number }> = [];
  private statementFaults: Array<StatementFault & { left: number }> = [];
  private concurrencyLimit: number;
  /** `trino` mode: the tables, files and snapshots the translated statements act on. */
  readonly lake: LocalLake | undefined;

  private constructor(
    private readonly server: Server,
    private readonly duck: LocalDuck,
    private readonly catalog: LocalGoldCatalog,
    private readonly options: LocalAthenaOptions,
  ) {
    this.concurrencyLimit = options.concurrencyLimit ?? Number.POSITIVE_INFINITY;
    this.lake =
      options.dialect === 'trino'
        ? new LocalLake(duck, catalog, { s3Roots: options.s3Roots ?? {}, databases: options.databases ?? [] })
        : undefined;
  }

  /** Listen on 127.0.0.1 on a free port. */
  static async start(options: LocalAthenaOptions): Promise<LocalAthena> {
    const store = new LocalObjectStore(options.lakeDir);
    const duck = await LocalDuck.create();
    const catalog = new LocalGoldCatalog(duck, store, options.goldDatabase ?? 'goldgate_gold');
    let self: LocalAthena | undefined;
    const server = createServer((req, res) => {
      void (self as LocalAthena).handle(req, res);
    });
    self = new LocalAthena(server, duck, catalog, options);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return self;
  }

  /** `http://127.0.0.1:<port>`, for the SDK's `endpoint`. */
  get endpoint(): string {
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}`;
  }

  /** Make the next calls of an operation fail. */
  inject(fault: Fault): void {
    this.faults.push({ ...fault, left: fault.times });
  }

  /** Make the next executions of matching statements fail (as FAILED queries, after they were accepted). */
  failStatements(fault: StatementFault): void {
    this.statementFaults.push({ ...fault, left: fault.times });
  }

  /** Forget injected faults that have not fired yet. */
  clearFaults(): void {
    this.faults = [];
    this.statementFaults = [];
  }

  /** Change the concurrent-query limit (`Infinity` for none). */
  setConcurrencyLimit(limit: number): void {
    this.concurrencyLimit = limit;
  }

  /** An execution by id. */
  execution(id: string): ExecutionView | undefined {
    const e = this.executions.get(id);
    return e ? view(e) : undefined;
  }

  /** Every execution, oldest first. */
  allExecutions(): ExecutionView[] {
    return [...this.executions.values()].map(view);
  }

  /** The calls of one operation. */
  callsOf(op: Operation): RecordedCall[] {
    return this.calls.filter((c) => c.op === op);
  }

  async close(): Promise<void> {
    for (const e of this.executions.values()) e.controller.abort();
    await Promise.allSettled([...this.executions.values()].map((e) => e.settled));
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.duck.close();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const target = String(req.headers['x-amz-target'] ?? '');
    const op = target.startsWith('AmazonAthena.') ? target.slice('AmazonAthena.'.length) : target;
    let body: Record<string, unknown> = {};
    try {
      const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed))
        body = parsed as Record<string, unknown>;
    } catch {
      return this.answerError(res, op, body, {
        status: 400,
        type: 'SerializationException',
        message: 'body is not JSON',
      });
    }
    if (req.method !== 'POST' || (req.url ?? '/') !== '/') {
      return this.answerError(res, op, body, { status: 404, type: 'UnknownOperationException', message: '' });
    }
    if (!String(req.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256 ')) {
      return this.answerError(res, op, body, {
        status: 400,
        type: 'MissingAuthenticationTokenException',
        message: 'Missing Authentication Token',
      });
    }
    if (!(OPERATIONS as readonly string[]).includes(op)) {
      return this.answerError(res, op, body, { status: 400, type: 'UnknownOperationException', message: '' });
    }
    const operation = op as Operation;
    const fault = this.takeFault(operation);
    if (fault && fault.kind !== 'lose-answer') {
      const wire =
        fault.kind === 'internal-error'
          ? internalError()
          : fault.shape === 'ThrottlingException'
            ? throttling()
            : tooManyRequests();
      return this.answerError(res, op, body, wire);
    }
    try {
      const answer = await this.dispatch(operation, body);
      if (fault?.kind === 'lose-answer') return this.answerError(res, op, body, internalError());
      this.calls.push({ op, body, status: 200 });
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': requestId() });
      res.end(JSON.stringify(answer));
    } catch (error) {
      if (error instanceof WireFault) return this.answerError(res, op, body, error.wire);
      return this.answerError(res, op, body, internalError());
    }
  }

  private answerError(res: ServerResponse, op: string, body: Record<string, unknown>, wire: WireError): void {
    this.calls.push({ op, body, status: wire.status, errorType: wire.type });
    res.writeHead(wire.status, {
      'content-type': 'application/x-amz-json-1.1',
      'x-amzn-requestid': requestId(),
      'x-amzn-errortype': `${wire.type}:`,
    });
    res.end(JSON.stringify({ __type: wire.type, Message: wire.message, ...wire.fields }));
  }

  private takeFault(op: Operation): Fault | undefined {
    const fault = this.faults.find((f) => f.op === op && f.left > 0);
    if (!fault) return undefined;
    fault.left -= 1;
    return fault;
  }

  private dispatch(op: Operation, body: Record<string, unknown>): Promise<unknown> | unknown {
    switch (op) {
      case 'StartQueryExecution':
        return this.startQueryExecution(parse(startQueryExecutionInput, body));
      case 'GetQueryExecution':
        return this.getQueryExecution(parse(queryExecutionIdInput, body).QueryExecutionId);
      case 'GetQueryResults':
        return this.getQueryResults(parse(getQueryResultsInput, body));
      case 'StopQueryExecution':
        return this.stopQueryExecution(parse(queryExecutionIdInput, body).QueryExecutionId);
    }
  }

  private startQueryExecution(input: StartQueryExecutionInput): { QueryExecutionId: string } {
    const { ClientRequestToken: token, ...rest } = input;
    const fingerprint = JSON.stringify(rest);
    if (token) {
      const earlier = this.tokens.get(token);
      if (earlier) {
        if (earlier.fingerprint !== fingerprint)
          throw new WireFault(invalidRequest('Idempotent parameters do not match'));
        return { QueryExecutionId: earlier.id };
      }
    }
    const workGroup = input.WorkGroup ?? 'primary';
    const groups = this.options.workGroups ?? { primary: {} };
    const group = groups[workGroup];
    if (!group) throw new WireFault(invalidRequest('WorkGroup does not exist'));
    const outputRoot = group.outputLocation ?? input.ResultConfiguration?.OutputLocation;
    if (!outputRoot) {
      throw new WireFault(
        invalidRequest(
          'No output location provided. An output location is required either through the Workgroup result configuration setting or as an API input.',
        ),
      );
    }
    const active = [...this.executions.values()].filter(
      (e) => e.actual === 'QUEUED' || e.actual === 'RUNNING',
    );
    if (active.length >= this.concurrencyLimit) throw new WireFault(tooManyRequests());
    const id = randomUUID();
    // Athena documents its reuse match as the query text, database and catalog, workgroup and result
    // settings. It says nothing of ExecutionParameters, so the endpoint takes the strict reading and
    // leaves them out: a client asking reuse for a parameterised statement gets the rows of other values.
    const reuseKey = JSON.stringify([
      input.QueryString,
      input.QueryExecutionContext ?? {},
      workGroup,
      outputRoot,
    ]);
    const execution: Execution = {
      id,
      request: input,
      reuseKey,
      workGroup,
      outputLocation: `${outputRoot.endsWith('/') ? outputRoot : `${outputRoot}/`}${id}.csv`,
      statementType: statementType(input.QueryString),
      submitted: new Date(),
      controller: new AbortController(),
      actual: 'QUEUED',
      shown: 0,
      observed: [],
      stopRequested: false,
      reused: false,
      bytesScanned: 0,
      settled: Promise.resolve(),
    };
    this.executions.set(id, execution);
    if (token) this.tokens.set(token, { id, fingerprint });
    const earlier = this.reusable(input, reuseKey, id);
    if (earlier) {
      execution.reused = true;
      execution.columns = earlier.columns;
      execution.rows = earlier.rows;
      this.finish(execution, 'SUCCEEDED');
    } else {
      execution.settled = this.run(execution);
    }
    return { QueryExecutionId: id };
  }

  private reusable(input: StartQueryExecutionInput, key: string, self: string): Execution | undefined {
    const reuse = input.ResultReuseConfiguration?.ResultReuseByAgeConfiguration;
    if (!reuse?.Enabled) return undefined;
    const oldest = Date.now() - (reuse.MaxAgeInMinutes ?? 60) * 60_000;
    return [...this.executions.values()]
      .filter(
        (e) =>
          e.id !== self &&
          e.reuseKey === key &&
          e.actual === 'SUCCEEDED' &&
          (e.completed?.getTime() ?? 0) >= oldest,
      )
      .at(-1);
  }

  private async run(execution: Execution): Promise<void> {
    const delay = this.options.queueDelayMs ?? 0;
    if (delay > 0) await sleep(delay);
    if (execution.actual !== 'QUEUED') return;
    execution.actual = 'RUNNING';
    const { QueryString: text, ExecutionParameters: literals = [] } = execution.request;
    const values: SqlValue[] = [];
    for (const [i, literal] of literals.entries()) {
      const value = parseParameter(literal);
      if (value === undefined)
        return this.fail(
          execution,
          `INVALID_FUNCTION_ARGUMENT: execution parameter ${i + 1} is not a literal`,
        );
      values.push(value);
    }
    try {
      const placed = bindInWhereOnly({ text, params: values });
      if (placed.params.length !== values.length) {
        return this.fail(
          execution,
          'NOT_SUPPORTED: parameters (?) are supported only in the WHERE clause of SELECT, INSERT INTO, CTAS and UNLOAD',
        );
      }
    } catch {
      return this.fail(
        execution,
        `INVALID_PARAMETER_USAGE: the statement and the ${values.length} execution parameters do not match`,
      );
    }
    const injected = this.statementFaults.find((f) => f.left > 0 && f.match.test(text));
    if (injected) {
      injected.left -= 1;
      return this.fail(execution, injected.reason ?? 'GENERIC_INTERNAL_ERROR: injected failure');
    }
    if (this.lake) return this.runTranslated(execution, this.lake, text, values);
    try {
      const prepared = await this.catalog.prepare(text);
      if (!prepared.ok) {
        const catalog = (execution.request.QueryExecutionContext?.Catalog ?? 'AwsDataCatalog').toLowerCase();
        return this.fail(execution, `TABLE_NOT_FOUND: Table '${catalog}.${prepared.missing}' does not exist`);
      }
      const result = await this.duck.run(text, values, execution.controller.signal);
      if (execution.actual !== 'RUNNING') return;
      execution.columns = result.columns;
      execution.rows = result.rows;
      execution.bytesScanned = prepared.bytes;
      this.finish(execution, 'SUCCEEDED');
    } catch (error) {
      if (execution.actual !== 'RUNNING') return;
      this.fail(execution, athenaReason(error));
    }
  }

  /** `trino` mode: translate, then let the lake run the plan. */
  private async runTranslated(
    execution: Execution,
    lake: LocalLake,
    text: string,
    values: readonly SqlValue[],
  ): Promise<void> {
    let translation: Translation;
    try {
      translation = translateStatement(text, lake.databases());
    } catch (error) {
      if (error instanceof TranslationError) return this.fail(execution, `NOT_SUPPORTED: ${error.message}`);
      throw error;
    }
    try {
      const result = await lake.execute(translation, values, execution.controller.signal, execution.id);
      if (execution.actual !== 'RUNNING') return;
      execution.columns = result.columns;
      execution.rows = result.rows;
      this.finish(execution, 'SUCCEEDED');
    } catch (error) {
      if (execution.actual !== 'RUNNING') return;
      this.fail(execution, error instanceof AthenaFailure ? error.message : athenaReason(error));
    }
  }

  private finish(execution: Execution, state: 'SUCCEEDED' | 'FAILED' | 'CANCELLED', reason?: string): void {
    execution.actual = state;
    execution.completed = new Date();
    if (reason !== undefined) execution.reason = reason;
  }

  private fail(execution: Execution, reason: string): void {
    if (execution.actual === 'RUNNING' || execution.actual === 'QUEUED')
      this.finish(execution, 'FAILED', reason);
  }

  /**
   * The state a poll shows: where the last poll left off, then one step on
   * (never past the real state), so successive polls see every state in order.
   */
  private shownState(execution: Execution, advance: boolean): State {
    const final = execution.actual !== 'QUEUED' && execution.actual !== 'RUNNING';
    const real = final ? 2 : execution.actual === 'RUNNING' ? 1 : 0;
    const state = execution.shown >= 2 ? execution.actual : (SHOWN_STEPS[execution.shown] as State);
    if (advance) {
      if (execution.observed.at(-1) !== state) execution.observed.push(state);
      if (execution.shown < real) execution.shown += 1;
    }
    return state;
  }

  private lookup(id: string): Execution {
    const execution = this.executions.get(id);
    if (!execution)
      throw new WireFault(invalidRequest(`QueryExecution ${id} was not found`, 'INVALID_INPUT'));
    return execution;
  }

  private getQueryExecution(id: string): unknown {
    const e = this.lookup(id);
    const state = this.shownState(e, true);
    const final = state === 'SUCCEEDED' || state === 'FAILED' || state === 'CANCELLED';
    const completed = final ? (e.completed ?? new Date()) : undefined;
    const elapsed = completed ? completed.getTime() - e.submitted.getTime() : 0;
    const reuse = e.request.ResultReuseConfiguration?.ResultReuseByAgeConfiguration;
    return {
      QueryExecution: {
        QueryExecutionId: e.id,
        Query: e.request.QueryString,
        StatementType: e.statementType,
        ResultConfiguration: { OutputLocation: e.outputLocation },
        ResultReuseConfiguration: {
          ResultReuseByAgeConfiguration: reuse
            ? { Enabled: reuse.Enabled, MaxAgeInMinutes: reuse.MaxAgeInMinutes ?? 60 }
            : { Enabled: false },
        },
        QueryExecutionContext: e.request.QueryExecutionContext ?? {},
        ...(e.request.ExecutionParameters ? { ExecutionParameters: e.request.ExecutionParameters } : {}),
        Status: {
          State: state,
          ...(final && e.reason ? { StateChangeReason: e.reason } : {}),
          SubmissionDateTime: e.submitted.getTime() / 1000,
          ...(completed ? { CompletionDateTime: completed.getTime() / 1000 } : {}),
          ...(state === 'FAILED'
            ? { AthenaError: { ErrorCategory: 2, Retryable: false, ErrorMessage: e.reason ?? '' } }
            : {}),
        },
        Statistics: {
          EngineExecutionTimeInMillis: elapsed,
          DataScannedInBytes: state === 'SUCCEEDED' && !e.reused ? e.bytesScanned : 0,
          TotalExecutionTimeInMillis: elapsed,
          QueryQueueTimeInMillis: 0,
          ServicePreProcessingTimeInMillis: 0,
          QueryPlanningTimeInMillis: 0,
          ServiceProcessingTimeInMillis: 0,
          ResultReuseInformation: { ReusedPreviousResult: e.reused },
        },
        WorkGroup: e.workGroup,
        EngineVersion: { SelectedEngineVersion: 'AUTO', EffectiveEngineVersion: 'Athena engine version 3' },
      },
    };
  }

  private getQueryResults(input: z.infer<typeof getQueryResultsInput>): unknown {
    const e = this.lookup(input.QueryExecutionId);
    const state = this.shownState(e, false);
    if (state !== 'SUCCEEDED') {
      const message =
        state === 'QUEUED' || state === 'RUNNING'
          ? `Query has not yet finished. Current state: ${state}`
          : (e.reason ?? `Query did not finish successfully. Final query state: ${state}`);
      throw new WireFault(invalidRequest(message, 'INVALID_INPUT'));
    }
    const columns = e.columns ?? [];
    const rows = e.rows ?? [];
    const max = input.MaxResults ?? 1000;
    let offset = 0;
    if (input.NextToken) {
      const token = decodeToken(input.NextToken);
      if (!token || token.id !== e.id)
        throw new WireFault(invalidRequest('Invalid NextToken', 'INVALID_INPUT'));
      offset = token.offset;
    }
    const header = e.statementType === 'DML' && offset === 0;
    const take = header ? max - 1 : max;
    const page = rows.slice(offset, offset + take);
    const next = offset + page.length;
    const data = page.map((row) => ({
      Data: columns.map((c) => {
        const text = renderCell(row[c.name] ?? null, c.sqlType);
        return text === undefined ? {} : { VarCharValue: text };
      }),
    }));
    return {
      ResultSet: {
        Rows: header ? [{ Data: columns.map((c) => ({ VarCharValue: c.name })) }, ...data] : data,
        ResultSetMetadata: { ColumnInfo: columns.map(columnInfo) },
      },
      ...(next < rows.length ? { NextToken: encodeToken(e.id, next) } : {}),
    };
  }

  private stopQueryExecution(id: string): Record<string, never> {
    const e = this.lookup(id);
    e.stopRequested = true;
    if (e.actual === 'QUEUED' || e.actual === 'RUNNING') {
      this.finish(e, 'CANCELLED', 'Query cancelled by user');
      e.shown = 2;
      e.controller.abort();
    }
    return {};
  }
}

function view(e: Execution): ExecutionView {
  return {
    id: e.id,
    state: e.actual,
    observed: [...e.observed],
    request: e.request,
    stopRequested: e.stopRequested,
    reused: e.reused,
    bytesScanned: e.bytesScanned,
    reason: e.reason,
    settled: e.settled,
  };
}

function parse<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body);
  if (!result.success) {
    const issues = result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new WireFault(
      invalidRequest(`${issues.length} validation error(s) detected: ${issues.join('; ')}`),
    );
  }
  return result.data;
}

/** Athena's StatementType from the statement's first word. */
function statementType(text: string): 'DML' | 'DDL' | 'UTILITY' {
  const first = /^[\s(]*([A-Za-z]+)/.exec(text)?.[1]?.toUpperCase() ?? '';
  if (['SELECT', 'WITH', 'VALUES', 'TABLE', 'INSERT', 'UNLOAD', 'MERGE', 'UPDATE', 'DELETE'].includes(first))
    return 'DML';
  if (['SHOW', 'DESCRIBE', 'EXPLAIN'].includes(first)) return 'UTILITY';
  return 'DDL';
}

/** DuckDB's error as an Athena StateChangeReason (`ERROR_NAME: message`). */
function athenaReason(error: unknown): string {
  const reason =
    (error as { reason?: unknown }).reason ?? (error instanceof Error ? error.message : String(error));
  const text = String(reason);
  const name = text.includes('Parser Error')
    ? 'SYNTAX_ERROR'
    : text.includes('Binder Error')
      ? 'COLUMN_NOT_FOUND'
      : text.includes('Catalog Error')
        ? 'TABLE_NOT_FOUND'
        : text.includes('Conversion Error') || text.includes('Invalid Input Error')
          ? 'INVALID_CAST_ARGUMENT'
          : 'GENERIC_INTERNAL_ERROR';
  return `${name}: ${text}`;
}

function requestId(): string {
  return randomBytes(26).toString('base64url');
}

function encodeToken(id: string, offset: number): string {
  return Buffer.from(JSON.stringify({ id, offset })).toString('base64url');
}

function decodeToken(token: string): { id: string; offset: number } | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (
      value &&
      typeof value === 'object' &&
      typeof (value as { id?: unknown }).id === 'string' &&
      Number.isInteger((value as { offset?: unknown }).offset)
    ) {
      return value as { id: string; offset: number };
    }
  } catch {
    // fall through
  }
  return undefined;
}
