import { MARTS } from './marts/index.js';
import type { ColumnDef, MartDef } from './types.js';
import { createCatalog, validateVersions } from './versions.js';

export { MARTS } from './marts/index.js';
export type {
  ApiType,
  ColumnDef,
  MartDef,
  PiiTag,
  RelationDef,
  RetainedColumn,
  RetainedVersion,
  SqlType,
} from './types.js';
export { asCatalog, type Catalog, createCatalog, rootNames, servedVersions } from './versions.js';

/** The product's catalog: current definitions and every served schema version. */
export const CATALOG = createCatalog(MARTS);

const byName = new Map(MARTS.map((mart) => [mart.name, mart]));

/** A mart by its snake_case name, or `undefined` (callers must treat it as "not found"). */
export function findMart(name: string): MartDef | undefined {
  return byName.get(name);
}

/** A column of a mart by its snake_case name, or `undefined`. */
export function findColumn(mart: MartDef, name: string): ColumnDef | undefined {
  return mart.columns.find((column) => column.name === name);
}

/** `lifetime_revenue` -> `lifetimeRevenue`: the API spelling of a catalog name. */
export function camelCase(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Check the catalog's own consistency (names, keys, relations); run by tests and at start-up. */
export function validateCatalog(marts: readonly MartDef[] = MARTS): string[] {
  const problems: string[] = [];
  const names = new Set<string>();
  for (const mart of marts) {
    if (names.has(mart.name)) problems.push(`${mart.name}: declared twice`);
    names.add(mart.name);
    const columns = new Set(mart.columns.map((c) => c.name));
    if (columns.size !== mart.columns.length) problems.push(`${mart.name}: a column is declared twice`);
    for (const c of mart.columns) {
      if (!/^[a-z][a-z0-9_]*$/.test(c.name)) problems.push(`${mart.name}.${c.name}: not snake_case`);
      if (c.description.trim() === '') problems.push(`${mart.name}.${c.name}: no description`);
    }
    for (const k of [...mart.key, ...mart.partitionBy, ...Object.values(mart.rowScope)]) {
      if (k && !columns.has(k)) problems.push(`${mart.name}: unknown column ${k}`);
    }
    for (const r of mart.relations) {
      const target = marts.find((m) => m.name === r.target);
      if (!target) problems.push(`${mart.name}.${r.field}: unknown target ${r.target}`);
      for (const [from, to] of r.on) {
        if (!columns.has(from)) problems.push(`${mart.name}.${r.field}: unknown column ${from}`);
        if (target && !target.columns.some((c) => c.name === to)) {
          problems.push(`${mart.name}.${r.field}: unknown target column ${to}`);
        }
      }
    }
  }
  problems.push(...validateVersions(marts));
  return problems;
}
