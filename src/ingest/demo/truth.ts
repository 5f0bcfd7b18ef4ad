import { ENTITIES, type EntityContract, type FieldDef } from '../../transform/entities.js';
import { stableKey } from '../dynamodb/record.js';
import { unmarshall } from '../dynamodb/unmarshall.js';
import { padSequence, toUtcInstant } from '../envelope.js';
import { ZOHO_ENTITIES, type ZohoEntity } from '../zoho/entities.js';
import type { CompanyHistory, DynamoEntity, StreamRecordJson, ZohoVersion } from './history.js';

/**
 * The ground truth of a generated company: what Silver must hold at a time,
 * computed from the history with Silver's own rules (`transform/silver.ts`),
 * independently of the ingestion code under test:
 * - per key, the latest surviving version by source time, then sequence
 *   (Zoho: `last_modified_time`, then the order the versions appeared;
 *   DynamoDB: `ApproximateCreationDateTime`, then `SequenceNumber`);
 * - a deletion wins and stays (a tombstone), a TTL expiry is ignored;
 * - a version breaking its entity contract is never a candidate: it is listed
 *   in `malformed` with the reason code Silver's quarantine gives.
 */

export type ReasonCode = 'MISSING_FIELD' | 'TYPE_MISMATCH' | 'UNKNOWN_ENUM' | 'NEGATIVE_AMOUNT';

/** A version Silver quarantines. */
export interface MalformedRow {
  readonly source: 'zoho_books' | 'dynamodb';
  readonly entity: ZohoEntity | DynamoEntity;
  readonly key: string;
  /** The version's source time (UTC ISO). */
  readonly sourceTs: string;
  /** The first violation's code, as Silver's `reason_code`. */
  readonly reasonCode: ReasonCode;
  /** Every violation, `CODE:field` joined by `;`, as Silver's `reason`. */
  readonly reason: string;
}

export interface EntityCounts {
  /** Versions (Zoho) or stream records (DynamoDB) up to the time. */
  readonly versions: number;
  readonly live: number;
  readonly deleted: number;
  readonly malformed: number;
  /** TTL expiries seen (and ignored). */
  readonly ttlExpired: number;
}

export interface EntityTruth {
  /** Live records by key, sorted by key: Zoho records as the API returns them, DynamoDB items unmarshalled. */
  readonly records: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /** Keys whose latest surviving version is a deletion (Silver's tombstones), sorted. */
  readonly deleted: readonly string[];
  readonly counts: EntityCounts;
}

export type TruthEntity = ZohoEntity | DynamoEntity;

export interface GroundTruth {
  readonly at: string;
  readonly entities: Readonly<Record<TruthEntity, EntityTruth>>;
  /** Quarantined versions, in history order. */
  readonly malformed: readonly MalformedRow[];
  /** Usage events whose TTL expiry happened by `at`: still live here, as in Silver. */
  readonly ttlExpired: readonly string[];
}

export interface TruthOptions {
  /**
   * Times Zoho was pulled. Zoho has no change feed: a version replaced before
   * any pull saw it never reaches Bronze. With this, only the versions visible
   * at one of these times (a full list at each) count; without it, every
   * version does (a pull after every change).
   */
  readonly observedAt?: ReadonlyArray<Date | string>;
}

const DYNAMO_ENTITIES: readonly DynamoEntity[] = ['accounts', 'users', 'usage_events'];

/** Silver's state per entity at `at` (default: the history's end). */
export function groundTruth(history: CompanyHistory, at?: Date, options: TruthOptions = {}): GroundTruth {
  const atMs = (at ?? new Date(history.end)).getTime();
  const atIso = new Date(atMs).toISOString();
  const malformed: MalformedRow[] = [];
  const entities = {} as Record<TruthEntity, EntityTruth>;
  const observed = observationTimes(options.observedAt, atMs);

  const zohoEntities = Object.keys(ZOHO_ENTITIES) as ZohoEntity[];
  const byEntity = new Map<ZohoEntity, ZohoVersion[]>(zohoEntities.map((e) => [e, []]));
  for (const version of history.zoho) {
    if (Date.parse(version.validFrom) <= atMs) byEntity.get(version.entity)?.push(version);
  }
  for (const entity of zohoEntities) {
    entities[entity] = zohoTruth(entity, byEntity.get(entity) ?? [], observed, malformed);
  }
  let ttlExpired: string[] = [];
  for (const table of DYNAMO_ENTITIES) {
    const result = dynamoTruth(table, history.streams[table], atMs, malformed);
    entities[table] = result.truth;
    if (table === 'usage_events') ttlExpired = result.ttlExpired;
  }
  return { at: atIso, entities, malformed, ttlExpired };
}

interface Candidate {
  readonly sourceTs: string;
  readonly seq: string;
  readonly deleted: boolean;
  readonly payload: Readonly<Record<string, unknown>>;
}

/** Silver's order: source time, then sequence, then a deletion before a live row. */
function newer(a: Candidate, b: Candidate | undefined): boolean {
  if (b === undefined) return true;
  if (a.sourceTs !== b.sourceTs) return a.sourceTs > b.sourceTs;
  if (a.seq !== b.seq) return a.seq > b.seq;
  return a.deleted && !b.deleted;
}

function zohoTruth(
  entity: ZohoEntity,
  versions: readonly ZohoVersion[],
  observed: readonly number[] | undefined,
  malformed: MalformedRow[],
): EntityTruth {
  const contract = contractOf('zoho_books', entity);
  const idField = ZOHO_ENTITIES[entity].idField;
  const seen = observed ? observedVersions(versions, observed) : undefined;
  const best = new Map<string, Candidate>();
  let counted = 0;
  let bad = 0;
  versions.forEach((version, position) => {
    if (seen && !seen.has(position)) return;
    counted += 1;
    // The position in the history orders versions with equal times, as the pull order would.
    const seq = String(position).padStart(12, '0');
    let candidate: Candidate;
    if (version.record === null) {
      candidate = { sourceTs: version.validFrom, seq, deleted: true, payload: { [idField]: version.id } };
    } else {
      const modified = version.record.last_modified_time;
      const sourceTs = typeof modified === 'string' ? toUtcInstant(modified) : undefined;
      // Without a readable last_modified_time the puller rejects the record before Bronze.
      if (sourceTs === undefined) return;
      candidate = { sourceTs, seq, deleted: false, payload: version.record };
      const violations = contractViolations(contract, version.record, 'U');
      if (violations.length > 0) {
        bad += 1;
        malformed.push(malformedRow('zoho_books', entity, version.id, sourceTs, violations));
        return;
      }
    }
    if (newer(candidate, best.get(version.id))) best.set(version.id, candidate);
  });
  return summarize(best, { versions: counted, malformed: bad, ttlExpired: 0 });
}

/** Positions of the versions visible at one of the observation times. */
function observedVersions(versions: readonly ZohoVersion[], observed: readonly number[]): Set<number> {
  const byId = new Map<string, number[]>();
  versions.forEach((version, position) => {
    const list = byId.get(version.id);
    if (list) list.push(position);
    else byId.set(version.id, [position]);
  });
  const seen = new Set<number>();
  for (const positions of byId.values()) {
    positions.forEach((position, i) => {
      const from = Date.parse(versions[position]?.validFrom ?? '');
      const nextPosition = positions[i + 1];
      const until =
        nextPosition === undefined
          ? Number.POSITIVE_INFINITY
          : Date.parse(versions[nextPosition]?.validFrom ?? '');
      // Visible from its validFrom until the next version's (a same-time successor hides it at once).
      if (until > from && observed.some((t) => t >= from && t < until)) seen.add(position);
    });
  }
  return seen;
}

function observationTimes(times: TruthOptions['observedAt'], atMs: number): number[] | undefined {
  if (times === undefined) return undefined;
  return times.map((t) => (typeof t === 'string' ? Date.parse(t) : t.getTime())).filter((t) => t <= atMs);
}

function dynamoTruth(
  table: DynamoEntity,
  records: readonly StreamRecordJson[],
  atMs: number,
  malformed: MalformedRow[],
): { truth: EntityTruth; ttlExpired: string[] } {
  const contract = contractOf('dynamodb', table);
  const atSeconds = Math.floor(atMs / 1000);
  const best = new Map<string, Candidate>();
  const ttlExpired = new Set<string>();
  let counted = 0;
  let bad = 0;
  for (const record of records) {
    const change = record.dynamodb;
    if (change.ApproximateCreationDateTime > atSeconds) continue;
    counted += 1;
    const key = stableKey(unmarshall(change.Keys, '$.Keys'));
    if (record.eventName === 'REMOVE' && isTtlExpiry(record)) {
      // Landed with meta.ttl_expiry, then skipped by Silver: an expiry deletes nothing downstream.
      ttlExpired.add(key);
      continue;
    }
    const deleted = record.eventName === 'REMOVE';
    const image = deleted ? change.OldImage : change.NewImage;
    const payload = image
      ? unmarshall(image, deleted ? '$.OldImage' : '$.NewImage')
      : unmarshall(change.Keys);
    const sourceTs = toUtcInstant(change.ApproximateCreationDateTime) ?? '';
    const violations = contractViolations(contract, payload, deleted ? 'D' : 'U');
    if (violations.length > 0) {
      bad += 1;
      malformed.push(malformedRow('dynamodb', table, key, sourceTs, violations));
      continue;
    }
    const candidate: Candidate = { sourceTs, seq: padSequence(change.SequenceNumber), deleted, payload };
    if (newer(candidate, best.get(key))) best.set(key, candidate);
  }
  return {
    truth: summarize(best, { versions: counted, malformed: bad, ttlExpired: ttlExpired.size }),
    ttlExpired: [...ttlExpired].sort(),
  };
}

function isTtlExpiry(record: StreamRecordJson): boolean {
  return (
    record.userIdentity?.type === 'Service' && record.userIdentity.principalId === 'dynamodb.amazonaws.com'
  );
}

function summarize(
  best: ReadonlyMap<string, Candidate>,
  counts: Pick<EntityCounts, 'versions' | 'malformed' | 'ttlExpired'>,
): EntityTruth {
  const records: Record<string, Readonly<Record<string, unknown>>> = {};
  const deleted: string[] = [];
  for (const key of [...best.keys()].sort()) {
    const candidate = best.get(key);
    if (!candidate) continue;
    if (candidate.deleted) deleted.push(key);
    else records[key] = candidate.payload;
  }
  return {
    records,
    deleted,
    counts: { ...counts, live: Object.keys(records).length, deleted: deleted.length },
  };
}

function contractOf(source: 'zoho_books' | 'dynamodb', entity: string): EntityContract {
  const contract = ENTITIES.find((c) => c.source === source && c.entity === entity);
  if (!contract) throw new Error(`no Silver contract for ${source}.${entity}`);
  return contract;
}

function malformedRow(
  source: MalformedRow['source'],
  entity: TruthEntity,
  key: string,
  sourceTs: string,
  violations: readonly string[],
): MalformedRow {
  const first = violations[0] ?? '';
  return {
    source,
    entity,
    key,
    sourceTs,
    reasonCode: first.slice(0, first.indexOf(':')) as ReasonCode,
    reason: violations.join(';'),
  };
}

/**
 * The violations Silver finds in a payload (`CODE:field`, in Silver's order:
 * per field of the contract, type (twice for whole numbers: castable, then
 * digits only), then missing, enum, negative; only the type checks apply to a
 * deletion). Extraction and casts follow DuckDB's
 * `json_extract_string`, `TRIM`, `NULLIF(.., '')` and `TRY_CAST` for the
 * values sources send.
 */
export function contractViolations(
  contract: EntityContract,
  payload: Readonly<Record<string, unknown>>,
  op: 'I' | 'U' | 'D',
): string[] {
  const out: string[] = [];
  const live = op !== 'D';
  for (const field of contract.fields) {
    const raw = extractString(payload, field.path);
    const typed = raw === null ? null : tryCast(raw, field.sqlType);
    if (raw !== null && typed === null) out.push(`TYPE_MISMATCH:${field.name}`);
    // Silver's second type check: TRY_CAST rounds '1.5' to an INTEGER, so a whole-number field must be digits.
    if (
      (field.sqlType === 'INTEGER' || field.sqlType === 'BIGINT') &&
      raw !== null &&
      !/^-?[0-9]+$/.test(raw)
    ) {
      out.push(`TYPE_MISMATCH:${field.name}`);
    }
    if (!live) continue;
    if (field.required && raw === null) out.push(`MISSING_FIELD:${field.name}`);
    if (field.values && typed !== null && !field.values.includes(String(typed)))
      out.push(`UNKNOWN_ENUM:${field.name}`);
    if (field.nonNegative && typeof typed === 'number' && typed < 0)
      out.push(`NEGATIVE_AMOUNT:${field.name}`);
  }
  return out;
}

/** `NULLIF(TRIM(json_extract_string(payload, path)), '')`. */
function extractString(payload: Readonly<Record<string, unknown>>, path: string): string | null {
  let value: unknown = payload;
  for (const part of path.replace(/^\$\./, '').split('.')) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
    value = Object.hasOwn(value, part) ? (value as Record<string, unknown>)[part] : undefined;
  }
  if (value === undefined || value === null) return null;
  const text =
    typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value);
  const trimmed = text.replace(/^ +| +$/g, '');
  return trimmed === '' ? null : trimmed;
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const DATE = /^(\d{4})-(\d{1,2})-(\d{1,2})$/;
const TIMESTAMP =
  /^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)?$/;

/** `TRY_CAST(text AS type)`: the value, or `null` when DuckDB would give NULL. */
function tryCast(text: string, type: FieldDef['sqlType']): string | number | null {
  switch (type) {
    case 'VARCHAR':
    case 'JSON':
      return text;
    case 'BOOLEAN':
      return /^(true|false|t|f|1|0)$/i.test(text) ? text : null;
    case 'INTEGER':
    case 'BIGINT':
    case 'DOUBLE':
    case 'DECIMAL(18,2)': {
      if (!NUMBER.test(text)) return null;
      const value = Number(text);
      if (!Number.isFinite(value)) return null;
      if (type === 'INTEGER' && Math.abs(Math.round(value)) > 2_147_483_647) return null;
      if (type === 'DECIMAL(18,2)' && Math.abs(value) >= 1e16) return null;
      return value;
    }
    case 'DATE': {
      const m = DATE.exec(text);
      return m && validDate(m[1], m[2], m[3]) ? text : null;
    }
    case 'TIMESTAMP': {
      const m = TIMESTAMP.exec(text);
      if (!m || !validDate(m[1], m[2], m[3])) return null;
      if (Number(m[4] ?? 0) > 23 || Number(m[5] ?? 0) > 59 || Number(m[6] ?? 0) > 59) return null;
      return text;
    }
  }
}

function validDate(y: string | undefined, m: string | undefined, d: string | undefined): boolean {
  const year = Number(y);
  const month = Number(m);
  const day = Number(d);
  if (!(month >= 1 && month <= 12 && day >= 1)) return false;
  return day <= new Date(Date.UTC(year, month, 0)).getUTCDate();
}
