import type { MartDef } from '../catalog/types.js';
import type { Principal } from './principal.js';

/** How a PII column is shown (`access.md`): clear, partial, keyed HMAC (joins and groups), or null. */
export const MASK_KINDS = ['none', 'partial', 'hash', 'redact'] as const;
export type MaskKind = (typeof MASK_KINDS)[number];

/** A row predicate bound to claim values: `column IN (values)`, values always bound as parameters. */
export interface RowPredicate {
  readonly column: string;
  readonly values: readonly string[];
}

/**
 * Which rows a caller may read: `null` is every row; otherwise a row is
 * visible when it matches any alternative, each alternative an AND of
 * predicates (roles combine by union). An empty list of alternatives is no row.
 */
export type RowScope = null | readonly (readonly RowPredicate[])[];

/** Aggregate grant: whether `groupBy`/measures may run, and the smallest group returned. */
export interface AggregateAccess {
  readonly allowed: boolean;
  /** Groups with fewer rows are suppressed (1 = no suppression). */
  readonly minGroupSize: number;
}

/** What one caller may read of one mart. Every query the gateway runs is compiled from it. */
export interface MartAccess {
  readonly mart: MartDef;
  /** Readable columns, masked ones included (hidden ones are unknown to the caller). */
  readonly columns: ReadonlySet<string>;
  /** Readable columns shown masked; absent = clear. Masked columns cannot be filtered or sorted on. */
  readonly masks: ReadonlyMap<string, Exclude<MaskKind, 'none'>>;
  readonly rows: RowScope;
  /** Row-level reads (lists, items, exports, relations); false = aggregate-only grant. */
  readonly detail: boolean;
  readonly aggregates: AggregateAccess;
}

/** Decides access. `undefined` means the mart does not exist for this caller. */
export interface AccessPolicy {
  accessFor(principal: Principal, mart: MartDef): MartAccess | undefined;
  /**
   * A stable digest of the caller's effective policy (part of every cache key):
   * two callers with the same fingerprint must be allowed exactly the same answers.
   */
  fingerprint(principal: Principal): string;
}

/** Full access to a mart: every column in clear, every row, aggregates without suppression. */
export function fullAccess(mart: MartDef): MartAccess {
  return {
    mart,
    columns: new Set(mart.columns.map((c) => c.name)),
    masks: new Map(),
    rows: null,
    detail: true,
    aggregates: { allowed: true, minGroupSize: 1 },
  };
}

/**
 * The foundation's policy: deny by default, the `admin` role reads every
 * column of every mart. Tests use it; the runtime loads a policy source.
 */
export const adminOnlyPolicy: AccessPolicy = {
  accessFor(principal, mart) {
    return principal.roles.includes('admin') ? fullAccess(mart) : undefined;
  },
  fingerprint(principal) {
    return principal.roles.includes('admin') ? 'admin' : 'none';
  },
};
