/** Ready-made optimizers: a rescaling followed by the learning rate, as optax's aliases. */
import type { GradientTransformationExtraArgs, ScalarOrSchedule } from './base.js';
import { type ChainState, chain } from './combine.js';
import { type ScaleByRadamOptions, scaleByRadam } from './transforms/radam.js';
import { scaleByLearningRate } from './transforms/scale.js';

/** Options of {@link radam}. */
export type RadamOptions = ScaleByRadamOptions;

/**
 * The Rectified Adam optimizer, as `optax.radam`: `chain(scaleByRadam(options),
 * scaleByLearningRate(learningRate))`. Defaults `b1 = 0.9`, `b2 = 0.999`, `eps = 1e-8`,
 * `epsRoot = 0`, `threshold = 5`, `nesterov = false`.
 *
 * @example
 * ```ts
 * const solver = radam(0.003);
 * let params = new Float32Array([1, 2, 3]);
 * let state = solver.init(params);
 * const grads = params.map((x) => 2 * x); // gradient of sum(x²)
 * let updates;
 * [updates, state] = solver.update(grads, state, params);
 * params = applyUpdates(params, updates); // [0.994, 1.988, 2.982]
 * ```
 */
export function radam(
  learningRate: ScalarOrSchedule,
  options: RadamOptions = {},
): GradientTransformationExtraArgs<ChainState> {
  return chain(scaleByRadam(options), scaleByLearningRate(learningRate));
}
