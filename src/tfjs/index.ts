/**
 * `optax-ts/tfjs`: optax-ts for TensorFlow.js.
 *
 * Importing this module registers {@link tfjsOps}, so every gradient transformation (`radam`,
 * `chain`, the schedules, ...) accepts trees whose leaves are `tf.Tensor`s, and provides
 * {@link TransformationOptimizer} and {@link RAdamOptimizer}, `tf.train.Optimizer`s for
 * `model.compile`, `minimize` and `applyGradients`. `@tensorflow/tfjs-core` (4 or later) is a peer
 * dependency of this entry point only; the core package does not import it.
 *
 * ## Ownership in the functional API
 *
 * `init`, `update` and `applyUpdates` never dispose their inputs and return fresh tensors, which
 * the caller owns: dispose the old state, the updates and the old params when you replace them.
 * A new state may reuse leaves of the old one (a transformation whose state does not change) and
 * updates may be leaves of the state, so free them with {@link disposeReplaced}, which skips the
 * tensors still in use:
 *
 * ```ts
 * const [updates, next] = tx.update(grads, state, params);
 * const newParams = applyUpdates(params, updates);
 * disposeReplaced(state, next);
 * disposeReplaced(updates, next, newParams);
 * disposeReplaced(params, newParams);
 * ```
 *
 * @packageDocumentation
 */
export { registerTfjsOps, tfjsOps } from './ops.js';
export type {
  NamedTensor,
  RAdamOptimizerOptions,
  TransformationOptimizerOptions,
} from './optimizer.js';
export { disposeReplaced, RAdamOptimizer, TransformationOptimizer } from './optimizer.js';
