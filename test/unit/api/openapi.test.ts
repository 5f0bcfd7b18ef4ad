import { describe, expect, it } from 'vitest';
import { buildOpenApi, type JsonObject, type JsonValue } from '../../../src/api/openapi.js';
import { handleRest, openApiDocument, REST_ERROR_CODES } from '../../../src/api/rest.js';
import { ROWS_PARAMS } from '../../../src/api/rest-params.js';
import { MARTS } from '../../../src/catalog/index.js';
import type { MartDef } from '../../../src/catalog/types.js';
import { operatorsFor } from '../../../src/query/builder.js';
import { logger } from '../../../src/runtime/logger.js';

/**
 * A structural check of the generated OpenAPI 3.1 document (no validator
 * package): the required fields of each object the document uses, every $ref
 * resolving, and the parameters matching the catalog.
 */

const doc = buildOpenApi(MARTS, ROWS_PARAMS, REST_ERROR_CODES);

const isObject = (v: JsonValue | undefined): v is JsonObject =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

function obj(v: JsonValue | undefined, where: string): JsonObject {
  if (!isObject(v)) throw new Error(`${where}: expected an object`);
  return v;
}

/** Every `$ref` in the document with where it was found. */
function refs(node: JsonValue, path = '#'): Array<{ ref: string; at: string }> {
  if (Array.isArray(node)) return node.flatMap((v, i) => refs(v, `${path}/${i}`));
  if (!isObject(node)) return [];
  const own = typeof node.$ref === 'string' ? [{ ref: node.$ref, at: path }] : [];
  return [...own, ...Object.entries(node).flatMap(([k, v]) => refs(v, `${path}/${k}`))];
}

/** Resolve a local JSON pointer (`#/a/b`), with ~0 and ~1 escapes. */
function resolve(ref: string): JsonValue | undefined {
  if (!ref.startsWith('#/')) return undefined;
  let node: JsonValue | undefined = doc;
  for (const raw of ref.slice(2).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    node = isObject(node) ? node[key] : Array.isArray(node) ? node[Number(key)] : undefined;
  }
  return node;
}

/** A parameter object, following a $ref to components. */
function parameter(p: JsonValue): JsonObject {
  const o = obj(p, 'parameter');
  return typeof o.$ref === 'string' ? obj(resolve(o.$ref), o.$ref) : o;
}

const operations = (): Array<{ path: string; method: string; op: JsonObject }> =>
  Object.entries(obj(doc.paths, 'paths')).flatMap(([path, item]) =>
    Object.entries(obj(item, path)).map(([method, op]) => ({
      path,
      method,
      op: obj(op, `${path} ${method}`),
    })),
  );

const JSON_SCHEMA_TYPES = new Set(['string', 'number', 'integer', 'boolean', 'object', 'array', 'null']);

/** Every `type` keyword inside schemas names JSON Schema types. */
function schemaTypes(node: JsonValue, inSchema = false): string[] {
  if (Array.isArray(node)) return node.flatMap((v) => schemaTypes(v, inSchema));
  if (!isObject(node)) return [];
  const bad: string[] = [];
  if (inSchema && 'type' in node) {
    const types = Array.isArray(node.type) ? node.type : [node.type];
    for (const t of types) if (typeof t !== 'string' || !JSON_SCHEMA_TYPES.has(t)) bad.push(String(t));
  }
  for (const [k, v] of Object.entries(node)) {
    const schemaish = inSchema || k === 'schema' || k === 'schemas';
    // `properties` maps names to schemas: a property may itself be named `type`.
    if (k === 'properties' && isObject(v)) {
      for (const sub of Object.values(v)) bad.push(...schemaTypes(sub, true));
    } else bad.push(...schemaTypes(v, schemaish));
  }
  return bad;
}

describe('the OpenAPI 3.1 document', () => {
  it('has the required top-level fields and a bearer JWT scheme applied by default', () => {
    expect(doc.openapi).toBe('3.1.0');
    const info = obj(doc.info, 'info');
    expect(typeof info.title).toBe('string');
    expect(typeof info.version).toBe('string');
    const schemes = obj(obj(doc.components, 'components').securitySchemes, 'securitySchemes');
    expect(schemes.bearerAuth).toEqual({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
    expect(doc.security).toEqual([{ bearerAuth: [] }]);
    // The document itself is public.
    expect(obj(obj(obj(doc.paths, 'paths')['/v1/openapi.json'], 'doc').get, 'get').security).toEqual([]);
  });

  it('the error schema lists every code an error answer may carry', () => {
    const error = obj(resolve('#/components/schemas/Error'), 'Error');
    const code = obj(obj(obj(obj(error.properties, 'p').error, 'e').properties, 'pp').code, 'code');
    expect(code.enum).toEqual([...REST_ERROR_CODES]);
    expect(REST_ERROR_CODES).toEqual(
      expect.arrayContaining([
        'UNAUTHENTICATED',
        'BAD_USER_INPUT',
        'FORBIDDEN',
        'NOT_FOUND',
        'ENGINE_BUSY',
        'INTERNAL',
      ]),
    );
  });

  it('every $ref resolves inside the document', () => {
    const all = refs(doc);
    expect(all.length).toBeGreaterThan(MARTS.length * 3);
    for (const { ref, at } of all) expect(resolve(ref), `${ref} at ${at}`).toBeDefined();
  });

  it('component names are valid and every schema type is a JSON Schema type', () => {
    const components = obj(doc.components, 'components');
    for (const group of Object.values(components)) {
      for (const name of Object.keys(obj(group, 'group'))) expect(name).toMatch(/^[a-zA-Z0-9._-]+$/);
    }
    expect(schemaTypes(doc)).toEqual([]);
    // The check can fail: a wrong type inside a schema is found.
    expect(schemaTypes({ schema: { type: 'object', properties: { type: { type: 'text' } } } })).toEqual([
      'text',
    ]);
  });

  it('every operation has a unique operationId, responses, and unique parameters with a schema', () => {
    const ids = new Set<string>();
    for (const { path, method, op } of operations()) {
      expect(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']).toContain(method);
      expect(typeof op.operationId, path).toBe('string');
      expect(ids.has(String(op.operationId)), String(op.operationId)).toBe(false);
      ids.add(String(op.operationId));
      const responses = obj(op.responses, `${path} responses`);
      expect(Object.keys(responses).length).toBeGreaterThan(0);
      for (const [code, response] of Object.entries(responses)) {
        expect(code).toMatch(/^([1-5]\d\d|[1-5]XX|default)$/);
        const r = obj(response, code);
        if (typeof r.$ref !== 'string') expect(typeof r.description, `${path} ${code}`).toBe('string');
      }
      const seen = new Set<string>();
      for (const p of (op.parameters ?? []) as JsonValue[]) {
        const param = parameter(p);
        expect(['query', 'header', 'path', 'cookie']).toContain(param.in);
        const id = `${param.in}:${param.name}`;
        expect(seen.has(id), `${path}: ${id} twice`).toBe(false);
        seen.add(id);
        expect(isObject(param.schema), `${path}: ${id} has a schema`).toBe(true);
        // Templated paths would need path parameters; every path here is concrete.
        expect(path).not.toContain('{');
      }
    }
  });

  it.each(MARTS.map((m) => [m.name, m] as const))(
    '%s: rows and aggregate paths match the catalog',
    (_n, mart: MartDef) => {
      const paths = obj(doc.paths, 'paths');
      const rows = obj(obj(paths[`/v1/marts/${mart.name}`], mart.name).get, 'get');
      const aggregate = obj(obj(paths[`/v1/marts/${mart.name}/aggregate`], mart.name).get, 'get');
      const names = ((rows.parameters ?? []) as JsonValue[]).map((p) => String(parameter(p).name));
      const want = mart.columns.flatMap((c) => [
        ...(ROWS_PARAMS.includes(c.name as (typeof ROWS_PARAMS)[number]) ? [] : [c.name]),
        ...operatorsFor(c.apiType).map((op) => `${c.name}[${op}]`),
      ]);
      expect(names.filter((n) => !ROWS_PARAMS.includes(n as (typeof ROWS_PARAMS)[number])).sort()).toEqual(
        want.sort(),
      );
      expect(names).toEqual(expect.arrayContaining([...ROWS_PARAMS]));
      for (const name of names) {
        const m = /^([a-z0-9_]+)(?:\[(\w+)\])?$/.exec(name);
        expect(m, name).not.toBeNull();
      }
      const aggNames = ((aggregate.parameters ?? []) as JsonValue[]).map((p) => String(parameter(p).name));
      expect(aggNames).toEqual(expect.arrayContaining(['groupBy', 'measures', 'limit', ...want]));
      // The row schema has exactly the catalog's columns, each described, PII marked.
      const schemas = obj(obj(doc.components, 'components').schemas, 'schemas');
      const row = obj(schemas[`${mart.api.typeName}Row`], 'row');
      const props = obj(row.properties, 'properties');
      expect(Object.keys(props)).toEqual(mart.columns.map((c) => c.name));
      for (const c of mart.columns) {
        const p = obj(props[c.name], c.name);
        expect(String(p.description)).toContain(c.description);
        expect(p['x-pii']).toBe(c.pii);
        expect(Array.isArray(p.type) && p.type.includes('null')).toBe(c.nullable || c.pii !== undefined);
      }
      const content = obj(obj(obj(rows.responses, 'r')['200'], '200').content, 'content');
      expect(Object.keys(content).sort()).toEqual(['application/json', 'application/x-ndjson', 'text/csv']);
    },
  );

  it('is served at /v1/openapi.json without a request context', async () => {
    const response = await handleRest(
      { method: 'GET', path: '/v1/openapi.json', search: '', headers: {}, body: undefined },
      undefined,
      { logger },
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('application/json');
    expect(JSON.parse(response.body as string)).toEqual(doc);
    expect(openApiDocument()).toBe(response.body);
  });
});
