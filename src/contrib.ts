/** optax's `contrib` namespace: the contributed optimizers, also exported at the top level. */
import { scheduleFreeAdamw, scheduleFreeSgd } from './aliases/scheduleFree.js';
import { scheduleFree, scheduleFreeEvalParams } from './transforms/scheduleFree.js';

/**
 * The optimizers of `optax.contrib`, by their camelCase names (each is also exported by itself).
 *
 * @example
 * ```ts
 * const tx = contrib.scheduleFreeAdamw(1e-3);
 * typeof contrib.scheduleFreeEvalParams; // 'function'
 * ```
 */
export const contrib = { scheduleFreeAdamw, scheduleFreeSgd, scheduleFree, scheduleFreeEvalParams };
