/**
 * The ways of running `radam(1e-3)` through optax-ts's public API, as contenders for
 * bench/harness.ts: the in-place `Optimizer` (default, arena, JavaScript kernel), the functional
 * `update` + `applyUpdates`, the allocation bound of the functional path, and the per-call overhead
 * on small trees. Every case is stepped {@link WARMUP} times before timing, so that the timed steps
 * are rectified ones: with `radam`'s defaults, rho_t < 5 (momentum only) for steps 1 to 5.
 */
import {
  applyUpdates,
  type GradientTransformation,
  Optimizer,
  type OptimizerOptions,
  radam,
} from '../src/index.js';
import { batchFor, type Contender, local } from './harness.js';

/** Untimed steps before a case is timed (past RAdam's 5 unrectified steps). */
export const WARMUP = 6;

type Arr = Float32Array<ArrayBuffer> | Float64Array<ArrayBuffer>;

/** Name of the allocation-bound row. */
export const ALLOCATION_BOUND = 'allocation bound (4 new arrays)';

/** `n` elements of a smooth deterministic signal (different for each seed), scaled by `scale`. */
export function filled(f32: boolean, n: number, seed: number, scale = 0.5): Arr {
  const a = f32 ? new Float32Array(n) : new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.sin(i * 0.37 + seed) * scale;
  return a;
}

/** The kernel and thread count an optimizer runs (the table's note). */
function describe(opt: Optimizer): string {
  return opt.kernel === 'wasm'
    ? `wasm, ${opt.threads} thread${opt.threads === 2 ? 's' : ''}`
    : opt.kernel;
}

/**
 * An `Optimizer` of `tx` (default `radam(1e-3)`) on `{ w }` (a copy of `p`), warmed up, stepped
 * with `step({ w: g }, { value: 1 })` or, when `own`, with `step(undefined, { value: 1 })` after
 * `g` was written into `opt.grads.w` (the value is the loss, for the optimizers that read it).
 */
export function optimizerCase(
  name: string,
  g: Arr,
  p: Arr,
  options: OptimizerOptions | undefined,
  own: boolean,
  tx: GradientTransformation = radam(1e-3),
): Contender {
  const opt = new Optimizer(tx, { w: p.slice() }, options);
  if (own) (opt.grads.w as Arr).set(g);
  const grads = { w: g };
  const extra = { value: 1 };
  const step = own ? () => opt.step(undefined, extra) : () => opt.step(grads, extra);
  for (let i = 0; i < WARMUP; i++) step();
  return local(name, step, batchFor(g.length), { note: () => describe(opt) });
}

/**
 * The functional loop on one typed-array leaf: `[u, s] = tx.update(g, state, p)`,
 * `p = applyUpdates(p, u)`, with new arrays every step.
 */
function functionalCase(g: Arr, p: Arr): Contender {
  const tx = radam(1e-3);
  let params: unknown = p;
  let state = tx.init(params);
  const step = () => {
    const [u, s] = tx.update(g, state, params);
    state = s;
    params = applyUpdates(params, u);
  };
  for (let i = 0; i < WARMUP; i++) step();
  return local('functional update + applyUpdates', step, batchFor(g.length), {
    ratioTo: ALLOCATION_BOUND,
  });
}

/**
 * The least work the functional path can do: allocate its four outputs (new m, new v, the updates,
 * the new params) as fresh typed arrays of `n` and write each once (`.fill`). The previous step's
 * arrays become garbage, as the functional path's do.
 */
function allocationBound(f32: boolean, n: number): Contender {
  const Ctor = f32 ? Float32Array : Float64Array;
  // Held until the next step, as the functional path holds its state and params.
  const held: { arrays: Arr[] } = { arrays: [] };
  const step = () => {
    held.arrays = [
      new Ctor(n).fill(0.25),
      new Ctor(n).fill(0.5),
      new Ctor(n).fill(0.75),
      new Ctor(n).fill(1),
    ];
  };
  for (let i = 0; i < WARMUP; i++) step();
  return local(ALLOCATION_BOUND, step, batchFor(n), {
    dispose: () => {
      held.arrays = [];
    },
  });
}

/** Every mode for one leaf of `n` elements, in table order. */
export function modes(f32: boolean, n: number): Contender[] {
  const g = filled(f32, n, 3, 0.1);
  const p = filled(f32, n, 4);
  return [
    optimizerCase('Optimizer default, step(g)', g, p, undefined, false),
    optimizerCase('arena, step()', g, p, { arena: true }, true),
    optimizerCase('arena, step(), threads: 1', g, p, { arena: true, threads: 1 }, true),
    optimizerCase('arena, step(g)', g, p, { arena: true }, false),
    optimizerCase("kernel: 'js', step(g)", g, p, { kernel: 'js' }, false),
    functionalCase(g, p),
    allocationBound(f32, n),
  ];
}

/** Steps per sample for the small trees (each call is microseconds). */
const TREE_BATCH = 200;

/**
 * Per-call overhead on a float32 tree of `leaves` leaves of 10 elements: the functional loop and
 * the default `Optimizer` (which on trees under its WebAssembly threshold runs the JavaScript
 * kernel).
 */
export function smallTree(leaves: number): Contender[] {
  const tree = (seed: number, scale: number) =>
    Object.fromEntries(
      Array.from({ length: leaves }, (_, i) => [`w${i}`, filled(true, 10, seed + i, scale)]),
    );
  const grads = tree(1000, 0.1);
  const tx = radam(1e-3);
  let params: unknown = tree(0, 0.5);
  let state = tx.init(params);
  const functional = () => {
    const [u, s] = tx.update(grads, state, params);
    state = s;
    params = applyUpdates(params, u);
  };
  const opt = new Optimizer(radam(1e-3), tree(0, 0.5));
  const inPlace = () => opt.step(grads);
  for (let i = 0; i < WARMUP; i++) {
    functional();
    inPlace();
  }
  return [
    local(`tree ${leaves}x10, functional`, functional, TREE_BATCH),
    local(`tree ${leaves}x10, Optimizer default`, inPlace, TREE_BATCH, {
      note: () => describe(opt),
    }),
  ];
}
