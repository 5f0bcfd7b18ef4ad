import type { MartDef } from '../catalog/types.js';
import type { Principal } from './principal.js';

/** A row predicate bound to claim values: `column IN (values)`. */
export interface RowPredicate {
  readonly column: string;
  readonly values: readonly string[];
}

/** What one caller may read of one mart. Every query the gateway runs is compiled from it. */
export interface MartAccess {
  readonly mart: MartDef;
  /** Readable columns (hidden ones are unknown to the caller). */
  readonly columns: ReadonlySet<string>;
  /** All must hold (AND); each is bound as parameters. */
  readonly rowFilter: readonly RowPredicate[];
}

/** Decides access. `undefined` means the mart does not exist for this caller. */
export interface AccessPolicy {
  accessFor(principal: Principal, mart: MartDef): MartAccess | undefined;
  /** A stable digest of the caller's effective policy (part of every cache key). */
  fingerprint(principal: Principal): string;
}

/**
 * The foundation's policy: deny by default, the `admin` role reads every
 * column of every mart. The policy-file and Lake Formation sources replace it
 * behind the same interface.
 */
export const adminOnlyPolicy: AccessPolicy = {
  accessFor(principal, mart) {
    if (!principal.roles.includes('admin')) return undefined;
    return { mart, columns: new Set(mart.columns.map((c) => c.name)), rowFilter: [] };
  },
  fingerprint(principal) {
    return principal.roles.includes('admin') ? 'admin' : 'none';
  },
};
