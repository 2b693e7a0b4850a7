/**
 * Leaf arithmetic behind one small interface.
 *
 * Every transformation does its elementwise work through {@link LeafOps}, so a new array type
 * (TF.js tensors, jax-js arrays) is an adapter that implements these few operations and registers
 * them with {@link registerLeafOps}, not a rewrite of the transformations.
 *
 * The core's typed-array implementation computes in the result's dtype, as optax does for arrays
 * (scalars take the array's dtype):
 * - A `Float32Array` result is computed in float32, operation by operation: each `+`, `-`, `*`,
 *   `/` and square root is rounded to float32 on its own, and each scalar operand (a decay, a bias
 *   correction, `r_t`, a learning rate) is rounded to float32 before it enters an operation. The
 *   per-step scalars themselves are computed in float64 first. In JavaScript this is
 *   `Math.fround` after every single operation, which gives exactly what a float32 instruction
 *   (WebAssembly `f32x4`) gives, since the float64 result of one operation on float32 operands
 *   rounds to the correctly rounded float32 result.
 * - A `Float64Array` result (and a number leaf) is computed in float64, each element's formula
 *   evaluated as written.
 * - Mixed dtypes: the result's dtype decides. Inputs of the other dtype are converted to it first
 *   (a `Float64Array` input to a float32 result is rounded to float32, element by element, before
 *   any arithmetic; a `Float32Array` input to a float64 result is exact). The result's dtype is
 *   that of `out` when given, else of the input the operation's result is typed like. A mixed call
 *   converts through a temporary copy; same-dtype calls allocate nothing besides the result.
 *
 * Operations accept an optional `out` leaf to write into (the in-place `Optimizer` uses it); with
 * or without `out` the values are the same bits, which is what makes the functional and in-place
 * paths agree exactly. The fused kernels (`src/kernels/`) make the same operations in the same
 * order.
 */

import { type Primitive, typedArrayPrimitive } from './kernels/evaluate.js';
import { addInto, FUNCTIONAL_WASM_THRESHOLD } from './kernels/functional.js';
import { withShapeOf } from './shape.js';
import { checkName, describeValue, isForeignTypedArray } from './validate.js';

/** The elementwise operations the transformations need, for one kind of leaf. */
export interface LeafOps<L = any> {
  /** A short name for error messages, e.g. `typed array`, `tf.Tensor`. */
  readonly name: string;
  /** True when `x` is a leaf this implementation handles. */
  isLeaf(x: unknown): x is L;
  /** Number of elements. */
  size(x: L): number;
  /** Element type, e.g. `float32`. */
  dtype(x: L): string;
  /** Zeros of `x`'s type and shape. */
  zerosLike(x: L): L;
  /** `(1 - decay) * g + decay * m` (order 1) or `(1 - decay) * g² + decay * m` (order 2); typed like `m`. */
  moment(g: L, m: L, decay: number, order: 1 | 2, out?: L): L;
  /** `x * s`; typed like `x`. */
  scale(x: L, s: number, out?: L): L;
  /** `x / s`; typed like `x`. */
  divide(x: L, s: number, out?: L): L;
  /** `a * x + b * y`; typed like `x`. */
  linearCombination(a: number, x: L, b: number, y: L, out?: L): L;
  /**
   * `r * mHat / (sqrt(v / bc2 + epsRoot) + eps)`, RAdam's and Adam's rescaled step; typed like
   * `mHat`. Where `mHat` is zero the result is `mHat` (so 0/0 gives 0, not NaN).
   */
  adamRatio(mHat: L, v: L, r: number, bc2: number, epsRoot: number, eps: number, out?: L): L;
  /** `p + u` in `p`'s type (what `applyUpdates` does per leaf). */
  add(p: L, u: L, out?: L): L;
  /** Each element clamped to `[lo, hi]`; typed like `x`. */
  clip(x: L, lo: number, hi: number, out?: L): L;
  /** `sum(x²)` in float64. */
  sumOfSquares(x: L): number;
  /** False when any element is NaN or ±Infinity. */
  allFinite(x: L): boolean;
  /**
   * One operation of the per-element expression form over whole leaves (see `kernels/evaluate.ts`):
   * how the catalogue's elementwise transformations (`elementwise`) run on this kind of leaf.
   * Absent: those transformations refuse these leaves with a clear error.
   */
  primitive?: Primitive<L>;
  /**
   * The leaf's values as a typed array of its float dtype, carrying its `shape`: how the
   * transformations written on typed arrays only (adafactor, sm3, novograd, muon, noisySgd) run on
   * this kind of leaf. Absent: those refuse these leaves.
   */
  toHost?(x: L): Float32Array | Float64Array;
  /** A new leaf of `like`'s kind and dtype holding `data`, shaped by `data.shape` (else 1-D). */
  fromHost?(data: Float32Array | Float64Array, like: L): L;
  /** Frees a temporary produced by these operations (tensors); absent for garbage-collected arrays. */
  dispose?(x: L): void;
}

type Typed = Float32Array | Float64Array;

/** A fresh zero array of `like`'s type and length, shaped like the first of `like`, `other`. */
function alloc(like: Typed, other?: unknown): Typed {
  return withShapeOf(
    like instanceof Float32Array ? new Float32Array(like.length) : new Float64Array(like.length),
    like,
    other,
  );
}

const R = Math.fround;

/** `x` itself when it is a `Float32Array`, else a copy rounded to float32 (mixed dtypes only). */
function f32(x: Typed): Float32Array {
  return x instanceof Float32Array ? x : Float32Array.from(x);
}

/** `x` itself when it is a `Float64Array`, else an exact float64 copy (mixed dtypes only). */
function f64(x: Typed): Float64Array {
  return x instanceof Float64Array ? x : Float64Array.from(x);
}

// The float32 loops: every +, -, *, / and sqrt is rounded to float32 (`R`) on its own, and every
// scalar is rounded to float32 before it enters an operation. Each operand is a float32 value, so
// the float64 operation followed by `R` gives the correctly rounded float32 result (float64 has
// more than 2 x 24 + 2 bits), which is what a float32 (or f32x4) instruction computes.

function momentF32(
  g: Float32Array,
  m: Float32Array,
  decay: number,
  order: 1 | 2,
  out: Float32Array,
) {
  const c = R(1 - decay);
  const d = R(decay);
  const n = out.length;
  if (order === 1) {
    for (let i = 0; i < n; i++) out[i] = R(R(c * g[i]!) + R(d * m[i]!));
  } else {
    for (let i = 0; i < n; i++) {
      const gi = g[i]!;
      out[i] = R(R(c * R(gi * gi)) + R(d * m[i]!));
    }
  }
}

function momentF64(
  g: Float64Array,
  m: Float64Array,
  decay: number,
  order: 1 | 2,
  out: Float64Array,
) {
  const c = 1 - decay;
  const n = out.length;
  if (order === 1) {
    for (let i = 0; i < n; i++) out[i] = c * g[i]! + decay * m[i]!;
  } else {
    for (let i = 0; i < n; i++) {
      const gi = g[i]!;
      out[i] = c * (gi * gi) + decay * m[i]!;
    }
  }
}

function scaleF32(x: Float32Array, s: number, out: Float32Array) {
  const t = R(s);
  const n = out.length;
  for (let i = 0; i < n; i++) out[i] = R(x[i]! * t);
}

function scaleF64(x: Float64Array, s: number, out: Float64Array) {
  const n = out.length;
  for (let i = 0; i < n; i++) out[i] = x[i]! * s;
}

function divideF32(x: Float32Array, s: number, out: Float32Array) {
  const t = R(s);
  const n = out.length;
  for (let i = 0; i < n; i++) out[i] = R(x[i]! / t);
}

function divideF64(x: Float64Array, s: number, out: Float64Array) {
  const n = out.length;
  for (let i = 0; i < n; i++) out[i] = x[i]! / s;
}

function linearCombinationF32(
  a: number,
  x: Float32Array,
  b: number,
  y: Float32Array,
  out: Float32Array,
) {
  const A = R(a);
  const B = R(b);
  const n = out.length;
  for (let i = 0; i < n; i++) out[i] = R(R(A * x[i]!) + R(B * y[i]!));
}

function linearCombinationF64(
  a: number,
  x: Float64Array,
  b: number,
  y: Float64Array,
  out: Float64Array,
) {
  const n = out.length;
  for (let i = 0; i < n; i++) out[i] = a * x[i]! + b * y[i]!;
}

function adamRatioF32(
  mHat: Float32Array,
  v: Float32Array,
  r: number,
  bc2: number,
  epsRoot: number,
  eps: number,
  out: Float32Array,
) {
  const rr = R(r);
  const b = R(bc2);
  const er = R(epsRoot);
  const e = R(eps);
  const n = out.length;
  for (let i = 0; i < n; i++) {
    const m = mHat[i]!;
    // A zero momentum gives a zero step, even where the denominator is 0 (eps = epsRoot = 0).
    if (m === 0) out[i] = m;
    else {
      const den = R(R(Math.sqrt(R(R(v[i]! / b) + er))) + e);
      out[i] = R(R(rr * m) / den);
    }
  }
}

function adamRatioF64(
  mHat: Float64Array,
  v: Float64Array,
  r: number,
  bc2: number,
  epsRoot: number,
  eps: number,
  out: Float64Array,
) {
  const n = out.length;
  for (let i = 0; i < n; i++) {
    const m = mHat[i]!;
    out[i] = m === 0 ? m : (r * m) / (Math.sqrt(v[i]! / bc2 + epsRoot) + eps);
  }
}

function addF32(p: Float32Array, u: Float32Array, out: Float32Array) {
  const n = out.length;
  for (let i = 0; i < n; i++) out[i] = R(p[i]! + u[i]!);
}

function addF64(p: Float64Array, u: Float64Array, out: Float64Array) {
  const n = out.length;
  for (let i = 0; i < n; i++) out[i] = p[i]! + u[i]!;
}

/**
 * Typed-array arithmetic: float32 operation by operation for a `Float32Array` result, float64 for
 * a `Float64Array` result (see the module comment for the exact rules and mixed dtypes).
 */
export const typedArrayOps: LeafOps<Float32Array | Float64Array> = {
  name: 'typed array',
  isLeaf: (x): x is Typed => x instanceof Float32Array || x instanceof Float64Array,
  size: (x) => x.length,
  dtype: (x) => (x instanceof Float32Array ? 'float32' : 'float64'),
  zerosLike: (x) => alloc(x),
  primitive: typedArrayPrimitive as Primitive<Typed>,
  moment(g, m, decay, order, out = alloc(m, g)) {
    if (out instanceof Float32Array) momentF32(f32(g), f32(m), decay, order, out);
    else momentF64(f64(g), f64(m), decay, order, out);
    return out;
  },
  scale(x, s, out = alloc(x)) {
    if (out instanceof Float32Array) scaleF32(f32(x), s, out);
    else scaleF64(f64(x), s, out);
    return out;
  },
  divide(x, s, out = alloc(x)) {
    if (out instanceof Float32Array) divideF32(f32(x), s, out);
    else divideF64(f64(x), s, out);
    return out;
  },
  linearCombination(a, x, b, y, out = alloc(x, y)) {
    if (out instanceof Float32Array) linearCombinationF32(a, f32(x), b, f32(y), out);
    else linearCombinationF64(a, f64(x), b, f64(y), out);
    return out;
  },
  adamRatio(mHat, v, r, bc2, epsRoot, eps, out = alloc(mHat, v)) {
    if (out instanceof Float32Array) adamRatioF32(f32(mHat), f32(v), r, bc2, epsRoot, eps, out);
    else adamRatioF64(f64(mHat), f64(v), r, bc2, epsRoot, eps, out);
    return out;
  },
  add(p, u, out = alloc(p, u)) {
    // Large arrays of one dtype: the generated kernel, WebAssembly SIMD where it loads.
    if (
      out.length >= FUNCTIONAL_WASM_THRESHOLD &&
      p.constructor === out.constructor &&
      u.constructor === out.constructor
    )
      return addInto(p, u, out);
    if (out instanceof Float32Array) addF32(f32(p), f32(u), out);
    else addF64(f64(p), f64(u), out);
    return out;
  },
  clip(x, lo, hi, out = alloc(x)) {
    const n = x.length;
    for (let i = 0; i < n; i++) {
      const xi = x[i]!;
      // NaN stays NaN, as jnp.clip does. Clamping, then storing (rounding to the result's dtype),
      // equals clamping to the rounded bounds, since rounding is monotone.
      out[i] = xi < lo ? lo : xi > hi ? hi : xi;
    }
    return out;
  },
  sumOfSquares(x) {
    let s = 0;
    for (let i = 0; i < x.length; i++) s += x[i]! * x[i]!;
    return s;
  },
  allFinite(x) {
    for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i]!)) return false;
    return true;
  },
};

/** Scalar leaves: plain JavaScript numbers, in float64, with the same formulas. */
export const numberOps: LeafOps<number> = {
  name: 'number',
  isLeaf: (x): x is number => typeof x === 'number',
  size: () => 1,
  dtype: () => 'float64',
  zerosLike: () => 0,
  moment: (g, m, decay, order) => (1 - decay) * (order === 1 ? g : g * g) + decay * m,
  scale: (x, s) => x * s,
  divide: (x, s) => x / s,
  linearCombination: (a, x, b, y) => a * x + b * y,
  adamRatio: (mHat, v, r, bc2, epsRoot, eps) =>
    mHat === 0 ? mHat : (r * mHat) / (Math.sqrt(v / bc2 + epsRoot) + eps),
  add: (p, u) => p + u,
  clip: (x, lo, hi) => (x < lo ? lo : x > hi ? hi : x),
  sumOfSquares: (x) => x * x,
  allFinite: (x) => Number.isFinite(x),
};

const registry: LeafOps[] = [];

/**
 * True when some registered array type has leaves to free (`dispose`); the core's typed arrays
 * and numbers never do, so code that frees temporaries can skip its bookkeeping entirely.
 */
export function anyLeafNeedsDispose(): boolean {
  for (const ops of registry) if (ops.dispose !== undefined) return true;
  return false;
}

/**
 * Registers the arithmetic for another array type. Adapters (`optax-ts/tfjs`, `optax-ts/jax`) call
 * this when imported; registering the same object twice is a no-op.
 *
 * @example
 * ```ts
 * // An adapter module does this once for its array type (here a stand-in that matches nothing):
 * const myOps: LeafOps = { ...numberOps, name: 'my array', isLeaf: (x): x is number => false };
 * registerLeafOps(myOps);
 * findLeafOps(1.5) === numberOps; // true
 * ```
 */
export function registerLeafOps(ops: LeafOps): void {
  const fn = 'registerLeafOps';
  if (ops === null || typeof ops !== 'object')
    throw new TypeError(
      `${fn}: ops must be a LeafOps object (name, isLeaf, size, dtype and the arithmetic), got ${describeValue(ops)}`,
    );
  const record = ops as unknown as Record<string, unknown>;
  if (typeof record.name !== 'string' || record.name === '')
    throw new TypeError(
      `${fn}: ops.name must be a non-empty string, got ${describeValue(record.name)}`,
    );
  for (const method of LEAF_OPS_METHODS)
    if (typeof record[method] !== 'function')
      throw new TypeError(
        `${fn}: ops.${method} must be a function (see the LeafOps interface), got ${describeValue(record[method])}`,
      );
  if (record.dispose !== undefined && typeof record.dispose !== 'function')
    throw new TypeError(
      `${fn}: ops.dispose must be a function or absent, got ${describeValue(record.dispose)}`,
    );
  if (!registry.includes(ops)) registry.push(ops);
}

/** The methods every {@link LeafOps} must have (`dispose` is optional). */
const LEAF_OPS_METHODS = [
  'isLeaf',
  'size',
  'dtype',
  'zerosLike',
  'moment',
  'scale',
  'divide',
  'linearCombination',
  'adamRatio',
  'add',
  'clip',
  'sumOfSquares',
  'allFinite',
] as const;

/**
 * The registered {@link LeafOps} for `x`, or `undefined`.
 *
 * @example
 * ```ts
 * findLeafOps(new Float64Array(1)) === typedArrayOps; // true
 * findLeafOps('text'); // undefined
 * ```
 */
export function findLeafOps(x: unknown): LeafOps | undefined {
  if (x instanceof Float32Array || x instanceof Float64Array) return typedArrayOps;
  if (typeof x === 'number') return numberOps;
  for (const ops of registry) if (ops.isLeaf(x)) return ops;
  return undefined;
}

/**
 * The {@link LeafOps} for `x`; throws a `TypeError` naming `path` when `x` is not a supported leaf.
 *
 * @example
 * ```ts
 * leafOps(new Float32Array(2)).scale(new Float32Array([1, 2]), 3); // Float32Array [3, 6]
 * ```
 */
export function leafOps(x: unknown, path = 'leaf'): LeafOps {
  const ops = findLeafOps(x);
  if (ops) return ops;
  checkName('leafOps', 'path', path);
  let found: string;
  if (x === null || x === undefined) found = String(x);
  else if (ArrayBuffer.isView(x) || typeof x === 'object')
    found = describeValue(x).replace(/ of length \d+$/, '');
  else found = describeValue(x);
  const extra = registry.map((o) => o.name);
  const hint = isForeignTypedArray(x)
    ? ` (a typed array from another realm, such as a vm context or an iframe, is not this realm's ${Object.prototype.toString.call(x).slice(8, -1)}: copy it with ${Object.prototype.toString.call(x).slice(8, -1)}.from(x))`
    : '';
  throw new TypeError(
    `${path}: unsupported leaf ${found}; expected number, Float32Array or Float64Array${
      extra.length > 0 ? ` or ${extra.join(', ')}` : ''
    }${hint}`,
  );
}

/**
 * `'f32'`, `'f64'` or `undefined`: the float array type of `x`, from any realm (the in-place
 * engine and the kernels decide a leaf's dtype with this).
 *
 * @example
 * ```ts
 * floatKind(new Float32Array(2)); // 'f32'
 * floatKind([1, 2]); // undefined
 * ```
 */
export function floatKind(x: unknown): 'f32' | 'f64' | undefined {
  if (!ArrayBuffer.isView(x)) return undefined;
  const tag = (x as { [Symbol.toStringTag]?: string })[Symbol.toStringTag];
  return tag === 'Float32Array' ? 'f32' : tag === 'Float64Array' ? 'f64' : undefined;
}

/**
 * A short description of a supported leaf for messages; `undefined` for anything else.
 *
 * @example
 * ```ts
 * describeLeaf(new Float32Array(3)); // 'Float32Array of length 3'
 * describeLeaf(2); // 'number 2'
 * ```
 */
export function describeLeaf(x: unknown): string | undefined {
  if (typeof x === 'number') return `number ${x}`;
  const ops = findLeafOps(x);
  if (!ops) return undefined;
  if (ArrayBuffer.isView(x)) return `${x.constructor.name} of length ${ops.size(x)}`;
  return `${ops.name} (${ops.dtype(x)}, ${ops.size(x)} elements)`;
}

/**
 * Frees a temporary leaf when its type needs it (tensors); a no-op for typed arrays and numbers.
 *
 * @example
 * ```ts
 * disposeLeaf(new Float32Array(4)); // nothing to free: garbage collected
 * ```
 */
export function disposeLeaf(x: unknown): void {
  if (x === null || typeof x !== 'object') return;
  const ops = findLeafOps(x);
  ops?.dispose?.(x);
}
