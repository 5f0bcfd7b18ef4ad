import type { ObjectStore } from '../adapters/object-store/port.js';
import type { QueryEngine } from '../adapters/query-engine/port.js';
import { generateDemoCompany } from '../ingest/demo/generator.js';
import { landDemoCompany } from '../ingest/demo/land.js';
import { type PipelineReport, runPipeline } from '../transform/pipeline.js';

/** The DynamoDB table the demo's account records come from, and its Bronze entity. */
export const DEMO_TABLES = { 'goldgate-demo-accounts': 'accounts' } as const;

/** Build the demo lake: generate the company, land it in Bronze, run the pipeline. */
export async function buildDemoLake(input: {
  readonly store: ObjectStore;
  readonly engine: QueryEngine;
  readonly seed: number;
  readonly customers: number;
  readonly now?: Date;
  readonly onProgress?: (message: string) => void;
}): Promise<{ events: number; report: PipelineReport }> {
  const now = input.now ?? new Date();
  input.onProgress?.(`generating a demo company (seed ${input.seed}, ${input.customers} customers)`);
  const company = generateDemoCompany({ seed: input.seed, customers: input.customers, now });
  const landed = await landDemoCompany(input.store, company, {
    tables: DEMO_TABLES,
    onProgress: input.onProgress,
  });
  input.onProgress?.(`landed ${landed.events} events in ${landed.bronzeRuns} Bronze runs`);
  const report = await runPipeline({
    store: input.store,
    engine: input.engine,
    onProgress: (e) => input.onProgress?.(`[${e.index}/${e.total}] ${e.step}: ${e.detail}`),
  });
  return { events: landed.events, report };
}
