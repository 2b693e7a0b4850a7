/**
 * Adam's variants, as optax's aliases: `adabelief`, `adamax`, `adamaxw`, `amsgrad`, `nadam`,
 * `nadamw`, `yogi`, `adan` and `optimisticAdamV2`.
 */
import type { GradientTransformationExtraArgs, ScalarOrSchedule } from '../base.js';
import { type ChainState, chain } from '../combine.js';
import { ADAM_OPTIONS, adamHyperparams, scaleByAdam } from '../transforms/adam.js';
import {
  ADAMAX_OPTIONS,
  makeScaleByAdamax,
  type ScaleByAdamaxOptions,
} from '../transforms/adamax.js';
import { ADAN_OPTIONS, makeScaleByAdan, type ScaleByAdanOptions } from '../transforms/adan.js';
import {
  AMSGRAD_OPTIONS,
  makeScaleByAmsgrad,
  type ScaleByAmsgradOptions,
} from '../transforms/amsgrad.js';
import {
  BELIEF_OPTIONS,
  makeScaleByBelief,
  type ScaleByBeliefOptions,
} from '../transforms/belief.js';
import type { Mask } from '../transforms/masked.js';
import {
  makeScaleByOptimisticGradient,
  OPTIMISTIC_GRADIENT_OPTIONS,
  type ScaleByOptimisticGradientOptions,
} from '../transforms/optimisticGradient.js';
import { scaleByLearningRate } from '../transforms/scale.js';
import { makeScaleByYogi } from '../transforms/yogi.js';
import { checkOptionKeys, checkScalarOrSchedule } from '../validate.js';
import { decayedAlias } from './common.js';

/** Checks an alias's learning rate and options; `fn` names the alias. */
function checkAlias(
  fn: string,
  learningRate: unknown,
  options: object,
  known: readonly string[],
): void {
  checkOptionKeys(fn, options, known);
  checkScalarOrSchedule(fn, 'learningRate', learningRate);
}

/** Checks an alias's weight decay (a number, a schedule, or `null` where allowed). */
function checkWeightDecay(fn: string, weightDecay: unknown, nullable: boolean): void {
  if (!(nullable && weightDecay === null)) checkScalarOrSchedule(fn, 'weightDecay', weightDecay);
}

/** Options of {@link adabelief}, with optax's defaults. */
export interface AdabeliefOptions extends ScaleByBeliefOptions {
  /** Decoupled weight decay rate, a number or a schedule; `null` (the default): none. */
  weightDecay?: ScalarOrSchedule | null;
  /** Which params are decayed (see `masked`); only with `weightDecay`. Default: all. */
  weightDecayMask?: Mask;
}

/**
 * The AdaBelief optimizer, as `optax.adabelief`: `chain(scaleByBelief({ b1, b2, eps, epsRoot,
 * nesterov }), scaleByLearningRate(learningRate))`, with `addDecayedWeights(weightDecay, { mask:
 * weightDecayMask })` between them when `weightDecay` is given. Defaults `b1 = 0.9`,
 * `b2 = 0.999`, `eps = 1e-16`, `epsRoot = 1e-16`, `nesterov = false`, no weight decay.
 * `weightDecayMask` without `weightDecay` throws (optax ignores it).
 *
 * @example
 * ```ts
 * const solver = adabelief(1e-3);
 * const [u] = solver.update({ w: 2 }, solver.init({ w: 0 })); // { w: -0.0011111111111110938 }
 * adabelief(1e-3, { weightDecayMask: { w: true } }); // TypeError: adabelief: weightDecayMask was given without weightDecay
 * ```
 */
export function adabelief(
  learningRate: ScalarOrSchedule,
  options: AdabeliefOptions = {},
): GradientTransformationExtraArgs<ChainState> {
  const fn = 'adabelief';
  checkAlias(fn, learningRate, options, [...BELIEF_OPTIONS, 'weightDecay', 'weightDecayMask']);
  const { weightDecay = null, weightDecayMask, ...beliefOptions } = options;
  checkWeightDecay(fn, weightDecay, true);
  if (weightDecay === null && weightDecayMask !== undefined)
    throw new TypeError(
      `${fn}: weightDecayMask was given without weightDecay; give both or neither`,
    );
  return decayedAlias(
    makeScaleByBelief(fn, beliefOptions),
    weightDecay,
    weightDecayMask,
    learningRate,
  );
}

/** Options of {@link adamax}, with optax's defaults. */
export type AdamaxOptions = ScaleByAdamaxOptions;

/**
 * The Adamax optimizer (Adam with an infinity norm), as `optax.adamax`:
 * `chain(scaleByAdamax({ b1, b2, eps }), scaleByLearningRate(learningRate))`. Defaults
 * `b1 = 0.9`, `b2 = 0.999`, `eps = 1e-8`.
 *
 * @example
 * ```ts
 * const solver = adamax(1e-3);
 * const [u] = solver.update({ w: 2 }, solver.init({ w: 0 })); // { w: -0.000999999995 }
 * ```
 */
export function adamax(
  learningRate: ScalarOrSchedule,
  options: AdamaxOptions = {},
): GradientTransformationExtraArgs<ChainState> {
  checkAlias('adamax', learningRate, options, ADAMAX_OPTIONS);
  return decayedAlias(makeScaleByAdamax('adamax', options), null, undefined, learningRate);
}

/** Options of {@link adamaxw}, with optax's defaults. */
export interface AdamaxwOptions extends ScaleByAdamaxOptions {
  /** Decoupled weight decay rate, a number or a schedule. Default 1e-4 (optax's). */
  weightDecay?: ScalarOrSchedule;
  /** Which params are decayed (see `masked`). Default: all. */
  mask?: Mask;
}

/**
 * Adamax with decoupled weight decay, as `optax.adamaxw`: `chain(scaleByAdamax({ b1, b2, eps }),
 * addDecayedWeights(weightDecay, { mask }), scaleByLearningRate(learningRate))`. Defaults
 * `b1 = 0.9`, `b2 = 0.999`, `eps = 1e-8`, `weightDecay = 1e-4`.
 *
 * @example
 * ```ts
 * const solver = adamaxw(1e-3, { weightDecay: 0.5 });
 * const params = { w: 1 };
 * const [u] = solver.update({ w: 2 }, solver.init(params), params); // { w: -0.001499999995 }
 * ```
 */
export function adamaxw(
  learningRate: ScalarOrSchedule,
  options: AdamaxwOptions = {},
): GradientTransformationExtraArgs<ChainState> {
  const fn = 'adamaxw';
  checkAlias(fn, learningRate, options, [...ADAMAX_OPTIONS, 'weightDecay', 'mask']);
  const { weightDecay = 1e-4, mask, ...adamaxOptions } = options;
  checkWeightDecay(fn, weightDecay, false);
  return decayedAlias(makeScaleByAdamax(fn, adamaxOptions), weightDecay, mask, learningRate);
}

/** Options of {@link amsgrad}, with optax's defaults. */
export type AmsgradOptions = ScaleByAmsgradOptions;

/**
 * The AMSGrad optimizer, as `optax.amsgrad`: `chain(scaleByAmsgrad(options),
 * scaleByLearningRate(learningRate))`. Defaults `b1 = 0.9`, `b2 = 0.999`, `eps = 1e-8`,
 * `epsRoot = 0`, both bias corrections on.
 *
 * @example
 * ```ts
 * const solver = amsgrad(1e-3);
 * const [u] = solver.update({ w: 2 }, solver.init({ w: 0 })); // { w: -0.000999999995 }
 * const paper = amsgrad(1e-3, { biasCorrectionMu: false, biasCorrectionNu: false });
 * ```
 */
export function amsgrad(
  learningRate: ScalarOrSchedule,
  options: AmsgradOptions = {},
): GradientTransformationExtraArgs<ChainState> {
  checkAlias('amsgrad', learningRate, options, AMSGRAD_OPTIONS);
  return decayedAlias(makeScaleByAmsgrad('amsgrad', options), null, undefined, learningRate);
}

/** The option names of Adam without `nesterov` (which `nadam`, `nadamw` fix to true). */
const NADAM_OPTIONS = ADAM_OPTIONS.filter((k) => k !== 'nesterov');

/** Options of {@link nadam}, with optax's defaults (Adam's, without `nesterov`). */
export interface NadamOptions {
  /** Decay of the first-moment (mean) average. Default 0.9. */
  b1?: number;
  /** Decay of the second-moment (uncentred variance) average. Default 0.999. */
  b2?: number;
  /** Added to the denominator outside the square root. Default 1e-8. */
  eps?: number;
  /** Added to the second moment inside the square root. Default 0. */
  epsRoot?: number;
}

/**
 * The NAdam optimizer (Adam with Nesterov momentum, Dozat 2016), as `optax.nadam`, which is
 * `adam` with `nesterov = true`: `chain(scaleByAdam({ ...options, nesterov: true }),
 * scaleByLearningRate(learningRate))`. The first moment used is
 * `b1 mu / (1 - b1^(t+1)) + (1 - b1) g / (1 - b1^t)`. optax's `nadam` is a partial
 * application that would still accept `nesterov=False`; here `nesterov` is not an option. Like
 * `scaleByAdam` here, an element whose moment is exactly 0 gets a 0 update even with
 * `eps = epsRoot = 0` (optax: NaN).
 *
 * @example
 * ```ts
 * const solver = nadam(1e-3);
 * // mHat = 0.9 * 0.2 / 0.19 + 0.1 * 2 / 0.1, sqrt(nuHat) = 2
 * const [u] = solver.update({ w: 2 }, solver.init({ w: 0 })); // { w: -0.00147368420 }
 * ```
 */
export function nadam(
  learningRate: ScalarOrSchedule,
  options: NadamOptions = {},
): GradientTransformationExtraArgs<ChainState> {
  const fn = 'nadam';
  checkAlias(fn, learningRate, options, NADAM_OPTIONS);
  const hp = adamHyperparams(fn, { ...options, nesterov: true });
  return decayedAlias(scaleByAdam(hp), null, undefined, learningRate);
}

/** Options of {@link nadamw}, with optax's defaults. */
export interface NadamwOptions extends NadamOptions {
  /** Decoupled weight decay rate, a number or a schedule. Default 1e-4 (optax's). */
  weightDecay?: ScalarOrSchedule;
  /** Which params are decayed (see `masked`). Default: all. */
  mask?: Mask;
}

/**
 * NAdamW, as `optax.nadamw` (`adamw` with `nesterov = true`): `chain(scaleByAdam({ ...options,
 * nesterov: true }), addDecayedWeights(weightDecay, { mask }), scaleByLearningRate(learningRate))`.
 * Defaults as `adamw`'s (`weightDecay = 1e-4`). `nesterov` is not an option (see {@link nadam}).
 *
 * @example
 * ```ts
 * const solver = nadamw(1e-3, { weightDecay: 1e-2 });
 * ```
 */
export function nadamw(
  learningRate: ScalarOrSchedule,
  options: NadamwOptions = {},
): GradientTransformationExtraArgs<ChainState> {
  const fn = 'nadamw';
  checkAlias(fn, learningRate, options, [...NADAM_OPTIONS, 'weightDecay', 'mask']);
  const { weightDecay = 1e-4, mask, ...adamOptions } = options;
  checkWeightDecay(fn, weightDecay, false);
  const hp = adamHyperparams(fn, { ...adamOptions, nesterov: true });
  return decayedAlias(scaleByAdam(hp), weightDecay, mask, learningRate);
}

/** Options of {@link yogi}, with optax's defaults (the alias has no `epsRoot`). */
export interface YogiOptions {
  /** Decay of the first-moment (mean) average. Default 0.9. */
  b1?: number;
  /** Rate of the second moment's sign-controlled update. Default 0.999. */
  b2?: number;
  /** Added to the denominator outside the square root. Default 1e-3. */
  eps?: number;
}

/**
 * The Yogi optimizer, as `optax.yogi`: `chain(scaleByYogi({ b1, b2, eps }),
 * scaleByLearningRate(learningRate))`, so `epsRoot = 0` and both moments start at 1e-6. Defaults
 * `b1 = 0.9`, `b2 = 0.999`, `eps = 1e-3`.
 *
 * @example
 * ```ts
 * const solver = yogi(1e-3);
 * const [u] = solver.update({ w: 2 }, solver.init({ w: 0 })); // { w: -0.0009993798953720721 }
 * ```
 */
export function yogi(
  learningRate: ScalarOrSchedule,
  options: YogiOptions = {},
): GradientTransformationExtraArgs<ChainState> {
  checkAlias('yogi', learningRate, options, ['b1', 'b2', 'eps']);
  return decayedAlias(makeScaleByYogi('yogi', options), null, undefined, learningRate);
}

/** Options of {@link adan}, with optax's defaults. */
export interface AdanOptions extends ScaleByAdanOptions {
  /** Decoupled weight decay rate, a number or a schedule. Default 0 (optax's). */
  weightDecay?: ScalarOrSchedule;
  /** Which params are decayed (see `masked`). Default: all. */
  mask?: Mask;
}

/**
 * The Adan optimizer (adaptive Nesterov momentum), as `optax.adan`:
 * `chain(scaleByAdan({ b1, b2, b3, eps, epsRoot }), addDecayedWeights(weightDecay, { mask }),
 * scaleByLearningRate(learningRate))`. Defaults `b1 = 0.98`, `b2 = 0.92`, `b3 = 0.99`,
 * `eps = 1e-8`, `epsRoot = 1e-8` (the alias's default; `scaleByAdan`'s is 0), `weightDecay = 0`
 * (the decay member is in the chain even then, as in optax, so `update` needs the params).
 *
 * @example
 * ```ts
 * const solver = adan(0.1);
 * const params = { w: 1 };
 * const [u] = solver.update({ w: 2 }, solver.init(params), params); // { w: -0.0999999975 }
 * ```
 */
export function adan(
  learningRate: ScalarOrSchedule,
  options: AdanOptions = {},
): GradientTransformationExtraArgs<ChainState> {
  const fn = 'adan';
  checkAlias(fn, learningRate, options, [...ADAN_OPTIONS, 'weightDecay', 'mask']);
  const { weightDecay = 0, mask, epsRoot = 1e-8, ...adanOptions } = options;
  checkWeightDecay(fn, weightDecay, false);
  return decayedAlias(
    makeScaleByAdan(fn, { ...adanOptions, epsRoot }),
    weightDecay,
    mask,
    learningRate,
  );
}

/** Options of {@link optimisticAdamV2}, with optax's defaults. */
export interface OptimisticAdamV2Options extends ScaleByOptimisticGradientOptions {
  /** Decay of the first-moment (mean) average. Default 0.9. */
  b1?: number;
  /** Decay of the second-moment (uncentred variance) average. Default 0.999. */
  b2?: number;
  /** Added to the denominator outside the square root. Default 1e-8. */
  eps?: number;
  /** Added to the second moment inside the square root. Default 0. */
  epsRoot?: number;
  /** Use Nesterov momentum in Adam. Default true (optax's, unlike `adam`). */
  nesterov?: boolean;
}

/**
 * Optimistic Adam, as `optax.optimistic_adam_v2`: `chain(scaleByAdam({ b1, b2, eps, epsRoot,
 * nesterov }), scaleByOptimisticGradient({ alpha, beta }), scaleByLearningRate(learningRate))`:
 * with `r` Adam's step, the update is `-learningRate ((alpha + beta) r - beta rPrev)` (`rPrev = r`
 * on the first step). Defaults `alpha = 1`, `beta = 1`, `b1 = 0.9`, `b2 = 0.999`, `eps = 1e-8`,
 * `epsRoot = 0`, `nesterov = true`. Adam's 0/0 is 0 here as in `scaleByAdam` (optax: NaN).
 *
 * @example
 * ```ts
 * const solver = optimisticAdamV2(1, { alpha: 1e-2, beta: 1 });
 * const params = { x: 1, y: 2 };
 * const [u] = solver.update({ x: 2, y: -1 }, solver.init(params)); // { x: -0.0147368420, y: 0.0147368420 }
 * ```
 */
export function optimisticAdamV2(
  learningRate: ScalarOrSchedule,
  options: OptimisticAdamV2Options = {},
): GradientTransformationExtraArgs<ChainState> {
  const fn = 'optimisticAdamV2';
  checkAlias(fn, learningRate, options, [...ADAM_OPTIONS, ...OPTIMISTIC_GRADIENT_OPTIONS]);
  const { alpha, beta, nesterov = true, ...adamOptions } = options;
  const optimism: ScaleByOptimisticGradientOptions = {};
  if (alpha !== undefined) optimism.alpha = alpha;
  if (beta !== undefined) optimism.beta = beta;
  return chain(
    scaleByAdam(adamHyperparams(fn, { ...adamOptions, nesterov })),
    makeScaleByOptimisticGradient(fn, optimism),
    scaleByLearningRate(learningRate),
  );
}
