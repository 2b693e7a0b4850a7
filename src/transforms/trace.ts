/** Momentum, as `optax.trace`. */

import type { FusedMember, GradientTransformationExtraArgs } from '../base.js';
import { withFusionTag } from '../base.js';
import { type LeafOps, leafOps } from '../leaf.js';
import type { ArrayLeaf } from '../tree.js';
import { isContainer, mapLeaves, treeLeaves, treeMap, treeZerosLike } from '../tree.js';
import { checkBoolean, checkFinite, checkOptionKeys } from '../validate.js';
import { memberInPlace } from './elementwise.js';

/** Options of {@link trace}. */
export interface TraceOptions {
  /** Use Nesterov momentum: the update is `g + decay * newTrace` instead of `newTrace`. Default false. */
  nesterov?: boolean;
}

/** The state of {@link trace} (optax's `TraceState`): the momentum buffer, shaped like the params. */
export interface TraceState<T = any> {
  /** The momentum buffer, leaf by leaf. */
  trace: T;
}

class TraceLeafResult {
  u: unknown = null;
  trace: unknown = null;
}

/**
 * One leaf of {@link trace} on the functional path: `newTrace = g + decay * trace`, and the update
 * is `newTrace` or, with Nesterov, `g + decay * newTrace` (the `trace` stage's operations).
 */
function traceLeaf(
  ops: LeafOps,
  g: any,
  t: any,
  decay: number,
  nesterov: boolean,
  res: TraceLeafResult,
): TraceLeafResult {
  const newTrace = ops.linearCombination(1, g, decay, t);
  res.trace = newTrace;
  res.u = nesterov ? ops.linearCombination(1, g, decay, newTrace) : newTrace;
  return res;
}

/**
 * Accumulates a momentum trace, as `optax.trace`: `trace = g + decay * trace`, and the updates are
 * the new trace (or `g + decay * trace` with `nesterov`). `sgd(lr, { momentum })` is
 * `chain(trace(momentum), scaleByLearningRate(lr))`. `decay` must be a finite number.
 *
 * @example
 * ```ts
 * const tx = trace(0.9);
 * let state = tx.init({ w: 0 });
 * let u;
 * [u, state] = tx.update({ w: 1 }, state); // { w: 1 }
 * [u, state] = tx.update({ w: 1 }, state); // { w: 1.9 }
 * ```
 */
export function trace(
  decay: number,
  options: TraceOptions = {},
): GradientTransformationExtraArgs<TraceState> {
  const fn = 'trace';
  checkFinite(fn, 'decay', decay);
  checkOptionKeys(fn, options, ['nesterov']);
  const nesterov = checkBoolean(fn, 'nesterov', options.nesterov ?? false);
  const tx: GradientTransformationExtraArgs<TraceState> = {
    init: (params) => ({ trace: treeZerosLike(params) }),
    update(updates, state) {
      if (!isContainer(state) || Array.isArray(state) || !('trace' in state))
        throw new TypeError(`${fn}.update: state must be { trace } as made by ${fn}.init`);
      const results = mapLeaves(
        ([g, t]) => traceLeaf(leafOps(g), g, t, decay, nesterov, new TraceLeafResult()),
        [updates, state.trace],
        ['updates', 'state.trace'],
      );
      const newTrace = treeMap((r: TraceLeafResult) => r.trace, results);
      const u = treeMap((r: TraceLeafResult) => r.u, results);
      return [u, { trace: newTrace }];
    },
    // In place on its own: the fused member's one-stage kernel (the same bits as traceLeaf).
    bindInPlace: (state) => memberInPlace(fuse(state, (tree) => treeLeaves<ArrayLeaf>(tree))!),
  };
  return withFusionTag(tx, { kind: 'stage', name: fn, fuse });

  function fuse(
    state: unknown,
    leaves: (tree: unknown) => ArrayLeaf[] | undefined,
  ): FusedMember | undefined {
    if (!isContainer(state) || Array.isArray(state) || !('trace' in state)) return undefined;
    const traces = leaves(state.trace);
    if (traces === undefined) return undefined;
    const stage = nesterov ? 'traceNesterov' : 'trace';
    return {
      stages: [stage],
      stage,
      arrays: [traces],
      scalars: Float64Array.of(decay),
      prepare() {},
      commit() {},
    };
  }
}
