import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { LakeFormationClient } from '@aws-sdk/client-lakeformation';
import { FilePolicySource } from '../../adapters/policy-source/file.js';
import {
  LakeFormationPolicySource,
  loadLakeFormationMapping,
  type PolicySourceLog,
} from '../../adapters/policy-source/lake-formation.js';
import type { PolicySnapshot, PolicySource } from '../../adapters/policy-source/port.js';
import { MARTS } from '../../catalog/index.js';
import type { MartDef } from '../../catalog/types.js';
import { ConfigError } from '../../config/errors.js';
import type { Config } from '../../config/index.js';
import { readSsmParameter } from '../../config/ssm.js';
import { describeError } from '../../errors.js';
import { logger } from '../../runtime/logger.js';
import type { AccessPolicy } from '../access.js';
import { type CompiledPolicy, compilePolicy } from './compile.js';
import { MaskSecretError } from './errors.js';

export type { CompiledPolicy, CompileOptions } from './compile.js';
export { compilePolicy, validatePolicy } from './compile.js';
export { PolicyInvalidError } from './errors.js';

/** The shortest mask secret accepted (characters). */
const MIN_SECRET_LENGTH = 32;
/** How often the live policy asks a refreshing source for news, at most. */
const MAX_CHECK_INTERVAL_MS = 5_000;

/** What the runtime needs from the policy side: the decision, the masking secret, and a way to stop. */
export interface PolicyRuntime {
  /** Always answers from the latest good compiled policy (a refreshing source swaps it underneath). */
  readonly policy: AccessPolicy;
  /** The per-stage HMAC key of `hash` masking. Never log it. */
  readonly maskSecret: string;
  /** The compiled policy in force now (roles, digest). */
  current(): CompiledPolicy;
  close(): Promise<void>;
}

export interface CreatePolicyOptions {
  readonly marts?: readonly MartDef[];
  readonly log?: PolicySourceLog;
  /** A Lake Formation client to use instead of one built from the config (tests). */
  readonly lakeFormationClient?: LakeFormationClient;
  /** The clock (tests). */
  readonly now?: () => number;
}

/**
 * Build the configured policy source, load and compile the policy (a bad policy
 * fails start-up with every problem listed), and resolve the masking secret.
 */
export async function createPolicy(
  config: Config,
  options: CreatePolicyOptions = {},
): Promise<PolicyRuntime> {
  const marts = options.marts ?? MARTS;
  const log = options.log ?? logger;
  const now = options.now ?? Date.now;
  const maskSecret = await resolveMaskSecret(config);
  let ownClient: LakeFormationClient | undefined;
  let source: PolicySource;
  if (config.policy.source === 'file') {
    source = new FilePolicySource({ file: config.policy.file, marts });
  } else {
    const mappingFile = config.policy.lakeFormation.mappingFile;
    if (!mappingFile)
      throw new ConfigError(['GOLDGATE_LF_MAPPING_FILE: required when GOLDGATE_POLICY_SOURCE=lakeformation']);
    const mapping = await loadLakeFormationMapping(mappingFile);
    const endpoint = config.policy.lakeFormation.endpoint;
    const client =
      options.lakeFormationClient ?? new LakeFormationClient(endpoint !== undefined ? { endpoint } : {});
    if (!options.lakeFormationClient) ownClient = client;
    source = new LakeFormationPolicySource({
      client,
      mapping,
      marts,
      ttlMs: config.policy.lakeFormation.refreshMs,
      log,
      now,
    });
  }

  const first = await source.load();
  let compiled = compilePolicy(first.document, marts, { digest: first.digest });
  log.info('policy in force', { source: source.kind, origin: first.origin, digest: first.digest });
  let checkedAt = now();
  let checking = false;
  const checkEvery = Math.min(source.ttlMs, MAX_CHECK_INTERVAL_MS);

  const adopt = (snapshot: PolicySnapshot): void => {
    if (snapshot.digest === compiled.digest) return;
    try {
      compiled = compilePolicy(snapshot.document, marts, { digest: snapshot.digest });
      log.info('policy in force', { source: source.kind, origin: snapshot.origin, digest: snapshot.digest });
    } catch (error) {
      log.error('new policy does not compile; keeping the last good policy', {
        error: describeError(error),
        digest: compiled.digest,
      });
    }
  };
  // A refreshing source is asked for news at most every few seconds, never on the request's path.
  const poll = (): void => {
    if (checking || !Number.isFinite(checkEvery) || now() - checkedAt < checkEvery) return;
    checking = true;
    checkedAt = now();
    source
      .load()
      .then(adopt)
      .catch((error: unknown) => log.error('policy check failed', { error: describeError(error) }))
      .finally(() => {
        checking = false;
      });
  };

  const policy: AccessPolicy = {
    accessFor(principal, mart) {
      poll();
      return compiled.accessFor(principal, mart);
    },
    fingerprint(principal) {
      poll();
      return compiled.fingerprint(principal);
    },
  };

  return {
    policy,
    maskSecret,
    current: () => compiled,
    async close() {
      await source.close();
      ownClient?.destroy();
    },
  };
}

/**
 * The masking secret: `GOLDGATE_MASK_SECRET`, or the SSM parameter named by
 * `GOLDGATE_MASK_SECRET_PARAM` read through the Parameters and Secrets extension
 * (one of them is required on the aws home and in production); elsewhere one is
 * generated once into the state folder (mode 0600). `env` holds the extension's
 * settings (the Lambda runtime's `AWS_SESSION_TOKEN`, the extension's port).
 */
export async function resolveMaskSecret(
  config: Config,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  if (config.policy.maskSecret !== undefined) return config.policy.maskSecret;
  const param = config.policy.maskSecretParam;
  if (param !== undefined) {
    // The value is checked here, never echoed: errors name the parameter only.
    const secret = await readSsmParameter(param, env);
    if (secret.length < MIN_SECRET_LENGTH)
      throw new MaskSecretError(
        `the mask secret in ${param} holds fewer than ${MIN_SECRET_LENGTH} characters`,
      );
    return secret;
  }
  if (config.home === 'aws' || config.production)
    throw new ConfigError([
      'GOLDGATE_MASK_SECRET or GOLDGATE_MASK_SECRET_PARAM: one is required on the aws home and in production',
    ]);
  return ensureMaskSecret(config.stateDir);
}

/** Path of the generated mask secret of the embedded home. */
export function maskSecretPath(stateDir: string): string {
  return path.join(stateDir, 'mask-secret');
}

/** Read the embedded home's mask secret, creating it (32 random bytes, hex, mode 0600) on first use. */
export async function ensureMaskSecret(stateDir: string): Promise<string> {
  const file = maskSecretPath(stateDir);
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  await writeFile(file, randomBytes(32).toString('hex'), { mode: 0o600, flag: 'wx' }).catch((error) => {
    // Another process (or an earlier run) created it: use that one, so every process masks alike.
    if ((error as { code?: string }).code !== 'EEXIST') throw error;
  });
  await chmod(file, 0o600);
  const secret = (await readFile(file, 'utf8')).trim();
  if (secret.length < MIN_SECRET_LENGTH)
    throw new MaskSecretError(`the mask secret file holds fewer than ${MIN_SECRET_LENGTH} characters`);
  return secret;
}

/** A role as tooling shows it: its name and the claims its row rules read. */
export interface RoleSummary {
  readonly name: string;
  readonly claims: readonly string[];
}

/**
 * The roles the configured policy defines, without serving it: the policy
 * file (checked in full) or the Lake Formation mapping (read locally, no AWS call).
 */
export async function definedRoles(
  config: Config,
  marts: readonly MartDef[] = MARTS,
): Promise<{ origin: string; roles: RoleSummary[] }> {
  if (config.policy.source === 'file') {
    const snapshot = await new FilePolicySource({ file: config.policy.file, marts }).load();
    const compiled = compilePolicy(snapshot.document, marts, { digest: snapshot.digest });
    return {
      origin: snapshot.origin,
      roles: compiled.roles.map((name) => ({ name, claims: compiled.claimsOf(name) })),
    };
  }
  const file = config.policy.lakeFormation.mappingFile;
  if (!file)
    throw new ConfigError(['GOLDGATE_LF_MAPPING_FILE: required when GOLDGATE_POLICY_SOURCE=lakeformation']);
  const mapping = await loadLakeFormationMapping(file);
  return {
    origin: file,
    roles: Object.entries(mapping.roles)
      .map(([name, role]) => ({
        name,
        claims: [
          ...new Set([
            ...Object.values(role.claims ?? {}),
            ...role.filters.flatMap((f) => (typeof f === 'string' ? [] : Object.values(f.claims ?? {}))),
          ]),
        ].sort(),
      }))
      .sort((a, b) => (a.name < b.name ? -1 : 1)),
  };
}
