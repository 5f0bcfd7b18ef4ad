import type { SqlDialect } from '../../src/sql/dialect.js';
import { raw, type SqlFragment } from '../../src/sql/fragment.js';
import type { EntityContract } from '../../src/transform/entities.js';
import type { GoldModel } from '../../src/transform/gold/model.js';
import { inlineRollup, inputEntity, isRollup } from '../../src/transform/gold/rollups.js';

/**
 * A model's inputs for rendering its SQL without a lake: each Silver entity
 * as a table name, each rollup as its inline query over that table (what the
 * Athena home reads).
 */
export function renderedInputs(
  model: GoldModel,
  dialect: SqlDialect,
  table: (contract: EntityContract) => string = (c) => `"silver"."${c.source}_${c.entity}"`,
): Record<string, SqlFragment> {
  return Object.fromEntries(
    Object.entries(model.inputs).map(([name, declared]) => {
      const relation = raw(table(inputEntity(declared)));
      return [name, isRollup(declared) ? inlineRollup(declared, relation, dialect) : relation];
    }),
  );
}
