import * as z from 'zod/mini';
import { SLA_STATES } from '../../ops/sla.js';

/**
 * The wire format of `GET /ops/data`: what the server sends and the ops page
 * parses before it renders anything. Written with `zod/mini` because the page
 * bundles it (src/api/ops/client.ts): the full zod would weigh 20 times more.
 * The server builds it from the operations core's own types (src/api/ops/data.ts),
 * so a field that drifts on either side fails the type-check. Only pure modules
 * may be imported here: the page bundles whatever this file reaches.
 */

const instant = z.string();

const slaSchema = z.object({
  kind: z.enum(['deadline', 'max_age']),
  description: z.string(),
  state: z.enum(SLA_STATES),
  reasons: z.array(z.string()),
  evaluatedAt: instant,
  dueAt: z.nullable(instant),
  deliveredAt: z.nullable(instant),
  ageSeconds: z.nullable(z.number()),
  breachedSince: z.nullable(instant),
});

const servedSchema = z.object({
  runId: z.string(),
  publishedAt: instant,
  builtAt: instant,
  readyAt: instant,
  rowCount: z.number(),
  rolledBackFrom: z.nullable(z.string()),
  /** Non-blocking checks the served version failed. */
  failedChecks: z.array(z.string()),
});

const martSchema = z.object({
  mart: z.string(),
  schemaVersion: z.number(),
  served: z.nullable(servedSchema),
  newestSourceChange: z.array(z.object({ source: z.string(), at: instant })),
  sla: slaSchema,
});

const failedCheckSchema = z.object({
  step: z.string(),
  name: z.string(),
  blocking: z.boolean(),
  detail: z.nullable(z.string()),
});

const stepSchema = z.object({
  step: z.string(),
  status: z.enum(['published', 'skipped', 'blocked']),
  rowsIn: z.number(),
  rowsOut: z.number(),
  quarantined: z.number(),
  condemned: z.number(),
  durationMs: z.number(),
  /** The served run a Gold step checked and served again instead of building (Gold reuse); null when it built. */
  reusedRun: z.nullable(z.string()),
});

const runSchema = z.object({
  runId: z.string(),
  status: z.enum(['succeeded', 'blocked', 'failed']),
  startedAt: instant,
  finishedAt: instant,
  durationMs: z.number(),
  steps: z.array(stepSchema),
  failedChecks: z.array(failedCheckSchema),
  quarantined: z.number(),
  condemned: z.number(),
  error: z.nullable(
    z.object({
      step: z.string(),
      code: z.string(),
      causeCode: z.nullable(z.string()),
      message: z.string(),
    }),
  ),
});

const quarantineSchema = z.object({
  entity: z.string(),
  open: z.number(),
  condemned: z.number(),
  released: z.number(),
  reasons: z.record(z.string(), z.number()),
});

/** The answer of `GET /ops/data`. */
export const opsDataSchema = z.object({
  /** The server's clock when the answer was made; SLA states and ages are as of then. */
  generatedAt: instant,
  /** Every mart of the catalog, in catalog order. */
  marts: z.array(martSchema),
  /** The last pipeline runs, newest first. */
  runs: z.array(runSchema),
  /** Per Silver entity with anything in quarantine. */
  quarantine: z.array(quarantineSchema),
});

/** The parsed answer of `GET /ops/data`. */
export type OpsData = z.infer<typeof opsDataSchema>;
/** One mart of the answer. */
export type OpsMart = OpsData['marts'][number];
/** One pipeline run of the answer. */
export type OpsRun = OpsData['runs'][number];

/** The config the page reads from `script#ops-config` (written by the server, parsed by the page). */
export const opsPageConfigSchema = z.object({
  /** Where the page fetches its data. */
  dataPath: z.string(),
  /** How many pipeline runs the page asks for. */
  runs: z.number(),
  /** A dev token pre-filled by `goldgate start` on a loopback server, else `null`. */
  token: z.nullable(z.string()),
});

/** The page's config. */
export type OpsPageConfig = z.infer<typeof opsPageConfigSchema>;
