import { createHash } from 'node:crypto';
import type { SqlDialect } from '../../sql/dialect.js';
import { raw, type SqlFragment } from '../../sql/fragment.js';
import type { GoldModel } from './model.js';

/**
 * Bump when the way a home writes a mart changes without its SQL changing
 * (file format options, partition layout): every mart is then rebuilt once.
 */
const BUILD_KEY_VERSION = 2;

/** What decides a Gold build's output; see `goldBuildKey`. */
export interface GoldBuildInputs {
  readonly model: GoldModel;
  /** The model's query as the home renders it (`as_of` and the Silver relations are in it). */
  readonly query: SqlFragment;
  /** The engine flavour the query was rendered for. */
  readonly dialect: string;
  /** `source/entity` -> the Silver version read (`none` when the entity has none). */
  readonly silverRuns: Readonly<Record<string, string>>;
  readonly asOf: string;
}

/**
 * The identity of a Gold build: two builds with the same key write the same
 * rows. A model is a pure function of its Silver inputs and `as_of` (no clock
 * of its own, no randomness: reruns are deterministic), so the key hashes the
 * rendered SQL with its bound values, the Silver versions it reads, `as_of`
 * and how the mart is laid out. Silver versions are named explicitly because
 * on Athena the rendered SQL names tables, not versions.
 */
export function goldBuildKey(input: GoldBuildInputs): string {
  const { model } = input;
  const canonical = JSON.stringify([
    ...layoutOf(model),
    input.dialect,
    input.asOf,
    Object.entries(input.silverRuns).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    ...fragmentOf(input.query),
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}

/**
 * What a Gold build computes, whatever Silver versions it reads: the model's
 * SQL and incremental rule rendered over placeholder inputs, `as_of` and the
 * layout. A served run with the same definition key differs from a build now
 * only by its inputs' changes, so it may be maintained from them.
 */
export function goldDefinitionKey(model: GoldModel, dialect: SqlDialect, asOf: string): string {
  const placeholders = Object.fromEntries(
    Object.keys(model.inputs).map((name) => [name, raw(`(SELECT * FROM "input:${name}")`)]),
  );
  const changed = Object.fromEntries(
    Object.keys(model.inputs).map((name) => [name, raw(`(SELECT * FROM "changed:${name}")`)]),
  );
  const ctx = { inputs: placeholders, asOf, dialect };
  const incremental = model.incremental;
  const canonical = JSON.stringify([
    ...layoutOf(model),
    dialect.name,
    asOf,
    ...fragmentOf(model.query(ctx)),
    incremental
      ? [incremental.driver, incremental.keys, ...fragmentOf(incremental.affected({ ...ctx, changed }))]
      : null,
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}

function layoutOf(model: GoldModel): unknown[] {
  return [
    BUILD_KEY_VERSION,
    model.mart.name,
    model.mart.schemaVersion,
    model.mart.partitionBy,
    model.mart.columns.map((c) => [c.name, c.sqlType]),
  ];
}

function fragmentOf(fragment: SqlFragment): unknown[] {
  return [
    fragment.text,
    // Each value with its kind: 1, 1n and '1' bind differently (and bigint has no JSON form).
    fragment.params.map((p) =>
      p === null ? ['null'] : Array.isArray(p) ? ['list', p] : [typeof p, String(p)],
    ),
  ];
}
