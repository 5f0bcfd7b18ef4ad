import { parseArgs } from 'node:util';
import type { Config } from '../config/index.js';
import { createZohoClientFromSettings, parseZohoSettings } from '../ingest/zoho/client.js';
import type { ZohoEntity } from '../ingest/zoho/entities.js';
import { ZohoAbortedError } from '../ingest/zoho/errors.js';
import { pullZoho, ZOHO_ENTITY_NAMES } from '../ingest/zoho/pull.js';
import { reconcileZoho, silverKeysFromEngine } from '../ingest/zoho/reconcile.js';
import { logger } from '../runtime/logger.js';
import { createObjectStore, createQueryEngine } from '../runtime/stores.js';
import { progress } from './progress.js';

/** The usage lines of `goldgate ingest`. */
export const INGEST_USAGE = `  goldgate ingest zoho [--entity E]... [--full]
                                         pull Zoho Books into Bronze incrementally (ZOHO_* settings)
  goldgate ingest reconcile [--entity E]...
                                         land deletes: keys Silver holds that Zoho no longer lists`;

/** A CLI run holds each entity's lock at most this long; a crashed run blocks the next one no longer. */
const CLI_LOCK_TTL_MS = 6 * 3_600_000;

/**
 * `goldgate ingest zoho|reconcile`: progress on stderr, one summary line per
 * entity, exit 0 when every entity completed (or was skipped because another
 * run holds it), 1 otherwise, 130 when interrupted (the next run resumes).
 */
export async function ingestCommand(config: Config, args: readonly string[]): Promise<number> {
  const [target, ...rest] = args;
  if (target !== 'zoho' && target !== 'reconcile') return usage(`expected: goldgate ingest zoho|reconcile`);
  const { values } = parseArgs({
    args: [...rest],
    options: { entity: { type: 'string', multiple: true }, full: { type: 'boolean' } },
  });
  if (values.full && target !== 'zoho') return usage('--full applies to goldgate ingest zoho');
  const unknown = (values.entity ?? []).filter((e) => !(ZOHO_ENTITY_NAMES as string[]).includes(e));
  if (unknown.length > 0)
    return usage(`unknown entity ${unknown[0]}; entities: ${ZOHO_ENTITY_NAMES.join(', ')}`);

  const settings = parseZohoSettings();
  const entities = (values.entity as ZohoEntity[] | undefined) ?? settings.entities ?? ZOHO_ENTITY_NAMES;
  const client = await createZohoClientFromSettings(settings, { log: logger });
  const store = createObjectStore(config);
  const stop = new AbortController();
  const interrupt = (): void => {
    progress('stopping: the next run resumes where this one committed');
    stop.abort();
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  const started = Date.now();
  try {
    if (target === 'zoho') {
      const result = await pullZoho({
        store,
        client,
        entities,
        overlapMs: settings.overlapMs,
        pagesPerRun: settings.pagesPerRun,
        full: values.full ?? false,
        lockTtlMs: CLI_LOCK_TTL_MS,
        deadline: new Date(started + CLI_LOCK_TTL_MS - 10 * 60_000),
        signal: stop.signal,
        onProgress: (p) => progress(`${p.message}, ${p.events} events so far`),
      });
      for (const e of result.entities) {
        progress(
          `${e.entity}: ${e.status}${e.error ? ` (${e.error.code}: ${e.error.message})` : ''}, ${e.events} events in ${e.runs.length} Bronze runs, ${e.pages} pages${e.resumed ? ', resumed' : ''}, watermark ${e.watermark ?? 'none'}`,
        );
      }
      progress(
        `${result.requests} Zoho requests in ${((Date.now() - started) / 1000).toFixed(1)} s (${result.budget.usedToday}/${result.budget.dailyLimit} today)`,
      );
      return result.entities.every((e) => e.status === 'complete' || e.status === 'skipped') ? 0 : 1;
    }
    const engine = await createQueryEngine(config, store);
    try {
      const result = await reconcileZoho({
        store,
        client,
        silverKeys: silverKeysFromEngine(store, engine),
        entities,
        maxDeleteRatio: settings.maxDeleteRatio,
        lockTtlMs: CLI_LOCK_TTL_MS,
        signal: stop.signal,
        onProgress: (p) => progress(p.message),
      });
      for (const e of result.entities) {
        progress(
          `${e.entity}: ${e.status}${e.error ? ` (${e.error.code}: ${e.error.message})` : ''}, ${e.deleted} deletes landed, ${e.sourceIds} ids at the source, ${e.silverIds} in Silver`,
        );
      }
      return result.entities.every((e) => e.status !== 'failed') ? 0 : 1;
    } finally {
      await engine.close();
    }
  } catch (error) {
    if (error instanceof ZohoAbortedError) return 130;
    throw error;
  } finally {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
  }
}

function usage(message: string): number {
  process.stderr.write(`goldgate: ${message}\n\nUsage:\n${INGEST_USAGE}\n`);
  return 2;
}
