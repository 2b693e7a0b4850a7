/**
 * The in-place optimizer: it keeps the parameter buffers (the caller's, or its own arena) and its
 * own state, and each `step(grads)` updates both in place, allocating nothing for typed-array trees.
 */
import type { ExtraArgs, GradientTransformationExtraArgs, InPlaceStep } from './base.js';
import { applyUpdates } from './base.js';
import { Arena, type ArenaThreads } from './kernels/arena.js';
import { FusedRadamStep, fusedPlan } from './kernels/fused.js';
import { wasmModule } from './kernels/wasm.js';
import { typedArrayOps } from './leaf.js';
import type { ArrayLeaf } from './tree.js';
import { assertSameStructure, isContainer, joinPath, treeMap } from './tree.js';

/** A compiled tree structure, to check and flatten gradients without allocating. */
type Node =
  | { kind: 'null' }
  | { kind: 'leaf'; index: number; length: number; f32: boolean }
  | { kind: 'array'; children: Node[] }
  | { kind: 'object'; keys: string[]; children: Node[] };

function compile(tree: unknown, path: string, leaves: ArrayLeaf[]): Node {
  if (tree === null) return { kind: 'null' };
  if (Array.isArray(tree))
    return { kind: 'array', children: tree.map((c, i) => compile(c, joinPath(path, i), leaves)) };
  if (isContainer(tree)) {
    const obj = tree as Record<string, unknown>;
    const keys = Object.keys(obj).sort();
    return {
      kind: 'object',
      keys,
      children: keys.map((k) => compile(obj[k], joinPath(path, k), leaves)),
    };
  }
  if (tree instanceof Float32Array || tree instanceof Float64Array) {
    leaves.push(tree);
    return {
      kind: 'leaf',
      index: leaves.length - 1,
      length: tree.length,
      f32: tree instanceof Float32Array,
    };
  }
  throw new TypeError(
    `Optimizer: params${path} is ${
      typeof tree === 'number'
        ? `the number ${tree}`
        : String((tree as object)?.constructor?.name ?? tree)
    }; the in-place Optimizer updates Float32Array or Float64Array leaves (wrap a scalar as Float64Array.of(x), or use the functional update)`,
  );
}

/** The first leaf of `tree` whose array type differs from the param's, as `grads.w: ...`. */
function dtypeMismatch(node: Node, tree: unknown, path: string): string | undefined {
  switch (node.kind) {
    case 'null':
      return undefined;
    case 'leaf': {
      const want = node.f32 ? 'Float32Array' : 'Float64Array';
      const found = (tree as object)?.constructor?.name ?? typeof tree;
      return found === want ? undefined : `grads${path}: ${found}, params has ${want}`;
    }
    case 'array':
      for (let i = 0; i < node.children.length; i++) {
        const m = dtypeMismatch(node.children[i]!, (tree as unknown[])[i], joinPath(path, i));
        if (m) return m;
      }
      return undefined;
    case 'object':
      for (let i = 0; i < node.keys.length; i++) {
        const k = node.keys[i]!;
        const m = dtypeMismatch(
          node.children[i]!,
          (tree as Record<string, unknown>)[k],
          joinPath(path, k),
        );
        if (m) return m;
      }
      return undefined;
  }
}

/** Fills `out` with the leaves of `tree`; false on any mismatch with `node` (no allocation). */
function flattenInto(node: Node, tree: unknown, out: ArrayLeaf[]): boolean {
  switch (node.kind) {
    case 'null':
      return tree === null;
    case 'leaf':
      if (!(tree instanceof Float32Array || tree instanceof Float64Array)) return false;
      if (tree.length !== node.length || tree instanceof Float32Array !== node.f32) return false;
      out[node.index] = tree;
      return true;
    case 'array': {
      if (!Array.isArray(tree) || tree.length !== node.children.length) return false;
      for (let i = 0; i < tree.length; i++)
        if (!flattenInto(node.children[i]!, tree[i], out)) return false;
      return true;
    }
    case 'object': {
      if (!isContainer(tree) || Array.isArray(tree)) return false;
      const obj = tree as Record<string, unknown>;
      let own = 0;
      for (const k in obj) if (Object.hasOwn(obj, k)) own++;
      if (own !== node.keys.length) return false;
      for (let i = 0; i < node.keys.length; i++) {
        const k = node.keys[i]!;
        if (!Object.hasOwn(obj, k) || !flattenInto(node.children[i]!, obj[k], out)) return false;
      }
      return true;
    }
  }
}

/** Options of {@link Optimizer}. */
export interface OptimizerOptions {
  /**
   * Own the buffers: copy the params into one contiguous block (WebAssembly memory when the SIMD
   * kernels load, else an `ArrayBuffer`), and expose them, the gradients and the state as views
   * into it (`optimizer.params`, `optimizer.grads`, `optimizer.state`). The caller's own params
   * buffers are then left alone. This is the fastest path: for `radam` (with or without decayed
   * weights) every leaf of one dtype is stepped by one SIMD kernel call. Default `false`.
   */
  arena?: boolean;
  /**
   * `'auto'` (default): the WebAssembly SIMD kernels where they load: always in an arena, and on
   * the caller's buffers from {@link WASM_STAGING_THRESHOLD} elements (the moments then live in
   * WebAssembly memory and each step copies g and p in and p back out); else the JavaScript
   * kernels. `'wasm'`: the WebAssembly kernels at any size where they load (else the JavaScript
   * ones). `'js'`: always the JavaScript kernels. `'generic'`: no fused kernel, the members'
   * `bindInPlace` steps (for comparison). Every choice gives the same bits.
   */
  kernel?: 'auto' | 'wasm' | 'js' | 'generic';
  /**
   * Threads for the fused WebAssembly step (an arena, or the WebAssembly memory that stages the
   * caller's buffers; Node only): `'auto'` (default) runs arenas of at least 2^18 elements on two threads (this one and a worker, each stepping half
   * of the elements; the arena's buffers are then over a `SharedArrayBuffer`) on machines with 2 or
   * more CPUs; `2` does so at any size; `1` never does. Results are the same bits either way, and
   * where workers or shared WebAssembly memory are unavailable a step runs on one thread. The
   * worker does not keep the process alive and ends when the optimizer is garbage collected.
   */
  threads?: ArenaThreads;
}

/**
 * With `kernel: 'auto'`, a fused RAdam step on the caller's buffers runs the WebAssembly SIMD kernels
 * (through staging copies) when the params have at least this many elements in all; smaller trees
 * run the JavaScript kernel. Measured: bench/README.md.
 */
export const WASM_STAGING_THRESHOLD = 1024;

/** Rebuilds `tree` with its leaves (in `treeLeaves` order) replaced by `leaves`. */
function withLeaves(tree: unknown, leaves: readonly ArrayLeaf[]): any {
  let i = 0;
  return treeMap(() => leaves[i++], tree);
}

/**
 * Runs a gradient transformation in place. The optimizer updates the params buffers with every
 * step and owns the state (`optimizer.state`, also updated in place). Results are bit-identical to
 * the functional loop `[u, state] = tx.update(grads, state, params); params = applyUpdates(params, u)`.
 *
 * Leaves must be `Float32Array` or `Float64Array` (or `null`). Three ways a step runs, fastest
 * first (see {@link Optimizer.kernel}):
 * - `radam(lr)` (`chain(scaleByRadam, scaleByLearningRate)`, constant or scheduled learning rate,
 *   optionally with `addDecayedWeights` between them) is fused: one pass per leaf reads g, m, v, p
 *   and writes m, v, p, with the per-step scalars computed once. Where WebAssembly SIMD loads, the
 *   pass is a SIMD kernel (`f32x4` lanes for float32 leaves, `f64x2` for float64, making the
 *   typed-array operations in the same order, so the bits are the same): with `{ arena: true }`
 *   over the optimizer's own buffers; on the caller's buffers from
 *   {@link WASM_STAGING_THRESHOLD} elements, with the moments kept in WebAssembly memory (the
 *   state's `mu`/`nu` leaves are views into it) and each step copying g and p in and p back out
 *   (about 9x faster than the JavaScript kernel for float32 at 1M elements; bench/README.md; the
 *   staging copies of g and p cost two more buffers the size of the params). Smaller trees, or
 *   `kernel: 'js'`, run the JavaScript kernel.
 * - Other chains whose members can all run in place use their `bindInPlace` steps.
 * - Otherwise the optimizer runs the functional update and copies the result into the params.
 *
 * No step allocates except the last kind. Gradients are checked against the params' structure
 * before anything changes, and so are the per-step scalars (a schedule returning NaN throws with
 * the state untouched).
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
  private currentState: unknown;
  private readonly structure: Node;
  private readonly paramLeaves: ArrayLeaf[] = [];
  private readonly gradLeaves: ArrayLeaf[];
  private readonly updateLeaves: ArrayLeaf[] = [];
  private readonly inPlace: InPlaceStep | undefined;
  private readonly fused: FusedRadamStep | undefined;
  private readonly arena: Arena | undefined;
  /** Caller buffers with the WebAssembly kernels: the moments live here, g and p are staged. */
  private readonly staging: Arena | undefined;
  private readonly arenaGrads: T | undefined;

  constructor(
    readonly transformation: GradientTransformationExtraArgs,
    params: T,
    options: OptimizerOptions = {},
  ) {
    if (options === null || typeof options !== 'object')
      throw new TypeError(`Optimizer: options must be an object, got ${String(options)}`);
    for (const key of Object.keys(options))
      if (key !== 'arena' && key !== 'kernel' && key !== 'threads')
        throw new TypeError(
          `Optimizer: unknown option ${JSON.stringify(key)}; expected arena, kernel, threads`,
        );
    const kernel = options.kernel ?? 'auto';
    if (kernel !== 'auto' && kernel !== 'wasm' && kernel !== 'js' && kernel !== 'generic')
      throw new TypeError(
        `Optimizer: kernel must be 'auto', 'wasm', 'js' or 'generic', got ${JSON.stringify(kernel)}`,
      );
    if (options.arena !== undefined && typeof options.arena !== 'boolean')
      throw new TypeError(`Optimizer: arena must be a boolean, got ${String(options.arena)}`);
    const threads = options.threads ?? 'auto';
    if (threads !== 'auto' && threads !== 1 && threads !== 2)
      throw new TypeError(
        `Optimizer: threads must be 'auto', 1 or 2, got ${JSON.stringify(threads) ?? String(threads)}`,
      );
    const callerLeaves: ArrayLeaf[] = [];
    this.structure = compile(params, '', callerLeaves);
    let state = transformation.init(params);
    const plan = kernel === 'generic' ? undefined : fusedPlan(transformation, state);
    if (options.arena) {
      const wasm = kernel === 'auto' || kernel === 'wasm';
      const arena = new Arena(callerLeaves, plan !== undefined, wasm, threads);
      this.arena = arena;
      this.params = withLeaves(params, arena.params);
      this.arenaGrads = withLeaves(params, arena.grads);
      this.paramLeaves.push(...arena.params);
      if (plan) {
        // The moments live in the arena too; the state's other fields are unchanged.
        plan.radamState.mu = withLeaves(params, arena.mu);
        plan.radamState.nu = withLeaves(params, arena.nu);
      } else state = transformation.init(this.params);
    } else {
      this.params = params;
      this.paramLeaves.push(...callerLeaves);
      let elements = 0;
      for (const leaf of callerLeaves) elements += leaf.length;
      if (
        plan &&
        (kernel === 'wasm' || (kernel === 'auto' && elements >= WASM_STAGING_THRESHOLD)) &&
        wasmModule() !== null
      ) {
        // The moments move into WebAssembly memory for good; g and p are staged each step.
        const staging = new Arena(callerLeaves, true, true, threads);
        if (staging.kernel === 'wasm') {
          this.staging = staging;
          plan.radamState.mu = withLeaves(params, staging.mu);
          plan.radamState.nu = withLeaves(params, staging.nu);
        }
      }
    }
    this.currentState = state;
    this.gradLeaves = this.paramLeaves.slice();
    if (plan) {
      const own = this.arena ?? this.staging;
      const mu = own ? own.mu : treeLeavesOf(plan.radamState.mu, this.structure);
      const nu = own ? own.nu : treeLeavesOf(plan.radamState.nu, this.structure);
      this.fused = new FusedRadamStep(plan, mu, nu);
    } else {
      this.inPlace = transformation.bindInPlace?.(state, this.params);
      if (this.inPlace)
        for (const p of this.paramLeaves) this.updateLeaves.push(typedArrayOps.zerosLike(p));
    }
  }

  /** The transformation's state, updated in place by each step (read it, don't write it). */
  get state(): unknown {
    return this.currentState;
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
    return this.fused !== undefined || this.inPlace !== undefined;
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
    return (this.arena ?? this.staging)?.lastThreads === 2 ? 2 : 1;
  }

  /**
   * How a step runs: `'wasm'` (fused WebAssembly SIMD kernel, over the arena or over staging
   * copies of the caller's buffers), `'js'` (fused JavaScript kernel), `'generic'` (the members'
   * in-place steps) or `'functional'`.
   *
   * @example
   * ```ts
   * // Small trees run the JavaScript kernel; from 1,024 elements the WebAssembly one, where it loads.
   * new Optimizer(radam(1e-3), { w: new Float32Array(10) }).kernel; // 'js'
   * new Optimizer(radam(1e-3), { w: new Float32Array(1e6) }).kernel; // 'wasm'
   * new Optimizer(radam(1e-3), { w: new Float32Array(1e6) }, { kernel: 'js' }).kernel; // 'js'
   * ```
   */
  get kernel(): 'wasm' | 'js' | 'generic' | 'functional' {
    if (this.fused) return (this.arena ?? this.staging)?.kernel ?? 'js';
    return this.inPlace ? 'generic' : 'functional';
  }

  /**
   * Applies one step: computes the updates from `grads` (a tree like `params`) and adds them to
   * the params in place. Throws, with nothing changed, on a gradient tree that does not match.
   * With `{ arena: true }`, `grads` may be omitted (the values in {@link grads} are used), and
   * gradient leaves that are not the arena's own buffers are copied into them.
   */
  step(grads?: T, extraArgs?: ExtraArgs): void {
    const arena = this.arena;
    if (grads === undefined) {
      if (arena === undefined)
        throw new TypeError(
          'Optimizer.step: grads is required (only an optimizer made with { arena: true } reads its own grads buffers)',
        );
    } else if (!flattenInto(this.structure, grads, this.gradLeaves)) {
      assertSameStructure([grads, this.params], ['grads', 'params']);
      throw new TypeError(
        `Optimizer.step: ${dtypeMismatch(this.structure, grads, '') ?? 'grads'}; each grads leaf must have the type of its param (Float32Array or Float64Array)`,
      );
    }
    const fused = this.fused;
    const step = this.inPlace;
    // Per-step scalars first: a bad schedule value throws before anything changes.
    if (fused) fused.prepare();
    else if (step) step.prepare(extraArgs);
    if (arena) {
      const own = arena.grads;
      const given = this.gradLeaves;
      if (grads !== undefined)
        for (let i = 0; i < own.length; i++) if (given[i] !== own[i]) own[i]!.set(given[i]!);
      if (fused) {
        fused.runArena(arena);
        return;
      }
    }
    const staging = this.staging;
    if (fused && staging) {
      // Stage g and p, step in WebAssembly memory, copy p back (nothing is allocated).
      const given = this.gradLeaves;
      const params = this.paramLeaves;
      const sg = staging.grads;
      const sp = staging.params;
      for (let i = 0; i < params.length; i++) {
        sg[i]!.set(given[i]!);
        sp[i]!.set(params[i]!);
      }
      fused.runArena(staging);
      for (let i = 0; i < params.length; i++) params[i]!.set(sp[i]!);
      return;
    }
    const gradLeaves = arena ? arena.grads : this.gradLeaves;
    if (fused) {
      fused.runLeaves(gradLeaves, this.paramLeaves);
      return;
    }
    if (step === undefined) {
      const tx = this.transformation;
      const g = arena ? this.arenaGrads : grads;
      const [updates, state] = tx.update(g, this.currentState, this.params, extraArgs);
      const next = applyUpdates(this.params, updates);
      const nextLeaves: ArrayLeaf[] = [];
      flattenInto(this.structure, next, nextLeaves);
      for (let i = 0; i < this.paramLeaves.length; i++) this.paramLeaves[i]!.set(nextLeaves[i]!);
      this.currentState = state;
      return;
    }
    const updates = this.updateLeaves;
    step.run(gradLeaves, updates, this.paramLeaves);
    const params = this.paramLeaves;
    for (let i = 0; i < params.length; i++) typedArrayOps.add(params[i]!, updates[i]!, params[i]);
  }
}

/** The leaves of a state tree shaped like the params (checked against the compiled structure). */
function treeLeavesOf(tree: unknown, structure: Node): ArrayLeaf[] {
  const out: ArrayLeaf[] = [];
  if (!flattenInto(structure, tree, out))
    throw new TypeError('Optimizer: the RAdam state does not have the structure of the params');
  return out;
}
