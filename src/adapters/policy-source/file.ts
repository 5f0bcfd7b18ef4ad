import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { type Document, isMap, isPair, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import { validatePolicy } from '../../auth/policy/compile.js';
import { digestOf } from '../../auth/policy/digest.js';
import type { PolicyLocation, PolicyProblem } from '../../auth/policy/errors.js';
import { type PolicyDocument, policyDocumentSchema } from '../../auth/policy/model.js';
import type { MartDef } from '../../catalog/types.js';
import { PolicyInvalidError, PolicyUnreadableError } from './errors.js';
import type { PolicySnapshot, PolicySource } from './port.js';

/** A policy file is small; anything bigger is a mistake (or an attack on the parser). */
const MAX_POLICY_BYTES = 1024 * 1024;

export interface FilePolicySourceOptions {
  /** The YAML file (absolute, or relative to the working directory). */
  readonly file: string;
  /** The catalog the policy is checked against, so problems point at their line. */
  readonly marts: readonly MartDef[];
  /** Claims row rules may name (default: the verifier's). */
  readonly claims?: readonly string[];
  /** How the file is named in messages (default: relative to the working directory). */
  readonly displayName?: string;
}

/**
 * Parse and check a policy YAML text: every problem (YAML syntax, schema,
 * catalog fit) names the file, the line and column, and the document path.
 */
export function parsePolicyYaml(
  text: string,
  marts: readonly MartDef[],
  displayName: string,
  claims?: readonly string[],
): PolicyDocument {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const at = (offset: number): PolicyLocation => {
    const { line, col } = lineCounter.linePos(offset);
    return { file: displayName, line, column: col };
  };
  if (doc.errors.length > 0) {
    throw new PolicyInvalidError(
      doc.errors.map((e) => ({
        path: [],
        message: `YAML: ${firstLine(e.message)}`,
        location: at(e.pos[0]),
      })),
    );
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 50 });
  } catch (error) {
    throw new PolicyInvalidError(
      [{ path: [], message: `YAML: ${firstLine((error as Error).message)}`, location: at(0) }],
      { cause: error },
    );
  }
  const schema = policyDocumentSchema.safeParse(value);
  if (!schema.success) {
    throw new PolicyInvalidError(
      schema.error.issues.map((issue) => {
        const issuePath = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p));
        // An unknown key is best shown where the key is written.
        const key = issue.code === 'unrecognized_keys' ? issue.keys[0] : undefined;
        const located = locate(doc, issuePath, key);
        return {
          path: key === undefined ? issuePath : [...issuePath, key],
          message: issue.message,
          location: at(located),
        };
      }),
    );
  }
  const problems = validatePolicy(schema.data, marts, claims ? { claims } : {});
  if (problems.length > 0) {
    throw new PolicyInvalidError(
      problems.map((p): PolicyProblem => ({ ...p, location: at(locate(doc, p.path)) })),
    );
  }
  return schema.data;
}

/**
 * The policy file source of the embedded home: the file is read and checked
 * once, on first load, and serves for the life of the process (restart to reload).
 */
export class FilePolicySource implements PolicySource {
  readonly kind = 'file';
  readonly ttlMs = Number.POSITIVE_INFINITY;
  private loaded: Promise<PolicySnapshot> | undefined;
  private readonly displayName: string;

  constructor(private readonly options: FilePolicySourceOptions) {
    this.displayName = options.displayName ?? (path.relative(process.cwd(), options.file) || options.file);
  }

  /** Read, parse and check the file (once); throws POLICY_UNREADABLE or POLICY_INVALID. */
  load(): Promise<PolicySnapshot> {
    this.loaded ??= this.read().catch((error: unknown) => {
      // A failed load is not cached: the next call reads the file again.
      this.loaded = undefined;
      throw error;
    });
    return this.loaded;
  }

  private async read(): Promise<PolicySnapshot> {
    let text: string;
    try {
      const bytes = await readFile(this.options.file);
      if (bytes.length > MAX_POLICY_BYTES)
        throw new PolicyUnreadableError(`${this.displayName}: larger than ${MAX_POLICY_BYTES} bytes`);
      text = bytes.toString('utf8');
    } catch (error) {
      if (error instanceof PolicyUnreadableError) throw error;
      const code = (error as { code?: string }).code ?? 'unknown error';
      throw new PolicyUnreadableError(`${this.displayName}: cannot be read (${code})`, { cause: error });
    }
    const document = parsePolicyYaml(text, this.options.marts, this.displayName, this.options.claims);
    return {
      document,
      digest: digestOf(document),
      origin: this.displayName,
      warnings: [],
      loadedAt: Date.now(),
    };
  }

  /** Nothing to release. */
  async close(): Promise<void> {}
}

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message;
}

/**
 * The offset of the node at `issuePath` (or of the key `key` under it); when
 * the path runs out (a missing property), the deepest node that exists.
 */
function locate(doc: Document, issuePath: readonly (string | number)[], key?: string): number {
  let node: unknown = doc.contents;
  let offset = rangeStart(node) ?? 0;
  const segments = key === undefined ? issuePath : [...issuePath, key];
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i];
    const last = i === segments.length - 1;
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === segment);
      if (!pair) return offset;
      // Point at the key for a key problem, and at the value otherwise (unless it is empty).
      const keyOffset = rangeStart(pair.key);
      if (last && key !== undefined) return keyOffset ?? offset;
      node = pair.value;
      offset = rangeStart(node) ?? keyOffset ?? offset;
    } else if (isSeq(node) && typeof segment === 'number') {
      node = node.items[segment];
      offset = rangeStart(node) ?? offset;
    } else return offset;
  }
  return offset;
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as Node | null | undefined)?.range;
  return range ? range[0] : undefined;
}
