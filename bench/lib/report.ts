import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';

/** One measured figure. */
export interface Figure {
  readonly value: number;
  readonly unit: string;
}

/** The saved shape every bench writes: `bench/results/<name>.json`. */
export interface BenchResult {
  readonly name: string;
  readonly date: string;
  readonly machine: { readonly cpus: number; readonly node: string };
  readonly figures: Record<string, Figure>;
}

/** Print the figures as a table and save them. */
export async function report(name: string, figures: Record<string, Figure>): Promise<BenchResult> {
  const result: BenchResult = {
    name,
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, node: process.version },
    figures,
  };
  const width = Math.max(...Object.keys(figures).map((k) => k.length), 6);
  const lines = [
    `${'figure'.padEnd(width)}  ${'value'.padStart(14)}  unit`,
    `${'-'.repeat(width)}  ${'-'.repeat(14)}  ----`,
  ];
  for (const [key, f] of Object.entries(figures)) {
    lines.push(`${key.padEnd(width)}  ${formatValue(f.value).padStart(14)}  ${f.unit}`);
  }
  process.stdout.write(
    `\n${name} (${result.machine.cpus} cpus, node ${result.machine.node})\n${lines.join('\n')}\n`,
  );
  const dir = new URL('../results/', import.meta.url);
  await mkdir(dir, { recursive: true });
  await writeFile(new URL(`${name}.json`, dir), `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`saved bench/results/${name}.json\n`);
  return result;
}

function formatValue(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toFixed(3);
}

/** The q-quantile (0..1) of a list of numbers. */
export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}
