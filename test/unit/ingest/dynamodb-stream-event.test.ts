import { describe, expect, it } from 'vitest';
import {
  carriesNewImage,
  dynamoDBStreamEventSchema,
  dynamoDBStreamRecordSchema,
  isTtlExpiry,
  streamBatchSchema,
  tableNameFromStreamArn,
} from '../../../src/ingest/dynamodb/stream-event.js';
import { av, insertRecord, keysOnlyRecord, ttlRemoveRecord } from '../../support/builders/dynamodb.js';

describe('the stream record schema', () => {
  it('accepts fields AWS may add, and keeps them', () => {
    const record = insertRecord({
      table: 'Accounts',
      keys: { id: av.S('a1') },
      image: { id: av.S('a1') },
      seq: 1,
    });
    const extended = {
      ...record,
      recordFormat: 'application/json',
      tableName: 'Accounts',
      dynamodb: { ...record.dynamodb, SomethingNew: 1 },
    };
    const parsed = dynamoDBStreamRecordSchema.parse(extended);
    expect(parsed).toMatchObject({ recordFormat: 'application/json', dynamodb: { SomethingNew: 1 } });
    expect(dynamoDBStreamEventSchema.safeParse({ Records: [extended], extra: true }).success).toBe(true);
  });

  it('accepts a KEYS_ONLY record, which has no image', () => {
    const record = keysOnlyRecord({
      eventName: 'MODIFY',
      table: 'Accounts',
      keys: { id: av.S('a1') },
      seq: 2,
    });
    expect(record.dynamodb.NewImage).toBeUndefined();
    expect(dynamoDBStreamRecordSchema.safeParse(record).success).toBe(true);
  });

  it('accepts a null userIdentity, as a user change may carry', () => {
    const record = {
      ...keysOnlyRecord({ eventName: 'REMOVE', table: 'A1a', keys: { id: av.S('x') }, seq: 3 }),
    };
    expect(dynamoDBStreamRecordSchema.safeParse({ ...record, userIdentity: null }).success).toBe(true);
  });
});

describe('streamBatchSchema', () => {
  it('checks no more of a record than being an object', () => {
    expect(streamBatchSchema.safeParse({ Records: [{}, { anything: 1 }] }).success).toBe(true);
  });

  it.each([[{ Records: [null] }], [{ Records: [[]] }], [{ Records: ['x'] }], [{ Records: {} }], [{}]])(
    'refuses %j',
    (event) => {
      expect(streamBatchSchema.safeParse(event).success).toBe(false);
    },
  );
});

describe('carriesNewImage', () => {
  it('says which view types carry new images, and does not guess when unstated', () => {
    expect(carriesNewImage('NEW_IMAGE')).toBe(true);
    expect(carriesNewImage('NEW_AND_OLD_IMAGES')).toBe(true);
    expect(carriesNewImage('OLD_IMAGE')).toBe(false);
    expect(carriesNewImage('KEYS_ONLY')).toBe(false);
    expect(carriesNewImage(undefined)).toBeUndefined();
  });
});

describe('isTtlExpiry', () => {
  it('is true only for a REMOVE by the DynamoDB service principal', () => {
    const ttl = dynamoDBStreamRecordSchema.parse(
      ttlRemoveRecord({ table: 'Users', keys: { id: av.S('u') }, seq: 4 }),
    );
    expect(isTtlExpiry(ttl)).toBe(true);
    expect(
      isTtlExpiry({ ...ttl, userIdentity: { type: 'Service', principalId: 'other.amazonaws.com' } }),
    ).toBe(false);
    expect(
      isTtlExpiry({ ...ttl, userIdentity: { type: 'User', principalId: 'dynamodb.amazonaws.com' } }),
    ).toBe(false);
    expect(isTtlExpiry({ ...ttl, userIdentity: undefined })).toBe(false);
    expect(isTtlExpiry({ ...ttl, eventName: 'MODIFY' })).toBe(false);
  });
});

describe('tableNameFromStreamArn', () => {
  it('reads the table of a stream ARN, in any partition', () => {
    expect(
      tableNameFromStreamArn('arn:aws:dynamodb:eu-west-1:123:table/Accounts/stream/2026-11-21T06:00:00.000'),
    ).toBe('Accounts');
    expect(tableNameFromStreamArn('arn:aws-cn:dynamodb:cn-north-1:123:table/usage-events.v2/stream/x')).toBe(
      'usage-events.v2',
    );
  });

  it.each([
    'eventsource_arn',
    'arn:aws:dynamodb:eu-west-1:123:table/Accounts',
    'arn:aws:kinesis:eu-west-1:123:stream/Accounts',
    'arn:aws:dynamodb:eu-west-1:123:table/ab/stream/x',
  ])('finds no table in %s', (arn) => {
    expect(tableNameFromStreamArn(arn)).toBeUndefined();
  });
});
