/**
 * The published package, as `npm pack` makes it and npm installs it: what is in it, that every
 * entry point loads with `import` and with `require`, and that its types resolve for TypeScript
 * consumers under node16, nodenext, bundler and node10 module resolution.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, posix } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installPacked, type PackInfo } from './pack-helpers.js';

const run = promisify(execFile);
const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const ENTRIES = ['optax-ts', 'optax-ts/node', 'optax-ts/jax', 'optax-ts/tfjs'];

let dir: string;
let info: PackInfo;
let paths: Set<string>;

beforeAll(async () => {
  ({ dir, info } = await installPacked('package-test'));
  paths = new Set(info.files.map((f) => f.path));
}, 240_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('npm pack', () => {
  it('holds the library and its documents, and no tests, demo, bench, examples or scripts', () => {
    for (const f of ['package.json', 'README.md', 'LICENSE', 'docs/errors.md'])
      expect(paths).toContain(f);
    const outside = [...paths].filter(
      (p) => !/^(dist|src)\//.test(p) && !['package.json', 'README.md', 'LICENSE'].includes(p),
    );
    expect(outside).toEqual(['docs/errors.md']);
    const unwanted = [...paths].filter((p) =>
      /(^|\/)(test|tests|demo|bench|examples|scripts|\.ci)\/|\.test\.|\.tsbuildinfo$/.test(p),
    );
    expect(unwanted).toEqual([]);
    expect(pkg.bin).toBeUndefined();
    expect(readFileSync(join(dir, 'node_modules/optax-ts/LICENSE'), 'utf8')).toContain(
      'Apache License',
    );
    expect(pkg.license).toBe('Apache-2.0');
  });

  it('has the JavaScript and the types of every export, and what their source maps point to', () => {
    for (const [sub, target] of Object.entries(pkg.exports as Record<string, unknown>)) {
      if (typeof target === 'string') {
        expect(paths, sub).toContain(posix.normalize(target));
        continue;
      }
      const { types, default: js } = target as { types: string; default: string };
      expect(paths, sub).toContain(posix.normalize(js));
      expect(paths, sub).toContain(posix.normalize(types));
    }
    const maps = [...paths].filter((p) => p.endsWith('.map'));
    // One .js.map and one .d.ts.map per module.
    expect(maps.length).toBe(2 * [...paths].filter((p) => /^dist\/.*\.js$/.test(p)).length);
    const missing: string[] = [];
    for (const map of maps) {
      const { sources } = JSON.parse(
        readFileSync(join(dir, 'node_modules/optax-ts', map), 'utf8'),
      ) as { sources: string[] };
      expect(sources.length, map).toBeGreaterThan(0);
      for (const s of sources) {
        const target = posix.normalize(posix.join(posix.dirname(map), s));
        if (!paths.has(target)) missing.push(`${map} -> ${target}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('links from README.md only to files that are in the package', () => {
    const readme = readFileSync(join(dir, 'node_modules/optax-ts/README.md'), 'utf8');
    const links = [...readme.matchAll(/\]\(([^)#\s]+)(#[^)]*)?\)/g)]
      .map((m) => m[1]!)
      .filter((l) => !/^[a-z]+:/.test(l));
    for (const l of links) expect(paths, `README links to ${l}`).toContain(posix.normalize(l));
  });
});

describe('the installed package in Node', () => {
  it('loads every entry point with import', async () => {
    const code = ENTRIES.map(
      (e, i) => `import * as m${i} from '${e}'; console.log('${e}', Object.keys(m${i}).length);`,
    ).join('\n');
    writeFileSync(join(dir, 'esm.mjs'), code);
    const { stdout } = await run(process.execPath, ['esm.mjs'], { cwd: dir });
    for (const e of ENTRIES) expect(stdout).toMatch(new RegExp(`^${e} [1-9]\\d*$`, 'm'));
  });

  it("loads every entry point with require (Node's require of ES modules)", async () => {
    const code = `
const { applyUpdates, radam } = require('optax-ts');
const solver = radam(0.003);
let params = new Float32Array([1, 2, 3]);
let state = solver.init(params);
const seen = [];
for (let i = 0; i < 5; i++) {
  const [updates, next] = solver.update(params.map((x) => 2 * x), state, params);
  state = next;
  params = applyUpdates(params, updates);
  seen.push(params.reduce((s, x) => s + x * x, 0).toExponential(2));
}
console.log(seen.join(' '));
console.log(typeof require('optax-ts/node').saveState);
console.log(typeof require('optax-ts/jax').tidyTransformation);
console.log(typeof require('optax-ts/tfjs').RAdamOptimizer);
`;
    writeFileSync(join(dir, 'cjs.cjs'), code);
    const { stdout, stderr } = await run(process.execPath, ['cjs.cjs'], { cwd: dir });
    expect(stderr).not.toMatch(/ERR_|Error/);
    expect(stdout.split('\n')).toEqual([
      '1.38e+1 1.37e+1 1.35e+1 1.33e+1 1.32e+1',
      'function',
      'function',
      'function',
      '',
    ]);
  });
});

describe('the installed package in TypeScript', () => {
  /** Runs tsc on `files` with `options`; returns its output (empty when the check passes). */
  async function typecheck(
    name: string,
    options: Record<string, unknown>,
    files: Record<string, string>,
  ): Promise<string> {
    const sub = join(dir, name);
    for (const [file, text] of Object.entries(files)) {
      const path = join(sub, file);
      rmSync(path, { force: true });
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, text);
    }
    const config = {
      compilerOptions: {
        strict: true,
        noEmit: true,
        target: 'es2022',
        // Third-party declarations (TF.js, jax-js) do not all check cleanly; attw checks ours.
        skipLibCheck: true,
        types: ['node'],
        ...options,
      },
      files: Object.keys(files),
    };
    writeFileSync(join(sub, 'tsconfig.json'), JSON.stringify(config));
    try {
      await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: sub });
      return '';
    } catch (e) {
      return (e as { stdout: string }).stdout;
    }
  }

  const use = `
const solver = radam(1e-3, { weightDecay: 1e-4 });
const params = { w: new Float32Array(3) };
const state = solver.init(params);
const [updates] = solver.update({ w: new Float32Array(3) }, state, params);
const next: { w: Float32Array } = applyUpdates(params, updates);
const save: typeof saveState = saveState;
const tidy: typeof tidyTransformation = tidyTransformation;
const ctor: typeof RAdamOptimizer = RAdamOptimizer;
export { next, save, tidy, ctor };
`;
  const esm = `import { applyUpdates, radam } from 'optax-ts';
import { saveState } from 'optax-ts/node';
import { tidyTransformation } from 'optax-ts/jax';
import { RAdamOptimizer } from 'optax-ts/tfjs';
${use}`;
  // Every check also has a deliberate type error, so that a check that resolves nothing (and
  // therefore sees only `any`) cannot pass.
  const wrong = `import { radam as r } from 'optax-ts';\nexport const bad: string = r(1e-3);\n`;

  it('resolves under nodenext, from ES modules and from CommonJS (.mts, .cts)', async () => {
    const out = await typecheck(
      'nodenext',
      { module: 'nodenext', moduleResolution: 'nodenext' },
      { 'a.mts': esm, 'b.cts': esm, 'wrong.mts': wrong },
    );
    expect(out.trim().split('\n')).toEqual([
      expect.stringMatching(/^wrong\.mts\(2,14\): error TS2322: Type 'GradientTransformation/),
    ]);
  });

  it('resolves under node16 from ES modules (CommonJS files there need nodenext: TS1479)', async () => {
    const out = await typecheck(
      'node16',
      { module: 'node16', moduleResolution: 'node16' },
      { 'a.mts': esm, 'b.cts': esm, 'wrong.mts': wrong },
    );
    const lines = out.trim().split('\n');
    expect(lines.filter((l) => l.startsWith('wrong.mts'))).toEqual([
      expect.stringMatching(/^wrong\.mts\(2,14\): error TS2322/),
    ]);
    // node16 predates require(esm): each of the four imports of b.cts is refused, nothing else.
    const cts = lines.filter((l) => !l.startsWith('wrong.mts'));
    expect(cts).toHaveLength(4);
    for (const l of cts) expect(l).toMatch(/^b\.cts\(\d+,\d+\): error TS1479:/);
  });

  it('resolves under bundler, and under node10 (typesVersions) with CommonJS output', async () => {
    const [bundler, node10] = await Promise.all([
      typecheck(
        'bundler',
        { module: 'esnext', moduleResolution: 'bundler' },
        { 'a.ts': esm, 'wrong.ts': wrong },
      ),
      typecheck(
        'node10',
        { module: 'commonjs', moduleResolution: 'node10', ignoreDeprecations: '5.0' },
        { 'a.ts': esm, 'wrong.ts': wrong },
      ),
    ]);
    expect(bundler.trim().split('\n')).toEqual([
      expect.stringMatching(/^wrong\.ts\(2,14\): error/),
    ]);
    expect(node10.trim().split('\n')).toEqual([expect.stringMatching(/^wrong\.ts\(2,14\): error/)]);
  });
});
