/** Hyperparameters kept in the state, as `optax.inject_hyperparams`. */

import type {
  ExtraArgs,
  GradientTransformation,
  GradientTransformationExtraArgs,
  InPlaceStep,
  Schedule,
} from '../base.js';
import { safeIncrement } from '../base.js';
import { isContainer } from '../tree.js';
import { checkCount, checkOptionKeys, describeValue, evaluate } from '../validate.js';

/** The state of an {@link injectHyperparams} transformation (optax's `InjectHyperparamsState`). */
export interface InjectHyperparamsState<S = unknown> {
  /** Updates made so far; schedules are evaluated at this count (0 on the first update). */
  count: number;
  /**
   * The numeric hyperparameters used by the last update (at `init`, their initial values). Set a
   * constant one (e.g. `learningRate`) here to change it from the next update on; scheduled ones
   * are recomputed each update, so setting them has no effect.
   */
  hyperparams: Record<string, number>;
  /** The inner transformation's state. */
  innerState: S;
}

/** Options of {@link injectHyperparams}. */
export interface InjectHyperparamsOptions {
  /** Names of function-valued arguments that are not schedules (passed to the factory as they are). */
  staticArgs?: readonly string[];
}

/** The arguments of an injected factory: each numeric one may be given as a schedule instead. */
export type InjectedArgs<H> = {
  [K in keyof H]: H[K] extends number ? number | Schedule : H[K];
};

/**
 * Makes a transformation's hyperparameters part of its state, as `optax.inject_hyperparams`.
 * `injectHyperparams(factory)` returns a function taking the factory's argument object, where any
 * numeric hyperparameter may be a schedule. Numbers live in `state.hyperparams`, where they can be
 * read and changed between steps; schedules are evaluated at `state.count` (0 on the first update)
 * and their values stored there too. Booleans, other non-numbers and the `staticArgs` are passed
 * to `factory` unchanged. Every update builds the inner transformation with
 * `factory(currentHyperparams)`, so the factory's own checks reject a bad value with its usual
 * message, before anything changes.
 *
 * With the in-place `Optimizer` the inner transformation is rebuilt only when a hyperparameter
 * changes; a step with unchanged hyperparameters allocates nothing.
 *
 * @example
 * ```ts
 * const tx = injectHyperparams((h: { learningRate: number }) => radam(h.learningRate))({
 *   learningRate: 1e-3,
 * });
 * let state = tx.init(params);
 * [updates, state] = tx.update(grads, state, params);
 * state = { ...state, hyperparams: { ...state.hyperparams, learningRate: 1e-4 } }; // from now on
 * ```
 */
export function injectHyperparams<H extends Record<string, unknown>>(
  factory: (hyperparams: H) => GradientTransformation,
  options: InjectHyperparamsOptions = {},
): (hyperparams: InjectedArgs<H>) => GradientTransformationExtraArgs<InjectHyperparamsState> {
  const fn = 'injectHyperparams';
  if (typeof factory !== 'function')
    throw new TypeError(`${fn}: factory must be a function (hyperparams) => transformation`);
  checkOptionKeys(fn, options, ['staticArgs']);
  const names = options?.staticArgs ?? [];
  if (!Array.isArray(names) || !names.every((n) => typeof n === 'string'))
    throw new TypeError(
      `${fn}: staticArgs must be a list of argument names (strings), got ${describeValue(names)}${
        typeof names === 'string' ? ` (write [${JSON.stringify(names)}])` : ''
      }`,
    );
  const staticArgs = new Set<string>(names);
  return (args) => {
    if (!isContainer(args) || Array.isArray(args))
      throw new TypeError(`${fn}: the hyperparameters must be an object of named values`);
    const statics: Record<string, unknown> = {};
    const numeric: string[] = [];
    const scheduled: string[] = [];
    for (const key of Object.keys(args).sort()) {
      const v = (args as Record<string, unknown>)[key];
      if (staticArgs.has(key) || (typeof v !== 'number' && typeof v !== 'function'))
        statics[key] = v;
      else if (typeof v === 'function') scheduled.push(key);
      else {
        if (!Number.isFinite(v))
          throw new RangeError(`${fn}: hyperparameter ${key} must be finite, got ${v}`);
        numeric.push(key);
      }
    }
    for (const s of staticArgs)
      if (!(s in args))
        throw new TypeError(
          `${fn}: staticArgs names ${JSON.stringify(s)}, which is not an argument`,
        );
    const keys = [...numeric, ...scheduled].sort();
    const initialValue = (key: string): number => {
      const v = (args as Record<string, unknown>)[key];
      return typeof v === 'function' ? evaluate(fn, key, v as Schedule, 0) : (v as number);
    };
    /** The hyperparameters for the update at `state`: stored numbers, schedules at `count`. */
    const current = (state: InjectHyperparamsState, out: Record<string, number>): void => {
      for (const key of numeric) {
        const v = state.hyperparams[key];
        if (typeof v !== 'number' || !Number.isFinite(v))
          throw new RangeError(
            `${fn}: state.hyperparams.${key} must be a finite number, got ${String(v)}`,
          );
        out[key] = v;
      }
      for (const key of scheduled)
        out[key] = evaluate(
          fn,
          key,
          (args as Record<string, unknown>)[key] as Schedule,
          state.count,
        );
    };
    const build = (hp: Record<string, number>): GradientTransformationExtraArgs => {
      const inner = factory({ ...statics, ...hp } as H);
      if (!inner || typeof inner.init !== 'function' || typeof inner.update !== 'function')
        throw new TypeError(`${fn}: factory must return a gradient transformation`);
      return inner as GradientTransformationExtraArgs;
    };
    function checkState(state: unknown): asserts state is InjectHyperparamsState {
      const s = state as InjectHyperparamsState;
      if (
        !isContainer(s) ||
        typeof s.count !== 'number' ||
        !isContainer(s.hyperparams) ||
        !('innerState' in s)
      )
        throw new TypeError(
          `${fn}.update: state must be { count, hyperparams, innerState } as made by init`,
        );
      for (const k of Object.keys(s.hyperparams))
        if (!keys.includes(k))
          throw new TypeError(
            `${fn}.update: state.hyperparams has ${JSON.stringify(k)}, which is not a numeric hyperparameter (expected ${keys.join(', ')})`,
          );
    }
    const initialHp: Record<string, number> = {};
    for (const key of keys) initialHp[key] = initialValue(key);
    const probe = build(initialHp);

    const tx: GradientTransformationExtraArgs<InjectHyperparamsState> = {
      init: (params) => {
        const hyperparams: Record<string, number> = {};
        for (const key of keys) hyperparams[key] = initialValue(key);
        return { count: 0, hyperparams, innerState: build(hyperparams).init(params) };
      },
      update(updates, state, params, extraArgs) {
        checkState(state);
        const hp: Record<string, number> = {};
        current(state, hp);
        const [u, innerState] = build(hp).update(updates, state.innerState, params, extraArgs);
        return [u, { count: safeIncrement(state.count), hyperparams: hp, innerState }];
      },
    };
    if (typeof probe.bindInPlace === 'function') {
      tx.bindInPlace = (state, params) => {
        const pending: Record<string, number> = {};
        const used = new Float64Array(keys.length);
        let step: InPlaceStep | undefined;
        const countWhat = `${fn}.update: state.count`;
        // Every build of the factory has the same members; a probe tells whether they may throw.
        const cannotThrow = probe.bindInPlace!(probe.init(params), params).cannotThrow;
        return {
          cannotThrow,
          prepare(extraArgs: ExtraArgs | undefined) {
            checkCount(countWhat, state.count);
            current(state, pending);
            let changed = step === undefined;
            for (let i = 0; i < keys.length; i++) if (pending[keys[i]!] !== used[i]) changed = true;
            if (changed) {
              const inner = build({ ...pending });
              if (typeof inner.bindInPlace !== 'function')
                throw new TypeError(`${fn}: the factory's transformation cannot run in place`);
              step = inner.bindInPlace(state.innerState, params);
              for (let i = 0; i < keys.length; i++) used[i] = pending[keys[i]!]!;
            }
            step!.prepare(extraArgs);
          },
          run(input, output, params) {
            step!.run(input, output, params);
            for (let i = 0; i < keys.length; i++) state.hyperparams[keys[i]!] = used[i]!;
            state.count = safeIncrement(state.count);
          },
        };
      };
    }
    return tx;
  };
}
