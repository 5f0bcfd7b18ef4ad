import { parseArgs } from 'node:util';
import type { Config } from '../config/index.js';
import { createObjectStore } from '../runtime/stores.js';
import { actOnCondemned, summariseQuarantine } from '../transform/quarantine.js';
import { progress } from './progress.js';

/** `goldgate quarantine list|retry|release [--entity source/entity]`. */
export async function quarantineCommand(config: Config, args: readonly string[]): Promise<number> {
  const [action, ...rest] = args;
  const { values } = parseArgs({ args: rest, options: { entity: { type: 'string' } } });
  const store = createObjectStore(config);
  if (action === 'list') {
    const summary = await summariseQuarantine(store);
    if (summary.length === 0) {
      process.stdout.write('quarantine is empty\n');
      return 0;
    }
    process.stdout.write(
      `${'entity'.padEnd(32)} ${'open'.padStart(6)} ${'condemned'.padStart(9)} ${'released'.padStart(8)}  reasons\n`,
    );
    for (const s of summary) {
      const reasons = Object.entries(s.reasons)
        .map(([code, n]) => `${code}=${n}`)
        .join(' ');
      process.stdout.write(
        `${s.entity.padEnd(32)} ${String(s.open).padStart(6)} ${String(s.condemned).padStart(9)} ${String(s.released).padStart(8)}  ${reasons}\n`,
      );
    }
    return 0;
  }
  if (action === 'retry' || action === 'release') {
    const moved = await actOnCondemned(store, action, {
      ...(values.entity ? { entity: values.entity } : {}),
      lockTtlMs: config.pipeline.lockTtlMs,
    });
    progress(
      action === 'retry'
        ? `${moved.length} condemned file(s) will be retried by the next pipeline run`
        : `${moved.length} condemned file(s) released (kept for audit, never retried)`,
    );
    return 0;
  }
  process.stderr.write(
    'usage: goldgate quarantine list | retry [--entity source/entity] | release [--entity source/entity]\n',
  );
  return 2;
}
