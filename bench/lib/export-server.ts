import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Gateway } from '../../src/api/gateway.js';
import { createHttpServer } from '../../src/api/http.js';
import { isRestPath, routeRest } from '../../src/api/rest.js';
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
const gateway = runtime.gateway;
const probe = await gateway.handle({
  method: 'GET',
  path: '/v1/openapi.json',
  search: '',
  headers: {},
  body: undefined,
});
// Until the gateway routes /v1 itself, add the same branch around it (the transport stays the real one).
const served: Gateway =
  probe.status === 200
    ? gateway
    : {
        ...gateway,
        handle: (request) =>
          isRestPath(request.path)
            ? routeRest(request, gateway.context, randomUUID(), logger)
            : gateway.handle(request),
      };
const server = createHttpServer(served, logger);
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(
    `listening ${(server.address() as AddressInfo).port} ${probe.status === 200 ? 'gateway' : 'rest-branch'}\n`,
  );
});
process.once('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  void runtime.close().finally(() => process.exit(0));
});
