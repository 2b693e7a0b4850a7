/**
 * The packed package in a real browser: pages bundled by esbuild from the tarball that npm pack
 * makes (installed into a fresh project), served on 127.0.0.1 and loaded in headless Chromium
 * (Debian's, driven by playwright-core; nothing is downloaded). Checks the seed example's output,
 * the in-place Optimizer's bits against Node's at 1e6 elements, TF.js's RAdamOptimizer training on
 * the webgl (SwiftShader) and wasm backends without leaking tensors, and that the page variant
 * served with COOP/COEP headers is cross-origin isolated.
 *
 * Without Chromium (a fresh machine running plain `npm test`) the tests are skipped;
 * `apt-get install chromium` enables them (.ci/run installs it).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, extname, join, normalize, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type Metafile } from 'esbuild';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installPacked } from './pack-helpers.js';

const CHROMIUM = process.env.OPTAX_TS_CHROMIUM ?? '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
// .ci/run installs Chromium, so in CI its absence is a failure rather than a skip.
if (!HAVE_CHROMIUM && process.env.CI === 'true')
  throw new Error(`no Chromium at ${CHROMIUM}: .ci/run should have installed it`);
if (!HAVE_CHROMIUM)
  console.warn(
    `test/browser.test.ts: skipped, no Chromium at ${CHROMIUM} (apt-get install chromium enables it)`,
  );

/** What optax.radam's documentation prints for its example (as test/examples.test.ts). */
const SEED_OUTPUT = [
  'Objective function:  14.0',
  'Objective function: 1.38E+01',
  'Objective function: 1.37E+01',
  'Objective function: 1.35E+01',
  'Objective function: 1.33E+01',
  'Objective function: 1.32E+01',
  '',
].join('\n');

const PAGES = ['seed', 'bits', 'tfjs'];
const HERE = import.meta.dirname;
const WASM_DIR = dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm'));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.map': 'application/json',
};

/**
 * Serves the bundles from `root` and TF.js's wasm binaries under /wasm/. Paths under /coi/ are the
 * same files sent with the COOP/COEP headers that make a page cross-origin isolated (and so give
 * it SharedArrayBuffer, which threads need).
 */
function serve(root: string): Promise<Server> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    let path = url.pathname;
    const isolated = path.startsWith('/coi/');
    if (isolated) path = path.slice('/coi'.length);
    const base = path.startsWith('/wasm/') ? WASM_DIR : root;
    const rel = path.startsWith('/wasm/') ? path.slice('/wasm/'.length) : path.slice(1);
    const file = resolve(base, normalize(rel));
    if (!file.startsWith(base) || !existsSync(file)) {
      res.writeHead(404).end();
      return;
    }
    const headers: Record<string, string> = {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'cache-control': 'no-store',
    };
    if (isolated) {
      headers['cross-origin-opener-policy'] = 'same-origin';
      headers['cross-origin-embedder-policy'] = 'require-corp';
    }
    res.writeHead(200, headers).end(readFileSync(file));
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

describe.skipIf(!HAVE_CHROMIUM)('the packed package in headless Chromium', () => {
  let dir: string;
  let profile: string;
  let server: Server;
  let origin: string;
  let context: BrowserContext;
  let metafile: Metafile;
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    ({ dir } = await installPacked('browser-test'));
    for (const f of ['bits.js', 'bits-page.js', 'seed-page.js', 'tfjs-page.js'])
      writeFileSync(join(dir, f), readFileSync(join(HERE, 'browser', f)));
    const example = readFileSync(join(HERE, '..', 'examples', 'quadratic.ts'), 'utf8');
    const rewritten = example.replace("from '../src/index.js'", "from 'optax-ts'");
    expect(rewritten).not.toBe(example);
    writeFileSync(join(dir, 'quadratic.ts'), rewritten);
    const www = join(dir, 'www');
    const result = await build({
      absWorkingDir: dir,
      entryPoints: PAGES.map((p) => `${p}-page.js`),
      outdir: www,
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      sourcemap: true,
      metafile: true,
      logLevel: 'silent',
    });
    metafile = result.metafile;
    for (const p of PAGES)
      writeFileSync(
        join(www, `${p}.html`),
        `<!doctype html><meta charset="utf-8"><title>${p}</title><link rel="icon" href="data:,"><script type="module" src="${p}-page.js"></script>\n`,
      );
    server = await serve(www);
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    profile = mkdtempSync(join(dir, 'profile-'));
    const { chromium } = await import('playwright-core');
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
        '--disable-quic',
        // WebGL from the software rasteriser, since there is no GPU.
        '--use-angle=swiftshader',
        '--enable-unsafe-swiftshader',
      ],
    });
  }, 240_000);

  afterAll(async () => {
    await context?.close();
    await new Promise((ok) => (server ? server.close(ok) : ok(undefined)));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Opens `path`, waits for the page's result and returns it (or throws the page's error). */
  async function result<T>(path: string, timeout = 120_000): Promise<T> {
    const page: Page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(`${path}: ${m.text()}`);
    });
    page.on('pageerror', (e) => consoleErrors.push(`${path}: ${e.message}`));
    try {
      await page.goto(`${origin}${path}`);
      // The pages set window.__result or window.__error (globalThis is window there).
      await page.waitForFunction(() => '__result' in globalThis || '__error' in globalThis, null, {
        timeout,
      });
      const { value, error } = await page.evaluate(() => {
        const w = globalThis as unknown as { __result?: unknown; __error?: string };
        return { value: w.__result, error: w.__error };
      });
      if (error !== undefined) throw new Error(`${path}: ${error}`);
      return value as T;
    } finally {
      await page.close();
    }
  }

  it('bundles from the packed package with no Node module', () => {
    const inputs = Object.keys(metafile.inputs);
    expect(inputs.some((i) => i.includes('node_modules/optax-ts/dist/index.js'))).toBe(true);
    expect(inputs.some((i) => i.includes('node_modules/optax-ts/dist/tfjs/'))).toBe(true);
    const repoSrc = join(HERE, '..', 'src');
    expect(inputs.filter((i) => resolve(dir, i).startsWith(repoSrc))).toEqual([]);
    expect(inputs.filter((i) => /^node:|optax-ts\/dist\/node\//.test(i))).toEqual([]);
  });

  it("prints the seed example's output (examples/quadratic.ts)", async () => {
    expect(await result<string>('/seed.html')).toBe(SEED_OUTPUT);
  });

  type Bits = {
    kernel: string;
    hash: string;
    changed: number;
    ms: number;
    threads: number;
    threadsSeen: number;
  };
  type BitsPage = {
    crossOriginIsolated: boolean;
    sharedArrayBuffer: boolean;
    default: Bits;
    arena: Bits;
    arenaThreads: Bits;
    stagedThreads: Bits;
  };

  it("gives the in-place Optimizer's bits at 1e6 elements as Node does", async () => {
    const optax = await import(
      pathToFileURL(join(dir, 'node_modules/optax-ts/dist/index.js')).href
    );
    const { optimizerBits } = await import(pathToFileURL(join(dir, 'bits.js')).href);
    const node = {
      default: (await optimizerBits(optax)) as Bits,
      arena: (await optimizerBits(optax, { arena: true })) as Bits,
    };
    const page = await result<BitsPage>('/bits.html');
    expect(page.crossOriginIsolated).toBe(false);
    expect(page.sharedArrayBuffer).toBe(false);
    for (const mode of ['default', 'arena'] as const) {
      expect(page[mode].kernel, mode).toBe('wasm');
      expect(node[mode].kernel, mode).toBe('wasm');
      expect(page[mode].hash, mode).toBe(node[mode].hash);
      // The parameters moved (a hash of untouched parameters would match too).
      expect(page[mode].changed, mode).toBeGreaterThan(900_000);
    }
    expect(page.default.hash).toBe(page.arena.hash);
    // Not isolated: no shared memory, so one thread, reported as such, with the same bits.
    for (const mode of ['arenaThreads', 'stagedThreads'] as const) {
      expect(page[mode].threadsSeen, mode).toBe(1);
      expect(page[mode].hash, mode).toBe(node.default.hash);
    }
  });

  it('is cross-origin isolated, with SharedArrayBuffer, when served with COOP/COEP', async () => {
    const page = await result<BitsPage>('/coi/bits.html');
    expect(page.crossOriginIsolated).toBe(true);
    expect(page.sharedArrayBuffer).toBe(true);
    expect(page.default.kernel).toBe('wasm');
    expect(page.arena.hash).toBe(page.default.hash);
    // Isolated: a Web Worker steps half of each step over shared WebAssembly memory.
    for (const mode of ['arenaThreads', 'stagedThreads'] as const) {
      expect(page[mode].threads, mode).toBe(2);
      expect(page[mode].hash, mode).toBe(page.default.hash);
    }
  });

  type Training = { backend: string; losses: number[]; tensors: number[]; w: number[] };

  for (const backend of ['webgl', 'wasm']) {
    it(`trains with TF.js's RAdamOptimizer on ${backend}, tensor count flat`, async () => {
      const t = await result<Training>(`/tfjs.html?backend=${backend}`);
      expect(t.backend).toBe(backend);
      expect(t.losses.every(Number.isFinite)).toBe(true);
      expect(t.losses.at(-1)!).toBeLessThan(t.losses[0]! / 1000);
      // y = 2 x0 - 3 x1 + 0.5: the weights head for (2, -3).
      expect(t.w[0]).toBeCloseTo(2, 1);
      expect(t.w[1]).toBeCloseTo(-3, 1);
      // Counted after every step: the optimizer's state (made on the first step) and no more.
      expect(t.tensors.length).toBe(120);
      expect(new Set(t.tensors).size).toBe(1);
    });
  }

  it('logged no errors in the pages', () => {
    expect(consoleErrors).toEqual([]);
  });
});

if (!HAVE_CHROMIUM)
  describe('browser tests', () => {
    it.skip('need Chromium: apt-get install chromium enables them', () => {});
  });
