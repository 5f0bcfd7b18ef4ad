import type { ObjectStore } from '../adapters/object-store/port.js';
import { findMart, MARTS } from '../catalog/index.js';
import type { MartDef } from '../catalog/types.js';
import { readJson } from '../lake/json.js';
import { confirmationKey, goldDataset, type VersionedDataset } from '../lake/layout.js';
import {
  confirmationSchema,
  type LatestPointer,
  type RunManifest,
  readRunManifest,
  resolveLatest,
} from '../lake/publish.js';
import { RUN_ID_PATTERN, runIdTime } from '../lake/run-id.js';
import { UnknownMartError } from './errors.js';
import { evaluateSla, type MartFacts, type PublishedVersion, type SlaState } from './sla.js';
import { describeSla, loadSlaConfig, type Sla, type SlaConfig } from './sla-config.js';
import { addDays, localDate, zonedInstant } from './time.js';

/** How fresh a mart is: what the API shows beside every answer, and the ops page per mart. */
export interface MartFreshness {
  readonly mart: string;
  readonly schemaVersion: number;
  /** The served Gold version, or `null` when the mart was never published. */
  readonly served: ServedVersion | null;
  /** Per source, the newest change (`source_ts`) the served version includes, newest first. */
  readonly newestSourceChange: ReadonlyArray<{ readonly source: string; readonly at: string }>;
  readonly sla: SlaStatus;
}

/** The Gold version `_LATEST.json` points at. Instants are ISO-8601 UTC. */
export interface ServedVersion {
  readonly runId: string;
  /** When the pointer was last moved to this run (a rollback moves it too). */
  readonly publishedAt: string;
  /** The data's as-of time: the start of the run that built it. */
  readonly builtAt: string;
  /** When readers could first be served it. */
  readonly readyAt: string;
  readonly rowCount: number;
  /** Set when an operator rolled back to this run from another. */
  readonly rolledBackFrom: string | null;
  /** Checks that failed without blocking publication (blocking ones never publish). */
  readonly failedChecks: readonly string[];
}

/** The SLA of a mart and its state now. */
export interface SlaStatus {
  readonly kind: Sla['kind'];
  /** e.g. `daily by 06:00 Asia/Kolkata`. */
  readonly description: string;
  readonly state: SlaState;
  readonly reasons: readonly string[];
  readonly evaluatedAt: string;
  readonly dueAt: string | null;
  readonly deliveredAt: string | null;
  readonly ageSeconds: number | null;
  readonly breachedSince: string | null;
}

/** Where freshness reads its configuration from; the defaults suit the running process. */
export interface FreshnessOptions {
  /** The SLAs in force (default: `loadSlaConfig()` from the environment, once per process). */
  readonly slas?: SlaConfig;
  /** Another schema version than the catalog's current one. */
  readonly schemaVersion?: number;
}

let processSlas: SlaConfig | undefined;

/** The SLAs of this process, read from the environment once. */
export function slaConfigOfProcess(): SlaConfig {
  processSlas ??= loadSlaConfig();
  return processSlas;
}

/**
 * The freshness of one mart at `now`: the version served, the newest source
 * change it includes and its SLA state. Throws `UnknownMartError` for a mart
 * the catalog does not declare (callers map it to their own "not found").
 */
export async function freshness(
  store: ObjectStore,
  mart: string,
  now: Date,
  options: FreshnessOptions = {},
): Promise<MartFreshness> {
  const def = findMart(mart);
  if (!def) throw new UnknownMartError(mart);
  const slas = options.slas ?? slaConfigOfProcess();
  const sla = slas[def.name];
  // The configuration was validated against the catalog; a gap here is a programming error.
  if (!sla) throw new TypeError(`no SLA for ${def.name}`);
  const schemaVersion = options.schemaVersion ?? def.schemaVersion;
  const dataset = goldDataset(def.name, schemaVersion);
  const pointer = await resolveLatest(store, dataset);
  // Pointers written since freshness was recorded carry everything; older ones need their run's manifest.
  const manifest =
    pointer && (pointer.built_at === undefined || pointer.newest_source_change === undefined)
      ? await readRunManifest(store, dataset, pointer.run_id)
      : undefined;
  const facts = await martFacts(store, dataset, def.name, pointer, manifest, sla, now);
  const verdict = evaluateSla(sla, facts, now);
  const iso = (d: Date | undefined): string | null => d?.toISOString() ?? null;
  return {
    mart: def.name,
    schemaVersion,
    served:
      pointer && facts.served
        ? {
            runId: pointer.run_id,
            publishedAt: pointer.published_at,
            builtAt: facts.served.builtAt.toISOString(),
            readyAt: facts.served.readyAt.toISOString(),
            rowCount: pointer.row_count,
            rolledBackFrom: pointer.rolled_back_from ?? null,
            failedChecks: pointer.checks.filter((c) => !c.passed).map((c) => c.name),
          }
        : null,
    newestSourceChange: Object.entries(facts.newestSourceChange)
      .map(([source, at]) => ({ source, at: at.toISOString() }))
      .sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : a.source.localeCompare(b.source))),
    sla: {
      kind: sla.kind,
      description: describeSla(sla),
      state: verdict.state,
      reasons: verdict.reasons,
      evaluatedAt: verdict.evaluatedAt.toISOString(),
      dueAt: iso(verdict.dueAt),
      deliveredAt: iso(verdict.deliveredAt),
      ageSeconds: verdict.ageSeconds ?? null,
      breachedSince: iso(verdict.breachedSince),
    },
  };
}

/** The freshness of every mart of the catalog, in catalog order. */
export async function freshnessOfAll(
  store: ObjectStore,
  now: Date,
  options: FreshnessOptions & { readonly marts?: readonly MartDef[] } = {},
): Promise<MartFreshness[]> {
  const marts = options.marts ?? MARTS;
  return Promise.all(marts.map((m) => freshness(store, m.name, now, options)));
}

function versionOf(
  runId: string,
  builtAt: string | undefined,
  readyAt: string | undefined,
): PublishedVersion {
  const built = builtAt ? new Date(builtAt) : runIdTime(runId);
  return { runId, builtAt: built, readyAt: readyAt ? new Date(readyAt) : built };
}

/** Gather what the SLA is judged on; reads only the runs a deadline SLA can need. */
async function martFacts(
  store: ObjectStore,
  dataset: VersionedDataset,
  mart: string,
  pointer: LatestPointer | undefined,
  manifest: RunManifest | undefined,
  sla: Sla,
  now: Date,
): Promise<MartFacts> {
  if (!pointer) return { mart, served: undefined, earlier: [], newestSourceChange: {} };
  // A normal publish records when it was ready; a rollback's pointer time is when it was served again.
  const served = versionOf(
    pointer.run_id,
    pointer.built_at ?? manifest?.completed_at,
    pointer.ready_at ?? pointer.published_at,
  );
  const newestSourceChange: Record<string, Date> = {};
  const newest = pointer.newest_source_change ?? manifest?.lineage?.newest_source_change ?? {};
  for (const [source, at] of Object.entries(newest)) {
    const t = new Date(at);
    if (!Number.isNaN(t.getTime())) newestSourceChange[source] = t;
  }
  const earlier = sla.kind === 'deadline' ? await firstCoveringRuns(store, dataset, sla, served, now) : [];
  return { mart, served, earlier, newestSourceChange };
}

/**
 * For yesterday and today (local), the first complete run built after the
 * day's local midnight, and the first confirmation of a reused run after it,
 * if they came before the served one: a mart rebuilt every hour serves a
 * version from after the deadline, yet the day may have been covered in time.
 * Listing is bounded to the run ids of those days.
 */
async function firstCoveringRuns(
  store: ObjectStore,
  dataset: VersionedDataset,
  sla: Sla & { kind: 'deadline' },
  served: PublishedVersion,
  now: Date,
): Promise<PublishedVersion[]> {
  const today = localDate(now, sla.timeZone);
  const cutoffs = [addDays(today, -1), today].map((day) => zonedInstant(day, '00:00', sla.timeZone));
  const from = cutoffs[0];
  if (!from || served.builtAt < from) return [];
  const runs = await completeRunsBetween(store, dataset, from, served.builtAt);
  // A reused run served anew (Gold reuse) covers a day as a build would: its confirmations count too.
  const confirmations = await keysBetween(
    store,
    `${dataset.prefix}_confirmed/`,
    from,
    served.builtAt,
    /\/([^/]+)\.json$/,
  );
  const found: PublishedVersion[] = [];
  const seen = new Set<string>();
  for (const cutoff of cutoffs) {
    const first = runs.find((r) => runIdTime(r) >= cutoff && r !== served.runId);
    if (first && !seen.has(first)) {
      seen.add(first);
      const manifest = await readRunManifest(store, dataset, first);
      if (manifest) found.push(versionOf(first, manifest.completed_at, manifest.ready_at));
    }
    const confirmedBy = confirmations.find((r) => runIdTime(r) >= cutoff);
    if (confirmedBy && !seen.has(`confirmed:${confirmedBy}`)) {
      seen.add(`confirmed:${confirmedBy}`);
      const c = await readJson(store, confirmationKey(dataset, confirmedBy), confirmationSchema);
      if (c) found.push(versionOf(c.run_id, c.built_at, c.ready_at));
    }
  }
  return found;
}

/** Complete runs whose id time lies in [from, to], oldest first, listing only the UTC days concerned. */
function completeRunsBetween(
  store: ObjectStore,
  dataset: VersionedDataset,
  from: Date,
  to: Date,
): Promise<string[]> {
  return keysBetween(store, `${dataset.prefix}run_id=`, from, to, /run_id=([^/]+)\/_SUCCESS$/);
}

/**
 * Run ids, taken from keys under `prefix` + `YYYYMMDD` by `pattern`, whose time
 * lies in [from, to], oldest first; lists only the UTC days concerned.
 */
async function keysBetween(
  store: ObjectStore,
  prefix: string,
  from: Date,
  to: Date,
  pattern: RegExp,
): Promise<string[]> {
  const runs: string[] = [];
  const last = to.toISOString().slice(0, 10);
  for (let day = from.toISOString().slice(0, 10); day <= last; day = addDays(day, 1)) {
    for await (const info of store.list(`${prefix}${day.replaceAll('-', '')}`)) {
      const m = pattern.exec(info.key);
      if (!m?.[1] || !RUN_ID_PATTERN.test(m[1])) continue;
      const at = runIdTime(m[1]);
      if (at >= from && at <= to) runs.push(m[1]);
    }
  }
  return runs.sort();
}
