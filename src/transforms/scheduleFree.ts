/** Schedule-free learning, as `optax.contrib.schedule_free` and `schedule_free_eval_params`. */

import type {
  ExtraArgs,
  GradientTransformation,
  GradientTransformationExtraArgs,
  ScalarOrSchedule,
} from '../base.js';
import { safeIncrement } from '../base.js';
import { jsKernel } from '../kernels/program.js';
import { STAGES } from '../kernels/stages.js';
import { disposeLeaf, floatKind, leafOps } from '../leaf.js';
import type { ArrayLeaf } from '../tree.js';
import { isContainer, mapLeaves, treeLeaves, treeMap } from '../tree.js';
import {
  checkCount,
  checkFinite,
  checkOptionKeys,
  checkScalarOrSchedule,
  checkTransformation,
  describeValue,
  evaluate,
} from '../validate.js';
import { stageOnLeaf } from './elementwise.js';

/** Options of {@link scheduleFree}, with optax's defaults. */
export interface ScheduleFreeOptions {
  /** The interpolation `y = (1 - b1) z + b1 x`; must be in (0, 1]. Default 0.9. */
  b1?: number;
  /** The averaging weight of a step is `maxLr ** weightLrPower`. Default 2. */
  weightLrPower?: number;
  /** The dtype of `z`: `'float32'`, `'float64'`, or `null` (the params', the default). */
  stateDtype?: 'float32' | 'float64' | null;
}

/** The state of {@link scheduleFree} (optax's `ScheduleFreeState`). */
export interface ScheduleFreeState<S = unknown, T = any> {
  /** `b1`, in the params' lowest float dtype (float32 if any leaf is float32). */
  b1: number;
  /** The sum of the averaging weights so far. */
  weightSum: number;
  /** Steps so far plus one (it starts at 1; int32, saturating). */
  stepCount: number;
  /** The largest learning rate seen so far. */
  maxLr: number;
  /** The base optimizer's state. */
  baseOptimizerState: S;
  /** The base optimizer's iterates `z` (a copy of the params at first). */
  z: T;
}

/** The per-step scalars: `[c1, b1, ck, omck]`, in the stage's order, and the new state numbers. */
interface StepScalars {
  scalars: Float64Array;
  maxLr: number;
  weightSum: number;
}

/** Whether a tree's lowest float dtype is float32 (optax's `tree.dtype(params, 'lowest')`). */
function lowestIsF32(tree: unknown): boolean {
  let f32 = false;
  mapLeaves(
    ([x]) => {
      if (!f32 && leafOps(x).dtype(x) === 'float32') f32 = true;
      return null;
    },
    [tree],
    ['params'],
  );
  return f32;
}

const same = (x: number) => x;

/** One leaf's results (a class, so that a tree of them is a tree of leaves). */
class LeafPair {
  constructor(
    readonly u: unknown,
    readonly z: unknown,
  ) {}
}

function checkState(
  fn: string,
  countWhat: string,
  state: unknown,
): asserts state is ScheduleFreeState {
  const s = state as ScheduleFreeState;
  if (
    !isContainer(s) ||
    typeof s.b1 !== 'number' ||
    typeof s.weightSum !== 'number' ||
    typeof s.stepCount !== 'number' ||
    typeof s.maxLr !== 'number' ||
    !('baseOptimizerState' in s) ||
    !('z' in s)
  )
    throw new TypeError(
      `${fn}.update: state must be { b1, weightSum, stepCount, maxLr, baseOptimizerState, z } as made by ${fn}.init`,
    );
  checkCount(countWhat, s.stepCount);
}

/**
 * One leaf's schedule-free step on typed arrays whose dtypes differ (`stateDtype`): `zNew = z + u`
 * in the dtype of `z + u`, stored as `z`'s dtype, the rest in the dtype of `y` and `z` together,
 * as jax promotes them. Writes `zOut` and `out`.
 */
function mixedLeaf(
  y: ArrayLeaf,
  z: ArrayLeaf,
  u: ArrayLeaf,
  zOut: ArrayLeaf,
  out: ArrayLeaf,
  sc: Float64Array,
): void {
  const R = Math.fround;
  const zu32 = z instanceof Float32Array && u instanceof Float32Array;
  const yz32 = y instanceof Float32Array && z instanceof Float32Array;
  const r1 = zu32 ? R : same;
  const r2 = yz32 ? R : same;
  const c1 = r2(sc[0]!);
  const b1 = r2(sc[1]!);
  const ck = sc[2]!;
  const omck = sc[3]!;
  for (let i = 0; i < y.length; i++) {
    const zi = z[i]!;
    const yi = y[i]!;
    zOut[i] = r1(zi + u[i]!);
    const zn = zOut[i]!;
    const px = r2(r2(yi - r2(c1 * zi)) / b1);
    const x = r2(r2(omck * px) + r2(ck * zn));
    const yn = r2(r2(b1 * x) + r2(c1 * zn));
    out[i] = r2(yn - yi);
  }
}

/**
 * Makes `baseOptimizer` schedule-free (Defazio et al., 2024), as `optax.contrib.schedule_free`:
 * the base optimizer's updates move the iterates `z` (kept in the state), the params `y` are the
 * interpolation `b1 x + (1 - b1) z` of `z` and their weighted average `x`, and the averaging
 * weight of each step is `maxLr ** weightLrPower` (`maxLr` the largest learning rate so far, so a
 * warmup counts less). The base optimizer should have no momentum (`b1 = 0` for Adam). Evaluate
 * the model at {@link scheduleFreeEvalParams}`(state, params)` (the average `x`).
 *
 * The state is optax's `ScheduleFreeState` `{ b1, weightSum, stepCount, maxLr,
 * baseOptimizerState, z }`; its scalars are in the params' lowest float dtype (float32 if any leaf
 * is float32) and `stepCount` starts at 1, as in optax (the schedule is evaluated at `stepCount`).
 * `update` needs the params. `learningRate` is a number or a schedule, `b1` must be in (0, 1]
 * (optax requires it strictly positive), `weightLrPower` finite. `stateDtype` applies to typed
 * arrays only.
 *
 * @example
 * ```ts
 * const tx = scheduleFree(sgd(1), 1, { b1: 0.5 });
 * const p = { w: 1 };
 * let st = tx.init(p);
 * let u;
 * [u, st] = tx.update({ w: 2 }, st, p); // u = { w: -2 }: z = -1, x = z (first step), y = -1
 * scheduleFreeEvalParams(st, { w: -1 }); // { w: -1 }
 * ```
 */
export function scheduleFree<S>(
  baseOptimizer: GradientTransformation<S>,
  learningRate: ScalarOrSchedule,
  options: ScheduleFreeOptions = {},
): GradientTransformationExtraArgs<ScheduleFreeState<S>> {
  return scheduleFreeNamed('scheduleFree', baseOptimizer, learningRate, options);
}

/** {@link scheduleFree} with `fn` naming the caller in errors. */
export function scheduleFreeNamed<S>(
  fn: string,
  baseOptimizer: GradientTransformation<S>,
  learningRate: ScalarOrSchedule,
  options: ScheduleFreeOptions = {},
): GradientTransformationExtraArgs<ScheduleFreeState<S>> {
  checkTransformation(fn, 'baseOptimizer', baseOptimizer);
  checkScalarOrSchedule(fn, 'learningRate', learningRate);
  checkOptionKeys(fn, options, ['b1', 'weightLrPower', 'stateDtype']);
  const b1 = options.b1 ?? 0.9;
  if (typeof b1 !== 'number' || !(b1 > 0 && b1 <= 1))
    throw new RangeError(
      `${fn}: b1 must be in (0, 1] (schedule-free divides by it), got ${describeValue(b1)}`,
    );
  const power = checkFinite(fn, 'weightLrPower', options.weightLrPower ?? 2);
  const stateDtype = options.stateDtype ?? null;
  if (stateDtype !== null && stateDtype !== 'float32' && stateDtype !== 'float64')
    throw new TypeError(
      `${fn}: stateDtype must be 'float32', 'float64' or null, got ${describeValue(stateDtype)}`,
    );
  const base = baseOptimizer as GradientTransformationExtraArgs<S>;
  const countWhat = `${fn}.update: state.stepCount`;
  const stage = STAGES.scheduleFree;

  /** The step's scalars from the state (`rs` rounds to the params' lowest dtype). */
  const stepScalars = (st: ScheduleFreeState<S>, rs: (x: number) => number, out: StepScalars) => {
    const lr =
      typeof learningRate === 'number'
        ? learningRate
        : rs(evaluate(fn, 'learningRate', learningRate, st.stepCount));
    const maxLr = rs(Math.max(st.maxLr, lr));
    const weight = rs(maxLr ** power);
    const next = rs(st.weightSum + weight);
    let ck: number;
    if (Number.isNaN(weight) || Number.isNaN(next)) ck = Number.NaN;
    else {
      // optax's nan_to_num(weight / next, nan=0): 0/0 (no weight yet, e.g. during a warmup from 0).
      const q = rs(weight / next);
      ck = Number.isNaN(q) ? 0 : q;
    }
    const sc = out.scalars;
    sc[0] = 1 - b1;
    sc[1] = b1;
    sc[2] = ck;
    sc[3] = rs(1 - ck);
    out.maxLr = maxLr;
    out.weightSum = next;
  };

  const copyLeaf = (p: unknown): unknown => {
    if (p instanceof Float32Array || p instanceof Float64Array) {
      if (stateDtype === 'float32') return Float32Array.from(p);
      if (stateDtype === 'float64') return Float64Array.from(p);
      return p.slice();
    }
    if (stateDtype !== null)
      throw new TypeError(
        `${fn}.init: stateDtype applies to Float32Array and Float64Array params, got ${describeValue(p)}`,
      );
    if (typeof p === 'number') return p;
    return leafOps(p).scale(p, 1); // a copy of a tensor (x * 1 keeps every bit)
  };

  /** One leaf of the functional update: `[update, zNew]`. */
  const updateLeaf = (y: unknown, z: unknown, u: unknown, sc: Float64Array): [unknown, unknown] => {
    const ky = floatKind(y);
    const kz = floatKind(z);
    const ku = floatKind(u);
    if (ky !== undefined && kz !== undefined && ku !== undefined) {
      const yy = y as ArrayLeaf;
      const zNew = (z as ArrayLeaf).slice();
      if (ky === kz && kz === ku) {
        const out = (u as ArrayLeaf).slice();
        jsKernel('scheduleFree', ky === 'f32')(out, yy, [zNew], sc, 0, out.length);
        return [out, zNew];
      }
      const out =
        ky === 'f32' && kz === 'f32' ? new Float32Array(yy.length) : new Float64Array(yy.length);
      mixedLeaf(yy, z as ArrayLeaf, u as ArrayLeaf, zNew, out, sc);
      return [out, zNew];
    }
    const res = stageOnLeaf(fn, stage, { u, p: y, arrays: { z }, scalars: sc });
    return [res.u, res.set.z];
  };

  const tx: GradientTransformationExtraArgs<ScheduleFreeState<S>> = {
    init(params) {
      const f32 = lowestIsF32(params);
      const rs = f32 ? Math.fround : same;
      return {
        b1: rs(b1),
        weightSum: 0,
        stepCount: 1,
        maxLr: 0,
        baseOptimizerState: base.init(params),
        z: treeMap(copyLeaf, params),
      };
    },
    update(grads, state, params, extraArgs) {
      checkState(fn, countWhat, state);
      if (params === undefined || params === null)
        throw new TypeError(
          `${fn}.update: params are required (call update(grads, state, params))`,
        );
      const rs = lowestIsF32(params) ? Math.fround : same;
      const step: StepScalars = { scalars: new Float64Array(4), maxLr: 0, weightSum: 0 };
      stepScalars(state, rs, step);
      const [baseUpdates, baseState] = base.update(
        grads,
        state.baseOptimizerState,
        params,
        extraArgs,
      );
      const pairs = mapLeaves(
        ([y, z, u]) => new LeafPair(...updateLeaf(y, z, u, step.scalars)),
        [params, state.z, baseUpdates],
        ['params', 'state.z', 'base updates'],
      );
      const updates = treeMap((pr: LeafPair) => pr.u, pairs);
      const z = treeMap((pr: LeafPair) => pr.z, pairs);
      // The base's updates were only an input here: free them (tensors), unless its state keeps them.
      const kept = new Set(treeLeaves<unknown>(baseState));
      for (const x of treeLeaves<unknown>(baseUpdates)) if (!kept.has(x)) disposeLeaf(x);
      return [
        updates,
        {
          b1: state.b1,
          weightSum: step.weightSum,
          stepCount: safeIncrement(state.stepCount),
          maxLr: step.maxLr,
          baseOptimizerState: baseState,
          z,
        },
      ];
    },
  };
  if (typeof baseOptimizer.bindInPlace === 'function') {
    tx.bindInPlace = (state, params) => {
      const st = state as ScheduleFreeState<S>;
      const baseStep = baseOptimizer.bindInPlace!(st.baseOptimizerState, params);
      const z = treeLeaves<ArrayLeaf>(st.z);
      const rs = lowestIsF32(params) ? Math.fround : same;
      const step: StepScalars = { scalars: new Float64Array(4), maxLr: 0, weightSum: 0 };
      const zArgs = z.map((a) => [a]);
      return {
        cannotThrow: baseStep.cannotThrow,
        prepare(extraArgs: ExtraArgs | undefined) {
          checkState(fn, countWhat, st);
          stepScalars(st, rs, step);
          baseStep.prepare(extraArgs);
        },
        run(input, output, params) {
          baseStep.run(input, output, params);
          const sc = step.scalars;
          for (let i = 0; i < output.length; i++) {
            const u = output[i]!;
            const y = params[i]!;
            const zi = z[i]!;
            if (y instanceof Float32Array === zi instanceof Float32Array)
              jsKernel('scheduleFree', u instanceof Float32Array)(u, y, zArgs[i]!, sc, 0, u.length);
            // z has another dtype (stateDtype): z + u and the rest as jax promotes them.
            else mixedLeaf(y, zi, u, zi, u, sc);
          }
          st.maxLr = step.maxLr;
          st.weightSum = step.weightSum;
          st.stepCount = safeIncrement(st.stepCount);
        },
      };
    };
  }
  return tx;
}

/**
 * The params to evaluate a schedule-free model at (the average `x`), as
 * `optax.contrib.schedule_free_eval_params`: `(y - (1 - b1) z) / b1` per element, with `b1` and
 * `z` from the {@link scheduleFree} state (`1 - b1` in the params' dtype, as optax computes it from
 * the stored `b1`). Accepts the state of `scheduleFree` or `scheduleFreeAdamw`, or a state holding
 * one (the first found, depth first: e.g. inside a `chain`'s list).
 *
 * @example
 * ```ts
 * const st = { b1: 0.5, weightSum: 0, stepCount: 1, maxLr: 0, baseOptimizerState: {}, z: { w: 3 } };
 * scheduleFreeEvalParams(st, { w: 2 }); // { w: 1 }
 * scheduleFreeEvalParams({}, { w: 2 }); // TypeError: scheduleFreeEvalParams: state must be a schedule-free state (with b1 and z), got an object with keys []
 * ```
 */
export function scheduleFreeEvalParams<T>(state: unknown, params: T): T {
  const fn = 'scheduleFreeEvalParams';
  const st = findScheduleFreeState(state);
  if (st === undefined)
    throw new TypeError(
      `${fn}: state must be a schedule-free state (with b1 and z), got ${describeValue(state)}`,
    );
  const b1 = st.b1;
  // optax computes `1 - b1` from the stored b1, in the params' lowest dtype.
  const c = lowestIsF32(params) ? Math.fround(1 - b1) : 1 - b1;
  return mapLeaves(
    ([y, z]) => {
      const ky = floatKind(y);
      const kz = floatKind(z);
      if (ky !== undefined && kz !== undefined) {
        const yy = y as ArrayLeaf;
        const zz = z as ArrayLeaf;
        const f32 = ky === 'f32' && kz === 'f32';
        const out = f32 ? new Float32Array(yy.length) : new Float64Array(yy.length);
        const R = f32 ? Math.fround : same;
        const B = R(b1);
        const C = R(c);
        for (let i = 0; i < yy.length; i++) out[i] = R(R(yy[i]! - R(C * zz[i]!)) / B);
        return out;
      }
      const ops = leafOps(y);
      const cz = leafOps(z).scale(z, c);
      const diff = ops.linearCombination(1, y, -1, cz);
      disposeLeaf(cz);
      const r = ops.divide(diff, b1);
      disposeLeaf(diff);
      return r;
    },
    [params, st.z],
    ['params', 'state.z'],
  );
}

/** The first schedule-free state in `state` (itself, or nested in lists and objects). */
function findScheduleFreeState(state: unknown, depth = 0): ScheduleFreeState | undefined {
  if (!isContainer(state) || ArrayBuffer.isView(state) || depth > 64) return undefined;
  const s = state as Record<string, unknown>;
  if (!Array.isArray(state) && typeof s.b1 === 'number' && 'z' in s && 'weightSum' in s)
    return s as unknown as ScheduleFreeState;
  for (const v of Array.isArray(state) ? state : Object.values(s)) {
    const found = findScheduleFreeState(v, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}
