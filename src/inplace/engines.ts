/**
 * The step engines of the in-place optimizers, one per way a step can run, chosen once when an
 * optimizer is built. Each `step` either completes or throws with the params and every state leaf
 * as they were:
 * - {@link FusedLeavesEngine}: the fused JavaScript kernel on the caller's leaves;
 * - {@link FusedArenaEngine}: the fused WebAssembly SIMD kernel on an arena (the optimizer's own
 *   buffers, or staging copies of the caller's);
 * - {@link GenericEngine}: the members' `bindInPlace` steps, with a state backup when a member
 *   may throw half-way;
 * - {@link FunctionalEngine}: `update` + `applyUpdates`, copied into the params.
 * The fused engines validate everything in `prepare` and their kernels cannot throw, so they need
 * no backup. Used by the core {@link Optimizer} and by the TF.js adapter's cpu path.
 */
import type { ExtraArgs, GradientTransformationExtraArgs, InPlaceStep } from '../base.js';
import { applyUpdates } from '../base.js';
import { type FusedChain, fusedChain, jsChains, leafMatcher } from '../fusion.js';
import type { ArenaThreads } from '../kernels/arena.js';
import { ArenaSet } from '../kernels/arena-set.js';
import type { JsChain } from '../kernels/program.js';
import { wasmModule } from '../kernels/wasm.js';
import { typedArrayOps } from '../leaf.js';
import { withShapeOf } from '../shape.js';
import type { ArrayLeaf, TreeDef } from '../tree.js';
import { MAX_STATE_DEPTH, treeSlots } from '../tree.js';
import { StateBackup, StateGuard } from './guards.js';

/** How a step runs, as reported by `Optimizer.kernel`. */
export type KernelKind = 'wasm' | 'js' | 'generic' | 'functional';

/** One way of running a step; see the module comment. */
export interface StepEngine {
  readonly kernel: KernelKind;
  /** Threads that ran the last step. */
  readonly threads: 1 | 2;
  /** Why a second kernel thread was given up, if it was. */
  readonly threadFailure?: string | undefined;
  /** The state (replaced by each step of the functional engine, else the same object). */
  readonly state: unknown;
  /**
   * One step: reads `grads` (leaves in params order), updates `params` (leaves) and the state.
   * `gradsTree`/`paramsTree` are the same as trees, for the functional engine.
   */
  step(
    grads: readonly ArrayLeaf[],
    params: readonly ArrayLeaf[],
    extraArgs: ExtraArgs | undefined,
    gradsTree: unknown,
    paramsTree: unknown,
  ): void;
}

/** The generated JavaScript kernels over the given leaves (the state arrays are the state's own). */
export class FusedLeavesEngine implements StepEngine {
  readonly kernel = 'js';
  readonly threads = 1;
  /** Per variant: the chain for float32 and for float64 leaves. */
  private readonly js: { f32: JsChain; f64: JsChain }[];
  private readonly arrays: ArrayLeaf[];

  constructor(
    private readonly fused: FusedChain,
    readonly state: unknown,
  ) {
    this.js = fused.variants.map(jsChains);
    let most = 0;
    for (const v of fused.variants) most = Math.max(most, v.slotOf.length);
    this.arrays = new Array(most).fill(null);
  }

  step(grads: readonly ArrayLeaf[], params: readonly ArrayLeaf[]): void {
    const { fused, arrays } = this;
    fused.prepare();
    const v = fused.variant;
    const { slotOf } = fused.variants[v]!;
    const chains = this.js[v]!;
    chains.f32.setScalars(fused.scalars);
    chains.f64.setScalars(fused.scalars);
    const slots = fused.slots;
    for (let i = 0; i < params.length; i++) {
      const p = params[i]!;
      for (let k = 0; k < slotOf.length; k++) {
        const slot = slotOf[k]!;
        arrays[k] = slot === 0 ? grads[i]! : slots[slot]![i]!;
      }
      (p instanceof Float32Array ? chains.f32 : chains.f64).run(p, arrays, p.length);
    }
    fused.commit();
  }
}

/**
 * The generated kernels over a set of arenas. `staged`: the params are the caller's buffers,
 * copied into the arenas before the kernels and back after them (the state arrays live in the
 * arenas, or in ordinary arrays for a streamed leaf); otherwise the params are the arenas' own
 * views and only gradients that are not already the arenas' are copied in.
 */
export class FusedArenaEngine implements StepEngine {
  constructor(
    private readonly fused: FusedChain,
    readonly arenas: ArenaSet,
    private readonly staged: boolean,
    readonly state: unknown,
  ) {}

  get kernel(): KernelKind {
    return this.arenas.kernel;
  }

  get threads(): 1 | 2 {
    return this.arenas.lastThreads;
  }

  get threadFailure(): string | undefined {
    return this.arenas.threadFailure;
  }

  step(grads: readonly ArrayLeaf[], params: readonly ArrayLeaf[]): void {
    const { fused } = this;
    fused.prepare();
    this.arenas.step(fused.variant, fused.scalars, grads, params, this.staged);
    fused.commit();
  }
}

/**
 * The fused chain of `tx` over `state`, for params leaves `paramLeaves` (structure `def`): every
 * member's state arrays must match the params leaf by leaf in dtype and length.
 */
export function fuseFor(
  tx: unknown,
  state: unknown,
  def: TreeDef,
  paramLeaves: readonly ArrayLeaf[],
): FusedChain | undefined {
  return fusedChain(tx, state, leafMatcher(def, paramLeaves));
}

/**
 * Puts `slots` (per slot from 1, per leaf: the arenas' state arrays) in place of the fused chain's
 * state arrays inside `state`, keeping their values.
 */
export function moveStateInto(
  state: unknown,
  fused: FusedChain,
  slots: readonly (readonly ArrayLeaf[])[],
): void {
  const moved = new Map<unknown, ArrayLeaf>();
  for (let k = 1; k < fused.slots.length; k++)
    fused.slots[k]!.forEach((old, i) => {
      const next = slots[k]![i]!;
      if (next !== old) withShapeOf(next, old).set(old);
      moved.set(old, next);
    });
  for (const slot of treeSlots(state, 'state', MAX_STATE_DEPTH)) {
    const next = moved.get(slot.container[slot.key]);
    if (next !== undefined) slot.container[slot.key] = next;
  }
}

/**
 * The members' in-place steps: `prepare`, `run` into update buffers, then `p += u`. When a member
 * may throw in `run` (it does not promise `cannotThrow`), the state is backed up before the step
 * and restored if it throws; the params are written only after `run` has returned.
 */
export class GenericEngine implements StepEngine {
  readonly kernel = 'generic';
  readonly threads = 1;
  private readonly updates: ArrayLeaf[];
  private readonly backup: StateBackup | undefined;

  readonly state: unknown;

  constructor(
    private readonly inPlace: InPlaceStep,
    guard: StateGuard,
    params: readonly ArrayLeaf[],
  ) {
    this.state = guard.state;
    this.updates = params.map((p) => typedArrayOps.zerosLike(p));
    this.backup = inPlace.cannotThrow === true ? undefined : new StateBackup(guard);
  }

  step(grads: readonly ArrayLeaf[], params: readonly ArrayLeaf[], extraArgs?: ExtraArgs): void {
    const { inPlace, updates, backup } = this;
    if (backup === undefined) {
      inPlace.prepare(extraArgs);
      inPlace.run(grads, updates, params);
    } else {
      backup.save();
      try {
        inPlace.prepare(extraArgs);
        inPlace.run(grads, updates, params);
      } catch (err) {
        backup.restore();
        throw err;
      }
    }
    for (let i = 0; i < params.length; i++) typedArrayOps.add(params[i]!, updates[i]!, params[i]);
  }
}

/** `update` + `applyUpdates`, the result copied into the params (allocates; always atomic). */
export class FunctionalEngine implements StepEngine {
  readonly kernel = 'functional';
  readonly threads = 1;
  private readonly next: unknown[] = [];

  constructor(
    private readonly tx: GradientTransformationExtraArgs,
    public state: unknown,
    private readonly def: TreeDef,
  ) {}

  step(
    _grads: readonly ArrayLeaf[],
    params: readonly ArrayLeaf[],
    extraArgs: ExtraArgs | undefined,
    gradsTree: unknown,
    paramsTree: unknown,
  ): void {
    const [updates, state] = this.tx.update(gradsTree, this.state, paramsTree, extraArgs);
    const next = this.next;
    if (!this.def.match(applyUpdates(paramsTree, updates), next))
      throw new TypeError('Optimizer.step: applyUpdates returned a tree unlike the params');
    for (let i = 0; i < params.length; i++) params[i]!.set(next[i] as ArrayLeaf);
    this.state = state;
  }
}

/** How {@link bindLeafEngine} may run a fused chain. */
export interface LeafEngineOptions {
  /** Whether to fuse a chain of tagged members at all. */
  fuse: boolean;
  /**
   * Whether to run the WebAssembly kernels (where they load): the state arrays then move into
   * WebAssembly memory, and each step copies the params and gradients through its windows.
   */
  wasm: boolean;
  threads: ArenaThreads;
  /** Each leaf's name in errors (`params.w`). */
  names: readonly string[];
}

/**
 * The engine for a transformation over caller-owned leaves (`paramLeaves`, the leaves of
 * `params`; a step may pass other arrays of the same sizes): for a chain of tagged members, the
 * generated kernels (WebAssembly with `options.wasm` where they load, else JavaScript); else the
 * members' in-place steps; else `undefined` (the transformation cannot run in place).
 */
export function bindLeafEngine(
  tx: GradientTransformationExtraArgs,
  state: unknown,
  params: unknown,
  def: TreeDef,
  paramLeaves: readonly ArrayLeaf[],
  options: LeafEngineOptions,
): { engine: StepEngine; guard: StateGuard } | undefined {
  const fused = options.fuse ? fuseFor(tx, state, def, paramLeaves) : undefined;
  if (fused && options.wasm && wasmModule() !== null) {
    // The state arrays move into WebAssembly memory for good (a leaf too large for one memory
    // keeps ordinary arrays and is streamed); the params and gradients go through windows.
    const arenas = new ArenaSet(
      paramLeaves as readonly (Float32Array | Float64Array)[],
      fused.slots.length,
      fused.variants,
      true,
      options.threads,
      true,
      options.names,
    );
    moveStateInto(state, fused, arenas.slots);
    return {
      engine: new FusedArenaEngine(fused, arenas, true, state),
      guard: new StateGuard(state),
    };
  }
  if (fused) return { engine: new FusedLeavesEngine(fused, state), guard: new StateGuard(state) };
  const inPlace = tx.bindInPlace?.(state, params);
  if (inPlace === undefined) return undefined;
  const guard = new StateGuard(state);
  return { engine: new GenericEngine(inPlace, guard, paramLeaves), guard };
}
