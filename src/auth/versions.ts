import type { MartDef } from '../catalog/types.js';
import type { MartAccess, MaskKind, RowPredicate } from './access.js';

/**
 * Access to an earlier schema version of a mart, from the caller's access to
 * the current one. Policies are written against current definitions only, so
 * an earlier version is governed by the same grant, column by column: a
 * column is readable (and masked alike) exactly when the current column it
 * derives from is; each row predicate moves to the column derived from its
 * column. `undefined` when a row predicate's column has no counterpart in
 * that version: rules that cannot be enforced deny the version.
 */
export function accessToEarlierVersion(current: MartAccess, version: MartDef): MartAccess | undefined {
  const projection = version.projectedFrom;
  if (!projection || projection.current !== current.mart) return undefined;
  const columns = new Set<string>();
  const masks = new Map<string, Exclude<MaskKind, 'none'>>();
  const earlierOf = new Map<string, string>();
  for (const [earlier, from] of projection.columnFrom) {
    if (!earlierOf.has(from)) earlierOf.set(from, earlier);
    if (!current.columns.has(from)) continue;
    columns.add(earlier);
    const mask = current.masks.get(from);
    if (mask) masks.set(earlier, mask);
  }
  let rows: MartAccess['rows'] = null;
  if (current.rows !== null) {
    const alternatives: RowPredicate[][] = [];
    for (const all of current.rows) {
      const moved: RowPredicate[] = [];
      for (const p of all) {
        const column = earlierOf.get(p.column);
        if (column === undefined) return undefined;
        moved.push({ column, values: p.values });
      }
      alternatives.push(moved);
    }
    rows = alternatives;
  }
  // Detail reads need the key, as for any grant.
  const detail = current.detail && version.key.every((k) => columns.has(k));
  return { mart: version, columns, masks, rows, detail, aggregates: current.aggregates };
}
