/** A chain whose members are named, as `optax.named_chain`. */

import type {
  ExtraArgs,
  GradientTransformation,
  GradientTransformationExtraArgs,
  InPlaceStep,
} from '../base.js';
import { isContainer } from '../tree.js';
import { checkTransformation, describeValue } from '../validate.js';

/** The state of {@link namedChain}: each member's state under its name, in the chain's order. */
export type NamedChainState = Record<string, unknown>;

/**
 * Applies transformations one after the other, as `optax.named_chain`: like {@link chain}, but
 * each member comes as a `[name, transformation]` pair and the state is an object holding each
 * member's state under its name (in the members' order, as optax's `OrderedDict`), so that
 * `state[name]` finds it. Extra arguments reach every member. Names must be distinct strings.
 *
 * @example
 * ```ts
 * const tx = namedChain(['clip', clip(1)], ['lr', scale(-0.1)]);
 * const state = tx.init({ w: 0 }); // { clip: {}, lr: {} }
 * const [u] = tx.update({ w: 5 }, state); // { w: -0.1 }
 * namedChain(['a', scale(1)], ['a', scale(2)]); // RangeError: namedChain: the names must be distinct, got ["a", "a"]
 * ```
 */
export function namedChain(
  ...args: readonly (readonly [string, GradientTransformation])[]
): GradientTransformationExtraArgs<NamedChainState> {
  const fn = 'namedChain';
  args.forEach((pair, i) => {
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string')
      throw new TypeError(
        `${fn}: argument ${i} must be a pair [name, transformation] with a string name, got ${describeValue(pair)}`,
      );
    checkTransformation(fn, `argument ${i} (${JSON.stringify(pair[0])})`, pair[1]);
  });
  const names = args.map(([name]) => name);
  if (new Set(names).size !== names.length)
    throw new RangeError(
      `${fn}: the names must be distinct, got [${names.map((n) => JSON.stringify(n)).join(', ')}]`,
    );
  const transforms = args.map(([, tx]) => tx as GradientTransformationExtraArgs);
  const tx: GradientTransformationExtraArgs<NamedChainState> = {
    init(params) {
      const state: NamedChainState = {};
      names.forEach((name, i) => {
        state[name] = transforms[i]!.init(params);
      });
      return state;
    },
    update(updates, state, params, extraArgs) {
      if (!isContainer(state) || Array.isArray(state) || names.some((n) => !(n in state)))
        throw new TypeError(
          `${fn}.update: state must be { ${names.join(', ')} } as made by ${fn}.init`,
        );
      const next: NamedChainState = {};
      names.forEach((name, i) => {
        const [u, s] = transforms[i]!.update(updates, state[name], params, extraArgs);
        updates = u;
        next[name] = s;
      });
      return [updates, next];
    },
  };
  if (transforms.every((t) => typeof t.bindInPlace === 'function')) {
    tx.bindInPlace = (state, params) => {
      const steps: InPlaceStep[] = transforms.map((t, i) =>
        t.bindInPlace!(state[names[i]!], params),
      );
      return {
        cannotThrow: steps.every((s) => s.cannotThrow === true),
        prepare(extraArgs: ExtraArgs | undefined) {
          for (const s of steps) s.prepare(extraArgs);
        },
        run(input, output, params) {
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
