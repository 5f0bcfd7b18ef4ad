/** Who is calling, from verified JWT claims. */
export interface Principal {
  readonly subject: string;
  readonly roles: readonly string[];
  /** Row scopes from claims, e.g. `regions`, `customer_ids`. */
  readonly scopes: Readonly<Record<string, readonly string[]>>;
}

/** The claims goldgate reads, under the configured namespace (e.g. `https://goldgate.dev/roles`). */
export const SCOPE_CLAIMS = ['regions', 'customer_ids'] as const;
