import type { MartDef } from '../../catalog/types.js';
import type { SqlDialect } from '../../sql/dialect.js';
import type { SqlFragment } from '../../sql/fragment.js';
import type { GoldInput } from './rollups.js';

/** What a Gold model's query receives. */
export interface GoldContext {
  /** Relations of live Silver rows (or of their rollups), by the names the model declared in `inputs`. */
  readonly inputs: Readonly<Record<string, SqlFragment>>;
  /** The date the mart's figures hold for (`YYYY-MM-DD`, the pipeline clock's UTC date). */
  readonly asOf: string;
  /** DuckDB embedded, Trino on Athena: the same model renders for both. */
  readonly dialect: SqlDialect;
}

/**
 * How one Gold mart is built: the Silver entities it reads and one SELECT
 * whose columns are exactly the catalog's, in catalog order. The engine
 * flavour decides how the result is written (COPY to Parquet, CTAS).
 */
export interface GoldModel {
  readonly mart: MartDef;
  /** What it reads: Silver entities, or rollups of them (`rollups.ts`) where the model needs no finer grain. */
  readonly inputs: Readonly<Record<string, GoldInput>>;
  query(ctx: GoldContext): SqlFragment;
  /** Present when the mart can be maintained from its inputs' changes (`IncrementalSpec`). */
  readonly incremental?: IncrementalSpec;
}

/** The relation a model declared, or a programming error. */
export function input(ctx: GoldContext, name: string): SqlFragment {
  const relation = ctx.inputs[name];
  if (!relation) throw new TypeError(`missing Silver input ${name}`);
  return relation;
}

/**
 * How a partitioned mart is kept up to date from what changed in its inputs
 * instead of being rebuilt (the embedded home; Athena rebuilds). A driver row
 * makes exactly the mart rows that carry its `keys` values, so the rows of
 * unaffected keys are the served run's and their files are reused as they
 * are; only files holding an affected key are rewritten (copy-on-write).
 */
export interface IncrementalSpec {
  /** The input (an entity, not a rollup) whose rows make the mart's rows. */
  readonly driver: string;
  /** Columns of both the driver's Silver rows and the mart naming which driver row made a mart row. */
  readonly keys: readonly string[];
  /**
   * The `keys` values whose mart rows may differ from the served run's: those
   * of changed driver rows, and of driver rows that join a changed row of
   * another input. Duplicates are fine.
   */
  affected(ctx: IncrementalContext): SqlFragment;
}

/** What `IncrementalSpec.affected` receives. */
export interface IncrementalContext extends GoldContext {
  /**
   * Per input: the rows of the Silver keys that changed since the served run,
   * each changed key's previous row (when it had one) and its current row,
   * tombstones included (`_deleted`): a key that moved (an account to another
   * contact) names both sides.
   */
  readonly changed: Readonly<Record<string, SqlFragment>>;
}

/** A model's changed rows of input `name`, or a programming error. */
export function changedRows(ctx: IncrementalContext, name: string): SqlFragment {
  const relation = ctx.changed[name];
  if (!relation) throw new TypeError(`missing changed rows of input ${name}`);
  return relation;
}
