/** Applying a transformation to part of a tree, as `optax.masked`. */

import type {
  ExtraArgs,
  GradientTransformation,
  GradientTransformationExtraArgs,
  InPlaceStep,
} from '../base.js';
import type { ArrayLeaf } from '../tree.js';
import {
  describeNode,
  isContainer,
  joinPath,
  TreeStructureError,
  treeFlatten,
  treeLeaves,
  treeMap,
} from '../tree.js';
import { checkTransformation } from '../validate.js';

/**
 * A mask: a tree of booleans with the structure of the params or a prefix of it (a boolean stands
 * for a whole subtree), or a function that returns one given the params (or the updates).
 */
export type Mask = unknown | ((tree: any) => unknown);

/** The state of {@link masked} (optax's `MaskedState`): the inner state, built on the masked params. */
export interface MaskedState<S = unknown> {
  /** The state of the inner transformation, over the masked-in leaves. */
  innerState: S;
}

/**
 * Expands `mask` (a boolean tree, possibly a prefix of `tree`) to a tree with `tree`'s structure
 * and a boolean at every leaf (`null` where `tree` has `null`). Throws, naming the path, when a mask
 * entry is neither a boolean nor a container matching `tree`.
 */
export function resolveMask(fn: string, mask: unknown, tree: unknown, path = ''): unknown {
  if (typeof mask === 'boolean') return treeMap(() => mask, tree);
  if (tree === null) return null;
  if (!isContainer(mask))
    throw new TypeError(
      `${fn}: mask${path} must be true, false or a container matching the params, got ${describeNode(mask)}`,
    );
  if (!isContainer(tree))
    throw new TreeStructureError(
      `${fn}: mask${path} is ${describeNode(mask)}, but the params have ${describeNode(tree)} there (a mask entry over a leaf must be true or false)`,
    );
  if (Array.isArray(tree)) {
    if (!Array.isArray(mask) || mask.length !== tree.length)
      throw new TreeStructureError(
        `${fn}: mask${path} is ${describeNode(mask)}, the params have ${describeNode(tree)}`,
      );
    return tree.map((t, i) => resolveMask(fn, mask[i], t, joinPath(path, i)));
  }
  if (Array.isArray(mask))
    throw new TreeStructureError(
      `${fn}: mask${path} is ${describeNode(mask)}, the params have ${describeNode(tree)}`,
    );
  const tk = Object.keys(tree).sort();
  const mk = Object.keys(mask).sort();
  if (tk.length !== mk.length || tk.some((k, i) => k !== mk[i]))
    throw new TreeStructureError(
      `${fn}: mask${path} is ${describeNode(mask)}, the params have ${describeNode(tree)}`,
    );
  const out: Record<string, unknown> = {};
  for (const k of tk)
    out[k] = resolveMask(
      fn,
      (mask as Record<string, unknown>)[k],
      (tree as Record<string, unknown>)[k],
      joinPath(path, k),
    );
  return out;
}

/** `tree` with `null` where the full mask is false (optax's `MaskedNode`). */
export function applyMask(tree: unknown, fullMask: unknown): unknown {
  return treeMap((x: unknown, m: boolean) => (m ? x : null), tree, fullMask);
}

/** The mask tree for `tree`: calls `mask` when it is a function, then expands and checks it. */
function maskFor(fn: string, mask: Mask, tree: unknown): unknown {
  const m = typeof mask === 'function' ? (mask as (t: unknown) => unknown)(tree) : mask;
  // Refuse a cyclic or too-deep mask (or tree) before walking them side by side.
  treeFlatten(m, 'mask');
  treeFlatten(tree, 'params');
  return resolveMask(fn, m, tree);
}

/**
 * Applies `inner` only to the leaves where the mask is `true`, as `optax.masked`; the other leaves
 * pass through unchanged, and the inner state exists only for the masked-in leaves (the others are
 * `null` in it). `mask` is a tree of booleans with the params' structure or a prefix of it, or a
 * function of the params returning one; as in optax, `update` calls that function with the updates
 * (the in-place `Optimizer` evaluates it once, on the params, when it is built).
 *
 * A mask entry that is not a boolean, or that does not match the params, throws an error naming
 * its path.
 *
 * @example
 * ```ts
 * const tx = masked(scale(10), { w: true, b: false });
 * const [u] = tx.update({ w: 1, b: 1 }, tx.init({ w: 0, b: 0 })); // { b: 1, w: 10 }
 * const byFn = masked(scale(10), (p) => treeMap((x) => typeof x !== 'number', p));
 * ```
 */
export function masked<S>(
  inner: GradientTransformation<S>,
  mask: Mask,
): GradientTransformationExtraArgs<MaskedState<S>> {
  const fn = 'masked';
  checkTransformation(fn, 'inner', inner);
  if (
    mask === undefined ||
    (typeof mask !== 'function' && typeof mask !== 'boolean' && !isContainer(mask))
  )
    throw new TypeError(
      `${fn}: mask must be a tree of booleans or a function (params) => tree of booleans, got ${describeNode(mask)}`,
    );
  const tx: GradientTransformationExtraArgs<MaskedState<S>> = {
    init(params) {
      const full = maskFor(fn, mask, params);
      return { innerState: inner.init(applyMask(params, full)) };
    },
    update(updates, state, params, extraArgs) {
      if (!isContainer(state) || !('innerState' in state))
        throw new TypeError(`${fn}.update: state must be { innerState } as made by ${fn}.init`);
      const raw = typeof mask === 'function' ? (mask as (t: unknown) => unknown)(updates) : mask;
      const full = resolveMask(fn, raw, updates);
      const maskedParams =
        params === undefined || params === null
          ? params
          : applyMask(params, resolveMask(fn, raw, params));
      const [newMasked, innerState] = (inner as GradientTransformationExtraArgs<S>).update(
        applyMask(updates, full),
        state.innerState,
        maskedParams,
        extraArgs,
      );
      const merged = treeMap(
        (u: unknown, m: boolean, nu: unknown) => (m ? nu : u),
        updates,
        full,
        newMasked,
      );
      return [merged, { innerState }];
    },
  };
  if (typeof inner.bindInPlace === 'function') {
    tx.bindInPlace = (state, params) =>
      bindMasked(fn, inner, state, maskFor(fn, mask, params), params);
  }
  return tx;
}

/** The in-place step: the inner step runs on the masked-in leaves only (flat `treeLeaves` order). */
function bindMasked<S>(
  fn: string,
  inner: GradientTransformation<S>,
  state: MaskedState<S>,
  full: unknown,
  params: unknown,
): InPlaceStep {
  const flags = treeLeaves<boolean>(full);
  const idx: number[] = [];
  flags.forEach((f, i) => {
    if (f) idx.push(i);
  });
  const step = inner.bindInPlace!(state.innerState, applyMask(params, full));
  const subIn: ArrayLeaf[] = new Array(idx.length);
  const subOut: ArrayLeaf[] = new Array(idx.length);
  const subParams: ArrayLeaf[] = new Array(idx.length);
  return {
    cannotThrow: step.cannotThrow,
    prepare(extraArgs: ExtraArgs | undefined) {
      step.prepare(extraArgs);
    },
    run(input, output, params) {
      if (input.length !== flags.length)
        throw new TypeError(
          `${fn}: the mask covers ${flags.length} leaves, the updates have ${input.length}`,
        );
      for (let j = 0; j < idx.length; j++) {
        const i = idx[j]!;
        subIn[j] = input[i]!;
        subOut[j] = output[i]!;
        subParams[j] = params[i]!;
      }
      step.run(subIn, subOut, subParams);
      for (let i = 0; i < flags.length; i++)
        if (!flags[i] && output[i] !== input[i]) output[i]!.set(input[i]!);
    },
  };
}
