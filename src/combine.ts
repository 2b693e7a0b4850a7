/** Composition of gradient transformations. */
import type {
  ExtraArgs,
  GradientTransformation,
  GradientTransformationExtraArgs,
  InPlaceStep,
} from './base.js';
import { withFusionTag } from './base.js';
import { fusedUpdate } from './fusion.js';
import { anyLeafNeedsDispose, disposeLeaf, findLeafOps } from './leaf.js';
import { treeLeaves } from './tree.js';
import { checkTransformation } from './validate.js';

/** The state of a {@link chain}: one state per member, in order. */
export type ChainState = unknown[];

/**
 * Frees the leaves of the updates passed between members of a chain (tensors; typed arrays need
 * nothing), except those that are also leaves of `keep` (the caller's inputs, the results, the
 * states), which a member may have passed through or stored.
 */
function disposeBetween(between: readonly unknown[], keep: readonly unknown[]): void {
  if (between.length === 0 || !anyLeafNeedsDispose()) return; // typed arrays only: nothing to do
  const leaves = between.flatMap((t) => treeLeaves<unknown>(t));
  if (!leaves.some((x) => typeof x === 'object' && findLeafOps(x)?.dispose !== undefined)) return;
  const kept = new Set<unknown>(keep.flatMap((t) => treeLeaves<unknown>(t)));
  for (const x of new Set(leaves)) if (!kept.has(x)) disposeLeaf(x);
}

/**
 * Applies transformations one after the other, as `optax.chain`: the updates of each are the input
 * of the next, and the state is the list of the members' states. Extra arguments reach every member.
 * Leaves that need freeing (tensors) in the updates passed between members are freed before
 * `update` returns, unless they are also leaves of the inputs, the result or a state.
 *
 * @example
 * ```ts
 * const tx = chain(scaleByRadam(), scaleByLearningRate(1e-3));
 * const state = tx.init(params); // the list [radam's state, {}]
 * ```
 */
export function chain(
  ...transforms: GradientTransformation[]
): GradientTransformationExtraArgs<ChainState> {
  transforms.forEach((tx, i) => {
    checkTransformation('chain', `argument ${i}`, tx);
  });
  const canRunInPlace = transforms.every((tx) => typeof tx.bindInPlace === 'function');
  const chained: GradientTransformationExtraArgs<ChainState> = {
    init: (params) => transforms.map((tx) => tx.init(params)),
    update(updates, state, params, extraArgs) {
      if (!Array.isArray(state) || state.length !== transforms.length)
        throw new TypeError(
          `chain.update: state must be the list of ${transforms.length} member states made by this chain's init, got ${
            Array.isArray(state) ? `a list of ${state.length}` : typeof state
          }`,
        );
      // Typed-array trees through fusable members: one fused pass per leaf (same bits).
      const fused = fusedUpdate(chained, updates, state, params);
      if (fused !== undefined) return fused as [unknown, ChainState];
      const newState: unknown[] = [];
      const input = updates;
      const between: unknown[] = [];
      try {
        for (let i = 0; i < transforms.length; i++) {
          const tx = transforms[i] as GradientTransformationExtraArgs;
          const [u, s] = tx.update(updates, state[i], params, extraArgs);
          if (i > 0) between.push(updates);
          updates = u;
          newState.push(s);
        }
      } catch (err) {
        if (updates !== input) between.push(updates);
        disposeBetween(between, [input, state, params]);
        throw err;
      }
      disposeBetween(between, [input, state, params, updates, newState]);
      return [updates, newState];
    },
  };
  if (canRunInPlace) {
    chained.bindInPlace = (state, params) => {
      return sequenceSteps(transforms.map((tx, i) => tx.bindInPlace!(state[i], params)));
    };
  }
  return withFusionTag(chained, { kind: 'chain', members: transforms });
}

/**
 * In-place steps run one after the other, each reading what the one before wrote: the in-place
 * form of a chain (`chain`, `namedChain`, and `partition`, whose groups' leaves are disjoint).
 * It cannot throw when no step can; with no steps it copies the input to the output.
 */
export function sequenceSteps(steps: readonly InPlaceStep[]): InPlaceStep {
  return {
    cannotThrow: steps.every((step) => step.cannotThrow === true),
    prepare(extraArgs: ExtraArgs | undefined) {
      for (const step of steps) step.prepare(extraArgs);
    },
    run(input, output, params) {
      let from = input;
      for (const step of steps) {
        step.run(from, output, params);
        from = output;
      }
      if (steps.length === 0)
        for (let i = 0; i < input.length; i++)
          if (output[i] !== input[i]) output[i]!.set(input[i]!);
    },
  };
}
