import type { Logger } from '@aws-lambda-powertools/logger';
import type { ObjectStore } from '../adapters/object-store/port.js';
import type { QueryEngine, QueryResult, Row } from '../adapters/query-engine/port.js';
import type { AccessPolicy, MartAccess } from '../auth/access.js';
import type { Principal } from '../auth/principal.js';
import { accessToEarlierVersion } from '../auth/versions.js';
import { CATALOG, type Catalog } from '../catalog/index.js';
import type { ColumnDef, MartDef, RelationDef } from '../catalog/types.js';
import { goldDataset } from '../lake/layout.js';
import { type LatestPointer, resolveLatest } from '../lake/publish.js';
import { freshness, type MartFreshness } from '../ops/index.js';
import type { SqlFragment } from '../sql/fragment.js';
import type { Admission } from './admission.js';
import {
  aggregateQuery,
  buildPage,
  countQuery,
  cursorOf,
  exportQuery,
  MAX_GROUPS,
  MAX_IN_VALUES,
  type MartFilter,
  type Measure,
  type OrderTerm,
  relationQuery,
  usableColumn,
} from './builder.js';
import {
  BadUserInputError,
  ForbiddenError,
  MartNotFoundError,
  MartUnavailableError,
  QueryTooComplexError,
} from './errors.js';

/** What a request did to the engine, for its log line. */
export interface RequestStats {
  engineQueries: number;
  bytesScanned: number;
  cacheHits: number;
  cacheMisses: number;
}

/** Per-request state: each mart's version is resolved once, so one answer reads one version. */
export class RequestScope {
  private readonly versions = new Map<string, Promise<LatestPointer | undefined>>();
  /** Gold versions this request read, `mart@schema_v` -> run id (part of the answer-cache key). */
  readonly touched = new Map<string, string>();
  readonly stats: RequestStats = { engineQueries: 0, bytesScanned: 0, cacheHits: 0, cacheMisses: 0 };
  /** Set when the answer depends on the clock (freshness, SLA state): it must not be cached. */
  uncacheable = false;

  private logger: Logger | undefined;

  /**
   * `log` may be a factory: a per-request child logger costs more than most cache
   * hits, so it is made only when the request has something of its own to log.
   */
  constructor(
    readonly principal: Principal,
    private readonly makeLog: Logger | (() => Logger),
    readonly signal?: AbortSignal,
  ) {}

  /** The request's logger (carries its correlation id). */
  get log(): Logger {
    this.logger ??= typeof this.makeLog === 'function' ? this.makeLog() : this.makeLog;
    return this.logger;
  }

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
  /** The cursor of each row (pass one as `after` to continue after it). */
  readonly cursors: string[];
  readonly hasNextPage: boolean;
  readonly endCursor: string | null;
  readonly totalCount?: number;
  readonly version: LatestPointer;
}

/** Arguments of a page read. */
export interface PageArgs {
  readonly filter: MartFilter;
  readonly orderBy?: readonly OrderTerm[] | undefined;
  readonly first: number;
  readonly after?: string | undefined;
  readonly columns: readonly string[];
  readonly withTotal: boolean;
}

/** Arguments of a streamed export. */
export interface ExportArgs {
  readonly filter: MartFilter;
  readonly orderBy?: readonly OrderTerm[] | undefined;
  /** Columns to return; the key is always included. Empty = every readable column. */
  readonly columns: readonly string[];
  readonly limit?: number | undefined;
}

/** A streamed export: columns first, then batches of (masked) rows. */
export interface ExportStream {
  readonly columns: readonly ColumnDef[];
  readonly version: LatestPointer;
  readonly batches: AsyncIterable<Row[]>;
}

/** Arguments of an aggregate read. */
export interface AggregateArgs {
  readonly filter: MartFilter;
  readonly groupBy: readonly string[];
  readonly measures: readonly Measure[];
  readonly limit?: number | undefined;
}

/** Arguments of a relation read (children of many parents, one statement). */
export interface ChildrenArgs {
  readonly filter: MartFilter;
  readonly orderBy?: readonly OrderTerm[] | undefined;
  readonly columns: readonly string[];
  /** Children per parent. */
  readonly first: number;
}

/** Children of one parent. */
export interface ChildList {
  readonly rows: Row[];
  readonly hasMore: boolean;
}

/** Applies a caller's masks to a row (masking happens in the gateway, identically on every engine). */
export type RowMasker = (access: MartAccess, row: Row) => Row;

/** Settings of the mart reader. */
export interface MartReaderOptions {
  readonly engine: QueryEngine;
  readonly store: ObjectStore;
  readonly policy: AccessPolicy;
  readonly queryTimeoutMs: number;
  readonly maxPageSize: number;
  /** Bounds concurrent engine statements across requests. */
  readonly admission?: Admission | undefined;
  /** Engine statements one request may run (nested levels, counts, aggregates). */
  readonly maxEngineQueriesPerRequest: number;
  readonly mask?: RowMasker | undefined;
  /** The served marts and versions (default: the product's catalog). */
  readonly catalog?: Catalog | undefined;
}

/** A mart by name (its default version: the one its plain API names serve) or a served version. */
export type MartRef = string | { readonly name: string; readonly schemaVersion: number };

/**
 * Reads Gold marts for callers: resolves the served version, compiles the
 * caller's access (columns, row scope, masks) into each statement, runs it
 * under admission control and the request's budget, and writes one audit line
 * per access.
 */
export class MartReader {
  private readonly catalog: Catalog;
  /** Access to an earlier schema version, derived once per (current access, version). */
  private readonly derived = new WeakMap<MartAccess, Map<MartDef, MartAccess | null>>();

  constructor(private readonly options: MartReaderOptions) {
    this.catalog = options.catalog ?? CATALOG;
  }

  /** The largest page a caller may ask for. */
  get maxPageSize(): number {
    return this.options.maxPageSize;
  }

  /**
   * The caller's access to a mart (version); unknown and forbidden marts both
   * raise NOT_FOUND. An earlier schema version is read under the grant on the
   * current one, column by column through the version's derivation.
   */
  access(scope: RequestScope, ref: MartRef): MartAccess {
    const mart =
      typeof ref === 'string' ? this.catalog.find(ref) : this.catalog.find(ref.name, ref.schemaVersion);
    const current = mart ? this.catalog.current(mart.name) : undefined;
    const granted = current ? this.options.policy.accessFor(scope.principal, current) : undefined;
    const access = granted && mart && mart !== current ? this.servedAccess(granted, mart) : granted;
    if (!access) throw new MartNotFoundError();
    return access;
  }

  /** Access to a served version other than the definition the policy was compiled for. */
  private servedAccess(granted: MartAccess, version: MartDef): MartAccess | undefined {
    let byVersion = this.derived.get(granted);
    if (!byVersion) {
      byVersion = new Map();
      this.derived.set(granted, byVersion);
    }
    let access = byVersion.get(version);
    if (access === undefined) {
      // The current version under its served API names keeps the grant as it is.
      access = version.projectedFrom
        ? (accessToEarlierVersion(granted, version) ?? null)
        : { ...granted, mart: version };
      byVersion.set(version, access);
    }
    return access ?? undefined;
  }

  /** Access for row-level reads: aggregate-only grants are refused. */
  private detailAccess(scope: RequestScope, martName: MartRef): MartAccess {
    const access = this.access(scope, martName);
    if (!access.detail) {
      throw new ForbiddenError(`rows of ${access.mart.name} are not granted to you; ask for aggregates`);
    }
    return access;
  }

  private checkFirst(first: number): void {
    if (!Number.isInteger(first) || first < 1 || first > this.options.maxPageSize) {
      throw new BadUserInputError(`first must be between 1 and ${this.options.maxPageSize}`);
    }
  }

  /** The published version of a mart as a relation, recorded as touched by this request. */
  private async relation(
    scope: RequestScope,
    mart: MartDef,
  ): Promise<{ relation: SqlFragment; version: LatestPointer }> {
    const version = await scope.version(this.options.store, mart.name, mart.schemaVersion);
    if (!version) throw new MartUnavailableError('the mart has not been published yet');
    scope.touched.set(`${mart.name}@${mart.schemaVersion}`, version.run_id);
    const relation = this.options.engine.martRelation({
      mart: mart.name,
      schemaVersion: mart.schemaVersion,
      runId: version.run_id,
      prefix: version.path,
    });
    return { relation, version };
  }

  /** Count one statement against the request's budget, then wait for an admission slot. */
  private async admit(scope: RequestScope): Promise<() => void> {
    scope.stats.engineQueries += 1;
    if (scope.stats.engineQueries > this.options.maxEngineQueriesPerRequest) {
      throw new QueryTooComplexError(
        `this request needs more than ${this.options.maxEngineQueriesPerRequest} engine queries; split it`,
      );
    }
    return this.options.admission ? this.options.admission.acquire(scope.signal) : () => {};
  }

  private async run(scope: RequestScope, sql: SqlFragment, label: string): Promise<QueryResult> {
    const release = await this.admit(scope);
    try {
      const result = await this.options.engine.query({
        sql,
        timeoutMs: this.options.queryTimeoutMs,
        signal: scope.signal,
        label,
      });
      scope.stats.bytesScanned += result.stats.bytesScanned ?? 0;
      return result;
    } finally {
      release();
    }
  }

  private masked(access: MartAccess, rows: Row[]): Row[] {
    const mask = this.options.mask;
    if (access.masks.size === 0) return rows;
    if (!mask) throw new TypeError('a policy masks columns but the reader has no masker');
    return rows.map((row) => mask(access, row));
  }

  private audit(
    scope: RequestScope,
    access: MartAccess,
    facts: {
      kind: string;
      columns: readonly string[];
      rows: number;
      started: number;
      version: LatestPointer;
    },
    queryId: string | undefined,
  ): void {
    scope.log.info('data access', {
      audit: true,
      kind: facts.kind,
      subject: scope.principal.subject,
      roles: scope.principal.roles,
      mart: access.mart.name,
      columns: facts.columns,
      masked: [...access.masks.keys()].filter((c) => facts.columns.includes(c)),
      row_filter:
        access.rows === null
          ? null
          : access.rows.map((all) => all.map((p) => `${p.column} IN claims`).join(' AND ')),
      rows: facts.rows,
      duration_ms: Date.now() - facts.started,
      gold_run_id: facts.version.run_id,
      engine_query_id: queryId,
    });
  }

  /** One page of a mart in the asked order (the key breaks ties). */
  async page(scope: RequestScope, martName: MartRef, args: PageArgs): Promise<Page> {
    const access = this.detailAccess(scope, martName);
    this.checkFirst(args.first);
    const { relation, version } = await this.relation(scope, access.mart);
    const started = Date.now();
    const built = buildPage({
      relation,
      access,
      filter: args.filter,
      columns: args.columns,
      first: args.first,
      after: args.after,
      orderBy: args.orderBy,
    });
    const request = { relation, access, filter: args.filter };
    const [result, counted] = await Promise.all([
      this.run(scope, built.sql, `${access.mart.name}.page`),
      args.withTotal ? this.run(scope, countQuery(request), `${access.mart.name}.count`) : undefined,
    ]);
    const hasNextPage = result.rows.length > args.first;
    const clear = hasNextPage ? result.rows.slice(0, args.first) : result.rows;
    // Cursors come from clear sort values before masking (masked columns are never sort terms).
    const cursors = clear.map((row) => cursorOf(built.terms, row));
    const rows = this.masked(access, clear);
    const columns = [...new Set([...access.mart.key, ...args.columns])];
    this.audit(
      scope,
      access,
      { kind: 'page', columns, rows: rows.length, started, version },
      result.stats.queryId,
    );
    return {
      rows,
      cursors,
      hasNextPage,
      endCursor: cursors.at(-1) ?? null,
      ...(counted ? { totalCount: Number(counted.rows[0]?.total ?? 0) } : {}),
      version,
    };
  }

  /** Every matching row, streamed in engine batches and masked on the way (constant memory). */
  async export(scope: RequestScope, martName: MartRef, args: ExportArgs): Promise<ExportStream> {
    const access = this.detailAccess(scope, martName);
    const { relation, version } = await this.relation(scope, access.mart);
    const names = args.columns.length
      ? [...new Set([...access.mart.key, ...args.columns])]
      : access.mart.columns.filter((c) => access.columns.has(c.name)).map((c) => c.name);
    const columns = names.map((n) => usableColumn(access, n, 'select'));
    const sql = exportQuery({
      access,
      relation,
      columns: names,
      filter: args.filter,
      orderBy: args.orderBy,
      limit: args.limit,
    });
    const release = await this.admit(scope);
    const started = Date.now();
    let cursor: Awaited<ReturnType<QueryEngine['stream']>>;
    try {
      // Exports run as long as they stream: no statement timeout, but the caller's disconnect aborts.
      cursor = await this.options.engine.stream({
        sql,
        signal: scope.signal,
        label: `${access.mart.name}.export`,
      });
    } catch (error) {
      release();
      throw error;
    }
    const reader = this;
    async function* batches(): AsyncGenerator<Row[]> {
      let rows = 0;
      try {
        for await (const batch of cursor) {
          rows += batch.length;
          yield reader.masked(access, batch);
        }
      } finally {
        await cursor.close().catch(() => {});
        release();
        scope.stats.bytesScanned += cursor.stats.bytesScanned ?? 0;
        reader.audit(
          scope,
          access,
          { kind: 'export', columns: names, rows, started, version },
          cursor.stats.queryId,
        );
      }
    }
    return { columns, version, batches: batches() };
  }

  /**
   * The children of many parents through a catalog relation, in one engine
   * statement; the target mart's access (row scope, columns, masks) applies as if
   * it were queried directly.
   */
  async children(
    scope: RequestScope,
    relationDef: RelationDef,
    parentValues: readonly string[],
    args: ChildrenArgs,
  ): Promise<Map<string, ChildList>> {
    const access = this.detailAccess(scope, relationDef.target);
    if (!Number.isInteger(args.first) || args.first < 1 || args.first > this.options.maxPageSize) {
      throw new BadUserInputError(`first must be between 1 and ${this.options.maxPageSize}`);
    }
    const [link] = relationDef.on;
    if (!link || relationDef.on.length !== 1)
      throw new TypeError(`relation ${relationDef.field} needs one link`);
    const childColumn = link[1];
    const out = new Map<string, ChildList>();
    const unique = [...new Set(parentValues)];
    if (unique.length === 0) return out;
    const { relation, version } = await this.relation(scope, access.mart);
    const started = Date.now();
    const grouped = new Map<string, Row[]>();
    // One statement per MAX_IN_VALUES parents: a page holds at most maxPageSize (<= MAX_IN_VALUES) parents.
    for (let i = 0; i < unique.length; i += MAX_IN_VALUES) {
      const chunk = unique.slice(i, i + MAX_IN_VALUES);
      const result = await this.run(
        scope,
        relationQuery({
          access,
          relation,
          childColumn,
          parentValues: chunk,
          columns: args.columns,
          filter: args.filter,
          orderBy: args.orderBy,
          perParent: args.first,
        }),
        `${access.mart.name}.children`,
      );
      for (const row of result.rows) {
        const parent = String(row[childColumn]);
        const list = grouped.get(parent) ?? [];
        list.push(row);
        grouped.set(parent, list);
      }
      this.audit(
        scope,
        access,
        { kind: 'relation', columns: args.columns, rows: result.rows.length, started, version },
        result.stats.queryId,
      );
    }
    for (const parent of unique) {
      const rows = grouped.get(parent) ?? [];
      const hasMore = rows.length > args.first;
      out.set(parent, { rows: this.masked(access, hasMore ? rows.slice(0, args.first) : rows), hasMore });
    }
    return out;
  }

  /**
   * How fresh a mart's served answer is (version, newest source change, SLA
   * state), under the same access rule as the mart: unknown or forbidden marts
   * raise NOT_FOUND. Depends on the clock, so the answer is not cached.
   */
  async freshness(scope: RequestScope, martName: MartRef): Promise<MartFreshness> {
    const access = this.access(scope, martName);
    scope.uncacheable = true;
    return freshness(this.options.store, access.mart.name, new Date(), {
      schemaVersion: access.mart.schemaVersion,
    });
  }

  /** Groups with count and measures; groups below the policy's minimum size never leave the engine. */
  async aggregate(scope: RequestScope, martName: MartRef, args: AggregateArgs): Promise<Row[]> {
    const access = this.access(scope, martName);
    const limit = args.limit ?? 1_000;
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_GROUPS) {
      throw new BadUserInputError(`first must be between 1 and ${MAX_GROUPS}`);
    }
    const { relation, version } = await this.relation(scope, access.mart);
    const started = Date.now();
    const sql = aggregateQuery({
      access,
      relation,
      filter: args.filter,
      groupBy: args.groupBy,
      measures: args.measures,
      limit,
    });
    const result = await this.run(scope, sql, `${access.mart.name}.aggregate`);
    const columns = [...args.groupBy, ...args.measures.map((m) => m.column)];
    this.audit(
      scope,
      access,
      { kind: 'aggregate', columns, rows: result.rows.length, started, version },
      result.stats.queryId,
    );
    // Hash-masked dimensions group in clear inside the engine and leave it masked.
    return this.masked(access, result.rows);
  }
}
