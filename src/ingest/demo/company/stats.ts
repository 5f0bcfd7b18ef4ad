import { ZOHO_ENTITIES, type ZohoEntity } from '../../zoho/entities.js';
import type { DynamoEntity } from '../history.js';

/** Dirty items injected, by kind. */
export interface DirtyCounts {
  malformed: number;
  duplicates: number;
  outOfOrder: number;
}

/** Per Zoho entity: versions written, of which clean ones (deletions included), deletions, dirt. */
export interface ZohoCounts extends DirtyCounts {
  versions: number;
  clean: number;
  deletes: number;
}

/** Per DynamoDB table: records written, clean ones (removals included), user deletes, TTL expiries, dirt. */
export interface StreamCounts extends DirtyCounts {
  records: number;
  clean: number;
  deletes: number;
  ttlExpiries: number;
}

/**
 * What a generation produced. The dirty rate is measured against the clean
 * creates and updates (`clean - deletes - ttlExpiries`): those are the items
 * that may get a dirty companion.
 */
export interface CompanyStats {
  customers: number;
  /** Contacts that never had an account by the end. */
  leads: number;
  accounts: number;
  /** Customers with at least one recurring profile. */
  paying: number;
  zoho: Record<ZohoEntity, ZohoCounts>;
  streams: Record<DynamoEntity, StreamCounts>;
}

const DYNAMO_ENTITIES: readonly DynamoEntity[] = ['accounts', 'users', 'usage_events'];

/** All-zero statistics. */
export function emptyStats(): CompanyStats {
  const zoho = {} as Record<ZohoEntity, ZohoCounts>;
  for (const entity of Object.keys(ZOHO_ENTITIES) as ZohoEntity[]) {
    zoho[entity] = { versions: 0, clean: 0, deletes: 0, malformed: 0, duplicates: 0, outOfOrder: 0 };
  }
  const streams = {} as Record<DynamoEntity, StreamCounts>;
  for (const table of DYNAMO_ENTITIES) {
    streams[table] = {
      records: 0,
      clean: 0,
      deletes: 0,
      ttlExpiries: 0,
      malformed: 0,
      duplicates: 0,
      outOfOrder: 0,
    };
  }
  return { customers: 0, leads: 0, accounts: 0, paying: 0, zoho, streams };
}

/** Add `more` into `into`. */
export function addStats(into: CompanyStats, more: CompanyStats): CompanyStats {
  into.customers += more.customers;
  into.leads += more.leads;
  into.accounts += more.accounts;
  into.paying += more.paying;
  for (const entity of Object.keys(into.zoho) as ZohoEntity[]) {
    const a = into.zoho[entity];
    const b = more.zoho[entity];
    for (const k of Object.keys(a) as Array<keyof ZohoCounts>) a[k] += b[k];
  }
  for (const table of DYNAMO_ENTITIES) {
    const a = into.streams[table];
    const b = more.streams[table];
    for (const k of Object.keys(a) as Array<keyof StreamCounts>) a[k] += b[k];
  }
  return into;
}

/** Dirty items per clean create or update, over both sources. */
export function dirtyRateOf(stats: CompanyStats): number {
  let dirty = 0;
  let eligible = 0;
  for (const c of Object.values(stats.zoho)) {
    dirty += c.malformed + c.duplicates + c.outOfOrder;
    eligible += c.clean - c.deletes;
  }
  for (const c of Object.values(stats.streams)) {
    dirty += c.malformed + c.duplicates + c.outOfOrder;
    eligible += c.clean - c.deletes - c.ttlExpiries;
  }
  return eligible === 0 ? 0 : dirty / eligible;
}
