import type { ZohoEntity } from '../../zoho/entities.js';
import type { RateTable } from './catalog.js';

/**
 * What the simulation decides about one customer, before it is written out
 * as Zoho versions and stream records: plain facts with times, so that the
 * renderers only format and never decide.
 */

/** Settings every customer of one company shares. */
export interface SimContext {
  readonly seed: number;
  readonly startMs: number;
  readonly endMs: number;
  /**
   * Business actions happen up to here (an hour before the end): a write that
   * follows another one a few seconds later (an invoice after its payment)
   * then always stays inside the history.
   */
  readonly horizonMs: number;
  readonly rates: RateTable;
  /** Multiplier of product usage (1 = the default intensity). */
  readonly activity: number;
  /** Life of a usage event before DynamoDB's TTL removes it. */
  readonly ttlSeconds: number;
  readonly dirtyRate: number;
}

/** One change of a record: a patch over the previous version, or its deletion. */
export type Change =
  | { readonly ms: number; readonly patch: Readonly<Record<string, unknown>> }
  | { readonly ms: number; readonly deleted: true };

/** A Zoho record's life: created with `base` at `createdMs`, then `changes` in time order. */
export interface DocFact {
  readonly entity: ZohoEntity;
  readonly id: string;
  readonly createdMs: number;
  readonly base: Readonly<Record<string, unknown>>;
  readonly changes: Change[];
}

/** A DynamoDB item's life (same shape as a Zoho record's; `deleted` is a user's DeleteItem). */
export interface ItemFact {
  readonly key: string;
  readonly createdMs: number;
  readonly base: Readonly<Record<string, unknown>>;
  readonly changes: Change[];
}

/** A stretch of time in which the account uses the product at a steady level. */
export interface ActivityWindow {
  readonly from: number;
  readonly to: number;
  /** Expected share of users active on a weekday (before `activity`). */
  readonly level: number;
  /** Usage fades linearly from here to `to` (the weeks before a churn). */
  readonly fadeFrom?: number;
  readonly paid: boolean;
}

/** What the usage simulation needs to know about an account. */
export interface ActivityPlan {
  readonly accountId: string;
  readonly signupMs: number;
  /** A meaningful event within 14 days of signup. */
  readonly activated: boolean;
  readonly business: boolean;
  readonly domain: string;
  readonly windows: readonly ActivityWindow[];
  /** When the account was closed for good (users may be removed after it). */
  readonly closedMs?: number;
}

/** Everything decided about one customer. */
export interface CustomerStory {
  readonly index: number;
  readonly lead: boolean;
  readonly paying: boolean;
  readonly docs: readonly DocFact[];
  readonly account?: ItemFact;
  readonly activity?: ActivityPlan;
}
