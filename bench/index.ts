/**
 * `npm run bench` (`-- --quick` for a short run): RAdam steps of optax-ts (the in-place `Optimizer`
 * in its modes, the functional path), TF.js, PyTorch and a native C kernel, each against the
 * memory-speed floor of the step on one and on two threads, measured in the same run. Prints a
 * markdown table to stdout (progress to stderr) and writes bench/results.json. See bench/README.md.
 */
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CATALOGUE_NAMES, catalogueCases } from './catalogue.js';
import { Floor } from './floor.js';
import { type Contender, local, measureGroup, median } from './harness.js';
import { modes, smallTree, WARMUP } from './modes.js';
import { buildNative, nativeContender } from './native.js';
import { markdownTable, type Row, tableRows, toRow, writeJson } from './report.js';
import { fourVariables, TFJS_VERSION, tfjsContenders, useBackend } from './tfjs.js';
import { startTorch } from './torch.js';

const quick = process.argv.includes('--quick');
/** `--only <section>`: measure one section (optax-ts, small trees, catalogue, tfjs, torch, native). */
const onlyAt = process.argv.indexOf('--only');
const only = onlyAt >= 0 ? process.argv[onlyAt + 1] : undefined;
const runs = (section: string) => only === undefined || only === section;
const F32_SIZES = quick ? [1e5, 1e6, 1e7] : [1e3, 1e4, 1e5, 1e6, 1e7];
const F64_SIZES = quick ? [1e6] : [1e4, 1e6, 1e7];
/** Peer layouts: four variables totalling n for each float32 size (1e6, 1e7 quick), and 100 of 1,000. */
const LAYOUTS = [
  ...(quick ? [1e6, 1e7] : F32_SIZES).map(fourVariables),
  Array<number>(100).fill(1000),
];
/** tfjs-backend-cpu is slow (about 2 s per tf.train.adam step at 1e7): up to 1e6 (1e5 quick). */
const CPU_MAX = quick ? 1e5 : 1e6;
const TREE_LEAVES = [1, 10, 100];
const NATIVE_N = 1e7;
const CATALOGUE_N = quick ? 1e6 : 1e7;
const ROUNDS = quick ? 3 : 5;
const BUDGET_MS = quick ? 100 : 200;
const samplesFor = (n: number) => (n >= 1e7 ? 5 : n >= 1e6 ? 7 : 9);

const here = dirname(fileURLToPath(import.meta.url));
const started = performance.now();
const loadStart = loadavg();
const log = (s: string) => process.stderr.write(`${s}\n`);
const fixed = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(' ');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
log(`load average at start: ${fixed(loadStart)}${quick ? ' (--quick)' : ''}`);

const rows: Row[] = [];
let lastEnd = performance.now();
const notes: string[] = [];
const floor = await Floor.create(Math.max(...F32_SIZES, ...F64_SIZES, NATIVE_N));

/** Measures one group (cases of one size and dtype, with the floors) and keeps its rows. */
async function group(
  section: string,
  n: number,
  f32: boolean,
  contenders: Contender[],
  leaves?: number,
): Promise<void> {
  await sleep(50); // let optimizers' worker threads finish starting
  const t0 = performance.now();
  const measured = await measureGroup(floor, {
    n,
    f32,
    contenders,
    rounds: ROUNDS,
    samples: samplesFor(n),
    budgetMs: BUDGET_MS,
  });
  const dtype = f32 ? 'float32' : 'float64';
  const now = performance.now();
  const s = (ms: number) => (ms / 1000).toFixed(1);
  log(`${section}, ${n} ${dtype}: set up in ${s(t0 - lastEnd)} s, measured in ${s(now - t0)} s`);
  lastEnd = now;
  for (const m of measured) {
    rows.push(toRow(section, n, dtype, m, leaves));
    log(
      `  ${m.name.padEnd(52)} ${m.ms.toPrecision(4).padStart(9)} ms ${m.ratioFloor1.toFixed(2).padStart(7)}x floor 1T ${m.ratioFloor2.toFixed(2).padStart(7)}x floor 2T`,
    );
  }
}

// Per-step cost of starting and joining the second floor thread (64 bytes of work).
floor.prepare(16, true);
const syncUs = median(local('sync', () => floor.step2(), 200).round(11, 1e9) as number[]) * 1e3;
log(`two-thread floor, start and join: ${syncUs.toFixed(2)} us per step`);

// 1. optax-ts, one leaf, every mode.
if (runs('optax-ts'))
  for (const [f32, sizes] of [
    [true, F32_SIZES],
    [false, F64_SIZES],
  ] as const)
    for (const n of sizes) await group('optax-ts', n, f32, modes(f32, n));

// 2. Per-call overhead on small trees.
if (runs('small trees'))
  for (const leaves of TREE_LEAVES)
    await group('small trees', leaves * 10, true, smallTree(leaves), leaves);

// 3. The catalogue: every alias in place, at 10M float32 (1M quick).
if (runs('catalogue'))
  for (const name of CATALOGUE_NAMES)
    await group('catalogue', CATALOGUE_N, true, catalogueCases(name, true, CATALOGUE_N));

// 4. TF.js on tfjs-backend-wasm and tfjs-backend-cpu.
for (const backend of runs('tfjs') ? ['wasm', 'cpu'] : []) {
  await useBackend(backend);
  for (const sizes of LAYOUTS) {
    const n = sizes.reduce((a, b) => a + b, 0);
    if (backend === 'cpu' && n > CPU_MAX) continue;
    await group('tfjs', n, true, tfjsContenders(sizes, WARMUP), sizes.length);
  }
}
if (runs('tfjs')) notes.push(`tfjs-backend-cpu measured up to ${CPU_MAX} elements only`);

// 5. torch.optim.RAdam, foreach on and off.
const torch = runs('torch') ? await startTorch() : 'torch not measured (--only)';
let torchInfo: unknown = null;
if (typeof torch === 'string') notes.push(torch);
else {
  torchInfo = { version: torch.version, threads: torch.threads };
  for (const sizes of LAYOUTS) {
    const n = sizes.reduce((a, b) => a + b, 0);
    const contenders = [
      await torch.contender(sizes, true, WARMUP),
      await torch.contender(sizes, false, WARMUP),
    ];
    await group('torch', n, true, contenders, sizes.length);
  }
  await torch.close();
}

// 6. Native C, RAdam's float32 operation order, at 10M.
const native = runs('native') ? buildNative() : 'native not measured (--only)';
let nativeInfo: unknown = null;
if (typeof native === 'string') notes.push(native);
else {
  nativeInfo = { compiler: native.compiler, openmp: native.openmp !== undefined };
  if (native.note) notes.push(native.note);
  const contenders = [await nativeContender(native, NATIVE_N, 1)];
  if (native.openmp) contenders.push(await nativeContender(native, NATIVE_N, 2));
  await group('native', NATIVE_N, true, contenders);
  native.cleanup();
}

floor.close();
const loadEnd = loadavg();
const seconds = (performance.now() - started) / 1000;
log(`load average at end: ${fixed(loadEnd)}; ${seconds.toFixed(0)} s`);

const header = [
  `RAdam step, ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${cpus()[0]?.model ?? 'cpu'} x ${cpus().length}${quick ? ', --quick' : ''}`,
  `load average (1, 5, 15 min): ${fixed(loadStart)} at start, ${fixed(loadEnd)} at end; ${seconds.toFixed(0)} s`,
  `${ROUNDS} rounds per case, interleaved with the floors; ms = median of round medians; x floor = median of per-round ratios; 2-thread floor start+join ${syncUs.toFixed(1)} us`,
];
const busiest = Math.max(...rows.map((r) => r.othersCpu));
header.push(
  `others' CPU: the share of the machine's CPU time that other processes used while the row's group ran (at most ${(busiest * 100).toFixed(0)}% in this run); where it is high, so are the 2-thread rows (the 2-thread floor most): they measure contention more than the code.`,
);
console.log(`${header.join('\n\n')}\n\n${markdownTable(tableRows(rows))}\n`);
for (const note of notes) console.log(`- ${note}`);

writeJson(join(here, 'results.json'), {
  date: new Date().toISOString(),
  node: process.version,
  v8: process.versions.v8,
  cpu: cpus()[0]?.model,
  cores: cpus().length,
  quick,
  seconds,
  loadavg: { start: loadStart, end: loadEnd },
  rounds: ROUNDS,
  floorSyncUs: syncUs,
  tfjs: TFJS_VERSION,
  torch: torchInfo,
  native: nativeInfo,
  notes,
  rows,
});
log('wrote bench/results.json');
