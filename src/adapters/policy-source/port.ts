import type { PolicyDocument } from '../../auth/policy/model.js';

/** One loaded policy and what is known about where it came from. */
export interface PolicySnapshot {
  readonly document: PolicyDocument;
  /** sha256 hex of the document's canonical JSON: changes exactly when the policy does. */
  readonly digest: string;
  /** Where it came from, for logs (`policies/demo.yaml`, `lakeformation:goldgate_gold`). */
  readonly origin: string;
  /** Things worth a warning that did not stop the load (e.g. LF-tags disagreeing with the catalog). */
  readonly warnings: readonly string[];
  /** When it was loaded (ms since the epoch). */
  readonly loadedAt: number;
}

/**
 * The policy source port: where the source-neutral policy document comes from
 * (a file in the repo on the embedded home; Lake Formation on AWS). Sources may
 * cache and refresh; `load()` answers from the cache while it is fresh, and a
 * source that refreshes keeps its last good policy when a refresh fails.
 */
export interface PolicySource {
  /** `file` or `lakeformation`. */
  readonly kind: string;
  /** The current policy. Throws a typed error only when no good policy was ever loaded. */
  load(): Promise<PolicySnapshot>;
  /** How long a snapshot stays fresh (ms); `Infinity` for a source that never changes while running. */
  readonly ttlMs: number;
  close(): Promise<void>;
}
