import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import type { S3ClientSettings } from '../../src/adapters/object-store/s3.js';

const run = promisify(execFile);
const RGW_SH = fileURLToPath(new URL('../../scripts/local-s3/rgw.sh', import.meta.url));

/** Enough for a first start on a machine that still has to install the Ceph packages. */
export const LOCAL_S3_START_TIMEOUT_MS = 300_000;

const envSchema = z.object({
  LOCAL_S3_DIR: z.string().min(1),
  S3_ENDPOINT: z.url(),
  S3_ACCESS_KEY_ID: z.string().min(1),
  S3_SECRET_ACCESS_KEY: z.string().min(1),
  S3_REGION: z.string().min(1),
});

/** A running throw-away RADOS Gateway (real S3 over HTTP on 127.0.0.1). */
export interface LocalS3 {
  readonly endpoint: string;
  /** Client settings for the S3 adapter (path style, checksums only where required: RGW 16 needs that). */
  readonly settings: S3ClientSettings;
  /** Milliseconds `rgw.sh start` took. */
  readonly startMs: number;
  /** A fresh client (another container, as far as the server can tell). */
  client(): S3Client;
  /** Create buckets (names must be unique per cluster). */
  createBuckets(...names: string[]): Promise<void>;
  /** Kill the daemons and delete the cluster's folder; safe to call twice. */
  stop(): Promise<void>;
}

/** A port nobody listens on right now (the kernel's pick, so parallel callers differ). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (typeof address === 'object' && address) resolve(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}

/**
 * Start a single-node Ceph cluster with RGW in its own temporary folder on
 * free ports (`scripts/local-s3/rgw.sh`). The cluster is tied to this process:
 * if it dies without calling `stop`, rgw.sh's watchdog destroys the cluster.
 */
export async function startLocalS3(): Promise<LocalS3> {
  let lastError: unknown;
  for (let attempt = 1; attempt <= 3; attempt++) {
    const dir = await mkdtemp(join(tmpdir(), 'goldgate-s3-'));
    const [port, monPort] = [await freePort(), await freePort()];
    const started = performance.now();
    try {
      const { stdout } = await run(
        'bash',
        [
          RGW_SH,
          'start',
          dir,
          '--port',
          String(port),
          '--mon-port',
          String(monPort),
          '--owner-pid',
          String(process.pid),
        ],
        { timeout: LOCAL_S3_START_TIMEOUT_MS, maxBuffer: 4 * 1024 * 1024 },
      );
      const startMs = Math.round(performance.now() - started);
      const env = envSchema.parse(
        Object.fromEntries(
          stdout
            .split('\n')
            .filter((line) => line.includes('='))
            .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
        ),
      );
      process.stderr.write(
        `[local-s3] RGW on ${env.S3_ENDPOINT} ready in ${(startMs / 1000).toFixed(1)} s\n`,
      );
      return handle(env, dir, startMs);
    } catch (error) {
      lastError = error;
      await destroy(dir);
      const stderr = String((error as { stderr?: unknown }).stderr ?? '');
      // Another process took a port between our pick and the daemon's bind: pick again.
      if (!/already in use/.test(stderr)) break;
    }
  }
  const stderr = String((lastError as { stderr?: unknown }).stderr ?? '');
  throw new Error(`local S3 (RGW) did not start:\n${stderr.split('\n').slice(-40).join('\n')}`, {
    cause: lastError,
  });
}

async function destroy(dir: string): Promise<void> {
  await run('bash', [RGW_SH, 'destroy', dir], { timeout: 60_000 }).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
}

function handle(env: z.infer<typeof envSchema>, dir: string, startMs: number): LocalS3 {
  const settings: S3ClientSettings = {
    endpoint: env.S3_ENDPOINT,
    region: env.S3_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: env.S3_ACCESS_KEY_ID, secretAccessKey: env.S3_SECRET_ACCESS_KEY },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  };
  const clients: S3Client[] = [];
  let stopped: Promise<void> | undefined;
  const client = (): S3Client => {
    const made = new S3Client({ ...settings, maxAttempts: 3 });
    clients.push(made);
    return made;
  };
  return {
    endpoint: env.S3_ENDPOINT,
    settings,
    startMs,
    client,
    async createBuckets(...names) {
      const admin = client();
      for (const Bucket of names) await admin.send(new CreateBucketCommand({ Bucket }));
    },
    stop() {
      stopped ??= (async () => {
        for (const made of clients) made.destroy();
        await destroy(dir);
      })();
      return stopped;
    },
  };
}
