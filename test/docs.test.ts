/**
 * Runs every `@example` in the sources' TSDoc and every TypeScript block of README.md, so the
 * documentation cannot drift from the code. Each example runs in its own scope, with the public API
 * (and the exports of the module it documents) in scope, and a few conventional names defined:
 * `params`, `grads`, `updates`, `state`, `loss`, `tx`.
 */
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { transformSync } from 'esbuild';
import { describe, expect, it } from 'vitest';

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** The ```ts blocks inside `@example` sections of TSDoc comments. */
function tsdocExamples(text: string): string[] {
  const out: string[] = [];
  for (const comment of text.match(/\/\*\*[\s\S]*?\*\//g) ?? []) {
    const body = comment
      .split('\n')
      .map((line) => line.replace(/^\s*\/?\*+\/?\s?/, ''))
      .join('\n');
    const at = body.indexOf('@example');
    if (at < 0) continue;
    for (const m of body.slice(at).matchAll(/```ts\n([\s\S]*?)```/g)) out.push(m[1]!);
  }
  return out;
}

const PRELUDE = `
let params = { w: new Float32Array([1, 2, 3]) };
let grads = { w: new Float32Array([0.1, -0.2, 0.3]) };
let tx = __scope.radam(1e-3);
let state = tx.init(params);
let updates = grads;
let loss = 0.5;
`;

async function scopeFor(file: string): Promise<Record<string, unknown>> {
  const index = await import(pathToFileURL(join(process.cwd(), 'src/index.ts')).href);
  const own = await import(pathToFileURL(join(process.cwd(), file)).href);
  return { ...index, ...own };
}

/** Numbers equal to 6 significant digits; arrays, typed arrays and objects compared leafwise. */
function close(got: unknown, want: unknown): boolean {
  if (typeof want === 'number')
    return (
      typeof got === 'number' &&
      (Object.is(got, want) || Math.abs(got - want) <= 1e-6 * Math.max(1, Math.abs(want)))
    );
  if (ArrayBuffer.isView(want) || Array.isArray(want)) {
    const w = Array.from(want as ArrayLike<unknown>);
    if (ArrayBuffer.isView(want) && (got as object)?.constructor !== want.constructor) return false;
    if (!ArrayBuffer.isView(got) && !Array.isArray(got)) return false;
    const g = Array.from(got as ArrayLike<unknown>);
    return g.length === w.length && w.every((x, i) => close(g[i], x));
  }
  if (want !== null && typeof want === 'object') {
    if (got === null || typeof got !== 'object') return false;
    const wk = Object.keys(want).sort();
    const gk = Object.keys(got).sort();
    return (
      wk.join() === gk.join() &&
      wk.every((k) =>
        close((got as Record<string, unknown>)[k], (want as Record<string, unknown>)[k]),
      )
    );
  }
  return Object.is(got, want);
}

/** The value a trailing comment shows, as JavaScript source, or undefined for a plain comment. */
function expectedSource(comment: string): string | undefined {
  const js = comment.replace(/(Float(?:32|64)Array) \[([^\]]*)\]/g, '$1.from([$2])');
  try {
    new Function(`return (${js});`);
    return /^[-\d[{'"]|^(true|false|null|NaN|Infinity|Float(32|64)Array)/.test(js) ? js : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Turns `expr; // value` lines into checks that `expr` equals `value`, `const x = expr; // value`
 * into a check of `x`, and `expr; // SomeError: message` into a check that `expr` throws it.
 */
function withChecks(code: string): { code: string; checks: number } {
  let checks = 0;
  const lines = code.split('\n').map((line) => {
    const m = /^(\s*)(.+?);\s*\/\/\s*(.+)$/.exec(line);
    if (!m) return line;
    const [, indent, stmt, comment] = m as unknown as [string, string, string, string];
    const err = /^(\w*Error): (.+)$/.exec(comment);
    if (err) {
      checks++;
      return `${indent}__throws(() => { ${stmt}; }, ${JSON.stringify(err[1])}, ${JSON.stringify(err[2])});`;
    }
    const want = expectedSource(comment);
    if (want === undefined) return line;
    checks++;
    const decl = /^(?:(?:const|let|var)\s+)?\[\s*(\w+)|^(?:const|let|var)\s+(\w+)/.exec(stmt);
    if (decl)
      return `${indent}${stmt}; __check(${decl[1] ?? decl[2]}, ${want}, ${JSON.stringify(line.trim())});`;
    return `${indent}__check((${stmt}), ${want}, ${JSON.stringify(line.trim())});`;
  });
  return { code: lines.join('\n'), checks };
}

const helpers = {
  __check(got: unknown, want: unknown, line: string) {
    if (!close(got, want))
      throw new Error(`example line \`${line}\`: got ${String(got)} (${JSON.stringify(got)})`);
  },
  __throws(fn: () => void, name: string, message: string) {
    try {
      fn();
    } catch (e) {
      expect((e as Error).name).toBe(name);
      expect((e as Error).message).toContain(message);
      return;
    }
    throw new Error(`example expected ${name}: ${message}`);
  },
};

let totalChecks = 0;

async function runExample(source: string, scope: Record<string, unknown>): Promise<void> {
  const { code, checks } = withChecks(source);
  totalChecks += checks;
  scope = { ...scope, ...helpers };
  const js = transformSync(`${PRELUDE}\n{\n${code}\n}`, { loader: 'ts', format: 'esm' }).code;
  const names = Object.keys(scope).filter((n) => /^[A-Za-z_$][\w$]*$/.test(n));
  const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;
  const fn = new AsyncFunction('__scope', ...names, js);
  await fn(scope, ...names.map((n) => scope[n]));
}

const coreFiles = sourceFiles('src').filter((f) => !/src[/\\](tfjs|jax|demo|node)[/\\]/.test(f));

describe('TSDoc examples of the core', () => {
  for (const file of coreFiles) {
    const examples = tsdocExamples(readFileSync(file, 'utf8'));
    examples.forEach((code, i) => {
      it(`${relative('.', file)} example ${i + 1}`, async () => {
        await runExample(code, await scopeFor(file));
      });
    });
  }

  it('the examples check their shown values (at least 40 checks in all)', () => {
    expect(totalChecks).toBeGreaterThanOrEqual(40);
  });

  it('every exported function and class of the public API has an example', async () => {
    const index = await import(pathToFileURL(join(process.cwd(), 'src/index.ts')).href);
    const documented = new Set<string>();
    for (const file of coreFiles) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(
        /\/\*\*([\s\S]*?)\*\/\s*export (?:async )?(?:function|class|const) (\w+)/g,
      ))
        if (m[1]!.includes('@example')) documented.add(m[2]!);
    }
    const missing = Object.entries(index)
      .filter(([, v]) => typeof v === 'function')
      .map(([k]) => k)
      .filter((k) => !documented.has(k));
    expect(missing).toEqual([]);
  });
});

describe('README examples', () => {
  const readme = (() => {
    try {
      return readFileSync('README.md', 'utf8');
    } catch {
      return '';
    }
  })();
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
  it('README has TypeScript examples', () => {
    expect(blocks.length).toBeGreaterThan(0);
  });
  blocks.forEach((code, i) => {
    it(`README block ${i + 1}`, async () => {
      // README blocks are complete programs; imports of 'optax-ts' point at the sources.
      const src = join(process.cwd(), 'src');
      const rewritten = code
        .replace(/from 'optax-ts'/g, `from '${src}/index.js'`)
        .replace(/from 'optax-ts\/(\w+)'/g, `from '${src}/$1/index.js'`);
      // Under node_modules, so that bare imports resolve to the same copies the sources use.
      mkdirSync(join('node_modules', '.cache'), { recursive: true });
      const dir = mkdtempSync(join(process.cwd(), 'node_modules', '.cache', 'readme-'));
      const file = join(dir, `block${i + 1}.ts`);
      writeFileSync(file, rewritten);
      await import(file);
    });
  });
});
