import { z } from 'zod';

/**
 * The Lambda event of a DynamoDB Streams event source mapping. Objects are
 * loose: AWS adds fields (`eventVersion`, `awsRegion`, ...) and a consumer must
 * not break when it does.
 */

/**
 * An item, its keys or one of its images. Only the outer shape is checked
 * here: `unmarshall` is the one place that knows every AttributeValue shape and
 * rejects the others. A custom check passes the object through untouched,
 * where `z.record` would rebuild it and drop an attribute named `__proto__`.
 */
export const attributeMapSchema = z.custom<Record<string, unknown>>(
  (value) => typeof value === 'object' && value !== null && !Array.isArray(value),
  'expected a map of attribute values',
);

/** What the stream writes for each change. */
export const streamViewTypeSchema = z.enum(['KEYS_ONLY', 'NEW_IMAGE', 'OLD_IMAGE', 'NEW_AND_OLD_IMAGES']);

/** `record.dynamodb`: the change itself. */
export const streamRecordChangeSchema = z.looseObject({
  Keys: attributeMapSchema.refine(
    (keys) => Object.keys(keys).length > 0,
    'expected at least one key attribute',
  ),
  NewImage: attributeMapSchema.optional(),
  OldImage: attributeMapSchema.optional(),
  // Real sequence numbers have 21 to 40 digits; the AWS samples use shorter ones, and
  // `padSequence` orders any length up to 40, so only the upper bound is enforced.
  SequenceNumber: z.string().regex(/^\d{1,40}$/, 'expected a decimal sequence number of at most 40 digits'),
  /** Epoch seconds, rounded down by DynamoDB. */
  ApproximateCreationDateTime: z.number().nonnegative().optional(),
  StreamViewType: streamViewTypeSchema.optional(),
  SizeBytes: z.number().int().nonnegative().optional(),
});

/** Who made the change: present only for changes made by DynamoDB itself (TTL expiry). */
export const userIdentitySchema = z.looseObject({
  type: z.string(),
  principalId: z.string(),
});

/** One stream record. */
export const dynamoDBStreamRecordSchema = z.looseObject({
  eventID: z.string().min(1),
  eventName: z.enum(['INSERT', 'MODIFY', 'REMOVE']),
  eventSourceARN: z.string().min(1),
  eventSource: z.literal('aws:dynamodb').optional(),
  dynamodb: streamRecordChangeSchema,
  userIdentity: userIdentitySchema.nullish(),
});

/** A whole event whose records are all valid. */
export const dynamoDBStreamEventSchema = z.looseObject({
  Records: z.array(dynamoDBStreamRecordSchema),
});

/**
 * The envelope only, records checked no further than being objects: the
 * consumer validates records one by one so that one bad record fails alone
 * instead of failing the batch. A record that is not even an object has no
 * sequence number to report, so it fails the batch here.
 */
export const streamBatchSchema = z.looseObject({
  Records: z.array(
    z.custom<Record<string, unknown>>(
      (value) => typeof value === 'object' && value !== null && !Array.isArray(value),
      'expected a stream record object',
    ),
  ),
});

export type AttributeMapInput = z.infer<typeof attributeMapSchema>;
export type StreamViewType = z.infer<typeof streamViewTypeSchema>;
export type StreamRecordChange = z.infer<typeof streamRecordChangeSchema>;
export type UserIdentity = z.infer<typeof userIdentitySchema>;
export type DynamoDBStreamRecord = z.infer<typeof dynamoDBStreamRecordSchema>;
export type DynamoDBStreamEvent = z.infer<typeof dynamoDBStreamEventSchema>;

const TTL_PRINCIPAL = 'dynamodb.amazonaws.com';

/**
 * Whether a stream of this view type carries the item's new image on INSERT
 * and MODIFY; `undefined` when the record does not say (only hand-written
 * samples omit `StreamViewType`).
 */
export function carriesNewImage(viewType: StreamViewType | undefined): boolean | undefined {
  if (viewType === undefined) return undefined;
  return viewType === 'NEW_IMAGE' || viewType === 'NEW_AND_OLD_IMAGES';
}

/** True for a REMOVE that DynamoDB's TTL made, not a user's DeleteItem. */
export function isTtlExpiry(record: DynamoDBStreamRecord): boolean {
  return (
    record.eventName === 'REMOVE' &&
    record.userIdentity?.type === 'Service' &&
    record.userIdentity.principalId === TTL_PRINCIPAL
  );
}

const STREAM_ARN = /^arn:aws[a-z-]*:dynamodb:[^:]*:[^:]*:table\/([A-Za-z0-9_.-]{3,255})\/stream\/[^/]+$/;

/** The table name in a stream ARN (`arn:aws:dynamodb:REGION:ACCOUNT:table/NAME/stream/LABEL`), if it is one. */
export function tableNameFromStreamArn(arn: string): string | undefined {
  return STREAM_ARN.exec(arn)?.[1];
}
