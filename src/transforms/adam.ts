/** Adam's rescaling, as `optax.scale_by_adam`. */

import type { GradientTransformationExtraArgs } from '../base.js';
import { safeIncrement } from '../base.js';
import { disposeLeaf, type LeafOps, leafOps, typedArrayOps } from '../leaf.js';
import type { ArrayLeaf } from '../tree.js';
import { mapLeaves, treeLeaves, treeMap, treeZerosLike } from '../tree.js';
import { checkBoolean, checkDecay, checkNonNegative, checkOptionKeys } from '../validate.js';
import { checkAdamState, type ScaleByAdamState } from './radam.js';

/** Options of {@link scaleByAdam} (and of `adam`, `adamw`), with optax's defaults. */
export interface ScaleByAdamOptions {
  /** Decay of the first-moment (mean) average. Default 0.9. */
  b1?: number;
  /** Decay of the second-moment (uncentred variance) average. Default 0.999. */
  b2?: number;
  /** Added to the denominator outside the square root. Default 1e-8. */
  eps?: number;
  /** Added to the second moment inside the square root. Default 0. */
  epsRoot?: number;
  /** Use Nesterov momentum. Default false. */
  nesterov?: boolean;
}

/** The resolved hyperparameters of {@link scaleByAdam}. */
export type AdamHyperparams = Required<ScaleByAdamOptions>;

/** The option names {@link scaleByAdam} accepts. */
export const ADAM_OPTIONS = ['b1', 'b2', 'eps', 'epsRoot', 'nesterov'] as const;

/** Validates and fills in Adam's options; `fn` names the caller in error messages. */
export function adamHyperparams(fn: string, options: ScaleByAdamOptions = {}): AdamHyperparams {
  checkOptionKeys(fn, options, ADAM_OPTIONS);
  return {
    b1: checkDecay(fn, 'b1', options.b1 ?? 0.9, ' (the decay of the first-moment average)'),
    b2: checkDecay(fn, 'b2', options.b2 ?? 0.999, ' (the decay of the second-moment average)'),
    eps: checkNonNegative(fn, 'eps', options.eps ?? 1e-8),
    epsRoot: checkNonNegative(fn, 'epsRoot', options.epsRoot ?? 0),
    nesterov: checkBoolean(fn, 'nesterov', options.nesterov ?? false),
  };
}

/** Adam's per-step scalars (float64): `t = count + 1` and the bias corrections. */
interface AdamScalars {
  t: number;
  bc1: number;
  bc1Next: number;
  bc2: number;
}

function adamScalars(count: number, hp: AdamHyperparams, out: AdamScalars): AdamScalars {
  const t = safeIncrement(count);
  out.t = t;
  out.bc1 = 1 - hp.b1 ** t;
  out.bc1Next = 1 - hp.b1 ** safeIncrement(t);
  out.bc2 = 1 - hp.b2 ** t;
  return out;
}

/** Where one leaf's results go: fresh leaves when a buffer is absent (functional), else in place. */
interface LeafBuffers {
  mu?: any;
  nu?: any;
  u?: any;
  tmp?: any;
}

/** One leaf's results; a class instance so that trees of them are trees of leaves. */
class AdamLeafResult {
  u: unknown = null;
  mu: unknown = null;
  nu: unknown = null;
}

/**
 * Adam on one leaf, shared by the functional and in-place paths: both moments, the bias-corrected
 * (optionally Nesterov) momentum, then `mHat / (sqrt(nu / bc2 + epsRoot) + eps)`. `g` may be `buf.u`.
 */
function adamLeaf(
  ops: LeafOps,
  g: any,
  mu: any,
  nu: any,
  hp: AdamHyperparams,
  s: AdamScalars,
  buf: LeafBuffers,
  res: AdamLeafResult,
): AdamLeafResult {
  const fresh = buf.u === undefined;
  const m = ops.moment(g, mu, hp.b1, 1, buf.mu);
  const v = ops.moment(g, nu, hp.b2, 2, buf.nu);
  let mHat: any;
  if (hp.nesterov) {
    const gHat = ops.divide(g, s.bc1, buf.tmp);
    const mNext = ops.divide(m, s.bc1Next, buf.u);
    mHat = ops.linearCombination(hp.b1, mNext, 1 - hp.b1, gHat, buf.u);
    if (fresh) {
      disposeLeaf(gHat);
      disposeLeaf(mNext);
    }
  } else {
    mHat = ops.divide(m, s.bc1, buf.u);
  }
  res.mu = m;
  res.nu = v;
  res.u = ops.adamRatio(mHat, v, 1, s.bc2, hp.epsRoot, hp.eps, buf.u);
  if (fresh) disposeLeaf(mHat);
  return res;
}

const NO_BUFFERS: LeafBuffers = {};

/**
 * Rescales updates with Adam, as `optax.scale_by_adam`:
 * `mHat / (sqrt(nuHat + epsRoot) + eps)` with bias-corrected moments. The state is optax's
 * `ScaleByAdamState` `{ count, mu, nu }`; per-step scalars are float64 and state leaves keep their
 * params' type.
 *
 * As in `scaleByRadam`, an element whose momentum is exactly zero gets a zero update even with
 * `eps = epsRoot = 0` (optax computes 0/0 = NaN there). Hyperparameters are checked here: `b1`,
 * `b2` in [0, 1), `eps`, `epsRoot` finite and >= 0.
 *
 * @example
 * ```ts
 * const tx = chain(scaleByAdam({ b1: 0.9 }), scaleByLearningRate(1e-3));
 * const [u] = scaleByAdam().update({ w: 2 }, scaleByAdam().init({ w: 0 })); // { w: 0.999999995 }
 * ```
 */
export function scaleByAdam(
  options: ScaleByAdamOptions = {},
): GradientTransformationExtraArgs<ScaleByAdamState> {
  const fn = 'scaleByAdam';
  const hp = adamHyperparams(fn, options);
  return {
    init: (params) => ({ count: 0, mu: treeZerosLike(params), nu: treeZerosLike(params) }),
    update(updates, state) {
      checkAdamState(fn, state);
      const s = adamScalars(state.count, hp, { t: 0, bc1: 0, bc1Next: 0, bc2: 0 });
      const results = mapLeaves(
        ([g, mu, nu]) => adamLeaf(leafOps(g), g, mu, nu, hp, s, NO_BUFFERS, new AdamLeafResult()),
        [updates, state.mu, state.nu],
        ['updates', 'state.mu', 'state.nu'],
      );
      const pick = (key: 'u' | 'mu' | 'nu') => treeMap((r: AdamLeafResult) => r[key], results);
      return [pick('u'), { count: s.t, mu: pick('mu'), nu: pick('nu') }];
    },
    bindInPlace(state) {
      const mu = treeLeaves<ArrayLeaf>(state.mu);
      const nu = treeLeaves<ArrayLeaf>(state.nu);
      const tmp = hp.nesterov ? mu.map((m) => typedArrayOps.zerosLike(m)) : [];
      const s: AdamScalars = { t: 0, bc1: 0, bc1Next: 0, bc2: 0 };
      const buf: LeafBuffers = {};
      const res = new AdamLeafResult();
      return {
        prepare() {
          adamScalars(state.count, hp, s);
        },
        run(input, output) {
          for (let i = 0; i < input.length; i++) {
            buf.mu = mu[i];
            buf.nu = nu[i];
            buf.u = output[i];
            buf.tmp = tmp[i];
            adamLeaf(typedArrayOps, input[i], mu[i], nu[i], hp, s, buf, res);
          }
          state.count = s.t;
        },
      };
    },
  };
}
