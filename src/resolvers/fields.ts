import type { FieldNode, FragmentDefinitionNode, GraphQLResolveInfo, SelectionSetNode } from 'graphql';

/**
 * The field names selected under `path` (e.g. `['nodes']` or `['edges','node']`)
 * of the current field, following fragments and inline fragments, so that the
 * engine reads only the columns asked for.
 */
export function selectedFields(info: GraphQLResolveInfo, path: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const node of info.fieldNodes) walk(node.selectionSet, path, info.fragments, out);
  return out;
}

/** Whether a direct child field (e.g. `totalCount`) is selected. */
export function isSelected(info: GraphQLResolveInfo, field: string): boolean {
  const out = new Set<string>();
  for (const node of info.fieldNodes) walk(node.selectionSet, [], info.fragments, out);
  return out.has(field);
}

function walk(
  set: SelectionSetNode | undefined,
  path: readonly string[],
  fragments: Record<string, FragmentDefinitionNode>,
  out: Set<string>,
): void {
  if (!set) return;
  for (const selection of set.selections) {
    if (selection.kind === 'Field') {
      const field = selection as FieldNode;
      if (path.length === 0) out.add(field.name.value);
      else if (field.name.value === path[0]) walk(field.selectionSet, path.slice(1), fragments, out);
    } else if (selection.kind === 'InlineFragment') {
      walk(selection.selectionSet, path, fragments, out);
    } else {
      walk(fragments[selection.name.value]?.selectionSet, path, fragments, out);
    }
  }
}
