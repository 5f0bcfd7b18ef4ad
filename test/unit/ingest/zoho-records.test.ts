import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { toUtcInstant } from '../../../src/ingest/envelope.js';
import { parseZohoListPage, zohoDeleteEvent, zohoRecordsToEvents } from '../../../src/ingest/zoho/records.js';
import { fixturesDir } from '../../support/fixtures.js';

const fixture = async (name: string): Promise<unknown> =>
  JSON.parse(await readFile(new URL(name, fixturesDir('zoho')), 'utf8'));
const position = { runId: '20261121T061500Z-7f3a', page: 1, ingestedAt: '2026-11-21T06:15:00.000Z' };

describe('Zoho list answers to Bronze events', () => {
  it('reads the contacts docs example (page_context as an object)', async () => {
    const page = parseZohoListPage('contacts', await fixture('list_contacts.json'));
    expect(page.hasMorePage).toBe(false);
    const [event] = zohoRecordsToEvents('contacts', page.records, position);
    expect(event).toMatchObject({
      source: 'zoho_books',
      entity: 'contacts',
      key: '460000000026049',
      op: 'U',
      // 2013-10-07T18:24:51+0530 is 12:54:51 UTC
      source_ts: '2013-10-07T12:54:51.000Z',
      seq: '20261121T061500Z-7f3a:00001:00000',
      run_id: position.runId,
    });
    expect(event?.payload.contact_id).toBe('460000000026049');
    expect(event?.payload.contact_name).toBe('Bowman and Co');
  });

  it('reads the invoices docs example (page_context as an array, " " kept verbatim)', async () => {
    const page = parseZohoListPage('invoices', await fixture('list_invoices.json'));
    expect(page.hasMorePage).toBe(false);
    const [event] = zohoRecordsToEvents('invoices', page.records, position);
    expect(event?.key).toBe('982000000567114');
    expect(event?.source_ts).toBe('2013-11-18T10:02:51.000Z');
    expect(event?.payload.reference_number).toBe(' ');
  });

  it('rejects error answers and records without ids', async () => {
    expect(() => parseZohoListPage('invoices', { code: 1002, message: 'Invoice does not exist.' })).toThrow(
      expect.objectContaining({ code: 'INVALID_SOURCE_RECORD' }),
    );
    expect(() =>
      zohoRecordsToEvents('invoices', [{ last_modified_time: '2026-01-01T00:00:00+0000' }], position),
    ).toThrow(expect.objectContaining({ code: 'INVALID_SOURCE_RECORD' }));
  });

  it('builds key-only deletes', () => {
    const d = zohoDeleteEvent('invoices', '42', {
      ...position,
      row: 3,
      noticedAt: '2026-11-21T06:15:00.000Z',
    });
    expect(d).toMatchObject({
      op: 'D',
      key: '42',
      payload: { invoice_id: '42' },
      seq: '20261121T061500Z-7f3a:00001:00003',
    });
  });

  it('normalises source timestamps to UTC instants', () => {
    expect(toUtcInstant('2013-11-18T02:02:51-0800')).toBe('2013-11-18T10:02:51.000Z');
    expect(toUtcInstant(1_700_000_000)).toBe('2023-11-14T22:13:20.000Z');
    expect(toUtcInstant('not a date')).toBeUndefined();
  });
});
