import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LocalObjectStore } from '../../../src/adapters/object-store/local.js';

// Hard links are refused on some filesystems and across devices; this machine's /tmp takes them, so
// link(2) is made to fail the way those filesystems do. Everything else is the real filesystem.
const linkFailure = vi.hoisted(() => ({ code: undefined as string | undefined }));
vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  const link: typeof real.link = async (existing, created) => {
    if (linkFailure.code !== undefined) {
      throw Object.assign(new Error(`${linkFailure.code}: link refused`), { code: linkFailure.code });
    }
    return real.link(existing, created);
  };
  return { ...real, default: { ...real, link }, link };
});

const text = (body: Uint8Array): string => Buffer.from(body).toString('utf8');

describe('LocalObjectStore.copy where hard links are refused', () => {
  let dir: string;
  let store: LocalObjectStore;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'goldgate-copy-'));
    store = new LocalObjectStore(dir);
  });
  afterEach(async () => {
    linkFailure.code = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  for (const code of ['EXDEV', 'EPERM', 'EMLINK', 'ENOTSUP']) {
    it(`${code}: falls back to a byte copy that is independent of the source and leaves no temporary`, async () => {
      const bytes = new Uint8Array(100 * 1024).map((_, i) => i % 241);
      await store.put('gold/m/run_id=1/part-0.parquet', bytes);
      await store.put('gold/m/run_id=2/part-0.parquet', 'older target');
      linkFailure.code = code;
      await store.copy('gold/m/run_id=1/part-0.parquet', 'gold/m/run_id=2/part-0.parquet');
      const copied = await store.get('gold/m/run_id=2/part-0.parquet');
      expect(Buffer.compare(Buffer.from(copied), Buffer.from(bytes))).toBe(0);
      await store.put('gold/m/run_id=1/part-0.parquet', 'new source');
      await store.delete('gold/m/run_id=1/part-0.parquet');
      expect(
        Buffer.compare(Buffer.from(await store.get('gold/m/run_id=2/part-0.parquet')), Buffer.from(bytes)),
      ).toBe(0);
      expect(await readdir(join(dir, 'gold/m/run_id=2'))).toEqual(['part-0.parquet']);
    });
  }

  it('another link failure is OBJECT_STORE_ERROR, keeps the old target and leaves no temporary', async () => {
    await store.put('gold/m/a', 'source');
    await store.put('gold/m/b', 'old target');
    linkFailure.code = 'EACCES';
    const failure = await store.copy('gold/m/a', 'gold/m/b').then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failure).toMatchObject({ code: 'OBJECT_STORE_ERROR' });
    expect(String((failure as Error).message)).not.toContain(dir);
    expect(text(await store.get('gold/m/b'))).toBe('old target');
    expect((await readdir(join(dir, 'gold/m'))).sort()).toEqual(['a', 'b']);
  });

  it('a repeated copy and a copy onto itself leave no temporary (rename between links of one file is a no-op)', async () => {
    await store.put('gold/m/src', 'bytes');
    await store.copy('gold/m/src', 'gold/m/dst');
    await store.copy('gold/m/src', 'gold/m/dst');
    await store.copy('gold/m/src', 'gold/m/src');
    expect((await readdir(join(dir, 'gold/m'))).sort()).toEqual(['dst', 'src']);
    expect(text(await store.get('gold/m/dst'))).toBe('bytes');
  });

  it('a linked copy (links allowed) is as independent as the fallback', async () => {
    await store.put('gold/m/src', 'first');
    await store.copy('gold/m/src', 'gold/m/dst');
    await store.put('gold/m/src', 'second');
    expect(text(await store.get('gold/m/dst'))).toBe('first');
    expect((await readdir(join(dir, 'gold/m'))).sort()).toEqual(['dst', 'src']);
  });
});
