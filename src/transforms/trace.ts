/** Momentum, as `optax.trace`. */

import type { GradientTransformationExtraArgs } from '../base.js';
import { withFusionTag } from '../base.js';
import { type LeafOps, leafOps, typedArrayOps } from '../leaf.js';
import type { ArrayLeaf } from '../tree.js';
import { isContainer, mapLeaves, treeLeaves, treeMap, treeZerosLike } from '../tree.js';
import { checkBoolean, checkFinite, checkOptionKeys } from '../validate.js';

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
 * One leaf of {@link trace}, shared by both paths: `newTrace = g + decay * trace`, and the update is
 * `newTrace` or, with Nesterov, `g + decay * newTrace`. `out` and `traceOut` are absent on the
 * functional path; `out` may alias `g`.
 */
function traceLeaf(
  ops: LeafOps,
  g: any,
  t: any,
  decay: number,
  nesterov: boolean,
  traceOut: any,
  out: any,
  res: TraceLeafResult,
): TraceLeafResult {
  const newTrace = ops.linearCombination(1, g, decay, t, traceOut);
  res.trace = newTrace;
  if (nesterov) res.u = ops.linearCombination(1, g, decay, newTrace, out);
  else if (out === undefined) res.u = newTrace;
  else {
    (out as ArrayLeaf).set(newTrace as ArrayLeaf);
    res.u = out;
  }
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
        ([g, t]) =>
          traceLeaf(leafOps(g), g, t, decay, nesterov, undefined, undefined, new TraceLeafResult()),
        [updates, state.trace],
        ['updates', 'state.trace'],
      );
      const newTrace = treeMap((r: TraceLeafResult) => r.trace, results);
      const u = treeMap((r: TraceLeafResult) => r.u, results);
      return [u, { trace: newTrace }];
    },
    bindInPlace(state) {
      const traces = treeLeaves<ArrayLeaf>(state.trace);
      const res = new TraceLeafResult();
      return {
        cannotThrow: true,
        prepare() {},
        run(input, output) {
          for (let i = 0; i < input.length; i++)
            traceLeaf(
              typedArrayOps,
              input[i],
              traces[i],
              decay,
              nesterov,
              traces[i],
              output[i],
              res,
            );
        },
      };
    },
  };
  return withFusionTag(tx, {
    kind: 'stage',
    name: fn,
    fuse(state, leaves) {
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
    },
  });
}
