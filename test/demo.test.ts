import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDigits, splitDigits } from '../demo/data.js';
import { binLosses } from '../demo/experiment.js';
import { HELP, parseCli, UsageError } from '../demo/main.js';
import { initMlp } from '../demo/mlp.js';
import { makeOptimizer, parseOptimizers } from '../demo/optimizers.js';
import { Rng } from '../demo/prng.js';
import { ACCURACY_TITLE, formatLr, LOSS_TITLE } from '../demo/report.js';

const run = promisify(execFile);

/** Runs the demo's command line as `npm start` does (through tsx); never throws. */
async function demo(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--import', 'tsx', 'demo/cli.ts', ...args],
      { encoding: 'utf8', timeout: 60_000 },
    );
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout: string; stderr: string };
    return { code: err.code ?? -1, stdout: err.stdout, stderr: err.stderr };
  }
}

/**
 * A small XML well-formedness check: tags nest and close, attributes are quoted, `&` starts an
 * entity. Returns the root element's name; throws on the first problem.
 */
function checkXml(xml: string): string {
  const stack: string[] = [];
  let root: string | undefined;
  const tag = /<(\/?)([A-Za-z_][\w:.-]*)((?:\s+[\w:.-]+\s*=\s*(?:"[^"<]*"|'[^'<]*'))*)\s*(\/?)>/y;
  let i = 0;
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const text = xml.slice(i, lt === -1 ? xml.length : lt);
    if (/&(?!(?:[A-Za-z]+|#\d+|#x[0-9A-Fa-f]+);)/.test(text))
      throw new Error(`bare & in text near offset ${i}`);
    if (lt === -1) break;
    if (xml.startsWith('<?xml', lt)) {
      i = xml.indexOf('?>', lt) + 2;
      continue;
    }
    tag.lastIndex = lt;
    const m = tag.exec(xml);
    if (m === null) throw new Error(`malformed tag at offset ${lt}: ${xml.slice(lt, lt + 60)}`);
    const [, closing, name, , selfClosing] = m as unknown as [
      string,
      string,
      string,
      string,
      string,
    ];
    if (closing) {
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> closes <${open}> at offset ${lt}`);
    } else {
      if (stack.length === 0) {
        if (root !== undefined) throw new Error(`second root element <${name}> at offset ${lt}`);
        root = name;
      }
      if (!selfClosing) stack.push(name);
    }
    i = tag.lastIndex;
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack.join('>, <')}>`);
  if (root === undefined) throw new Error('no root element');
  return root;
}

/** report.md without its one run-time-dependent number, the wall-clock seconds. */
const withoutTiming = (md: string): string => md.replace(/\(\d+ s\)/g, '(N s)');

const TINY = [
  '--epochs',
  '1',
  '--train-size',
  '192',
  '--test-size',
  '100',
  '--batch-size',
  '64',
  '--lrs',
  '0.01',
  '--optimizers',
  'radam,adam,adam-warmup',
  '--quiet',
];

describe('demo command line', () => {
  let dir: string;
  let a: Awaited<ReturnType<typeof demo>>;
  let b: Awaited<ReturnType<typeof demo>>;
  let other: Awaited<ReturnType<typeof demo>>;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'optax-ts-demo-'));
    [a, b, other] = await Promise.all([
      demo([...TINY, '--seed', '7', '--out', join(dir, 'a')]),
      demo([...TINY, '--seed', '7', '--out', join(dir, 'b')]),
      demo([...TINY, '--seed', '8', '--out', join(dir, 'c')]),
    ]);
  }, 120_000);

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('trains and prints one table row per optimizer and learning rate', () => {
    expect(a.stderr).toBe('');
    expect(a.code).toBe(0);
    const lines = a.stdout.split('\n');
    const header = lines.findIndex((l) => l.startsWith('learning rate'));
    expect(header).toBeGreaterThanOrEqual(0);
    expect(lines[header]).toMatch(/optimizer +final train loss +held-out loss +held-out accuracy/);
    const radamRow = lines[header + 2]!;
    const adamRow = lines[header + 3]!;
    expect(radamRow).toMatch(/^0\.01 +RAdam +\d+\.\d{4} +\d+\.\d{4} +\d+\.\d{2}%$/);
    expect(adamRow).toMatch(/^0\.01 +Adam without warmup +\d+\.\d{4} +\d+\.\d{4} +\d+\.\d{2}%$/);
    expect(lines[header + 4]).toMatch(
      /^0\.01 +Adam with linear warmup +\d+\.\d{4} +\d+\.\d{4} +\d+\.\d{2}%$/,
    );
    expect(lines[header + 5]).toBe('');
    // Three steps at lr 0.01: Adam's first steps move every weight by about lr and cut the loss
    // well below its starting ~2.3, while RAdam's first steps are small momentum steps.
    const loss = (row: string): number => Number(row.match(/(\d+\.\d{4})/)![1]);
    expect(loss(adamRow)).toBeLessThan(2);
    expect(loss(radamRow)).toBeGreaterThan(loss(adamRow));
    expect(loss(radamRow)).toBeLessThan(3);
    expect(a.stdout).toContain('report.md');
  });

  it('writes report.md with the table, the plots and the observations', async () => {
    const md = await readFile(join(dir, 'a', 'report.md'), 'utf8');
    expect(md).toMatch(/^# RAdam vs Adam on handwritten digits/);
    expect(md).toMatch(
      /\| 0\.01 \| RAdam \| \d+\.\d{4} \| \d+\.\d{4} \| (\*\*)?\d+\.\d{2}%(\*\*)? \|/,
    );
    expect(md).toMatch(/\| 0\.01 \| Adam without warmup \| \d+\.\d{4} \|/);
    expect(md).toContain('](loss-curves.svg)');
    expect(md).toContain('](accuracy-vs-lr.svg)');
    expect(md).toContain('10000 28x28 handwritten digits');
    expect(md).toContain('3 steps in all');
    expect(md).toMatch(/RAdam had the best \(or tied best\) held-out accuracy at [01] of 1/);
    const raw = JSON.parse(await readFile(join(dir, 'a', 'results.json'), 'utf8'));
    expect(raw.totalSteps).toBe(3);
    expect(raw.runs.map((r: { optimizer: string }) => r.optimizer)).toEqual([
      'radam',
      'adam',
      'adam-warmup',
    ]);
    for (const r of raw.runs) {
      expect(r.curve.at(-1).step).toBe(3);
      expect(md).toContain(`${(100 * r.testAccuracy).toFixed(2)}%`);
    }
  });

  it('draws both plots as well-formed SVG with titles, axis titles and legend entries', async () => {
    const loss = await readFile(join(dir, 'a', 'loss-curves.svg'), 'utf8');
    const acc = await readFile(join(dir, 'a', 'accuracy-vs-lr.svg'), 'utf8');
    expect(checkXml(loss)).toBe('svg');
    expect(checkXml(acc)).toBe('svg');
    for (const text of [
      LOSS_TITLE,
      'training step',
      'training loss (log scale)',
      'RAdam',
      'Adam without warmup',
      'Adam with linear warmup',
      'learning rate 0.01',
    ])
      expect(loss).toContain(`>${text}</text>`);
    expect(loss).toContain(
      '>dashed line: end of the linear warmup of Adam with linear warmup (step 3)</tspan>',
    );
    for (const text of [
      ACCURACY_TITLE,
      'learning rate (log scale)',
      'RAdam',
      'Adam without warmup',
      'Adam with linear warmup',
    ])
      expect(acc).toContain(`>${text}</text>`);
    expect(acc).toContain('>held-out accuracy (%)</text>');
    expect(acc).toContain('accuracy on 100 held-out digits (higher is better) after 1 epoch;');
    // One line per optimizer in the (single) loss panel, and the warmup rule.
    const lines = [
      ...loss.matchAll(
        /aria-label="([^"]*)" role="graphics-symbol" aria-roledescription="line mark"/g,
      ),
    ];
    expect(lines.map((m) => m[1]!.replace(/.*optimizer: /, ''))).toEqual([
      'RAdam',
      'Adam without warmup',
      'Adam with linear warmup',
    ]);
    expect(loss.match(/<line [^>]*stroke-dasharray="4,4"/g)?.length).toBe(1);
  });

  it('gives the same numbers, report and plots for the same seed, and others for another seed', async () => {
    expect(b.code).toBe(0);
    const table = (s: string): string =>
      s.slice(s.indexOf('learning rate'), s.indexOf('\n\n', s.indexOf('learning rate')));
    expect(table(b.stdout)).toBe(table(a.stdout));
    const files = ['report.md', 'loss-curves.svg', 'accuracy-vs-lr.svg'];
    const [ra, rb] = await Promise.all(
      ['a', 'b'].map((d) => Promise.all(files.map((f) => readFile(join(dir, d, f), 'utf8')))),
    );
    expect(withoutTiming(rb![0]!)).toBe(withoutTiming(ra![0]!));
    expect(rb![1]).toBe(ra![1]);
    expect(rb![2]).toBe(ra![2]);
    expect(other.code).toBe(0);
    expect(table(other.stdout)).not.toBe(table(a.stdout));
  });

  it('prints the help and names a bad flag value', async () => {
    const help = await demo(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toBe(HELP);
    for (const flag of [
      '--epochs',
      '--lrs',
      '--optimizers',
      '--seed',
      '--out',
      '--batch-size',
      '--train-size',
    ])
      expect(help.stdout).toContain(flag);
    const bad = await demo(['--epochs', '0']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--epochs must be a positive integer, got "0"');
    expect(bad.stdout).toBe('');
    const tooMany = await demo(['--train-size', '9000', '--test-size', '2000', '--quiet']);
    expect(tooMany.code).toBe(2);
    expect(tooMany.stderr).toContain(
      '--train-size 9000 plus --test-size 2000 is 11000, but the mnist package bundles only 10000 digits',
    );
  });
});

describe('demo building blocks', () => {
  it('parses flags and rejects bad values with the flag name', () => {
    const o = parseCli(['--lrs', '1e-2, 0.003', '--optimizers', 'adam-warmup', '--seed', '3']);
    expect(o.config.lrs).toEqual([0.01, 0.003]);
    expect(o.config.optimizers).toEqual(['adam-warmup']);
    expect(o.config.seed).toBe(3);
    expect(o.config.warmupSteps).toBeUndefined();
    expect(parseCli([]).config).toMatchObject({ epochs: 5, batchSize: 64, trainSize: 8000 });
    expect(() => parseCli(['--lrs', '0.1,-1'])).toThrow(/--lrs .*"-1"/);
    expect(() => parseCli(['--lrs', '0.1,0.1'])).toThrow(/twice/);
    expect(() => parseCli(['--optimizers', 'sgdd'])).toThrow(/unknown optimizer "sgdd"/);
    expect(() => parseCli(['--batch-size', '100', '--train-size', '50'])).toThrow(UsageError);
    expect(() => parseCli(['--train-size', '1.5'])).toThrow(
      /--train-size must be a positive integer, got "1.5"/,
    );
    expect(() => parseCli(['--backend', 'webgl'])).toThrow(/--backend must be wasm or cpu/);
    expect(() => parseCli(['--nope'])).toThrow(UsageError);
    expect(parseOptimizers('radam,adam')).toEqual(['radam', 'adam']);
  });

  it('seeds a reproducible generator', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const xs = Array.from({ length: 5 }, () => a.uniform());
    expect(Array.from({ length: 5 }, () => b.uniform())).toEqual(xs);
    expect(new Rng(43).uniform()).not.toBe(xs[0]);
    expect(new Rng(42, 1).uniform()).not.toBe(xs[0]);
    for (const x of xs) expect(x >= 0 && x < 1).toBe(true);
    const perm = new Rng(1).shuffle(Uint32Array.from({ length: 50 }, (_, i) => i));
    expect(Array.from(perm).sort((p, q) => p - q)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('loads the 10,000 bundled digits and splits them without overlap', () => {
    const all = loadDigits();
    expect(all.count).toBe(10000);
    expect(all.images.length).toBe(10000 * 784);
    const { train, test } = splitDigits(all, { trainSize: 8000, testSize: 2000, seed: 0 });
    expect(train.count + test.count).toBe(10000);
    const counts = new Array(10).fill(0);
    for (const l of [...train.labels, ...test.labels]) counts[l]++;
    expect(counts).toEqual([1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]);
    expect(() => splitDigits(all, { trainSize: 9000, testSize: 2000, seed: 0 })).toThrow(
      /bundles only 10000 digits/,
    );
  });

  it('builds Adam with a linear warmup that starts at zero', () => {
    const tx = makeOptimizer('adam-warmup', 0.1, 4);
    const params = new Float32Array([1]);
    const state = tx.init(params);
    const [u0] = tx.update(new Float32Array([1]), state, params);
    expect(Array.from(u0 as Float32Array)).toEqual([-0]);
    const adamTx = makeOptimizer('adam', 0.1, 4);
    const [u1] = adamTx.update(new Float32Array([1]), adamTx.init(params), params);
    expect((u1 as Float32Array)[0]).toBeCloseTo(-0.1, 6);
  });

  it('initialises the MLP from the seed alone', () => {
    const p = initMlp(16, 5);
    expect([p.w1.length, p.b1.length, p.w2.length, p.b2.length]).toEqual([784 * 16, 16, 160, 10]);
    expect(initMlp(16, 5)).toEqual(p);
    expect(initMlp(16, 6).w1).not.toEqual(p.w1);
    const limit = Math.sqrt(6 / 784);
    expect(p.w1.every((x) => Math.abs(x) <= limit)).toBe(true);
    expect(p.b1.every((x) => x === 0)).toBe(true);
  });

  it('bins per-step losses for the curves, folding a short last bin into the previous one', () => {
    expect(binLosses([1, 2, 3, 4, 5, 6, 7], 3)).toEqual([
      { step: 3, loss: 2 },
      { step: 7, loss: 5.5 },
    ]);
    expect(binLosses([1, 2, 3, 4, 5, 6, 7, 8], 3)).toEqual([
      { step: 3, loss: 2 },
      { step: 6, loss: 5 },
      { step: 8, loss: 7.5 },
    ]);
    expect(binLosses([4], 10)).toEqual([{ step: 1, loss: 4 }]);
    expect(binLosses([], 2)).toEqual([]);
  });

  it('formats learning rates as people write them', () => {
    expect([0.1, 0.03, 0.003, 1e-3, 1e-5].map(formatLr)).toEqual([
      '0.1',
      '0.03',
      '0.003',
      '0.001',
      '1e-5',
    ]);
  });
});
