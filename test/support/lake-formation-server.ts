import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LakeFormationClient } from '@aws-sdk/client-lakeformation';

/**
 * A Lake Formation stand-in speaking the protocol the SDK speaks for this
 * service (AWS REST-JSON: `POST /ListDataCellsFilter` with a JSON body, errors
 * as a status plus `x-amzn-errortype`). It serves the three operations the
 * policy source calls, with pagination by `NextToken` at a page size of its
 * own (small, so every test crosses pages), and a switch to fail requests.
 * Payloads follow the documented response shapes field for field.
 */

export interface LfDataCellsFilter {
  TableCatalogId: string;
  DatabaseName: string;
  TableName: string;
  Name: string;
  RowFilter?: { FilterExpression?: string; AllRowsWildcard?: Record<string, never> };
  ColumnNames?: string[];
  ColumnWildcard?: { ExcludedColumnNames?: string[] };
  VersionId?: string;
}

export interface LfColumnTags {
  Name: string;
  LFTags: Array<{ CatalogId: string; TagKey: string; TagValues: string[] }>;
}

export interface LfPrincipalPermission {
  Principal: { DataLakePrincipalIdentifier: string };
  Resource: Record<string, unknown>;
  Permissions: string[];
  PermissionsWithGrantOption: string[];
  Condition?: { Expression: string };
}

export interface LfState {
  filters: LfDataCellsFilter[];
  /** Glue table name -> its column LF-tags; a table absent here answers EntityNotFoundException. */
  columnTags: Record<string, LfColumnTags[]>;
  permissions: LfPrincipalPermission[];
  /** The error every request answers with while set (e.g. `AccessDeniedException`, `InternalServiceException`). */
  failWith?: string | undefined;
}

export interface LfRequestRecord {
  readonly operation: string;
  readonly body: Record<string, unknown>;
  readonly signed: boolean;
}

export interface LakeFormationServer {
  readonly endpoint: string;
  readonly state: LfState;
  readonly requests: LfRequestRecord[];
  /** An SDK client pointed at this server (fake credentials, one attempt). */
  client(): LakeFormationClient;
  close(): Promise<void>;
}

export const ACCOUNT = '123456789012';
const PAGE_SIZE = 2;

/** Start the stand-in on 127.0.0.1 (a free port). */
export async function startLakeFormationServer(initial: Partial<LfState> = {}): Promise<LakeFormationServer> {
  const state: LfState = { filters: [], columnTags: {}, permissions: [], ...initial };
  const requests: LfRequestRecord[] = [];
  const clients: LakeFormationClient[] = [];

  const server: Server = createServer((req, res) => {
    void handle(req, res).catch((error: unknown) => {
      send(res, 500, { message: String(error) }, 'InternalServiceException');
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const body = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
    const operation = (req.url ?? '').replace(/^\//, '').split('?')[0] ?? '';
    const signed = /^AWS4-HMAC-SHA256 Credential=/.test(req.headers.authorization ?? '');
    requests.push({ operation, body, signed });
    if (req.method !== 'POST')
      return send(res, 405, { message: 'method not allowed' }, 'InvalidInputException');
    if (state.failWith) {
      const status = state.failWith === 'AccessDeniedException' ? 403 : 500;
      return send(res, status, { message: 'injected failure' }, state.failWith);
    }
    switch (operation) {
      case 'ListDataCellsFilter': {
        const table = body.Table as { DatabaseName?: string; Name?: string } | undefined;
        const all = state.filters.filter(
          (f) =>
            (table?.DatabaseName === undefined || f.DatabaseName === table.DatabaseName) &&
            (table?.Name === undefined || f.TableName === table.Name),
        );
        const { items, next } = page(all, body);
        return send(res, 200, { DataCellsFilters: items, ...(next ? { NextToken: next } : {}) });
      }
      case 'ListPermissions': {
        const principal = (body.Principal as { DataLakePrincipalIdentifier?: string } | undefined)
          ?.DataLakePrincipalIdentifier;
        const all = state.permissions.filter(
          (p) => principal === undefined || p.Principal.DataLakePrincipalIdentifier === principal,
        );
        const { items, next } = page(all, body);
        return send(res, 200, { PrincipalResourcePermissions: items, ...(next ? { NextToken: next } : {}) });
      }
      case 'GetResourceLFTags': {
        const table = (body.Resource as { Table?: { Name?: string } } | undefined)?.Table?.Name;
        const tags = table === undefined ? undefined : state.columnTags[table];
        if (!tags) return send(res, 400, { Message: `Table ${table} not found.` }, 'EntityNotFoundException');
        return send(res, 200, { LFTagsOnTable: [], LFTagsOnColumns: tags });
      }
      default:
        return send(res, 400, { message: `unknown operation ${operation}` }, 'InvalidInputException');
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    endpoint,
    state,
    requests,
    client() {
      const client = new LakeFormationClient({
        endpoint,
        region: 'eu-west-1',
        credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret' },
        maxAttempts: 1,
      });
      clients.push(client);
      return client;
    },
    async close() {
      for (const c of clients) c.destroy();
      await new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}

function page<T>(all: readonly T[], body: Record<string, unknown>): { items: T[]; next: string | undefined } {
  const start =
    typeof body.NextToken === 'string' ? Number(Buffer.from(body.NextToken, 'base64').toString()) : 0;
  const size = Math.min(PAGE_SIZE, typeof body.MaxResults === 'number' ? body.MaxResults : PAGE_SIZE);
  const end = start + size;
  return {
    items: all.slice(start, end),
    next: end < all.length ? Buffer.from(String(end)).toString('base64') : undefined,
  };
}

function send(res: ServerResponse, status: number, body: unknown, errorType?: string): void {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'x-amzn-requestid': `req-${Math.random().toString(36).slice(2)}`,
  };
  if (errorType) headers['x-amzn-errortype'] = errorType;
  res.writeHead(status, headers);
  res.end(JSON.stringify(body));
}

/** A filter as `ListDataCellsFilter` returns it for the Gold database. */
export function lfFilter(
  table: string,
  name: string,
  rows: { expression: string } | 'all',
  columns: { names: string[] } | { excluding: string[] },
): LfDataCellsFilter {
  return {
    TableCatalogId: ACCOUNT,
    DatabaseName: 'goldgate_gold',
    TableName: table,
    Name: name,
    RowFilter: rows === 'all' ? { AllRowsWildcard: {} } : { FilterExpression: rows.expression },
    ...('names' in columns
      ? { ColumnNames: columns.names }
      : { ColumnWildcard: { ExcludedColumnNames: columns.excluding } }),
    VersionId: '1',
  };
}

/** Column LF-tags as `GetResourceLFTags` returns them. */
export function lfColumnTags(tags: Record<string, Record<string, string>>): LfColumnTags[] {
  return Object.entries(tags).map(([column, pairs]) => ({
    Name: column,
    LFTags: Object.entries(pairs).map(([key, value]) => ({
      CatalogId: ACCOUNT,
      TagKey: key,
      TagValues: [value],
    })),
  }));
}
