/** The Lion optimizer, as `optax.lion`. */
import type { GradientTransformationExtraArgs, ScalarOrSchedule } from '../base.js';
import type { ChainState } from '../combine.js';
import { LION_OPTIONS, makeScaleByLion, type ScaleByLionOptions } from '../transforms/lion.js';
import type { Mask } from '../transforms/masked.js';
import { checkOptionKeys, checkScalarOrSchedule } from '../validate.js';
import { decayedAlias } from './common.js';

/** Options of {@link lion}, with optax's defaults. */
export interface LionOptions extends ScaleByLionOptions {
  /** Decoupled weight decay rate, a number or a schedule. Default 1e-3 (optax's). */
  weightDecay?: ScalarOrSchedule;
  /** Which params are decayed (see `masked`). Default: all. */
  mask?: Mask;
}

/**
 * Lion (EvoLved Sign Momentum), as `optax.lion`: `chain(scaleByLion({ b1, b2 }),
 * addDecayedWeights(weightDecay, { mask }), scaleByLearningRate(learningRate))`. Every update
 * element is ±learningRate (plus the decay), so Lion wants a learning rate 3 to 10 times smaller
 * than AdamW's. Defaults `b1 = 0.9`, `b2 = 0.99`, `weightDecay = 1e-3`.
 *
 * @example
 * ```ts
 * const solver = lion(1e-4, { weightDecay: 1e-2 });
 * const params = { w: new Float32Array([1, -1]) };
 * const [u] = solver.update({ w: new Float32Array([3, -3]) }, solver.init(params), params);
 * // { w: Float32Array [-0.000101, 0.000101] } (sign, plus the decay, times -lr)
 * ```
 */
export function lion(
  learningRate: ScalarOrSchedule,
  options: LionOptions = {},
): GradientTransformationExtraArgs<ChainState> {
  const fn = 'lion';
  checkOptionKeys(fn, options, [...LION_OPTIONS, 'weightDecay', 'mask']);
  checkScalarOrSchedule(fn, 'learningRate', learningRate);
  const { weightDecay = 1e-3, mask, ...lionOptions } = options;
  checkScalarOrSchedule(fn, 'weightDecay', weightDecay);
  return decayedAlias(makeScaleByLion(fn, lionOptions), weightDecay, mask, learningRate);
}
