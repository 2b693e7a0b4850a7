/**
 * Elementwise transformations made from their per-element math alone. A transformation of the
 * catalogue whose update is one stage of `kernels/stages.ts` (Lion, AdaBelief, RMSprop, ...) is
 * described by an {@link ElementwiseSpec}: its state's per-element arrays, whether it counts steps,
 * and how its per-step scalars follow from the count. {@link elementwise} makes the whole
 * transformation from that: `init`, the functional `update` (the generated kernel on typed arrays,
 * the stage evaluated operation by operation on tensors and numbers), the in-place step and the
 * fusion tag, so every path makes the same operations in the same order.
 */
import type { FusedMember, GradientTransformationExtraArgs, InPlaceStep } from '../base.js';
import { safeIncrement, withFusionTag } from '../base.js';
import { evaluateStage, type StageLeafInputs, type StageLeafResult } from '../kernels/evaluate.js';
import { jsKernel } from '../kernels/program.js';
import { STAGES, type StageDef, type StageName } from '../kernels/stages.js';
import { disposeLeaf, floatKind, leafOps } from '../leaf.js';
import { withShapeOf } from '../shape.js';
import type { ArrayLeaf } from '../tree.js';
import { isContainer, mapLeaves, treeLeaves, treeMap } from '../tree.js';
import { checkCount } from '../validate.js';

/** One per-element array of an elementwise transformation's state. */
export interface ElementwiseArray {
  /** Its key in the state (optax's field name in camelCase) and its name in the stage. */
  readonly key: string;
  /** Every element's initial value (default 0). */
  readonly init?: number;
}

/** Sets the step's scalar `name` (one of the stage's) to `value` (float64). */
export type SetScalar = (name: string, value: number) => void;

/** What {@link elementwise} needs to know about a transformation. */
export interface ElementwiseSpec {
  /** The transformation's name, for errors (`scaleByLion`). */
  readonly fn: string;
  /** The stages it may run, one per step; they take the same arrays and scalars. */
  readonly stages: readonly StageName[];
  /** Its per-element state arrays, in the stages' array order. */
  readonly arrays: readonly ElementwiseArray[];
  /** Whether the state carries a step `count` (int32, saturating), as optax's states with one. */
  readonly counted: boolean;
  /** The count's key in the state, when optax names it otherwise (Adan's `t`). Default `count`. */
  readonly countKey?: string;
  /**
   * Instead of a count, a boolean state field of this key, `true` from `init` and `false` after
   * every step (optax's `is_initial_step`); `step` then gets the count 0 while it is `true` and 1
   * after. Only without `counted`.
   */
  readonly initialStepKey?: string;
  /** The scalars that never change, by name. */
  readonly constants?: Readonly<Record<string, number>>;
  /**
   * Sets the scalars of the step after `count` steps (0 when not counted) with `set`, and returns
   * the index in {@link stages} of the stage to run (default 0). Must not allocate.
   */
  readonly step?: (count: number, set: SetScalar) => number | undefined;
}

/** The state of an elementwise transformation: `count` (when counted) and its arrays by key. */
export type ElementwiseState = Record<string, any>;

/** One leaf's results (a class, so that trees of them are trees of leaves). */
class LeafResult {
  constructor(
    readonly u: unknown,
    readonly arrays: readonly unknown[],
  ) {}
}

type Float = Float32Array | Float64Array;

/** Whether `obj` has every key of `keys` (a loop: called every step, it must not allocate). */
function hasKeys(obj: object, keys: readonly string[]): boolean {
  for (let i = 0; i < keys.length; i++) if (!(keys[i]! in obj)) return false;
  return true;
}

function converted(x: Float, f32: boolean): Float {
  if (x instanceof Float32Array === f32) return x;
  return f32 ? Float32Array.from(x) : Float64Array.from(x);
}

/**
 * The transformation described by `spec` (see the module comment). Its update needs the params
 * when a stage reads them.
 *
 * @example
 * ```ts
 * const scaleByHalfSign = elementwise({
 *   fn: 'lionLike', stages: ['lion'], arrays: [{ key: 'mu' }], counted: true,
 *   constants: { a1: 0.1, b1: 0.9, a2: 0.01, b2: 0.99 },
 * });
 * const [u] = scaleByHalfSign.update({ w: 3 }, scaleByHalfSign.init({ w: 0 })); // { w: 1 }
 * ```
 */
export function elementwise(
  spec: ElementwiseSpec,
): GradientTransformationExtraArgs<ElementwiseState> {
  const { fn, stages, arrays, counted } = spec;
  const flagKey = counted ? undefined : spec.initialStepKey;
  /** The state's step field (count or initial-step flag), if any. */
  const stepKey = counted ? (spec.countKey ?? 'count') : flagKey;
  const defs: StageDef[] = stages.map((s) => STAGES[s]);
  const names = defs[0]!.scalars as readonly string[];
  for (const def of defs) {
    if (
      def.arrays.join() !== arrays.map((a) => a.key).join() ||
      def.scalars.join() !== names.join()
    )
      throw new Error(
        `elementwise(${fn}): the stages must take the arrays and scalars of the spec`,
      );
  }
  const readsParams = defs.some((d) => d.readsParams === true);
  const template = Float64Array.from(names, (n) => spec.constants?.[n] ?? Number.NaN);
  const keys = arrays.map((a) => a.key);
  const countWhat = `${fn}.update: state.${stepKey}`;
  /** The step count the state's step field stands for (0 without one). */
  const readCount = (st: ElementwiseState): number =>
    stepKey === undefined ? 0 : flagKey !== undefined ? (st[flagKey] ? 0 : 1) : st[stepKey];
  /** The step field's value after one more step. */
  const nextStep = (st: ElementwiseState): unknown =>
    flagKey !== undefined ? false : safeIncrement(st[stepKey!]);

  /** Fills `scalars` for the step after `count` and returns the stage index. */
  const prepareScalars = (count: number, set: SetScalar): number => spec.step?.(count, set) ?? 0;
  const setterFor =
    (scalars: Float64Array): SetScalar =>
    (name, value) => {
      const k = names.indexOf(name);
      if (k < 0) throw new Error(`${fn}: the stage has no scalar ${name}`);
      scalars[k] = value;
    };

  const expected = [...(stepKey === undefined ? [] : [stepKey]), ...keys];
  const checkState = (state: unknown): ElementwiseState => {
    if (!isContainer(state) || Array.isArray(state) || !hasKeys(state, expected))
      throw new TypeError(
        `${fn}.update: state must be { ${expected.join(', ')} } as made by ${fn}.init`,
      );
    const st = state as ElementwiseState;
    if (flagKey !== undefined) {
      if (typeof st[flagKey] !== 'boolean')
        throw new TypeError(`${countWhat} must be a boolean, got ${typeof st[flagKey]}`);
    } else if (stepKey !== undefined) checkCount(countWhat, st[stepKey]);
    return st;
  };

  const initLeaf = (p: unknown, value: number): unknown => {
    const ops = leafOps(p);
    const z = ops.zerosLike(p);
    if (value === 0) return z;
    if (typeof z === 'number') return value;
    if (z instanceof Float32Array || z instanceof Float64Array) return z.fill(value);
    if (ops.primitive === undefined)
      throw new TypeError(`${fn}.init: ${ops.name} leaves cannot be filled`);
    const filled = ops.primitive('add', [z, value]);
    disposeLeaf(z);
    return filled;
  };

  /** One leaf of the functional update. */
  const updateLeaf = (
    stage: StageName,
    scalars: Float64Array,
    g: unknown,
    state: readonly unknown[],
    p: unknown,
  ): LeafResult => {
    const kind = floatKind(g);
    if (kind !== undefined && state.every((a) => floatKind(a) !== undefined)) {
      // Typed arrays: the generated kernel, on fresh copies in the state's dtype.
      const f32 = (state.length > 0 ? floatKind(state[0]) : kind) === 'f32';
      const u = withShapeOf(converted(g as Float, f32).slice(), g, p, ...state);
      const out = state.map((a) => withShapeOf(converted(a as Float, f32).slice(), a, g, p));
      const pp = readsParams ? converted(p as Float, f32) : u;
      jsKernel(stage, f32)(u, pp, out, scalars, 0, u.length);
      return new LeafResult(u, out);
    }
    const ops = leafOps(g);
    const res = stageOnLeaf(fn, STAGES[stage], {
      u: g,
      p,
      arrays: Object.fromEntries(keys.map((k, i) => [k, state[i]])),
      scalars,
    });
    // A result that is an input leaf is copied (`x * 1` keeps every bit), so that the caller
    // owns every leaf it receives.
    const inputs = new Set<unknown>([g, p, ...state]);
    const own = (x: unknown) =>
      typeof x !== 'number' && inputs.has(x) ? ops.primitive!('mul', [x, 1]) : x;
    return new LeafResult(
      own(res.u),
      keys.map((k) => own(res.set[k] ?? res.u)),
    );
  };

  const tx: GradientTransformationExtraArgs<ElementwiseState> = {
    init(params) {
      const state: ElementwiseState = {};
      if (stepKey !== undefined) state[stepKey] = flagKey !== undefined ? true : 0;
      for (const a of arrays) state[a.key] = treeMap((p) => initLeaf(p, a.init ?? 0), params);
      return state;
    },
    update(updates, state, params) {
      const st = checkState(state);
      if (readsParams && (params === undefined || params === null))
        throw new TypeError(
          `${fn}.update: params are required (call update(updates, state, params))`,
        );
      const count = readCount(st);
      const scalars = template.slice();
      const stage = stages[prepareScalars(count, setterFor(scalars))]!;
      const trees = [updates, ...keys.map((k) => st[k]), ...(readsParams ? [params] : [])];
      const treeNames = [
        'updates',
        ...keys.map((k) => `state.${k}`),
        ...(readsParams ? ['params'] : []),
      ];
      const results = mapLeaves(
        (leaves) =>
          updateLeaf(
            stage,
            scalars,
            leaves[0],
            leaves.slice(1, 1 + keys.length),
            readsParams ? leaves[1 + keys.length] : undefined,
          ),
        trees,
        treeNames,
      );
      const next: ElementwiseState = {};
      if (stepKey !== undefined) next[stepKey] = nextStep(st);
      keys.forEach((k, i) => {
        next[k] = treeMap((r: LeafResult) => r.arrays[i], results);
      });
      return [treeMap((r: LeafResult) => r.u, results), next];
    },
    bindInPlace(state) {
      return memberInPlace(fuse(state, (tree) => treeLeaves<ArrayLeaf>(tree))!);
    },
  };
  return withFusionTag(tx, { kind: 'stage', name: fn, fuse });

  function fuse(
    state: unknown,
    leaves: (tree: unknown) => ArrayLeaf[] | undefined,
  ): FusedMember | undefined {
    if (!isContainer(state) || Array.isArray(state) || keys.some((k) => !(k in state)))
      return undefined;
    const st = state as ElementwiseState;
    const lists: ArrayLeaf[][] = [];
    for (const k of keys) {
      const l = leaves(st[k]);
      if (l === undefined) return undefined;
      lists.push(l);
    }
    const scalars = template.slice();
    const set = setterFor(scalars);
    const member = {
      stages,
      stage: stages[0]! as StageName,
      arrays: lists,
      scalars,
      prepare() {
        checkState(st);
        member.stage = stages[prepareScalars(readCount(st), set)]!;
      },
      commit() {
        if (stepKey !== undefined) st[stepKey] = nextStep(st);
      },
    };
    return member;
  }
}

/**
 * `def` evaluated on one leaf that is not a typed array (a tensor, a jax-js array, a number):
 * `evaluateStage` through the leaf kind's `LeafOps.primitive`, in the dtype of `inputs.u`, with
 * the temporaries freed. `fn` names the transformation when the kind has no primitives.
 */
export function stageOnLeaf(
  fn: string,
  def: StageDef,
  inputs: StageLeafInputs<unknown>,
): StageLeafResult<unknown> {
  const ops = leafOps(inputs.u);
  if (typeof inputs.u !== 'number' && ops.primitive === undefined)
    throw new TypeError(`${fn}.update: ${ops.name} leaves have no elementwise primitives`);
  const res = evaluateStage(
    def,
    ops.primitive ?? (() => Number.NaN),
    inputs,
    ops.dtype(inputs.u) === 'float32',
  );
  for (const t of res.temporaries) disposeLeaf(t);
  return res;
}

/**
 * The in-place step of a fused member run alone (a transformation's `bindInPlace` when the engine
 * does not fuse its chain): each leaf through the member's one-stage generated kernel, with the
 * scalars the member prepared, so it gives the fused and functional paths' bits and, the scalars
 * living in a `Float64Array`, boxes no number per step.
 */
export function memberInPlace(member: FusedMember): InPlaceStep {
  let leafArrays: Float[][] | undefined;
  return {
    cannotThrow: true,
    prepare() {
      member.prepare();
    },
    run(input, output, params) {
      leafArrays ??= Array.from({ length: input.length }, (_, i) =>
        member.arrays.map((list) => list[i]! as Float),
      );
      const stage = member.stage;
      for (let i = 0; i < input.length; i++) {
        const out = output[i]! as Float;
        if (out !== input[i]) out.set(input[i]!);
        if (stage === null) continue;
        const p = (params[i] ?? out) as Float;
        jsKernel(stage, out instanceof Float32Array)(
          out,
          p,
          leafArrays[i]!,
          member.scalars,
          0,
          out.length,
        );
      }
      member.commit();
    },
  };
}
