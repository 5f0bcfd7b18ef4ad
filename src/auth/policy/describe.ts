import type { MartDef } from '../../catalog/types.js';
import type { MartAccess } from '../access.js';
import type { Principal } from '../principal.js';
import type { CompiledPolicy } from './compile.js';

/**
 * A Markdown table of what each role of a compiled policy reads, mart by mart
 * (docs/access.md embeds it; a test keeps the two equal). Claims are shown by
 * name: a caller is given placeholder values, and a second caller without
 * any claim tells rules that open every row when the claim is absent.
 */
export function describePolicyMarkdown(policy: CompiledPolicy, marts: readonly MartDef[]): string {
  const claims = ['regions', 'customer_ids'];
  const header = `| mart | ${policy.roles.map((r) => `\`${r}\``).join(' | ')} |`;
  const rule = `|---|${policy.roles.map(() => '---').join('|')}|`;
  const rows = marts.map((mart) => {
    const cells = policy.roles.map((role) => {
      const scoped: Principal = {
        subject: 'docs',
        roles: [role],
        scopes: Object.fromEntries(claims.map((c) => [c, [`\u2039${c}\u203a`]])),
      };
      const access = policy.accessFor(scoped, mart);
      if (!access) return '–';
      const bare = policy.accessFor({ subject: 'docs', roles: [role], scopes: {} }, mart);
      return describeCell(access, bare);
    });
    return `| \`${mart.name}\` | ${cells.join(' | ')} |`;
  });
  return [header, rule, ...rows].join('\n');
}

function describeCell(access: MartAccess, withoutClaims: MartAccess | undefined): string {
  const parts: string[] = [
    access.detail
      ? 'detail'
      : `aggregates only${access.aggregates.minGroupSize > 1 ? ` (groups ≥ ${access.aggregates.minGroupSize})` : ''}`,
  ];
  if (access.rows !== null) {
    const shown = (v: string): string => (v.startsWith('\u2039') ? `claim ${v.slice(1, -1)}` : `'${v}'`);
    const alternatives = access.rows.map((group) =>
      group.map((p) => `${p.column} ∈ ${p.values.map(shown).join(', ')}`).join(' and '),
    );
    parts.push(
      `${alternatives.join(' or ') || 'no row'}${withoutClaims?.rows === null ? ' (every row without the claim)' : ''}`,
    );
  }
  const hidden = access.mart.columns.filter((c) => !access.columns.has(c.name)).map((c) => c.name);
  if (hidden.length > 0) parts.push(`not ${hidden.join(', ')}`);
  const pii = access.mart.columns.filter((c) => c.pii && access.columns.has(c.name));
  if (pii.length > 0) {
    const kinds = new Set(pii.map((c) => access.masks.get(c.name) ?? 'clear'));
    parts.push(
      kinds.size === 1
        ? `PII ${[...kinds][0]}`
        : `PII ${pii.map((c) => `${c.name} ${access.masks.get(c.name) ?? 'clear'}`).join(', ')}`,
    );
  }
  return parts.join('; ');
}
