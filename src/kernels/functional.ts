/**
 * Chains of stages on the functional path: the inputs are left alone and the results go to fresh
 * arrays. Large leaves run the WebAssembly SIMD kernels through cache-sized windows of a private
 * memory (the inputs copied in and the results out, chunk by chunk); small ones, or where
 * WebAssembly SIMD is unavailable, the JavaScript kernels. Both give the same bits.
 */
import { chainOps, JsChain, type KernelOp } from './program.js';
import { BLOCK, PROGRAM } from './program-layout.js';
import { MAX_KERNEL_ARRAYS } from './stages.js';
import { instantiateKernels, type WasmRun, writeProgram } from './wasm.js';

type Float = Float32Array | Float64Array;

/** From this many elements a leaf runs the WebAssembly kernels. */
export const FUNCTIONAL_WASM_THRESHOLD = 512;

/** Elements per window chunk. */
const W = 16384;
/** Window regions: the params and up to {@link MAX_KERNEL_ARRAYS} arrays, float64 at most. */
const REGIONS = 1 + MAX_KERNEL_ARRAYS;
/** The most kernel calls a chain makes (one per stage), and the scalars each may read. */
export const MAX_OPS = 16;
const OP_SCALARS = 16;
const SCALARS = MAX_OPS * OP_SCALARS * 8;
const PROG = 4 * (PROGRAM.HEADER + MAX_OPS * PROGRAM.OP_WORDS);
const HEADER = PROG + SCALARS + BLOCK * 8;

interface Windows {
  run: WasmRun;
  buffer: ArrayBuffer;
  words: Int32Array;
}

let windows: Windows | null | undefined;
const JS_ARRAYS: Float[] = [];

/** The process's functional windows (one memory, made on first use), or `null` without SIMD. */
function theWindows(): Windows | null {
  if (windows === undefined) {
    const inst = instantiateKernels(HEADER + REGIONS * W * 8);
    windows = inst
      ? {
          run: inst.run,
          buffer: inst.memory.buffer,
          words: new Int32Array(inst.memory.buffer, 0, PROG >> 2),
        }
      : null;
  }
  return windows;
}

/**
 * Runs the kernel calls `ops` of a chain that ends with `emit` (or with `apply`, given `pOut`) on
 * one leaf of `n` elements: `inputs[k]` are the chain's arrays (`chainLayout` order; `undefined`
 * for the update that `emit` writes), `outputs[k]` where each array's new values go (`undefined`
 * for one only read, such as the gradient), `p` the params (when a stage reads them), `scalars` the
 * chain's. `js`: the JavaScript chain of the same ops and dtype (used for small leaves), its
 * scalars already set. `pOut`: where the params' new values go, for a chain ending with `apply`.
 */
export function runFunctional(
  ops: readonly KernelOp[],
  js: JsChain,
  f32: boolean,
  n: number,
  p: Float | undefined,
  inputs: readonly (Float | undefined)[],
  outputs: readonly (Float | undefined)[],
  scalars: ArrayLike<number>,
  pOut?: Float,
): void {
  const win = n >= FUNCTIONAL_WASM_THRESHOLD ? theWindows() : null;
  if (win === null) {
    // In place on the outputs, which start as copies of the inputs.
    const arrays = JS_ARRAYS;
    arrays.length = inputs.length;
    for (let k = 0; k < inputs.length; k++) {
      const out = outputs[k];
      const input = inputs[k];
      if (out !== undefined && input !== undefined) out.set(input);
      arrays[k] = (out ?? input)!;
    }
    if (pOut !== undefined && p !== undefined) pOut.set(p);
    js.run(pOut ?? p ?? arrays[0]!, arrays, n);
    return;
  }
  const size = f32 ? 4 : 8;
  const Ctor = f32 ? Float32Array : Float64Array;
  const region = (r: number) => HEADER + r * W * size;
  const view = (r: number, len: number) => new Ctor(win.buffer, region(r), len);
  if (ops.length > MAX_OPS) throw new Error(`a chain of more than ${MAX_OPS} kernel calls`);
  // The program: every array k in region 1 + k, the params in region 0.
  const scalarsOf = (k: number) => PROG + k * OP_SCALARS * 8;
  writeProgram(win.words, 0, ops, f32, region(0), (i) => region(1 + i), scalarsOf);
  ops.forEach((op, k) => {
    const out = new Ctor(win.buffer, scalarsOf(k), op.scalars.length);
    op.scalars.forEach((s, j) => {
      out[j] = scalars[s]!;
    });
  });
  for (let at = 0; at < n; at += W) {
    const len = Math.min(W, n - at);
    if (p !== undefined) view(0, len).set(p.subarray(at, at + len));
    for (let k = 0; k < inputs.length; k++) {
      const input = inputs[k];
      if (input !== undefined) view(1 + k, len).set(input.subarray(at, at + len));
    }
    win.run(0, 0, len, PROG + SCALARS);
    for (let k = 0; k < outputs.length; k++) outputs[k]?.set(view(1 + k, len), at);
    pOut?.set(view(0, len), at);
  }
}

const ADD = chainOps(['load', 'apply']);
const ADD_JS = { f32: new JsChain(ADD, true), f64: new JsChain(ADD, false) };
const NO_SCALARS = new Float64Array(0);

/**
 * `out = p + u` (`applyUpdates` on one leaf), for arrays of one dtype: the generated `apply`
 * kernel, through the windows for large arrays.
 *
 * @example
 * ```ts
 * const out = new Float32Array(2);
 * addInto(Float32Array.of(1, 2), Float32Array.of(0.5, -1), out); // out: [1.5, 1]
 * ```
 */
export function addInto<T extends Float>(p: T, u: T, out: T): T {
  const f32 = out instanceof Float32Array;
  runFunctional(
    ADD,
    f32 ? ADD_JS.f32 : ADD_JS.f64,
    f32,
    out.length,
    p,
    [u],
    [undefined],
    NO_SCALARS,
    out,
  );
  return out;
}
