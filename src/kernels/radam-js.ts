/**
 * The fused RAdam step in plain JavaScript: one pass per leaf that reads g, m, v, p and writes m,
 * v, p. It makes the typed-array `LeafOps` operations in their order and with their roundings
 * (float32 leaves: every operation rounded to float32 and every scalar rounded to float32 first;
 * float64 leaves: float64), so the results are the functional path's bits. Float32 and float64
 * have separate functions so that each loop stays monomorphic.
 */

/** The per-step scalars of a fused step, computed once per step (float64). */
export interface KernelScalars {
  /** Whether this step is rectified (`rho_t >= threshold`). */
  rectify: boolean;
  nesterov: boolean;
  /** Whether decayed weights are added (`u + wd * p`) before the learning rate. */
  decay: boolean;
  /** `1 - b1` */
  a1: number;
  b1: number;
  /** `1 - b2` */
  a2: number;
  b2: number;
  bc1: number;
  bc1Next: number;
  bc2: number;
  r: number;
  epsRoot: number;
  eps: number;
  wd: number;
  /** The final scale (`-learningRate` for descent). */
  s: number;
}

/**
 * A fresh scalars record. The numbers start as NaN (not small integers) so that V8 gives the fields
 * a double representation from the start and never changes the object's shape when a step writes
 * them (which would deoptimize the kernels once).
 */
export function newKernelScalars(): KernelScalars {
  const nan = Number.NaN;
  return {
    rectify: false,
    nesterov: false,
    decay: false,
    a1: nan,
    b1: nan,
    a2: nan,
    b2: nan,
    bc1: nan,
    bc1Next: nan,
    bc2: nan,
    r: nan,
    epsRoot: nan,
    eps: nan,
    wd: nan,
    s: nan,
  };
}

/**
 * Fused RAdam step on elements `[start, end)` of float32 leaves, in place. In `LeafOps` terms, with
 * `R = Math.fround` and every scalar rounded to float32 first (`A1 = R(1 - b1)`, `B1 = R(b1)`, ...):
 * - `m = R(R(A1 g) + R(B1 m))`, `v = R(R(A2 R(g g)) + R(B2 v))` (moment);
 * - `mHat = R(m / BC1)` (divide), or with Nesterov
 *   `R(R(B1 R(m / BC1n)) + R(A1 R(g / BC1)))` (two divides and a linear combination);
 * - rectified: `u = mHat == 0 ? mHat : R(R(Rt mHat) / R(R(sqrt(R(R(v / BC2) + ER))) + E))`
 *   (adamRatio), else `u = mHat`;
 * - with decay `u = R(u + R(WD p))` (`linearCombination(1, u, wd, p)`); then `u = R(u S)` (scale)
 *   and `p = R(p + u)` (add).
 */
export function radamStepF32(
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  p: Float32Array,
  start: number,
  end: number,
  k: KernelScalars,
): void {
  const R = Math.fround;
  const A1 = R(k.a1);
  const B1 = R(k.b1);
  const A2 = R(k.a2);
  const B2 = R(k.b2);
  const BC1 = R(k.bc1);
  const BC1n = R(k.bc1Next);
  const BC2 = R(k.bc2);
  const Rt = R(k.r);
  const ER = R(k.epsRoot);
  const E = R(k.eps);
  const WD = R(k.wd);
  const S = R(k.s);
  const rectify = k.rectify;
  const nesterov = k.nesterov;
  const decay = k.decay;
  for (let i = start; i < end; i++) {
    const gi = g[i]!;
    const pi = p[i]!;
    const mi = R(R(A1 * gi) + R(B1 * m[i]!));
    const vi = R(R(A2 * R(gi * gi)) + R(B2 * v[i]!));
    m[i] = mi;
    v[i] = vi;
    let u = nesterov ? R(R(B1 * R(mi / BC1n)) + R(A1 * R(gi / BC1))) : R(mi / BC1);
    if (rectify && u !== 0) u = R(R(Rt * u) / R(R(Math.sqrt(R(R(vi / BC2) + ER))) + E));
    if (decay) u = R(u + R(WD * pi));
    p[i] = R(pi + R(u * S));
  }
}

/** Fused RAdam step on elements `[start, end)` of float64 leaves, in place. */
export function radamStepF64(
  g: Float64Array,
  m: Float64Array,
  v: Float64Array,
  p: Float64Array,
  start: number,
  end: number,
  k: KernelScalars,
): void {
  const { a1, b1, a2, b2, bc1, bc1Next, bc2, r, epsRoot, eps, wd, s } = k;
  const rectify = k.rectify;
  const nesterov = k.nesterov;
  const decay = k.decay;
  for (let i = start; i < end; i++) {
    const gi = g[i]!;
    const pi = p[i]!;
    const mi = a1 * gi + b1 * m[i]!;
    const vi = a2 * (gi * gi) + b2 * v[i]!;
    m[i] = mi;
    v[i] = vi;
    let u = nesterov ? b1 * (mi / bc1Next) + a1 * (gi / bc1) : mi / bc1;
    if (rectify && u !== 0) u = (r * u) / (Math.sqrt(vi / bc2 + epsRoot) + eps);
    if (decay) u = u + wd * pi;
    p[i] = pi + u * s;
  }
}
