/**
 * `npm run bench` (add `-- --quick` for a short run): the in-place `Optimizer.step` and the
 * functional path for `radam`, against the memory-bandwidth floor measured in this process, TF.js's
 * `tf.train.adam` and PyTorch's `torch.optim.RAdam`. Prints a table and writes bench/results.json.
 * See bench/README.md.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { applyUpdates, Optimizer, radam } from '../src/index.js';

const quick = process.argv.includes('--quick');
/** `--10m`: with `--quick`, also the 10M float32 in-place rows (and TF.js/torch at 10M). */
const with10M = quick && process.argv.includes('--10m');
const here = dirname(fileURLToPath(import.meta.url));
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const SIZES = quick ? [1e3, 1e5, 1e6, ...(with10M ? [1e7] : [])] : [1e3, 1e4, 1e5, 1e6, 1e7];
/** Bytes moved per element by a step (read g, m, v, p; write m, v, p), in units of the element size. */
const ACCESSES = 7;

/** Median ms of `reps` calls after `warmup` calls; reps shrink for slow calls (budget in ms). */
function time(fn: () => void, warmup: number, reps: number, budget = 1500): number {
  for (let i = 0; i < warmup; i++) fn();
  const ts: number[] = [];
  const start = performance.now();
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    fn();
    ts.push(performance.now() - t);
    if (performance.now() - start > budget && ts.length >= 3) break;
  }
  ts.sort((a, b) => a - b);
  return ts[ts.length >> 1]!;
}

function filled(f32: boolean, n: number, seed: number) {
  const a = f32 ? new Float32Array(n) : new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.sin(i * 0.37 + seed) * 0.5;
  return a;
}

interface Row {
  case: string;
  size: number;
  dtype: string;
  ms: number;
  elemsPerSec: number;
  floorMs?: number;
  ratioToFloor?: number;
  note?: string;
}
const rows: Row[] = [];
const floors = new Map<string, number>();

function add(r: Omit<Row, 'elemsPerSec' | 'ratioToFloor' | 'floorMs'>) {
  const floorMs = floors.get(`${r.size}:${r.dtype}`);
  const row: Row = { ...r, elemsPerSec: r.size / (r.ms / 1000) };
  if (floorMs !== undefined) {
    row.floorMs = floorMs;
    row.ratioToFloor = r.ms / floorMs;
  }
  rows.push(row);
  const ratio = row.ratioToFloor === undefined ? '' : `${row.ratioToFloor.toFixed(2)}x`;
  console.log(
    `${r.case.padEnd(34)} ${String(r.size).padStart(9)} ${r.dtype.padEnd(8)} ${r.ms.toFixed(3).padStart(10)} ms ${(row.elemsPerSec / 1e6).toFixed(0).padStart(7)} M/s ${ratio.padStart(8)} ${r.note ?? ''}`,
  );
}

const repsFor = (n: number) => (n >= 1e7 ? 7 : n >= 1e6 ? 20 : n >= 1e5 ? 100 : 1000);

// 1. Floor, in-place (caller buffers: JS kernel or WebAssembly SIMD through staging copies;
// arena: WebAssembly SIMD), functional.
for (const n of SIZES)
  for (const f32 of [true, false]) {
    if (with10M && n === 1e7 && !f32) continue; // --quick --10m: float32 only at 10M
    const dtype = f32 ? 'float32' : 'float64';
    const a = filled(f32, n, 1);
    const b = filled(f32, n, 2);
    const copyMs = time(() => b.set(a), 3, repsFor(n) * 2);
    floors.set(`${n}:${dtype}`, (copyMs * ACCESSES) / 2);
    add({ case: 'floor (copy x 3.5)', size: n, dtype, ms: (copyMs * ACCESSES) / 2 });
    const g = filled(f32, n, 3);
    // The arena twice: step(g) copies g into the arena first (one more read and write of g);
    // step() reads the gradients already written into optimizer.grads (the step proper).
    for (const [name, options, own] of [
      ['in-place, caller buffers (js)', { kernel: 'js' }, false],
      ['in-place, caller buffers (wasm staging)', {}, false],
      ['in-place, arena, step(g) (wasm simd)', { arena: true }, false],
      ['in-place, arena, step() (wasm simd)', { arena: true }, true],
      ['in-place, arena, step(), 1 thread', { arena: true, threads: 1 }, true],
    ] as const) {
      if ('threads' in options && n < 1e6) continue; // below the 2-thread threshold anyway
      const p = filled(f32, n, 4);
      const opt = new Optimizer(radam(1e-3), { w: p }, options);
      // Past the 5 momentum-only steps: time rectified steps, the common case.
      for (let i = 0; i < 6; i++) opt.step({ w: g });
      if (own) (opt.grads.w as typeof g).set(g);
      const step = own ? () => opt.step() : () => opt.step({ w: g });
      // A worker (two threads) starts in the background; give it a moment before timing.
      if (opt.kernel === 'wasm') await new Promise((r) => setTimeout(r, 50));
      const ms = time(step, 3, repsFor(n));
      add({
        case: name,
        size: n,
        dtype,
        ms,
        note: `${opt.kernel}${opt.kernel === 'wasm' ? `, ${opt.threads} thread${opt.threads === 2 ? 's' : ''}` : ''}`,
      });
    }
    if (n <= (quick ? 1e6 : 1e7)) {
      const tx = radam(1e-3);
      let params: unknown = filled(f32, n, 4);
      let state = tx.init(params);
      const step = () => {
        const [u, s] = tx.update(g, state, params);
        state = s;
        params = applyUpdates(params, u);
      };
      for (let i = 0; i < 6; i++) step();
      add({
        case: 'functional update + applyUpdates',
        size: n,
        dtype,
        ms: time(step, 2, Math.min(repsFor(n), 50)),
      });
    }
  }

// 2. 1,000 leaves of 1,000 against one leaf of 1M (float32).
const treeOf = (seed: number) =>
  Object.fromEntries(
    Array.from({ length: 1000 }, (_, i) => [`w${i}`, filled(true, 1000, seed + i)]),
  );
for (const [name, options] of [
  ['caller buffers (js)', { kernel: 'js' }],
  ['caller buffers (wasm staging)', {}],
  ['arena (wasm simd)', { arena: true }],
] as const) {
  // step(grads) in both modes (the arena copies the gradients in).
  const grads = treeOf(0);
  const tree = new Optimizer(radam(1e-3), treeOf(5000), options);
  const single = new Optimizer(radam(1e-3), { w: filled(true, 1e6, 7) }, options);
  const g1 = { w: filled(true, 1e6, 8) };
  for (let i = 0; i < 6; i++) {
    tree.step(grads);
    single.step(g1);
  }
  await new Promise((r) => setTimeout(r, 50));
  const tTree = time(() => tree.step(grads), 3, 30);
  const tSingle = time(() => single.step(g1), 3, 30);
  add({
    case: `tree 1000x1000, ${name}`,
    size: 1e6,
    dtype: 'float32',
    ms: tTree,
    note: `${(tTree / tSingle).toFixed(2)}x single leaf`,
  });
  add({ case: `single leaf 1M, ${name}`, size: 1e6, dtype: 'float32', ms: tSingle });
}

// 3. Heap growth over 1,000 steps after warm-up.
const heap: Record<string, number> = {};
for (const [name, options] of [
  ['caller buffers (js)', { kernel: 'js' }],
  ['caller buffers (wasm staging)', {}],
  ['arena (wasm simd)', { arena: true }],
] as const) {
  const opt = new Optimizer(
    radam(1e-3),
    { a: filled(true, 1e4, 1), b: filled(true, 1e4, 2) },
    options,
  );
  const g = { a: filled(true, 1e4, 3), b: filled(true, 1e4, 4) };
  for (let i = 0; i < 2000; i++) opt.step(g);
  // The smallest of three windows of 1,000 steps (JIT work can land in one of them).
  let growth = Infinity;
  for (let w = 0; w < 3; w++) {
    gc();
    const before = getHeapStatistics().used_heap_size;
    for (let i = 0; i < 1000; i++) opt.step(g);
    growth = Math.min(growth, getHeapStatistics().used_heap_size - before);
  }
  heap[name] = growth;
  console.log(`heap growth over 1,000 steps, ${name}: ${heap[name]} bytes`);
}

// 4. TF.js tf.train.adam (bench/tfjs.ts times it next to optax-ts/tfjs's RAdamOptimizer).
const tfjs: unknown[] = [];
if (existsSync(join(here, 'tfjs.ts'))) {
  const { benchTfjs } = await import('./tfjs.js');
  for (const backend of ['wasm', 'cpu'])
    for (const n of SIZES) {
      if (backend === 'cpu' && n > 1e6) {
        console.log(
          'tf.train.adam on tfjs-backend-cpu skipped above 1M (about 2 s per step at 10M)',
        );
        continue;
      }
      const steps = n >= 1e7 ? 3 : n >= 1e6 ? 5 : 20;
      const r = await benchTfjs({ backend, params: n, steps, warmup: 2 });
      tfjs.push(r);
      add({
        case: `tf.train.adam (tfjs-backend-${backend})`,
        size: n,
        dtype: 'float32',
        ms: r.tfAdamMs,
        note: `optax-ts/tfjs RAdam ${r.radamMs.toFixed(2)} ms`,
      });
    }
} else console.log('bench/tfjs.ts not found: TF.js skipped');

// 5. torch.optim.RAdam.
let torch: unknown = null;
try {
  const out = execFileSync(
    '/usr/bin/python3',
    [join(here, 'torch_radam.py'), SIZES.join(','), quick ? '10' : '20', quick ? '3' : '7'],
    { encoding: 'utf8', timeout: 240_000 },
  );
  torch = JSON.parse(out);
  const t = torch as {
    torch: string;
    threads: number;
    results: { size: number; foreach: boolean; ms: number }[];
  };
  for (const r of t.results)
    add({
      case: `torch.optim.RAdam foreach=${r.foreach}`,
      size: r.size,
      dtype: 'float32',
      ms: r.ms,
      note: `torch ${t.torch}, ${t.threads} threads`,
    });
} catch (e) {
  console.log(`torch skipped: ${(e as Error).message.split('\n')[0]}`);
}

const pick = (c: string, n: number) =>
  rows.find((r) => r.case === c && r.size === n && r.dtype === 'float32');
const inplace10M = pick('in-place, arena, step() (wasm simd)', 1e7);
const inplace10MCopy = pick('in-place, arena, step(g) (wasm simd)', 1e7);
const treeRow = rows.find((r) => r.case === 'tree 1000x1000, arena (wasm simd)');
const single = pick('single leaf 1M, arena (wasm simd)', 1e6);
const func1M = pick('functional update + applyUpdates', 1e6);
const js1M = pick('in-place, caller buffers (js)', 1e6);
const targets = {
  inPlace10MRatioToFloor: inplace10M?.ratioToFloor ?? null,
  inPlace10MWithGradCopyRatioToFloor: inplace10MCopy?.ratioToFloor ?? null,
  tree1000OverSingleLeaf: treeRow && single ? treeRow.ms / single.ms : null,
  functionalOverInPlace1M: func1M && js1M ? func1M.ms / js1M.ms : null,
};
console.log('targets:', JSON.stringify(targets));
writeFileSync(
  join(here, 'results.json'),
  `${JSON.stringify({ date: new Date().toISOString(), node: process.version, cpu: cpus()[0]?.model, cores: cpus().length, quick, rows, heapGrowthBytesPer1000Steps: heap, targets, tfjs, torch }, null, 2)}\n`,
);
console.log('wrote bench/results.json');
