import { GraphQLError } from 'graphql';

/** Codes callers may see. Anything else becomes INTERNAL. */
export const PUBLIC_CODES: Readonly<Record<string, string>> = {
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  NOT_FOUND: 'NOT_FOUND',
  FORBIDDEN: 'FORBIDDEN',
  QUERY_TOO_COMPLEX: 'QUERY_TOO_COMPLEX',
  MART_UNAVAILABLE: 'MART_UNAVAILABLE',
  ENGINE_TIMEOUT: 'ENGINE_TIMEOUT',
  ENGINE_BUSY: 'ENGINE_BUSY',
  ENGINE_ABORTED: 'ENGINE_ABORTED',
  // graphql-js / Apollo request errors are safe to show as they are.
  GRAPHQL_PARSE_FAILED: 'GRAPHQL_PARSE_FAILED',
  GRAPHQL_VALIDATION_FAILED: 'GRAPHQL_VALIDATION_FAILED',
  BAD_REQUEST: 'BAD_REQUEST',
  PERSISTED_QUERY_NOT_FOUND: 'PERSISTED_QUERY_NOT_FOUND',
  PERSISTED_QUERY_NOT_SUPPORTED: 'PERSISTED_QUERY_NOT_SUPPORTED',
  OPERATION_RESOLUTION_FAILURE: 'OPERATION_RESOLUTION_FAILURE',
};

/** HTTP status for codes that are not plain GraphQL errors. */
export const HTTP_STATUS: Readonly<Record<string, number>> = {
  UNAUTHENTICATED: 401,
  ENGINE_BUSY: 503,
  ENGINE_TIMEOUT: 504,
};

/** The one 401 answer: the same text whatever was wrong with the token. */
export function unauthenticated(): GraphQLError {
  return new GraphQLError('Unauthorized', {
    extensions: {
      code: 'UNAUTHENTICATED',
      http: { status: 401, headers: new Map([['www-authenticate', 'Bearer']]) },
    },
  });
}
