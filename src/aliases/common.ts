/** What the catalogue's aliases share: the tail of decoupled weight decay and learning rate. */
import type {
  GradientTransformation,
  GradientTransformationExtraArgs,
  ScalarOrSchedule,
} from '../base.js';
import { type ChainState, chain } from '../combine.js';
import type { Mask } from '../transforms/masked.js';
import { scaleByLearningRate } from '../transforms/scale.js';
import { addDecayedWeights } from '../transforms/weightDecay.js';

/**
 * `chain(first, addDecayedWeights(weightDecay, { mask }), scaleByLearningRate(learningRate))`, as
 * optax's aliases with decoupled weight decay build it; without the decay when `weightDecay` is
 * `null`.
 *
 * @example
 * ```ts
 * const tx = decayedAlias(scaleByLion(), 1e-3, undefined, 1e-4); // lion(1e-4)
 * ```
 */
export function decayedAlias(
  first: GradientTransformation,
  weightDecay: ScalarOrSchedule | null,
  mask: Mask | undefined,
  learningRate: ScalarOrSchedule,
): GradientTransformationExtraArgs<ChainState> {
  if (weightDecay === null) return chain(first, scaleByLearningRate(learningRate));
  return chain(
    first,
    addDecayedWeights(weightDecay, mask === undefined ? {} : { mask }),
    scaleByLearningRate(learningRate),
  );
}
