import type { ObjectStore } from '../../adapters/object-store/port.js';
import { newRunId, utcDate } from '../../lake/run-id.js';
import { writeBronzeRun } from '../bronze-writer.js';
import { consumeStreamBatch } from '../dynamodb/consumer.js';
import type { BronzeEvent } from '../envelope.js';
import { InvalidSourceRecordError } from '../errors.js';
import type { ZohoEntity } from '../zoho/entities.js';
import { ZOHO_ENTITIES } from '../zoho/entities.js';
import { parseZohoListPage, zohoDeleteEvent, zohoRecordsToEvents } from '../zoho/records.js';
import type { DemoCompany, DemoWave, ZohoRecord } from './generator.js';

/** Zoho's list page size. */
const PER_PAGE = 200;
/** Lambda's default DynamoDB Streams batch size. */
const STREAM_BATCH = 100;

export interface LandOptions {
  /** DynamoDB table name -> entity, as in the stream consumer's configuration. */
  readonly tables: Readonly<Record<string, string>>;
  readonly onProgress?: (message: string) => void;
}

/** Totals of what was landed. */
export interface LandReport {
  readonly bronzeRuns: number;
  readonly events: number;
}

/**
 * Land every wave of the demo company in Bronze through the real ingestion
 * code: Zoho list pages are parsed as the API's answers and mapped to events;
 * account changes go through the DynamoDB Streams consumer in Lambda-sized
 * batches.
 */
export async function landDemoCompany(
  store: ObjectStore,
  company: DemoCompany,
  options: LandOptions,
): Promise<LandReport> {
  let bronzeRuns = 0;
  let events = 0;
  for (const [n, wave] of company.waves.entries()) {
    options.onProgress?.(`wave ${n + 1}/${company.waves.length}: Zoho Books contacts and invoices`);
    for (const [entity, records] of [
      ['contacts', wave.contacts],
      ['invoices', wave.invoices],
    ] as const) {
      const landed = await landZohoEntity(
        store,
        entity,
        records,
        wave,
        entity === 'invoices' ? wave.deletedInvoiceIds : [],
      );
      bronzeRuns += landed > 0 ? 1 : 0;
      events += landed;
    }
    options.onProgress?.(`wave ${n + 1}/${company.waves.length}: DynamoDB stream batches`);
    for (let i = 0; i < wave.accountRecords.length; i += STREAM_BATCH) {
      const batch = { Records: wave.accountRecords.slice(i, i + STREAM_BATCH) };
      const result = await consumeStreamBatch(store, batch, { tables: options.tables, now: wave.at });
      if (result.batchItemFailures.length > 0) {
        throw new InvalidSourceRecordError(
          `demo stream batch had ${result.batchItemFailures.length} failed records`,
        );
      }
      bronzeRuns += result.runs.filter((run) => !run.alreadyCommitted).length;
      events += Object.values(result.landed).reduce((a, b) => a + b, 0);
    }
  }
  return { bronzeRuns, events };
}

async function landZohoEntity(
  store: ObjectStore,
  entity: ZohoEntity,
  records: readonly ZohoRecord[],
  wave: DemoWave,
  deletedIds: readonly string[],
): Promise<number> {
  if (records.length === 0 && deletedIds.length === 0) return 0;
  const runId = newRunId(wave.at);
  const ingestedAt = wave.at.toISOString();
  const events: BronzeEvent[] = [];
  const pages = Math.max(1, Math.ceil(records.length / PER_PAGE));
  for (let page = 1; page <= pages; page++) {
    const slice = records.slice((page - 1) * PER_PAGE, page * PER_PAGE);
    // Serialise and parse as the API answer would arrive, so the real parser is exercised.
    const body: unknown = JSON.parse(
      JSON.stringify({
        code: 0,
        message: 'success',
        [ZOHO_ENTITIES[entity].listKey]: slice,
        page_context: { page, per_page: PER_PAGE, has_more_page: page < pages },
      }),
    );
    const parsed = parseZohoListPage(entity, body);
    events.push(...zohoRecordsToEvents(entity, parsed.records, { runId, page, ingestedAt }));
  }
  deletedIds.forEach((id, row) => {
    events.push(
      zohoDeleteEvent(entity, id, { runId, page: pages + 1, row, ingestedAt, noticedAt: ingestedAt }),
    );
  });
  await writeBronzeRun(store, { source: 'zoho_books', entity, ingestDate: utcDate(wave.at), runId }, events);
  return events.length;
}
