import type { ObjectStore } from '../adapters/object-store/port.js';
import { type BronzeRunRef, bronzeEntityPrefix, bronzeRunKey, parseBronzeKey } from '../lake/layout.js';

/** A committed Bronze run: its `_SUCCESS` exists. */
export interface CommittedBronzeRun {
  readonly ref: BronzeRunRef;
  readonly key: string;
  readonly parts: readonly string[];
}

/** Every committed Bronze run of an entity, oldest first; runs without `_SUCCESS` are invisible. */
export async function listCommittedBronzeRuns(
  store: ObjectStore,
  source: string,
  entity: string,
): Promise<CommittedBronzeRun[]> {
  const runs = new Map<string, { ref: BronzeRunRef; parts: string[]; committed: boolean }>();
  for await (const info of store.list(bronzeEntityPrefix(source, entity))) {
    const parsed = parseBronzeKey(info.key);
    if (!parsed) continue;
    const id = bronzeRunKey(parsed);
    const run = runs.get(id) ?? { ref: parsed, parts: [], committed: false };
    if (parsed.file === '_SUCCESS') run.committed = true;
    else if (/^part-\d{5}\.jsonl\.gz$/.test(parsed.file)) run.parts.push(info.key);
    runs.set(id, run);
  }
  return [...runs.entries()]
    .filter(([, run]) => run.committed)
    .map(([key, run]) => ({
      ref: {
        source: run.ref.source,
        entity: run.ref.entity,
        ingestDate: run.ref.ingestDate,
        runId: run.ref.runId,
      },
      key,
      parts: run.parts.sort(),
    }))
    .sort((a, b) => (a.ref.runId < b.ref.runId ? -1 : a.ref.runId > b.ref.runId ? 1 : 0));
}
