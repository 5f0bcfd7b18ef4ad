import { LRUCache } from 'lru-cache';
import type { MartDef } from '../../catalog/types.js';
import type {
  AccessPolicy,
  AggregateAccess,
  MartAccess,
  MaskKind,
  RowPredicate,
  RowScope,
} from '../access.js';
import { type Principal, SCOPE_CLAIMS } from '../principal.js';
import { digestOf } from './digest.js';
import { PolicyInvalidError, type PolicyProblem } from './errors.js';
import {
  type MartGrant,
  type PolicyDocument,
  type PolicyDocumentInput,
  policyDocumentSchema,
  type RowRule,
} from './model.js';

/**
 * Turns a source-neutral `PolicyDocument` into the `AccessPolicy` the query
 * layer enforces. Everything that can be decided without a caller (which
 * columns a grant names, which rules bind to which column, masks per role) is
 * resolved once here; per caller only the union of its roles and the claim
 * values remain, and those are cached per distinct (roles, scopes).
 */

/** Most permissive first: several roles granting a column show it the clearest way any of them allows. */
const PERMISSIVENESS: readonly MaskKind[] = ['none', 'partial', 'hash', 'redact'];

export interface CompileOptions {
  /** Digest of the source document; default: sha256 of its canonical JSON. */
  readonly digest?: string;
  /** Claims a row rule may name; default: the claims the verifier reads (`SCOPE_CLAIMS`). */
  readonly claims?: readonly string[];
  /** Distinct (roles, scopes) whose compiled access is kept; default 1000. */
  readonly cacheSize?: number;
}

/** An `AccessPolicy` compiled from one document, with what tooling needs to know about it. */
export interface CompiledPolicy extends AccessPolicy {
  /** The document's digest. */
  readonly digest: string;
  /** The roles the document defines, sorted. */
  readonly roles: readonly string[];
  /** The claims a role's row rules need: without one of them, the rules it is in match no row. */
  claimsOf(role: string): readonly string[];
  /** Every mart's access for a caller (marts without a grant are absent), from the cache. */
  accessAll(principal: Principal): ReadonlyMap<string, MartAccess>;
}

interface ResolvedRule {
  readonly column: string;
  readonly claim?: string;
  readonly values?: readonly string[];
  readonly absent: 'none' | 'all';
}

/** One role's grant on one mart, with everything caller-independent decided. */
interface ResolvedGrant {
  readonly columns: ReadonlySet<string>;
  /** Per PII column of `columns`: how this role shows it. */
  readonly masks: ReadonlyMap<string, MaskKind>;
  /** `null` = every row; else OR of AND-groups. */
  readonly groups: readonly (readonly ResolvedRule[])[] | null;
  readonly detail: boolean;
  readonly aggregates: AggregateAccess;
}

interface CompiledPrincipal {
  readonly marts: ReadonlyMap<string, MartAccess>;
  readonly fingerprint: string;
}

type Path = readonly (string | number)[];

/**
 * Check a document against the schema and the mart catalog; an empty list means it compiles.
 * Unknown marts, columns, PII tags and claims are problems; a `*` grant whose row rule needs a
 * dimension or column a mart lacks simply does not give that mart (no problem).
 */
export function validatePolicy(
  input: unknown,
  marts: readonly MartDef[],
  options: Pick<CompileOptions, 'claims'> = {},
): PolicyProblem[] {
  const parsed = policyDocumentSchema.safeParse(input);
  if (!parsed.success) {
    return parsed.error.issues.map((issue) => ({
      path: issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p)),
      message: issue.message,
    }));
  }
  return resolveDocument(parsed.data, marts, options.claims ?? SCOPE_CLAIMS).problems;
}

/**
 * Compile a policy document against the catalog. Throws `PolicyInvalidError`
 * listing every problem (with its document path) when it does not fit.
 */
export function compilePolicy(
  doc: PolicyDocumentInput,
  marts: readonly MartDef[],
  options: CompileOptions = {},
): CompiledPolicy {
  const parsed = policyDocumentSchema.safeParse(doc);
  if (!parsed.success) {
    throw new PolicyInvalidError(
      parsed.error.issues.map((issue) => ({
        path: issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p)),
        message: issue.message,
      })),
    );
  }
  const claims = options.claims ?? SCOPE_CLAIMS;
  const resolved = resolveDocument(parsed.data, marts, claims);
  if (resolved.problems.length > 0) throw new PolicyInvalidError(resolved.problems);
  const digest = options.digest ?? digestOf(parsed.data);
  const roles = Object.keys(parsed.data.roles).sort();
  const martByName = new Map(marts.map((m) => [m.name, m]));
  const cache = new LRUCache<string, CompiledPrincipal>({ max: options.cacheSize ?? 1000 });
  // A request asks several times for the same principal object: skip even the key computation.
  const perObject = new WeakMap<Principal, CompiledPrincipal>();

  const compiledFor = (principal: Principal): CompiledPrincipal => {
    const seen = perObject.get(principal);
    if (seen) return seen;
    const key = cacheKey(principal);
    let entry = cache.get(key);
    if (!entry) {
      entry = compilePrincipal(principal, marts, resolved.grants);
      cache.set(key, entry);
    }
    perObject.set(principal, entry);
    return entry;
  };

  return {
    digest,
    roles,
    claimsOf(role) {
      return resolved.claimsByRole.get(role) ?? [];
    },
    accessFor(principal, mart) {
      // A MartDef the policy was not compiled for (another catalog, a copy) is not granted.
      if (martByName.get(mart.name) !== mart) return undefined;
      return compiledFor(principal).marts.get(mart.name);
    },
    fingerprint(principal) {
      return compiledFor(principal).fingerprint;
    },
    accessAll(principal) {
      return compiledFor(principal).marts;
    },
  };
}

function cacheKey(principal: Principal): string {
  const roles = [...new Set(principal.roles)].sort();
  const scopes = Object.keys(principal.scopes)
    .sort()
    .map((name) => [name, [...new Set(principal.scopes[name])].sort()]);
  return JSON.stringify([roles, scopes]);
}

interface ResolvedDocument {
  readonly problems: PolicyProblem[];
  /** role -> mart -> grant */
  readonly grants: ReadonlyMap<string, ReadonlyMap<string, ResolvedGrant>>;
  readonly claimsByRole: ReadonlyMap<string, readonly string[]>;
}

function resolveDocument(
  doc: PolicyDocument,
  marts: readonly MartDef[],
  claims: readonly string[],
): ResolvedDocument {
  const problems: PolicyProblem[] = [];
  const classification = resolveClassification(doc, marts, problems);
  const knownTags = new Set<string>(['default']);
  for (const mart of marts) for (const c of mart.columns) if (c.pii) knownTags.add(c.pii);
  for (const perMart of classification.values()) for (const tag of perMart.values()) knownTags.add(tag);

  const grants = new Map<string, Map<string, ResolvedGrant>>();
  const claimsByRole = new Map<string, readonly string[]>();
  for (const [role, def] of Object.entries(doc.roles)) {
    const byMart = new Map<string, ResolvedGrant>();
    const roleClaims = new Set<string>();
    const wildcard = def.marts['*'];
    for (const [martKey, grant] of Object.entries(def.marts)) {
      const path: Path = ['roles', role, 'marts', martKey];
      checkGrantShape(grant, path, knownTags, claims, problems);
      for (const group of ruleGroups(grant))
        for (const rule of group) if (rule.claim && rule.absent !== 'all') roleClaims.add(rule.claim);
      if (martKey === '*') {
        checkWildcardColumns(grant, marts, path, problems);
        continue;
      }
      const mart = marts.find((m) => m.name === martKey);
      if (!mart) {
        problems.push({ path, message: `unknown mart "${martKey}"` });
        continue;
      }
      const resolved = resolveGrant(grant, mart, classification.get(mart.name), path, problems);
      if (resolved) byMart.set(mart.name, resolved);
    }
    if (wildcard) {
      // An explicit grant on a mart replaces the role's `*` grant for that mart.
      for (const mart of marts) {
        if (byMart.has(mart.name) || def.marts[mart.name]) continue;
        const resolved = resolveGrant(wildcard, mart, classification.get(mart.name), undefined, problems);
        if (resolved) byMart.set(mart.name, resolved);
      }
    }
    grants.set(role, byMart);
    claimsByRole.set(role, [...roleClaims].sort());
  }
  return { problems, grants, claimsByRole };
}

/** The document's own PII classes, checked against the catalog (it may add, never contradict). */
function resolveClassification(
  doc: PolicyDocument,
  marts: readonly MartDef[],
  problems: PolicyProblem[],
): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  for (const [martName, columns] of Object.entries(doc.classification ?? {})) {
    const mart = marts.find((m) => m.name === martName);
    if (!mart) {
      problems.push({ path: ['classification', martName], message: `unknown mart "${martName}"` });
      continue;
    }
    const perMart = new Map<string, string>();
    for (const [columnName, tag] of Object.entries(columns)) {
      const column = mart.columns.find((c) => c.name === columnName);
      const path = ['classification', martName, columnName];
      if (!column) problems.push({ path, message: `unknown column "${columnName}" of ${martName}` });
      else if (column.pii && column.pii !== tag)
        problems.push({
          path,
          message: `${martName}.${columnName} is classified "${column.pii}" by the catalog, not "${tag}"`,
        });
      else if (!column.pii) perMart.set(columnName, tag);
    }
    out.set(martName, perMart);
  }
  return out;
}

function ruleGroups(grant: MartGrant): readonly (readonly RowRule[])[] {
  if (grant.rows === undefined) return [];
  return Array.isArray(grant.rows) ? [grant.rows] : grant.rows.anyOf;
}

function rulesPath(grant: MartGrant, path: Path, group: number): Path {
  return Array.isArray(grant.rows) ? [...path, 'rows'] : [...path, 'rows', 'anyOf', group];
}

/** Checks that do not depend on the mart: PII keys, claims, detail vs aggregates. */
function checkGrantShape(
  grant: MartGrant,
  path: Path,
  knownTags: ReadonlySet<string>,
  claims: readonly string[],
  problems: PolicyProblem[],
): void {
  for (const tag of Object.keys(grant.pii ?? {})) {
    if (!knownTags.has(tag))
      problems.push({
        path: [...path, 'pii', tag],
        message: `unknown PII tag "${tag}" (known: ${[...knownTags].sort().join(', ')})`,
      });
  }
  ruleGroups(grant).forEach((group, g) => {
    group.forEach((rule, r) => {
      if (rule.claim !== undefined && !claims.includes(rule.claim))
        problems.push({
          path: [...rulesPath(grant, path, g), r, 'claim'],
          message: `unknown claim "${rule.claim}" (known: ${claims.join(', ')})`,
        });
    });
  });
  if (!grant.detail && grant.aggregates?.allowed === false)
    problems.push({
      path: [...path, 'detail'],
      message: 'a grant without detail reads must allow aggregates, or it grants nothing',
    });
}

/** A `*` grant naming a column no mart has is a typo, not a mart that lacks it. */
function checkWildcardColumns(
  grant: MartGrant,
  marts: readonly MartDef[],
  path: Path,
  problems: PolicyProblem[],
): void {
  const names =
    grant.columns === '*' ? [] : Array.isArray(grant.columns) ? grant.columns : grant.columns.allBut;
  const sub = Array.isArray(grant.columns) ? ['columns'] : ['columns', 'allBut'];
  names.forEach((name, i) => {
    if (!marts.some((m) => m.columns.some((c) => c.name === name)))
      problems.push({ path: [...path, ...sub, i], message: `unknown column "${name}" of every mart` });
  });
  ruleGroups(grant).forEach((group, g) => {
    group.forEach((rule, r) => {
      if (rule.column !== undefined && !marts.some((m) => m.columns.some((c) => c.name === rule.column)))
        problems.push({
          path: [...rulesPath(grant, path, g), r, 'column'],
          message: `unknown column "${rule.column}" of every mart`,
        });
    });
  });
}

/**
 * Resolve a grant on one mart. With a `path` (an explicit grant) what does not fit is a problem;
 * without one (a `*` grant) a mart that does not fit is left out for that role.
 */
function resolveGrant(
  grant: MartGrant,
  mart: MartDef,
  classified: ReadonlyMap<string, string> | undefined,
  path: Path | undefined,
  problems: PolicyProblem[],
): ResolvedGrant | undefined {
  const names = new Set(mart.columns.map((c) => c.name));
  let ok = true;
  const unknown = (where: Path, name: string): void => {
    ok = false;
    if (path) problems.push({ path: where, message: `unknown column "${name}" of ${mart.name}` });
  };
  let columns: Set<string>;
  if (grant.columns === '*') columns = new Set(names);
  else if (Array.isArray(grant.columns)) {
    columns = new Set();
    grant.columns.forEach((name, i) => {
      if (names.has(name)) columns.add(name);
      else if (path) unknown([...path, 'columns', i], name);
    });
  } else {
    const excluded = new Set<string>();
    grant.columns.allBut.forEach((name, i) => {
      if (names.has(name)) excluded.add(name);
      else if (path) unknown([...path, 'columns', 'allBut', i], name);
    });
    columns = new Set([...names].filter((n) => !excluded.has(n)));
  }

  const groups: ResolvedRule[][] = [];
  ruleGroups(grant).forEach((group, g) => {
    const resolvedGroup: ResolvedRule[] = [];
    group.forEach((rule, r) => {
      const column = rule.column ?? (rule.dimension ? mart.rowScope[rule.dimension] : undefined);
      if (column === undefined || !names.has(column)) {
        ok = false;
        if (path) {
          const where: Path = [
            ...rulesPath(grant, path, g),
            r,
            rule.column !== undefined ? 'column' : 'dimension',
          ];
          problems.push({
            path: where,
            message:
              rule.column !== undefined
                ? `unknown column "${rule.column}" of ${mart.name}`
                : `${mart.name} has no ${rule.dimension} dimension`,
          });
        }
        return;
      }
      resolvedGroup.push({
        column,
        ...(rule.claim !== undefined ? { claim: rule.claim } : {}),
        ...(rule.values !== undefined ? { values: rule.values } : {}),
        absent: rule.absent ?? 'none',
      });
    });
    groups.push(resolvedGroup);
  });
  if (!ok) return undefined;

  if (grant.detail) {
    const missingKey = mart.key.filter((k) => !columns.has(k));
    if (missingKey.length > 0) {
      if (path)
        problems.push({
          path: [...path, 'columns'],
          message: `detail reads of ${mart.name} need its key column${missingKey.length > 1 ? 's' : ''} ${missingKey.map((k) => `"${k}"`).join(', ')}`,
        });
      return undefined;
    }
  }

  const masks = new Map<string, MaskKind>();
  for (const column of mart.columns) {
    if (!columns.has(column.name)) continue;
    const tag = column.pii ?? classified?.get(column.name);
    if (tag === undefined) continue;
    const kind = grant.pii?.[tag] ?? grant.pii?.default ?? 'redact';
    if (!column.pii && kind !== 'none') {
      // Classified PII the catalog does not know: masking needs the catalog's format and a
      // nullable text column, so a role that may not read it in clear does not see it at all.
      columns.delete(column.name);
      continue;
    }
    masks.set(column.name, kind);
  }
  if (columns.size === 0) {
    if (path) problems.push({ path: [...path, 'columns'], message: `grants no column of ${mart.name}` });
    return undefined;
  }

  return {
    columns,
    masks,
    groups: grant.rows === undefined ? null : groups,
    detail: grant.detail,
    aggregates: {
      allowed: grant.aggregates?.allowed ?? true,
      minGroupSize: grant.aggregates?.minGroupSize ?? 1,
    },
  };
}

/**
 * One caller's access to every mart: the union of its roles' grants.
 * When a caller holds both row-level and aggregate-only grants on a mart, the
 * row-level grants alone decide columns, masks and rows, so an aggregate-only
 * grant never widens what can be read row by row.
 */
function compilePrincipal(
  principal: Principal,
  marts: readonly MartDef[],
  grants: ReadonlyMap<string, ReadonlyMap<string, ResolvedGrant>>,
): CompiledPrincipal {
  const roles = [...new Set(principal.roles)].filter((r) => grants.has(r)).sort();
  const out = new Map<string, MartAccess>();
  for (const mart of marts) {
    const all = roles.flatMap((r) => {
      const g = grants.get(r)?.get(mart.name);
      return g ? [g] : [];
    });
    if (all.length === 0) continue;
    const detailGrants = all.filter((g) => g.detail);
    const contributing = detailGrants.length > 0 ? detailGrants : all;

    const columns = new Set<string>();
    for (const g of contributing) for (const c of g.columns) columns.add(c);
    const masks = new Map<string, Exclude<MaskKind, 'none'>>();
    // Catalog order, so equal access always iterates equally.
    const ordered = mart.columns.map((c) => c.name).filter((n) => columns.has(n));
    for (const name of ordered) {
      let best: MaskKind | undefined;
      for (const g of contributing) {
        const kind = g.columns.has(name) ? g.masks.get(name) : undefined;
        if (kind === undefined) continue;
        if (best === undefined || PERMISSIVENESS.indexOf(kind) < PERMISSIVENESS.indexOf(best)) best = kind;
      }
      if (best !== undefined && best !== 'none') masks.set(name, best);
    }

    const allowing = contributing.filter((g) => g.aggregates.allowed);
    const anyAllowing = all.filter((g) => g.aggregates.allowed);
    const aggregates: AggregateAccess = {
      allowed: anyAllowing.length > 0,
      minGroupSize:
        anyAllowing.length === 0
          ? 1
          : Math.min(...(allowing.length > 0 ? allowing : anyAllowing).map((g) => g.aggregates.minGroupSize)),
    };

    out.set(mart.name, {
      mart,
      columns: new Set(ordered),
      masks,
      rows: rowScope(contributing, principal.scopes),
      detail: detailGrants.length > 0,
      aggregates,
    });
  }
  return { marts: out, fingerprint: fingerprintOf(out) };
}

/** Bind the claims, then normalise: IN lists on one column intersect, unsatisfiable groups drop. */
function rowScope(
  grants: readonly ResolvedGrant[],
  scopes: Readonly<Record<string, readonly string[]>>,
): RowScope {
  const groups = new Map<string, RowPredicate[]>();
  for (const grant of grants) {
    if (grant.groups === null) return null;
    for (const group of grant.groups) {
      const byColumn = new Map<string, Set<string>>();
      let satisfiable = true;
      for (const rule of group) {
        let values: readonly string[];
        if (rule.values !== undefined) values = rule.values;
        else {
          const claimed = rule.claim !== undefined ? scopes[rule.claim] : undefined;
          if (claimed === undefined && rule.absent === 'all') continue;
          values = claimed ?? [];
        }
        const previous = byColumn.get(rule.column);
        const next = previous ? new Set(values.filter((v) => previous.has(v))) : new Set(values);
        byColumn.set(rule.column, next);
        if (next.size === 0) satisfiable = false;
      }
      if (!satisfiable) continue;
      // A group without predicates is every row.
      if (byColumn.size === 0) return null;
      const predicates = [...byColumn.entries()]
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([column, values]) => ({ column, values: [...values].sort() }));
      groups.set(JSON.stringify(predicates), predicates);
    }
  }
  return [...groups.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, g]) => g);
}

/**
 * A digest of the caller's effective access to every mart (columns, masks,
 * rows with their bound values, detail, aggregates): equal digests are equal
 * access, so answers cached under one are right for the other.
 */
function fingerprintOf(marts: ReadonlyMap<string, MartAccess>): string {
  const canonical = [...marts.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, a]) => [
      name,
      [...a.columns],
      [...a.masks.entries()],
      a.rows,
      a.detail,
      a.aggregates.allowed,
      a.aggregates.minGroupSize,
    ]);
  return digestOf(['goldgate-access-v1', canonical]);
}
