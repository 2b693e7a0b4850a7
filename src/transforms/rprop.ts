/** Rprop's rescaling, as `optax.scale_by_rprop`. */
import type { GradientTransformationExtraArgs } from '../base.js';
import { checkBoolean, checkFinite, checkOptionKeys } from '../validate.js';
import { type ElementwiseState, elementwise } from './elementwise.js';

/** Options of {@link scaleByRprop} (and of `rprop`), with optax's defaults. */
export interface ScaleByRpropOptions {
  /** Step-size factor when a gradient changes sign (> 0). Default 0.5. */
  etaMinus?: number;
  /** Step-size factor when a gradient keeps its sign (> 0). Default 1.2. */
  etaPlus?: number;
  /** Smallest step size (>= 0). Default 1e-6. */
  minStepSize?: number;
  /** Largest step size (>= minStepSize). Default 50. */
  maxStepSize?: number;
  /**
   * `true` (optax's behaviour, the default): each update is the PREVIOUS step's
   * `stepSize * sign(g)`, so every update lags one step behind the gradient it answers and the
   * first update is 0. `false`: the update is the current step's `stepSize * sign(g)` (0 where the
   * gradient changed sign), as the Rprop papers apply it (this is iRprop-, Igel and Hüsken 2000)
   * and as `torch.optim.Rprop` does.
   */
  lagged?: boolean;
}

/** The option names {@link scaleByRprop} accepts. */
export const RPROP_OPTIONS = [
  'etaMinus',
  'etaPlus',
  'minStepSize',
  'maxStepSize',
  'lagged',
] as const;

/**
 * {@link scaleByRprop} with the caller's name in errors (`rprop` builds its rescaling with it).
 *
 * @example
 * ```ts
 * makeScaleByRprop('rprop', 0, {}); // RangeError: rprop: learningRate must be > 0 (the initial step size), got 0
 * ```
 */
export function makeScaleByRprop(
  fn: string,
  learningRate: number,
  options: ScaleByRpropOptions,
): GradientTransformationExtraArgs<ElementwiseState> {
  checkOptionKeys(fn, options, RPROP_OPTIONS);
  const lr = checkFinite(fn, 'learningRate', learningRate, ' (the initial step size)');
  if (!(lr > 0))
    throw new RangeError(`${fn}: learningRate must be > 0 (the initial step size), got ${lr}`);
  const positive = (name: string, v: number) => {
    checkFinite(fn, name, v);
    if (!(v > 0)) throw new RangeError(`${fn}: ${name} must be > 0, got ${v}`);
    return v;
  };
  const etaMinus = positive('etaMinus', options.etaMinus ?? 0.5);
  const etaPlus = positive('etaPlus', options.etaPlus ?? 1.2);
  const minStepSize = checkFinite(fn, 'minStepSize', options.minStepSize ?? 1e-6);
  if (minStepSize < 0)
    throw new RangeError(`${fn}: minStepSize must be >= 0 and finite, got ${minStepSize}`);
  const maxStepSize = checkFinite(fn, 'maxStepSize', options.maxStepSize ?? 50);
  if (!(maxStepSize >= minStepSize))
    throw new RangeError(
      `${fn}: maxStepSize must be >= minStepSize (${minStepSize}), got ${maxStepSize}`,
    );
  const lagged = checkBoolean(fn, 'lagged', options.lagged ?? true);
  return elementwise({
    fn,
    stages: [lagged ? 'rprop' : 'rpropUnlagged'],
    arrays: [{ key: 'stepSizes', init: lr }, { key: 'prevUpdates' }],
    counted: false,
    constants: { etaMinus, etaPlus, minStepSize, maxStepSize },
  });
}

/**
 * Rescales updates with Rprop (Riedmiller and Braun, 1993), as `optax.scale_by_rprop`. Each
 * element has its own step size, starting at `learningRate`. With `s = g * prevUpdate`: where
 * `s > 0` the step size is multiplied by `etaPlus`, where `s < 0` by `etaMinus` (then clipped to
 * `[minStepSize, maxStepSize]`), where `s == 0` it is kept; `prevUpdates` becomes 0 where `s < 0`,
 * else `stepSize * sign(g)`. The update (before `rprop`'s `scale(-1)`) is 0 where `s < 0`, else:
 *
 * - with `lagged: true` (the default, optax's behaviour): the previous step's `prevUpdates`, so
 *   the first update is 0 and each update is the step chosen for the previous gradient. optax
 *   returns the old `prev_updates` where the papers apply the new one: its updates lag one step
 *   behind Rprop's (reported upstream in optax pull request 1725). Kept by default so that results
 *   match optax;
 * - with `lagged: false`: the new `prevUpdates`, `stepSize * sign(g)`: Rprop as published
 *   (iRprop-: no step where the gradient changed sign), and as `torch.optim.Rprop` steps (torch
 *   also clips a kept step size to the bounds, which optax and this option do not).
 *
 * The state is optax's `ScaleByRpropState` `{ stepSizes, prevUpdates }`. `learningRate`,
 * `etaMinus`, `etaPlus` must be > 0, `0 <= minStepSize <= maxStepSize`.
 *
 * @example
 * ```ts
 * const tx = scaleByRprop(0.1);
 * let state = tx.init({ w: 0 });
 * let u;
 * [u, state] = tx.update({ w: 3 }, state); // { w: 0 }
 * [u, state] = tx.update({ w: 3 }, state); // { w: 0.1 }
 * const paper = scaleByRprop(0.1, { lagged: false });
 * [u] = paper.update({ w: 3 }, paper.init({ w: 0 })); // { w: 0.1 }
 * ```
 */
export function scaleByRprop(
  learningRate: number,
  options: ScaleByRpropOptions = {},
): GradientTransformationExtraArgs<ElementwiseState> {
  return makeScaleByRprop('scaleByRprop', learningRate, options);
}
