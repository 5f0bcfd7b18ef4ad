import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Row } from '../../../src/adapters/query-engine/port.js';
import { fullAccess, type MartAccess } from '../../../src/auth/access.js';
import { FULLY_MASKED, hmacHex, maskRow, maskValue } from '../../../src/auth/mask.js';
import { findMart } from '../../../src/catalog/index.js';

const SECRET = 'unit-test-secret-0123456789abcdef0123456789';

function customer360(): NonNullable<ReturnType<typeof findMart>> {
  const mart = findMart('customer_360');
  if (!mart) throw new Error('customer_360 is not in the catalog');
  return mart;
}

/** An email whose local part and domain are drawn separately, so the expected mask is known. */
const emailParts = fc.record({
  local: fc.string({ minLength: 1, maxLength: 20, unit: 'grapheme' }).filter((s) => !s.includes('@')),
  domain: fc.domain(),
});

describe('maskValue: partial', () => {
  it.each([
    ['jane.doe@example.com', 'j***@example.com'],
    ['J@x.io', 'J***@x.io'],
    ['"a@b"@example.com', '"***@example.com'],
    ['no-at-sign', FULLY_MASKED],
    ['@example.com', FULLY_MASKED],
    ['jane@', FULLY_MASKED],
    ['', FULLY_MASKED],
  ])('email %j -> %j', (clear, masked) => {
    expect(maskValue('partial', 'email', clear, SECRET)).toBe(masked);
  });

  it.each([
    ['+1 (415) 555-1234', '***-***-1234'],
    ['0049 30 1234567', '***-***-4567'],
    ['555-1234', '***-***-1234'],
    ['12345', '***-***-****'],
    ['call me', '***-***-****'],
  ])('phone %j -> %j', (clear, masked) => {
    expect(maskValue('partial', 'phone', clear, SECRET)).toBe(masked);
  });

  it('an astral first character is kept whole (no lone surrogate)', () => {
    expect(maskValue('partial', 'email', '😀smile@example.com', SECRET)).toBe('😀***@example.com');
  });

  it('a tag without a partial form shows nothing', () => {
    expect(maskValue('partial', 'ssn', '123-45-6789', SECRET)).toBe(FULLY_MASKED);
    expect(maskValue('partial', undefined, 'anything', SECRET)).toBe(FULLY_MASKED);
  });

  it('property: an email mask reveals only the first character of the local part and the domain', () => {
    fc.assert(
      fc.property(emailParts, ({ local, domain }) => {
        const masked = maskValue('partial', 'email', `${local}@${domain}`, SECRET);
        const first = String.fromCodePoint(local.codePointAt(0) as number);
        // Exactly this shape: nothing of the local part past its first character survives.
        expect(masked).toBe(`${first}***@${domain}`);
      }),
    );
  });

  it('property: a phone mask shows at most the last 4 digits, and only of numbers of 7+ digits', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), (clear) => {
        const masked = maskValue('partial', 'phone', clear, SECRET);
        expect(typeof masked).toBe('string');
        const shown = String(masked).replace(/\D/g, '');
        const digits = clear.replace(/\D/g, '');
        expect(shown.length).toBeLessThanOrEqual(4);
        if (digits.length >= 7) expect(shown).toBe(digits.slice(-4));
        else expect(shown).toBe('');
      }),
    );
  });
});

describe('maskValue: hash, redact, none', () => {
  it('hash is HMAC-SHA256 under the secret, lower-case hex (what Athena computes)', () => {
    const expected = createHmac('sha256', SECRET).update('jane@example.com').digest('hex');
    expect(maskValue('hash', 'email', 'jane@example.com', SECRET)).toBe(expected);
    expect(expected).toMatch(/^[0-9a-f]{64}$/);
  });

  it('hash depends on the secret: another stage masks to other values', () => {
    expect(maskValue('hash', 'email', 'jane@example.com', SECRET)).not.toBe(
      maskValue('hash', 'email', 'jane@example.com', `${SECRET}-other`),
    );
  });

  it('property: hash is deterministic (equal in, equal out)', () => {
    fc.assert(
      fc.property(fc.string(), (clear) => {
        expect(maskValue('hash', 'email', clear, SECRET)).toBe(
          maskValue('hash', 'phone', `${clear}`, SECRET),
        );
      }),
    );
  });

  it('property: hash separates different values (different in, different out)', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.string(), { minLength: 2, maxLength: 50 }), (values) => {
        const hashes = values.map((v) => hmacHex(SECRET, v));
        expect(new Set(hashes).size).toBe(values.length);
      }),
    );
  });

  it('property: the hash never contains the clear value', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 3 }), (clear) => {
        const hashed = String(maskValue('hash', 'email', clear, SECRET));
        if (!/^[0-9a-f]+$/.test(clear)) expect(hashed).not.toContain(clear);
      }),
    );
  });

  it('redact is null for any value; none is the value itself; null stays null', () => {
    expect(maskValue('redact', 'email', 'jane@example.com', SECRET)).toBeNull();
    expect(maskValue('none', 'email', 'jane@example.com', SECRET)).toBe('jane@example.com');
    for (const kind of ['none', 'partial', 'hash', 'redact'] as const)
      expect(maskValue(kind, 'email', null, SECRET)).toBeNull();
  });

  it('structured values cannot be partially shown or hashed: they are nulled', () => {
    expect(maskValue('hash', 'email', ['a'], SECRET)).toBeNull();
    expect(maskValue('partial', 'email', { a: 'b' }, SECRET)).toBeNull();
  });
});

describe('maskRow', () => {
  const row: Row = {
    customer_id: '460000000000000001',
    name: 'Jane Doe',
    email: 'jane@example.com',
    phone: '+44 20 7946 0958',
    region: 'EU',
  };

  function access(masks: MartAccess['masks']): MartAccess {
    return { ...fullAccess(customer360()), masks };
  }

  it('applies each mask to its column and leaves the others in clear', () => {
    const masked = maskRow(
      access(
        new Map([
          ['email', 'partial'],
          ['phone', 'hash'],
        ]),
      ),
      row,
      SECRET,
    );
    expect(masked).toEqual({
      ...row,
      email: 'j***@example.com',
      phone: hmacHex(SECRET, '+44 20 7946 0958'),
    });
  });

  it('never modifies the input row', () => {
    const before = structuredClone(row);
    maskRow(access(new Map([['email', 'redact']])), row, SECRET);
    expect(row).toEqual(before);
  });

  it('redact nulls the column; a masked column the row does not carry is not added', () => {
    const { email: _email, ...withoutEmail } = row;
    const masked = maskRow(
      access(
        new Map([
          ['email', 'redact'],
          ['phone', 'redact'],
        ]),
      ),
      withoutEmail,
      SECRET,
    );
    expect(masked).toEqual({ ...withoutEmail, phone: null });
    expect(Object.hasOwn(masked, 'email')).toBe(false);
  });

  it('without masks the row comes back as it is', () => {
    expect(maskRow(access(new Map()), row, SECRET)).toBe(row);
  });

  it('property: masked rows never carry the clear email or phone', () => {
    fc.assert(
      fc.property(
        emailParts,
        fc.constantFrom('partial', 'hash', 'redact') as fc.Arbitrary<'partial' | 'hash' | 'redact'>,
        ({ local, domain }, kind) => {
          const email = `${local}x${local}@${domain}`;
          const masked = maskRow(access(new Map([['email', kind]])), { ...row, email }, SECRET);
          expect(masked.email).not.toBe(email);
          expect(JSON.stringify(masked)).not.toContain(JSON.stringify(email));
        },
      ),
    );
  });
});
