/** Weight decay, as `optax.add_decayed_weights`. */

import type { EmptyState, GradientTransformationExtraArgs, ScalarOrSchedule } from '../base.js';
import { countedMember, safeIncrement, statelessMember, withFusionTag } from '../base.js';
import { leafOps, typedArrayOps } from '../leaf.js';
import { isContainer, mapLeaves } from '../tree.js';
import { checkCount, checkOptionKeys, checkScalarOrSchedule, evaluate } from '../validate.js';
import { type Mask, type MaskedState, masked } from './masked.js';

/** Options of {@link addDecayedWeights}. */
export interface AddDecayedWeightsOptions {
  /**
   * Which params are decayed: a tree of booleans with the params' structure (or a prefix of it),
   * or a function of the params returning one; see {@link masked}. Default: all of them.
   */
  mask?: Mask;
}

/** The state of {@link addDecayedWeights}: `{}` for a constant rate, `{ count }` for a schedule. */
export type AddDecayedWeightsState =
  | EmptyState
  | {
      /** Updates made so far, with a scheduled rate: the schedule's argument at the next update. */
      count: number;
    };

/**
 * Adds `weightDecay * params` to the updates, as `optax.add_decayed_weights`. Placed after
 * `scaleByRadam` (or `scaleByAdam`) and before `scaleByLearningRate` it is decoupled, AdamW-style
 * decay (what `radam(lr, { weightDecay })` and `adamw` do); placed first it is L2 decay, added to
 * the gradient, which is what `torch.optim.RAdam(weight_decay=…)` does. A schedule is called with
 * its own count, 0 on the first update.
 *
 * `update` needs the params and throws a clear error without them (optax raises too). The rate
 * must be a finite number (any sign, as in optax) or a schedule; a schedule value that is not
 * finite throws before anything changes. A rate of exactly 0 returns the updates unchanged.
 *
 * @example
 * ```ts
 * const tx = addDecayedWeights(0.1);
 * const [u] = tx.update({ w: 1 }, tx.init({ w: 2 }), { w: 2 }); // { w: 1.2 }
 * const decoupled = chain(scaleByRadam(), addDecayedWeights(1e-2), scaleByLearningRate(1e-3));
 * const l2 = chain(addDecayedWeights(1e-2), scaleByRadam(), scaleByLearningRate(1e-3));
 * ```
 */
export function addDecayedWeights(
  weightDecay: ScalarOrSchedule = 0,
  options: AddDecayedWeightsOptions = {},
): GradientTransformationExtraArgs<AddDecayedWeightsState | MaskedState<AddDecayedWeightsState>> {
  const fn = 'addDecayedWeights';
  checkOptionKeys(fn, options, ['mask']);
  checkScalarOrSchedule(fn, 'weightDecay', weightDecay);
  const scheduled = typeof weightDecay === 'function';
  const rate = (count: number) => evaluate(fn, 'weight-decay', weightDecay, count);
  const decay = (updates: unknown, params: unknown, s: number) =>
    s === 0 && !scheduled
      ? updates
      : mapLeaves(
          ([u, p]) => leafOps(u).linearCombination(1, u, s, p),
          [updates, params],
          ['updates', 'params'],
        );
  const tx: GradientTransformationExtraArgs<AddDecayedWeightsState> = {
    init: (): AddDecayedWeightsState => (scheduled ? { count: 0 } : {}),
    update(updates, state, params) {
      if (params === undefined || params === null)
        throw new TypeError(
          `${fn}.update: params are required (call update(updates, state, params)); weight decay adds weightDecay * params to the updates`,
        );
      if (!scheduled) return [decay(updates, params, weightDecay as number), state];
      const count = (state as { count?: unknown }).count;
      if (!isContainer(state) || typeof count !== 'number')
        throw new TypeError(`${fn}.update: state must be { count } as made by ${fn}.init`);
      return [decay(updates, params, rate(count)), { count: safeIncrement(count) }];
    },
    bindInPlace(state) {
      let s = scheduled ? 0 : (weightDecay as number);
      const countWhat = `${fn}.update: state.count`;
      return {
        cannotThrow: true,
        prepare() {
          if (!scheduled) return;
          checkCount(countWhat, (state as { count: number }).count);
          s = rate((state as { count: number }).count);
        },
        run(input, output, params) {
          if (s !== 0 || scheduled) {
            for (let i = 0; i < input.length; i++)
              typedArrayOps.linearCombination(1, input[i]!, s, params[i]!, output[i]);
          } else {
            for (let i = 0; i < input.length; i++)
              if (output[i] !== input[i]) output[i]!.set(input[i]!);
          }
          if (scheduled) {
            const st = state as { count: number };
            st.count = safeIncrement(st.count);
          }
        },
      };
    },
  };
  if (options.mask !== undefined) return masked(tx, options.mask);
  return withFusionTag(tx, {
    kind: 'stage',
    name: fn,
    fuse(state) {
      // A constant zero rate changes nothing (u + 0 * p would turn -0 into +0).
      if (!scheduled)
        return statelessMember(weightDecay === 0 ? null : 'decay', [weightDecay as number]);
      return countedMember('decay', fn, state, rate);
    },
  });
}
