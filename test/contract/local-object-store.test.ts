import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalObjectStore } from '../../src/adapters/object-store/local.js';
import { objectStoreContract } from './object-store.contract.js';

let dir: string | undefined;
objectStoreContract({
  name: 'local folder',
  async create() {
    dir = await mkdtemp(join(tmpdir(), 'goldgate-store-'));
    return new LocalObjectStore(dir);
  },
  // A second store over the same folder: the create race runs between two instances, as two processes would.
  createPeer: async () => new LocalObjectStore(dir as string),
  async dispose() {
    if (dir) await rm(dir, { recursive: true, force: true });
  },
});
