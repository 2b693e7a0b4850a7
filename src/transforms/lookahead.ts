/** The Lookahead wrapper, as `optax.lookahead`. */

import type {
  ExtraArgs,
  GradientTransformation,
  GradientTransformationExtraArgs,
  InPlaceStep,
} from '../base.js';
import { disposeLeaf, type LeafOps, leafOps, typedArrayOps } from '../leaf.js';
import type { ArrayLeaf } from '../tree.js';
import { assertSameStructure, isContainer, mapLeaves, treeLeaves, treeMap } from '../tree.js';
import {
  checkBoolean,
  checkCount,
  checkFinite,
  checkInteger,
  checkOptionKeys,
  checkTransformation,
} from '../validate.js';

/**
 * Lookahead's parameters (optax's `LookaheadParams`): take gradients at `fast`; use `slow` for
 * evaluation and inference.
 */
export interface LookaheadParams<T = any> {
  /** The fast params, which every step updates. */
  fast: T;
  /** The slow params, which move toward the fast ones every `syncPeriod` steps. */
  slow: T;
}

/**
 * Fast and slow parameters that start equal, as `LookaheadParams.init_synced`. The two trees are
 * separate copies, so they can be updated in place independently.
 *
 * @example
 * ```ts
 * const params = lookaheadParams({ w: new Float32Array([1, 2]) }); // { fast: {...}, slow: {...} }
 * ```
 */
export function lookaheadParams<T>(params: T): LookaheadParams<T> {
  const copy = (): T =>
    mapLeaves(([x]) => (typeof x === 'number' ? x : leafOps(x).scale(x, 1)), [params], ['params']);
  return { fast: copy(), slow: copy() };
}

/** Options of {@link lookahead}. */
export interface LookaheadOptions {
  /** Fast steps between synchronisations, an integer >= 1. */
  syncPeriod: number;
  /** How far the slow params move toward the fast ones at a synchronisation, in [0, 1]. */
  slowStepSize: number;
  /** Re-initialise the fast optimizer's state at every synchronisation. Default false. */
  resetState?: boolean;
}

/** The state of {@link lookahead} (optax's `LookaheadState`). */
export interface LookaheadState<S = unknown> {
  /** The state of the fast transformation. */
  fastState: S;
  /** Fast steps since the last synchronisation; the update that makes it `syncPeriod` syncs. */
  stepsSinceSync: number;
}

function isPair(x: unknown): x is LookaheadParams {
  if (!isContainer(x) || Array.isArray(x)) return false;
  const keys = Object.keys(x).sort();
  return keys.length === 2 && keys[0] === 'fast' && keys[1] === 'slow';
}

/**
 * One leaf of the lookahead merge, shared by both paths (optax's formulas): off a sync step the
 * fast update is `u` and the slow update 0; on a sync step, with `d = (fast + u) - slow`, the slow
 * update is `slowStepSize * d` and the fast one `u - (1 - slowStepSize) * d`, so that both params
 * land on the new slow params (the fast ones up to rounding).
 */
function lookaheadLeaf(
  ops: LeafOps,
  u: any,
  f: any,
  s: any,
  sync: boolean,
  alpha: number,
  fastOut: any,
  slowOut: any,
  tmp: any,
  res: { fast: any; slow: any },
): void {
  if (!sync) {
    if (fastOut === undefined) res.fast = u;
    else {
      if (fastOut !== u) fastOut.set(u);
      res.fast = fastOut;
    }
    if (slowOut === undefined) res.slow = ops.zerosLike(s);
    else {
      slowOut.fill(0);
      res.slow = slowOut;
    }
    return;
  }
  const last = ops.add(f, u, tmp);
  const d = ops.linearCombination(1, last, -1, s, tmp);
  if (fastOut === undefined) disposeLeaf(last);
  res.slow = ops.scale(d, alpha, slowOut);
  res.fast = ops.linearCombination(1, u, -(1 - alpha), d, fastOut);
  if (fastOut === undefined) disposeLeaf(d);
}

/**
 * A precompiled copy of `src` into `dst` (two states of the same shape): the typed-array pairs and
 * the (object, key, value) scalar slots, found once, so that each reset allocates nothing.
 */
class StateCopier {
  private readonly arrays: [ArrayLeaf, ArrayLeaf][] = [];
  private readonly owners: Record<string | number, unknown>[] = [];
  private readonly keys: (string | number)[] = [];
  private readonly values: unknown[] = [];

  constructor(dst: unknown, src: unknown) {
    this.collect(dst, src);
  }

  private collect(dst: any, src: any): void {
    if (dst === null || typeof dst !== 'object') return;
    const keys: (string | number)[] = Array.isArray(dst) ? dst.map((_, i) => i) : Object.keys(dst);
    for (const k of keys) {
      const v = src?.[k];
      if (ArrayBuffer.isView(v)) this.arrays.push([dst[k] as ArrayLeaf, v as ArrayLeaf]);
      else if (v === null || typeof v !== 'object') {
        this.owners.push(dst);
        this.keys.push(k);
        this.values.push(v);
      } else this.collect(dst[k], v);
    }
  }

  run(): void {
    for (let i = 0; i < this.arrays.length; i++) {
      const pair = this.arrays[i]!;
      pair[0].set(pair[1]);
    }
    for (let i = 0; i < this.owners.length; i++) this.owners[i]![this.keys[i]!] = this.values[i];
  }
}

/**
 * Lookahead, as `optax.lookahead`: runs `fast` on the fast params and, every `syncPeriod` steps,
 * moves the slow params `slowStepSize` of the way toward the fast ones and resets the fast params
 * to them. RAdam + Lookahead is the "Ranger" optimizer.
 *
 * Params are `{ fast, slow }` ({@link lookaheadParams} builds them); `update(grads, state, params)`
 * takes gradients computed at `params.fast` and returns updates shaped `{ fast, slow }` for
 * `applyUpdates(params, updates)`. Do not modify these updates before applying them. The in-place
 * `Optimizer`, whose `step` takes a tree shaped like its params, is given `{ fast: grads, slow:
 * grads }` (the `slow` part is ignored); `update` accepts that form too.
 *
 * `syncPeriod` must be an integer >= 1 and `slowStepSize` a number in [0, 1] (optax checks only
 * the former).
 *
 * @example
 * ```ts
 * const tx = lookahead(radam(1e-3), { syncPeriod: 6, slowStepSize: 0.5 });
 * let params = lookaheadParams({ w: new Float64Array([1, 2]) });
 * let state = tx.init(params);
 * const grads = { w: params.fast.w.map((x) => 2 * x) };
 * let updates;
 * [updates, state] = tx.update(grads, state, params);
 * params = applyUpdates(params, updates);
 * ```
 */
export function lookahead<S>(
  fast: GradientTransformation<S>,
  options: LookaheadOptions,
): GradientTransformationExtraArgs<LookaheadState<S>> {
  const fn = 'lookahead';
  checkTransformation(fn, 'fast', fast);
  if (options === undefined)
    throw new TypeError(`${fn}: options { syncPeriod, slowStepSize } are required`);
  checkOptionKeys(fn, options, ['syncPeriod', 'slowStepSize', 'resetState']);
  const k = checkInteger(fn, 'syncPeriod', options.syncPeriod, 1);
  const alpha = checkFinite(fn, 'slowStepSize', options.slowStepSize);
  if (alpha < 0 || alpha > 1)
    throw new RangeError(`${fn}: slowStepSize must be in [0, 1], got ${alpha}`);
  const reset = checkBoolean(fn, 'resetState', options.resetState ?? false);
  const fastTx = fast as GradientTransformationExtraArgs<S>;

  const tx: GradientTransformationExtraArgs<LookaheadState<S>> = {
    init(params) {
      // As optax, plain params are taken to be the fast params.
      const fastParams = isPair(params) ? params.fast : params;
      return { fastState: fast.init(fastParams), stepsSinceSync: 0 };
    },
    update(updates, state, params, extraArgs) {
      if (!isPair(params))
        throw new TypeError(
          `${fn}.update: params must be { fast, slow } (see lookaheadParams), got ${
            isContainer(params)
              ? `an object with keys [${Object.keys(params).join(', ')}]`
              : typeof params
          }`,
        );
      if (
        !isContainer(state) ||
        typeof state.stepsSinceSync !== 'number' ||
        !('fastState' in state)
      )
        throw new TypeError(
          `${fn}.update: state must be { fastState, stepsSinceSync } as made by ${fn}.init`,
        );
      assertSameStructure([params.fast, params.slow], ['params.fast', 'params.slow']);
      // The in-place Optimizer passes grads shaped like the params pair; use their fast part.
      const grads = isPair(updates) && !isPair(params.fast) ? updates.fast : updates;
      const [u, fastState] = fastTx.update(grads, state.fastState, params.fast, extraArgs);
      const sync = state.stepsSinceSync === k - 1;
      const results = mapLeaves(
        ([ul, f, s]) => {
          const res = { fast: null, slow: null };
          lookaheadLeaf(leafOps(ul), ul, f, s, sync, alpha, undefined, undefined, undefined, res);
          return new LeafPair(res.fast, res.slow);
        },
        [u, params.fast, params.slow],
        ['updates', 'params.fast', 'params.slow'],
      );
      const newFastState = sync && reset ? fast.init(params.fast) : fastState;
      return [
        {
          fast: treeMap((r: LeafPair) => r.fast, results),
          slow: treeMap((r: LeafPair) => r.slow, results),
        },
        { fastState: newFastState, stepsSinceSync: (state.stepsSinceSync + 1) % k },
      ];
    },
  };
  if (typeof fast.bindInPlace === 'function') {
    tx.bindInPlace = (state, params) => bindLookahead(fn, fast, state, params, k, alpha, reset);
  }
  return tx;
}

/** A leaf's pair of results; a class instance so that trees of them are trees of leaves. */
class LeafPair {
  constructor(
    readonly fast: unknown,
    readonly slow: unknown,
  ) {}
}

function bindLookahead<S>(
  fn: string,
  fast: GradientTransformation<S>,
  state: LookaheadState<S>,
  params: unknown,
  k: number,
  alpha: number,
  reset: boolean,
): InPlaceStep {
  if (!isPair(params))
    throw new TypeError(
      `${fn}: the in-place Optimizer's params must be { fast, slow } (see lookaheadParams)`,
    );
  const n = treeLeaves(params.fast).length;
  const step = fast.bindInPlace!(state.fastState, params.fast);
  const fastIn: ArrayLeaf[] = new Array(n);
  const fastOut: ArrayLeaf[] = new Array(n);
  const fastParams: ArrayLeaf[] = new Array(n);
  let tmp: ArrayLeaf[] | undefined;
  const res = { fast: null, slow: null };
  const resetter = reset ? new StateCopier(state.fastState, fast.init(params.fast)) : undefined;
  const stepsWhat = `${fn}.update: state.stepsSinceSync`;
  return {
    cannotThrow: step.cannotThrow,
    prepare(extraArgs: ExtraArgs | undefined) {
      checkCount(stepsWhat, state.stepsSinceSync);
      step.prepare(extraArgs);
    },
    run(input, output, params) {
      if (input.length !== 2 * n)
        throw new TypeError(
          `${fn}: the in-place Optimizer's params must be { fast, slow } with ${n} leaves each`,
        );
      if (tmp === undefined) tmp = params.slice(0, n).map((p) => typedArrayOps.zerosLike(p));
      for (let i = 0; i < n; i++) {
        fastIn[i] = input[i]!;
        fastOut[i] = output[i]!;
        fastParams[i] = params[i]!;
      }
      step.run(fastIn, fastOut, fastParams);
      const sync = state.stepsSinceSync === k - 1;
      for (let i = 0; i < n; i++)
        lookaheadLeaf(
          typedArrayOps,
          fastOut[i],
          params[i],
          params[n + i],
          sync,
          alpha,
          fastOut[i],
          output[n + i],
          tmp[i],
          res,
        );
      if (sync && resetter !== undefined) resetter.run();
      state.stepsSinceSync = (state.stepsSinceSync + 1) % k;
    },
  };
}
