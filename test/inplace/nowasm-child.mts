// Run by nowasm.test.ts under `node --no-expose-wasm`: builds optimizers where the SIMD kernels
// cannot load and prints what they chose and their results, as JSON on the last line.
import { applyUpdates, Optimizer, radam } from '../../src/index.js';

const grads = { w: new Float32Array(5000).fill(0.25) };
const rows: Record<string, unknown> = {};
for (const [name, options] of [
  ['default', {}],
  ['arena', { arena: true }],
  ['wasm', { kernel: 'wasm' as const }],
] as const) {
  const params = { w: new Float32Array(5000).fill(1) };
  const opt = new Optimizer(radam(1e-2), params, options);
  for (let k = 0; k < 7; k++) opt.step(grads);
  rows[name] = { kernel: opt.kernel, w: Array.from((opt.params as typeof params).w.slice(0, 2)) };
}
const tx = radam(1e-2);
let p: { w: Float32Array } = { w: new Float32Array(5000).fill(1) };
let s = tx.init(p);
for (let k = 0; k < 7; k++) {
  const [u, n] = tx.update(grads, s, p);
  s = n;
  p = applyUpdates(p, u);
}
rows.functional = Array.from(p.w.slice(0, 2));
rows.webAssembly = typeof (globalThis as { WebAssembly?: unknown }).WebAssembly;
console.log(JSON.stringify(rows));
