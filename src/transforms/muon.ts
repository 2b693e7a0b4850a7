/**
 * Muon's orthogonalized momentum, as `optax.contrib.scale_by_muon`, and its shape scaling
 * (`optax.contrib.scale_by_shape`). Leaves are 2-D matrices `[fanIn, fanOut]` (their `shape`).
 */

import type { EmptyState, GradientTransformationExtraArgs } from '../base.js';
import { safeIncrement } from '../base.js';
import { floatKind, leafOps, typedArrayOps } from '../leaf.js';
import { type Shape, shapeOf } from '../shape.js';
import type { ArrayLeaf } from '../tree.js';
import { isContainer, mapLeaves, treeLeaves, treeMap, treeZerosLike } from '../tree.js';
import {
  checkBoolean,
  checkCount,
  checkDecay,
  checkFinite,
  checkInteger,
  checkNonNegative,
  checkOptionKeys,
  describeValue,
} from '../validate.js';
import { rnd } from './rounding.js';

type Float = Float32Array | Float64Array;

/** A Newton–Schulz step's coefficients `[a, b, c]`: `x <- a x + (b A + (c A) A) x`, `A = x xᵀ`. */
export type NsCoeffs = readonly [number, number, number];

/**
 * optax's coefficient presets: `standard` (one triple for every step) and `dion` (five steps).
 *
 * @example
 * ```ts
 * NS_COEFFS_PRESETS.standard; // [3.4445, -4.775, 2.0315]
 * ```
 */
export const NS_COEFFS_PRESETS: Readonly<Record<'standard' | 'dion', NsCoeffs | NsCoeffs[]>> = {
  standard: [3.4445, -4.775, 2.0315],
  dion: [
    [4.0848, -6.8946, 2.927],
    [3.9505, -6.3029, 2.6377],
    [3.7418, -5.5913, 2.3037],
    [2.8769, -3.1427, 1.2046],
    [2.8366, -3.0525, 1.2012],
  ],
};

/** How the matrix is scaled before the Newton–Schulz steps. */
export type MuonPreconditioning = 'frobenius' | 'spectral' | 'aol' | 'schatten';

/** Options of {@link scaleByMuon}, with optax's defaults. */
export interface ScaleByMuonOptions {
  /** One triple for every step, or one per step (then `nsSteps` is not used). Default `standard`. */
  nsCoeffs?: NsCoeffs | readonly NsCoeffs[];
  /** Newton–Schulz steps with a single triple. Default 5. */
  nsSteps?: number;
  /** Momentum decay. Default 0.95. */
  beta?: number;
  /** Added to the Frobenius norm before dividing (and the floor of AOL/Schatten rescalings). Default 1e-8. */
  eps?: number;
  /** Nesterov momentum. Default true. */
  nesterov?: boolean;
  /** Scale each update by `sum(mHat * update)` (the dual norm). Default false. */
  adaptive?: boolean;
  /** `frobenius` (default), `spectral`, `aol` or `schatten`. */
  preconditioning?: MuonPreconditioning;
  /** How each leaf is seen as matrices (see {@link MuonDimensionNumbers}); default: 2-D leaves. */
  weightDimensionNumbers?: WeightDimensionNumbers;
}

/** The state of {@link scaleByMuon} (optax's `MuonState`). */
export interface MuonState<T = any> {
  /** Steps made so far (int32, saturating). */
  count: number;
  /** The momentum. */
  mu: T;
  /** The coefficients used, one triple or one per step. */
  nsCoeffs: number[] | number[][];
}

/** The checked coefficient rows (one per step) from the options. */
function coefficientRows(fn: string, coeffs: unknown, steps: number): NsCoeffs[] {
  const isTriple = (x: unknown): x is NsCoeffs =>
    Array.isArray(x) &&
    x.length === 3 &&
    x.every((v) => typeof v === 'number' && Number.isFinite(v));
  if (isTriple(coeffs)) return Array.from({ length: steps }, () => coeffs);
  if (Array.isArray(coeffs) && coeffs.length > 0 && coeffs.every(isTriple)) {
    if (coeffs.length > steps)
      throw new RangeError(
        `${fn}: nsCoeffs has ${coeffs.length} rows, more than nsSteps = ${steps} (optax: not enough coeffs to perform the steps)`,
      );
    return coeffs as NsCoeffs[];
  }
  throw new TypeError(
    `${fn}: nsCoeffs must be three finite numbers [a, b, c] or a list of such triples (one per step), got ${JSON.stringify(coeffs) ?? describeValue(coeffs)}`,
  );
}

/** Work buffers of one leaf (an `m x n` matrix with `m <= n`). */
interface NsWork {
  /** The leaf as `batch` matrices `fanIn x fanOut` (see {@link MuonDimensionNumbers}). */
  layout: MatrixLayout;
  m: number;
  n: number;
  transposed: boolean;
  x: Float;
  xNext: Float;
  a: Float;
  a2: Float;
  b: Float;
  s: Float64Array;
  /** Float64 `x xᵀ`, for the spectral norm's eigenvalues. */
  gram: Float64Array;
}

/**
 * Which axes of a leaf Muon treats as a matrix's rows (`reductionAxis`, the fan-in) and columns
 * (`outputAxis`, the fan-out), as optax's `MuonDimensionNumbers`; every other axis is a batch
 * axis, each of its slices orthogonalized on its own. Negative axes count from the end. A class
 * (not a plain object), so that a tree of them has them as leaves.
 *
 * @example
 * ```ts
 * const conv = new MuonDimensionNumbers([0, 1, 2], 3); // a [kh, kw, cin, cout] kernel
 * conv.outputAxis; // [3]
 * ```
 */
export class MuonDimensionNumbers {
  /** The fan-in axes. */
  readonly reductionAxis: readonly number[];
  /** The fan-out axes. */
  readonly outputAxis: readonly number[];
  constructor(
    reductionAxis: number | readonly number[] = 0,
    outputAxis: number | readonly number[] = 1,
  ) {
    const axes = (name: string, v: unknown): number[] => {
      const list = typeof v === 'number' ? [v] : v;
      if (!Array.isArray(list) || list.length === 0 || !list.every((a) => Number.isInteger(a)))
        throw new TypeError(
          `MuonDimensionNumbers: ${name} must be an integer axis or a non-empty list of them, got ${describeValue(v)}`,
        );
      return [...list];
    };
    this.reductionAxis = Object.freeze(axes('reductionAxis', reductionAxis));
    this.outputAxis = Object.freeze(axes('outputAxis', outputAxis));
    Object.freeze(this);
  }
}

/** A leaf as `batch` matrices `fanIn x fanOut`; `perm[k]` is the leaf index of flat entry `k`. */
interface MatrixLayout {
  batch: number;
  fanIn: number;
  fanOut: number;
  /** `null`: the leaf is already in that order (a 2-D leaf with the default axes). */
  perm: Int32Array | null;
}

/** The leaf's shape, else a clear error. */
function shapeOrThrow(fn: string, path: string, leaf: unknown, likes: unknown[]): Shape {
  let s: Shape | undefined = shapeOf(leaf);
  for (const l of likes) s ??= shapeOf(l);
  if (s === undefined || s.length < 2)
    throw new TypeError(
      `${fn}: ${path} is not a matrix (shape ${s ? `[${s.join(', ')}]` : 'unknown'}); Muon orthogonalizes 2-D leaves: give the params a shape [fanIn, fanOut], e.g. Object.assign(new Float32Array(r * c), { shape: [r, c] })`,
    );
  return s;
}

/** How a leaf of `shape` is seen as matrices under `dims` (default: a 2-D leaf, rows x columns). */
function matrixLayout(
  fn: string,
  path: string,
  shape: Shape,
  dims: MuonDimensionNumbers | null | undefined,
): MatrixLayout {
  const nd = shape.length;
  if (dims === undefined || dims === null) {
    if (nd !== 2)
      throw new TypeError(
        `${fn}: ${path} has shape [${shape.join(', ')}]; without weightDimensionNumbers Muon takes 2-D leaves only`,
      );
    return { batch: 1, fanIn: shape[0]!, fanOut: shape[1]!, perm: null };
  }
  if (!(dims instanceof MuonDimensionNumbers))
    throw new TypeError(
      `${fn}: the weight dimension numbers of ${path} must be a MuonDimensionNumbers or null, got ${describeValue(dims)}`,
    );
  const norm = (a: number) => {
    if (a < -nd || a >= nd)
      throw new RangeError(
        `${fn}: axis ${a} is out of range for ${path} of shape [${shape.join(', ')}]`,
      );
    return ((a % nd) + nd) % nd;
  };
  const red = dims.reductionAxis.map(norm);
  const out = dims.outputAxis.map(norm);
  const all = [...red, ...out];
  if (new Set(all).size !== all.length)
    throw new RangeError(
      `${fn}: the reduction axes [${red.join(', ')}] and output axes [${out.join(', ')}] of ${path} must be distinct`,
    );
  const batchAxes = shape.map((_, i) => i).filter((i) => !all.includes(i));
  const order = [...batchAxes, ...red, ...out];
  const size = (axes: number[]) => axes.reduce((p, a) => p * shape[a]!, 1);
  const layout: MatrixLayout = {
    batch: size(batchAxes),
    fanIn: size(red),
    fanOut: size(out),
    perm: null,
  };
  if (order.every((a, i) => a === i)) return layout;
  // perm[k]: the leaf index of entry k of the transposed array (row-major over `order`).
  const strides = new Array<number>(nd);
  let st = 1;
  for (let i = nd - 1; i >= 0; i--) {
    strides[i] = st;
    st *= shape[i]!;
  }
  const n = st;
  const perm = new Int32Array(n);
  const idx = new Array<number>(nd).fill(0);
  for (let k = 0; k < n; k++) {
    let at = 0;
    for (let j = 0; j < nd; j++) at += idx[j]! * strides[order[j]!]!;
    perm[k] = at;
    for (let j = nd - 1; j >= 0; j--) {
      idx[j]!++;
      if (idx[j]! < shape[order[j]!]!) break;
      idx[j] = 0;
    }
  }
  layout.perm = perm;
  return layout;
}

function workFor(like: Float, layout: MatrixLayout): NsWork {
  const C = like instanceof Float32Array ? Float32Array : Float64Array;
  const rows = layout.fanIn;
  const cols = layout.fanOut;
  const transposed = rows > cols;
  const m = transposed ? cols : rows;
  const n = transposed ? rows : cols;
  return {
    layout,
    m,
    n,
    transposed,
    x: new C(m * n),
    xNext: new C(m * n),
    a: new C(m * m),
    a2: new C(m * m),
    b: new C(m * m),
    s: new Float64Array(m),
    gram: new Float64Array(m * m),
  };
}

/** `out = lhs (p x q) @ rhs (q x r)`, each entry summed in float64 in index order, rounded once. */
function matmul(
  lhs: Float,
  rhs: Float,
  p: number,
  q: number,
  r: number,
  out: Float,
  f32: boolean,
): void {
  for (let i = 0; i < p; i++)
    for (let j = 0; j < r; j++) {
      let s = 0;
      for (let k = 0; k < q; k++) s += lhs[i * q + k]! * rhs[k * r + j]!;
      out[i * r + j] = rnd(f32, s);
    }
}

/** `a = x xᵀ` for the `m x n` matrix `x`. */
function gram(x: Float, m: number, n: number, a: Float, f32: boolean): void {
  for (let i = 0; i < m; i++)
    for (let j = 0; j < m; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += x[i * n + k]! * x[j * n + k]!;
      a[i * m + j] = rnd(f32, s);
    }
}

/**
 * Newton–Schulz orthogonalization of `w.x` in place (the input already scaled), one step per
 * coefficient row; the first step is AOL's or Schatten's when asked.
 */
function newtonSchulz(
  w: NsWork,
  rows: readonly NsCoeffs[],
  preconditioning: MuonPreconditioning,
  eps: number,
  f32: boolean,
): void {
  const { m, n } = w;
  let x = w.x;
  let next = w.xNext;
  const { a, a2, b } = w;
  const mm = m * m;
  const e = rnd(f32, eps);
  for (let step = 0; step < rows.length; step++) {
    const row = rows[step]!;
    const c0 = rnd(f32, row[0]);
    const c1 = rnd(f32, row[1]);
    const c2 = rnd(f32, row[2]);
    gram(x, m, n, a, f32);
    if (step === 0 && preconditioning === 'aol') {
      // s_i = (max(sum_j |a_ij|, eps))^-0.5; x <- s x (by rows), a <- a * s * sᵀ.
      for (let i = 0; i < m; i++) {
        let sum = 0;
        for (let j = 0; j < m; j++) sum += Math.abs(a[i * m + j]!);
        const r = rnd(f32, sum);
        w.s[i] = rnd(f32, 1 / Math.sqrt(r < e ? e : r));
      }
      for (let i = 0; i < m; i++)
        for (let k = 0; k < n; k++) x[i * n + k] = rnd(f32, x[i * n + k]! * w.s[i]!);
      for (let i = 0; i < m; i++)
        for (let j = 0; j < m; j++)
          a[i * m + j] = rnd(f32, rnd(f32, a[i * m + j]! * w.s[i]!) * w.s[j]!);
    } else if (step === 0 && preconditioning === 'schatten') {
      // s = (max(|a|_F, eps))^-0.5; x <- s x, a <- a s².
      let sum = 0;
      for (let i = 0; i < mm; i++) sum += a[i]! * a[i]!;
      const fro = rnd(f32, Math.sqrt(sum));
      const s = rnd(f32, 1 / Math.sqrt(fro < e ? e : fro));
      const s2 = rnd(f32, s * s);
      for (let i = 0; i < m * n; i++) x[i] = rnd(f32, x[i]! * s);
      for (let i = 0; i < mm; i++) a[i] = rnd(f32, a[i]! * s2);
    }
    // b = c1 a + (c2 a) a (optax's `coeffs[2] * a @ a` groups left to right).
    for (let i = 0; i < mm; i++) a2[i] = rnd(f32, c2 * a[i]!);
    matmul(a2, a, m, m, m, b, f32);
    for (let i = 0; i < mm; i++) b[i] = rnd(f32, rnd(f32, c1 * a[i]!) + b[i]!);
    // next = c0 x + b x.
    matmul(b, x, m, m, n, next, f32);
    for (let i = 0; i < m * n; i++) next[i] = rnd(f32, rnd(f32, c0 * x[i]!) + next[i]!);
    const t = x;
    x = next;
    next = t;
  }
  // The result lives in w.x.
  if (x !== w.x) w.x.set(x);
}

/**
 * The largest singular value of the `m x n` matrix `x` (`m <= n`), in float64: the square root of
 * the largest eigenvalue of `x xᵀ`, found by cyclic Jacobi rotations (to float64 accuracy; optax
 * takes it from an SVD). `g` is an `m x m` float64 scratch.
 */
function spectralNorm(x: Float, m: number, n: number, g: Float64Array): number {
  for (let i = 0; i < m; i++)
    for (let j = 0; j < m; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += x[i * n + k]! * x[j * n + k]!;
      g[i * m + j] = s;
    }
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    let diag = 0;
    for (let i = 0; i < m; i++)
      for (let j = 0; j < m; j++) {
        const v = g[i * m + j]!;
        if (i === j) diag += v * v;
        else off += v * v;
      }
    if (!(off > 1e-32 * diag)) break;
    for (let p = 0; p < m - 1; p++)
      for (let q = p + 1; q < m; q++) {
        const apq = g[p * m + q]!;
        if (apq === 0) continue;
        const app = g[p * m + p]!;
        const aqq = g[q * m + q]!;
        // The rotation that zeroes g[p][q]: tan t = sign(theta) / (|theta| + sqrt(theta² + 1)).
        const theta = (aqq - app) / (2 * apq);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const sn = t * c;
        for (let k = 0; k < m; k++) {
          const gkp = g[k * m + p]!;
          const gkq = g[k * m + q]!;
          g[k * m + p] = c * gkp - sn * gkq;
          g[k * m + q] = sn * gkp + c * gkq;
        }
        for (let k = 0; k < m; k++) {
          const gpk = g[p * m + k]!;
          const gqk = g[q * m + k]!;
          g[p * m + k] = c * gpk - sn * gqk;
          g[q * m + k] = sn * gpk + c * gqk;
        }
      }
  }
  let top = 0;
  for (let i = 0; i < m; i++) {
    const v = g[i * m + i]!;
    if (v > top || Number.isNaN(v)) top = v;
  }
  return Math.sqrt(top);
}

/** Hyperparameters of one leaf's step. */
interface MuonHp {
  beta: number;
  eps: number;
  nesterov: boolean;
  adaptive: boolean;
  preconditioning: MuonPreconditioning;
  rows: readonly NsCoeffs[];
}

/**
 * One leaf: the momentum into `muOut`, the (Nesterov) bias-corrected momentum into `u`, then its
 * orthogonalization into `u`. Shared by both paths; `u` may alias `g`; `w.x` also holds `g / bc`
 * for a moment.
 */
function muonLeaf(
  g: Float,
  mu: Float,
  hp: MuonHp,
  sc: Float64Array,
  w: NsWork,
  muOut: Float,
  u: Float,
): void {
  const f32 = u instanceof Float32Array;
  // The step's scalars come in `sc` ([bc, bcNext]) so that no number is boxed per call.
  const d = rnd(f32, hp.beta);
  const c = rnd(f32, 1 - hp.beta);
  const bc = rnd(f32, sc[0]!);
  const bcNext = rnd(f32, sc[1]!);
  const len = u.length;
  // mu = (1 - beta) g + beta mu; mHat = mu / bc, or with Nesterov
  // beta (mu / bcNext) + (1 - beta) (g / bc), each operation rounded to the dtype.
  for (let i = 0; i < len; i++) {
    const gi = g[i]!;
    const m = rnd(f32, rnd(f32, c * gi) + rnd(f32, d * mu[i]!));
    muOut[i] = m;
    u[i] = hp.nesterov
      ? rnd(f32, rnd(f32, d * rnd(f32, m / bcNext)) + rnd(f32, c * rnd(f32, gi / bc)))
      : rnd(f32, m / bc);
  }
  // u holds mHat. Each matrix of the leaf in turn: copied into x (m x n, transposed when it has
  // more rows than columns), scaled, orthogonalized and written back; with `adaptive`, the sum of
  // mHat * update over the whole leaf (in the order the matrices are visited).
  const { m, n, transposed, x, layout } = w;
  const { batch, fanIn, fanOut, perm } = layout;
  let dot = 0;
  for (let bi = 0; bi < batch; bi++) {
    const base = bi * fanIn * fanOut;
    for (let r = 0; r < fanIn; r++)
      for (let c = 0; c < fanOut; c++) {
        const k = base + r * fanOut + c;
        x[transposed ? c * fanIn + r : r * fanOut + c] = u[perm === null ? k : perm[k]!]!;
      }
    if (hp.preconditioning === 'frobenius' || hp.preconditioning === 'spectral') {
      let norm: number;
      if (hp.preconditioning === 'spectral') norm = spectralNorm(x, m, n, w.gram);
      else {
        let sum = 0;
        for (let i = 0; i < x.length; i++) sum += x[i]! * x[i]!;
        norm = Math.sqrt(sum);
      }
      const den = rnd(f32, rnd(f32, norm) + rnd(f32, hp.eps));
      for (let i = 0; i < x.length; i++) x[i] = rnd(f32, x[i]! / den);
    }
    newtonSchulz(w, hp.rows, hp.preconditioning, hp.eps, f32);
    for (let r = 0; r < fanIn; r++)
      for (let c = 0; c < fanOut; c++) {
        const k = base + r * fanOut + c;
        const at = perm === null ? k : perm[k]!;
        const v = x[transposed ? c * fanIn + r : r * fanOut + c]!;
        dot += rnd(f32, u[at]! * v);
        u[at] = v;
      }
  }
  if (hp.adaptive) {
    const sc = rnd(f32, dot);
    for (let i = 0; i < u.length; i++) u[i] = rnd(f32, sc * u[i]!);
  }
}

/**
 * Weight dimension numbers: one {@link MuonDimensionNumbers} for every leaf, a tree of them (or
 * `null`) with the params' structure, or a function of the params returning either. `null` or
 * absent: every leaf is a 2-D matrix `[fanIn, fanOut]`.
 */
export type WeightDimensionNumbers =
  | MuonDimensionNumbers
  | unknown
  | ((params: any) => unknown)
  | null;

class DimSlot {
  constructor(readonly d: unknown) {}
}

/** The dimension numbers of each (non-null) leaf of `tree`, in leaf order. */
function dimsList(
  option: WeightDimensionNumbers | undefined,
  tree: unknown,
  source: unknown,
): unknown[] {
  const n = treeLeaves<unknown>(tree).length;
  if (option === undefined || option === null) return new Array(n).fill(undefined);
  const resolved =
    typeof option === 'function' ? (option as (p: unknown) => unknown)(source) : option;
  if (resolved === null || resolved instanceof MuonDimensionNumbers)
    return new Array(n).fill(resolved ?? undefined);
  return treeLeaves<DimSlot>(
    treeMap((_x: unknown, d: unknown) => new DimSlot(d), tree, resolved),
  ).map((slot) => slot.d);
}

class MuonLeafResult {
  constructor(
    readonly u: unknown,
    readonly mu: unknown,
  ) {}
}

/**
 * Muon's rescaling, as `optax.contrib.scale_by_muon`: the momentum `mu = (1 - beta) g + beta mu`,
 * its bias-corrected (by default Nesterov: `beta mu / (1 - beta^(t+1)) + (1 - beta) g / (1 -
 * beta^t)`) value, then Newton–Schulz orthogonalization of that matrix: scaled by its Frobenius
 * norm plus `eps` (or AOL's or Schatten's first step), transposed when it has more rows than
 * columns, then `x <- a x + (b A + (c A) A) x` with `A = x xᵀ`, one coefficient row per step.
 * Every leaf must be a 2-D matrix (its `shape`, else its param's); the `muon` alias sends the
 * others to AdamW. Matrix products and norms are summed in float64 and rounded once to the
 * leaf's dtype; every other operation is in the dtype. The `spectral` preconditioning divides by
 * the largest singular value, found by Jacobi eigenvalue sweeps of `x xᵀ` in float64 (optax uses
 * an SVD; the two agree to float64 rounding). optax's `muDtype` and `weightDimensionNumbers` are
 * not supported. Typed-array leaves only.
 *
 * @example
 * ```ts
 * const tx = scaleByMuon({ nsSteps: 1, nsCoeffs: [1.5, -0.5, 0], eps: 0, nesterov: false });
 * const w = Object.assign(new Float64Array(4), { shape: [2, 2] });
 * const [u] = tx.update({ w: Float64Array.of(3, 0, 0, 4) }, tx.init({ w }), { w });
 * // mHat = g; x = g / 5 = diag(0.6, 0.8); one step 1.5 x - 0.5 x xᵀ x: about [0.792, 0, 0, 0.944]
 * ```
 */
export function scaleByMuon(
  options: ScaleByMuonOptions = {},
): GradientTransformationExtraArgs<MuonState> {
  return scaleByMuonFor('scaleByMuon', options);
}

/**
 * {@link scaleByMuon} with errors naming `fn` (the alias that made it).
 *
 * @example
 * ```ts
 * scaleByMuonFor('muon', { beta: 1 }); // RangeError: muon: beta must be in [0, 1), got 1
 * ```
 */
export function scaleByMuonFor(
  fn: string,
  options: ScaleByMuonOptions,
): GradientTransformationExtraArgs<MuonState> {
  checkOptionKeys(fn, options, [
    'nsCoeffs',
    'nsSteps',
    'beta',
    'eps',
    'nesterov',
    'adaptive',
    'preconditioning',
    'weightDimensionNumbers',
  ]);
  const dimsOption = options.weightDimensionNumbers;
  const steps = checkInteger(fn, 'nsSteps', options.nsSteps ?? 5, 0);
  const given = options.nsCoeffs ?? NS_COEFFS_PRESETS.standard;
  const rows = coefficientRows(fn, given, steps);
  const single = !Array.isArray(given[0]);
  const preconditioning = options.preconditioning ?? 'frobenius';
  if (!['frobenius', 'spectral', 'aol', 'schatten'].includes(preconditioning))
    throw new TypeError(
      `${fn}: preconditioning must be 'frobenius', 'spectral', 'aol' or 'schatten', got ${JSON.stringify(preconditioning) ?? describeValue(preconditioning)}`,
    );
  const hp: MuonHp = {
    beta: checkDecay(fn, 'beta', options.beta ?? 0.95),
    eps: checkNonNegative(fn, 'eps', options.eps ?? 1e-8),
    nesterov: checkBoolean(fn, 'nesterov', options.nesterov ?? true),
    adaptive: checkBoolean(fn, 'adaptive', options.adaptive ?? false),
    preconditioning,
    rows,
  };
  const coeffState = () =>
    single ? [...(given as NsCoeffs)] : (given as NsCoeffs[]).map((r) => [...r]);
  /** The bias corrections after `t` steps and after `t + 1`. */
  const bc = (t: number) => 1 - hp.beta ** t;
  const checkState = (state: unknown): MuonState => {
    if (!isContainer(state) || Array.isArray(state) || !('count' in state) || !('mu' in state))
      throw new TypeError(
        `${fn}.update: state must be { count, mu, nsCoeffs } as made by ${fn}.init`,
      );
    checkCount(`${fn}.update: state.count`, (state as unknown as MuonState).count);
    return state as unknown as MuonState;
  };
  const checkLeaf = (path: string, g: unknown) => {
    if (floatKind(g) === undefined)
      throw new TypeError(
        `${fn}.update: updates${path} is ${typeof g === 'number' ? 'a number' : `a ${leafOps(g).name}`}; Muon takes Float32Array or Float64Array matrices`,
      );
  };
  return {
    init: (params) => ({ count: 0, mu: treeZerosLike(params), nsCoeffs: coeffState() }),
    update(updates, state, params) {
      const st = checkState(state);
      const t = safeIncrement(st.count);
      const bcNow = bc(t);
      const bcNext = bc(safeIncrement(t));
      const dims = dimsList(dimsOption, updates, params ?? updates);
      let k = 0;
      const results = mapLeaves(
        ([g, mu, p], path) => {
          checkLeaf(path, g);
          const shape = shapeOrThrow(fn, `updates${path}`, g, [p, mu]);
          const layout = matrixLayout(
            fn,
            `updates${path}`,
            shape,
            dims[k++] as MuonDimensionNumbers,
          );
          const muOut = typedArrayOps.zerosLike(mu as Float) as Float;
          const u = typedArrayOps.zerosLike(muOut) as Float;
          muonLeaf(
            g as Float,
            mu as Float,
            hp,
            Float64Array.of(bcNow, bcNext),
            workFor(u, layout),
            muOut,
            u,
          );
          return new MuonLeafResult(u, muOut);
        },
        params === undefined || params === null ? [updates, st.mu] : [updates, st.mu, params],
        ['updates', 'state.mu', 'params'],
      );
      return [
        treeMap((x: MuonLeafResult) => x.u, results),
        {
          count: t,
          mu: treeMap((x: MuonLeafResult) => x.mu, results),
          nsCoeffs: st.nsCoeffs,
        },
      ];
    },
    bindInPlace(state, params) {
      const st = state;
      const mu = treeLeaves<Float>(st.mu);
      const ps = treeLeaves<ArrayLeaf>(params);
      const dims = dimsList(dimsOption, params, params);
      const works = mu.map((m, i) => {
        const shape = shapeOrThrow(fn, `params leaf ${i}`, ps[i], [m]);
        return workFor(
          m,
          matrixLayout(fn, `params leaf ${i}`, shape, dims[i] as MuonDimensionNumbers),
        );
      });
      const sc = new Float64Array(2);
      let t = 0;
      return {
        cannotThrow: true,
        prepare() {
          checkState(st);
          t = safeIncrement(st.count);
          sc[0] = bc(t);
          sc[1] = bc(safeIncrement(t));
        },
        run(input, output) {
          for (let i = 0; i < input.length; i++)
            muonLeaf(input[i]!, mu[i]!, hp, sc, works[i]!, mu[i]!, output[i]!);
          st.count = t;
        },
      };
    },
  };
}

/** Options of {@link scaleByShape}. */
export interface ScaleByShapeOptions {
  /** `null` (default): width scaling `sqrt(max(1, fanOut / fanIn))`; a number `k`: `sqrt(max(fanIn, fanOut)) * k`. */
  consistentRms?: number | null;
  /** Which axes are the fan-in and fan-out (see {@link MuonDimensionNumbers}); default: 2-D leaves. */
  weightDimensionNumbers?: WeightDimensionNumbers;
}

/**
 * Scales each 2-D leaf `[fanIn, fanOut]` by a factor of its shape, as
 * `optax.contrib.scale_by_shape`: `sqrt(max(1, fanOut / fanIn))`, or with `consistentRms`
 * `sqrt(max(fanIn, fanOut)) * consistentRms` (computed in float64, rounded to the leaf's dtype).
 *
 * @example
 * ```ts
 * const w = Object.assign(Float64Array.of(1, 1, 1, 1), { shape: [1, 4] });
 * const [u] = scaleByShape().update({ w }, {}); // { w: Float64Array [2, 2, 2, 2] }
 * ```
 */
export function scaleByShape(
  options: ScaleByShapeOptions = {},
): GradientTransformationExtraArgs<EmptyState> {
  const fn = 'scaleByShape';
  checkOptionKeys(fn, options, ['consistentRms', 'weightDimensionNumbers']);
  const dimsOption = options.weightDimensionNumbers;
  const fans = (path: string, x: unknown, likes: unknown[], d: unknown): [number, number] => {
    const l = matrixLayout(fn, path, shapeOrThrow(fn, path, x, likes), d as MuonDimensionNumbers);
    return [l.fanIn, l.fanOut];
  };
  const rms = options.consistentRms ?? null;
  if (rms !== null) checkFinite(fn, 'consistentRms', rms);
  const factor = (r: number, c: number) =>
    rms === null ? Math.sqrt(Math.max(1, c / r)) : Math.sqrt(Math.max(r, c)) * rms;
  return {
    init: () => ({}),
    update(updates, state, params) {
      const dims = dimsList(dimsOption, updates, params ?? updates);
      let k = 0;
      const out = mapLeaves(
        ([u, p], path) => {
          const [r, c] = fans(`updates${path}`, u, [p], dims[k++]);
          return leafOps(u).scale(u, factor(r, c));
        },
        params === undefined || params === null ? [updates] : [updates, params],
        ['updates', 'params'],
      );
      return [out, state];
    },
    bindInPlace(_state, params) {
      const dims = dimsList(dimsOption, params, params);
      const factors = treeLeaves<ArrayLeaf>(params).map((p, i) => {
        const [r, c] = fans(`params leaf ${i}`, p, [], dims[i]);
        return factor(r, c);
      });
      return {
        cannotThrow: true,
        prepare() {},
        run(input, output) {
          for (let i = 0; i < input.length; i++)
            typedArrayOps.scale(input[i]!, factors[i]!, output[i]);
        },
      };
    },
  };
}
