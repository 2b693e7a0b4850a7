/**
 * `optax-ts/jax`: every gradient transformation on trees whose leaves are jax-js arrays.
 *
 * Importing this module registers {@link jaxArrayOps} with the core, so `radam`, `chain`,
 * `applyUpdates` and the other transformations accept `np.Array` leaves (and, inside `jit`, the
 * tracers that stand for them).
 *
 * ## Ownership
 *
 * jax-js arrays are reference counted and its operations consume their arguments. optax-ts does
 * not: every function here and in the core leaves the caller's arrays alive, with their reference
 * counts unchanged, and returns arrays the caller owns.
 *
 * - `init(params)`: `params` stay yours; the state's arrays are new and yours.
 * - `update(grads, state, params)`: `grads`, `state` and `params` stay yours (dispose the old state
 *   when you replace it); the returned updates and new state are yours.
 * - `applyUpdates(params, updates)`: both stay yours; the new params are yours.
 *
 * Call transformations through {@link tidyTransformation} (or wrap calls in {@link tidy}): it
 * frees every intermediate array, and gives every leaf of the result its own reference, even one
 * that is also an input leaf or that appears twice. Then every leaf of every returned tree is
 * disposed exactly once, with jax-js's `tree.dispose` (or `disposeTree`, for trees of arrays and
 * numbers only). Called directly, `radam`, `adam`, `sgd` and `chain`s of them free what they make,
 * but some transformations return leaves shared with their inputs or with each other (`trace`
 * stores its updates in its state; `masked`, `applyIfFinite` and `multiSteps` pass leaves through),
 * so disposing "the old state" then frees part of the new one; `lookahead` called directly leaves
 * temporaries behind.
 *
 * ## jit
 *
 * `update` runs inside jax-js's `jit` when the step count is a static argument
 * (`jit(fn, { staticArgnums })`): the per-step scalars (bias corrections, RAdam's `r_t`, schedule
 * values) are JavaScript numbers computed in float64 from the count, so they enter the trace as
 * constants, and jax-js traces and compiles the update again for every new count (its cache keeps
 * one program per count until the jitted function's `dispose()`). That works and gives the eager
 * results, but costs more per step than eager updates in our measurements, so the step loop is best
 * left eager (jax-js arrays are lazy and fuse elementwise work anyway). `sumOfSquares` and
 * `allFinite` read values back, so `clipByGlobalNorm` and `applyIfFinite` cannot run inside `jit`.
 *
 * In Node, start jax-js's WebAssembly backend first: `await init('wasm')`.
 *
 * @packageDocumentation
 */
import { Array as JaxArray, numpy as np } from '@jax-js/jax';
import type { GradientTransformation, GradientTransformationExtraArgs } from '../base.js';
import { type LeafOps, registerLeafOps } from '../leaf.js';
import { isContainer } from '../tree.js';

// `np.Array` extends jax-js's `Tracer` class, whose other subclasses stand for arrays inside
// `jit`, `grad` and `vmap`. The class itself is not exported; its constructor is the prototype's.
const parentClass: unknown = Object.getPrototypeOf(JaxArray.prototype)?.constructor;
const TracerClass: abstract new (...args: never[]) => object =
  typeof parentClass === 'function' && parentClass !== Object
    ? (parentClass as abstract new (
        ...args: never[]
      ) => object)
    : JaxArray;

/**
 * True for a jax-js array, or for the tracer that stands for one inside `jit`, `grad` or `vmap`.
 *
 * @example
 * ```ts
 * isJaxArray(np.array([1, 2])); // true
 * isJaxArray(new Float32Array(2)); // false
 * ```
 */
export function isJaxArray(x: unknown): x is JaxArray {
  return x instanceof TracerClass;
}

/** Arrays made by {@link jaxArrayOps}, counted per open {@link tidy} scope (innermost last). */
const scopes: Map<JaxArray, number>[] = [];

function track<T extends JaxArray>(x: T): T {
  const scope = scopes[scopes.length - 1];
  if (scope) scope.set(x, (scope.get(x) ?? 0) + 1);
  return x;
}

function untrack(x: JaxArray): void {
  const scope = scopes[scopes.length - 1];
  const n = scope?.get(x);
  if (n === undefined) return;
  if (n > 1) scope!.set(x, n - 1);
  else scope!.delete(x);
}

const FLOAT_DTYPES = new Set(['float16', 'float32', 'float64']);

function checkFloat(op: string, name: string, x: JaxArray): void {
  if (!FLOAT_DTYPES.has(x.dtype))
    throw new TypeError(
      `jaxArrayOps.${op}: ${name} has dtype ${x.dtype}; optax-ts updates floating-point arrays (float16, float32, float64)`,
    );
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function checkPair(op: string, names: [string, string], x: JaxArray, y: JaxArray): void {
  checkFloat(op, names[0], x);
  checkFloat(op, names[1], y);
  if (!sameShape(x.shape, y.shape))
    throw new TypeError(
      `jaxArrayOps.${op}: ${names[0]} has shape [${x.shape.join(', ')}], ${names[1]} has shape [${y.shape.join(', ')}]; they must be equal`,
    );
}

/** Throws unless `x` holds values (not a tracer inside `jit`, `grad` or `vmap`). */
function checkConcrete(op: string, x: JaxArray): void {
  // Inside jit, grad or vmap the leaf is a tracer: the same interface, another class.
  const traced: { dtype: string; shape: number[] } = x;
  if (!(x instanceof JaxArray))
    throw new TypeError(
      `jaxArrayOps.${op}: needs the values of the array, but got a traced ${traced.dtype}[${traced.shape.join(', ')}] (inside jit, grad or vmap); transformations that read values (clipByGlobalNorm, applyIfFinite) cannot be traced`,
    );
}

function noOut(op: string, out: unknown): void {
  if (out !== undefined)
    throw new TypeError(
      `jaxArrayOps.${op}: jax-js arrays are immutable, so there is no out argument (the in-place Optimizer takes typed arrays; use init/update)`,
    );
}

/** `x` cast to `dtype` (consuming `x`), tracked as a result of the current scope. */
function result(x: JaxArray, dtype: string): JaxArray {
  return track(x.dtype === dtype ? x : x.astype(dtype as JaxArray['dtype']));
}

/**
 * The {@link LeafOps} for jax-js arrays. Each operation leaves its arguments alive (it takes a
 * `.ref` of every argument it passes to jax-js) and returns a new array that the caller owns;
 * results have the dtype named in the core's contract (`moment` like `m`, `add` like `p`, ...).
 * Arithmetic runs in the leaves' dtype on the array's device, one jax-js operation after another
 * (float32 leaves round after each operation, where the core's typed-array path rounds once), so
 * float32 results agree with the core's to float32 precision rather than bit for bit.
 * `sumOfSquares` and `allFinite` read values back to JavaScript and so cannot run inside `jit`.
 *
 * @example
 * ```ts
 * const x = np.array([1, 2, 3]);
 * const y = jaxArrayOps.scale(x, 2); // [2, 4, 6]; x is still alive
 * y.dispose();
 * ```
 */
export const jaxArrayOps: LeafOps<JaxArray> = {
  name: 'jax-js Array',
  isLeaf: isJaxArray,
  size: (x) => x.size,
  dtype: (x) => x.dtype,
  zerosLike(x) {
    checkFloat('zerosLike', 'x', x);
    return track(np.zerosLike(x.ref));
  },
  moment(g, m, decay, order, out) {
    noOut('moment', out);
    checkPair('moment', ['g', 'm'], g, m);
    const g1 = order === 1 ? g.ref : np.square(g.ref);
    return result(g1.mul(1 - decay).add(m.ref.mul(decay)), m.dtype);
  },
  scale(x, s, out) {
    noOut('scale', out);
    checkFloat('scale', 'x', x);
    return result(x.ref.mul(s), x.dtype);
  },
  divide(x, s, out) {
    noOut('divide', out);
    checkFloat('divide', 'x', x);
    return result(x.ref.div(s), x.dtype);
  },
  linearCombination(a, x, b, y, out) {
    noOut('linearCombination', out);
    checkPair('linearCombination', ['x', 'y'], x, y);
    return result(x.ref.mul(a).add(y.ref.mul(b)), x.dtype);
  },
  adamRatio(mHat, v, r, bc2, epsRoot, eps, out) {
    noOut('adamRatio', out);
    checkPair('adamRatio', ['mHat', 'v'], mHat, v);
    const denominator = np.sqrt(v.ref.div(bc2).add(epsRoot)).add(eps);
    const ratio = mHat.ref.mul(r).div(denominator);
    // Where the momentum is zero the step is the momentum itself (0/0 gives 0, not NaN).
    return result(np.where(np.equal(mHat.ref, 0), mHat.ref, ratio), mHat.dtype);
  },
  add(p, u, out) {
    noOut('add', out);
    checkPair('add', ['p', 'u'], p, u);
    return result(p.ref.add(u.ref), p.dtype);
  },
  clip(x, lo, hi, out) {
    noOut('clip', out);
    checkFloat('clip', 'x', x);
    return result(np.clip(x.ref, lo, hi), x.dtype);
  },
  sumOfSquares(x) {
    checkFloat('sumOfSquares', 'x', x);
    checkConcrete('sumOfSquares', x);
    const data = x.ref.dataSync();
    let s = 0;
    for (let i = 0; i < data.length; i++) {
      const xi = data[i] as number;
      s += xi * xi;
    }
    return s;
  },
  allFinite(x) {
    checkFloat('allFinite', 'x', x);
    checkConcrete('allFinite', x);
    return Boolean(np.all(np.isfinite(x.ref)).item());
  },
  primitive(op, args) {
    // jax-js operations consume their arguments: pass a `.ref` of every array, and numbers as
    // they are (weakly typed, so they take the array's dtype, as the scalars of the kernels do).
    const [a, b, c] = args.map((x) => (typeof x === 'object' ? x.ref : x)) as [
      JaxArray,
      JaxArray,
      JaxArray,
    ];
    const like = args.find((x): x is JaxArray => typeof x === 'object' && x.dtype !== 'bool');
    let out: JaxArray;
    switch (op) {
      case 'add':
        out = np.add(a, b);
        break;
      case 'sub':
        out = np.subtract(a, b);
        break;
      case 'mul':
        out = np.multiply(a, b);
        break;
      case 'div':
        out = np.divide(a, b);
        break;
      case 'max':
        out = np.maximum(a, b);
        break;
      case 'min':
        out = np.minimum(a, b);
        break;
      case 'sqrt':
        out = np.sqrt(a);
        break;
      case 'abs':
        out = np.abs(a);
        break;
      case 'neg':
        out = np.negative(a);
        break;
      case 'lt':
        return track(np.less(a, b));
      case 'gt':
        return track(np.greater(a, b));
      case 'eq':
        return track(np.equal(a, b));
      case 'select':
        out = np.where(a, b, c);
        break;
    }
    return result(out, like?.dtype ?? out.dtype);
  },
  toHost(x) {
    checkFloat('toHost', 'x', x);
    checkConcrete('toHost', x);
    const data = x.ref.dataSync() as ArrayLike<number>;
    const out = x.dtype === 'float64' ? Float64Array.from(data) : Float32Array.from(data);
    return Object.assign(out, { shape: [...x.shape] });
  },
  fromHost(data, like) {
    const shape = (data as { shape?: number[] }).shape ?? [data.length];
    return track(hostArray(data, like.dtype).reshape(shape));
  },
  dispose(x) {
    untrack(x);
    x.dispose();
  },
};

/** The least and largest magnitudes the three-part float64 construction keeps exact. */
const PARTS_MIN = 2 ** -96;
const PARTS_MAX = 2 ** 127;

/**
 * A 1-D jax-js array of `dtype` holding `data` exactly. jax-js builds float64 arrays from a
 * `Float64Array` only where `Float16Array` exists (Node 22 and later, current browsers); elsewhere
 * a float64 array is the exact float64 sum of three float32 parts (hi + mid + lo: 72 bits of
 * significand, more than float64's 53), which needs each finite nonzero value's magnitude in
 * [2^-96, 2^127]: others are refused with a RangeError rather than rounded.
 */
function hostArray(data: Float32Array | Float64Array, dtype: string): JaxArray {
  if (dtype !== 'float64') {
    const out = np.array(Float32Array.from(data));
    return dtype === 'float32' ? out : out.astype(dtype as JaxArray['dtype']);
  }
  if (typeof (globalThis as { Float16Array?: unknown }).Float16Array !== 'undefined')
    return np.array(Float64Array.from(data));
  for (const v of data) {
    const a = Math.abs(v);
    if (Number.isFinite(v) && v !== 0 && (a < PARTS_MIN || a > PARTS_MAX))
      throw new RangeError(
        `jaxArrayOps.fromHost: ${v} cannot be made into a float64 jax-js array exactly on this runtime (jax-js needs Float16Array, Node 22 or later, for float64 data; without it magnitudes must be in [2^-96, 2^127])`,
      );
  }
  // Non-finite values go whole into hi (their parts would be NaN); a zero is all three parts, so
  // that -0 stays -0.
  const hi = Float32Array.from(data);
  const whole = (v: number) => !Number.isFinite(v) || v === 0;
  const rest = Float64Array.from(data, (v, i) => (v === 0 ? v : whole(v) ? 0 : v - hi[i]!));
  const mid = Float32Array.from(rest);
  const lo = Float32Array.from(rest, (v, i) => (whole(data[i]!) ? rest[i]! : v - mid[i]!));
  const part = (p: Float32Array) => np.array(p).astype(np.float64);
  return part(hi).add(part(mid)).add(part(lo));
}

registerLeafOps(jaxArrayOps);

/** Calls `visit` on every jax-js array leaf of a tree (plain objects and arrays are walked). */
function forEachJaxLeaf(tree: unknown, visit: (x: JaxArray) => void): void {
  if (isJaxArray(tree)) visit(tree);
  else if (Array.isArray(tree)) for (const child of tree) forEachJaxLeaf(child, visit);
  else if (isContainer(tree))
    for (const child of Object.values(tree as Record<string, unknown>))
      forEachJaxLeaf(child, visit);
}

function disposeScope(scope: Map<JaxArray, number>): void {
  for (const [x, n] of scope) for (let i = 0; i < n; i++) x.dispose();
}

/**
 * Runs `fn` and frees every jax-js array that optax-ts's operations made during the call and that
 * the result does not contain, as TF.js's `tf.tidy`. Every jax-js leaf of the result holds its own
 * reference: a leaf that `fn` did not make here (one of its inputs, passed through) or that
 * appears more than once gets an extra reference per occurrence, so the caller disposes each leaf
 * of the result once. If `fn` throws, the arrays it made are freed and the error is rethrown.
 * Scopes nest; arrays that survive an inner scope belong to the outer one.
 *
 * @example
 * ```ts
 * const [updates, next] = tidy(() => solver.update(grads, state, params));
 * ```
 */
export function tidy<R>(fn: () => R): R {
  const scope = new Map<JaxArray, number>();
  scopes.push(scope);
  let out: R;
  try {
    out = fn();
  } catch (err) {
    scopes.pop();
    disposeScope(scope);
    throw err;
  }
  scopes.pop();
  const owned: JaxArray[] = [];
  forEachJaxLeaf(out, (x) => {
    const n = scope.get(x);
    if (n === undefined) owned.push(x.ref);
    else {
      if (n > 1) scope.set(x, n - 1);
      else scope.delete(x);
      owned.push(x);
    }
  });
  disposeScope(scope);
  for (const x of owned) track(x);
  return out;
}

/**
 * `tx` with `init` and `update` run inside {@link tidy}: intermediate arrays (a `chain`'s
 * updates between its members) are freed, and every leaf of the returned updates and state is a
 * reference the caller owns and disposes once. Inputs are never consumed.
 *
 * @example
 * ```ts
 * const solver = tidyTransformation(radam(0.003));
 * let state = solver.init(params);
 * const [updates, next] = solver.update(grads, state, params);
 * disposeTree(state); // the old state
 * state = next;
 * ```
 */
export function tidyTransformation<S>(
  tx: GradientTransformation<S>,
): GradientTransformationExtraArgs<S> {
  const update = tx.update as GradientTransformationExtraArgs<S>['update'];
  return {
    init: (params) => tidy(() => tx.init(params)),
    update: (updates, state, params, extraArgs) =>
      tidy(() => update.call(tx, updates, state, params, extraArgs)),
  };
}
