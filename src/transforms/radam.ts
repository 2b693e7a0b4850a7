/** Rectified Adam's rescaling, as `optax.scale_by_radam`. */

import type { FusedMember, GradientTransformationExtraArgs } from '../base.js';
import { safeIncrement, withFusionTag } from '../base.js';
import { STAGES, type StageName } from '../kernels/stages.js';
import { disposeLeaf, type LeafOps, leafOps } from '../leaf.js';
import type { ArrayLeaf } from '../tree.js';
import { isContainer, mapLeaves, treeLeaves, treeMap, treeZerosLike } from '../tree.js';
import {
  checkBoolean,
  checkCount,
  checkDecay,
  checkFinite,
  checkNonNegative,
  checkOptionKeys,
  describeValue,
} from '../validate.js';
import { memberInPlace } from './elementwise.js';

/** Options of {@link scaleByRadam} (and of `radam`), with optax's defaults. */
export interface ScaleByRadamOptions {
  /** Decay of the first-moment (mean) average. Default 0.9. */
  b1?: number;
  /** Decay of the second-moment (uncentred variance) average. Default 0.999. */
  b2?: number;
  /** Added to the denominator outside the square root. Default 1e-8. */
  eps?: number;
  /** Added to the second moment inside the square root. Default 0. */
  epsRoot?: number;
  /** Rectify once `rho_t >= threshold`; before that, the step is the bias-corrected momentum. Default 5. */
  threshold?: number;
  /** Use Nesterov momentum. Default false. */
  nesterov?: boolean;
}

/** The resolved hyperparameters of {@link scaleByRadam}. */
export type RadamHyperparams = Required<ScaleByRadamOptions>;

/** The state of {@link scaleByRadam} (optax's `ScaleByAdamState`): step count and both moments. */
export interface ScaleByAdamState<T = any> {
  /** Steps made so far (int32, saturating). */
  count: number;
  /** The first moment (mean) of the gradients, leaf by leaf. */
  mu: T;
  /** The second moment (uncentred variance) of the gradients, leaf by leaf. */
  nu: T;
}

/**
 * The per-step scalars of RAdam, in float64 whatever the leaf type. `t` is the 1-based step.
 */
export interface RadamScalars {
  /** The 1-based step these scalars are for. */
  t: number;
  /** `1 - b1^t` */
  bc1: number;
  /** `1 - b1^(t+1)`, used by Nesterov momentum. */
  bc1Next: number;
  /** `1 - b2^t` */
  bc2: number;
  /** `rho_t`, the length of the approximated simple moving average. */
  rho: number;
  /** Whether this step is rectified (`rho_t >= threshold`). */
  rectify: boolean;
  /** The rectification factor `r_t` (1 when not rectifying; then unused). */
  r: number;
}

const RADAM_OPTIONS = ['b1', 'b2', 'eps', 'epsRoot', 'threshold', 'nesterov'] as const;

/**
 * Validates and fills in RAdam's options; `fn` names the caller in error messages.
 *
 * @example
 * ```ts
 * radamHyperparams('radam', { b2: 0.99 }).threshold; // 5
 * radamHyperparams('radam', { b1: 1 }); // RangeError: radam: b1 must be in [0, 1), got 1
 * ```
 */
export function radamHyperparams(fn: string, options: ScaleByRadamOptions = {}): RadamHyperparams {
  if (typeof fn !== 'string')
    throw new TypeError(
      `radamHyperparams: fn must be the name of the calling function (a string, for error messages), got ${describeValue(fn)}`,
    );
  checkOptionKeys(fn, options, RADAM_OPTIONS);
  const hp: RadamHyperparams = {
    b1: checkDecay(fn, 'b1', options.b1 ?? 0.9, ' (the decay of the first-moment average)'),
    b2: checkDecay(fn, 'b2', options.b2 ?? 0.999, ' (the decay of the second-moment average)'),
    eps: checkNonNegative(fn, 'eps', options.eps ?? 1e-8),
    epsRoot: checkNonNegative(fn, 'epsRoot', options.epsRoot ?? 0),
    threshold: checkFinite(fn, 'threshold', options.threshold ?? 5),
    nesterov: checkBoolean(fn, 'nesterov', options.nesterov ?? false),
  };
  if (hp.threshold < 4)
    throw new RangeError(
      `${fn}: threshold must be >= 4, got ${hp.threshold}: for 2 < rho_t < 4 the rectification factor r_t is the square root of a negative number (optax returns NaN there)`,
    );
  return hp;
}

/**
 * Fills `out` with the scalars of the step after `count` steps (`t = count + 1`, saturating at the
 * int32 maximum). `rho_inf = 2/(1-b2) - 1`, `rho_t = rho_inf - 2 t b2^t / (1 - b2^t)` and
 * `r_t = sqrt((rho_t-4)(rho_t-2) rho_inf / ((rho_inf-4)(rho_inf-2) rho_t))`.
 *
 * @example
 * ```ts
 * const hp = radamHyperparams('example');
 * const s = radamScalars(5, hp, newRadamScalars()); // the 6th step, the first rectified one
 * s.rectify; // true
 * Math.round(s.r * 1e4) / 1e4; // 0.0258
 * ```
 */
export function radamScalars(count: number, hp: RadamHyperparams, out: RadamScalars): RadamScalars {
  if (
    hp === null ||
    typeof hp !== 'object' ||
    typeof hp.b1 !== 'number' ||
    typeof hp.b2 !== 'number' ||
    typeof hp.threshold !== 'number'
  )
    throw new TypeError(
      'radamScalars: hp must be the hyperparameters made by radamHyperparams ({ b1, b2, threshold, ... })',
    );
  if (out === null || typeof out !== 'object')
    throw new TypeError('radamScalars: out must be a scalars record made by newRadamScalars()');
  checkCount('radamScalars: count', count);
  const t = safeIncrement(count);
  const b2t = hp.b2 ** t;
  out.t = t;
  out.bc1 = 1 - hp.b1 ** t;
  out.bc1Next = 1 - hp.b1 ** safeIncrement(t);
  out.bc2 = 1 - b2t;
  const rhoInf = 2 / (1 - hp.b2) - 1;
  const rho = rhoInf - (2 * t * b2t) / out.bc2;
  out.rho = rho;
  out.rectify = rho >= hp.threshold;
  out.r = 1;
  // Once b2^t underflows, rho_t equals rho_inf and r_t is exactly 1; computing it would give 0/0
  // in the one case rho_inf = 4 (b2 = 0.6).
  if (out.rectify && rho !== rhoInf) {
    out.r = Math.sqrt(((rho - 4) * (rho - 2) * rhoInf) / ((rhoInf - 4) * (rhoInf - 2) * rho));
  }
  return out;
}

/**
 * A fresh scalars record, to be filled by {@link radamScalars}.
 *
 * @example
 * ```ts
 * newRadamScalars().rectify; // false
 * ```
 */
export function newRadamScalars(): RadamScalars {
  return { t: 0, bc1: 0, bc1Next: 0, bc2: 0, rho: 0, rectify: false, r: 1 };
}

/** One leaf's results; a class instance so that trees of them are trees of leaves. */
class RadamLeafResult {
  u: unknown = null;
  mu: unknown = null;
  nu: unknown = null;
}

/**
 * RAdam on one leaf, on the functional path: both moments, then the bias-corrected (optionally
 * Nesterov) momentum, then, when rectifying, `r_t * mHat / (sqrt(nuHat + epsRoot) + eps)` (the
 * `adam` stages' operations, in their order). Temporaries are freed (tensors).
 */
function radamLeaf(
  ops: LeafOps,
  g: any,
  mu: any,
  nu: any,
  hp: AdamFamilyHyperparams,
  s: RadamScalars,
  res: RadamLeafResult,
): RadamLeafResult {
  const m = ops.moment(g, mu, hp.b1, 1);
  const v = ops.moment(g, nu, hp.b2, 2);
  let mHat: any;
  if (hp.nesterov) {
    // optax: b1 * mu / (1 - b1^(t+1)) + (1 - b1) * g / (1 - b1^t); the stored mu stays plain.
    const gHat = ops.divide(g, s.bc1);
    const mNext = ops.divide(m, s.bc1Next);
    mHat = ops.linearCombination(hp.b1, mNext, 1 - hp.b1, gHat);
    disposeLeaf(gHat);
    disposeLeaf(mNext);
  } else {
    mHat = ops.divide(m, s.bc1);
  }
  res.mu = m;
  res.nu = v;
  res.u = mHat;
  if (s.rectify) {
    res.u = ops.adamRatio(mHat, v, s.r, s.bc2, hp.epsRoot, hp.eps);
    disposeLeaf(mHat);
  }
  return res;
}

/** The hyperparameters the Adam-family leaf needs (RAdam's without the threshold). */
export type AdamFamilyHyperparams = Omit<RadamHyperparams, 'threshold'>;

/**
 * A transformation of the Adam family (`scaleByRadam`, `scaleByAdam`): state `{ count, mu, nu }`,
 * both moments, the bias-corrected (optionally Nesterov) momentum, then, on the steps that
 * `fillScalars` marks as rectified, `r * mHat / (sqrt(nuHat + epsRoot) + eps)`. Adam is the case
 * where every step is rectified with `r = 1`. The functional path runs
 * {@link radamLeaf}; in place, the member's generated `adam` stage kernel (the same operations, in the same order).
 */
export function adamFamily(
  fn: string,
  hp: AdamFamilyHyperparams,
  fillScalars: (count: number, out: RadamScalars) => void,
): GradientTransformationExtraArgs<ScaleByAdamState> {
  const fuse = fuseAdam(fn, hp, fillScalars);
  const tx: GradientTransformationExtraArgs<ScaleByAdamState> = {
    init: (params) => ({ count: 0, mu: treeZerosLike(params), nu: treeZerosLike(params) }),
    update(updates, state) {
      checkAdamState(fn, state);
      const s = newRadamScalars();
      fillScalars(state.count, s);
      const results = mapLeaves(
        ([g, mu, nu]) => radamLeaf(leafOps(g), g, mu, nu, hp, s, new RadamLeafResult()),
        [updates, state.mu, state.nu],
        ['updates', 'state.mu', 'state.nu'],
      );
      const pick = (key: 'u' | 'mu' | 'nu') => treeMap((r: RadamLeafResult) => r[key], results);
      return [pick('u'), { count: s.t, mu: pick('mu'), nu: pick('nu') }];
    },
    // In place on its own: the fused member's one-stage kernel (the same bits as radamLeaf).
    bindInPlace: (state) => memberInPlace(fuse(state, (tree) => treeLeaves<ArrayLeaf>(tree))!),
  };
  return withFusionTag(tx, { kind: 'stage', name: fn, fuse });
}

/**
 * The fused member of an Adam-family transformation: stage `adam` (rectified or Adam) or
 * `adamMomentum` (RAdam's unrectified steps), with Nesterov variants.
 */
function fuseAdam(
  fn: string,
  hp: AdamFamilyHyperparams,
  fillScalars: (count: number, out: RadamScalars) => void,
): (state: unknown, leaves: (tree: unknown) => ArrayLeaf[] | undefined) => FusedMember | undefined {
  const ratio: StageName = hp.nesterov ? 'adamNesterov' : 'adam';
  const momentum: StageName = hp.nesterov ? 'adamMomentumNesterov' : 'adamMomentum';
  const stages = [ratio, momentum];
  // The stage's scalars, in its order (STAGES.adam: a1, b1, a2, b2, bc1, bc2, r, epsRoot, eps[,
  // bc1Next]): the constant ones once, the per-step ones by index.
  const names = STAGES[ratio].scalars as readonly string[];
  const at = (name: string) => names.indexOf(name);
  const [BC1, BC2, R, BC1N] = [at('bc1'), at('bc2'), at('r'), at('bc1Next')];
  const known: Record<string, number> = {
    a1: 1 - hp.b1,
    b1: hp.b1,
    a2: 1 - hp.b2,
    b2: hp.b2,
    epsRoot: hp.epsRoot,
    eps: hp.eps,
  };
  const template = Float64Array.from(names, (n) => known[n] ?? Number.NaN);
  const countWhat = `${fn}.update: state.count`;
  return (state, leaves) => {
    const st = state as ScaleByAdamState;
    if (!isContainer(st) || Array.isArray(st) || !('mu' in st) || !('nu' in st)) return undefined;
    const mu = leaves(st.mu);
    const nu = leaves(st.nu);
    if (mu === undefined || nu === undefined) return undefined;
    const s = newRadamScalars();
    const scalars = template.slice();
    const member = {
      stages,
      stage: ratio as StageName,
      arrays: [mu, nu],
      scalars,
      prepare() {
        checkCount(countWhat, st.count);
        fillScalars(st.count, s);
        member.stage = s.rectify ? ratio : momentum;
        scalars[BC1] = s.bc1;
        scalars[BC2] = s.bc2;
        scalars[R] = s.r;
        if (BC1N >= 0) scalars[BC1N] = s.bc1Next;
      },
      commit() {
        st.count = s.t;
      },
    };
    return member;
  };
}

/**
 * Throws unless `state` looks like a state made by a RAdam/Adam `init`: `{ count, mu, nu }` with
 * `count` an integer in [0, 2^31 - 1].
 */
export function checkAdamState(fn: string, state: unknown): asserts state is ScaleByAdamState {
  const s = state as ScaleByAdamState;
  if (!isContainer(s) || Array.isArray(s) || !('count' in s) || !('mu' in s) || !('nu' in s))
    throw new TypeError(
      `${fn}.update: state must be { count, mu, nu } as made by ${fn}.init, got ${
        Array.isArray(s)
          ? `a list of length ${s.length}`
          : isContainer(s)
            ? `an object with keys [${Object.keys(s).join(', ')}]`
            : s === null
              ? 'null'
              : typeof s
      }`,
    );
  checkCount(`${fn}.update: state.count`, s.count);
}

/**
 * Rescales updates with Rectified Adam, as `optax.scale_by_radam`. Until the variance of the
 * adaptive step is tractable (`rho_t < threshold`; the first 5 steps with the defaults) the update
 * is the bias-corrected momentum; from then on it is Adam's step times the rectification `r_t`.
 * Per-step scalars are computed in float64 (and rounded to float32 where they enter float32
 * arithmetic); state leaves keep their params' type.
 *
 * Hyperparameters are checked here: `b1`, `b2` in [0, 1), `eps`, `epsRoot` finite and >= 0,
 * `threshold` >= 4. NaN or infinite gradients propagate into the updates and the state, as in
 * optax. One deliberate difference: with `eps = 0` and `epsRoot = 0`, an element whose gradients
 * have all been exactly zero gets a zero update, where optax computes 0/0 = NaN.
 *
 * @example
 * ```ts
 * const tx = chain(scaleByRadam({ b2: 0.99 }), scaleByLearningRate(1e-3));
 * ```
 */
export function scaleByRadam(
  options: ScaleByRadamOptions = {},
): GradientTransformationExtraArgs<ScaleByAdamState> {
  return makeScaleByRadam('scaleByRadam', options);
}

/** {@link scaleByRadam}, its errors naming `fn` (the alias the user called). */
export function makeScaleByRadam(
  fn: string,
  options: ScaleByRadamOptions = {},
): GradientTransformationExtraArgs<ScaleByAdamState> {
  const hp = radamHyperparams(fn, options);
  return adamFamily(fn, hp, (count, out) => radamScalars(count, hp, out));
}
