import type {
  DynamoDBStreamEvent,
  DynamoDBStreamRecord,
  StreamViewType,
} from '../../../src/ingest/dynamodb/stream-event.js';
import type { AttributeMap } from '../../../src/ingest/dynamodb/unmarshall.js';

/** AttributeValue shorthands: `av.S('x')`, `av.N(1)`. */
export const av = {
  S: (value: string) => ({ S: value }) as const,
  N: (value: number | string) => ({ N: String(value) }) as const,
  B: (base64: string) => ({ B: base64 }) as const,
  BOOL: (value: boolean) => ({ BOOL: value }) as const,
  NULL: () => ({ NULL: true }) as const,
  M: (value: AttributeMap) => ({ M: value }) as const,
};

/** The stream ARN of a table, as Lambda puts it in `eventSourceARN`. */
export function streamArn(table: string, label = '2026-11-21T06:00:00.000'): string {
  return `arn:aws:dynamodb:eu-west-1:123456789012:table/${table}/stream/${label}`;
}

/** A realistic 21-digit sequence number; `n` orders them. */
export function sequenceNumber(n: number): string {
  return (10n ** 20n + BigInt(n)).toString();
}

/** Epoch seconds of an ISO instant (what `ApproximateCreationDateTime` holds). */
export function epochSeconds(iso: string): number {
  return Math.floor(Date.parse(iso) / 1000);
}

interface Common {
  readonly table: string;
  readonly keys: AttributeMap;
  readonly seq: number | string;
  /** ISO instant; omitted means no `ApproximateCreationDateTime`, as in the AWS samples. */
  readonly at?: string;
  readonly eventID?: string;
  /** The stream's view type (default `NEW_AND_OLD_IMAGES`): images it does not carry are left out. */
  readonly viewType?: StreamViewType;
}

/** Which images a stream of each view type carries. */
const CARRIES: Record<StreamViewType, { readonly newImage: boolean; readonly oldImage: boolean }> = {
  KEYS_ONLY: { newImage: false, oldImage: false },
  NEW_IMAGE: { newImage: true, oldImage: false },
  OLD_IMAGE: { newImage: false, oldImage: true },
  NEW_AND_OLD_IMAGES: { newImage: true, oldImage: true },
};

function record(
  common: Common,
  eventName: DynamoDBStreamRecord['eventName'],
  images: { NewImage?: AttributeMap; OldImage?: AttributeMap },
): DynamoDBStreamRecord {
  const seq = typeof common.seq === 'number' ? sequenceNumber(common.seq) : common.seq;
  const viewType = common.viewType ?? 'NEW_AND_OLD_IMAGES';
  const carries = CARRIES[viewType];
  return {
    eventID: common.eventID ?? `evt-${seq}`,
    eventName,
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: 'eu-west-1',
    eventSourceARN: streamArn(common.table),
    dynamodb: {
      ...(common.at === undefined ? {} : { ApproximateCreationDateTime: epochSeconds(common.at) }),
      Keys: common.keys,
      ...(carries.newImage && images.NewImage ? { NewImage: images.NewImage } : {}),
      ...(carries.oldImage && images.OldImage ? { OldImage: images.OldImage } : {}),
      SequenceNumber: seq,
      SizeBytes: 100,
      StreamViewType: viewType,
    },
  };
}

/** An INSERT with its new image. */
export function insertRecord(common: Common & { readonly image: AttributeMap }): DynamoDBStreamRecord {
  return record(common, 'INSERT', { NewImage: common.image });
}

/** A MODIFY with both images. */
export function modifyRecord(
  common: Common & { readonly image: AttributeMap; readonly oldImage?: AttributeMap },
): DynamoDBStreamRecord {
  return record(common, 'MODIFY', {
    NewImage: common.image,
    ...(common.oldImage ? { OldImage: common.oldImage } : {}),
  });
}

/** A user's DeleteItem: no userIdentity. */
export function removeRecord(common: Common & { readonly oldImage?: AttributeMap }): DynamoDBStreamRecord {
  return record(common, 'REMOVE', common.oldImage ? { OldImage: common.oldImage } : {});
}

/** A delete made by DynamoDB's TTL sweeper. */
export function ttlRemoveRecord(common: Common & { readonly oldImage?: AttributeMap }): DynamoDBStreamRecord {
  return {
    ...removeRecord(common),
    userIdentity: { type: 'Service', principalId: 'dynamodb.amazonaws.com' },
  };
}

/** A change on a `KEYS_ONLY` stream: keys, no image, whatever the event. */
export function keysOnlyRecord(
  common: Omit<Common, 'viewType'> & { readonly eventName: DynamoDBStreamRecord['eventName'] },
): DynamoDBStreamRecord {
  return record({ ...common, viewType: 'KEYS_ONLY' }, common.eventName, {});
}

/** The Keys of a composite primary key (partition + sort key), as single-table designs use. */
export function compositeKeys(pk: string, sk: string): AttributeMap {
  return { pk: av.S(pk), sk: av.S(sk) };
}

/** A Lambda DynamoDB Streams event. */
export function streamEvent(...records: DynamoDBStreamRecord[]): DynamoDBStreamEvent {
  return { Records: records };
}
