/**
 * The in-place optimizer: it keeps the parameter buffers (the caller's, or its own arena) and its
 * own state, and each `step(grads)` updates both in place, allocating nothing for typed-array trees.
 * The way a step runs (a {@link StepEngine}) is chosen once, at construction; every step first
 * checks its inputs (structure, dtypes, buffers, aliasing, the state) and throws before changing
 * anything.
 */
import type { ExtraArgs, GradientTransformationExtraArgs } from '../base.js';
import type { ArenaThreads } from '../kernels/arena.js';
import { ArenaSet } from '../kernels/arena-set.js';
import { wasmModule } from '../kernels/wasm.js';
import { floatKind } from '../leaf.js';
import { checkShape } from '../shape.js';
import type { ArrayLeaf, TreeDef } from '../tree.js';
import { assertSameStructure, describeNode, TreeStructureError, treeFlatten } from '../tree.js';
import { checkTransformation } from '../validate.js';
import { warnOnce } from '../warn.js';
import {
  bindLeafEngine,
  FunctionalEngine,
  FusedArenaEngine,
  fuseFor,
  type KernelKind,
  moveStateInto,
  type StepEngine,
} from './engines.js';
import { AliasGuard, bufferProblem, StateGuard } from './guards.js';

/** Options of {@link Optimizer}. */
export interface OptimizerOptions {
  /**
   * Own the buffers: copy the params into one contiguous block (WebAssembly memory when the SIMD
   * kernels load, else an `ArrayBuffer`), and expose them, the gradients and the state as views
   * into it (`optimizer.params`, `optimizer.grads`, `optimizer.state`). The caller's own params
   * buffers are then left alone. This is the fastest path: for a fusable chain (`radam`, `adam`,
   * `adamw`, `sgd`, ...) every leaf of one dtype is stepped by one SIMD kernel call, with no
   * copies. Default `false`.
   */
  arena?: boolean;
  /**
   * `'auto'` (default): the WebAssembly SIMD kernels where they load: always in an arena, and on
   * the caller's buffers from {@link WASM_STAGING_THRESHOLD} elements (the state then lives in
   * WebAssembly memory and each step copies g and p through cache-sized windows); else the
   * JavaScript kernels. `'wasm'`: the WebAssembly kernels at any size where they load (else the JavaScript
   * ones). `'js'`: always the JavaScript kernels. `'generic'`: no fused kernel, the members'
   * `bindInPlace` steps (for comparison). Every choice gives the same bits.
   */
  kernel?: 'auto' | 'wasm' | 'js' | 'generic';
  /**
   * Threads for the fused WebAssembly step (an arena, or the caller's buffers through windows),
   * in Node and in cross-origin isolated pages: `'auto'` (default) runs trees of at least 2^18
   * elements on two threads (this one and a worker: in an arena each steps half of the elements;
   * through windows this thread copies each chunk in and out and the worker steps most of it; the
   * WebAssembly memory is then a `SharedArrayBuffer`) on machines with 2 or more CPUs; `2` does
   * so at any size; `1` never does. Results are the same bits either way, and where workers or
   * shared WebAssembly memory are unavailable a step runs on one thread. The worker
   * does not keep the process alive and ends when the optimizer is garbage collected; a worker
   * that fails is handled as {@link Optimizer.threadFailure} describes.
   */
  threads?: ArenaThreads;
}

/**
 * With `kernel: 'auto'`, a fused step on the caller's buffers runs the WebAssembly SIMD kernels
 * (through windows) when the params have at least this many elements in all; smaller trees run the
 * JavaScript kernels. (The name dates from when the caller's buffers were staged whole.)
 */
export const WASM_STAGING_THRESHOLD = 64;

const OPTION_KEYS = ['arena', 'kernel', 'threads'];

/**
 * Runs a gradient transformation in place. The optimizer updates the params buffers with every
 * step and owns the state (`optimizer.state`, also updated in place). Results are bit-identical to
 * the functional loop `[u, state] = tx.update(grads, state, params); params = applyUpdates(params, u)`
 * (a NaN may come out with another sign bit on the WebAssembly kernel).
 *
 * Leaves must be `Float32Array` or `Float64Array` (or `null`). How a step runs is chosen once, here
 * (see {@link Optimizer.kernel}), fastest first:
 * - A chain whose members are all fusable (`scaleByRadam`, `scaleByAdam`, `trace`, `clip`,
 *   `addDecayedWeights`, `scale`, `scaleByLearningRate`, `scaleBySchedule`: so `radam`, `adam`,
 *   `adamw` and `sgd`) is fused: one pass per leaf reads g, the state and p and writes the state
 *   and p, with the per-step scalars computed once, by kernels generated from each member's
 *   per-element math. Where WebAssembly SIMD loads, the pass is a SIMD kernel (`f32x4` lanes for
 *   float32 leaves, `f64x2` for float64, making the typed-array operations in the same order, so
 *   the bits are the same): with `{ arena: true }` over the optimizer's own buffers; on the
 *   caller's buffers from {@link WASM_STAGING_THRESHOLD} elements, with the state kept in
 *   WebAssembly memory (the state's array leaves are views into it) and each step copying g and p
 *   through cache-sized windows. A tree larger than one WebAssembly memory (4 GiB) is spread over
 *   several; on the caller's buffers a single leaf too large for one is streamed through a small
 *   window (its state stays in ordinary arrays). Smaller trees, or `kernel: 'js'`, run the
 *   JavaScript kernels.
 * - Other chains whose members can all run in place use their `bindInPlace` steps (with a backup
 *   of the state when a member may throw half-way).
 * - Otherwise the optimizer runs the functional update and copies the result into the params.
 *
 * A fused step allocates nothing. Every step checks its inputs before it changes anything (the
 * grads' structure, types and lengths, buffers shared with another param or the state, detached
 * or replaced buffers and leaves, the state's counts, the schedules' values), and a step that
 * throws leaves the params and the state as they were; see {@link Optimizer.step}.
 *
 * @example
 * ```ts
 * const params = { w: new Float32Array([1, 2, 3]) };
 * const opt = new Optimizer(radam(0.003), params);
 * opt.step({ w: params.w.map((x) => 2 * x) }); // params.w is now [0.994, 1.988, 2.982]
 *
 * const big = { w: new Float32Array(1e6) };
 * const staged = new Optimizer(radam(0.003), big); // WebAssembly SIMD kernel, where it loads
 * staged.kernel; // 'wasm'
 * staged.step({ w: new Float32Array(1e6).fill(1) }); // updates the caller's buffer big.w
 * big.w[999_999]; // -0.003
 *
 * const fast = new Optimizer(radam(0.003), { w: new Float32Array(1e6) }, { arena: true });
 * fast.grads.w.fill(1); // write gradients into the arena...
 * fast.step(); // ...and step; fast.params.w holds the new values
 * ```
 */
export class Optimizer<T = unknown> {
  /**
   * The parameters, updated in place by {@link step}: the caller's own buffers, or with
   * `{ arena: true }` views into the optimizer's arena (holding copies of the caller's values).
   */
  readonly params: T;
  private readonly def: TreeDef;
  /** Each params leaf's name in errors (`params.w`), in leaf order. */
  private readonly names: string[];
  private readonly paramLeaves: ArrayLeaf[];
  private readonly lengths: Float64Array;
  private readonly f32: boolean[];
  private readonly gradLeaves: ArrayLeaf[];
  private readonly scratch: unknown[] = [];
  /** The grads tree of the last step that passed the checks. */
  private lastGrads: unknown;
  private readonly engine: StepEngine;
  private guard: StateGuard;
  private aliases: AliasGuard;
  private readonly arena: ArenaSet | undefined;
  private readonly arenaGrads: T | undefined;

  constructor(
    /** The transformation the optimizer runs. */
    readonly transformation: GradientTransformationExtraArgs,
    params: T,
    options: OptimizerOptions = {},
  ) {
    checkTransformation('Optimizer', 'transformation', transformation);
    if (options === null || typeof options !== 'object' || Array.isArray(options))
      throw new TypeError(`Optimizer: options must be an object, got ${describeNode(options)}`);
    for (const key of Object.keys(options))
      if (!OPTION_KEYS.includes(key))
        throw new TypeError(
          `Optimizer: unknown option ${JSON.stringify(key)}; expected ${OPTION_KEYS.join(', ')}`,
        );
    const kernel = options.kernel ?? 'auto';
    if (kernel !== 'auto' && kernel !== 'wasm' && kernel !== 'js' && kernel !== 'generic')
      throw new TypeError(
        `Optimizer: kernel must be 'auto', 'wasm', 'js' or 'generic', got ${JSON.stringify(kernel) ?? String(kernel)}`,
      );
    if (options.arena !== undefined && typeof options.arena !== 'boolean')
      throw new TypeError(`Optimizer: arena must be a boolean, got ${String(options.arena)}`);
    const threads = options.threads ?? 'auto';
    if (threads !== 'auto' && threads !== 1 && threads !== 2)
      throw new TypeError(
        `Optimizer: threads must be 'auto', 1 or 2, got ${JSON.stringify(threads) ?? String(threads)}`,
      );

    const [callerLeaves, def] = treeFlatten<ArrayLeaf>(params, 'params');
    this.def = def;
    callerLeaves.forEach((leaf, i) => {
      if (floatKind(leaf) === undefined)
        throw new TypeError(
          `Optimizer: params${def.paths[i]} is ${typeof leaf === 'number' ? `the number ${leaf}` : describeNode(leaf)}; the in-place Optimizer updates Float32Array or Float64Array leaves (wrap a scalar as Float64Array.of(x), or use the functional update)`,
        );
      checkShape(leaf, `Optimizer: params${def.paths[i]}`);
    });
    this.f32 = callerLeaves.map((leaf) => floatKind(leaf) === 'f32');
    const names = def.paths.map((p) => `params${p}`);
    this.names = names;
    // Refuse overlapping params before anything is built on them.
    new AliasGuard(callerLeaves, names, []);

    let state = transformation.init(params);
    const plan =
      kernel === 'generic' ? undefined : fuseFor(transformation, state, def, callerLeaves);
    const wantWasm = kernel === 'auto' || kernel === 'wasm';
    let elements = 0;
    for (const leaf of callerLeaves) elements += leaf.length;
    if (
      plan &&
      wantWasm &&
      wasmModule() === null &&
      (options.arena || kernel === 'wasm' || elements >= WASM_STAGING_THRESHOLD)
    )
      warnOnce(
        'optax-ts: WebAssembly SIMD is not available here; the in-place Optimizer runs its JavaScript kernel instead (same results, several times slower on large trees).',
      );

    let engine: StepEngine | undefined;
    if (options.arena) {
      const arena = new ArenaSet(
        callerLeaves,
        plan ? plan.slots.length : 1,
        plan ? plan.variants : [],
        wantWasm,
        threads,
        false,
        names,
      );
      this.arena = arena;
      this.params = def.unflatten(arena.params);
      this.arenaGrads = def.unflatten(arena.slots[0]!);
      this.paramLeaves = arena.params.slice();
      if (plan) {
        // The state arrays live in the arena too; the state's other fields are unchanged.
        moveStateInto(state, plan, arena.slots);
        engine = new FusedArenaEngine(plan, arena, false, state);
      } else state = transformation.init(this.params);
    } else {
      this.params = params;
      this.paramLeaves = callerLeaves;
    }
    this.lengths = Float64Array.from(this.paramLeaves, (p) => p.length);
    this.gradLeaves = this.paramLeaves.slice();
    let guard: StateGuard | undefined;
    if (engine !== undefined) guard = new StateGuard(state);
    else {
      const bound = bindLeafEngine(transformation, state, this.params, def, this.paramLeaves, {
        fuse: plan !== undefined,
        wasm: wantWasm && (kernel === 'wasm' || elements >= WASM_STAGING_THRESHOLD),
        threads,
        names,
      });
      guard = bound?.guard;
      engine = bound?.engine ?? new FunctionalEngine(transformation, state, def);
    }
    this.engine = engine;
    [this.guard, this.aliases] = this.guardsFor(guard ?? new StateGuard(state));
  }

  /**
   * The checks of a step against `guard`'s state: the state guard itself and the byte ranges
   * that gradients must not overlap (the params, the state's arrays, the arena's grads buffers).
   */
  private guardsFor(guard: StateGuard): [StateGuard, AliasGuard] {
    const avoid: { array: ArrayLeaf; path: string; owner?: number }[] = [];
    for (const slot of guard.slots) {
      const v = slot.container[slot.key];
      if (floatKind(v)) avoid.push({ array: v as ArrayLeaf, path: `state${slot.path}` });
    }
    // A gradient may be its own leaf's arena buffer, not another's.
    const arenaGrads = this.arena?.slots[0] ?? [];
    arenaGrads.forEach((array, i) => {
      avoid.push({ array, path: `the arena's grads${this.def.paths[i]}`, owner: i });
    });
    return [guard, new AliasGuard(this.paramLeaves, this.names, avoid)];
  }

  /** The transformation's state, updated in place by each step (read it, don't write it). */
  get state(): unknown {
    return this.engine.state;
  }

  /**
   * With `{ arena: true }`, the gradient buffers (views into the arena, zeros at first): write the
   * gradients here and call `step()` with no argument to skip copying them. `undefined` otherwise.
   */
  get grads(): T {
    return this.arenaGrads as T;
  }

  /** Whether steps run in place with no allocation (a fused kernel, or every member supports it). */
  get runsInPlace(): boolean {
    return this.engine.kernel !== 'functional';
  }

  /**
   * Threads that ran the last step: 2 when an arena's fused step was split with a worker (see
   * {@link OptimizerOptions.threads}; the worker takes the steps after it has started), else 1.
   *
   * @example
   * ```ts
   * const opt = new Optimizer(radam(1e-3), { w: new Float32Array(1 << 20) }, { arena: true });
   * opt.step(); // the first steps may run on this thread alone while the worker starts
   * opt.threads; // 2 once the worker takes part (Node, 2 or more CPUs), else 1
   * ```
   */
  get threads(): 1 | 2 {
    return this.engine.threads;
  }

  /**
   * Why the second kernel thread was given up, or `undefined`. A thread that exits, or does not
   * finish a chunk of its share of a step within a second, is terminated; that step is completed
   * on the calling thread (same bits; if the thread died in the middle of writing a chunk, that
   * chunk cannot be, and the step throws a `KernelThreadError`), every later step runs on one
   * thread, and a warning is printed once per process.
   *
   * @example
   * ```ts
   * const opt = new Optimizer(radam(1e-3), { w: new Float32Array(1 << 20) }, { arena: true });
   * opt.threadFailure; // undefined
   * ```
   */
  get threadFailure(): string | undefined {
    return this.engine.threadFailure;
  }

  /**
   * How a step runs: `'wasm'` (fused WebAssembly SIMD kernels, over the arena or through windows
   * over the caller's buffers), `'js'` (fused JavaScript kernels), `'generic'` (the members'
   * in-place steps) or `'functional'`. Fixed at construction.
   *
   * @example
   * ```ts
   * // Tiny trees run the JavaScript kernel; from 64 elements the WebAssembly one, where it loads.
   * new Optimizer(radam(1e-3), { w: new Float32Array(10) }).kernel; // 'js'
   * new Optimizer(radam(1e-3), { w: new Float32Array(1e6) }).kernel; // 'wasm'
   * new Optimizer(radam(1e-3), { w: new Float32Array(1e6) }, { kernel: 'js' }).kernel; // 'js'
   * ```
   */
  get kernel(): KernelKind {
    return this.engine.kernel;
  }

  /**
   * Applies one step: computes the updates from `grads` (a tree like `params`) and adds them to
   * the params in place. Throws, with the params and the state exactly as they were, on anything
   * wrong: a gradient tree that does not match, a leaf of another type, a gradient that shares
   * memory with another param or with the state, a detached or resized buffer, a params leaf or
   * state leaf replaced since construction, a state count that the functional `update` would
   * refuse, a schedule value that is not finite, or a member that throws. (The one exception is a
   * `KernelThreadError`: see {@link Optimizer.threadFailure}.) With `{ arena: true }`, `grads` may
   * be omitted (the values in {@link Optimizer.grads} are used), and gradient leaves that are not
   * the arena's own buffers are copied into them.
   */
  step(grads?: T, extraArgs?: ExtraArgs): void {
    const arena = this.arena;
    const gradLeaves = this.gradLeaves;
    let gradsTree: unknown = grads;
    if (grads === undefined) {
      if (arena === undefined)
        throw new TypeError(
          'Optimizer.step: grads is required (only an optimizer made with { arena: true } reads its own grads buffers)',
        );
      for (let i = 0; i < gradLeaves.length; i++) gradLeaves[i] = arena.slots[0]![i]!;
      gradsTree = this.arenaGrads;
    } else {
      // A new grads tree is matched exactly; the same tree as last step only by its known keys
      // (enumerating an object's keys can allocate, and a step must not).
      const same = grads === this.lastGrads;
      if (
        !(same ? this.def.matchKnownKeys(grads, gradLeaves) : this.def.match(grads, gradLeaves))
      ) {
        assertSameStructure([grads, this.params], ['grads', 'params']);
        throw new TypeError('Optimizer.step: grads does not have the structure of params');
      }
      this.checkGrads(grads);
    }
    this.lastGrads = grads;
    this.checkParams();
    this.guard.verify();
    const engine = this.engine;
    engine.step(gradLeaves, this.paramLeaves, extraArgs, gradsTree, this.params);
    // The functional engine's state is a new tree after each step: check against that one.
    if (engine.kernel === 'functional')
      [this.guard, this.aliases] = this.guardsFor(new StateGuard(engine.state));
  }

  /**
   * Each gradient: the param's float type and length, a live buffer, no forbidden overlap.
   * `grads` is the tree they came from (for the error messages).
   */
  private checkGrads(grads: unknown): void {
    const { gradLeaves, lengths, f32, def } = this;
    for (let i = 0; i < gradLeaves.length; i++) {
      const g = gradLeaves[i]!;
      const kind = floatKind(g);
      if (kind === undefined) {
        // Names the unsupported leaf as every tree function does.
        assertSameStructure([grads, this.params], ['grads', 'params']);
      }
      if (kind === undefined || (kind === 'f32') !== f32[i])
        throw new TypeError(
          `Optimizer.step: grads${def.paths[i]}: ${(g as object)?.constructor?.name ?? typeof g}, params has ${f32[i] ? 'Float32Array' : 'Float64Array'}; each grads leaf must have the type of its param (Float32Array or Float64Array)`,
        );
      const why = bufferProblem(g, lengths[i]!);
      if (why !== undefined)
        throw g.byteLength !== 0 || lengths[i] === 0
          ? new TreeStructureError(
              `grads${def.paths[i]}: length ${g.length}, params has ${lengths[i]}`,
            )
          : new TypeError(`Optimizer.step: grads${def.paths[i]}: ${why}`);
      this.aliases.checkGrad(g, i, def.paths[i]!);
    }
  }

  /** The params tree still holds the leaves bound at construction, each with its length. */
  private checkParams(): void {
    const { def, scratch, paramLeaves, lengths } = this;
    const same = def.matchKnownKeys(this.params, scratch);
    for (let i = 0; i < paramLeaves.length; i++) {
      if (!same || scratch[i] !== paramLeaves[i])
        throw new TypeError(
          `Optimizer.step: params${same ? def.paths[i] : ''} was replaced after the optimizer was built; it updates the arrays it was given (build a new Optimizer for new arrays)`,
        );
      const why = bufferProblem(paramLeaves[i]!, lengths[i]!);
      if (why !== undefined) throw new TypeError(`Optimizer.step: params${def.paths[i]}: ${why}`);
    }
  }
}
