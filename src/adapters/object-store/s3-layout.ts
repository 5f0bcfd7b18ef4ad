import { z } from 'zod';
import { InvalidKeyError, ObjectStoreError } from './errors.js';
import { isValidKey } from './port.js';

/**
 * Where each object key lives on S3: which bucket, and under which key
 * prefix. This module has no AWS SDK dependency, so configuration can parse
 * and validate a layout without loading the client.
 *
 * Keys are never rewritten: `bronze/zoho_books/...` is stored as
 * `{prefix}bronze/zoho_books/...` in whichever bucket holds the Bronze layer,
 * so a layer's root is `s3://bucket/{prefix}` exactly as the Athena flavour
 * expects (`src/transform/athena/config.ts`), and the same key strings exist
 * on disk and on S3.
 */

/** The lake layers that production keeps in a bucket each (`lake.md`, "Two homes, one layout"). */
export const LAKE_LAYERS = ['bronze', 'silver', 'gold', 'quarantine'] as const;
/** One of {@link LAKE_LAYERS}. */
export type LakeLayer = (typeof LAKE_LAYERS)[number];

// S3's rules for new buckets (no dots: virtual-hosted TLS breaks on them, and no IP-like names).
const BUCKET = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;

/** A bucket name goldgate accepts. */
export const bucketNameSchema = z.string().regex(BUCKET, 'not an S3 bucket name (3-63 of a-z, 0-9, -)');

/** A key prefix: empty, or valid key segments; stored with one trailing `/`. */
export const keyPrefixSchema = z
  .string()
  .transform((value) => value.replace(/^\/+|\/+$/g, ''))
  .refine(
    (value) => value === '' || isValidKey(value),
    'not a valid key prefix (segments of A-Z a-z 0-9 _ = - .)',
  )
  .transform((value) => (value === '' ? '' : `${value}/`));

/** `layer=value,...` (e.g. `bronze=my-bronze,silver=my-silver`): one value per lake layer, each checked by `value`. */
export function layerMapSchema(value: z.ZodType<string, string>) {
  return z
    .string()
    .transform((text) =>
      text
        .split(',')
        .map((pair) => pair.trim())
        .filter((pair) => pair !== '')
        .map((pair) => {
          const eq = pair.indexOf('=');
          return eq < 0 ? [pair, ''] : [pair.slice(0, eq).trim(), pair.slice(eq + 1).trim()];
        }),
    )
    .pipe(z.array(z.tuple([z.enum(LAKE_LAYERS), value])))
    .refine((pairs) => new Set(pairs.map(([layer]) => layer)).size === pairs.length, 'a layer is named twice')
    .transform((pairs): Partial<Record<LakeLayer, string>> => Object.fromEntries(pairs));
}

/** `bronze=my-bronze,silver=my-silver`: the bucket of each layer that has its own. */
export const layerBucketsSchema = layerMapSchema(bucketNameSchema);

/** How keys map to buckets. */
export interface S3Layout {
  /** The bucket of every key whose layer has no bucket of its own (`_locks/`, `_checkpoints/`, ...). */
  readonly bucket: string;
  /** Prepended to every key in every bucket: `''` or `segments/`. */
  readonly prefix?: string;
  /** A bucket per layer, chosen by the key's first segment. */
  readonly layerBuckets?: Partial<Record<LakeLayer, string>>;
}

/** Where one key (or prefix) is stored. */
export interface S3Location {
  readonly bucket: string;
  /** The full S3 key: layout prefix + goldgate key. */
  readonly s3Key: string;
}

const layoutSchema = z.object({
  bucket: bucketNameSchema,
  prefix: keyPrefixSchema.default(''),
  layerBuckets: z.partialRecord(z.enum(LAKE_LAYERS), bucketNameSchema).default({}),
});

/** A validated layout that routes keys to buckets. */
export class S3Router {
  readonly bucket: string;
  readonly prefix: string;
  private readonly layerBuckets: ReadonlyMap<string, string>;

  constructor(layout: S3Layout) {
    const result = layoutSchema.safeParse(layout);
    if (!result.success) throw new ObjectStoreError('invalid S3 layout', { cause: result.error });
    const parsed = result.data;
    this.bucket = parsed.bucket;
    this.prefix = parsed.prefix;
    this.layerBuckets = new Map(Object.entries(parsed.layerBuckets).filter(([, b]) => b !== undefined));
  }

  /** The bucket that holds `key` (a key or a prefix with a complete first segment). */
  bucketOf(key: string): string {
    const slash = key.indexOf('/');
    const first = slash < 0 ? key : key.slice(0, slash);
    return this.layerBuckets.get(first) ?? this.bucket;
  }

  /** Where a validated key lives. */
  locate(key: string): S3Location {
    if (!isValidKey(key)) throw new InvalidKeyError(key);
    return { bucket: this.bucketOf(key), s3Key: `${this.prefix}${key}` };
  }

  /**
   * Every bucket that can hold a key starting with `prefix`. A prefix with a
   * `/` names its first segment, so one bucket; a shorter one (`''`, `b`,
   * `bronze`) may match keys of several layers.
   */
  bucketsFor(prefix: string): string[] {
    if (prefix.includes('/')) return [this.bucketOf(prefix)];
    const buckets = new Set([this.bucket]);
    for (const [layer, bucket] of this.layerBuckets) if (layer.startsWith(prefix)) buckets.add(bucket);
    return [...buckets].sort();
  }

  /** The goldgate key of an S3 key listed from `bucket`, or `undefined` when it is not one of ours there. */
  keyOf(bucket: string, s3Key: string): string | undefined {
    if (!s3Key.startsWith(this.prefix)) return undefined;
    const key = s3Key.slice(this.prefix.length);
    // A key is in the store only in the bucket it routes to: a stray copy elsewhere is not listed.
    if (!isValidKey(key) || this.bucketOf(key) !== bucket) return undefined;
    return key;
  }
}
