/** NaN updates set to zero, as `optax.zero_nans`. */
import type { GradientTransformationExtraArgs } from '../base.js';
import { disposeLeaf, leafOps } from '../leaf.js';
import type { ArrayLeaf } from '../tree.js';
import { isContainer, mapLeaves, treeMap, treeSlots } from '../tree.js';

/** The state of {@link zeroNans} (optax's `ZeroNansState`). */
export interface ZeroNansState {
  /** Per params leaf: whether the last update had a NaN there (a tree of booleans). */
  foundNan: any;
}

class NanResult {
  constructor(
    readonly u: unknown,
    readonly found: boolean,
  ) {}
}

/** Zeroes the NaNs of `u` into `out` (may be `u`); true when there was one. */
function zeroLeaf(u: ArrayLeaf, out: ArrayLeaf): boolean {
  let found = false;
  for (let i = 0; i < u.length; i++) {
    const x = u[i]!;
    if (Number.isNaN(x)) {
      found = true;
      out[i] = 0;
    } else out[i] = x;
  }
  return found;
}

/** One leaf of the functional update. */
function nanLeaf(u: unknown): NanResult {
  if (typeof u === 'number') return new NanResult(Number.isNaN(u) ? 0 : u, Number.isNaN(u));
  if (u instanceof Float32Array || u instanceof Float64Array) {
    const out = u.slice();
    return new NanResult(out, zeroLeaf(u, out));
  }
  const ops = leafOps(u);
  if (ops.primitive === undefined)
    throw new TypeError(`zeroNans.update: ${ops.name} leaves have no elementwise primitives`);
  // `u == u` is false exactly at NaNs; a sum of squares is NaN exactly when an element is.
  const ok = ops.primitive('eq', [u, u]);
  const out = ops.primitive('select', [ok, u, 0]);
  disposeLeaf(ok);
  return new NanResult(out, Number.isNaN(ops.sumOfSquares(u)));
}

/**
 * Replaces NaN update elements by 0, as `optax.zero_nans`. The state is optax's `ZeroNansState`
 * `{ foundNan }`: a tree of booleans shaped like the params, each true when the last update had
 * a NaN in that leaf (false at `init`); the transformation itself never reads it. ±Infinity is
 * left alone.
 *
 * @example
 * ```ts
 * const tx = zeroNans();
 * const [u, state] = tx.update({ a: new Float64Array([1, NaN]), b: 2 }, tx.init({ a: 0, b: 0 }));
 * // u: { a: Float64Array [1, 0], b: 2 }
 * state.foundNan; // { a: true, b: false }
 * ```
 */
export function zeroNans(): GradientTransformationExtraArgs<ZeroNansState> {
  const fn = 'zeroNans';
  const checkState = (state: unknown): void => {
    if (!isContainer(state) || Array.isArray(state) || !('foundNan' in state))
      throw new TypeError(`${fn}.update: state must be { foundNan } as made by ${fn}.init`);
  };
  return {
    init: (params) => ({ foundNan: treeMap(() => false, params) }),
    update(updates, state) {
      checkState(state);
      const results = mapLeaves(([u]) => nanLeaf(u), [updates], ['updates']);
      return [
        treeMap((r: NanResult) => r.u, results),
        { foundNan: treeMap((r: NanResult) => r.found, results) },
      ];
    },
    bindInPlace(state) {
      // Where each leaf's flag lives: a slot of the foundNan tree, or the state itself.
      const root = !isContainer(state.foundNan);
      const slots = root
        ? []
        : treeSlots(state.foundNan, 'state.foundNan').filter(
            (s) => s.leaf && s.container[s.key] !== null,
          );
      return {
        cannotThrow: true,
        prepare() {
          checkState(state);
        },
        run(input, output) {
          for (let i = 0; i < input.length; i++) {
            const found = zeroLeaf(input[i]!, output[i]!);
            if (root) state.foundNan = found;
            else {
              const s = slots[i]!;
              s.container[s.key] = found;
            }
          }
        },
      };
    },
  };
}
