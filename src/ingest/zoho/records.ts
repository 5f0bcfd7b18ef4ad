import { z } from 'zod';
import { type BronzeEvent, toUtcInstant } from '../envelope.js';
import { InvalidSourceRecordError } from '../errors.js';
import { ZOHO_ENTITIES, type ZohoEntity } from './entities.js';

/** Zoho ids: strings in real responses, numbers in the docs; always kept as strings. */
const zohoId = z.union([z.string().regex(/^\d+$/), z.number().int().nonnegative()]).transform(String);

/** `page_context` is an object in most answers and an array of one object in some docs examples. */
const pageContextSchema = z
  .union([
    z.looseObject({ has_more_page: z.boolean() }),
    z.array(z.looseObject({ has_more_page: z.boolean() })),
  ])
  .transform((value) => (Array.isArray(value) ? value[0] : value));

/** One list-API answer: `{code: 0, message, <listKey>: [...], page_context}`. */
export interface ZohoListPage {
  readonly records: ReadonlyArray<Record<string, unknown>>;
  readonly hasMorePage: boolean;
}

/** Parse a Zoho Books list answer for an entity; throws `InvalidSourceRecordError`. */
export function parseZohoListPage(entity: ZohoEntity, body: unknown): ZohoListPage {
  const { listKey } = ZOHO_ENTITIES[entity];
  const schema = z.looseObject({
    code: z.literal(0),
    [listKey]: z.array(z.record(z.string(), z.unknown())),
    page_context: pageContextSchema.optional(),
  });
  const parsed = schema.safeParse(body);
  if (!parsed.success) {
    throw new InvalidSourceRecordError(`Zoho ${entity} list answer breaks its contract`, {
      cause: parsed.error,
    });
  }
  const data = parsed.data as Record<string, unknown> & { page_context?: { has_more_page: boolean } };
  const records = data[listKey] as Array<Record<string, unknown>>;
  return { records, hasMorePage: data.page_context?.has_more_page ?? false };
}

/** Where in a pull a record was seen, to order two versions with the same timestamp. */
export interface ZohoPosition {
  readonly runId: string;
  readonly page: number;
  readonly ingestedAt: string;
}

/**
 * Turn a page of Zoho records into Bronze events. Zoho has no change feed: a
 * record is `I` when never modified since creation, else `U`; deletes come
 * from reconciliation. The payload is the record verbatim.
 */
export function zohoRecordsToEvents(
  entity: ZohoEntity,
  records: ReadonlyArray<Record<string, unknown>>,
  position: ZohoPosition,
): BronzeEvent[] {
  const { idField } = ZOHO_ENTITIES[entity];
  return records.map((record, row) => {
    const id = zohoId.safeParse(record[idField]);
    if (!id.success) throw new InvalidSourceRecordError(`Zoho ${entity} record without a valid ${idField}`);
    const modified = record.last_modified_time;
    const sourceTs = typeof modified === 'string' ? toUtcInstant(modified) : undefined;
    if (!sourceTs) throw new InvalidSourceRecordError(`Zoho ${entity} record without last_modified_time`);
    return {
      source: 'zoho_books',
      entity,
      key: id.data,
      op: record.created_time === modified ? 'I' : 'U',
      source_ts: sourceTs,
      seq: `${position.runId}:${String(position.page).padStart(5, '0')}:${String(row).padStart(5, '0')}`,
      ingested_at: position.ingestedAt,
      run_id: position.runId,
      payload: { ...record, [idField]: id.data },
    };
  });
}

/** A delete found by reconciliation: the key only, timestamped when it was noticed. */
export function zohoDeleteEvent(
  entity: ZohoEntity,
  id: string,
  position: ZohoPosition & { readonly row: number; readonly noticedAt: string },
): BronzeEvent {
  const { idField } = ZOHO_ENTITIES[entity];
  return {
    source: 'zoho_books',
    entity,
    key: id,
    op: 'D',
    source_ts: position.noticedAt,
    seq: `${position.runId}:${String(position.page).padStart(5, '0')}:${String(position.row).padStart(5, '0')}`,
    ingested_at: position.ingestedAt,
    run_id: position.runId,
    payload: { [idField]: id },
  };
}
