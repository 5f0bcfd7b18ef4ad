import type { MartDef, RelationDef, RetainedVersion } from './types.js';

/**
 * Schema versions. A mart's definition in the catalog is its current
 * `schemaVersion`; an additive change keeps it. A breaking change raises it
 * and lists the version it replaces under `previousVersions`, with that
 * version's columns, each derived from a current column. Both are then built
 * every run (the earlier one as a projection of the current, so it stays as
 * fresh) and served side by side until the earlier one is removed from the
 * catalog (retired).
 *
 * API names: version 1 keeps the mart's plain names (`invoices`, type
 * `Invoice`), so callers that never asked for a version keep their answers;
 * a later version N is reachable as `invoicesVN` (type `InvoiceVN`), and once
 * every older version is retired it also takes the plain names. REST picks a
 * version with `?schema_v=N`; without it, the oldest served one.
 */

/** The catalog as the API serves it: current definitions and every served version of each mart. */
export interface Catalog {
  /** Current definitions: what the pipeline builds and policies are written against. */
  readonly marts: readonly MartDef[];
  /** Every served version of every mart (a current definition first among its mart's versions is not implied). */
  readonly served: readonly MartDef[];
  /** A served version of a mart; without `schemaVersion`, the one its plain names serve (the oldest). */
  find(name: string, schemaVersion?: number): MartDef | undefined;
  /** The served versions of a mart, oldest first (empty for an unknown mart). */
  versions(name: string): readonly MartDef[];
  /** The current definition of a mart (the object policies were compiled against). */
  current(name: string): MartDef | undefined;
}

function suffixed(mart: MartDef, schemaVersion: number): MartDef['api'] {
  const { typeName, listField, itemField } = mart.api;
  if (schemaVersion === 1) return { typeName, listField, ...(itemField ? { itemField } : {}) };
  const v = `V${schemaVersion}`;
  return {
    typeName: `${typeName}${v}`,
    listField: `${listField}${v}`,
    ...(itemField ? { itemField: `${itemField}${v}` } : {}),
  };
}

/** The served definition of an earlier version: the current one's facts, renamed to its columns. */
function retainedDef(current: MartDef, version: RetainedVersion): MartDef {
  const columnFrom = new Map(version.columns.map((c) => [c.name, c.from ?? c.name]));
  // current column -> earlier column (the first earlier column derived from it)
  const toEarlier = new Map<string, string>();
  for (const [earlier, from] of columnFrom) if (!toEarlier.has(from)) toEarlier.set(from, earlier);
  const mapAll = (names: readonly string[]): string[] =>
    names.map((n) => {
      const mapped = toEarlier.get(n);
      if (mapped === undefined)
        throw new TypeError(`${current.name} v${version.schemaVersion}: no column derives from ${n}`);
      return mapped;
    });
  const rowScope: { region?: string; customer?: string } = {};
  for (const [dimension, column] of Object.entries(current.rowScope) as Array<
    ['region' | 'customer', string]
  >) {
    const mapped = toEarlier.get(column);
    if (mapped !== undefined) rowScope[dimension] = mapped;
  }
  // A relation stays when its link column is still there (under its earlier name).
  const relations: RelationDef[] = [];
  for (const r of current.relations) {
    const on = r.on.map(([parent, target]) => [toEarlier.get(parent), target] as const);
    if (on.every(([parent]) => parent !== undefined))
      relations.push({ ...r, on: on as ReadonlyArray<readonly [string, string]> });
  }
  const until = version.retiresOn ? ` until ${version.retiresOn}` : '';
  return {
    name: current.name,
    schemaVersion: version.schemaVersion,
    description: `${current.description} Schema v${version.schemaVersion}, served${until} for callers of that version; v${current.schemaVersion} changed: ${version.change}`,
    key: mapAll(current.key),
    columns: version.columns.map(({ from: _from, ...column }) => column),
    partitionBy: mapAll(current.partitionBy),
    rowScope,
    relations,
    api: {
      ...suffixed(current, version.schemaVersion),
      deprecation: `schema v${version.schemaVersion} of ${current.name} is kept for old callers${until}; v${current.schemaVersion} changed: ${version.change}`,
    },
    projectedFrom: { current, columnFrom },
  };
}

/** Every served version of one mart, oldest first, with their API names. */
export function servedVersions(mart: MartDef): MartDef[] {
  const earlier = [...(mart.previousVersions ?? [])].sort((a, b) => a.schemaVersion - b.schemaVersion);
  const versions = [
    ...earlier.map((v) => retainedDef(mart, v)),
    { ...mart, api: suffixed(mart, mart.schemaVersion) },
  ];
  const oldest = versions[0];
  if (oldest && oldest.schemaVersion > 1) {
    // No version 1 any more: the oldest served version also answers to the plain names.
    const { listField, itemField } = mart.api;
    versions[0] = {
      ...oldest,
      api: { ...oldest.api, aliases: [{ listField, ...(itemField ? { itemField } : {}) }] },
    };
  }
  return versions;
}

/** Problems with the catalog's schema versions (an empty list when they hold). */
export function validateVersions(marts: readonly MartDef[]): string[] {
  const problems: string[] = [];
  for (const mart of marts) {
    const current = new Map(mart.columns.map((c) => [c.name, c]));
    const seen = new Set<number>([mart.schemaVersion]);
    for (const v of mart.previousVersions ?? []) {
      const at = `${mart.name} v${v.schemaVersion}`;
      if (!Number.isInteger(v.schemaVersion) || v.schemaVersion < 1 || v.schemaVersion >= mart.schemaVersion)
        problems.push(`${at}: an earlier version must be below the current v${mart.schemaVersion}`);
      if (seen.has(v.schemaVersion)) problems.push(`${at}: declared twice`);
      seen.add(v.schemaVersion);
      if (v.retiresOn !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(v.retiresOn))
        problems.push(`${at}: retiresOn is not YYYY-MM-DD`);
      const names = new Set<string>();
      for (const c of v.columns) {
        if (names.has(c.name)) problems.push(`${at}: column ${c.name} declared twice`);
        names.add(c.name);
        if (!/^[a-z][a-z0-9_]*$/.test(c.name)) problems.push(`${at}.${c.name}: not snake_case`);
        const from = c.from ?? c.name;
        if (!current.has(from)) problems.push(`${at}.${c.name}: derives from ${from}, not a current column`);
      }
      const derived = new Set(v.columns.map((c) => c.from ?? c.name));
      for (const k of [...mart.key, ...mart.partitionBy]) {
        if (!derived.has(k)) problems.push(`${at}: no column derives from ${k}, needed as key or partition`);
      }
    }
  }
  return problems;
}

/** The catalog of served versions over current definitions. */
export function createCatalog(marts: readonly MartDef[]): Catalog {
  const problems = validateVersions(marts);
  if (problems.length > 0) throw new TypeError(`mart catalog: ${problems.join('; ')}`);
  const byName = new Map(marts.map((m) => [m.name, servedVersions(m)]));
  const currentByName = new Map(marts.map((m) => [m.name, m]));
  const served = [...byName.values()].flat();
  return {
    marts,
    served,
    find(name, schemaVersion) {
      const versions = byName.get(name);
      if (!versions) return undefined;
      return schemaVersion === undefined
        ? versions[0]
        : versions.find((v) => v.schemaVersion === schemaVersion);
    },
    versions: (name) => byName.get(name) ?? [],
    current: (name) => currentByName.get(name),
  };
}

/** A catalog, or the catalog of a list of current definitions (tests, tools). */
export function asCatalog(source: Catalog | readonly MartDef[]): Catalog {
  return 'served' in source ? source : createCatalog(source as readonly MartDef[]);
}

/** Every root name pair (list, item) a served version answers to: its own, then its aliases. */
export function rootNames(mart: MartDef): Array<{ listField: string; itemField?: string }> {
  const { listField, itemField } = mart.api;
  return [{ listField, ...(itemField ? { itemField } : {}) }, ...(mart.api.aliases ?? [])];
}
