/**
 * Leaf arithmetic behind one small interface.
 *
 * Every transformation does its elementwise work through {@link LeafOps}, so a new array type
 * (TF.js tensors, jax-js arrays) is an adapter that implements these few operations and registers
 * them with {@link registerLeafOps}, not a rewrite of the transformations.
 *
 * Each operation is one elementwise pass that rounds once, to the result's dtype. The core's
 * typed-array implementation computes each element in float64 and stores it into the result, so a
 * `Float32Array` result is rounded to float32 exactly once per operation. Operations accept an
 * optional `out` leaf to write into (the in-place `Optimizer` uses it); with or without `out` the
 * values are the same bits, which is what makes the functional and in-place paths agree exactly.
 */

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
  /** A copy of `x` with the dtype of `like` (for `applyUpdates` and casting). */
  castLike?(x: L, like: L): L;
  /** Frees a temporary produced by these operations (tensors); absent for garbage-collected arrays. */
  dispose?(x: L): void;
}

type Typed = Float32Array | Float64Array;

function alloc(like: Typed): Typed {
  return like instanceof Float32Array
    ? new Float32Array(like.length)
    : new Float64Array(like.length);
}

/** Typed-array arithmetic: each element in float64, stored (and so rounded) into the result. */
export const typedArrayOps: LeafOps<Typed> = {
  name: 'typed array',
  isLeaf: (x): x is Typed => x instanceof Float32Array || x instanceof Float64Array,
  size: (x) => x.length,
  dtype: (x) => (x instanceof Float32Array ? 'float32' : 'float64'),
  zerosLike: (x) => alloc(x),
  moment(g, m, decay, order, out = alloc(m)) {
    const a = 1 - decay;
    const n = m.length;
    if (order === 1) {
      for (let i = 0; i < n; i++) out[i] = a * g[i]! + decay * m[i]!;
    } else {
      for (let i = 0; i < n; i++) {
        const gi = g[i]!;
        out[i] = a * (gi * gi) + decay * m[i]!;
      }
    }
    return out;
  },
  scale(x, s, out = alloc(x)) {
    const n = x.length;
    for (let i = 0; i < n; i++) out[i] = x[i]! * s;
    return out;
  },
  divide(x, s, out = alloc(x)) {
    const n = x.length;
    for (let i = 0; i < n; i++) out[i] = x[i]! / s;
    return out;
  },
  linearCombination(a, x, b, y, out = alloc(x)) {
    const n = x.length;
    for (let i = 0; i < n; i++) out[i] = a * x[i]! + b * y[i]!;
    return out;
  },
  adamRatio(mHat, v, r, bc2, epsRoot, eps, out = alloc(mHat)) {
    const n = mHat.length;
    for (let i = 0; i < n; i++) {
      const m = mHat[i]!;
      // A zero momentum gives a zero step, even where the denominator is 0 (eps = epsRoot = 0).
      out[i] = m === 0 ? m : (r * m) / (Math.sqrt(v[i]! / bc2 + epsRoot) + eps);
    }
    return out;
  },
  add(p, u, out = alloc(p)) {
    const n = p.length;
    for (let i = 0; i < n; i++) out[i] = p[i]! + u[i]!;
    return out;
  },
  clip(x, lo, hi, out = alloc(x)) {
    const n = x.length;
    for (let i = 0; i < n; i++) {
      const xi = x[i]!;
      // NaN stays NaN, as jnp.clip does.
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
  castLike(x, like) {
    const out = alloc(like);
    out.set(x);
    return out;
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
  castLike: (x) => x,
};

const registry: LeafOps[] = [];

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
  if (!registry.includes(ops)) registry.push(ops);
}

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
  let found: string;
  if (x === null || x === undefined) found = String(x);
  else if (ArrayBuffer.isView(x)) found = x.constructor.name;
  else if (typeof x === 'object') found = (x as object).constructor?.name ?? 'object';
  else found = `${typeof x} ${JSON.stringify(x)}`;
  const extra = registry.map((o) => o.name);
  throw new TypeError(
    `${path}: unsupported leaf ${found}; expected number, Float32Array or Float64Array${
      extra.length > 0 ? ` or ${extra.join(', ')}` : ''
    }`,
  );
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
