import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FilePolicySource } from '../../../src/adapters/policy-source/file.js';
import { compilePolicy } from '../../../src/auth/policy/compile.js';
import { describePolicyMarkdown } from '../../../src/auth/policy/describe.js';
import { MARTS } from '../../../src/catalog/index.js';

/** docs/access.md embeds the demo roles table generated from policies/demo.yaml; they must not drift. */

const DOC = fileURLToPath(new URL('../../../docs/access.md', import.meta.url));
const START = '<!-- demo-roles:start -->';
const END = '<!-- demo-roles:end -->';

describe('docs/access.md', () => {
  it('shows the demo roles table the policy compiles to (GOLDGATE_UPDATE_DOCS=1 rewrites it)', async () => {
    const snapshot = await new FilePolicySource({ file: 'policies/demo.yaml', marts: MARTS }).load();
    const table = describePolicyMarkdown(compilePolicy(snapshot.document, MARTS), MARTS);
    const text = await readFile(DOC, 'utf8');
    const start = text.indexOf(START);
    const end = text.indexOf(END);
    expect(start).toBeGreaterThan(0);
    expect(end).toBeGreaterThan(start);
    const expected = `${text.slice(0, start + START.length)}\n${table}\n${text.slice(end)}`;
    if (process.env.GOLDGATE_UPDATE_DOCS === '1' && expected !== text) await writeFile(DOC, expected);
    else expect(text).toBe(expected);
  });

  it('the table names every mart and every role of the demo policy', async () => {
    const snapshot = await new FilePolicySource({ file: 'policies/demo.yaml', marts: MARTS }).load();
    const table = describePolicyMarkdown(compilePolicy(snapshot.document, MARTS), MARTS);
    for (const mart of MARTS) expect(table).toContain(`| \`${mart.name}\` |`);
    for (const role of Object.keys(snapshot.document.roles))
      expect(table.split('\n')[0]).toContain(`\`${role}\``);
  });
});
