/**
 * `npm run bench:scale [-- --large]`: ns per element of the default in-place `Optimizer`
 * (`radam`, float32, one leaf, caller buffers) from 64 to 10M elements, against `{ kernel: 'js' }`,
 * and with `--large` one tree of 3e8 elements (a single leaf, streamed past one WebAssembly memory,
 * and three leaves, spread over two memories) with the process's peak resident memory. Medians of
 * repeated timings; the machine's load average is printed with them.
 */
import { loadavg } from 'node:os';
import { Optimizer, radam } from '../src/index.js';

const large = process.argv.includes('--large');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

function nsPerElement(leaves: number[], options: object, reps: number): number {
  const params = Object.fromEntries(leaves.map((n, i) => [`w${i}`, new Float32Array(n).fill(0.5)]));
  const grads = Object.fromEntries(leaves.map((n, i) => [`w${i}`, new Float32Array(n).fill(0.1)]));
  const total = leaves.reduce((a, b) => a + b, 0);
  const opt = new Optimizer(radam(1e-3), params, options);
  const inner = Math.max(1, Math.floor(2e6 / total));
  for (let i = 0; i < Math.min(inner, 50); i++) opt.step(grads);
  const ts: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    for (let i = 0; i < inner; i++) opt.step(grads);
    ts.push(((performance.now() - t) * 1e6) / (inner * total));
  }
  return median(ts);
}

console.log(
  `load average ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
console.log('elements      default ns/el   js ns/el');
for (const n of [64, 1e3, 1e4, 1e5, 1e6, 1e7]) {
  const reps = n >= 1e7 ? 5 : 9;
  const d = nsPerElement([n], {}, reps);
  const j = nsPerElement([n], { kernel: 'js' }, n >= 1e7 ? 3 : reps);
  console.log(`${String(n).padEnd(12)}  ${d.toFixed(2).padStart(13)}  ${j.toFixed(2).padStart(9)}`);
}
if (large) {
  for (const [name, leaves] of [
    ['3e8, one leaf (streamed)', [3e8]],
    ['3e8, three leaves of 1e8', [1e8, 1e8, 1e8]],
  ] as const) {
    const ns = nsPerElement([...leaves], {}, 3);
    const rss = process.resourceUsage().maxRSS / 1024 / 1024;
    console.log(`${name}: ${ns.toFixed(2)} ns/el, peak RSS so far ${rss.toFixed(2)} GiB`);
  }
}
