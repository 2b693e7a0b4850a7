/**
 * The gradient-transformation protocol, as optax's `base` module: a pair of pure functions
 * `init(params) -> state` and `update(updates, state, params?) -> [updates, state]`.
 */

import type { StageName } from './kernels/stages.js';
import { disposeLeaf, leafOps } from './leaf.js';
import type { ArrayLeaf } from './tree.js';
import { mapLeaves, treeLeaves } from './tree.js';
import { checkCount } from './validate.js';

export type { ScalarOrSchedule, Schedule } from './schedule-types.js';

/** Extra keyword arguments passed down a chain to the transformations that use them. */
export type ExtraArgs = Readonly<Record<string, unknown>>;

/**
 * A zero-allocation step bound to one state object that it mutates, for the in-place
 * {@link Optimizer}. `prepare` computes and validates the per-step scalars (learning rate, bias
 * corrections) without touching any buffer, so a bad value throws before anything changes; `run`
 * then reads `input`, writes `output` (which may be the same arrays) and updates the state.
 * Leaves are flat lists in {@link treeLeaves} order.
 */
export interface InPlaceStep {
  /**
   * True when `run` never throws (every check happens in `prepare`). The {@link Optimizer} backs
   * up the state before a step whose members do not all promise this, and restores it when the
   * step throws; a step that sets it is spared that copy. Leave it unset when unsure.
   */
  readonly cannotThrow?: boolean;
  /** Computes and checks the step's scalars from the state; changes nothing (may throw). */
  prepare(extraArgs: ExtraArgs | undefined): void;
  /** Reads `input` (and `params`), writes `output` (may be `input`) and advances the state. */
  run(
    input: readonly ArrayLeaf[],
    output: readonly ArrayLeaf[],
    params: readonly ArrayLeaf[],
  ): void;
}

/**
 * A gradient transformation: `init` builds the state from the params, `update` maps updates (first
 * the gradients) and the state to new updates and a new state, never mutating its inputs.
 *
 * @example
 * ```ts
 * const tx: GradientTransformation = radam(1e-3);
 * const state = tx.init(params);
 * const [updates, newState] = tx.update(grads, state, params);
 * ```
 */
export interface GradientTransformation<S = any> {
  /** The initial state for `params`. */
  init(params: any): S;
  /** The new updates and the new state; the inputs are not changed. */
  update(updates: any, state: S, params?: any): [any, S];
  /**
   * Present when the transformation can run in place on typed-array trees; see
   * {@link InPlaceStep}. `params` is the params tree the step will update (read it at bind time,
   * e.g. to resolve a mask; its leaves are the ones `run` receives as `params`).
   */
  bindInPlace?(state: S, params: unknown): InPlaceStep;
}

/**
 * A gradient transformation whose `update` also takes extra arguments (optax's
 * `GradientTransformationExtraArgs`); {@link chain} passes them to every member.
 *
 * @example
 * ```ts
 * const [updates, state2] = tx.update(grads, state, params, { value: loss });
 * ```
 */
export interface GradientTransformationExtraArgs<S = any> extends GradientTransformation<S> {
  /** As {@link GradientTransformation.update}, with extra arguments for the members that use them. */
  update(updates: any, state: S, params?: any, extraArgs?: ExtraArgs): [any, S];
}

/** The state of a transformation that keeps none, as optax's `EmptyState`. */
export type EmptyState = Record<string, never>;

/** The largest int32: step counts stop here instead of wrapping, as optax's counts do. */
export const INT32_MAX = 2_147_483_647;

/**
 * `count + 1`, saturating at the int32 maximum as `optax.safe_int32_increment` does.
 *
 * @example
 * ```ts
 * safeIncrement(0); // 1
 * safeIncrement(2147483647); // 2147483647
 * ```
 */
export function safeIncrement(count: number): number {
  if (!(Number.isInteger(count) && count >= 0))
    throw new RangeError(
      `safeIncrement: count must be an integer step count >= 0, got ${typeof count === 'number' ? count : typeof count}`,
    );
  return count < INT32_MAX ? count + 1 : INT32_MAX;
}

/**
 * The transformation that returns the updates unchanged.
 *
 * @example
 * ```ts
 * const [u] = identity().update({ x: 1 }, {}); // { x: 1 }
 * ```
 */
export function identity(): GradientTransformationExtraArgs<EmptyState> {
  const tx: GradientTransformationExtraArgs<EmptyState> = {
    init: () => ({}),
    update: (updates, state) => [updates, state],
    bindInPlace: () => ({
      cannotThrow: true,
      prepare() {},
      run(input, output) {
        for (let i = 0; i < input.length; i++)
          if (output[i] !== input[i]) output[i]!.set(input[i]!);
      },
    }),
  };
  // In a fused chain it is no stage at all (`sgd` without momentum is `load, scale, apply`).
  return withFusionTag(tx, {
    kind: 'stage',
    name: 'identity',
    fuse: () => statelessMember(null, []),
  });
}

/**
 * `params + updates`, leafwise, each result of its param's type (a float64 update applied to a
 * `Float32Array` param is rounded to float32 and added in float32, giving a `Float32Array`). A
 * `null` update leaves its param as it is.
 *
 * @example
 * ```ts
 * applyUpdates({ w: new Float32Array([1, 2]) }, { w: new Float32Array([0.5, -1]) });
 * // { w: Float32Array [1.5, 1] }
 * ```
 */
export function applyUpdates<T>(params: T, updates: unknown): T {
  return mapLeaves(
    ([p, u]) => (u === null ? p : leafOps(p).add(p, u)),
    [params, updates],
    ['params', 'updates'],
    [false, true],
  );
}

/**
 * Frees every leaf of a tree that needs freeing (tensors); a no-op for typed arrays and numbers.
 *
 * @example
 * ```ts
 * disposeTree({ w: new Float32Array(2), b: 1, ok: true }); // nothing to free here
 * ```
 */
export function disposeTree(tree: unknown): void {
  // Any leaf: states also hold numbers and booleans, which need nothing.
  for (const leaf of treeLeaves<unknown>(tree)) disposeLeaf(leaf);
}

/*
 * The fusion protocol. A transformation whose per-element math is a kernel stage
 * (src/kernels/stages.ts) carries a non-enumerable tag under FUSION_TAG that binds it to a state
 * as a {@link FusedMember}. The engine's planner (src/inplace/plan.ts) turns a chain of tagged
 * members (for example `radam(lr)` = `chain(scaleByRadam(), scaleByLearningRate(lr))`) into one
 * pass per leaf with the generated kernels; anything else runs through `bindInPlace`. A tag never
 * changes what `init`/`update` do.
 */

/** The property key of a transformation's fusion tag. */
export const FUSION_TAG: unique symbol = Symbol.for('optax-ts.fusion') as any;

/**
 * A fusable transformation bound to its state, as the fused step runs it: each step `prepare`
 * picks the stage and computes its scalars, the kernels run, then `commit` advances the state.
 */
export interface FusedMember {
  /** The stages this member may run (one per step; `null`: it changes nothing). */
  readonly stages: readonly (StageName | null)[];
  /** The stage of the prepared step (one of {@link stages}). */
  readonly stage: StageName | null;
  /** Its state arrays, one list per array of its stages (in `StageDef.arrays` order), in params leaf order. */
  readonly arrays: readonly (readonly ArrayLeaf[])[];
  /**
   * The prepared step's scalars, in the order of the stage's `scalars` (every stage of a member
   * takes the same ones). A typed array, so that reading them allocates nothing.
   */
  readonly scalars: Float64Array;
  /** Checks the state and computes this step's stage and scalars; changes nothing (may throw). */
  prepare(): void;
  /** Advances the state (counts) after the kernels have run the prepared step. */
  commit(): void;
}

/**
 * A member whose state holds nothing per element: it runs `stage` (or nothing, when `null`) with
 * `scalars` (in the stage's order), which `prepare` may set each step.
 *
 * @example
 * ```ts
 * const m = statelessMember('scale', [-0.1]);
 * m.prepare();
 * m.scalars[0]; // -0.1
 * ```
 */
export function statelessMember(
  stage: StageName | null,
  scalars: readonly number[],
  prepare: (scalars: Float64Array) => void = () => {},
  commit: () => void = () => {},
): FusedMember {
  const values = Float64Array.from(scalars);
  return {
    stages: [stage],
    stage,
    arrays: [],
    scalars: values,
    prepare: () => prepare(values),
    commit,
  };
}

/**
 * A member whose state is `{ count }`: it runs `stage` with the one scalar `value(count)` (checked
 * as the functional update checks it), and advances the count. `undefined` when `state` is not a
 * container. `fn` names the transformation in errors.
 *
 * @example
 * ```ts
 * const st = { count: 2 };
 * const m = countedMember('scale', 'half', st, (c) => 1 / c)!;
 * m.prepare();
 * m.scalars[0]; // 0.5
 * m.commit();
 * st.count; // 3
 * ```
 */
export function countedMember(
  stage: StageName,
  fn: string,
  state: unknown,
  value: (count: number) => number,
): FusedMember | undefined {
  const st = state as { count: number };
  if (state === null || typeof state !== 'object' || Array.isArray(state)) return undefined;
  const countWhat = `${fn}.update: state.count`;
  return statelessMember(
    stage,
    [Number.NaN],
    (sc) => {
      checkCount(countWhat, st.count);
      sc[0] = value(st.count);
    },
    () => {
      st.count = safeIncrement(st.count);
    },
  );
}

/** What a tagged transformation is: a chain of members, or one stage. */
export type FusionTag =
  | { kind: 'chain'; members: readonly unknown[] }
  | {
      kind: 'stage';
      /** The transformation's name (`scaleByRadam`, `trace`, ...). */
      name: string;
      /**
       * Binds the transformation to `state`; `leaves` gives a state subtree's leaves in params
       * order (`undefined` when it does not match the params). `undefined` when this state
       * cannot be fused (for example, a leaf dtype the kernels do not take).
       */
      fuse(
        state: unknown,
        leaves: (tree: unknown) => ArrayLeaf[] | undefined,
      ): FusedMember | undefined;
    };

/**
 * Attaches `tag` to `tx` (non-enumerable, read-only) and returns `tx`.
 *
 * @example
 * ```ts
 * const tx = withFusionTag({ ...identity() }, { kind: 'chain', members: [] });
 * fusionTag(tx)?.kind; // 'chain'
 * ```
 */
export function withFusionTag<T extends object>(tx: T, tag: FusionTag): T {
  Object.defineProperty(tx, FUSION_TAG, { value: tag, enumerable: false });
  return tx;
}

/**
 * The fusion tag of `tx`, if it has one.
 *
 * @example
 * ```ts
 * fusionTag(radam(1e-3))?.kind; // 'chain'
 * ```
 */
export function fusionTag(tx: unknown): FusionTag | undefined {
  if (tx === null || typeof tx !== 'object') return undefined;
  return (tx as { [FUSION_TAG]?: FusionTag })[FUSION_TAG];
}
