/**
 * The fused RAdam step in plain JavaScript: one pass per leaf that reads g, m, v, p and writes m,
 * v, p. Each intermediate is rounded exactly where the typed-array `LeafOps` round (once per
 * operation, to the leaf's type), so the results are the functional path's bits. Float32 and
 * float64 have separate functions so that each loop stays monomorphic.
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

/** Fused RAdam step on elements `[start, end)` of float32 leaves, in place. */
export function radamStepF32(
  g: Float32Array,
  m: Float32Array,
  v: Float32Array,
  p: Float32Array,
  start: number,
  end: number,
  k: KernelScalars,
): void {
  const fr = Math.fround;
  const { a1, b1, a2, b2, bc1, bc1Next, bc2, r, epsRoot, eps, wd, s } = k;
  const rectify = k.rectify;
  const nesterov = k.nesterov;
  const decay = k.decay;
  for (let i = start; i < end; i++) {
    const gi = g[i]!;
    const pi = p[i]!;
    const mi = fr(a1 * gi + b1 * m[i]!);
    const vi = fr(a2 * (gi * gi) + b2 * v[i]!);
    m[i] = mi;
    v[i] = vi;
    let u = nesterov ? fr(b1 * fr(mi / bc1Next) + a1 * fr(gi / bc1)) : fr(mi / bc1);
    if (rectify && u !== 0) u = fr((r * u) / (Math.sqrt(vi / bc2 + epsRoot) + eps));
    if (decay) u = fr(u + wd * pi);
    p[i] = pi + fr(u * s);
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
