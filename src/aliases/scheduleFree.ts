/** Schedule-free AdamW, as `optax.contrib.schedule_free_adamw`. */

import { sgd } from '../alias.js';
import type { GradientTransformationExtraArgs, ScalarOrSchedule } from '../base.js';
import { chain } from '../combine.js';
import { warmupConstantSchedule } from '../schedules.js';
import { makeScaleByRmsOrStddev } from '../transforms/rms.js';
import { scaleByLearningRate } from '../transforms/scale.js';
import { type ScheduleFreeState, scheduleFreeNamed } from '../transforms/scheduleFree.js';
import { addDecayedWeights } from '../transforms/weightDecay.js';
import {
  checkDecay,
  checkInteger,
  checkNonNegative,
  checkOptionKeys,
  checkScalarOrSchedule,
} from '../validate.js';

/** Options of {@link scheduleFreeAdamw}, with optax's defaults. */
export interface ScheduleFreeAdamwOptions {
  /** A linear warmup from 0 to the learning rate over this many steps; `null` (default): none. */
  warmupSteps?: number | null;
  /** The schedule-free interpolation `b1`, in (0, 1]. Default 0.9. */
  b1?: number;
  /** Decay of the second-moment average. Default 0.999. */
  b2?: number;
  /** Added to the denominator outside the square root. Default 1e-8. */
  eps?: number;
  /** Decoupled weight decay rate, a number or a schedule. Default 0. */
  weightDecay?: ScalarOrSchedule;
  /** The averaging weight of a step is `maxLr ** weightLrPower`. Default 2. */
  weightLrPower?: number;
  /** The dtype of the iterates `z`: `'float32'`, `'float64'` or `null` (the params'). */
  stateDtype?: 'float32' | 'float64' | null;
}

/** The learning rate, with optax's linear warmup from 0 over `warmupSteps` when given. */
function withWarmup(
  fn: string,
  learningRate: ScalarOrSchedule,
  warmupSteps: number | null,
): ScalarOrSchedule {
  if (warmupSteps === null) return learningRate;
  checkInteger(fn, 'warmupSteps', warmupSteps, 0);
  if (typeof learningRate !== 'number')
    throw new TypeError(
      `${fn}: with warmupSteps the learning rate must be a number (the warmup's peak), got a schedule`,
    );
  return warmupConstantSchedule({ initValue: 0, peakValue: learningRate, warmupSteps });
}

/**
 * Schedule-free AdamW, as `optax.contrib.schedule_free_adamw`: {@link scheduleFree} over AdamW
 * without momentum, `chain(scale_by_rms(b2, eps, eps_in_sqrt=False, bias_correction=True),
 * addDecayedWeights(weightDecay), scaleByLearningRate(lr))` (optax has used this `scale_by_rms`
 * since 0.2.4 in place of `scale_by_adam(b1=0)`, which stores a useless first moment; the
 * update is `(1 / (sqrt(nuHat) + eps)) g`). With `warmupSteps`, the learning rate is
 * `warmupConstantSchedule({ initValue: 0, peakValue: learningRate, warmupSteps })`. As in optax,
 * the schedule-free average calls the schedule with its `stepCount` (from 1) while the base
 * optimizer's `scaleByLearningRate` calls it with its own count (from 0). Evaluate the model at
 * {@link scheduleFreeEvalParams}`(state, params)`.
 *
 * The state is optax's `ScheduleFreeState` whose `baseOptimizerState` is the chain's list
 * `[{ count, nu }, {}, {}]`. Defaults: `learningRate = 0.0025`, `b1 = 0.9`, `b2 = 0.999`,
 * `eps = 1e-8`, `weightDecay = 0`, `weightLrPower = 2`.
 *
 * @example
 * ```ts
 * const solver = scheduleFreeAdamw(1.0);
 * let p = { w: new Float64Array([1, 2, 3]) };
 * let st = solver.init(p);
 * let u;
 * [u, st] = solver.update({ w: p.w.map((x) => 2 * x) }, st, p);
 * p = applyUpdates(p, u); // the first step moves each element by about -lr
 * const f = (x) => x.reduce((a, b) => a + b * b, 0);
 * f(scheduleFreeEvalParams(st, p).w); // 5.000000004999999
 * scheduleFreeAdamw(1e-3, { b1: 0 }); // RangeError: scheduleFreeAdamw: b1 must be in (0, 1] (schedule-free divides by it), got number 0
 * ```
 */
export function scheduleFreeAdamw(
  learningRate: ScalarOrSchedule = 0.0025,
  options: ScheduleFreeAdamwOptions = {},
): GradientTransformationExtraArgs<ScheduleFreeState> {
  const fn = 'scheduleFreeAdamw';
  checkOptionKeys(fn, options, [
    'warmupSteps',
    'b1',
    'b2',
    'eps',
    'weightDecay',
    'weightLrPower',
    'stateDtype',
  ]);
  checkScalarOrSchedule(fn, 'learningRate', learningRate);
  const b2 = checkDecay(fn, 'b2', options.b2 ?? 0.999, ' (the decay of the second-moment average)');
  const eps = checkNonNegative(fn, 'eps', options.eps ?? 1e-8);
  const weightDecay = options.weightDecay ?? 0;
  checkScalarOrSchedule(fn, 'weightDecay', weightDecay);
  const lr = withWarmup(fn, learningRate, options.warmupSteps ?? null);
  const base = chain(
    // optax's scale_by_rms(decay=b2, eps=eps, eps_in_sqrt=False, bias_correction=True): Adam
    // without its first moment, state { count, nu }.
    makeScaleByRmsOrStddev(fn, false, { decay: b2, eps, epsInSqrt: false, biasCorrection: true }),
    addDecayedWeights(weightDecay),
    scaleByLearningRate(lr),
  );
  return scheduleFreeNamed(fn, base, lr, {
    ...(options.b1 !== undefined ? { b1: options.b1 } : {}),
    ...(options.weightLrPower !== undefined ? { weightLrPower: options.weightLrPower } : {}),
    ...(options.stateDtype !== undefined ? { stateDtype: options.stateDtype } : {}),
  });
}

/** Options of {@link scheduleFreeSgd}, with optax's defaults. */
export interface ScheduleFreeSgdOptions {
  /** A linear warmup from 0 to the learning rate over this many steps; `null` (default): none. */
  warmupSteps?: number | null;
  /** The schedule-free interpolation `b1`, in (0, 1]. Default 0.9. */
  b1?: number;
  /** Weight decay added to the gradients before SGD (scaled by the learning rate); `null` (default): none. */
  weightDecay?: ScalarOrSchedule | null;
  /** The averaging weight of a step is `maxLr ** weightLrPower`. Default 2. */
  weightLrPower?: number;
  /** The dtype of the iterates `z`: `'float32'`, `'float64'` or `null` (the params'). */
  stateDtype?: 'float32' | 'float64' | null;
}

/**
 * Schedule-free SGD, as `optax.contrib.schedule_free_sgd`: {@link scheduleFree} over
 * `sgd(learningRate)`, or `chain(addDecayedWeights(weightDecay), sgd(learningRate))` with a
 * `weightDecay` (so the decay is multiplied by the learning rate, as in PyTorch). With
 * `warmupSteps`, the learning rate is `warmupConstantSchedule({ initValue: 0, peakValue:
 * learningRate, warmupSteps })`. Defaults: `learningRate = 1`, `b1 = 0.9`, `weightLrPower = 2`.
 *
 * @example
 * ```ts
 * const solver = scheduleFreeSgd();
 * let p = { w: new Float64Array([1, 2, 3]) };
 * let st = solver.init(p);
 * let u;
 * [u, st] = solver.update({ w: p.w.map((x) => 2 * x) }, st, p);
 * p = applyUpdates(p, u);
 * scheduleFreeEvalParams(st, p).w; // Float64Array [-1, -2, -3]
 * ```
 */
export function scheduleFreeSgd(
  learningRate: ScalarOrSchedule = 1,
  options: ScheduleFreeSgdOptions = {},
): GradientTransformationExtraArgs<ScheduleFreeState> {
  const fn = 'scheduleFreeSgd';
  checkOptionKeys(fn, options, ['warmupSteps', 'b1', 'weightDecay', 'weightLrPower', 'stateDtype']);
  checkScalarOrSchedule(fn, 'learningRate', learningRate);
  const weightDecay = options.weightDecay ?? null;
  if (weightDecay !== null) checkScalarOrSchedule(fn, 'weightDecay', weightDecay);
  const lr = withWarmup(fn, learningRate, options.warmupSteps ?? null);
  const base = weightDecay === null ? sgd(lr) : chain(addDecayedWeights(weightDecay), sgd(lr));
  return scheduleFreeNamed(fn, base, lr, {
    ...(options.b1 !== undefined ? { b1: options.b1 } : {}),
    ...(options.weightLrPower !== undefined ? { weightLrPower: options.weightLrPower } : {}),
    ...(options.stateDtype !== undefined ? { stateDtype: options.stateDtype } : {}),
  });
}
