import { readFile } from 'node:fs/promises';
import streamBench from './ingest-stream.bench.js';
import zohoBench from './ingest-zoho.bench.js';
import { type BenchResult, type Figure, report } from './lib/report.js';

async function figuresOf(name: string): Promise<Record<string, Figure>> {
  const text = await readFile(new URL(`./results/${name}.json`, import.meta.url), 'utf8');
  return (JSON.parse(text) as BenchResult).figures;
}

/**
 * Both halves of ingestion in one report: the DynamoDB stream consumer on a
 * 10,000-record batch, then the Zoho puller's achieved request rate against
 * the local server with its limit equal to the budget. Each half also saves
 * its own file; this one prefixes their figures with `stream_` and `zoho_`.
 */
export default async function bench(args: readonly string[]): Promise<void> {
  await streamBench(args);
  await zohoBench(args);
  const stream = await figuresOf('ingest-stream');
  const zoho = await figuresOf('ingest-zoho');
  await report('ingest', {
    ...Object.fromEntries(Object.entries(stream).map(([k, v]) => [`stream_${k}`, v])),
    ...Object.fromEntries(Object.entries(zoho).map(([k, v]) => [`zoho_${k}`, v])),
  });
}
