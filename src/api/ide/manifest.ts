import { z } from 'zod';

/**
 * What an IDE build wrote, and the only files the server will ever serve from
 * its folder: names are content-hashed, so the server may cache them forever.
 */

/** The manifest's file name inside the build folder. */
export const IDE_MANIFEST_FILE = 'manifest.json';

// A hashed file name with no path in it: the manifest itself must not widen what is served.
const fileName = z.string().regex(/^[A-Za-z0-9._-]+-[A-Z0-9]{8}\.(js|css)$/);

export const IdeManifestSchema = z.object({
  version: z.literal(1),
  entry: z.object({ js: fileName, css: fileName }),
  workers: z.object({ editor: fileName, json: fileName, graphql: fileName }),
  files: z.record(fileName, z.object({ bytes: z.number().int().nonnegative() })),
});

/** A parsed build manifest. */
export type IdeManifest = z.infer<typeof IdeManifestSchema>;

/** Content type of a served IDE file, from its extension (the manifest allows `.js` and `.css` only). */
export function ideContentType(name: string): string {
  return name.endsWith('.css') ? 'text/css; charset=utf-8' : 'text/javascript; charset=utf-8';
}
