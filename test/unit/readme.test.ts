import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { buildSchema, parse, validate } from 'graphql';
import { describe, expect, it } from 'vitest';
import { MARTS } from '../../src/catalog/index.js';
import { buildTypeDefs } from '../../src/schema/sdl.js';

/**
 * README.md against the code it describes: the configuration table against
 * the env schema of src/config/index.ts, the command table against the CLI's
 * usage, the bench list against bench/, every quoted figure against
 * bench/results, the GraphQL examples against the generated schema, the
 * functions against serverless.yml, and every local link against the tree.
 */

const root = new URL('../../', import.meta.url);
const text = (path: string): string => readFileSync(new URL(path, root), 'utf8');
const readme = text('README.md');

/** The body of the `## title` section, up to the next `## ` heading. */
function section(title: string): string {
  const start = readme.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`README has no section "${title}"`);
  const end = readme.indexOf('\n## ', start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

/** The tables of a piece of markdown, each as rows of trimmed cells (header and rule left out). */
function tables(markdown: string): string[][][] {
  const out: string[][][] = [];
  let current: string[][] | undefined;
  for (const line of markdown.split('\n')) {
    if (!line.startsWith('|')) {
      current = undefined;
      continue;
    }
    const cells = line
      .slice(1, line.endsWith('|') ? -1 : undefined)
      .split(/(?<!\\)\|/)
      .map((c) => c.trim());
    if (!current) {
      current = [];
      out.push(current);
      continue; // the header row
    }
    if (cells.every((c) => /^:?-+:?$/.test(c))) continue;
    current.push(cells);
  }
  return out;
}

/** `name` in a cell written as `` `name` ``. */
const code = (cell: string | undefined): string | undefined => /^`([^`]+)`/.exec(cell ?? '')?.[1];

/** The keys of the env schema in src/config/index.ts, each with the literal of its `.default(...)` if any. */
function envSchemaDefaults(): Map<string, string | undefined> {
  const source = text('src/config/index.ts');
  const start = source.indexOf('const envSchema = z.object({');
  const end = source.indexOf('\n});', start);
  expect(start, 'envSchema in src/config/index.ts').toBeGreaterThan(0);
  const block = source.slice(start, end);
  const keys = [...block.matchAll(/^ {2}(GOLDGATE_[A-Z0-9_]+):/gm)];
  const out = new Map<string, string | undefined>();
  keys.forEach((match, i) => {
    const name = match[1] ?? '';
    const body = block.slice(match.index, keys[i + 1]?.index ?? block.length);
    out.set(name, defaultLiteral(body));
  });
  return out;
}

/** The value of `.default(<literal>)` as README writes it, or undefined when there is none. */
function defaultLiteral(body: string): string | undefined {
  const at = body.lastIndexOf('.default(');
  if (at < 0) return undefined;
  let depth = 0;
  let i = at + '.default'.length;
  const open = i;
  for (; i < body.length; i += 1) {
    if (body[i] === '(') depth += 1;
    else if (body[i] === ')' && --depth === 0) break;
  }
  const literal = body.slice(open + 1, i).trim();
  const quoted = /^'([^']*)'$/.exec(literal);
  if (quoted) return quoted[1];
  if (/^(true|false)$/.test(literal)) return literal;
  if (/^[\d_]+(\s*\*\s*[\d_]+)*$/.test(literal))
    return String(literal.split('*').reduce((product, n) => product * Number(n.replace(/_/g, '')), 1));
  throw new Error(`cannot read the default ${literal}`);
}

/** Every source file the variables may be read in. */
function sourceText(dir: string): string {
  let out = '';
  for (const entry of readdirSync(new URL(dir, root), { withFileTypes: true })) {
    const path = `${dir}${entry.name}`;
    if (entry.isDirectory()) out += sourceText(`${path}/`);
    else if (/\.(ts|mjs|js|sh)$/.test(entry.name)) out += text(path);
  }
  return out;
}

describe('README.md', () => {
  it('starts with the two commands', () => {
    expect(readme).toMatch(/^# goldgate\n\n```bash\nnpm ci && npm start +#[^\n]*\nnpm test +#[^\n]*\n```\n/);
  });

  describe('configuration table', () => {
    const rows = tables(section('Configuration'))[0] ?? [];
    const documented = new Map(rows.map((r) => [code(r[0]) ?? '', r[1] ?? '']));

    it('lists every setting of the env schema, with its default', () => {
      const schema = envSchemaDefaults();
      expect(schema.size).toBeGreaterThan(40);
      const missing = [...schema.keys()].filter((name) => !documented.has(name));
      expect(missing).toEqual([]);
      const wrong: string[] = [];
      for (const [name, value] of schema) {
        if (value === undefined) continue;
        const cell = documented.get(name) ?? '';
        if (!cell.includes(`\`${value === '' ? '""' : value}\``))
          wrong.push(`${name}: ${cell} (schema: ${value})`);
      }
      expect(wrong).toEqual([]);
    });

    it('lists only settings the code reads, once each', () => {
      const names = rows.map((r) => code(r[0]));
      expect(names.every((n) => n?.startsWith('GOLDGATE_'))).toBe(true);
      expect(new Set(names).size).toBe(names.length);
      const source = sourceText('src/') + sourceText('scripts/') + sourceText('bin/');
      expect(names.filter((n) => !source.includes(n ?? ''))).toEqual([]);
    });
  });

  it('describes every command and option of the CLI', () => {
    const main = text('src/cli/main.ts');
    const usage = main.slice(
      main.indexOf('const USAGE = `'),
      main.indexOf('`;', main.indexOf('const USAGE')),
    );
    const commands: string[] = [];
    for (const line of usage.split('\n')) {
      const m = /^ {2}(goldgate .*?)(?: {2,}|$)/.exec(line);
      if (!m?.[1]) continue;
      const [first, ...alternatives] = m[1].replace(/\[[^\]]*\]/g, '').split('|');
      const words = (first ?? '')
        .trim()
        .split(/\s+/)
        .filter((w) => /^[a-z]+$/.test(w));
      commands.push(words.join(' '));
      for (const alt of alternatives)
        commands.push([...words.slice(0, -1), alt.trim().split(/\s+/)[0]].join(' '));
    }
    expect(commands).toContain('goldgate quarantine release');
    const rows = tables(section('The `goldgate` command'))[0] ?? [];
    const described = rows.map((r) => code(r[0]) ?? '');
    expect(commands.filter((c) => !described.some((d) => d === c || d.startsWith(`${c} `)))).toEqual([]);
    const options = [...new Set(usage.match(/--[a-z][a-z-]*/g))];
    expect(options.length).toBeGreaterThan(10);
    expect(options.filter((o) => !readme.includes(o))).toEqual([]);
  });

  describe('benchmarks', () => {
    const [names = [], figures = []] = tables(section('Benchmarks'));

    it('lists every bench in bench/', () => {
      const benches = readdirSync(new URL('bench/', root))
        .filter((f) => f.endsWith('.bench.ts'))
        .map((f) => f.slice(0, -'.bench.ts'.length));
      expect(benches.length).toBeGreaterThan(0);
      const listed = names.map((r) => code(r[0]));
      expect(benches.filter((b) => !listed.includes(b))).toEqual([]);
    });

    it('quotes only figures saved in bench/results, as measured and rounded', () => {
      expect(figures.length).toBeGreaterThan(0);
      const wrong: string[] = [];
      for (const [bench, figure, value, , measured] of figures) {
        const file = `bench/results/${code(bench)}.json`;
        const saved = JSON.parse(text(file)) as {
          date: string;
          figures: Record<string, { value: number }>;
        };
        const actual = saved.figures[code(figure) ?? '']?.value;
        const written = /^-?\d+(\.(\d+))?/.exec(value ?? '');
        const decimals = written?.[2]?.length ?? 0;
        if (actual === undefined || !written || Number(written[0]) !== Number(actual.toFixed(decimals)))
          wrong.push(`${file} ${figure}: README ${value}, saved ${actual}`);
        if (measured !== saved.date.slice(0, 10))
          wrong.push(`${file}: measured ${measured}, saved ${saved.date}`);
      }
      expect(wrong).toEqual([]);
    });
  });

  it('shows GraphQL examples the generated schema accepts', () => {
    const schema = buildSchema(buildTypeDefs(MARTS));
    const examples = [...readme.matchAll(/```graphql\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
    expect(examples.length).toBeGreaterThan(0);
    for (const example of examples)
      expect(
        validate(schema, parse(example)).map((e) => e.message),
        example,
      ).toEqual([]);
  });

  it('names every function serverless.yml deploys', () => {
    const yml = text('serverless.yml');
    const block = yml.slice(yml.indexOf('\nfunctions:\n'), yml.indexOf('\nresources:\n'));
    const functions = [...block.matchAll(/^ {2}([A-Za-z]+):$/gm)].map((m) => m[1] ?? '');
    expect(functions.length).toBeGreaterThan(0);
    const aws = section('AWS deployment');
    expect(functions.filter((f) => !aws.includes(`\`${f}\``))).toEqual([]);
  });

  it('links only to files that exist', () => {
    const links = [...readme.matchAll(/\]\(([^)#\s]+)\)/g)]
      .map((m) => m[1] ?? '')
      .filter((l) => !/^[a-z]+:/.test(l));
    expect(links.length).toBeGreaterThan(0);
    expect(links.filter((l) => !existsSync(new URL(l, root)))).toEqual([]);
  });
});
