import type { Readable } from 'node:stream';

/** What a listing returns for each object. */
export interface ObjectInfo {
  readonly key: string;
  readonly size: number;
  readonly lastModified: Date;
}

/**
 * The object store port. Keys are `/`-separated, relative, and identical on
 * every adapter (a folder on disk, S3). There is deliberately no rename: S3 has
 * none, so nothing in goldgate may depend on one.
 *
 * Guarantees every adapter must give (checked by the contract suite):
 * - `put`/`putStream`: readers see the old object or the whole new one, never a prefix.
 * - `createIfAbsent`: exactly one of several concurrent callers wins; the rest get `false`.
 * - `replace`: a one-write swap of a small object (pointers such as `_LATEST.json`).
 * - `copy`: a server-side copy that is independent of its source afterwards.
 * - `list`: every key under the prefix, in ascending byte order, across pages.
 */
export interface ObjectStore {
  /** A short name for logs and metrics (`local`, `s3`). */
  readonly kind: string;
  /** Read a whole object; throws `ObjectNotFoundError` when absent. */
  get(key: string): Promise<Uint8Array>;
  /** Read an object, or `undefined` when absent. */
  getIfExists(key: string): Promise<Uint8Array | undefined>;
  /** Stream an object; throws `ObjectNotFoundError` when absent. */
  getStream(key: string): Promise<Readable>;
  /** Metadata of an object, or `undefined` when absent. */
  head(key: string): Promise<ObjectInfo | undefined>;
  /** Write (create or overwrite) a whole object. */
  put(key: string, body: Uint8Array | string): Promise<void>;
  /** Write an object from a stream of any size, in bounded memory. */
  putStream(key: string, body: Readable): Promise<void>;
  /** Create the object only if the key is free: `true` if this call created it. */
  createIfAbsent(key: string, body: Uint8Array | string): Promise<boolean>;
  /** Atomically replace a small object (creates it when absent). */
  replace(key: string, body: Uint8Array | string): Promise<void>;
  /** Every object whose key starts with `prefix`, ascending. */
  list(prefix: string): AsyncIterable<ObjectInfo>;
  /**
   * Copy the object at `from` to `to`, overwriting `to`, without its bytes
   * passing through the caller (a hard link or file copy on disk,
   * `CopyObject` on S3). Throws `ObjectNotFoundError` when `from` is absent,
   * and then creates nothing at `to`. Afterwards the two objects are
   * independent: deleting or overwriting either through the store never
   * changes the other. Readers of `to` see the old object or the whole copy,
   * never a prefix. Copying a key onto itself (or again onto an earlier
   * copy) is allowed and changes nothing. `to`'s `lastModified` is unspecified (a hard link keeps
   * `from`'s). Limit: on S3 one `CopyObject` takes at most 5 GiB; a larger
   * source fails with `ObjectTooLargeToCopyError` (multipart copy is not
   * implemented: Gold Parquet files are far smaller).
   */
  copy(from: string, to: string): Promise<void>;
  /** Delete an object; deleting an absent key is not an error. */
  delete(key: string): Promise<void>;
  /**
   * Where a query engine reads this key from (an absolute path for the local
   * store, `s3://bucket/key` on S3). Prefixes are accepted too.
   */
  locationOf(keyOrPrefix: string): string;
  /**
   * Make a prefix ready for a query engine to write objects into (a folder on
   * disk; nothing on S3) and return its location, as `locationOf` does.
   */
  prepareWrite(prefix: string): Promise<string>;
}

const SEGMENT = /^[A-Za-z0-9_=-][A-Za-z0-9_=.\-+@]*$/;

/**
 * Validate a key: non-empty `/`-separated segments, no `.`/`..`, no segment
 * starting with a dot (adapters keep their temporaries there), no odd bytes.
 */
export function isValidKey(key: string): boolean {
  if (key.length === 0 || key.length > 1024) return false;
  return key.split('/').every((segment) => SEGMENT.test(segment));
}

/** Validate a list prefix: a key, a key followed by `/`, or empty (everything). */
export function isValidPrefix(prefix: string): boolean {
  if (prefix === '') return true;
  const trimmed = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  return isValidKey(trimmed);
}

/** Read a whole stream into one buffer (for small objects and tests). */
export async function readAll(stream: Readable): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks);
}
