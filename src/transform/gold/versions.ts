import type { MartDef } from '../../catalog/types.js';
import { servedVersions } from '../../catalog/versions.js';
import { ident, join, raw, sql } from '../../sql/fragment.js';
import type { GoldModel } from './model.js';

/**
 * Models for the earlier schema versions a mart keeps serving after a
 * breaking change: each is the current model's SELECT, projected onto the
 * earlier version's columns (renamed and cast to their declared types). Run
 * in the same pipeline, each version is built, checked and published on its
 * own, so old callers get data as fresh as the current version's.
 */
export function earlierVersionModels(models: readonly GoldModel[]): GoldModel[] {
  const out: GoldModel[] = [];
  for (const model of models) {
    for (const version of servedVersions(model.mart)) {
      const projection = version.projectedFrom;
      if (!projection) continue;
      const columns = join(
        version.columns.map((c) => {
          const from = projection.columnFrom.get(c.name) ?? c.name;
          // The type comes from the catalog's closed list of SQL types, never from input.
          return sql`CAST(current_version.${raw(ident(from))} AS ${raw(c.sqlType)}) AS ${raw(ident(c.name))}`;
        }),
        ', ',
      );
      // Key order, as every model writes: same Bronze in, same files out.
      const order = raw(version.key.map((k) => ident(k)).join(', '));
      out.push({
        mart: version,
        inputs: model.inputs,
        query: (ctx) =>
          sql`SELECT ${columns} FROM (${model.query(ctx)}) AS current_version ORDER BY ${order}`,
      });
    }
  }
  return out;
}

/** The run-report step of a mart version's build: `gold.<mart>`, with `.v<N>` for an earlier version. */
export function goldStepName(mart: MartDef): string {
  return mart.projectedFrom ? `gold.${mart.name}.v${mart.schemaVersion}` : `gold.${mart.name}`;
}
