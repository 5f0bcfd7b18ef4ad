import { asCatalog, type Catalog } from '../catalog/index.js';
import type { ApiType, ColumnDef, MartDef } from '../catalog/types.js';
import {
  AGGREGATE_FUNCTIONS,
  type AggregateFunction,
  type FilterOp,
  isMeasureColumn,
  MAX_GROUPS,
  MAX_IN_VALUES,
  operatorsFor,
} from '../query/builder.js';
import { DEFAULT_GROUPS, DEFAULT_PAGE_SIZE, MEDIA_TYPES, ROW_FORMATS } from './rest-params.js';

/**
 * The OpenAPI 3.1 document of the REST API, generated from the mart catalog:
 * one rows path and one aggregate path per mart, with a query parameter per
 * column and operator, and response schemas built from the column
 * declarations. It describes the whole catalog's shape (never data); what a
 * caller may actually read is narrower and listed by `GET /v1/marts`.
 */

/** A JSON Schema (2020-12, as OpenAPI 3.1 uses it) or any other document node. */
export type JsonObject = { [key: string]: JsonValue };
export type JsonValue = string | number | boolean | null | JsonValue[] | JsonObject;

const ref = (name: string): JsonObject => ({ $ref: `#/components/schemas/${name}` });
const responseRef = (name: string): JsonObject => ({ $ref: `#/components/responses/${name}` });
const paramRef = (name: string): JsonObject => ({ $ref: `#/components/parameters/${name}` });

const DECIMAL_PATTERN = '^-?\\d{1,16}(\\.\\d{1,6})?$';

/** The JSON Schema of one value of an API type (as a filter value and in rows). */
function typeSchema(api: ApiType): JsonObject {
  switch (api) {
    case 'ID':
      return { type: 'string', description: 'An id (a string: ids exceed 2^53).' };
    case 'String':
      return { type: 'string' };
    case 'Int':
      return { type: 'integer', format: 'int64' };
    case 'Float':
      return { type: 'number', format: 'double' };
    case 'Boolean':
      return { type: 'boolean' };
    case 'Decimal':
      return { type: 'string', pattern: DECIMAL_PATTERN, description: 'An exact decimal as a string.' };
    case 'Date':
      return { type: 'string', format: 'date' };
    case 'DateTime':
      return { type: 'string', format: 'date-time' };
  }
}

function columnDescription(c: ColumnDef): string {
  const values = c.values ? ` One of: ${c.values.join(', ')}.` : '';
  const pii = c.pii
    ? ` PII (${c.pii}): depending on your policy it is shown in clear, partially masked, as a keyed hash, or null; a masked column cannot be filtered, sorted or measured.`
    : '';
  return `${c.description}${values}${pii}`;
}

/** A column's schema inside a row: nullable when the column is, or when masking may null it. */
function columnSchema(c: ColumnDef): JsonObject {
  const base = typeSchema(c.apiType);
  const out: JsonObject = { ...base, description: columnDescription(c) };
  // Masking may null a PII column (redact) or change its text: its schema is a nullable string.
  const nullable = c.nullable || c.pii !== undefined;
  if (nullable) out.type = [base.type as string, 'null'];
  if (c.values && !c.pii) out.enum = [...c.values, ...(c.nullable ? [null] : [])];
  if (c.pii) out['x-pii'] = c.pii;
  return out;
}

function schemaName(mart: MartDef, suffix: string): string {
  return `${mart.api.typeName}${suffix}`;
}

const OP_TEXT: Record<FilterOp, string> = {
  eq: 'equal to',
  ne: 'not equal to (nulls included)',
  in: `one of these comma-separated values (1 to ${MAX_IN_VALUES}; %2C is a comma inside a value)`,
  lt: 'less than',
  lte: 'at most',
  gt: 'greater than',
  gte: 'at least',
  isNull: 'true: only nulls; false: no nulls',
  contains: 'contains this text (case-sensitive)',
  startsWith: 'starts with this text (case-sensitive)',
};

/** The query parameters filtering one column: `col` (eq) and `col[op]` for each operator of its type. */
export function filterParameters(c: ColumnDef, reserved: readonly string[]): JsonObject[] {
  const out: JsonObject[] = [];
  const value = typeSchema(c.apiType);
  for (const op of operatorsFor(c.apiType)) {
    const schema: JsonObject =
      op === 'in'
        ? { type: 'array', items: value, minItems: 1, maxItems: MAX_IN_VALUES }
        : op === 'isNull'
          ? { type: 'boolean' }
          : op === 'contains' || op === 'startsWith'
            ? { type: 'string' }
            : value;
    const param = (name: string): JsonObject => ({
      name,
      in: 'query',
      required: false,
      description: `Rows whose ${c.name} is ${OP_TEXT[op]}.${c.pii ? ' Refused when the column is masked for you.' : ''}`,
      schema,
      ...(op === 'in' ? { style: 'form', explode: false } : {}),
    });
    // The bare name is the short form of [eq], unless it is a reserved parameter.
    if (op === 'eq' && !reserved.includes(c.name)) out.push(param(c.name));
    out.push(param(`${c.name}[${op}]`));
  }
  return out;
}

/** Measures a column takes: every function on numbers, min and max on dates. */
function measuresOf(c: ColumnDef): AggregateFunction[] {
  if (isMeasureColumn(c)) return [...AGGREGATE_FUNCTIONS];
  if (c.apiType === 'Date' || c.apiType === 'DateTime') return ['min', 'max'];
  return [];
}

/** The JSON Schema of a measure's value: sums of decimals and averages of decimals stay exact strings. */
function measureSchema(c: ColumnDef, fn: AggregateFunction): JsonObject {
  if (fn === 'avg') return c.apiType === 'Decimal' ? typeSchema('Decimal') : typeSchema('Float');
  return typeSchema(c.apiType);
}

function rowsPath(mart: MartDef, reserved: readonly string[]): JsonObject {
  const columns = mart.columns.map((c) => c.name);
  const rowSchema = ref(schemaName(mart, 'Row'));
  return {
    get: {
      operationId: `list_${mart.name}`,
      tags: [mart.name],
      summary: `Rows of ${mart.name}`,
      description: `${mart.description}\n\nJSON answers are pages, in key order (${mart.key.join(', ')}) unless sorted; the key breaks ties, so pages never repeat or skip a row. \`Accept: application/x-ndjson\` or \`text/csv\` (or \`format\`) streams every matching row instead: in the \`sort\` order when one is given, else in no promised order.`,
      parameters: [
        ...mart.columns.flatMap((c) => filterParameters(c, reserved)),
        {
          name: 'sort',
          in: 'query',
          required: false,
          description:
            'Up to 4 fields; a leading minus sorts descending. Nulls sort last either way; the key (ascending) breaks ties.',
          schema: {
            type: 'array',
            maxItems: 4,
            items: { type: 'string', enum: columns.flatMap((n) => [n, `-${n}`]) },
          },
          style: 'form',
          explode: false,
        },
        {
          name: 'fields',
          in: 'query',
          required: false,
          description:
            'The fields to return (the key always comes along). Default: every field you may read.',
          schema: { type: 'array', minItems: 1, items: { type: 'string', enum: columns } },
          style: 'form',
          explode: false,
        },
        paramRef('Limit'),
        paramRef('Cursor'),
        paramRef('Count'),
        paramRef('Format'),
      ],
      responses: {
        '200': {
          description:
            'A page (JSON), or every matching row streamed (NDJSON, CSV). A stream that fails after its first byte ends with an error line instead of a row.',
          headers: { 'x-gold-version': { $ref: '#/components/headers/GoldVersion' } },
          content: {
            'application/json': { schema: ref(schemaName(mart, 'Page')) },
            'application/x-ndjson': {
              schema: rowSchema,
              description: 'One JSON row per line; a last line {"error":{...}} means the export failed.',
            },
            'text/csv': {
              schema: { type: 'string' },
              description:
                'RFC 4180 with a header row; null is an empty field, "" an empty string; text cells starting with = + - @ tab or CR are prefixed with a single quote; a last line #error,<CODE>,<message> means the export failed.',
            },
          },
        },
        ...errorResponses(),
      },
    },
  };
}

function aggregatePath(mart: MartDef, reserved: readonly string[]): JsonObject {
  const dimensions = mart.columns.filter((c) => !isMeasureColumn(c)).map((c) => c.name);
  const measures = mart.columns.flatMap((c) => measuresOf(c).map((fn) => `${fn}:${c.name}`));
  return {
    get: {
      operationId: `aggregate_${mart.name}`,
      tags: [mart.name],
      summary: `Aggregates of ${mart.name}`,
      description:
        'Groups of rows with their count and measures, under the same filters as the rows path. Groups smaller than your policy allows are left out.',
      parameters: [
        ...mart.columns.flatMap((c) => filterParameters(c, reserved)),
        {
          name: 'groupBy',
          in: 'query',
          required: false,
          description: 'Up to 4 dimensions; none gives one group of every matching row.',
          schema: { type: 'array', maxItems: 4, items: { type: 'string', enum: dimensions } },
          style: 'form',
          explode: false,
        },
        {
          name: 'measures',
          in: 'query',
          required: false,
          description: '`<function>:<field>` items; each comes back under its function, by field.',
          schema: { type: 'array', items: { type: 'string', enum: measures } },
          style: 'form',
          explode: false,
        },
        {
          name: 'limit',
          in: 'query',
          required: false,
          description: `Groups to return, in dimension order (default ${DEFAULT_GROUPS}).`,
          schema: { type: 'integer', minimum: 1, maximum: MAX_GROUPS, default: DEFAULT_GROUPS },
        },
      ],
      responses: {
        '200': {
          description: 'The groups, in dimension order.',
          headers: { 'x-gold-version': { $ref: '#/components/headers/GoldVersion' } },
          content: { 'application/json': { schema: ref(schemaName(mart, 'Aggregate')) } },
        },
        ...errorResponses(),
      },
    },
  };
}

/**
 * One path for every served schema version of a mart: the default version's
 * operation, with `schema_v` to pick another, the other versions' filters, and
 * each answer's schema as a choice between the versions' shapes. `schema_v` is
 * documented for every mart, so callers can pin the version they read.
 */
function versioned(operations: readonly JsonObject[], versions: readonly MartDef[]): JsonObject {
  const [first] = operations;
  if (!first) throw new TypeError('a mart without a served version');
  const get = (op: JsonObject): JsonObject => op.get as JsonObject;
  const parameters: JsonObject[] = [];
  const named = new Set<JsonValue>();
  for (const op of operations) {
    for (const p of get(op).parameters as JsonObject[]) {
      // Shared parameters are references: they have no name of their own.
      const id = p.name ?? p.$ref ?? null;
      if (!named.has(id)) parameters.push(p);
      named.add(id);
    }
  }
  const notes = versions
    .filter((v) => v.api.deprecation)
    .map((v) => ` v${v.schemaVersion}: ${v.api.deprecation}.`)
    .join('');
  parameters.push({
    name: 'schema_v',
    in: 'query',
    required: false,
    description: `The schema version to read (default ${versions[0]?.schemaVersion}, the oldest served); pin it to be safe from breaking changes.${notes}`,
    schema: { type: 'integer', enum: versions.map((v) => v.schemaVersion) },
  });
  const okOf = (op: JsonObject): JsonObject =>
    ((get(op).responses as JsonObject)['200'] as JsonObject).content as JsonObject;
  const content: JsonObject = {};
  for (const [type, media] of Object.entries(okOf(first))) {
    const schemas = operations.map((op) => (okOf(op)[type] as JsonObject).schema ?? null);
    const distinct = [...new Map(schemas.map((s) => [JSON.stringify(s), s])).values()];
    content[type] = {
      ...(media as JsonObject),
      schema: distinct.length === 1 ? (distinct[0] ?? null) : { oneOf: distinct },
    };
  }
  const responses = get(first).responses as JsonObject;
  return {
    get: {
      ...get(first),
      parameters,
      responses: { ...responses, '200': { ...(responses['200'] as JsonObject), content } },
    },
  };
}

function errorResponses(): JsonObject {
  return {
    '400': responseRef('BadRequest'),
    '401': responseRef('Unauthorized'),
    '403': responseRef('Forbidden'),
    '404': responseRef('NotFound'),
    '503': responseRef('Unavailable'),
    '504': responseRef('Timeout'),
    default: responseRef('Error'),
  };
}

function martSchemas(mart: MartDef): Record<string, JsonObject> {
  const row: JsonObject = {
    type: 'object',
    description: `${mart.description} (mart ${mart.name}, schema v${mart.schemaVersion}). Only the fields you may read, or those asked with \`fields\`, are present.`,
    properties: Object.fromEntries(mart.columns.map((c) => [c.name, columnSchema(c)])),
    additionalProperties: false,
  };
  const page: JsonObject = {
    type: 'object',
    required: ['data', 'page', 'links'],
    properties: {
      data: { type: 'array', items: ref(schemaName(mart, 'Row')) },
      page: ref('PageInfo'),
      links: ref('PageLinks'),
    },
  };
  const dims = mart.columns.filter((c) => !isMeasureColumn(c));
  const byFunction = Object.fromEntries(
    AGGREGATE_FUNCTIONS.map((fn) => {
      const columns = mart.columns.filter((c) => measuresOf(c).includes(fn));
      return [
        fn,
        {
          type: 'object',
          description: `${fn} per measured field.`,
          properties: Object.fromEntries(columns.map((c) => [c.name, measureSchema(c, fn)])),
          additionalProperties: false,
        },
      ];
    }),
  );
  const aggregate: JsonObject = {
    type: 'object',
    required: ['groups'],
    properties: {
      groups: {
        type: 'array',
        items: {
          type: 'object',
          required: ['key', 'count'],
          properties: {
            key: {
              type: 'object',
              description: 'The group-by fields and their values.',
              properties: Object.fromEntries(dims.map((c) => [c.name, columnSchema(c)])),
              additionalProperties: false,
            },
            count: { type: 'integer', description: 'Rows in the group.' },
            ...byFunction,
          },
        },
      },
    },
  };
  return {
    [schemaName(mart, 'Row')]: row,
    [schemaName(mart, 'Page')]: page,
    [schemaName(mart, 'Aggregate')]: aggregate,
  };
}

const errorResponse = (description: string): JsonObject => ({
  description,
  content: { 'application/json': { schema: ref('Error') } },
});

/**
 * Build the OpenAPI 3.1 document for `marts`; `reserved` are the rows path's
 * own parameter names, `errorCodes` the codes an error answer may carry.
 */
export function buildOpenApi(
  source: Catalog | readonly MartDef[],
  reserved: readonly string[],
  errorCodes: readonly string[],
): JsonObject {
  const catalog = asCatalog(source);
  const marts = catalog.marts;
  const paths: JsonObject = {
    '/v1/openapi.json': {
      get: {
        operationId: 'openapi',
        summary: 'This document',
        security: [],
        responses: { '200': { description: 'The OpenAPI document.', content: { 'application/json': {} } } },
      },
    },
    '/v1/marts': {
      get: {
        operationId: 'list_marts',
        summary: 'The marts you may read',
        description:
          'The catalog as your policy sees it: only marts you are granted, with the fields you may read and how they are shown.',
        responses: {
          '200': {
            description: 'The marts you may read.',
            content: { 'application/json': { schema: ref('Catalog') } },
          },
          ...errorResponses(),
        },
      },
    },
  };
  const schemas: Record<string, JsonObject> = {
    Error: {
      type: 'object',
      required: ['error'],
      properties: {
        error: {
          type: 'object',
          required: ['code', 'message'],
          properties: {
            code: { type: 'string', enum: [...errorCodes] },
            message: { type: 'string' },
          },
        },
      },
    },
    PageInfo: {
      type: 'object',
      required: ['next_cursor', 'has_more'],
      properties: {
        next_cursor: { type: ['string', 'null'], description: 'Pass as `cursor` for the next page.' },
        has_more: { type: 'boolean' },
        total: { type: 'integer', description: 'Rows matching the filter; only with `count=true`.' },
      },
    },
    PageLinks: {
      type: 'object',
      required: ['self', 'next'],
      properties: {
        self: { type: 'string' },
        next: { type: ['string', 'null'], description: 'The next page, with the same parameters.' },
      },
    },
    Catalog: {
      type: 'object',
      required: ['marts'],
      properties: { marts: { type: 'array', items: ref('MartInfo') } },
    },
    MartInfo: {
      type: 'object',
      required: [
        'name',
        'description',
        'schema_version',
        'key',
        'columns',
        'relations',
        'detail',
        'aggregates',
        'deprecation',
        'freshness',
      ],
      properties: {
        name: { type: 'string' },
        description: { type: 'string' },
        schema_version: { type: 'integer' },
        deprecation: {
          type: ['string', 'null'],
          description: 'Set on an earlier schema version kept for old callers: what changed and until when.',
        },
        freshness: ref('Freshness'),
        key: { type: 'array', items: { type: 'string' } },
        columns: { type: 'array', items: ref('ColumnInfo') },
        relations: { type: 'array', items: ref('RelationInfo') },
        detail: { type: 'boolean', description: 'Whether you may read rows (false: aggregates only).' },
        aggregates: {
          type: 'object',
          required: ['allowed', 'min_group_size'],
          properties: { allowed: { type: 'boolean' }, min_group_size: { type: 'integer' } },
        },
        links: { type: 'object', additionalProperties: { type: 'string' } },
      },
    },
    Freshness: {
      type: 'object',
      description: 'How fresh the served version is (read when the catalog is asked; never cached).',
      required: ['served', 'newest_source_change', 'sla'],
      properties: {
        served: {
          type: ['object', 'null'],
          description: 'The Gold run served now; null before the first publish.',
          required: [
            'run_id',
            'published_at',
            'built_at',
            'ready_at',
            'row_count',
            'rolled_back_from',
            'failed_checks',
          ],
          properties: {
            run_id: { type: 'string' },
            published_at: { type: 'string', format: 'date-time' },
            built_at: { type: 'string', format: 'date-time' },
            ready_at: { type: 'string', format: 'date-time' },
            row_count: { type: 'integer' },
            rolled_back_from: { type: ['string', 'null'] },
            failed_checks: { type: 'array', items: { type: 'string' } },
          },
        },
        newest_source_change: {
          type: 'array',
          description: 'Per source, the newest source_ts the served version includes, newest first.',
          items: {
            type: 'object',
            required: ['source', 'at'],
            properties: { source: { type: 'string' }, at: { type: 'string', format: 'date-time' } },
          },
        },
        sla: {
          type: 'object',
          required: ['kind', 'description', 'state', 'reasons', 'evaluated_at'],
          properties: {
            kind: { type: 'string', enum: ['deadline', 'max_age'] },
            description: { type: 'string' },
            state: { type: 'string', enum: ['on_time', 'late', 'breached', 'unknown'] },
            reasons: { type: 'array', items: { type: 'string' } },
            evaluated_at: { type: 'string', format: 'date-time' },
            due_at: { type: ['string', 'null'] },
            delivered_at: { type: ['string', 'null'] },
            age_seconds: { type: ['integer', 'null'] },
            breached_since: { type: ['string', 'null'] },
          },
        },
      },
    },
    ColumnInfo: {
      type: 'object',
      required: ['name', 'type', 'nullable', 'description', 'pii', 'masked', 'operators'],
      properties: {
        name: { type: 'string' },
        type: {
          type: 'string',
          enum: ['ID', 'String', 'Int', 'Float', 'Boolean', 'Decimal', 'Date', 'DateTime'],
        },
        nullable: { type: 'boolean' },
        description: { type: 'string' },
        values: { type: 'array', items: { type: 'string' } },
        pii: { type: ['string', 'null'] },
        masked: { type: 'boolean' },
        mask: { type: 'string', enum: ['partial', 'hash', 'redact'] },
        operators: { type: 'array', items: { type: 'string' }, description: 'Filter operators you may use.' },
      },
    },
    RelationInfo: {
      type: 'object',
      required: ['field', 'target', 'on', 'cardinality', 'description'],
      properties: {
        field: { type: 'string' },
        target: { type: 'string' },
        on: { type: 'array', items: { type: 'array', items: { type: 'string' }, minItems: 2, maxItems: 2 } },
        cardinality: { type: 'string', enum: ['one', 'many'] },
        description: { type: 'string' },
      },
    },
  };
  for (const mart of marts) {
    const versions = catalog.versions(mart.name);
    paths[`/v1/marts/${mart.name}`] = versioned(
      versions.map((v) => rowsPath(v, reserved)),
      versions,
    );
    paths[`/v1/marts/${mart.name}/aggregate`] = versioned(
      versions.map((v) => aggregatePath(v, reserved)),
      versions,
    );
    for (const v of versions) Object.assign(schemas, martSchemas(v));
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'goldgate REST API',
      version: '1',
      description:
        'Governed read access to the Gold marts. Every path but this document needs `Authorization: Bearer <JWT>`. Names are the catalog snake_case names; decimals are exact strings, ids are strings.',
    },
    jsonSchemaDialect: 'https://spec.openapis.org/oas/3.1/dialect/base',
    security: [{ bearerAuth: [] }],
    tags: marts.map((m) => ({ name: m.name, description: m.description })),
    paths,
    components: {
      securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      schemas,
      parameters: {
        Limit: {
          name: 'limit',
          in: 'query',
          required: false,
          description: `JSON: rows per page (default ${DEFAULT_PAGE_SIZE}, at most the configured maximum page size). Exports: stop after this many rows (default: every row).`,
          schema: { type: 'integer', minimum: 1 },
        },
        Cursor: {
          name: 'cursor',
          in: 'query',
          required: false,
          description: "Opaque: the previous page's next_cursor (JSON pages only, with the same sort).",
          schema: { type: 'string' },
        },
        Count: {
          name: 'count',
          in: 'query',
          required: false,
          description: 'true: add page.total (one more engine query). JSON pages only.',
          schema: { type: 'boolean', default: false },
        },
        Format: {
          name: 'format',
          in: 'query',
          required: false,
          description: `Overrides the Accept header: ${ROW_FORMATS.map((f) => `${f} (${MEDIA_TYPES[f][0]})`).join(', ')}.`,
          schema: { type: 'string', enum: [...ROW_FORMATS] },
        },
      },
      headers: {
        GoldVersion: {
          description: 'The Gold run the answer was read from.',
          schema: { type: 'string' },
        },
      },
      responses: {
        BadRequest: errorResponse('BAD_USER_INPUT (or QUERY_TOO_COMPLEX): the message names the parameter.'),
        Unauthorized: {
          ...errorResponse('UNAUTHENTICATED: no valid bearer token.'),
          headers: { 'www-authenticate': { schema: { type: 'string' } } },
        },
        Forbidden: errorResponse('FORBIDDEN: you may read aggregates of this mart, not its rows.'),
        NotFound: errorResponse('NOT_FOUND: no such mart for you (missing and not granted read the same).'),
        Unavailable: {
          ...errorResponse('ENGINE_BUSY (retry after Retry-After seconds) or MART_UNAVAILABLE.'),
          headers: { 'retry-after': { schema: { type: 'integer' } } },
        },
        Timeout: errorResponse('ENGINE_TIMEOUT: the query ran past its time limit.'),
        Error: errorResponse('Any other failure (INTERNAL).'),
      },
    },
  };
}
