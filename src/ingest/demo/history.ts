import type { ZohoEntity } from '../zoho/entities.js';

/**
 * The contract between the synthetic company generator and its consumers (the
 * local Zoho Books server, the stream replay, the tests' ground truth).
 *
 * Zoho has no change feed: what the API shows at time T is, per record, its
 * latest version with `validFrom <= T`, unless that version is a deletion.
 */

/** A Zoho record as the list API returns it (ids as strings, `" "` for blanks). */
export type ZohoRecord = Readonly<Record<string, unknown>>;

/** One version of one Zoho record, visible from `validFrom` (its `last_modified_time`) on. */
export interface ZohoVersion {
  readonly entity: ZohoEntity;
  readonly id: string;
  /** UTC ISO instant (ms). For a record, equal to its `last_modified_time` in UTC. */
  readonly validFrom: string;
  /** The record from then on, or `null` when it was deleted at `validFrom`. */
  readonly record: ZohoRecord | null;
}

/** DynamoDB tables of the product, each delivered through its stream. */
export type DynamoEntity = 'accounts' | 'users' | 'usage_events';

/** A DynamoDB stream record as Lambda receives it (AttributeValue images). */
export interface StreamRecordJson {
  readonly eventID: string;
  readonly eventName: 'INSERT' | 'MODIFY' | 'REMOVE';
  readonly eventVersion: string;
  readonly eventSource: 'aws:dynamodb';
  readonly awsRegion: string;
  readonly eventSourceARN: string;
  readonly userIdentity?: { readonly type: string; readonly principalId: string };
  readonly dynamodb: {
    readonly ApproximateCreationDateTime: number;
    readonly Keys: Readonly<Record<string, unknown>>;
    readonly NewImage?: Readonly<Record<string, unknown>>;
    readonly OldImage?: Readonly<Record<string, unknown>>;
    readonly SequenceNumber: string;
    readonly SizeBytes: number;
    readonly StreamViewType: 'NEW_AND_OLD_IMAGES' | 'KEYS_ONLY' | 'NEW_IMAGE' | 'OLD_IMAGE';
  };
}

/** Everything that happened at the sources between `start` and `end`. */
export interface CompanyHistory {
  readonly seed: number;
  readonly start: string;
  readonly end: string;
  /** Every version of every Zoho record, ascending by `validFrom`. */
  readonly zoho: readonly ZohoVersion[];
  /** Stream records per table, in stream (sequence number) order. */
  readonly streams: Readonly<Record<DynamoEntity, readonly StreamRecordJson[]>>;
}
