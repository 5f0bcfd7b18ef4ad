import {
  BIGINT,
  BOOLEAN,
  DOUBLE,
  type DuckDBConnection,
  DuckDBInstance,
  type DuckDBType,
  type DuckDBValue,
  LIST,
  listValue,
  VARCHAR,
} from '@duckdb/node-api';
import type { SqlFragment, SqlValue } from '../../sql/fragment.js';
import type { ObjectStore } from '../object-store/port.js';
import { EngineBusyError, QueryAbortedError, QueryFailedError, QueryTimeoutError } from './errors.js';
import {
  type MartVersionRef,
  type QueryCursor,
  type QueryEngine,
  type QueryRequest,
  type QueryResult,
  type QueryStats,
  type Row,
  readCursor,
} from './port.js';

/** Settings of the embedded engine. */
export interface DuckDbEngineOptions {
  /** Where mart files live; the engine reads them in place. */
  readonly store: ObjectStore;
  /** Connections run statements concurrently; each runs one at a time. */
  readonly connections?: number;
  /** DuckDB worker threads (default: DuckDB's own, the number of cores). */
  readonly threads?: number;
  /** DuckDB's memory limit, e.g. `2GB`. */
  readonly memoryLimit?: string;
  /** How many statements may wait for a connection before `ENGINE_BUSY`. */
  readonly maxQueue?: number;
}

/**
 * The embedded query engine: DuckDB in process, reading Parquet and JSON from
 * the local object store's folder. Every value is bound (`?`), including file
 * locations; mart relations are `read_parquet(?)` over one immutable run.
 */
export class DuckDbQueryEngine implements QueryEngine {
  readonly kind = 'duckdb';
  private readonly idle: DuckDBConnection[] = [];
  private readonly waiters: Array<(connection: DuckDBConnection) => void> = [];
  private created = 0;
  private nextId = 0;
  private closed = false;

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly options: DuckDbEngineOptions,
  ) {}

  /** Open an in-memory DuckDB; all durable state stays in the object store. */
  static async create(options: DuckDbEngineOptions): Promise<DuckDbQueryEngine> {
    const config: Record<string, string> = {};
    if (options.threads !== undefined) config.threads = String(options.threads);
    if (options.memoryLimit !== undefined) config.memory_limit = options.memoryLimit;
    const instance = await DuckDBInstance.create(':memory:', config);
    return new DuckDbQueryEngine(instance, options);
  }

  martRelation(ref: MartVersionRef): SqlFragment {
    const glob = `${this.options.store.locationOf(ref.prefix)}/**/*.parquet`;
    return { text: 'read_parquet(?, hive_partitioning = false)', params: [glob] };
  }

  async stream(request: QueryRequest): Promise<QueryCursor> {
    const connection = await this.acquire(request.signal);
    const stats: QueryStats = { queryId: `duckdb-${++this.nextId}` };
    const guard = new InterruptGuard(connection, request);
    let released = false;
    const release = async (): Promise<void> => {
      if (released) return;
      released = true;
      guard.dispose();
      this.release(connection);
    };
    const label = request.label ?? 'query';
    try {
      guard.throwIfStopped();
      const { values, types } = toDuckDbParams(request.sql.params);
      const result = await connection.stream(numberPlaceholders(request.sql.text), values, types);
      const names = result.columnNames();
      const columnTypes = result.columnTypes();
      const columns = names.map((name, i) => ({ name, sqlType: String(columnTypes[i] ?? 'UNKNOWN') }));
      const batches = result.yieldRowObjectJson();
      return {
        columns,
        stats,
        close: release,
        async *[Symbol.asyncIterator]() {
          try {
            for await (const batch of batches) {
              guard.throwIfStopped();
              if (batch.length > 0) yield batch as Row[];
            }
          } catch (error) {
            throw guard.translate(error, label);
          } finally {
            await release();
          }
        },
      };
    } catch (error) {
      await release();
      throw guard.translate(error, label);
    }
  }

  async query(request: QueryRequest): Promise<QueryResult> {
    return readCursor(await this.stream(request));
  }

  async execute(request: QueryRequest): Promise<QueryStats> {
    const cursor = await this.stream(request);
    for await (const _ of cursor) {
      // drain: statements run for their effect
    }
    return cursor.stats;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const connection of this.idle.splice(0)) connection.closeSync();
    this.instance.closeSync();
  }

  private async acquire(signal: AbortSignal | undefined): Promise<DuckDBConnection> {
    if (this.closed) throw new EngineBusyError('engine is closed');
    const ready = this.idle.pop();
    if (ready) return ready;
    const max = this.options.connections ?? 4;
    if (this.created < max) {
      this.created += 1;
      const connection = await this.instance.connect();
      // Timestamps are UTC everywhere; the machine's zone must never leak into results.
      await connection.run("SET TimeZone = 'UTC'");
      return connection;
    }
    if (this.waiters.length >= (this.options.maxQueue ?? 256))
      throw new EngineBusyError('engine queue is full');
    return new Promise<DuckDBConnection>((resolve, reject) => {
      const onAbort = (): void => {
        const index = this.waiters.indexOf(grant);
        if (index >= 0) this.waiters.splice(index, 1);
        reject(new QueryAbortedError());
      };
      const grant = (connection: DuckDBConnection): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve(connection);
      };
      if (signal?.aborted) return reject(new QueryAbortedError());
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(grant);
    });
  }

  private release(connection: DuckDBConnection): void {
    if (this.closed) {
      connection.closeSync();
      return;
    }
    const next = this.waiters.shift();
    if (next) next(connection);
    else this.idle.push(connection);
  }
}

/** Interrupts the connection on timeout or abort and remembers why. */
class InterruptGuard {
  private reason: 'timeout' | 'abort' | undefined;
  private readonly timer: NodeJS.Timeout | undefined;
  private repeat: NodeJS.Timeout | undefined;
  private readonly onAbort = (): void => this.stop('abort');

  constructor(
    private readonly connection: DuckDBConnection,
    private readonly request: QueryRequest,
  ) {
    if (request.timeoutMs !== undefined) {
      this.timer = setTimeout(() => this.stop('timeout'), request.timeoutMs);
    }
    if (request.signal?.aborted) this.reason = 'abort';
    request.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  throwIfStopped(): void {
    if (this.reason) throw this.stoppedError();
  }

  translate(error: unknown, label: string): Error {
    if (this.reason) return this.stoppedError();
    if (error instanceof QueryAbortedError || error instanceof QueryTimeoutError) return error;
    const reason = error instanceof Error ? error.message : String(error);
    return new QueryFailedError(label, { cause: error, reason });
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.repeat) clearInterval(this.repeat);
    this.request.signal?.removeEventListener('abort', this.onAbort);
  }

  private stop(reason: 'timeout' | 'abort'): void {
    if (this.reason) return;
    this.reason = reason;
    this.connection.interrupt();
    // An interrupt that lands between two statements (or just before one starts) is lost:
    // keep interrupting until the statement has ended and the guard is disposed.
    this.repeat = setInterval(() => this.connection.interrupt(), 20);
    this.repeat.unref();
  }

  private stoppedError(): Error {
    return this.reason === 'timeout'
      ? new QueryTimeoutError(this.request.timeoutMs ?? 0)
      : new QueryAbortedError();
  }
}

/**
 * Bind types are explicit so that NULL and large integers bind without guessing:
 * strings and NULL VARCHAR, safe integers BIGINT, other numbers DOUBLE (the types
 * Trino gives such literals, so the local Athena endpoint binds alike).
 */
export function toDuckDbParams(params: readonly SqlValue[]): { values: DuckDBValue[]; types: DuckDBType[] } {
  const values: DuckDBValue[] = [];
  const types: DuckDBType[] = [];
  for (const value of params) {
    if (Array.isArray(value)) {
      values.push(listValue([...value]));
      types.push(LIST(VARCHAR));
      continue;
    }
    values.push(value as Exclude<SqlValue, readonly string[]>);
    if (value === null || typeof value === 'string') types.push(VARCHAR);
    else if (typeof value === 'boolean') types.push(BOOLEAN);
    else if (typeof value === 'bigint') types.push(BIGINT);
    else types.push(Number.isSafeInteger(value) ? BIGINT : DOUBLE);
  }
  return { values, types };
}

/**
 * Rewrite `?` placeholders as `$1..$n` in text order. DuckDB numbers bare `?`
 * in bind order, which for `COPY (query) TO ?` is not text order.
 * Quoted strings, quoted identifiers and comments are left untouched.
 */
export function numberPlaceholders(text: string): string {
  let out = '';
  let n = 0;
  let i = 0;
  while (i < text.length) {
    const ch = text[i] as string;
    if (ch === "'" || ch === '"') {
      const end = findClosingQuote(text, i, ch);
      out += text.slice(i, end);
      i = end;
    } else if (ch === '-' && text[i + 1] === '-') {
      const end = text.indexOf('\n', i);
      const stop = end < 0 ? text.length : end;
      out += text.slice(i, stop);
      i = stop;
    } else if (ch === '?') {
      n += 1;
      out += `$${n}`;
      i += 1;
    } else {
      out += ch;
      i += 1;
    }
  }
  return out;
}

function findClosingQuote(text: string, start: number, quote: string): number {
  let i = start + 1;
  while (i < text.length) {
    if (text[i] === quote) {
      if (text[i + 1] === quote) i += 2;
      else return i + 1;
    } else i += 1;
  }
  return text.length;
}
