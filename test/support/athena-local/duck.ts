import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { toDuckDbParams as bind, numberPlaceholders } from '../../../src/adapters/query-engine/duckdb.js';
import type { ColumnMeta, Row } from '../../../src/adapters/query-engine/port.js';
import type { SqlValue } from '../../../src/sql/fragment.js';

/** One statement of a session: `$n` placeholders, values bound with explicit types. */
export type SessionRun = (
  text: string,
  values?: readonly SqlValue[],
) => Promise<{ columns: ColumnMeta[]; rows: Row[] }>;

/**
 * The endpoint's DuckDB, used directly: one connection per statement, values
 * bound with explicit types, and a stop that keeps interrupting until the
 * statement has ended. DuckDB forgets an interrupt that arrives before a
 * statement starts executing, so a single interrupt sent right after a start
 * can be lost and leave the statement running for minutes.
 */
export class LocalDuck {
  private constructor(private readonly instance: DuckDBInstance) {}

  static async create(): Promise<LocalDuck> {
    return new LocalDuck(await DuckDBInstance.create(':memory:'));
  }

  /** Run one statement to the end (or until `signal` stops it) and read every row. */
  async run(
    text: string,
    values: readonly SqlValue[],
    signal?: AbortSignal,
  ): Promise<{ columns: ColumnMeta[]; rows: Row[] }> {
    return this.session(signal, (run) => run(numberPlaceholders(text), values));
  }

  /**
   * Several statements on one connection (so that a transaction spans them),
   * all stopped by `signal`. Statements take `$n` placeholders.
   */
  async session<T>(
    signal: AbortSignal | undefined,
    fn: (run: SessionRun) => Promise<T>,
    options: { readonly trinoDivision?: boolean } = {},
  ): Promise<T> {
    const connection = await this.instance.connect();
    let interrupter: NodeJS.Timeout | undefined;
    const stop = (): void => {
      connection.interrupt();
      interrupter ??= setInterval(() => connection.interrupt(), 20);
    };
    try {
      // Timestamps are UTC everywhere, as on Athena.
      await connection.run("SET TimeZone = 'UTC'");
      // Trino divides integers to an integer; DuckDB to a DOUBLE unless told otherwise.
      if (options.trinoDivision) await connection.run('SET integer_division = true');
      if (signal?.aborted) throw new Error('Interrupted: statement stopped before it started');
      signal?.addEventListener('abort', stop, { once: true });
      return await fn(async (text, values = []) => {
        if (signal?.aborted) throw new Error('Interrupted: statement stopped');
        const { values: bound, types } = bind(values);
        const reader = await connection.runAndReadAll(text, bound, types);
        const names = reader.columnNames();
        const columnTypes = reader.columnTypes();
        return {
          columns: names.map((name, i) => ({ name, sqlType: String(columnTypes[i] ?? 'VARCHAR') })),
          rows: reader.getRowObjectsJson() as Row[],
        };
      });
    } finally {
      signal?.removeEventListener('abort', stop);
      if (interrupter) clearInterval(interrupter);
      closeQuietly(connection);
    }
  }

  close(): void {
    this.instance.closeSync();
  }
}

function closeQuietly(connection: DuckDBConnection): void {
  try {
    connection.closeSync();
  } catch {
    // already closed with the instance
  }
}
