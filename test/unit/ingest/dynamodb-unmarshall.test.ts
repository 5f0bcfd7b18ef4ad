import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dynamoNumber, unmarshall, unmarshallValue } from '../../../src/ingest/dynamodb/unmarshall.js';
import { InvalidSourceRecordError } from '../../../src/ingest/errors.js';

describe('unmarshall', () => {
  it('converts every AttributeValue type to plain JSON', () => {
    const item = unmarshall({
      id: { S: 'acc-1' },
      seats: { N: '12' },
      ratio: { N: '0.25' },
      logo: { B: 'aGVsbG8=' },
      active: { BOOL: false },
      closed_at: { NULL: true },
      address: { M: { city: { S: 'Pune' }, floor: { N: '-3' } } },
      history: { L: [{ S: 'a' }, { N: '1' }, { L: [{ BOOL: true }] }, { M: {} }] },
      tags: { SS: ['b', 'a'] },
      scores: { NS: ['1', '2.5', '123456789012345678901234567890'] },
      blobs: { BS: ['AA==', 'AQI='] },
    });
    expect(item).toEqual({
      id: 'acc-1',
      seats: '12',
      ratio: '0.25',
      logo: 'aGVsbG8=',
      active: false,
      closed_at: null,
      address: { city: 'Pune', floor: '-3' },
      history: ['a', '1', [true], {}],
      tags: ['b', 'a'],
      scores: ['1', '2.5', '123456789012345678901234567890'],
      blobs: ['AA==', 'AQI='],
    });
  });

  it('keeps an attribute named __proto__ as data, not as a prototype', () => {
    const input = JSON.parse('{"__proto__": {"S": "x"}, "a": {"M": {"__proto__": {"N": "1"}}}}');
    const item = unmarshall(input);
    expect(Object.getPrototypeOf(item)).toBe(Object.prototype);
    expect(Object.hasOwn(item, '__proto__')).toBe(true);
    expect(JSON.stringify(item)).toBe('{"__proto__":"x","a":{"__proto__":"1"}}');
  });

  it.each([
    ['an unknown type descriptor', { X: 'y' }],
    ['two type descriptors', { S: 'a', N: '1' }],
    ['no type descriptor', {}],
    ['S that is not a string', { S: 1 }],
    ['N that is not a decimal', { N: 'abc' }],
    ['N that is NaN', { N: 'NaN' }],
    ['N that is empty', { N: '' }],
    ['N as a JSON number', { N: 1 }],
    ['B that is not base64', { B: 'not base64!' }],
    ['BOOL that is a string', { BOOL: 'true' }],
    ['NULL false', { NULL: false }],
    ['M that is an array', { M: [] }],
    ['L that is a map', { L: {} }],
    ['SS with a number', { SS: ['a', 1] }],
    ['NS with a word', { NS: ['1', 'two'] }],
    ['BS with bad base64', { BS: ['AA=', 'AA=='] }],
    ['a bare string', 'x'],
    ['null', null],
    ['an array', [{ S: 'x' }]],
  ])('rejects %s with InvalidSourceRecordError', (_what, value) => {
    expect(() => unmarshallValue(value)).toThrow(InvalidSourceRecordError);
  });

  it('names the path of the bad value, never the value itself', () => {
    const attempt = () =>
      unmarshall({ profile: { M: { emails: { L: [{ S: 'a' }, { X: 'secret@x.io' }] } } } }, '$.NewImage');
    expect(attempt).toThrow(InvalidSourceRecordError);
    expect(attempt).toThrow(/^\$\.NewImage\.profile\.emails\[1\]: unknown type descriptor$/);
    expect(attempt).not.toThrow(/secret/);
  });

  it('rejects a map that is not an object', () => {
    expect(() => unmarshall([])).toThrow(InvalidSourceRecordError);
    expect(() => unmarshall('{}')).toThrow(InvalidSourceRecordError);
  });
});

/** Any decimal DynamoDB could send, spelled every way JSON or a human might: sign, digits, fraction, exponent. */
const decimalText = fc
  .tuple(
    fc.constantFrom('', '-', '+'),
    fc.stringMatching(/^\d{0,38}$/),
    fc.option(fc.stringMatching(/^\d{0,38}$/)),
    fc.option(
      fc.tuple(fc.constantFrom('e', 'E'), fc.constantFrom('', '+', '-'), fc.integer({ min: 0, max: 130 })),
    ),
  )
  .filter(([, whole, fraction]) => `${whole}${fraction ?? ''}`.length > 0)
  .map(([sign, whole, fraction, exponent]) => {
    const point = fraction === null ? '' : `.${fraction}`;
    const exp = exponent === null ? '' : `${exponent[0]}${exponent[1]}${exponent[2]}`;
    return `${sign}${whole}${point}${exp}`;
  });

describe('dynamoNumber', () => {
  it.each([
    '0',
    '-0',
    '42',
    '-17',
    '0.1',
    '0.3',
    '1.50',
    '1E+2',
    '2.5e-3',
    '.5',
    '5.',
    '9007199254740993',
    '12345678901234567890',
    '0.1000000000000000000001',
    '3.14159265358979323846264338327950288',
    '99999999999999999999999999999999999999',
    // DynamoDB's range: 1E-130 to 9.9999999999999999999999999999999999999E+125.
    '1E-130',
    '9.9999999999999999999999999999999999999E+125',
  ])('keeps %s as the decimal string DynamoDB sent', (text) => {
    expect(dynamoNumber(text)).toBe(text);
    expect(unmarshallValue({ N: text })).toBe(text);
  });

  it.each([
    'abc',
    'NaN',
    'Infinity',
    '-Infinity',
    '',
    '.',
    '-',
    '1e',
    '1e+',
    '--1',
    '1.2.3',
    ' 1',
    '1 ',
    '0x10',
    '1_000',
  ])('rejects %j', (text) => {
    expect(() => dynamoNumber(text)).toThrow(InvalidSourceRecordError);
  });

  it('keeps every decimal verbatim, through the JSON text that Bronze stores', () => {
    fc.assert(
      fc.property(decimalText, (text) => {
        const item = unmarshall({ n: { N: text }, ns: { NS: [text] }, nested: { M: { n: { N: text } } } });
        const stored: unknown = JSON.parse(JSON.stringify(item));
        expect(stored).toEqual({ n: text, ns: [text], nested: { n: text } });
      }),
    );
  });

  it('never hands out a JS number, so no reader can round through a double', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (value) => {
        expect(typeof unmarshallValue({ N: String(value) })).toBe('string');
      }),
    );
  });
});
