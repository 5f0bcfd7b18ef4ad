import { readFile } from 'node:fs/promises';
import {
  GetResourceLFTagsCommand,
  type LakeFormationClient,
  paginateListDataCellsFilter,
  paginateListPermissions,
} from '@aws-sdk/client-lakeformation';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { MASK_KINDS } from '../../auth/access.js';
import { validatePolicy } from '../../auth/policy/compile.js';
import { digestOf } from '../../auth/policy/digest.js';
import { formatPolicyPath, type PolicyProblem } from '../../auth/policy/errors.js';
import type { MartGrant, PolicyDocument, RowRule } from '../../auth/policy/model.js';
import type { MartDef } from '../../catalog/types.js';
import { describeError } from '../../errors.js';
import {
  LakeFormationMappingError,
  PolicyInvalidError,
  PolicySourceUnavailableError,
  RowFilterSyntaxError,
} from './errors.js';
import type { PolicySnapshot, PolicySource } from './port.js';
import { parseRowFilter } from './row-filter.js';

/**
 * The Lake Formation policy source (AWS home). Lake Formation's data cells
 * filters are static and bound to IAM principals; goldgate's callers come with
 * JWT roles. A mapping file says which filters (by name, or everything LF grants
 * some IAM principals) each goldgate role inherits, which of a filter's columns
 * take their values from a claim, and what LF cannot say: masking per PII tag,
 * detail vs aggregate-only, minimum group sizes. The result is the same
 * `PolicyDocument` the policy file yields.
 *
 * - Columns: `ColumnNames` is a list; `ColumnWildcard` is every column but its
 *   `ExcludedColumnNames`. Several filters (or table grants) for one role and
 *   table combine by union: columns union, rows OR. Cell-level combinations
 *   (column X only on the rows of filter A) flatten: a column any of them grants
 *   is readable on every row any of them grants, as roles combine in goldgate.
 * - Rows: `AllRowsWildcard` is every row; a `FilterExpression` must fit the
 *   grammar of `row-filter.ts` (anything else fails the load). A mapped claim
 *   adds `column IN claims.X` to every alternative, so the static expression stays
 *   an upper bound on what the claim can open.
 * - LF-tags on Gold columns (`pii=email`) classify PII. They are compared with
 *   the catalog's tags: the catalog's classes always hold; a column only LF tags
 *   is added to the document's `classification` (hidden from roles that do not
 *   read that tag in clear); every disagreement is reported (or fails the load).
 */

const roleName = z.string().regex(/^[a-z][a-z0-9_-]*$/);
const claimsByColumn = z.record(z.string().min(1), z.string().min(1));

const filterRef = z.union([
  z.string().min(1),
  z
    .object({
      name: z.string().min(1),
      /** Only the filter of this Glue table (filter names are unique per table only). */
      table: z.string().min(1).optional(),
      /** Column -> claim: the column's rows come from the caller's claim values. */
      claims: claimsByColumn.optional(),
    })
    .strict(),
]);

const mappedRole = z
  .object({
    description: z.string().optional(),
    /** Data cells filters this role inherits, by name. */
    filters: z.array(filterRef).default([]),
    /** IAM principals (ARNs) whose LF SELECT grants (filters, tables, columns) this role inherits. */
    principals: z.array(z.string().min(1)).default([]),
    /** Column -> claim for every filter of the role (a filter's own `claims` win). */
    claims: claimsByColumn.optional(),
    pii: z.record(z.string(), z.enum(MASK_KINDS)).optional(),
    detail: z.boolean().default(true),
    aggregates: z
      .object({ allowed: z.boolean().default(true), minGroupSize: z.number().int().min(1).default(1) })
      .strict()
      .optional(),
  })
  .strict();

/** The mapping file: LF filters and principals to goldgate roles, Glue tables to marts. */
export const lakeFormationMappingSchema = z
  .object({
    version: z.literal(1),
    /** The AWS account of the Glue Data Catalog (default: the caller's). */
    catalogId: z
      .string()
      .regex(/^\d{12}$/)
      .optional(),
    /** The Glue database holding the Gold tables. */
    database: z.string().min(1),
    /** Glue table -> mart, where the names differ (default: the mart's own name). */
    tables: z.record(z.string().min(1), z.string().min(1)).default({}),
    /** The LF-tag key that classifies PII columns; its value is the catalog's PII tag. */
    piiTagKey: z.string().min(1).default('pii'),
    /** `warn` logs LF-tag / catalog disagreements; `fail` refuses the policy. */
    onPiiDisagreement: z.enum(['warn', 'fail']).default('warn'),
    roles: z.record(roleName, mappedRole),
  })
  .strict();
export type LakeFormationMapping = z.infer<typeof lakeFormationMappingSchema>;

/** Read and check a mapping file (YAML or JSON). Throws `LF_MAPPING_INVALID` naming the file and path. */
export async function loadLakeFormationMapping(file: string): Promise<LakeFormationMapping> {
  let value: unknown;
  try {
    value = parseYaml(await readFile(file, 'utf8'), { uniqueKeys: true, maxAliasCount: 50 });
  } catch (error) {
    throw new LakeFormationMappingError(`${file}: ${describeError(error).message.split('\n')[0]}`, {
      cause: error,
    });
  }
  return parseLakeFormationMapping(value, file);
}

/** Check a mapping value; `origin` names it in errors. */
export function parseLakeFormationMapping(value: unknown, origin = 'mapping'): LakeFormationMapping {
  const parsed = lakeFormationMappingSchema.safeParse(value);
  if (!parsed.success) {
    throw new LakeFormationMappingError(
      `${origin}: ${parsed.error.issues
        .map(
          (i) =>
            `${formatPolicyPath(i.path.map((p) => (typeof p === 'symbol' ? String(p) : p)))}: ${i.message}`,
        )
        .join('; ')}`,
    );
  }
  return parsed.data;
}

/** A minimal logger (Powertools' `Logger` fits). */
export interface PolicySourceLog {
  warn(message: string, extra: Record<string, unknown>): void;
  error(message: string, extra: Record<string, unknown>): void;
  info(message: string, extra: Record<string, unknown>): void;
}

export interface LakeFormationPolicySourceOptions {
  readonly client: LakeFormationClient;
  readonly mapping: LakeFormationMapping;
  readonly marts: readonly MartDef[];
  /** How long a loaded policy is served before a refresh (ms). */
  readonly ttlMs: number;
  readonly log?: PolicySourceLog;
  /** Claims row rules may name (default: the verifier's). */
  readonly claims?: readonly string[];
  /** The clock (tests). */
  readonly now?: () => number;
}

/** What one filter or table grant gives a role on one mart. */
interface Piece {
  readonly columns: ColumnSpec;
  /** `null` = every row; else OR of AND-groups. */
  readonly groups: readonly (readonly RowRule[])[] | null;
}

type ColumnSpec =
  | { readonly kind: 'all'; readonly excluded: ReadonlySet<string> }
  | { readonly kind: 'list'; readonly names: ReadonlySet<string> };

const lfFilterSchema = z.looseObject({
  DatabaseName: z.string(),
  TableName: z.string(),
  Name: z.string(),
  RowFilter: z
    .looseObject({ FilterExpression: z.string().optional(), AllRowsWildcard: z.looseObject({}).optional() })
    .optional(),
  ColumnNames: z.array(z.string()).optional(),
  ColumnWildcard: z.looseObject({ ExcludedColumnNames: z.array(z.string()).optional() }).optional(),
});
type LfFilter = z.infer<typeof lfFilterSchema>;

const lfTagSchema = z.looseObject({ TagKey: z.string(), TagValues: z.array(z.string()) });
const lfColumnTagsSchema = z.array(
  z.looseObject({ Name: z.string().optional(), LFTags: z.array(lfTagSchema).optional() }),
);

const lfPermissionSchema = z.looseObject({
  Permissions: z.array(z.string()).optional(),
  Condition: z.unknown().optional(),
  Resource: z
    .looseObject({
      Table: z
        .looseObject({
          DatabaseName: z.string(),
          Name: z.string().optional(),
          TableWildcard: z.looseObject({}).optional(),
        })
        .optional(),
      TableWithColumns: z
        .looseObject({
          DatabaseName: z.string(),
          Name: z.string(),
          ColumnNames: z.array(z.string()).optional(),
          ColumnWildcard: z.looseObject({ ExcludedColumnNames: z.array(z.string()).optional() }).optional(),
        })
        .optional(),
      DataCellsFilter: z
        .looseObject({
          DatabaseName: z.string().optional(),
          TableName: z.string().optional(),
          Name: z.string(),
        })
        .optional(),
    })
    .optional(),
});

/**
 * Reads Lake Formation into a policy document; caches it for `ttlMs` and then
 * refreshes in the background while serving the cached one. A failed refresh
 * (LF unreachable, a filter outside the grammar, a document that no longer fits
 * the catalog) is logged and the last good policy stays.
 */
export class LakeFormationPolicySource implements PolicySource {
  readonly kind = 'lakeformation';
  readonly ttlMs: number;
  private current: PolicySnapshot | undefined;
  private first: Promise<PolicySnapshot> | undefined;
  private refreshing: Promise<boolean> | undefined;
  private checkedAt = 0;
  private readonly now: () => number;

  constructor(private readonly options: LakeFormationPolicySourceOptions) {
    this.ttlMs = options.ttlMs;
    this.now = options.now ?? Date.now;
  }

  /** The cached policy; the first call waits for Lake Formation, later ones never do. */
  async load(): Promise<PolicySnapshot> {
    if (!this.current) {
      this.first ??= this.fetch()
        .then((snapshot) => {
          this.accept(snapshot);
          return snapshot;
        })
        .finally(() => {
          this.first = undefined;
        });
      return this.first;
    }
    if (this.now() - this.checkedAt >= this.ttlMs) void this.refresh();
    return this.current;
  }

  /** Fetch now; resolves to whether a new good policy was taken (the last good one stays otherwise). */
  refresh(): Promise<boolean> {
    this.refreshing ??= this.fetch()
      .then((snapshot) => {
        this.accept(snapshot);
        return true;
      })
      .catch((error: unknown) => {
        this.checkedAt = this.now();
        this.options.log?.error('policy refresh failed; keeping the last good policy', {
          source: this.kind,
          error: describeError(error),
          ...(this.current ? { digest: this.current.digest } : {}),
        });
        return false;
      })
      .finally(() => {
        this.refreshing = undefined;
      });
    return this.refreshing;
  }

  /** Nothing to release (the SDK client belongs to the caller). */
  async close(): Promise<void> {}

  private accept(snapshot: PolicySnapshot): void {
    const changed = snapshot.digest !== this.current?.digest;
    this.current = snapshot;
    this.checkedAt = this.now();
    if (changed) {
      this.options.log?.info('policy loaded', { source: this.kind, digest: snapshot.digest });
      for (const warning of snapshot.warnings) this.options.log?.warn('policy warning', { warning });
    }
  }

  /** Read Lake Formation and build the document (no caching). */
  async fetch(): Promise<PolicySnapshot> {
    const { mapping, marts } = this.options;
    const origin = `lakeformation:${mapping.database}`;
    let filters: LfFilter[];
    let grantsByRole: Map<string, GrantRef[]>;
    let columnTags: { tags: Map<string, Map<string, string[]>>; missing: string[] };
    try {
      filters = await this.listFilters();
      grantsByRole = await this.principalGrants();
      columnTags = await this.columnTags();
    } catch (error) {
      if (error instanceof PolicyInvalidError) throw error;
      throw new PolicySourceUnavailableError(
        `Lake Formation could not be read: ${describeError(error).message}`,
        {
          cause: error,
        },
      );
    }
    const warnings: string[] = columnTags.missing.map(
      (table) => `Glue table ${mapping.database}.${table} was not found; its LF-tags were not read`,
    );
    const problems: PolicyProblem[] = [];
    const martOfTable = (table: string): MartDef | undefined => {
      const name = mapping.tables[table] ?? table;
      return marts.find((m) => m.name === name);
    };

    const roles: PolicyDocument['roles'] = {};
    for (const [role, def] of Object.entries(mapping.roles)) {
      const pieces = new Map<string, Piece[]>();
      const add = (mart: MartDef, piece: Piece): void => {
        pieces.set(mart.name, [...(pieces.get(mart.name) ?? []), piece]);
      };
      const fromFilter = (filter: LfFilter, claims: Readonly<Record<string, string>>): void => {
        const mart = martOfTable(filter.TableName);
        if (!mart) {
          warnings.push(
            `role ${role}: filter "${filter.Name}" is on table ${filter.TableName}, which maps to no mart`,
          );
          return;
        }
        const where = `filter "${filter.Name}" on ${filter.TableName}`;
        const piece = filterPiece(filter, mart, claims, where, warnings, problems, ['roles', role]);
        if (piece) add(mart, piece);
      };

      def.filters.forEach((ref) => {
        const name = typeof ref === 'string' ? ref : ref.name;
        const table = typeof ref === 'string' ? undefined : ref.table;
        const claims = { ...def.claims, ...(typeof ref === 'string' ? {} : ref.claims) };
        const matches = filters.filter(
          (f) => f.Name === name && (table === undefined || f.TableName === table),
        );
        if (matches.length === 0)
          warnings.push(
            `role ${role}: Lake Formation has no data cells filter "${name}"${table ? ` on ${table}` : ''}`,
          );
        for (const filter of matches) fromFilter(filter, claims);
      });
      for (const grant of grantsByRole.get(role) ?? []) {
        if (grant.kind === 'filter') {
          const filter = filters.find((f) => f.Name === grant.name && f.TableName === grant.table);
          if (filter) fromFilter(filter, { ...def.claims });
          else warnings.push(`role ${role}: granted filter "${grant.name}" on ${grant.table} was not listed`);
          continue;
        }
        const tables = grant.table === '*' ? marts.map((m) => tableOf(m, mapping)) : [grant.table];
        for (const table of tables) {
          const mart = martOfTable(table);
          if (!mart) continue;
          const claimRules = Object.entries(def.claims ?? {}).map(([column, claim]) => ({ column, claim }));
          const columns = knownColumns(grant.columns, mart, `table grant on ${table}`, warnings);
          add(mart, { columns, groups: claimRules.length > 0 ? [claimRules] : null });
        }
      }

      const martsOut: Record<string, MartGrant> = {};
      for (const [martName, list] of pieces) {
        const mart = marts.find((m) => m.name === martName) as MartDef;
        const grant = unionPieces(list, {
          ...(def.pii ? { pii: def.pii } : {}),
          detail: def.detail,
          ...(def.aggregates ? { aggregates: def.aggregates } : {}),
        });
        if (!grant) continue;
        const readable = resolveColumns(grant.columns, mart);
        const missingKey = mart.key.filter((k) => !readable.has(k));
        if (def.detail && missingKey.length > 0) {
          warnings.push(
            `role ${role}: Lake Formation grants no ${missingKey.join(', ')} of ${martName}; detail reads need the key, so the role does not get ${martName}`,
          );
          continue;
        }
        martsOut[martName] = grant;
      }
      roles[role] = { ...(def.description ? { description: def.description } : {}), marts: martsOut };
    }

    const classification = this.classify(columnTags.tags, warnings, problems);
    const document: PolicyDocument = {
      version: 1,
      roles,
      ...(Object.keys(classification).length > 0 ? { classification } : {}),
    };
    problems.push(
      ...validatePolicy(document, marts, this.options.claims ? { claims: this.options.claims } : {}),
    );
    if (problems.length > 0) throw new PolicyInvalidError(problems, { origin });
    return { document, digest: digestOf(document), origin, warnings, loadedAt: this.now() };
  }

  private async listFilters(): Promise<LfFilter[]> {
    const { client, mapping } = this.options;
    const out: LfFilter[] = [];
    const pages = paginateListDataCellsFilter(
      { client, pageSize: 100 },
      {
        Table: {
          ...(mapping.catalogId ? { CatalogId: mapping.catalogId } : {}),
          DatabaseName: mapping.database,
          TableWildcard: {},
        },
      },
    );
    for await (const page of pages) {
      for (const raw of page.DataCellsFilters ?? []) {
        const filter = lfFilterSchema.parse(raw);
        if (filter.DatabaseName === mapping.database) out.push(filter);
      }
    }
    return out;
  }

  /** What LF grants the mapped principals (SELECT on filters, tables, columns), by goldgate role. */
  private async principalGrants(): Promise<Map<string, GrantRef[]>> {
    const { client, mapping } = this.options;
    const out = new Map<string, GrantRef[]>();
    for (const [role, def] of Object.entries(mapping.roles)) {
      const refs: GrantRef[] = [];
      for (const principal of def.principals) {
        const pages = paginateListPermissions(
          { client, pageSize: 100 },
          {
            ...(mapping.catalogId ? { CatalogId: mapping.catalogId } : {}),
            Principal: { DataLakePrincipalIdentifier: principal },
          },
        );
        for await (const page of pages) {
          for (const raw of page.PrincipalResourcePermissions ?? []) {
            const perm = lfPermissionSchema.parse(raw);
            const ref = grantRef(perm, mapping.database);
            if (!ref) continue;
            if (perm.Condition !== undefined) {
              // A conditional grant cannot be evaluated for a JWT caller: it gives nothing.
              this.options.log?.warn('conditional Lake Formation grant ignored', { role, principal });
              continue;
            }
            refs.push(ref);
          }
        }
      }
      out.set(role, refs);
    }
    return out;
  }

  /** `mart -> column -> pii tag values` from the LF-tags on each Gold table's columns. */
  private async columnTags(): Promise<{ tags: Map<string, Map<string, string[]>>; missing: string[] }> {
    const { client, mapping, marts } = this.options;
    const out = new Map<string, Map<string, string[]>>();
    const missing: string[] = [];
    for (const mart of marts) {
      const table = tableOf(mart, mapping);
      let answer: { LFTagsOnColumns?: unknown };
      try {
        answer = await client.send(
          new GetResourceLFTagsCommand({
            ...(mapping.catalogId ? { CatalogId: mapping.catalogId } : {}),
            Resource: {
              Table: {
                ...(mapping.catalogId ? { CatalogId: mapping.catalogId } : {}),
                DatabaseName: mapping.database,
                Name: table,
              },
            },
            ShowAssignedLFTags: true,
          }),
        );
      } catch (error) {
        if ((error as { name?: string }).name !== 'EntityNotFoundException') throw error;
        missing.push(table);
        continue;
      }
      const perColumn = new Map<string, string[]>();
      for (const column of lfColumnTagsSchema.parse(answer.LFTagsOnColumns ?? [])) {
        const tag = column.LFTags?.find((t) => t.TagKey === mapping.piiTagKey);
        if (column.Name && tag) perColumn.set(column.Name, [...tag.TagValues].sort());
      }
      out.set(mart.name, perColumn);
    }
    return { tags: out, missing };
  }

  private classify(
    tags: ReadonlyMap<string, ReadonlyMap<string, readonly string[]>>,
    warnings: string[],
    problems: PolicyProblem[],
  ): Record<string, Record<string, string>> {
    const { mapping, marts } = this.options;
    const out: Record<string, Record<string, string>> = {};
    const disagree = (mart: string, column: string, message: string): void => {
      if (mapping.onPiiDisagreement === 'fail')
        problems.push({ path: ['lakeformation', 'lfTags', mart, column], message });
      else warnings.push(`${mart}.${column}: ${message}`);
    };
    for (const mart of marts) {
      const perColumn = tags.get(mart.name);
      if (!perColumn) continue;
      for (const column of mart.columns) {
        const values = perColumn.get(column.name);
        const lf = values?.[0];
        if (values && values.length > 1)
          disagree(
            mart.name,
            column.name,
            `LF-tag ${mapping.piiTagKey} has several values (${values.join(', ')})`,
          );
        if (column.pii && lf === undefined)
          disagree(
            mart.name,
            column.name,
            `the catalog tags it ${column.pii}; Lake Formation has no ${mapping.piiTagKey} tag`,
          );
        else if (column.pii && lf !== undefined && lf !== column.pii)
          disagree(
            mart.name,
            column.name,
            `the catalog tags it ${column.pii}; Lake Formation says ${mapping.piiTagKey}=${lf}`,
          );
        else if (!column.pii && lf !== undefined) {
          disagree(
            mart.name,
            column.name,
            `Lake Formation tags it ${mapping.piiTagKey}=${lf}; the catalog does not`,
          );
          const perMart = out[mart.name] ?? {};
          perMart[column.name] = lf;
          out[mart.name] = perMart;
        }
      }
      for (const name of perColumn.keys())
        if (!mart.columns.some((c) => c.name === name))
          warnings.push(`${mart.name}.${name}: LF-tagged column the catalog does not have`);
    }
    return out;
  }
}

type GrantRef =
  | { readonly kind: 'filter'; readonly table: string; readonly name: string }
  | { readonly kind: 'table'; readonly table: string; readonly columns: ColumnSpec };

function grantRef(perm: z.infer<typeof lfPermissionSchema>, database: string): GrantRef | undefined {
  const permissions = perm.Permissions ?? [];
  if (!permissions.includes('SELECT') && !permissions.includes('ALL')) return undefined;
  const r = perm.Resource;
  if (r?.DataCellsFilter && r.DataCellsFilter.DatabaseName === database && r.DataCellsFilter.TableName)
    return { kind: 'filter', table: r.DataCellsFilter.TableName, name: r.DataCellsFilter.Name };
  if (r?.TableWithColumns && r.TableWithColumns.DatabaseName === database)
    return {
      kind: 'table',
      table: r.TableWithColumns.Name,
      columns: columnSpec(r.TableWithColumns.ColumnNames, r.TableWithColumns.ColumnWildcard),
    };
  if (r?.Table && r.Table.DatabaseName === database && (r.Table.Name || r.Table.TableWildcard))
    return { kind: 'table', table: r.Table.Name ?? '*', columns: { kind: 'all', excluded: new Set() } };
  return undefined;
}

function tableOf(mart: MartDef, mapping: LakeFormationMapping): string {
  return Object.entries(mapping.tables).find(([, m]) => m === mart.name)?.[0] ?? mart.name;
}

function columnSpec(
  names: readonly string[] | undefined,
  wildcard: { ExcludedColumnNames?: string[] | undefined } | undefined,
): ColumnSpec {
  if (wildcard) return { kind: 'all', excluded: new Set(wildcard.ExcludedColumnNames ?? []) };
  return { kind: 'list', names: new Set(names ?? []) };
}

/** Drop column names the catalog does not know (less access, never more), with a warning. */
function knownColumns(spec: ColumnSpec, mart: MartDef, where: string, warnings: string[]): ColumnSpec {
  const names = new Set(mart.columns.map((c) => c.name));
  const given = spec.kind === 'all' ? spec.excluded : spec.names;
  const unknown = [...given].filter((n) => !names.has(n));
  if (unknown.length > 0)
    warnings.push(`${where}: columns ${unknown.join(', ')} are not in ${mart.name}; ignored`);
  const kept = new Set([...given].filter((n) => names.has(n)));
  return spec.kind === 'all' ? { kind: 'all', excluded: kept } : { kind: 'list', names: kept };
}

function filterPiece(
  filter: LfFilter,
  mart: MartDef,
  claims: Readonly<Record<string, string>>,
  where: string,
  warnings: string[],
  problems: PolicyProblem[],
  path: readonly (string | number)[],
): Piece | undefined {
  const columns = knownColumns(columnSpec(filter.ColumnNames, filter.ColumnWildcard), mart, where, warnings);
  if (columns.kind === 'list' && columns.names.size === 0) {
    warnings.push(`${where}: grants no column goldgate knows; ignored`);
    return undefined;
  }
  const claimRules: RowRule[] = Object.entries(claims).map(([column, claim]) => ({ column, claim }));
  const row = filter.RowFilter;
  if (row?.AllRowsWildcard !== undefined && row.FilterExpression === undefined)
    return { columns, groups: claimRules.length > 0 ? [claimRules] : null };
  if (row?.FilterExpression === undefined) {
    warnings.push(`${where}: no row filter; ignored`);
    return undefined;
  }
  try {
    const dnf = parseRowFilter(row.FilterExpression);
    return {
      columns,
      groups: dnf.map((group) => [
        ...group.map((p): RowRule => ({ column: p.column, values: [...p.values] })),
        ...claimRules,
      ]),
    };
  } catch (error) {
    if (!(error instanceof RowFilterSyntaxError)) throw error;
    problems.push({
      path: [...path, 'filters', `${filter.TableName}/${filter.Name}`],
      message: `${where}: ${error.message}`,
    });
    return undefined;
  }
}

function unionColumns(a: ColumnSpec, b: ColumnSpec): ColumnSpec {
  if (a.kind === 'all' && b.kind === 'all')
    return { kind: 'all', excluded: new Set([...a.excluded].filter((n) => b.excluded.has(n))) };
  if (a.kind === 'all' && b.kind === 'list')
    return { kind: 'all', excluded: new Set([...a.excluded].filter((n) => !b.names.has(n))) };
  if (a.kind === 'list' && b.kind === 'all') return unionColumns(b, a);
  const names = new Set([
    ...(a as { names: ReadonlySet<string> }).names,
    ...(b as { names: ReadonlySet<string> }).names,
  ]);
  return { kind: 'list', names };
}

function unionPieces(
  pieces: readonly Piece[],
  settings: Pick<MartGrant, 'pii' | 'detail' | 'aggregates'>,
): MartGrant | undefined {
  const [head, ...tail] = pieces;
  if (!head) return undefined;
  let columns = head.columns;
  for (const p of tail) columns = unionColumns(columns, p.columns);
  const everyRow = pieces.some((p) => p.groups === null);
  const groups = everyRow ? [] : pieces.flatMap((p) => p.groups ?? []);
  const sorted = (s: ReadonlySet<string>): string[] => [...s].sort();
  if (columns.kind === 'list' && columns.names.size === 0) return undefined;
  const grantColumns: MartGrant['columns'] =
    columns.kind === 'list'
      ? sorted(columns.names)
      : columns.excluded.size === 0
        ? '*'
        : { allBut: sorted(columns.excluded) };
  return {
    columns: grantColumns,
    ...(everyRow
      ? {}
      : { rows: groups.length === 1 ? (groups[0] as RowRule[]) : { anyOf: groups.map((g) => [...g]) } }),
    ...settings,
  };
}

function resolveColumns(columns: MartGrant['columns'], mart: MartDef): Set<string> {
  const all = mart.columns.map((c) => c.name);
  if (columns === '*') return new Set(all);
  if (Array.isArray(columns)) return new Set(columns);
  const excluded = new Set(columns.allBut);
  return new Set(all.filter((n) => !excluded.has(n)));
}
