import type { Logger } from '@aws-lambda-powertools/logger';
import type { ObjectStore } from '../adapters/object-store/port.js';
import type { QueryEngine, Row } from '../adapters/query-engine/port.js';
import type { AccessPolicy, MartAccess } from '../auth/access.js';
import type { Principal } from '../auth/principal.js';
import { findMart } from '../catalog/index.js';
import { goldDataset } from '../lake/layout.js';
import { type LatestPointer, resolveLatest } from '../lake/publish.js';
import { countQuery, encodeCursor, type MartFilter, pageQuery } from './builder.js';
import { BadUserInputError, MartNotFoundError, MartUnavailableError } from './errors.js';

/** Per-request state: each mart's version is resolved once, so one answer reads one version. */
export class RequestScope {
  private readonly versions = new Map<string, Promise<LatestPointer | undefined>>();

  constructor(
    readonly principal: Principal,
    readonly log: Logger,
    readonly signal?: AbortSignal,
  ) {}

  /** The served version of a mart, resolved at most once in this request. */
  version(store: ObjectStore, mart: string, schemaVersion: number): Promise<LatestPointer | undefined> {
    const id = `${mart}@${schemaVersion}`;
    let pending = this.versions.get(id);
    if (!pending) {
      pending = resolveLatest(store, goldDataset(mart, schemaVersion));
      this.versions.set(id, pending);
    }
    return pending;
  }
}

/** A page of rows with its cursor facts. */
export interface Page {
  readonly rows: Row[];
  readonly hasNextPage: boolean;
  readonly endCursor: string | null;
  readonly totalCount?: number;
  readonly version: LatestPointer;
}

export interface PageArgs {
  readonly filter: MartFilter;
  readonly first: number;
  readonly after?: string | undefined;
  readonly columns: readonly string[];
  readonly withTotal: boolean;
}

export interface MartReaderOptions {
  readonly engine: QueryEngine;
  readonly store: ObjectStore;
  readonly policy: AccessPolicy;
  readonly queryTimeoutMs: number;
  readonly maxPageSize: number;
}

/**
 * Reads Gold marts for callers: resolves the served version, applies the
 * caller's access (columns and row filter compiled into the SQL), runs the
 * query and writes one audit line per access.
 */
export class MartReader {
  constructor(private readonly options: MartReaderOptions) {}

  /** The caller's access to a mart; unknown and forbidden marts both raise NOT_FOUND. */
  access(scope: RequestScope, martName: string): MartAccess {
    const mart = findMart(martName);
    const access = mart ? this.options.policy.accessFor(scope.principal, mart) : undefined;
    if (!access) throw new MartNotFoundError();
    return access;
  }

  /** One page of a mart in key order. */
  async page(scope: RequestScope, martName: string, args: PageArgs): Promise<Page> {
    const { engine, store } = this.options;
    const access = this.access(scope, martName);
    if (!Number.isInteger(args.first) || args.first < 1 || args.first > this.options.maxPageSize) {
      throw new BadUserInputError(`first must be between 1 and ${this.options.maxPageSize}`);
    }
    const version = await scope.version(store, access.mart.name, access.mart.schemaVersion);
    if (!version) throw new MartUnavailableError('the mart has not been published yet');
    const relation = engine.martRelation({
      mart: access.mart.name,
      schemaVersion: access.mart.schemaVersion,
      runId: version.run_id,
      prefix: version.path,
    });
    const started = Date.now();
    const request = { relation, access, filter: args.filter };
    const result = await engine.query({
      sql: pageQuery({ ...request, columns: args.columns, first: args.first, after: args.after }),
      timeoutMs: this.options.queryTimeoutMs,
      signal: scope.signal,
      label: `${access.mart.name}.page`,
    });
    const hasNextPage = result.rows.length > args.first;
    const rows = hasNextPage ? result.rows.slice(0, args.first) : result.rows;
    const last = rows[rows.length - 1];
    let totalCount: number | undefined;
    if (args.withTotal) {
      const counted = await engine.query({
        sql: countQuery(request),
        timeoutMs: this.options.queryTimeoutMs,
        signal: scope.signal,
        label: `${access.mart.name}.count`,
      });
      totalCount = Number(counted.rows[0]?.total ?? 0);
    }
    scope.log.info('data access', {
      audit: true,
      subject: scope.principal.subject,
      roles: scope.principal.roles,
      mart: access.mart.name,
      columns: [...new Set([...access.mart.key, ...args.columns])],
      row_filter:
        access.rows === null
          ? null
          : access.rows.map((all) => all.map((p) => `${p.column} IN claims`).join(' AND ')),
      filter_fields: Object.keys(args.filter),
      rows: rows.length,
      duration_ms: Date.now() - started,
      gold_run_id: version.run_id,
      engine_query_id: result.stats.queryId,
    });
    return {
      rows,
      hasNextPage,
      endCursor: last ? encodeCursor(access.mart.key.map((k) => last[k] ?? null)) : null,
      ...(totalCount !== undefined ? { totalCount } : {}),
      version,
    };
  }
}
