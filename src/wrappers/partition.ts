/** A different transformation per group of parameters, as `optax.partition` (`multi_transform`). */

import type {
  ExtraArgs,
  GradientTransformation,
  GradientTransformationExtraArgs,
  InPlaceStep,
} from '../base.js';
import { type MaskedState, masked, resolveMask } from '../transforms/masked.js';
import { describeNode, isContainer, joinPath } from '../tree.js';
import { checkTransformation, describeValue } from '../validate.js';

/** The state of {@link partition} (optax's `PartitionState`): one masked state per label. */
export interface PartitionState {
  /** Per label, the state of `masked(transforms[label], leaves with that label)`. */
  innerStates: Record<string, MaskedState>;
}

/**
 * A tree of labels (strings) with the structure of the params or a prefix of it, or a function of
 * the params (or the updates) returning one.
 */
export type ParamLabels = unknown | ((tree: any) => unknown);

/**
 * Checks that every leaf of `labels` is a string naming one of `groups` (the error names its
 * path) and returns the tree of booleans `label === group` for each group, as the masks.
 */
function labelMasks(fn: string, labels: unknown, groups: readonly string[]): Map<string, unknown> {
  const seen = new Set<object>();
  const check = (node: unknown, path: string, depth: number): void => {
    if (typeof node === 'string') {
      if (!groups.includes(node))
        throw new RangeError(
          `${fn}: paramLabels${path} is ${JSON.stringify(node)}, which has no transformation; the labels must be keys of transforms (${groups.map((g) => JSON.stringify(g)).join(', ')})`,
        );
      return;
    }
    if (!isContainer(node) || ArrayBuffer.isView(node))
      throw new TypeError(
        `${fn}: paramLabels${path} must be a label (a string) or a container of labels, got ${describeValue(node)}`,
      );
    if (seen.has(node) || depth > 1000)
      throw new TypeError(`${fn}: paramLabels${path} is cyclic or too deep`);
    seen.add(node);
    if (Array.isArray(node))
      for (let i = 0; i < node.length; i++) check(node[i], joinPath(path, i), depth + 1);
    else
      for (const k of Object.keys(node))
        check((node as Record<string, unknown>)[k], joinPath(path, k), depth + 1);
    seen.delete(node);
  };
  check(labels, '', 0);
  const maskOf = (node: unknown, group: string): unknown => {
    if (typeof node === 'string') return node === group;
    if (Array.isArray(node)) return node.map((x) => maskOf(x, group));
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(node as object))
      out[k] = maskOf((node as Record<string, unknown>)[k], group);
    return out;
  };
  return new Map(groups.map((g) => [g, maskOf(labels, g)]));
}

/** `labels` with `true` at every label (a mask of the labels' structure). */
function treeOfTrue(labels: unknown): unknown {
  if (typeof labels === 'string') return true;
  if (Array.isArray(labels)) return labels.map(treeOfTrue);
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(labels as object))
    out[k] = treeOfTrue((labels as Record<string, unknown>)[k]);
  return out;
}

/**
 * Applies a different transformation to each group of parameters, as `optax.partition` (formerly
 * `multi_transform`): `paramLabels` gives each leaf (or, as a prefix tree, each subtree) a label,
 * and `transforms[label]` runs on the leaves with that label only, through {@link masked} (it sees
 * a tree where the other leaves are `null`). The state is optax's `PartitionState`,
 * `{ innerStates: { [label]: { innerState } } }`, one masked state per key of `transforms`.
 *
 * `paramLabels` is a tree of strings with the params' structure or a prefix of it, or a function
 * returning one; as in optax, `init` calls it with the params and `update` with the updates (the
 * in-place `Optimizer` calls it once, with the params). A label that is not a key of `transforms`
 * throws an error naming its path (optax checks this in `init` only; here `update` checks too).
 * optax's `mask_compatible_extra_args` option is not supported: extra arguments reach every group
 * as they are.
 *
 * @example
 * ```ts
 * const tx = partition({ fast: scale(10), slow: scale(0.1) }, { w: 'fast', b: 'slow' });
 * const [u] = tx.update({ w: 1, b: 1 }, tx.init({ w: 0, b: 0 })); // { b: 0.1, w: 10 }
 * partition({ a: scale(1) }, { w: 'b' }).init({ w: 0 }); // RangeError: partition: paramLabels.w is "b", which has no transformation; the labels must be keys of transforms ("a")
 * ```
 */
export function partition(
  transforms: Readonly<Record<string, GradientTransformation>>,
  paramLabels: ParamLabels,
): GradientTransformationExtraArgs<PartitionState> {
  return partitionNamed('partition', transforms, paramLabels);
}

/**
 * The former name of {@link partition} (`optax.multi_transform`, kept by optax for backwards
 * compatibility); errors name `multiTransform`.
 *
 * @example
 * ```ts
 * const tx = multiTransform({ a: scale(2), b: setToZero() }, (p) => ({ x: 'a', y: 'b' }));
 * const [u] = tx.update({ x: 3, y: 3 }, tx.init({ x: 0, y: 0 })); // { x: 6, y: 0 }
 * ```
 */
export function multiTransform(
  transforms: Readonly<Record<string, GradientTransformation>>,
  paramLabels: ParamLabels,
): GradientTransformationExtraArgs<PartitionState> {
  return partitionNamed('multiTransform', transforms, paramLabels);
}

/** {@link partition} with `fn` naming it in errors. */
export function partitionNamed(
  fn: string,
  transforms: Readonly<Record<string, GradientTransformation>>,
  paramLabels: ParamLabels,
): GradientTransformationExtraArgs<PartitionState> {
  if (!isContainer(transforms) || Array.isArray(transforms))
    throw new TypeError(
      `${fn}: transforms must be an object mapping labels to transformations, got ${describeNode(transforms)}`,
    );
  const groups = Object.keys(transforms);
  for (const g of groups) checkTransformation(fn, `transforms.${g}`, transforms[g]);
  if (
    paramLabels === undefined ||
    (typeof paramLabels !== 'function' &&
      typeof paramLabels !== 'string' &&
      !isContainer(paramLabels))
  )
    throw new TypeError(
      `${fn}: paramLabels must be a tree of labels or a function (params) => tree of labels, got ${describeValue(paramLabels)}`,
    );
  /** The masked transformation of each group, for checked `labels`. */
  const maskedFor = (
    labels: unknown,
  ): Map<string, GradientTransformationExtraArgs<MaskedState>> => {
    const masks = labelMasks(fn, labels, groups);
    return new Map(groups.map((g) => [g, masked(transforms[g]!, masks.get(g))]));
  };
  // Static labels: checked, and the masked transformations made, once.
  const fixedLabels = typeof paramLabels === 'function' ? undefined : paramLabels;
  const fixed = fixedLabels === undefined ? undefined : maskedFor(fixedLabels);
  /**
   * The groups' masked transformations for `tree` (the params or the updates, `name`): the
   * labels (the label function called once), checked against `tree` with errors naming the path.
   */
  const partsFor = (
    tree: unknown,
    name: string,
  ): Map<string, GradientTransformationExtraArgs<MaskedState>> => {
    const labels = fixedLabels ?? (paramLabels as (t: unknown) => unknown)(tree);
    const parts = fixed ?? maskedFor(labels);
    try {
      resolveMask(fn, treeOfTrue(labels), tree);
    } catch (err) {
      const e = err as Error;
      e.message = e.message
        .replace(`${fn}: mask`, `${fn}: paramLabels`)
        .replace('the params have', `the ${name} have`);
      throw e;
    }
    return parts;
  };
  const tx: GradientTransformationExtraArgs<PartitionState> = {
    init(params) {
      const parts = partsFor(params, 'params');
      const innerStates: Record<string, MaskedState> = {};
      for (const g of groups) innerStates[g] = parts.get(g)!.init(params);
      return { innerStates };
    },
    update(updates, state, params, extraArgs) {
      if (
        !isContainer(state) ||
        !isContainer(state.innerStates) ||
        groups.some((g) => !(g in state.innerStates))
      )
        throw new TypeError(
          `${fn}.update: state must be { innerStates: { ${groups.join(', ')} } } as made by ${fn}.init`,
        );
      const parts = partsFor(updates, 'updates');
      const innerStates: Record<string, MaskedState> = {};
      for (const g of groups) {
        const [u, s] = parts.get(g)!.update(updates, state.innerStates[g]!, params, extraArgs);
        updates = u;
        innerStates[g] = s;
      }
      return [updates, { innerStates }];
    },
  };
  if (groups.every((g) => typeof transforms[g]!.bindInPlace === 'function')) {
    tx.bindInPlace = (state, params) => {
      const parts = partsFor(params, 'params');
      const steps: InPlaceStep[] = groups.map((g) =>
        parts.get(g)!.bindInPlace!(state.innerStates[g]!, params),
      );
      return {
        cannotThrow: steps.every((s) => s.cannotThrow === true),
        prepare(extraArgs: ExtraArgs | undefined) {
          for (const s of steps) s.prepare(extraArgs);
        },
        run(input, output, params) {
          // The groups' leaves are disjoint: each step writes its own and passes the others on.
          let from = input;
          for (const s of steps) {
            s.run(from, output, params);
            from = output;
          }
          if (steps.length === 0)
            for (let i = 0; i < input.length; i++)
              if (output[i] !== input[i]) output[i]!.set(input[i]!);
        },
      };
    };
  }
  return tx;
}
