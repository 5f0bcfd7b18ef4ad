import { z } from 'zod';
import { MASK_KINDS } from '../access.js';

/**
 * The source-neutral policy model (`access.md`): what the policy file and Lake
 * Formation both produce, and what `compilePolicy` turns into an `AccessPolicy`.
 * Deny by default: a role without a grant on a mart does not see the mart.
 */

const mask = z.enum(MASK_KINDS);

/**
 * A row predicate: the mart's `dimension` (from the catalog's `rowScope`) or a named `column`,
 * IN the principal's `claim` values or IN fixed `values` (exactly one of each pair).
 * `absent` says what a claim rule means when the token carries no such claim at all:
 * `none` (default: no row) or `all` (the rule does not restrict). An empty claim list is never `all`.
 */
export const rowRuleSchema = z
  .object({
    dimension: z.enum(['region', 'customer']).optional(),
    column: z.string().min(1).optional(),
    claim: z.string().min(1).optional(),
    values: z.array(z.string()).min(1).max(1000).optional(),
    absent: z.enum(['none', 'all']).optional(),
  })
  .strict()
  .refine((r) => (r.dimension === undefined) !== (r.column === undefined), {
    message: 'a row rule names exactly one of dimension or column',
  })
  .refine((r) => (r.claim === undefined) !== (r.values === undefined), {
    message: 'a row rule takes exactly one of claim or values',
  })
  .refine((r) => r.absent === undefined || r.claim !== undefined, {
    message: 'absent applies to claim rules only',
  });
export type RowRule = z.infer<typeof rowRuleSchema>;

/** One role's grant on one mart (or on every mart, under the key `*`). */
export const martGrantSchema = z
  .object({
    /** `*`, an explicit list, or all but some. */
    columns: z.union([
      z.literal('*'),
      z.array(z.string().min(1)).min(1),
      z.object({ allBut: z.array(z.string().min(1)).min(1) }).strict(),
    ]),
    /**
     * AND of rules, or `anyOf` AND-groups (a row matching any group); absent = every row.
     * Empty lists are refused: `rows: []` would read as "no row" but mean every row.
     */
    rows: z
      .union([
        z.array(rowRuleSchema).min(1),
        z.object({ anyOf: z.array(z.array(rowRuleSchema).min(1)).min(1) }).strict(),
      ])
      .optional(),
    /** Masking by PII tag (`email`, `phone`) or `default`; a PII column not named here is redacted. */
    pii: z.record(z.string(), mask).optional(),
    /** Row-level reads; false = aggregate-only. */
    detail: z.boolean().default(true),
    aggregates: z
      .object({ allowed: z.boolean().default(true), minGroupSize: z.number().int().min(1).default(1) })
      .strict()
      .optional(),
  })
  .strict();
export type MartGrant = z.infer<typeof martGrantSchema>;

export const roleSchema = z
  .object({
    description: z.string().optional(),
    /** By mart name, or `*` for every mart of the catalog. */
    marts: z.record(z.string(), martGrantSchema),
  })
  .strict();
export type RoleGrants = z.infer<typeof roleSchema>;

export const policyDocumentSchema = z
  .object({
    version: z.literal(1),
    roles: z.record(z.string().regex(/^[a-z][a-z0-9_-]*$/), roleSchema),
    /**
     * PII classes the source adds to the catalog's (`mart -> column -> tag`), e.g. from Lake
     * Formation LF-tags. It can only add: the catalog's own `pii` tags always hold.
     */
    classification: z
      .record(z.string(), z.record(z.string(), z.string().regex(/^[a-z][a-z0-9_-]*$/)))
      .optional(),
  })
  .strict();
/** A whole policy, as every source yields it. */
export type PolicyDocument = z.infer<typeof policyDocumentSchema>;
/** A policy document as written (defaults not yet applied): what `compilePolicy` accepts. */
export type PolicyDocumentInput = z.input<typeof policyDocumentSchema>;
