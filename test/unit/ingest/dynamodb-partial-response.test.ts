import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { partialBatchResponse } from '../../../src/ingest/dynamodb/consumer.js';

const ids = (...itemIdentifiers: string[]) => itemIdentifiers.map((itemIdentifier) => ({ itemIdentifier }));

describe('partialBatchResponse', () => {
  it('is empty when nothing failed', () => {
    expect(partialBatchResponse([])).toEqual([]);
  });

  it('names the single record to resume from: the lowest sequence number, compared as numbers', () => {
    expect(partialBatchResponse(ids('300', '200'))).toEqual(ids('200'));
    // As numbers, not as text: "99" comes before "100".
    expect(partialBatchResponse(ids('100', '99'))).toEqual(ids('99'));
    expect(partialBatchResponse(ids('100000000000000000002', '100000000000000000001'))).toEqual(
      ids('100000000000000000001'),
    );
  });

  it('fails the whole batch when a failed record has no sequence number', () => {
    expect(partialBatchResponse(ids('5', '', '3'))).toEqual(ids(''));
  });

  it('always names a reported sequence number no higher than any other, so no failure is skipped', () => {
    fc.assert(
      fc.property(fc.array(fc.bigInt({ min: 0n, max: 10n ** 40n - 1n }), { minLength: 1 }), (values) => {
        const [answer] = partialBatchResponse(ids(...values.map(String)));
        if (!answer) throw new Error('expected an answer');
        const lowest = BigInt(answer.itemIdentifier);
        expect(values).toContain(lowest);
        expect(values.every((v) => lowest <= v)).toBe(true);
      }),
    );
  });
});
