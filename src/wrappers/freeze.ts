/** Zeroing updates: `optax.set_to_zero`, `optax.freeze` and `optax.selective_transform`. */

import type {
  EmptyState,
  GradientTransformation,
  GradientTransformationExtraArgs,
} from '../base.js';
import { type Mask, type MaskedState, masked } from '../transforms/masked.js';
import { isContainer, treeMap, treeZerosLike } from '../tree.js';
import { checkOptionKeys, checkTransformation, describeValue } from '../validate.js';
import { type PartitionState, partitionNamed } from './partition.js';

/**
 * The stateless transformation whose updates are zeros, as `optax.set_to_zero` (every element,
 * NaN and ±Infinity included, becomes 0): with {@link masked} or {@link partition} it keeps some
 * params fixed.
 *
 * @example
 * ```ts
 * const [u] = setToZero().update({ w: new Float32Array([1, NaN]) }, {}); // { w: Float32Array [0, 0] }
 * ```
 */
export function setToZero(): GradientTransformationExtraArgs<EmptyState> {
  return {
    init: () => ({}),
    update: (updates, state) => [treeZerosLike(updates), state],
    bindInPlace: () => ({
      cannotThrow: true,
      prepare() {},
      run(_input, output) {
        for (let i = 0; i < output.length; i++) output[i]!.fill(0);
      },
    }),
  };
}

/**
 * Zeroes the updates of the leaves where `mask` is `true`, leaving the others as they are, as
 * `optax.freeze` (= `masked(setToZero(), mask)`): the params under `true` stay fixed. `mask` is
 * `true`/`false` for the whole tree or a tree of booleans with the params' structure (or a prefix
 * of it). The state is `masked`'s, `{ innerState: {} }`.
 *
 * @example
 * ```ts
 * const tx = freeze({ w: true, b: false });
 * const [u] = tx.update({ w: 1, b: 2 }, tx.init({ w: 0, b: 0 })); // { b: 2, w: 0 }
 * ```
 */
export function freeze(mask: Mask): GradientTransformationExtraArgs<MaskedState<EmptyState>> {
  if (typeof mask !== 'boolean' && !isContainer(mask))
    throw new TypeError(
      `freeze: mask must be true, false or a tree of booleans matching the params, got ${describeValue(mask)}`,
    );
  return masked(setToZero(), mask);
}

/** Options of {@link selectiveTransform}. */
export interface SelectiveTransformOptions {
  /** `true`/`false`, or a tree of booleans (a prefix of the params): `true` freezes the leaf. */
  freezeMask: Mask;
}

/**
 * Runs `optimizer` on the leaves where `freezeMask` is `false` and zeroes the others, as
 * `optax.selective_transform`: a {@link partition} with the labels `'train'` and `'freeze'`
 * (`freeze` runs {@link setToZero}), so the optimizer's state holds only the trained leaves.
 *
 * @example
 * ```ts
 * const tx = selectiveTransform(scale(-1), { freezeMask: { w: false, b: true } });
 * const [u] = tx.update({ w: 1, b: 2 }, tx.init({ w: 0, b: 0 })); // { b: 0, w: -1 }
 * ```
 */
export function selectiveTransform(
  optimizer: GradientTransformation,
  options: SelectiveTransformOptions,
): GradientTransformationExtraArgs<PartitionState> {
  const fn = 'selectiveTransform';
  checkTransformation(fn, 'optimizer', optimizer);
  if (options === undefined) throw new TypeError(`${fn}: options { freezeMask } are required`);
  checkOptionKeys(fn, options, ['freezeMask']);
  const mask = options.freezeMask;
  if (typeof mask !== 'boolean' && !isContainer(mask))
    throw new TypeError(
      `${fn}: freezeMask must be true, false or a tree of booleans matching the params, got ${describeValue(mask)}`,
    );
  const labels = treeMap((m: unknown) => {
    if (typeof m !== 'boolean')
      throw new TypeError(
        `${fn}: freezeMask leaves must be true or false, got ${describeValue(m)}`,
      );
    return m ? 'freeze' : 'train';
  }, mask);
  return partitionNamed(fn, { train: optimizer, freeze: setToZero() }, () => labels);
}
