/** Adam's rescaling, as `optax.scale_by_adam`. */

import type { GradientTransformationExtraArgs } from '../base.js';
import { safeIncrement } from '../base.js';
import { checkBoolean, checkDecay, checkNonNegative, checkOptionKeys } from '../validate.js';
import { adamFamily, type RadamScalars, type ScaleByAdamState } from './radam.js';

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

/**
 * Adam's per-step scalars (float64): `t = count + 1` and the bias corrections; every step is
 * "rectified" with `r = 1`, which makes the Adam-family leaf compute Adam's step.
 */
function adamScalars(count: number, hp: AdamHyperparams, out: RadamScalars): void {
  const t = safeIncrement(count);
  out.t = t;
  out.bc1 = 1 - hp.b1 ** t;
  out.bc1Next = 1 - hp.b1 ** safeIncrement(t);
  out.bc2 = 1 - hp.b2 ** t;
  out.rectify = true;
  out.r = 1;
}

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
  return makeScaleByAdam('scaleByAdam', options);
}

/** {@link scaleByAdam}, its errors naming `fn` (the alias the user called). */
export function makeScaleByAdam(
  fn: string,
  options: ScaleByAdamOptions = {},
): GradientTransformationExtraArgs<ScaleByAdamState> {
  const hp = adamHyperparams(fn, options);
  return adamFamily(fn, hp, (count, out) => adamScalars(count, hp, out));
}
