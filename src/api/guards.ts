import type { ApolloServerPlugin } from '@apollo/server';
import {
  type FragmentDefinitionNode,
  GraphQLError,
  type GraphQLNamedType,
  type GraphQLSchema,
  getNamedType,
  isObjectType,
  Kind,
  type SelectionSetNode,
  valueFromAST,
} from 'graphql';

/** Guard failures all carry this code. */
export const QUERY_TOO_COMPLEX = 'QUERY_TOO_COMPLEX';

/**
 * The rows an operation may ask for, before any engine query runs: every field
 * with a `first` argument multiplies the rows of its parent by its `first`
 * (or the argument's default), so `customers(first: 500) { invoices(first: 500) }`
 * costs 250,500 and is refused, whatever aliases or fragments spell it.
 * graphql-armor's own cost rule ignores `first`, which is what drives cost here.
 */
export function estimatedRows(
  schema: GraphQLSchema,
  set: SelectionSetNode,
  parent: GraphQLNamedType,
  fragments: Readonly<Record<string, FragmentDefinitionNode>>,
  variables: Readonly<Record<string, unknown>>,
  multiplier = 1,
  seen: ReadonlySet<string> = new Set(),
): number {
  let total = 0;
  for (const selection of set.selections) {
    if (selection.kind === Kind.FRAGMENT_SPREAD) {
      const name = selection.name.value;
      const fragment = fragments[name];
      // A cycle is invalid GraphQL anyway; validation reports it.
      if (!fragment || seen.has(name)) continue;
      const on = schema.getType(fragment.typeCondition.name.value) ?? parent;
      total += estimatedRows(
        schema,
        fragment.selectionSet,
        on,
        fragments,
        variables,
        multiplier,
        new Set([...seen, name]),
      );
      continue;
    }
    if (selection.kind === Kind.INLINE_FRAGMENT) {
      const on = selection.typeCondition
        ? (schema.getType(selection.typeCondition.name.value) ?? parent)
        : parent;
      total += estimatedRows(schema, selection.selectionSet, on, fragments, variables, multiplier, seen);
      continue;
    }
    if (!isObjectType(parent)) continue;
    const def = parent.getFields()[selection.name.value];
    if (!def) continue;
    let rows = multiplier;
    const firstArg = def.args.find((a) => a.name === 'first');
    if (firstArg) {
      const given = selection.arguments?.find((a) => a.name.value === 'first');
      const value = given ? valueFromAST(given.value, firstArg.type, variables) : firstArg.defaultValue;
      const first = typeof value === 'number' && value > 0 ? value : 1;
      rows = multiplier * first;
      total += rows;
    }
    if (selection.selectionSet) {
      total += estimatedRows(
        schema,
        selection.selectionSet,
        getNamedType(def.type),
        fragments,
        variables,
        rows,
        seen,
      );
    }
  }
  return total;
}

/** Refuses operations asking for more rows than `maxRows` (see `estimatedRows`) before they run. */
export function rowBudgetPlugin<T extends object>(maxRows: number): ApolloServerPlugin<T> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation(ctx) {
          const fragments: Record<string, FragmentDefinitionNode> = {};
          for (const d of ctx.document.definitions)
            if (d.kind === Kind.FRAGMENT_DEFINITION) fragments[d.name.value] = d;
          const root = ctx.schema.getQueryType();
          if (!root || !ctx.operation) return;
          const rows = estimatedRows(
            ctx.schema,
            ctx.operation.selectionSet,
            root,
            fragments,
            ctx.request.variables ?? {},
          );
          if (rows > maxRows) {
            throw new GraphQLError(
              `Query too complex: it may return ${rows} rows, more than ${maxRows}; lower \`first\` or split it`,
              { extensions: { code: QUERY_TOO_COMPLEX, http: { status: 400 } } },
            );
          }
        },
      };
    },
  };
}

/** graphql-armor's rejections (depth, aliases, tokens, directives), recognised by their messages. */
export function isArmorRejection(message: string): boolean {
  return /(depth limit|Aliases limit|Token limit|Directives limit|Cost limit)/i.test(message);
}
