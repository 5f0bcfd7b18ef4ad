import type { DynamoEntity, StreamRecordJson, ZohoRecord, ZohoVersion } from '../history.js';
import type { Random } from '../random.js';
import { corruptItem, corruptZohoRecord, drawDirtyKind } from './dirty.js';
import type { DocFact, ItemFact } from './facts.js';
import { sequenceNumber, streamEventId } from './ids.js';
import type { StreamCounts, ZohoCounts } from './stats.js';
import { floorSecond, HOUR_MS, isoUtc, SECOND_MS, zohoTimestamp } from './time.js';
import type { UsageEvent } from './usage.js';

/**
 * Facts to source records: Zoho versions (whole seconds, strictly later for
 * each new version of a record, as `last_modified_time` is) and DynamoDB
 * stream records (NEW_AND_OLD_IMAGES), each followed by its dirty companion
 * when the dice say so.
 */

/** Append the versions of one Zoho record (and their dirt) to `out`, in `validFrom` order. */
export function renderDoc(
  doc: DocFact,
  endMs: number,
  dirtyRate: number,
  d: Random,
  counts: ZohoCounts,
  out: ZohoVersion[],
): void {
  const versions: Array<{ ms: number; record: ZohoRecord | null }> = [];
  let ms = floorSecond(doc.createdMs);
  const created = zohoTimestamp(ms);
  let record: ZohoRecord = { ...doc.base, created_time: created, last_modified_time: created };
  versions.push({ ms, record });
  for (const change of doc.changes) {
    ms = Math.max(floorSecond(change.ms), ms + SECOND_MS);
    if ('deleted' in change) {
      versions.push({ ms, record: null });
      break;
    }
    record = { ...record, ...change.patch, last_modified_time: zohoTimestamp(ms) };
    versions.push({ ms, record });
  }

  const push = (at: number, value: ZohoRecord | null): void => {
    out.push({ entity: doc.entity, id: doc.id, validFrom: isoUtc(at), record: value });
    counts.versions += 1;
  };
  versions.forEach((version, i) => {
    if (version.ms > endMs) return;
    push(version.ms, version.record);
    counts.clean += 1;
    if (version.record === null) {
      counts.deletes += 1;
      return;
    }
    if (!(d.next() < dirtyRate)) return;
    const kind = drawDirtyKind(d);
    const nextMs = versions[i + 1]?.ms ?? endMs;
    const gap = Math.floor((nextMs - version.ms) / SECOND_MS);
    const previous = versions[i - 1]?.record;
    if (kind === 'malformed' && gap >= 2) {
      const at = version.ms + d.int(1, Math.min(gap - 1, 86_400)) * SECOND_MS;
      const broken = corruptZohoRecord(doc.entity, version.record, d);
      push(at, { ...broken, last_modified_time: zohoTimestamp(at) });
      counts.malformed += 1;
    } else if (kind === 'outOfOrder' && gap >= 2 && previous) {
      // The previous version again: its last_modified_time is older than the one it follows.
      push(version.ms + d.int(1, Math.min(gap - 1, 86_400)) * SECOND_MS, previous);
      counts.outOfOrder += 1;
    } else {
      push(version.ms, version.record);
      counts.duplicates += 1;
    }
  });
}

/**
 * A stream record with where it is delivered: ordered by `(ms, customer,
 * counter, copy)`, which is the order of its sequence number for a record
 * delivered once; a duplicate comes right after its original (`copy` 1), a
 * redelivery at a later place (its own `ms` and `counter`).
 */
export interface Delivery {
  readonly ms: number;
  readonly customer: number;
  readonly counter: number;
  readonly copy: number;
  readonly record: StreamRecordJson;
}

/** Stream order of two deliveries. */
export function compareDeliveries(a: Delivery, b: Delivery): number {
  return a.ms - b.ms || a.customer - b.customer || a.counter - b.counter || a.copy - b.copy;
}

/** An item as AttributeValues, with its size as DynamoDB roughly counts it (names plus values). */
interface Marshalled {
  readonly map: Readonly<Record<string, unknown>>;
  readonly size: number;
}

const TTL_IDENTITY = { type: 'Service', principalId: 'dynamodb.amazonaws.com' } as const;

/** Writes one customer's stream records of one table. */
export class TableWriter {
  private counter = 0;
  private readonly customerText: string;

  constructor(
    private readonly seed: number,
    private readonly table: DynamoEntity,
    private readonly tableIndex: number,
    private readonly arn: string,
    private readonly awsRegion: string,
    private readonly customer: number,
    private readonly endMs: number,
    private readonly dirtyRate: number,
    private readonly d: Random,
    private readonly counts: StreamCounts,
    private readonly out: Delivery[],
  ) {
    this.customerText = String(customer).padStart(8, '0');
  }

  /** The versions of one item (INSERT, MODIFYs, a REMOVE when deleted), with their dirt. */
  item(fact: ItemFact, keyName: string): void {
    const versions: Array<{ ms: number; image: Record<string, unknown> | null }> = [];
    let ms = fact.createdMs;
    let image: Record<string, unknown> = { ...fact.base };
    versions.push({ ms, image });
    for (const change of fact.changes) {
      ms = Math.max(change.ms, ms + 1);
      if ('deleted' in change) {
        versions.push({ ms, image: null });
        break;
      }
      image = { ...image, ...change.patch };
      versions.push({ ms, image });
    }
    const keys = { [keyName]: { S: fact.key } };
    let previous: Marshalled | undefined;
    versions.forEach((version, i) => {
      if (version.ms > this.endMs) return;
      if (version.image === null) {
        this.deliver(this.record('REMOVE', version.ms, keys, undefined, previous, false));
        this.counts.clean += 1;
        this.counts.deletes += 1;
        return;
      }
      const current = marshal(version.image);
      const delivery = this.record(i === 0 ? 'INSERT' : 'MODIFY', version.ms, keys, current, previous, false);
      previous = current;
      this.deliver(delivery);
      this.counts.clean += 1;
      if (!(this.d.next() < this.dirtyRate)) return;
      const kind = drawDirtyKind(this.d);
      const later = versions[i + 1];
      const nextMs = later?.ms ?? this.endMs;
      if (kind === 'malformed' && nextMs - version.ms >= 2) {
        const at = version.ms + this.d.int(1, Math.min(nextMs - version.ms - 1, HOUR_MS));
        const broken = marshal(corruptItem(this.table, version.image, this.d));
        this.deliver(this.record('MODIFY', at, keys, broken, current, false));
        this.counts.malformed += 1;
      } else if (kind === 'outOfOrder' && later && later.ms <= this.endMs) {
        // Redelivered after the item's next version: an older version later in the stream.
        const at = Math.min(this.endMs, later.ms + this.d.int(1, 600_000));
        this.redeliver(delivery, at);
        this.counts.outOfOrder += 1;
      } else {
        this.duplicate(delivery);
        this.counts.duplicates += 1;
      }
    });
  }

  /** One usage event: its INSERT, its TTL expiry if that falls in the history, and its dirt. */
  usageEvent(event: UsageEvent, accountId: string): void {
    const occurredAt = isoUtc(event.ms);
    const image: Record<string, unknown> =
      event.userId === undefined
        ? {
            event_id: event.id,
            account_id: accountId,
            event_type: event.type,
            occurred_at: occurredAt,
            expires_at: event.expiresAt,
          }
        : {
            event_id: event.id,
            account_id: accountId,
            user_id: event.userId,
            event_type: event.type,
            occurred_at: occurredAt,
            expires_at: event.expiresAt,
          };
    const keys = { event_id: { S: event.id } };
    const marshalled = marshal(image);
    const insert = this.record('INSERT', event.ms, keys, marshalled, undefined, false);
    this.deliver(insert);
    this.counts.clean += 1;
    if (this.d.next() < this.dirtyRate) {
      const kind = drawDirtyKind(this.d);
      if (kind === 'malformed') {
        // A second, broken event: usage events are never updated, so the dirt is a new item.
        const id = `${event.id}_x`;
        const at = Math.min(this.endMs, event.ms + this.d.int(1, 60_000));
        const broken = marshal(corruptItem(this.table, { ...image, event_id: id }, this.d));
        this.deliver(this.record('INSERT', at, { event_id: { S: id } }, broken, undefined, false));
        this.counts.malformed += 1;
      } else if (kind === 'outOfOrder') {
        this.redeliver(insert, Math.min(this.endMs, event.ms + this.d.int(SECOND_MS, 6 * HOUR_MS)));
        this.counts.outOfOrder += 1;
      } else {
        this.duplicate(insert);
        this.counts.duplicates += 1;
      }
    }
    if (event.removedMs !== undefined) {
      this.deliver(this.record('REMOVE', event.removedMs, keys, undefined, marshalled, true));
      this.counts.clean += 1;
      this.counts.ttlExpiries += 1;
    }
  }

  private next(): number {
    this.counter += 1;
    return this.counter;
  }

  private deliver(delivery: Delivery): void {
    this.out.push(delivery);
    this.counts.records += 1;
  }

  /** The same record again, right after the original. */
  private duplicate(delivery: Delivery): void {
    this.deliver({
      ms: delivery.ms,
      customer: delivery.customer,
      counter: delivery.counter,
      copy: 1,
      record: delivery.record,
    });
  }

  /** The same record again, delivered later at `ms`. */
  private redeliver(delivery: Delivery, ms: number): void {
    this.deliver({ ms, customer: this.customer, counter: this.next(), copy: 0, record: delivery.record });
  }

  private record(
    eventName: StreamRecordJson['eventName'],
    ms: number,
    keys: Readonly<Record<string, { readonly S: string }>>,
    newImage: Marshalled | undefined,
    oldImage: Marshalled | undefined,
    ttl: boolean,
  ): Delivery {
    const n = this.next();
    let size = 0;
    for (const k in keys) size += k.length + (keys[k]?.S.length ?? 0);
    if (newImage) size += newImage.size;
    if (oldImage) size += oldImage.size;
    const approximate = Math.floor(ms / SECOND_MS);
    const sequence = sequenceNumber(ms, this.customerText, n);
    // Literal shapes instead of spreads: this runs once per stream record.
    const change: StreamRecordJson['dynamodb'] =
      newImage && oldImage
        ? {
            ApproximateCreationDateTime: approximate,
            Keys: keys,
            NewImage: newImage.map,
            OldImage: oldImage.map,
            SequenceNumber: sequence,
            SizeBytes: size,
            StreamViewType: 'NEW_AND_OLD_IMAGES',
          }
        : newImage
          ? {
              ApproximateCreationDateTime: approximate,
              Keys: keys,
              NewImage: newImage.map,
              SequenceNumber: sequence,
              SizeBytes: size,
              StreamViewType: 'NEW_AND_OLD_IMAGES',
            }
          : {
              ApproximateCreationDateTime: approximate,
              Keys: keys,
              OldImage: oldImage?.map ?? {},
              SequenceNumber: sequence,
              SizeBytes: size,
              StreamViewType: 'NEW_AND_OLD_IMAGES',
            };
    const eventID = streamEventId(this.seed, this.tableIndex, this.customer, n);
    const record: StreamRecordJson = ttl
      ? {
          eventID,
          eventName,
          eventVersion: '1.1',
          eventSource: 'aws:dynamodb',
          awsRegion: this.awsRegion,
          eventSourceARN: this.arn,
          userIdentity: TTL_IDENTITY,
          dynamodb: change,
        }
      : {
          eventID,
          eventName,
          eventVersion: '1.1',
          eventSource: 'aws:dynamodb',
          awsRegion: this.awsRegion,
          eventSourceARN: this.arn,
          dynamodb: change,
        };
    return { ms, customer: this.customer, counter: n, copy: 0, record };
  }
}

/**
 * Marshal a flat item to AttributeValues (the hot path: once per stream
 * record). An image is shared by the records that carry it (an INSERT's
 * NewImage is its TTL REMOVE's OldImage); nothing mutates it.
 */
function marshal(image: Readonly<Record<string, unknown>>): Marshalled {
  const map: Record<string, unknown> = {};
  let size = 0;
  for (const name in image) {
    const value = image[name];
    size += name.length;
    if (typeof value === 'string') {
      map[name] = { S: value };
      size += value.length;
    } else if (typeof value === 'number') {
      const text = String(value);
      map[name] = { N: text };
      size += text.length;
    } else if (value === null || value === undefined) {
      map[name] = { NULL: true };
      size += 1;
    } else {
      const nested = toAttributeMap({ value }).value;
      map[name] = nested;
      size += JSON.stringify(nested).length;
    }
  }
  return { map, size };
}

/** Marshal plain JSON into DynamoDB attribute values (strings, numbers, booleans, null, maps, lists). */
export function toAttributeMap(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toAttribute(v)]));
}

function toAttribute(value: unknown): unknown {
  if (value === null || value === undefined) return { NULL: true };
  if (typeof value === 'string') return { S: value };
  if (typeof value === 'number') return { N: String(value) };
  if (typeof value === 'boolean') return { BOOL: value };
  if (Array.isArray(value)) return { L: value.map(toAttribute) };
  if (typeof value === 'object') return { M: toAttributeMap(value as Record<string, unknown>) };
  throw new TypeError('unsupported attribute value');
}
