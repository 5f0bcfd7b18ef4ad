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
}

/** The relation a model declared, or a programming error. */
export function input(ctx: GoldContext, name: string): SqlFragment {
  const relation = ctx.inputs[name];
  if (!relation) throw new TypeError(`missing Silver input ${name}`);
  return relation;
}
