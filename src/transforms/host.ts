/**
 * Running a typed-array transformation on other leaves (TF.js tensors, jax-js arrays) by way of
 * the host: the leaves' values are read into typed arrays (with their shapes), the transformation
 * runs there, and its results are made into leaves of the same kind and dtype again. This is how
 * the aliases written on typed arrays only (adafactor, sm3, novograd, muon, noisySgd) serve every
 * leaf kind with the typed-array path's values. It reads values back, so it cannot run inside
 * jax-js's `jit`, and costs a copy each way per step.
 */
import type { GradientTransformationExtraArgs } from '../base.js';
import { findLeafOps, type LeafOps } from '../leaf.js';
import { treeLeaves, treeMap } from '../tree.js';

type Float = Float32Array | Float64Array;

const isHost = (x: unknown): boolean =>
  typeof x === 'number' || x instanceof Float32Array || x instanceof Float64Array;

/** The operations of the first leaf of `trees` that is not a number or typed array, if any. */
function foreignOps(fn: string, trees: readonly unknown[]): [LeafOps, unknown] | undefined {
  for (const tree of trees)
    for (const leaf of treeLeaves<unknown>(tree)) {
      if (leaf === null || isHost(leaf) || typeof leaf === 'boolean') continue;
      const ops = findLeafOps(leaf);
      if (ops === undefined) return undefined; // the transformation reports it
      if (ops.toHost === undefined || ops.fromHost === undefined)
        throw new TypeError(`${fn}: ${ops.name} leaves cannot be read into typed arrays`);
      return [ops, leaf];
    }
  return undefined;
}

/**
 * `tx` on any leaf kind whose `LeafOps` can move values to and from typed arrays (see the module
 * comment); on typed arrays and numbers it is `tx` itself, in place included. `fn` names it in
 * errors.
 *
 * @example
 * ```ts
 * const tx = onHost('sm3', sm3(0.1));
 * tx.init({ w: new Float32Array(3) }); // typed arrays: sm3's own init
 * ```
 */
export function onHost<S>(
  fn: string,
  tx: GradientTransformationExtraArgs<S>,
): GradientTransformationExtraArgs<S> {
  const toHost = (ops: LeafOps, tree: unknown) =>
    treeMap((x: unknown) => (ops.isLeaf(x) ? ops.toHost!(x) : x), tree);
  const back = (ops: LeafOps, like: unknown, tree: unknown) =>
    treeMap(
      (x: unknown) =>
        x instanceof Float32Array || x instanceof Float64Array
          ? ops.fromHost!(x as Float, like)
          : x,
      tree,
    );
  const wrapped: GradientTransformationExtraArgs<S> = {
    init(params) {
      const found = foreignOps(`${fn}.init`, [params]);
      if (found === undefined) return tx.init(params);
      const [ops, like] = found;
      return back(ops, like, tx.init(toHost(ops, params))) as S;
    },
    update(updates, state, params, extraArgs) {
      const found = foreignOps(`${fn}.update`, [updates, state, params]);
      if (found === undefined) return tx.update(updates, state, params, extraArgs);
      const [ops, like] = found;
      const [u, s] = tx.update(
        toHost(ops, updates),
        toHost(ops, state) as S,
        params === undefined || params === null ? params : toHost(ops, params),
        extraArgs,
      );
      return [back(ops, like, u), back(ops, like, s) as S];
    },
  };
  if (tx.bindInPlace) wrapped.bindInPlace = tx.bindInPlace.bind(tx);
  return wrapped;
}
