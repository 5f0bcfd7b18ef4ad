import type { AddressInfo } from 'node:net';
import { createHttpServer } from '../../src/api/http.js';
import { loadConfig } from '../../src/config/index.js';
import { createApiRuntime } from '../../src/runtime/app.js';
import { logger } from '../../src/runtime/logger.js';

/**
 * The API as `goldgate serve` composes it, in a process of its own so that its
 * memory can be measured alone (`/proc/<pid>/status`). Settings come from the
 * environment (GOLDGATE_LAKE_DIR, GOLDGATE_STATE_DIR, ...); prints
 * `listening <port>` when ready and exits on SIGTERM.
 */

const runtime = await createApiRuntime(loadConfig({ ...process.env, GOLDGATE_PORT: '0' }));
const server = createHttpServer(runtime.gateway, logger);
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
});
process.once('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  void runtime.close().finally(() => process.exit(0));
});
