import type { SqlFragment } from '../../sql/fragment.js';

/** A JSON-safe cell: exact decimals, 64-bit integers, dates and timestamps arrive as strings. */
export type Cell = string | number | boolean | null | Cell[] | { [key: string]: Cell };

/** One result row, by column name. */
export type Row = Record<string, Cell>;

/** A result column: its name and the engine's SQL type (upper case, e.g. `DECIMAL(18,2)`). */
export interface ColumnMeta {
  readonly name: string;
  readonly sqlType: string;
}

/** A statement to run. */
export interface QueryRequest {
  readonly sql: SqlFragment;
  /** Stops the statement when aborted. */
  readonly signal?: AbortSignal;
  /** Stops the statement after this many milliseconds. */
  readonly timeoutMs?: number;
  /** A short name for logs (`customers.page`, `silver.merge.contacts`). */
  readonly label?: string;
}

/** What the engine reports about a finished statement. */
export interface QueryStats {
  /** The engine's id for the statement (Athena's QueryExecutionId; a local counter on DuckDB). */
  readonly queryId: string;
  readonly bytesScanned?: number;
}

/** A streamed result: iterate to receive rows in engine-sized batches. */
export interface QueryCursor extends AsyncIterable<Row[]> {
  readonly columns: readonly ColumnMeta[];
  readonly stats: QueryStats;
  /** Release the engine resources early (iteration to the end does it too). */
  close(): Promise<void>;
}

/** A fully read result, for small answers. */
export interface QueryResult {
  readonly columns: readonly ColumnMeta[];
  readonly rows: Row[];
  readonly stats: QueryStats;
}

/** A published mart version the engine should expose as a relation. */
export interface MartVersionRef {
  readonly mart: string;
  readonly schemaVersion: number;
  readonly runId: string;
  /** The run's object-store prefix, e.g. `gold/customer_360/schema_v=1/run_id=.../`. */
  readonly prefix: string;
}

/**
 * The query engine port: SQL with `?` parameters, streamed rows, column types,
 * timeouts. DuckDB embedded; Athena on AWS. Both pass the same contract suite.
 */
export interface QueryEngine {
  readonly kind: string;
  /** Run a statement and stream its rows. */
  stream(request: QueryRequest): Promise<QueryCursor>;
  /** Run a statement and read every row. */
  query(request: QueryRequest): Promise<QueryResult>;
  /** Run a statement for its effect (DDL, COPY/CTAS); returns its stats. */
  execute(request: QueryRequest): Promise<QueryStats>;
  /**
   * A relation (table expression) reading exactly one published mart version.
   * Gold versions are immutable, so the fragment stays valid for that version.
   */
  martRelation(ref: MartVersionRef): SqlFragment;
  /** Release every resource. */
  close(): Promise<void>;
}

/** Read a whole cursor into memory. Engines use it to implement `query`. */
export async function readCursor(cursor: QueryCursor): Promise<QueryResult> {
  const rows: Row[] = [];
  for await (const batch of cursor) rows.push(...batch);
  return { columns: cursor.columns, rows, stats: cursor.stats };
}
