import type { Readable } from 'node:stream';
import type { ObjectInfo, ObjectStore } from '../../src/adapters/object-store/port.js';
import type {
  MartVersionRef,
  QueryCursor,
  QueryEngine,
  QueryRequest,
  QueryResult,
  QueryStats,
} from '../../src/adapters/query-engine/port.js';
import type { SqlFragment } from '../../src/sql/fragment.js';

/**
 * Crash injection for the lake's ports.
 *
 * A `FaultInjector` numbers the mutating steps of a process in the order they
 * are attempted (1, 2, 3, ...), across every port wrapped with it: object
 * writes (`put`, `putStream`, `createIfAbsent`, `replace`, `copy`, `delete`,
 * `prepareWrite`) and query-engine statements that write files (`COPY ...`).
 *
 * - As a recorder (`FaultInjector.recorder()`) it only remembers the ordered
 *   step descriptions.
 * - Armed (`FaultInjector.crashingAt(n)`) it throws `SimulatedCrash` when step
 *   `n` is attempted, before performing it. From then on the "process" is
 *   dead: every later call through a wrapped port (reads included, and the
 *   `finally` blocks that would release locks) throws `SimulatedCrash` too and
 *   reaches nothing underneath, exactly as if the process had stopped at step n.
 */

/** The error a simulated crash throws. */
export class SimulatedCrash extends Error {
  constructor(
    /** The step number the process died at (the step was not performed). */
    readonly step: number,
    /** What that step would have done, e.g. `put gold/.../_SUCCESS`. */
    readonly description: string,
    /** `true` for the call that crashed; `false` for calls refused afterwards. */
    readonly first: boolean,
  ) {
    super(
      first
        ? `simulated crash before step ${step}: ${description}`
        : `process already crashed at step ${step}; refused: ${description}`,
    );
    this.name = 'SimulatedCrash';
  }
}

/** Whether `error`, or any error in its `cause` chain, is a simulated crash. */
export function isSimulatedCrash(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 16 && current !== undefined && current !== null; depth++) {
    if (current instanceof SimulatedCrash) return true;
    current = current instanceof Error ? current.cause : undefined;
  }
  return false;
}

/** One shared step counter (and crash switch) for every port of one simulated process. */
export class FaultInjector {
  /** Descriptions of the steps actually performed, in order. */
  readonly performed: string[] = [];
  private crash: SimulatedCrash | undefined;

  private constructor(private readonly crashAt: number | undefined) {}

  /** Record every step; never crash. */
  static recorder(): FaultInjector {
    return new FaultInjector(undefined);
  }

  /** Crash before step `step` (1-based). */
  static crashingAt(step: number): FaultInjector {
    if (!Number.isInteger(step) || step < 1)
      throw new RangeError(`crash step must be a positive integer: ${step}`);
    return new FaultInjector(step);
  }

  /** The crash, once it happened. */
  get crashed(): SimulatedCrash | undefined {
    return this.crash;
  }

  /** Announce a mutating step; throws instead of letting it happen at the crash point or after. */
  step(description: string): void {
    this.assertAlive(description);
    const number = this.performed.length + 1;
    if (number === this.crashAt) {
      this.crash = new SimulatedCrash(number, description, true);
      throw this.crash;
    }
    this.performed.push(description);
  }

  /** Announce a non-mutating call; a dead process makes none. */
  assertAlive(description: string): void {
    if (this.crash) throw new SimulatedCrash(this.crash.step, description, false);
  }
}

/** An object store whose mutating calls are numbered (and can crash) by a `FaultInjector`. */
export class FaultyObjectStore implements ObjectStore {
  readonly kind: string;

  constructor(
    private readonly inner: ObjectStore,
    private readonly faults: FaultInjector,
  ) {
    this.kind = inner.kind;
  }

  async get(key: string): Promise<Uint8Array> {
    this.faults.assertAlive(`get ${key}`);
    return this.inner.get(key);
  }

  async getIfExists(key: string): Promise<Uint8Array | undefined> {
    this.faults.assertAlive(`getIfExists ${key}`);
    return this.inner.getIfExists(key);
  }

  async getStream(key: string): Promise<Readable> {
    this.faults.assertAlive(`getStream ${key}`);
    return this.inner.getStream(key);
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    this.faults.assertAlive(`head ${key}`);
    return this.inner.head(key);
  }

  async put(key: string, body: Uint8Array | string): Promise<void> {
    this.faults.step(`put ${key}`);
    await this.inner.put(key, body);
  }

  async putStream(key: string, body: Readable): Promise<void> {
    try {
      this.faults.step(`putStream ${key}`);
    } catch (error) {
      body.destroy();
      throw error;
    }
    await this.inner.putStream(key, body);
  }

  async createIfAbsent(key: string, body: Uint8Array | string): Promise<boolean> {
    this.faults.step(`createIfAbsent ${key}`);
    return this.inner.createIfAbsent(key, body);
  }

  async replace(key: string, body: Uint8Array | string): Promise<void> {
    this.faults.step(`replace ${key}`);
    await this.inner.replace(key, body);
  }

  async copy(from: string, to: string): Promise<void> {
    this.faults.step(`copy ${from} -> ${to}`);
    await this.inner.copy(from, to);
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    this.faults.assertAlive(`list ${prefix}`);
    for await (const info of this.inner.list(prefix)) {
      this.faults.assertAlive(`list ${prefix}`);
      yield info;
    }
  }

  async delete(key: string): Promise<void> {
    this.faults.step(`delete ${key}`);
    await this.inner.delete(key);
  }

  locationOf(keyOrPrefix: string): string {
    // Pure: computes a path, touches nothing.
    return this.inner.locationOf(keyOrPrefix);
  }

  async prepareWrite(prefix: string): Promise<string> {
    this.faults.step(`prepareWrite ${prefix}`);
    return this.inner.prepareWrite(prefix);
  }
}

/** Whether a statement writes files (`COPY ... TO ...`). */
export function isCopyStatement(sql: SqlFragment): boolean {
  return /^\s*COPY\b/i.test(sql.text);
}

/**
 * A query engine whose `COPY` statements are numbered (and can crash) by the
 * same `FaultInjector` as the store, so a pipeline's steps are numbered in the
 * order they happen across both ports.
 */
export class FaultyQueryEngine implements QueryEngine {
  readonly kind: string;

  constructor(
    private readonly inner: QueryEngine,
    private readonly faults: FaultInjector,
  ) {
    this.kind = inner.kind;
  }

  async stream(request: QueryRequest): Promise<QueryCursor> {
    this.announce(request);
    return this.inner.stream(request);
  }

  async query(request: QueryRequest): Promise<QueryResult> {
    this.announce(request);
    return this.inner.query(request);
  }

  async execute(request: QueryRequest): Promise<QueryStats> {
    this.announce(request);
    return this.inner.execute(request);
  }

  martRelation(ref: MartVersionRef): SqlFragment {
    return this.inner.martRelation(ref);
  }

  /** Always passes through: the test harness must be able to clean up after a crash. */
  async close(): Promise<void> {
    await this.inner.close();
  }

  private announce(request: QueryRequest): void {
    const label = request.label ?? 'statement';
    if (isCopyStatement(request.sql)) this.faults.step(`copy ${label}`);
    else this.faults.assertAlive(`query ${label}`);
  }
}

/** Wrap a store and an engine with one shared injector. */
export function withFaults(
  store: ObjectStore,
  engine: QueryEngine,
  faults: FaultInjector,
): { store: FaultyObjectStore; engine: FaultyQueryEngine } {
  return { store: new FaultyObjectStore(store, faults), engine: new FaultyQueryEngine(engine, faults) };
}
