import type { ZohoEntity } from '../../zoho/entities.js';
import type { DynamoEntity } from '../history.js';
import type { Random } from '../random.js';

/**
 * Dirty data the sources really send, injected at the configured rate: each
 * clean version or stream record is followed, with probability `dirtyRate`,
 * by one dirty companion:
 * - `malformed` (40%): a later version breaking the Silver contract in one
 *   field (negative amount, unknown enum value, unparsable date, missing
 *   required field);
 * - `duplicate` (30%): the same version again (Zoho) or the same stream
 *   record delivered twice;
 * - `outOfOrder` (30%): an older version arriving after a newer one (Zoho: the
 *   previous version shows up again, its `last_modified_time` earlier than the
 *   current one's; DynamoDB: an earlier record of the item redelivered after
 *   later ones).
 */
export type DirtyKind = 'malformed' | 'duplicate' | 'outOfOrder';

/** Which kind of dirt, when there is some. */
export function drawDirtyKind(d: Random): DirtyKind {
  const x = d.next();
  return x < 0.4 ? 'malformed' : x < 0.7 ? 'duplicate' : 'outOfOrder';
}

type Corruption = (record: Record<string, unknown>) => Record<string, unknown>;

/** Replace `field`, keeping its place in the record. */
const set =
  (field: string, value: unknown): Corruption =>
  (record) => ({ ...record, [field]: value });

/** Drop `field`. */
const drop =
  (field: string): Corruption =>
  (record) => {
    const copy = { ...record };
    delete copy[field];
    return copy;
  };

/** Make a number field negative (a zero becomes -1). */
const negative =
  (field: string): Corruption =>
  (record) => {
    const value = Number(record[field]);
    return { ...record, [field]: Number.isFinite(value) && value > 0 ? -value : -1 };
  };

/** An impossible calendar date in the record's own year (`2025-02-30`). */
const badDate =
  (field: string, tail: string): Corruption =>
  (record) => {
    const year = String(record[field] ?? '2025').slice(0, 4);
    return { ...record, [field]: `${/^\d{4}$/.test(year) ? year : '2025'}${tail}` };
  };

const ZOHO_CORRUPTIONS: Readonly<Record<ZohoEntity, readonly Corruption[]>> = {
  contacts: [
    set('contact_name', ' '),
    set('contact_type', 'prospect'),
    set('status', 'archived'),
    set('created_time', '07/10/2025 18:24'),
  ],
  invoices: [
    negative('total'),
    set('status', 'cancelled'),
    badDate('date', '-02-30'),
    drop('customer_id'),
    negative('balance'),
  ],
  customer_payments: [
    negative('amount'),
    set('date', '05/06/2025'),
    set('customer_id', ' '),
    negative('exchange_rate'),
  ],
  credit_notes: [negative('total'), set('status', 'refunded'), badDate('date', '-13-01')],
  recurring_invoices: [
    set('recurrence_frequency', 'fortnights'),
    negative('repeat_every'),
    badDate('start_date', '-00-10'),
    set('status', 'paused'),
  ],
};

const ITEM_CORRUPTIONS: Readonly<Record<DynamoEntity, readonly Corruption[]>> = {
  accounts: [
    set('region', 'ANTARCTICA'),
    negative('seats'),
    set('signup_at', 'yesterday'),
    set('status', 'deleted'),
  ],
  users: [set('role', 'superuser'), badDate('created_at', '-02-30T10:00:00.000Z'), drop('account_id')],
  usage_events: [set('event_type', null), set('occurred_at', 'not-a-timestamp'), set('account_id', '')],
};

/** A copy of a Zoho record broken in one field (the id and `last_modified_time` are kept readable). */
export function corruptZohoRecord(
  entity: ZohoEntity,
  record: Readonly<Record<string, unknown>>,
  d: Random,
): Record<string, unknown> {
  return d.pick(ZOHO_CORRUPTIONS[entity])({ ...record });
}

/** A copy of a DynamoDB item broken in one non-key field. */
export function corruptItem(
  table: DynamoEntity,
  image: Readonly<Record<string, unknown>>,
  d: Random,
): Record<string, unknown> {
  return d.pick(ITEM_CORRUPTIONS[table])({ ...image });
}
