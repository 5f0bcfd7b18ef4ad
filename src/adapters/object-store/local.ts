import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InvalidKeyError, ObjectNotFoundError, ObjectStoreError } from './errors.js';
import { isValidKey, isValidPrefix, type ObjectInfo, type ObjectStore } from './port.js';

/**
 * The embedded object store: a folder on disk. Whole-object writes go to a
 * dot-named temporary beside the target and are renamed over it (atomic on
 * POSIX); conditional creates use `link()`, which fails if the target exists,
 * so the winner's object is complete the moment it becomes visible.
 */
export class LocalObjectStore implements ObjectStore {
  readonly kind = 'local';
  readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  locationOf(keyOrPrefix: string): string {
    if (!isValidPrefix(keyOrPrefix)) throw new InvalidKeyError(keyOrPrefix);
    // No trailing separator: callers append `/file` themselves.
    return path.join(this.root, keyOrPrefix).replace(/\/+$/, '');
  }

  async prepareWrite(prefix: string): Promise<string> {
    const location = this.locationOf(prefix);
    try {
      await fs.mkdir(location, { recursive: true });
    } catch (error) {
      throw new ObjectStoreError('write failed', { cause: error });
    }
    return location;
  }

  async get(key: string): Promise<Uint8Array> {
    const body = await this.getIfExists(key);
    if (body === undefined) throw new ObjectNotFoundError(key);
    return body;
  }

  async getIfExists(key: string): Promise<Uint8Array | undefined> {
    try {
      return await fs.readFile(this.pathOf(key));
    } catch (error) {
      if (isCode(error, 'ENOENT') || isCode(error, 'EISDIR')) return undefined;
      throw new ObjectStoreError('read failed', { cause: error });
    }
  }

  async getStream(key: string): Promise<Readable> {
    try {
      const handle = await fs.open(this.pathOf(key), 'r');
      if ((await handle.stat()).isDirectory()) {
        await handle.close();
        throw new ObjectNotFoundError(key);
      }
      return handle.createReadStream();
    } catch (error) {
      if (error instanceof ObjectNotFoundError) throw error;
      if (isCode(error, 'ENOENT')) throw new ObjectNotFoundError(key, { cause: error });
      throw new ObjectStoreError('read failed', { cause: error });
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const stat = await fs.stat(this.pathOf(key));
      if (!stat.isFile()) return undefined;
      return { key, size: stat.size, lastModified: stat.mtime };
    } catch (error) {
      if (isCode(error, 'ENOENT')) return undefined;
      throw new ObjectStoreError('stat failed', { cause: error });
    }
  }

  async put(key: string, body: Uint8Array | string): Promise<void> {
    const target = this.pathOf(key);
    const tmp = await this.writeTemp(target, body);
    await this.renameInto(tmp, target);
  }

  async putStream(key: string, body: Readable): Promise<void> {
    const target = this.pathOf(key);
    await this.mkdirFor(target);
    const tmp = tempBeside(target);
    try {
      await pipeline(body, createWriteStream(tmp, { flags: 'wx' }));
    } catch (error) {
      await fs.rm(tmp, { force: true });
      throw new ObjectStoreError('write failed', { cause: error });
    }
    await this.renameInto(tmp, target);
  }

  async createIfAbsent(key: string, body: Uint8Array | string): Promise<boolean> {
    const target = this.pathOf(key);
    const tmp = await this.writeTemp(target, body);
    try {
      await fs.link(tmp, target);
      return true;
    } catch (error) {
      if (isCode(error, 'EEXIST')) return false;
      throw new ObjectStoreError('conditional create failed', { cause: error });
    } finally {
      await fs.rm(tmp, { force: true });
    }
  }

  async replace(key: string, body: Uint8Array | string): Promise<void> {
    // rename(2) over the old file is already a one-step swap.
    await this.put(key, body);
  }

  /**
   * Hard-link `from` to a temporary beside `to` and rename it into place:
   * no bytes move, and `to` stays whole if `from` is later deleted or
   * overwritten (both `put` and `putStream` rename a new file over a name,
   * they never write into the old inode). Where links are refused
   * (cross-device, filesystems without them, link-count limits) the
   * temporary is a byte copy instead. Caveat of the link: anything writing
   * *in place* into one of the files (not through this store) changes both.
   */
  async copy(from: string, to: string): Promise<void> {
    const source = this.pathOf(from);
    const target = this.pathOf(to);
    // Checked first so a missing source creates nothing, not even `to`'s folder.
    const stat = await fs.stat(source).catch((error: unknown) => {
      if (isCode(error, 'ENOENT') || isCode(error, 'ENOTDIR')) return undefined;
      throw new ObjectStoreError('copy failed', { cause: error });
    });
    if (!stat?.isFile()) throw new ObjectNotFoundError(from);
    await this.mkdirFor(target);
    const tmp = tempBeside(target);
    try {
      try {
        await fs.link(source, tmp);
      } catch (error) {
        if (!LINK_REFUSED.some((code) => isCode(error, code))) throw error;
        await fs.copyFile(source, tmp, fs.constants.COPYFILE_EXCL);
        await syncFile(tmp); // as `put` does: a crash after the rename must not expose an unflushed copy
      }
    } catch (error) {
      await fs.rm(tmp, { force: true });
      // The source went away after the check above.
      if (isCode(error, 'ENOENT')) throw new ObjectNotFoundError(from, { cause: error });
      throw new ObjectStoreError('copy failed', { cause: error });
    }
    await this.renameInto(tmp, target);
    // rename(2) between two links of one file does nothing, so a repeated copy (or a copy onto
    // itself) would leave the temporary behind; after a real rename this finds nothing.
    await fs.rm(tmp, { force: true }).catch(() => undefined);
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    if (!isValidPrefix(prefix)) throw new InvalidKeyError(prefix);
    const slash = prefix.lastIndexOf('/');
    const baseKey = slash < 0 ? '' : prefix.slice(0, slash);
    const found: ObjectInfo[] = [];
    await this.walk(baseKey, found);
    const selected = found.filter((info) => info.key.startsWith(prefix));
    selected.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    yield* selected;
  }

  async delete(key: string): Promise<void> {
    try {
      await fs.rm(this.pathOf(key), { force: true });
    } catch (error) {
      throw new ObjectStoreError('delete failed', { cause: error });
    }
  }

  private async walk(dirKey: string, out: ObjectInfo[]): Promise<void> {
    const dir = dirKey === '' ? this.root : path.join(this.root, dirKey);
    let entries: import('node:fs').Dirent[];
    try {
      entries = await fs.readdir(dir, { withFileTypes: true });
    } catch (error) {
      if (isCode(error, 'ENOENT') || isCode(error, 'ENOTDIR')) return;
      throw new ObjectStoreError('list failed', { cause: error });
    }
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue; // temporaries, never keys
      const key = dirKey === '' ? entry.name : `${dirKey}/${entry.name}`;
      if (entry.isDirectory()) {
        await this.walk(key, out);
      } else if (entry.isFile()) {
        const stat = await fs.stat(path.join(dir, entry.name)).catch(() => undefined);
        if (stat) out.push({ key, size: stat.size, lastModified: stat.mtime });
      }
    }
  }

  private pathOf(key: string): string {
    if (!isValidKey(key)) throw new InvalidKeyError(key);
    return path.join(this.root, key);
  }

  private async mkdirFor(target: string): Promise<void> {
    try {
      await fs.mkdir(path.dirname(target), { recursive: true });
    } catch (error) {
      throw new ObjectStoreError('write failed', { cause: error });
    }
  }

  private async writeTemp(target: string, body: Uint8Array | string): Promise<string> {
    await this.mkdirFor(target);
    const tmp = tempBeside(target);
    try {
      const handle = await fs.open(tmp, 'wx');
      try {
        await handle.writeFile(body);
        await handle.sync();
      } finally {
        await handle.close();
      }
      return tmp;
    } catch (error) {
      await fs.rm(tmp, { force: true });
      throw new ObjectStoreError('write failed', { cause: error });
    }
  }

  private async renameInto(tmp: string, target: string): Promise<void> {
    try {
      await fs.rename(tmp, target);
    } catch (error) {
      await fs.rm(tmp, { force: true });
      throw new ObjectStoreError('write failed', { cause: error });
    }
  }
}

// link(2) errors that mean "no hard link here" (cross-device, unsupported, link-count limit), not a failure.
const LINK_REFUSED = ['EXDEV', 'EPERM', 'EMLINK', 'ENOTSUP', 'EOPNOTSUPP'];

async function syncFile(file: string): Promise<void> {
  const handle = await fs.open(file, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function tempBeside(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}.tmp-${randomBytes(6).toString('hex')}`);
}

function isCode(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === code;
}
