/**
 * Adafactor's rescaling by a factored estimate of the gradients' root mean square, as
 * `optax.scale_by_factored_rms`; and the block-RMS helpers its alias chains
 * (`optax.clip_by_block_rms`, `optax.scale_by_param_block_rms`).
 */

import type { EmptyState, GradientTransformationExtraArgs } from '../base.js';
import { safeIncrement } from '../base.js';
import { floatKind, leafOps, typedArrayOps } from '../leaf.js';
import { type Shape, shapeOf } from '../shape.js';
import type { ArrayLeaf } from '../tree.js';
import { isContainer, mapLeaves, treeLeaves, treeMap } from '../tree.js';
import {
  checkBoolean,
  checkCount,
  checkFinite,
  checkInteger,
  checkNonNegative,
  checkOptionKeys,
  describeValue,
} from '../validate.js';
import { rnd } from './rounding.js';

type Float = Float32Array | Float64Array;

/** Options of {@link scaleByFactoredRms}, with optax's defaults. */
export interface ScaleByFactoredRmsOptions {
  /** Factor the second moment of leaves with two dimensions of at least `minDimSizeToFactor`. Default true. */
  factored?: boolean;
  /** The exponent of the decay schedule `1 - (t + 1)^-decayRate`. Default 0.8. */
  decayRate?: number;
  /** Subtracted from the step count before the decay schedule (for fine-tuning). Default 0. */
  stepOffset?: number;
  /** The smallest size of both factored dimensions. Default 128. */
  minDimSizeToFactor?: number;
  /** Added to the squared gradient. Default 1e-30. */
  epsilon?: number;
  /** The second-moment decay at step `count - stepOffset` given `decayRate`. Default `1 - (step + 1)^-decayRate`. */
  decayRateFn?: (step: number, decayRate: number) => number;
}

/** The state of {@link scaleByFactoredRms} (optax's `FactoredState`). */
export interface FactoredState<T = any> {
  /** Steps made so far (int32, saturating). */
  count: number;
  /** The factored moment averaged over the largest dimension (length 1 for unfactored leaves). */
  vRow: T;
  /** The factored moment averaged over the second largest dimension (length 1 for unfactored leaves). */
  vCol: T;
  /** The full second moment of unfactored leaves (length 1 for factored ones). */
  v: T;
}

/**
 * The two dimensions a leaf of `shape` is factored over, as optax picks them: `[d1, d0]`, the
 * second largest and the largest (a stable sort of the sizes, so of equal sizes the later is
 * `d0`); `null` when the leaf has fewer than two dimensions, when `factored` is false or when the
 * second largest is below `minDimSizeToFactor`.
 *
 * @example
 * ```ts
 * factoredDims([300, 200], true, 128); // [1, 0]
 * factoredDims([200, 200], true, 128); // [0, 1]
 * factoredDims([300, 100], true, 128); // null
 * ```
 */
export function factoredDims(
  shape: Shape,
  factored: boolean,
  minDimSizeToFactor: number,
): [number, number] | null {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0))
    throw new TypeError(
      `factoredDims: shape must be a list of non-negative integers, got ${describeValue(shape)}`,
    );
  checkBoolean('factoredDims', 'factored', factored);
  checkInteger('factoredDims', 'minDimSizeToFactor', minDimSizeToFactor, 0);
  if (!factored || shape.length < 2) return null;
  const order = shape.map((_, i) => i).sort((a, b) => shape[a]! - shape[b]! || a - b);
  const d1 = order[order.length - 2]!;
  const d0 = order[order.length - 1]!;
  if (shape[d1]! < minDimSizeToFactor) return null;
  return [d1, d0];
}

/**
 * How one leaf is walked: its shape as `[outer, na, mid, nb, inner]` around the factored
 * dimensions `a < b`, and which of them is `d0` (the one `vRow` averages over).
 */
interface Layout {
  readonly n: number;
  readonly outer: number;
  readonly na: number;
  readonly mid: number;
  readonly nb: number;
  readonly inner: number;
  /** `d0` is `b` (else `a`). */
  readonly d0IsB: boolean;
  /** Elements of vRow, of vCol, and of the shape without both dimensions. */
  readonly rows: number;
  readonly cols: number;
  readonly rest: number;
  readonly rowShape: number[];
  readonly colShape: number[];
}

function layoutOf(shape: Shape, dims: [number, number]): Layout {
  const [d1, d0] = dims;
  const a = Math.min(d0, d1);
  const b = Math.max(d0, d1);
  const prod = (from: number, to: number) => shape.slice(from, to).reduce((x, y) => x * y, 1);
  const outer = prod(0, a);
  const mid = prod(a + 1, b);
  const inner = prod(b + 1, shape.length);
  const na = shape[a]!;
  const nb = shape[b]!;
  const without = (d: number) => shape.filter((_, i) => i !== d);
  const rowShape = without(d0);
  const colShape = without(d1);
  return {
    n: outer * na * mid * nb * inner,
    outer,
    na,
    mid,
    nb,
    inner,
    d0IsB: d0 === b,
    rows: rowShape.reduce((x, y) => x * y, 1),
    cols: colShape.reduce((x, y) => x * y, 1),
    rest: outer * mid * inner,
    rowShape,
    colShape,
  };
}

/** Float64 scratch of one factored leaf (sums, the row-mean, the factors). */
interface Scratch {
  rowSum: Float64Array;
  colSum: Float64Array;
  restSum: Float64Array;
}

function scratchFor(l: Layout): Scratch {
  return {
    rowSum: new Float64Array(l.rows),
    colSum: new Float64Array(l.cols),
    restSum: new Float64Array(l.rest),
  };
}

/** `x^-0.5`, computed in float64 and rounded once by the caller. */
function rsqrt(x: number): number {
  return 1 / Math.sqrt(x);
}

/**
 * One factored leaf, written into `u`, `vRowOut`, `vColOut` (any may alias its input). Means are
 * summed in float64 in element order and rounded once to the leaf's dtype; every other operation
 * is rounded to the dtype (float32 for `Float32Array` leaves).
 */
function factoredLeaf(
  l: Layout,
  g: Float,
  vRow: Float,
  vCol: Float,
  sc: Float64Array,
  u: Float,
  vRowOut: Float,
  vColOut: Float,
  s: Scratch,
): void {
  const f32 = u instanceof Float32Array;
  // The step's scalars come in `sc` ([decay, epsilon]) so that no number is boxed per call.
  const d = rnd(f32, sc[0]!);
  const c = rnd(f32, 1 - sc[0]!);
  const eps = rnd(f32, sc[1]!);
  const { outer, na, mid, nb, inner, d0IsB } = l;
  const { rowSum, colSum, restSum } = s;
  rowSum.fill(0);
  colSum.fill(0);
  restSum.fill(0);
  // Pass 1: the sums of g² + eps over d0 (into the vRow layout) and over d1 (vCol).
  let i = 0;
  for (let o = 0; o < outer; o++)
    for (let ia = 0; ia < na; ia++)
      for (let m = 0; m < mid; m++)
        for (let ib = 0; ib < nb; ib++) {
          const noA = ((o * mid + m) * nb + ib) * inner;
          const noB = ((o * na + ia) * mid + m) * inner;
          const row = d0IsB ? noB : noA;
          const col = d0IsB ? noA : noB;
          for (let k = 0; k < inner; k++, i++) {
            const gi = g[i]!;
            const sq = rnd(f32, rnd(f32, gi * gi) + eps);
            rowSum[row + k] = rowSum[row + k]! + sq;
            colSum[col + k] = colSum[col + k]! + sq;
          }
        }
  // New vRow and vCol: decay * v + (1 - decay) * mean.
  const n0 = d0IsB ? nb : na;
  const n1 = d0IsB ? na : nb;
  for (let j = 0; j < l.rows; j++)
    vRowOut[j] = rnd(f32, rnd(f32, d * vRow[j]!) + rnd(f32, c * rnd(f32, rowSum[j]! / n0)));
  for (let j = 0; j < l.cols; j++)
    vColOut[j] = rnd(f32, rnd(f32, d * vCol[j]!) + rnd(f32, c * rnd(f32, colSum[j]! / n1)));
  // The mean of the new vRow over d1 (vRow's layout: d1 is a when d0 is b, else b).
  for (let o = 0; o < outer; o++)
    for (let x = 0; x < n1; x++)
      for (let m = 0; m < mid; m++) {
        const rest = (o * mid + m) * inner;
        const at = d0IsB ? ((o * na + x) * mid + m) * inner : ((o * mid + m) * nb + x) * inner;
        for (let k = 0; k < inner; k++) restSum[rest + k] = restSum[rest + k]! + vRowOut[at + k]!;
      }
  for (let q = 0; q < l.rest; q++) restSum[q] = rnd(f32, restSum[q]! / n1);
  // The factors: rowSum now holds (vRow / mean)^-0.5, colSum vCol^-0.5.
  for (let o = 0; o < outer; o++)
    for (let x = 0; x < n1; x++)
      for (let m = 0; m < mid; m++) {
        const rest = (o * mid + m) * inner;
        const at = d0IsB ? ((o * na + x) * mid + m) * inner : ((o * mid + m) * nb + x) * inner;
        for (let k = 0; k < inner; k++)
          rowSum[at + k] = rnd(f32, rsqrt(rnd(f32, vRowOut[at + k]! / restSum[rest + k]!)));
      }
  for (let j = 0; j < l.cols; j++) colSum[j] = rnd(f32, rsqrt(vColOut[j]!));
  // Pass 2: u = g * rowFactor * colFactor.
  i = 0;
  for (let o = 0; o < outer; o++)
    for (let ia = 0; ia < na; ia++)
      for (let m = 0; m < mid; m++)
        for (let ib = 0; ib < nb; ib++) {
          const noA = ((o * mid + m) * nb + ib) * inner;
          const noB = ((o * na + ia) * mid + m) * inner;
          const row = d0IsB ? noB : noA;
          const col = d0IsB ? noA : noB;
          for (let k = 0; k < inner; k++, i++)
            u[i] = rnd(f32, rnd(f32, g[i]! * rowSum[row + k]!) * colSum[col + k]!);
        }
}

/** One unfactored leaf: `v = decay * v + (1 - decay) * (g² + eps)`, `u = g * v^-0.5`. */
function unfactoredLeaf(g: Float, v: Float, sc: Float64Array, u: Float, vOut: Float): void {
  const f32 = u instanceof Float32Array;
  // The step's scalars come in `sc` ([decay, epsilon]) so that no number is boxed per call.
  const d = rnd(f32, sc[0]!);
  const c = rnd(f32, 1 - sc[0]!);
  const eps = rnd(f32, sc[1]!);
  const n = g.length;
  for (let i = 0; i < n; i++) {
    const gi = g[i]!;
    const vi = rnd(f32, rnd(f32, d * v[i]!) + rnd(f32, c * rnd(f32, rnd(f32, gi * gi) + eps)));
    vOut[i] = vi;
    u[i] = rnd(f32, gi * rnd(f32, rsqrt(vi)));
  }
}

/** optax's default decay schedule: `1 - (step + 1)^-decayRate` (in float64 here). */
function decayRatePow(step: number, exponent: number): number {
  return 1 - (step + 1) ** -exponent;
}

/** The shape of a leaf: its own, else its param's, else a vector. */
function leafShape(g: unknown, p: unknown, n: number): Shape {
  return shapeOf(g) ?? shapeOf(p) ?? [n];
}

function shaped<T extends Float>(x: T, shape: readonly number[]): T {
  return Object.assign(x, { shape: [...shape] });
}

class FactoredLeafResult {
  constructor(
    readonly u: unknown,
    readonly vRow: unknown,
    readonly vCol: unknown,
    readonly v: unknown,
  ) {}
}

/**
 * Rescales updates by a factored estimate of their root mean square, as
 * `optax.scale_by_factored_rms` (Adafactor's core). For a leaf whose two largest dimensions are
 * at least `minDimSizeToFactor` (see {@link factoredDims}; the leaf's `shape`, else its param's),
 * the second moment is kept as two averages, `vRow` over the largest dimension `d0` and `vCol`
 * over the second largest `d1`, and the update is `g * (vRow / mean_d1(vRow))^-0.5 * vCol^-0.5`;
 * other leaves keep the full `v` and get `g * v^-0.5`. Both use `g² + epsilon` and the decay
 * `decayRateFn(count - stepOffset, decayRate)`. Unused fields hold a zero of length 1, as in optax.
 * The state arrays carry their shapes.
 *
 * Needs the params (for their shapes, as optax does). Means are summed in float64 and rounded
 * once to the leaf's dtype; the decay is computed in float64 and rounded where it meets float32
 * arrays. Leaves must be typed arrays or numbers.
 *
 * @example
 * ```ts
 * const tx = scaleByFactoredRms({ minDimSizeToFactor: 2 });
 * const p = { w: Object.assign(new Float64Array(4), { shape: [2, 2] }) };
 * const [u] = tx.update({ w: Float64Array.of(2, 2, 2, 2) }, tx.init(p), p);
 * // The first decay is 1 - 1^-0.8 = 0: vRow = vCol = [4, 4], u = 2 * 1 * 4^-0.5
 * u.w; // Float64Array [1, 1, 1, 1]
 * ```
 */
export function scaleByFactoredRms(
  options: ScaleByFactoredRmsOptions = {},
): GradientTransformationExtraArgs<FactoredState> {
  const fn = 'scaleByFactoredRms';
  checkOptionKeys(fn, options, [
    'factored',
    'decayRate',
    'stepOffset',
    'minDimSizeToFactor',
    'epsilon',
    'decayRateFn',
  ]);
  const factored = checkBoolean(fn, 'factored', options.factored ?? true);
  const decayRate = checkFinite(fn, 'decayRate', options.decayRate ?? 0.8);
  const stepOffset = checkInteger(fn, 'stepOffset', options.stepOffset ?? 0, 0);
  const minDim = checkInteger(fn, 'minDimSizeToFactor', options.minDimSizeToFactor ?? 128, 0);
  const epsilon = checkNonNegative(fn, 'epsilon', options.epsilon ?? 1e-30);
  const decayRateFn = options.decayRateFn ?? decayRatePow;
  if (typeof decayRateFn !== 'function')
    throw new TypeError(
      `${fn}: decayRateFn must be a function (step, decayRate) => number, got ${describeValue(decayRateFn)}`,
    );
  const decayAt = (count: number): number => {
    const d = decayRateFn(count - stepOffset, decayRate);
    if (typeof d !== 'number' || Number.isNaN(d))
      throw new RangeError(
        `${fn}: the decay at count ${count} (decayRateFn(${count - stepOffset}, ${decayRate})) is ${describeValue(d)}; expected a number`,
      );
    return d;
  };
  const dimsOf = (shape: Shape) => factoredDims(shape, factored, minDim);

  const checkState = (state: unknown): FactoredState => {
    if (
      !isContainer(state) ||
      Array.isArray(state) ||
      !('count' in state && 'vRow' in state && 'vCol' in state && 'v' in state)
    )
      throw new TypeError(
        `${fn}.update: state must be { count, vRow, vCol, v } as made by ${fn}.init`,
      );
    checkCount(`${fn}.update: state.count`, (state as unknown as FactoredState).count);
    return state as unknown as FactoredState;
  };

  const initLeaf = (p: unknown): FactoredLeafResult => {
    if (typeof p === 'number') return new FactoredLeafResult(0, 0, 0, 0);
    const kind = floatKind(p);
    if (kind === undefined)
      throw new TypeError(
        `${fn}.init: ${leafOps(p).name} leaves are not supported (Float32Array, Float64Array or number leaves only)`,
      );
    const Ctor = kind === 'f32' ? Float32Array : Float64Array;
    const x = p as Float;
    const shape = leafShape(x, x, x.length);
    const dims = dimsOf(shape);
    if (dims === null)
      return new FactoredLeafResult(
        0,
        shaped(new Ctor(1), [1]),
        shaped(new Ctor(1), [1]),
        shaped(new Ctor(x.length), shape),
      );
    const l = layoutOf(shape, dims);
    return new FactoredLeafResult(
      0,
      shaped(new Ctor(l.rows), l.rowShape),
      shaped(new Ctor(l.cols), l.colShape),
      shaped(new Ctor(1), [1]),
    );
  };

  /** Checks one leaf's state against its layout; returns the layout (null: unfactored). */
  const leafPlan = (
    path: string,
    g: Float,
    p: unknown,
    vRow: unknown,
    vCol: unknown,
    v: unknown,
  ): Layout | null => {
    const shape = leafShape(g, p, g.length);
    const dims = dimsOf(shape);
    const l = dims === null ? null : layoutOf(shape, dims);
    const want = l === null ? [1, 1, g.length] : [l.rows, l.cols, 1];
    const got = [vRow, vCol, v];
    ['vRow', 'vCol', 'v'].forEach((k, j) => {
      const x = got[j];
      if (floatKind(x) !== floatKind(g) || (x as Float).length !== want[j])
        throw new TypeError(
          `${fn}.update: state.${k}${path} must be a ${g.constructor.name} of length ${want[j]} for updates of shape [${shape.join(', ')}] (${l === null ? 'not factored' : 'factored'}), got ${describeValue(x)}`,
        );
    });
    return l;
  };

  const tx: GradientTransformationExtraArgs<FactoredState> = {
    init(params) {
      const r = treeMap(initLeaf, params);
      const pick = (k: 'vRow' | 'vCol' | 'v') => treeMap((x: FactoredLeafResult) => x[k], r);
      return { count: 0, vRow: pick('vRow'), vCol: pick('vCol'), v: pick('v') };
    },
    update(updates, state, params) {
      const st = checkState(state);
      if (params === undefined || params === null)
        throw new TypeError(
          `${fn}.update: params are required (call update(updates, state, params)); their shapes decide which leaves are factored`,
        );
      const sc = Float64Array.of(decayAt(st.count), epsilon);
      const results = treeMap(
        (g: unknown, vRow: unknown, vCol: unknown, v: unknown, p: unknown) => {
          if (typeof g === 'number') {
            const nv = sc[0]! * (v as number) + (1 - sc[0]!) * (g * g + epsilon);
            return new FactoredLeafResult(g * rsqrt(nv), 0, 0, nv);
          }
          if (floatKind(g) === undefined)
            throw new TypeError(
              `${fn}.update: ${leafOps(g).name} leaves are not supported (Float32Array, Float64Array or number leaves only)`,
            );
          let x = g as Float;
          const f32 = floatKind(v) === 'f32';
          if (x instanceof Float32Array !== f32)
            x = f32 ? Float32Array.from(x) : Float64Array.from(x);
          const l = leafPlan('', x, p, vRow, vCol, v);
          const Ctor = f32 ? Float32Array : Float64Array;
          const shape = leafShape(g, p, x.length);
          const u = shaped(new Ctor(x.length), shape);
          if (l === null) {
            const nv = shaped(new Ctor(x.length), shape);
            unfactoredLeaf(x, v as Float, sc, u, nv);
            return new FactoredLeafResult(
              u,
              shaped(new Ctor(1), [1]),
              shaped(new Ctor(1), [1]),
              nv,
            );
          }
          const nr = shaped(new Ctor(l.rows), l.rowShape);
          const nc = shaped(new Ctor(l.cols), l.colShape);
          factoredLeaf(l, x, vRow as Float, vCol as Float, sc, u, nr, nc, scratchFor(l));
          return new FactoredLeafResult(u, nr, nc, shaped(new Ctor(1), [1]));
        },
        updates,
        st.vRow,
        st.vCol,
        st.v,
        params,
      );
      const pick = (k: keyof FactoredLeafResult) =>
        treeMap((x: FactoredLeafResult) => x[k], results);
      return [
        pick('u'),
        { count: safeIncrement(st.count), vRow: pick('vRow'), vCol: pick('vCol'), v: pick('v') },
      ];
    },
    bindInPlace(state, params) {
      const st = state;
      const pl = treeLeaves<ArrayLeaf>(params);
      const vRow = treeLeaves<Float>(st.vRow);
      const vCol = treeLeaves<Float>(st.vCol);
      const v = treeLeaves<Float>(st.v);
      const plans = pl.map((p, i) => leafPlan(`[${i}]`, p, p, vRow[i], vCol[i], v[i]));
      const scratch = plans.map((l) => (l === null ? null : scratchFor(l)));
      const sc = Float64Array.of(0, epsilon);
      return {
        cannotThrow: true,
        prepare() {
          checkState(st);
          sc[0] = decayAt(st.count);
        },
        run(input, output) {
          for (let i = 0; i < input.length; i++) {
            const l = plans[i]!;
            if (l === null) unfactoredLeaf(input[i]!, v[i]!, sc, output[i]!, v[i]!);
            else
              factoredLeaf(
                l,
                input[i]!,
                vRow[i]!,
                vCol[i]!,
                sc,
                output[i]!,
                vRow[i]!,
                vCol[i]!,
                scratch[i]!,
              );
          }
          st.count = safeIncrement(st.count);
        },
      };
    },
  };
  return tx;
}

/** The root mean square of a leaf, summed in float64 and rounded once to the leaf's dtype. */
function leafRms(x: unknown): number {
  const ops = leafOps(x);
  const n = ops.size(x);
  const r = Math.sqrt(ops.sumOfSquares(x) / n);
  return ops.dtype(x) === 'float32' ? Math.fround(r) : r;
}

/**
 * `u / max(1, rms(u) / hp[0])` on typed arrays (the scalars in `hp`, so that a step passes no
 * numbers, which the engine would box). `out` may be `u`.
 */
function clipBlockRmsTyped(u: Float, hp: Float64Array, out: Float): void {
  const f32 = u instanceof Float32Array;
  let s = 0;
  for (let i = 0; i < u.length; i++) s += u[i]! * u[i]!;
  const rms = rnd(f32, Math.sqrt(s / u.length));
  const t = rnd(f32, Math.max(1, rnd(f32, rms / rnd(f32, hp[0]!))));
  for (let i = 0; i < u.length; i++) out[i] = rnd(f32, u[i]! / t);
}

/** `u * max(rms(p), hp[0])` on typed arrays, as {@link clipBlockRmsTyped}. */
function paramBlockRmsTyped(u: Float, p: Float, hp: Float64Array, out: Float): void {
  const f32 = u instanceof Float32Array;
  const pf32 = p instanceof Float32Array;
  let s = 0;
  for (let i = 0; i < p.length; i++) s += p[i]! * p[i]!;
  const rms = rnd(pf32, Math.sqrt(s / p.length));
  const lo = rnd(pf32, hp[0]!);
  const t = rnd(f32, rms <= lo ? lo : rms);
  for (let i = 0; i < u.length; i++) out[i] = rnd(f32, u[i]! * t);
}

/**
 * Clips each leaf to a root mean square of at most `threshold`, as `optax.clip_by_block_rms`:
 * `u / max(1, rms(u) / threshold)`. The RMS is summed in float64 and rounded to the leaf's dtype.
 *
 * @example
 * ```ts
 * const [u] = clipByBlockRms(1).update({ w: Float64Array.of(3, 4) }, {}); // rms = sqrt(12.5)
 * // { w: Float64Array [0.8485..., 1.1313...] }
 * ```
 */
export function clipByBlockRms(threshold: number): GradientTransformationExtraArgs<EmptyState> {
  const fn = 'clipByBlockRms';
  checkFinite(fn, 'threshold', threshold);
  if (!(threshold > 0))
    throw new RangeError(
      `${fn}: threshold must be > 0 (the largest RMS allowed), got ${threshold}`,
    );
  const hp = Float64Array.of(threshold);
  const leaf = (u: unknown) => {
    if (floatKind(u) !== undefined) {
      const o = typedArrayOps.zerosLike(u as Float) as Float;
      clipBlockRmsTyped(u as Float, hp, o);
      return o;
    }
    const ops = leafOps(u);
    const f32 = ops.dtype(u) === 'float32';
    const den = Math.max(1, rnd(f32, leafRms(u) / rnd(f32, threshold)));
    return ops.divide(u, den);
  };
  return {
    init: () => ({}),
    update: (updates, state) => [mapLeaves(([u]) => leaf(u), [updates], ['updates']), state],
    bindInPlace: () => ({
      cannotThrow: true,
      prepare() {},
      run(input, output) {
        for (let i = 0; i < input.length; i++) clipBlockRmsTyped(input[i]!, hp, output[i]!);
      },
    }),
  };
}

/**
 * Scales each leaf of the updates by the root mean square of its param, at least `minScale`, as
 * `optax.scale_by_param_block_rms`. Needs the params.
 *
 * @example
 * ```ts
 * const tx = scaleByParamBlockRms();
 * const [u] = tx.update({ w: Float64Array.of(1, 1) }, {}, { w: Float64Array.of(3, 4) });
 * // { w: Float64Array [3.5355..., 3.5355...] }
 * ```
 */
export function scaleByParamBlockRms(minScale = 1e-3): GradientTransformationExtraArgs<EmptyState> {
  const fn = 'scaleByParamBlockRms';
  checkNonNegative(fn, 'minScale', minScale);
  const hp = Float64Array.of(minScale);
  const leaf = (u: unknown, p: unknown) => {
    if (floatKind(u) !== undefined && floatKind(p) !== undefined) {
      const o = typedArrayOps.zerosLike(u as Float) as Float;
      paramBlockRmsTyped(u as Float, p as Float, hp, o);
      return o;
    }
    const ops = leafOps(u);
    const f32 = ops.dtype(p) === 'float32';
    const rms = leafRms(p);
    const lo = rnd(f32, minScale);
    return ops.scale(u, rms <= lo ? lo : rms);
  };
  return {
    init: () => ({}),
    update(updates, state, params) {
      if (params === undefined || params === null)
        throw new TypeError(
          `${fn}.update: params are required (call update(updates, state, params))`,
        );
      return [mapLeaves(([u, p]) => leaf(u, p), [updates, params], ['updates', 'params']), state];
    },
    bindInPlace: () => ({
      cannotThrow: true,
      prepare() {},
      run(input, output, params) {
        for (let i = 0; i < input.length; i++)
          paramBlockRmsTyped(input[i]!, params[i] as Float, hp, output[i]!);
      },
    }),
  };
}
