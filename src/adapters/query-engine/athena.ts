import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  AthenaClient,
  type AthenaClientConfig,
  type ColumnInfo,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  type GetQueryResultsOutput,
  type QueryExecution,
  StartQueryExecutionCommand,
  type StartQueryExecutionInput,
  StopQueryExecutionCommand,
} from '@aws-sdk/client-athena';
import { MARTS } from '../../catalog/index.js';
import { isGoldgateError } from '../../errors.js';
import { InvalidNameError } from '../../lake/errors.js';
import { goldDataset, runPrefix } from '../../lake/layout.js';
import { assertRunId } from '../../lake/run-id.js';
import { logger } from '../../runtime/logger.js';
import { ident, type SqlFragment } from '../../sql/fragment.js';
import { bindInWhereOnly, CLAUSES, QUERY_STARTS, trinoLiteral } from '../../transform/athena/bind.js';
import { goldRunTable, qualified } from '../../transform/athena/config.js';
import {
  AthenaQueryStateError,
  EngineBusyError,
  QueryAbortedError,
  QueryFailedError,
  QueryTimeoutError,
} from './errors.js';
import {
  type Cell,
  type ColumnMeta,
  type MartVersionRef,
  type QueryCursor,
  type QueryEngine,
  type QueryRequest,
  type QueryResult,
  type QueryStats,
  type Row,
  readCursor,
} from './port.js';

/** Settings of the Athena engine (one per container; see `sharedAthenaClient`). */
export interface AthenaEngineOptions {
  readonly client: AthenaClient;
  /** Whether `close()` destroys the client: false for the container's shared client. */
  readonly ownsClient?: boolean;
  readonly workGroup: string;
  /** The data catalog (default `AwsDataCatalog`). */
  readonly catalog?: string;
  /** The Glue database of Gold: the statements' context and the home of every run table. */
  readonly database: string;
  /** `s3://...` for results; leave unset when the workgroup enforces its own. */
  readonly outputLocation?: string;
  /** Polling of GetQueryExecution: first wait, doubled up to the cap. */
  readonly poll?: { readonly initialMs?: number; readonly maxMs?: number };
  /** Retries of throttled or failed calls, full jitter: attempts in all, first and largest wait. */
  readonly retry?: { readonly attempts?: number; readonly baseMs?: number; readonly maxMs?: number };
  /** Reuse results of Gold run reads up to this age; 0 or unset turns reuse off. */
  readonly resultReuseMaxAgeMinutes?: number;
  /** Rows asked per GetQueryResults page (Athena's maximum, 1000, by default). */
  readonly pageSize?: number;
  /** Marts `martRelation` may name (default: the mart catalog). */
  readonly marts?: Iterable<string>;
  /** How long to keep trying StopQueryExecution after a timeout or abort. */
  readonly stopTimeoutMs?: number;
}

/** Athena's limit of rows per GetQueryResults page. */
export const ATHENA_MAX_PAGE = 1000;

const DEFAULTS = {
  catalog: 'AwsDataCatalog',
  pollInitialMs: 100,
  pollMaxMs: 2_000,
  retryAttempts: 5,
  retryBaseMs: 100,
  retryMaxMs: 5_000,
  stopTimeoutMs: 10_000,
} as const;

/**
 * The query engine on AWS: Athena over its JSON API, one statement per
 * StartQueryExecution, polled to a final state, results paged from
 * GetQueryResults and converted to the port's cells by their ColumnInfo type.
 *
 * Values travel as ExecutionParameters where Athena takes a `?` (the WHERE
 * clause of SELECT, INSERT INTO, CTAS and UNLOAD); anywhere else they are
 * written as escaped Trino literals (`athenaStatement`). Every start carries a
 * ClientRequestToken, so retries after throttling or a lost answer never run a
 * statement twice. Timeouts and aborts stop the statement on Athena
 * (StopQueryExecution) before the typed error reaches the caller.
 */
export class AthenaQueryEngine implements QueryEngine {
  readonly kind = 'athena';
  private readonly client: AthenaClient;
  private readonly marts: ReadonlySet<string>;
  private readonly running = new Set<string>();
  private closed = false;

  constructor(private readonly options: AthenaEngineOptions) {
    this.client = options.client;
    ident(options.database);
    const pageSize = options.pageSize ?? ATHENA_MAX_PAGE;
    if (!Number.isInteger(pageSize) || pageSize < 2 || pageSize > ATHENA_MAX_PAGE)
      throw new TypeError(`pageSize must be 2..${ATHENA_MAX_PAGE}`);
    const reuse = options.resultReuseMaxAgeMinutes ?? 0;
    if (!Number.isInteger(reuse) || reuse < 0 || reuse > 10_080)
      throw new TypeError('resultReuseMaxAgeMinutes must be 0..10080');
    this.marts = new Set(options.marts ?? MARTS.map((mart) => mart.name));
  }

  /**
   * The run-scoped Gold table the Athena transforms write (`goldRunTable`),
   * in the Gold database: `"db"."{mart}__v{N}__{run}"`. Only catalog marts and
   * validated run ids make a name, and the prefix must be that run's.
   */
  martRelation(ref: MartVersionRef): SqlFragment {
    if (!this.marts.has(ref.mart)) throw new InvalidNameError('not a catalog mart');
    assertRunId(ref.runId);
    if (ref.prefix !== runPrefix(goldDataset(ref.mart, ref.schemaVersion), ref.runId))
      throw new InvalidNameError('mart prefix does not name the run');
    return qualified(this.options.database, goldRunTable(ref.mart, ref.schemaVersion, ref.runId));
  }

  async stream(request: QueryRequest): Promise<QueryCursor> {
    const label = request.label ?? 'query';
    const guard = new StopGuard(request);
    try {
      const { id, execution } = await this.run(request, guard, label);
      const first = await this.page(id, undefined, guard);
      const infos = first.ResultSet?.ResultSetMetadata?.ColumnInfo ?? [];
      const columns = infos.map(columnMeta);
      const convert = infos.map((info) => cellConverter(info));
      const toRow = (data: ReadonlyArray<{ VarCharValue?: string }> | undefined): Row => {
        const row: Row = {};
        columns.forEach((column, i) => {
          const text = data?.[i]?.VarCharValue;
          row[column.name] = text === undefined ? null : (convert[i] as CellConverter)(text);
        });
        return row;
      };
      const stats = statsOf(id, execution);
      let pending: GetQueryResultsOutput | undefined = first;
      // Athena puts the column names first on the first page of a DML result only.
      let rowsToSkip = execution.StatementType === 'DML' ? 1 : 0;
      let released = false;
      const release = async (): Promise<void> => {
        released = true;
        guard.dispose();
      };
      const engine = this;
      return {
        columns,
        stats,
        close: release,
        async *[Symbol.asyncIterator]() {
          try {
            while (pending && !released) {
              const rows = (pending.ResultSet?.Rows ?? []).slice(rowsToSkip).map((r) => toRow(r.Data));
              rowsToSkip = 0;
              const token = pending.NextToken;
              if (rows.length > 0) yield rows;
              pending = token && !released ? await engine.page(id, token, guard) : undefined;
            }
          } catch (error) {
            throw guard.translate(error, label);
          } finally {
            await release();
          }
        },
      };
    } catch (error) {
      guard.dispose();
      throw guard.translate(error, label);
    }
  }

  async query(request: QueryRequest): Promise<QueryResult> {
    return readCursor(await this.stream(request));
  }

  async execute(request: QueryRequest): Promise<QueryStats> {
    const label = request.label ?? 'query';
    const guard = new StopGuard(request);
    try {
      const { id, execution } = await this.run(request, guard, label);
      return statsOf(id, execution);
    } catch (error) {
      throw guard.translate(error, label);
    } finally {
      guard.dispose();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.running].map((id) => this.stop(id)));
    if (this.options.ownsClient) this.client.destroy();
  }

  /** Start the statement and poll it to a final state; stop it if the caller gives up first. */
  private async run(
    request: QueryRequest,
    guard: StopGuard,
    label: string,
  ): Promise<{ id: string; execution: QueryExecution }> {
    if (this.closed) throw new EngineBusyError('engine is closed');
    guard.throwIfStopped();
    const statement = athenaStatement(request.sql);
    const maxAge = this.options.resultReuseMaxAgeMinutes ?? 0;
    // Athena documents its reuse match as the query text, database, catalog and result settings, and
    // says nothing of ExecutionParameters: a statement with any might be answered with the rows of
    // other values (another caller's row scope), so only parameter-free Gold reads ask for reuse.
    const reuse =
      maxAge > 0 && statement.params.length === 0 && readsOnlyGoldRuns(statement.text, this.options.database);
    const input: StartQueryExecutionInput = {
      QueryString: statement.text,
      // One token per statement, kept across retries: Athena answers a repeat with the same id.
      ClientRequestToken: randomUUID(),
      WorkGroup: this.options.workGroup,
      QueryExecutionContext: {
        Catalog: this.options.catalog ?? DEFAULTS.catalog,
        Database: this.options.database,
      },
      ...(this.options.outputLocation
        ? { ResultConfiguration: { OutputLocation: this.options.outputLocation } }
        : {}),
      ...(statement.params.length > 0 ? { ExecutionParameters: statement.params.map(trinoLiteral) } : {}),
      ...(reuse
        ? {
            ResultReuseConfiguration: {
              ResultReuseByAgeConfiguration: { Enabled: true, MaxAgeInMinutes: maxAge },
            },
          }
        : {}),
    };
    // The start itself is not cut short: once Athena has the statement, its id is needed to stop it.
    const started = await this.call(
      () => this.client.send(new StartQueryExecutionCommand(input)),
      guard,
      false,
    );
    const id = started.QueryExecutionId;
    if (!id)
      throw new QueryFailedError(label, { reason: 'StartQueryExecution returned no QueryExecutionId' });
    this.running.add(id);
    const began = Date.now();
    try {
      const execution = await this.waitFor(id, guard);
      const state = execution.Status?.State;
      if (state !== 'SUCCEEDED') {
        const status = execution.Status;
        const cause = new AthenaQueryStateError(id, state ?? 'UNKNOWN', status?.StateChangeReason, {
          category: status?.AthenaError?.ErrorCategory,
          type: status?.AthenaError?.ErrorType,
          retryable: status?.AthenaError?.Retryable,
        });
        logger.warn('athena query did not succeed', {
          label,
          query_id: id,
          state: cause.state,
          reason: cause.reason,
          athena_error: cause.athenaError,
        });
        throw new QueryFailedError(label, { cause, reason: cause.reason ?? cause.state });
      }
      logger.debug('athena query', {
        label,
        query_id: id,
        ms: Date.now() - began,
        bytes_scanned: execution.Statistics?.DataScannedInBytes,
        reused: execution.Statistics?.ResultReuseInformation?.ReusedPreviousResult ?? false,
      });
      return { id, execution };
    } catch (error) {
      if (guard.stopped) await this.stop(id);
      throw error;
    } finally {
      this.running.delete(id);
    }
  }

  /** Poll with capped exponential backoff until the statement is final. */
  private async waitFor(id: string, guard: StopGuard): Promise<QueryExecution> {
    let delay = this.options.poll?.initialMs ?? DEFAULTS.pollInitialMs;
    const cap = this.options.poll?.maxMs ?? DEFAULTS.pollMaxMs;
    for (;;) {
      const out = await this.call(
        (signal) =>
          this.client.send(new GetQueryExecutionCommand({ QueryExecutionId: id }), { abortSignal: signal }),
        guard,
        true,
      );
      const execution = out.QueryExecution ?? {};
      const state = execution.Status?.State;
      if (state === 'SUCCEEDED' || state === 'FAILED' || state === 'CANCELLED') return execution;
      await sleep(delay, undefined, { signal: guard.signal });
      delay = Math.min(delay * 2, cap);
    }
  }

  private page(id: string, token: string | undefined, guard: StopGuard): Promise<GetQueryResultsOutput> {
    return this.call(
      (signal) =>
        this.client.send(
          new GetQueryResultsCommand({
            QueryExecutionId: id,
            MaxResults: this.options.pageSize ?? ATHENA_MAX_PAGE,
            ...(token ? { NextToken: token } : {}),
          }),
          { abortSignal: signal },
        ),
      guard,
      true,
    );
  }

  /** Best effort: a statement left running costs money, but a failed stop must not hide the caller's error. */
  private async stop(id: string): Promise<void> {
    const guard = new StopGuard({ timeoutMs: this.options.stopTimeoutMs ?? DEFAULTS.stopTimeoutMs });
    try {
      await this.call(
        (signal) =>
          this.client.send(new StopQueryExecutionCommand({ QueryExecutionId: id }), { abortSignal: signal }),
        guard,
        true,
      );
      logger.info('athena query stopped', { query_id: id });
    } catch (error) {
      logger.warn('athena query could not be stopped', { query_id: id, error: errorDetails(error) });
    } finally {
      guard.dispose();
    }
  }

  /**
   * One API call with retries on throttling and transient faults, waits drawn
   * with full jitter. The SDK's own retries are off (`createAthenaClient`), so
   * attempts do not multiply. Exhausted retries are `ENGINE_BUSY`.
   */
  private async call<T>(
    send: (signal: AbortSignal | undefined) => Promise<T>,
    guard: StopGuard,
    abortable: boolean,
  ): Promise<T> {
    const attempts = this.options.retry?.attempts ?? DEFAULTS.retryAttempts;
    const base = this.options.retry?.baseMs ?? DEFAULTS.retryBaseMs;
    const cap = this.options.retry?.maxMs ?? DEFAULTS.retryMaxMs;
    for (let attempt = 1; ; attempt += 1) {
      guard.throwIfStopped();
      try {
        return await send(abortable ? guard.signal : undefined);
      } catch (error) {
        guard.throwIfStopped();
        const kind = retryKind(error);
        if (!kind) throw error;
        if (attempt >= attempts) {
          throw new EngineBusyError(kind === 'throttled' ? 'engine is throttled' : 'engine is unavailable', {
            cause: error,
          });
        }
        const wait = Math.random() * Math.min(cap, base * 2 ** (attempt - 1));
        await sleep(wait, undefined, { signal: guard.signal });
      }
    }
  }
}

/** Stops a statement on timeout or abort and remembers which it was. */
class StopGuard {
  private why: 'timeout' | 'abort' | undefined;
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly onAbort = (): void => this.stop('abort');

  constructor(private readonly request: Pick<QueryRequest, 'signal' | 'timeoutMs'>) {
    if (request.timeoutMs !== undefined)
      this.timer = setTimeout(() => this.stop('timeout'), request.timeoutMs);
    if (request.signal?.aborted) this.stop('abort');
    else request.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get stopped(): boolean {
    return this.why !== undefined;
  }

  throwIfStopped(): void {
    if (this.why) throw this.stoppedError();
  }

  /** The port's error for whatever ended the statement; unknown errors become ENGINE_QUERY_FAILED. */
  translate(error: unknown, label: string): Error {
    if (this.why) return this.stoppedError();
    if (isGoldgateError(error)) return error;
    return new QueryFailedError(label, { cause: error, reason: errorDetails(error).message });
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.request.signal?.removeEventListener('abort', this.onAbort);
  }

  private stop(why: 'timeout' | 'abort'): void {
    if (this.why) return;
    this.why = why;
    this.controller.abort();
  }

  private stoppedError(): Error {
    return this.why === 'timeout'
      ? new QueryTimeoutError(this.request.timeoutMs ?? 0)
      : new QueryAbortedError();
  }
}

const THROTTLING = new Set([
  'TooManyRequestsException',
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'RequestLimitExceeded',
]);
const TRANSIENT_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN']);

/** Whether an API error is worth another attempt, and why. */
function retryKind(error: unknown): 'throttled' | 'unavailable' | undefined {
  if (!(error instanceof Error)) return undefined;
  if (THROTTLING.has(error.name)) return 'throttled';
  const meta = (error as { $metadata?: { httpStatusCode?: number } }).$metadata;
  if (error.name === 'InternalServerException' || (meta?.httpStatusCode ?? 0) >= 500) return 'unavailable';
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && TRANSIENT_CODES.has(code)) return 'unavailable';
  if (error.name === 'TimeoutError' && !(error instanceof DOMException)) return 'unavailable';
  return undefined;
}

/** Name, message and Athena's error code of a thrown value, for logs and `reason`. */
function errorDetails(error: unknown): { name: string; message: string; athenaErrorCode?: string } {
  if (!(error instanceof Error)) return { name: 'NonError', message: String(error) };
  const code = (error as { AthenaErrorCode?: unknown }).AthenaErrorCode;
  return {
    name: error.name,
    message: error.message,
    ...(typeof code === 'string' ? { athenaErrorCode: code } : {}),
  };
}

function statsOf(id: string, execution: QueryExecution): QueryStats {
  const bytes = execution.Statistics?.DataScannedInBytes;
  return bytes === undefined ? { queryId: id } : { queryId: id, bytesScanned: bytes };
}

// ---------------------------------------------------------------------------
// Statements: where values may travel as ExecutionParameters

interface Token {
  readonly kind: 'word' | 'quoted' | 'string' | 'number' | 'param' | 'punct';
  readonly text: string;
  /** Upper-case word, or the unquoted name of a quoted identifier. */
  readonly name: string;
}

const LEXEME =
  /(\s+|--[^\n]*|\/\*[\s\S]*?\*\/)|('(?:[^']|'')*')|("(?:[^"]|"")*")|([A-Za-z_][A-Za-z0-9_]*)|(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)|(\?)|([\s\S])/y;

/** Split SQL into tokens; blanks and comments are dropped, quoted text stays whole. */
function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  LEXEME.lastIndex = 0;
  for (let m = LEXEME.exec(text); m; m = LEXEME.exec(text)) {
    const [lexeme, blank, str, quoted, word, num, param] = m;
    if (blank !== undefined) continue;
    if (str !== undefined) tokens.push({ kind: 'string', text: lexeme, name: '' });
    else if (quoted !== undefined)
      tokens.push({ kind: 'quoted', text: lexeme, name: quoted.slice(1, -1).replaceAll('""', '"') });
    else if (word !== undefined) tokens.push({ kind: 'word', text: lexeme, name: word.toUpperCase() });
    else if (num !== undefined) tokens.push({ kind: 'number', text: lexeme, name: '' });
    else if (param !== undefined) tokens.push({ kind: 'param', text: lexeme, name: '' });
    else tokens.push({ kind: 'punct', text: lexeme, name: lexeme });
  }
  return tokens;
}

/** Statements whose WHERE clauses take `?` on Athena (its documented list). */
const PARAMETERISED = new Set(['SELECT', 'WITH', 'VALUES', 'TABLE', 'INSERT', 'UNLOAD']);
/** Statements Athena hands to its Hive DDL engine, whose literals have other escapes. */
const HIVE_DDL = new Set(['ALTER', 'DROP', 'MSCK', 'SHOW', 'DESCRIBE', 'DESC']);

function firstWords(tokens: readonly Token[]): string[] {
  return tokens.filter((t) => t.kind === 'word').map((t) => t.name);
}

/** `CREATE TABLE ... AS SELECT/WITH/(`: AS at the statement's own level. */
function isCtas(tokens: readonly Token[]): boolean {
  const words = firstWords(tokens.slice(0, 3));
  if (words[0] !== 'CREATE' || words[1] !== 'TABLE') return false;
  let depth = 0;
  for (let i = 0; i < tokens.length; i += 1) {
    const t = tokens[i] as Token;
    if (t.text === '(') depth += 1;
    else if (t.text === ')') depth -= 1;
    else if (depth === 0 && t.kind === 'word' && t.name === 'AS') {
      const next = tokens[i + 1];
      return next !== undefined && (next.text === '(' || next.name === 'SELECT' || next.name === 'WITH');
    }
  }
  return false;
}

/**
 * The statement as Athena may run it. Athena binds a `?` only in the WHERE
 * clause of SELECT, INSERT INTO, CTAS and UNLOAD ("SELECT ? FROM table is not
 * supported"), while the port's callers bind values anywhere (a SELECT list,
 * LIMIT, a VALUES row, a CASE). So:
 * - SELECT/INSERT/CTAS/UNLOAD go through `bindInWhereOnly` (the Athena
 *   transforms' rewrite): placeholders in a WHERE clause stay bound and travel
 *   as ExecutionParameters; any other value becomes a Trino literal written the
 *   strict way (quotes doubled, NUL refused: a Trino string has no other escape);
 * - other Trino statements (MERGE, UPDATE, DELETE, CREATE VIEW, maintenance)
 *   take no parameters at all, so every value becomes such a literal;
 * - Hive DDL (ALTER, DROP, CREATE EXTERNAL TABLE, MSCK, SHOW) takes no values
 *   from here: its string literals honour backslash escapes, so the strict
 *   Trino literal is not safe there. Generated DDL writes validated literals
 *   itself (`transform/athena/config.ts`, `literal`).
 * ExecutionParameters are themselves literals by Athena's definition (a string
 * value is sent as `'text'`), parsed by Athena apart from the statement.
 */
export function athenaStatement(fragment: SqlFragment): SqlFragment {
  if (fragment.params.length === 0) return fragment;
  const tokens = tokenize(fragment.text);
  const words = firstWords(tokens.slice(0, 4));
  const first = words[0] ?? '';
  if (PARAMETERISED.has(first) || isCtas(tokens)) return bindInWhereOnly(fragment);
  const hive =
    HIVE_DDL.has(first) ||
    (first === 'CREATE' && !(words[1] === 'VIEW' || (words[1] === 'OR' && words[3] === 'VIEW')));
  if (hive) throw new TypeError('Athena runs this statement as Hive DDL, which takes no bound values');
  return inlineEvery(fragment);
}

/** Write every value of a statement that takes no parameters as a strict Trino literal. */
function inlineEvery(fragment: SqlFragment): SqlFragment {
  let next = 0;
  let text = '';
  LEXEME.lastIndex = 0;
  for (let m = LEXEME.exec(fragment.text); m; m = LEXEME.exec(fragment.text)) {
    if (m[6] === undefined) {
      text += m[0];
      continue;
    }
    if (next >= fragment.params.length) throw new TypeError('more placeholders than parameters');
    text += trinoLiteral(fragment.params[next] as SqlFragment['params'][number]);
    next += 1;
  }
  if (next !== fragment.params.length) throw new TypeError('fewer placeholders than parameters');
  return { text, params: [] };
}

// ---------------------------------------------------------------------------
// Result reuse: only for reads of immutable Gold runs

/** `{mart}__v{N}__{run token}`, the shape of `goldRunTable`. */
const GOLD_RUN_TABLE = /^[a-z][a-z0-9_]*__v[1-9][0-9]*__[0-9]{8}t[0-9]{6}z_[a-z0-9]{4,24}$/;
/** Words that write, or whose value changes between two identical runs. */
const UNSAFE_FOR_REUSE = new Set([
  'INSERT',
  'UPDATE',
  'DELETE',
  'MERGE',
  'CREATE',
  'DROP',
  'ALTER',
  'UNLOAD',
  'CALL',
  'EXECUTE',
  'PREPARE',
  'GRANT',
  'REVOKE',
  'TRUNCATE',
  'OPTIMIZE',
  'VACUUM',
  'NOW',
  'CURRENT_DATE',
  'CURRENT_TIME',
  'CURRENT_TIMESTAMP',
  'CURRENT_TIMEZONE',
  'LOCALTIME',
  'LOCALTIMESTAMP',
  'CURRENT_USER',
  'CURRENT_ROLE',
  'CURRENT_CATALOG',
  'CURRENT_SCHEMA',
  'RAND',
  'RANDOM',
  'UUID',
  'SHUFFLE',
  'TABLESAMPLE',
]);
/** At a query's own level, a comma in these clauses starts another relation. */
const RELATION_LISTS = new Set(['FROM', 'JOIN', 'ON', 'USING']);

function isName(t: Token | undefined): t is Token {
  return t !== undefined && (t.kind === 'word' || t.kind === 'quoted');
}

/** Names defined by WITH: `name AS (` or `name (cols) AS (`. */
function cteNames(tokens: readonly Token[]): Set<string> {
  const names = new Set<string>();
  tokens.forEach((t, i) => {
    if (!isName(t)) return;
    let j = i + 1;
    if (tokens[j]?.text === '(') {
      while (j < tokens.length && tokens[j]?.text !== ')') j += 1;
      j += 1;
    }
    if (tokens[j]?.name === 'AS' && tokens[j + 1]?.text === '(') names.add(t.name.toLowerCase());
  });
  return names;
}

/** `db . table` starting at `i`, names as written (quoted names unquoted). */
function qualifiedAt(tokens: readonly Token[], i: number): { db: string; table: string } | undefined {
  const a = tokens[i];
  const dot = tokens[i + 1];
  const b = tokens[i + 2];
  if (!isName(a) || dot?.text !== '.' || !isName(b)) return undefined;
  const spell = (t: Token): string => (t.kind === 'quoted' ? t.name : t.text.toLowerCase());
  return { db: spell(a), table: spell(b) };
}

/**
 * Whether a statement only reads immutable Gold runs, so that Athena may
 * answer it from an earlier identical run's result: a SELECT, with no writing
 * or time- or chance-dependent word, every relation after FROM/JOIN (or a
 * comma in those clauses) a subquery, UNNEST, a WITH name or a Gold run table,
 * and at least one Gold run table. The mart views of the Gold database move on
 * every publish, so naming one makes a statement unsafe. When unsure it says
 * no: a reuse missed costs a scan, a wrong reuse would serve old rows.
 */
export function readsOnlyGoldRuns(text: string, database: string): boolean {
  const tokens = tokenize(text);
  const first = tokens[0];
  if (first?.kind !== 'word' || (first.name !== 'SELECT' && first.name !== 'WITH')) return false;
  const ctes = cteNames(tokens);
  const stack: Array<{ query: boolean; clause: string }> = [{ query: true, clause: '' }];
  let expectRelation = false;
  let goldRuns = 0;
  for (let i = 0; i < tokens.length; i += 1) {
    const t = tokens[i] as Token;
    if (t.kind === 'word' && UNSAFE_FOR_REUSE.has(t.name)) return false;
    const q = qualifiedAt(tokens, i);
    if (q && q.db === database && !GOLD_RUN_TABLE.test(q.table)) return false;
    if (expectRelation) {
      expectRelation = false;
      if (q) {
        if (q.db !== database) return false;
        goldRuns += 1;
      } else if (t.text === '(' || t.name === 'UNNEST' || t.name === 'LATERAL') {
        // a subquery, a parenthesised join or an unnested array: checked as it goes
      } else if (!(isName(t) && ctes.has(t.name.toLowerCase()))) {
        return false;
      }
    }
    if (t.text === '(') {
      const next = tokens[i + 1];
      stack.push({ query: next?.kind === 'word' && QUERY_STARTS.has(next.name), clause: '' });
      continue;
    }
    if (t.text === ')') {
      if (stack.length > 1) stack.pop();
      continue;
    }
    const top = stack[stack.length - 1] as { query: boolean; clause: string };
    if (!top.query) continue;
    if (t.kind === 'word' && CLAUSES.has(t.name)) {
      // `IS DISTINCT FROM` compares; it names no relation.
      const distinct = tokens[i - 1]?.name === 'DISTINCT' && t.name === 'FROM';
      top.clause = t.name;
      if ((t.name === 'FROM' && !distinct) || t.name === 'JOIN') expectRelation = true;
    } else if (t.text === ',' && RELATION_LISTS.has(top.clause)) {
      expectRelation = true;
    }
  }
  return goldRuns > 0;
}

// ---------------------------------------------------------------------------
// Results: ColumnInfo types to the port's types and cells

type CellConverter = (text: string) => Cell;

const TYPE_NAMES: Readonly<Record<string, string>> = {
  boolean: 'BOOLEAN',
  tinyint: 'TINYINT',
  smallint: 'SMALLINT',
  integer: 'INTEGER',
  int: 'INTEGER',
  bigint: 'BIGINT',
  real: 'FLOAT',
  float: 'FLOAT',
  double: 'DOUBLE',
  varchar: 'VARCHAR',
  string: 'VARCHAR',
  date: 'DATE',
  timestamp: 'TIMESTAMP',
  'timestamp with time zone': 'TIMESTAMP WITH TIME ZONE',
  time: 'TIME',
  'time with time zone': 'TIME WITH TIME ZONE',
  varbinary: 'BLOB',
  json: 'JSON',
  uuid: 'UUID',
  array: 'ARRAY',
  map: 'MAP',
  row: 'ROW',
  'interval year to month': 'INTERVAL',
  'interval day to second': 'INTERVAL',
  unknown: 'NULL',
};

/** A ColumnInfo type without its parameters (`decimal(18,2)` -> `decimal`), lower case. */
function baseType(info: ColumnInfo): string {
  return (info.Type ?? 'varchar').toLowerCase().replace(/\(.*\)$/, '');
}

/**
 * The port's column: Athena's type names spelled as the embedded engine
 * spells them (`integer` -> `INTEGER`, `real` -> `FLOAT`, decimals with the
 * precision and scale ColumnInfo carries), so callers see one vocabulary.
 */
export function columnMeta(info: ColumnInfo): ColumnMeta {
  const name = info.Name ?? info.Label ?? '';
  const base = baseType(info);
  if (base === 'decimal') {
    const inline = /\((\d+)\s*,\s*(\d+)\)$/.exec(info.Type ?? '');
    const precision = inline?.[1] ?? String(info.Precision ?? 38);
    const scale = inline?.[2] ?? String(info.Scale ?? 0);
    return { name, sqlType: `DECIMAL(${precision},${scale})` };
  }
  if (base === 'char') return { name, sqlType: `CHAR(${info.Precision ?? 1})` };
  return { name, sqlType: TYPE_NAMES[base] ?? base.toUpperCase() };
}

/** Drop zero fractional digits, as the embedded engine prints times (`07.120` -> `07.12`, `07.000` -> `07`). */
function trimFraction(text: string): string {
  return text.replace(/\.(\d*?)0+$/, (_, kept: string) => (kept ? `.${kept}` : ''));
}

/**
 * How one column's text (Athena returns every value as VarCharValue) becomes a
 * cell, matching the embedded engine: BIGINT and DECIMAL stay exact strings,
 * smaller integers and floats are numbers (non-finite floats stay text, as
 * JSON has no NaN), booleans are booleans, dates and timestamps are text with
 * no trailing zero fraction. ARRAY, MAP and ROW arrive as Athena's own text
 * rendering, which cannot be parsed back reliably, so they stay text; no mart
 * column has such a type.
 */
export function cellConverter(info: ColumnInfo): CellConverter {
  switch (baseType(info)) {
    case 'boolean':
      return (text) => text === 'true';
    case 'tinyint':
    case 'smallint':
    case 'integer':
    case 'int':
      return (text) => Number(text);
    case 'real':
    case 'float':
    case 'double':
      return (text) => {
        const n = Number(text);
        return Number.isFinite(n) ? n : text;
      };
    case 'timestamp':
    case 'time':
      return trimFraction;
    default:
      return (text) => text;
  }
}

// ---------------------------------------------------------------------------
// Clients

/** Connection settings of an Athena client; `endpoint` points tests at a local server. */
export type AthenaClientSettings = Pick<AthenaClientConfig, 'endpoint' | 'region' | 'credentials'>;

/** A client whose SDK-level retries are off: the engine retries itself, with full jitter. */
export function createAthenaClient(settings: AthenaClientSettings = {}): AthenaClient {
  return new AthenaClient({ ...settings, maxAttempts: 1 });
}

const containerClients = new Map<string, AthenaClient>();

/** The container's client for an endpoint and region, kept across invocations (one per container). */
export function sharedAthenaClient(settings: { endpoint?: string; region?: string } = {}): AthenaClient {
  const key = `${settings.endpoint ?? ''}|${settings.region ?? ''}`;
  let client = containerClients.get(key);
  if (!client) {
    client = createAthenaClient({
      ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
      ...(settings.region ? { region: settings.region } : {}),
    });
    containerClients.set(key, client);
  }
  return client;
}
