/**
 * Gradient transformations as `tf.train.Optimizer`s: {@link TransformationOptimizer} wraps any
 * transformation, {@link RAdamOptimizer} is `radam` ready for `model.compile`.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type RadamOptions, radam } from '../alias.js';
import type {
  ExtraArgs,
  GradientTransformation,
  GradientTransformationExtraArgs,
  ScalarOrSchedule,
} from '../base.js';
import { applyUpdates } from '../base.js';
import { bindLeafEngine, type StepEngine } from '../inplace/engines.js';
import { WASM_STAGING_THRESHOLD } from '../inplace/optimizer.js';
import { radamHyperparams, type ScaleByRadamOptions } from '../transforms/radam.js';
import { treeFlatten, treeLeafPaths, treeLeaves, treeSlots } from '../tree.js';
import { checkTransformation } from '../validate.js';
import { registerTfjsOps } from './ops.js';
import { type InPlaceBackend, inPlaceBackend } from './storage.js';
import {
  decodeLeaf,
  type NamedTensor,
  pendingWeights,
  readWeights,
  type SavedWeights,
  STATE_PREFIX,
  stateWeights,
} from './weights.js';

export type { NamedTensor } from './weights.js';

/** `v.assign` of a new tensor holding `data`. */
function assignData(v: tf.Variable, data: Float32Array): void {
  tf.tidy(() => v.assign(tf.tensor(data, v.shape, 'float32')));
}

function isTensor(x: unknown): x is tf.Tensor {
  return x instanceof tf.Tensor;
}

/** Replaces every leaf of `tree` in place by `fn(leaf, index)` (leaves in `treeLeaves` order). */
function replaceLeaves(tree: unknown, fn: (leaf: unknown, index: number) => unknown): void {
  let index = 0;
  for (const { container, key, leaf } of treeSlots(tree, 'state'))
    if (leaf && container[key] !== null) container[key] = fn(container[key], index++);
}

/**
 * Marks every tensor leaf of `tree` as kept, so that a `tf.tidy` the optimizer is called in (as
 * tfjs-layers' `fit` does) does not free the optimizer's state.
 */
function keepTree(tree: unknown): void {
  for (const x of treeLeaves<unknown>(tree)) if (isTensor(x)) tf.keep(x);
}

/**
 * Disposes every tensor leaf of `old` that is not also a leaf of one of `current` (the functional
 * API's bookkeeping: a new state may share leaves with the old one, and updates with the state).
 *
 * @example
 * ```ts
 * const [updates, next] = tx.update(grads, state, params);
 * const newParams = applyUpdates(params, updates);
 * disposeReplaced(state, next); // the old state's tensors that `next` does not reuse
 * disposeReplaced(updates, next);
 * disposeReplaced(params, newParams);
 * ```
 */
export function disposeReplaced(old: unknown, ...current: unknown[]): void {
  const keep = new Set<unknown>(current.flatMap((t) => treeLeaves<unknown>(t)));
  for (const x of new Set(treeLeaves<unknown>(old))) if (isTensor(x) && !keep.has(x)) x.dispose();
}

/** Options of {@link TransformationOptimizer}. */
export interface TransformationOptimizerOptions {
  /**
   * On tfjs-backend-cpu and tfjs-backend-wasm, run the core's in-place engine on the variables'
   * storage (when every member supports it) instead of tensor ops. (The name predates the wasm
   * backend.) Default `true`.
   */
  cpuInPlace?: boolean;
  /**
   * Pass the loss to the transformation as the extra argument `{ value }` in `minimize` (and so in
   * `model.fit`), for transformations that read it (`polyakSgd`). It reads the loss back from the
   * backend every step, so it is off by default. `applyGradients` takes extra arguments directly.
   */
  lossAsValue?: boolean;
}

/**
 * A `tf.train.Optimizer` that applies any optax-ts gradient transformation: use it with
 * `model.compile({ optimizer })`, `optimizer.minimize(f)` or `applyGradients`.
 *
 * The gradients of one call form one tree `{ [variableName]: gradient }` (so transformations that
 * look at all leaves at once, such as global-norm clipping, see every variable), and the state is
 * the transformation's state for that tree, keyed by variable name. Every later call must pass the
 * same variables (in any order); use one optimizer per group of variables otherwise.
 *
 * - **CPU and WebAssembly backends:** when `tf.getBackend()` is `'cpu'` or `'wasm'` and the
 *   transformation runs in place, each step reads the gradients' and variables' float32 storage
 *   directly (the cpu backend's `Float32Array`s, or views of the wasm backend's heap) and runs the core
 *   in-place `Optimizer`'s engine on it: for a chain of fusable members (`radam`, `adam`,
 *   `adamw`, `sgd`, with weight decay, clipping by value, schedules) the generated kernels, one
 *   pass per variable (WebAssembly SIMD from `WASM_STAGING_THRESHOLD` elements where it loads,
 *   copying the variables and gradients through cache-sized windows, with a second thread for
 *   large models; the state then lives in WebAssembly memory), else the members' in-place steps.
 *   Results are bit-identical to the core's `Float32Array` path. (The first step after the data
 *   came from another backend uses tensor ops.) On the cpu backend a variable whose data no
 *   other tensor shares (the backend's reference count is 1) is updated in its storage; one that
 *   shares it, and every variable on the wasm backend (whose XNNPACK kernels cache packed
 *   weights), gets a new tensor through `assign`. This relies on tfjs-backend-cpu keeping
 *   float32 data as a `Float32Array`, and tfjs-backend-wasm keeping it in its heap at a recorded
 *   offset, as they do in TF.js 4; an array obtained earlier from
 *   `variable.dataSync()` on that backend is that storage and sees the update.
 * - **Other backends** (webgl, webgpu): tensor ops inside `tf.tidy`, float32 rounding after
 *   each op (agreeing with the core path to float32 precision, not bit for bit).
 *
 * `getWeights` returns `iter` (TF.js's step count), `optax/variables` (the variable names, a
 * string tensor) and one `optax/state…` tensor per state leaf; the tensors belong to the
 * optimizer and stay valid until the next `getWeights`, `setWeights` or `dispose`. `setWeights`
 * restores them at the next `applyGradients`: variables are matched by name, or, when the names
 * differ (tfjs-layers adds `_1` to the names of a model loaded in the same process), by position,
 * with every leaf's size checked. `getConfig` needs a subclass that knows how to rebuild its
 * transformation, such as {@link RAdamOptimizer}.
 *
 * @example
 * ```ts
 * import { adam, chain, clipByGlobalNorm } from 'optax-ts';
 * import { TransformationOptimizer } from 'optax-ts/tfjs';
 * const optimizer = new TransformationOptimizer(chain(clipByGlobalNorm(1), adam(1e-3)));
 * model.compile({ optimizer, loss: 'meanSquaredError' });
 * ```
 */
export class TransformationOptimizer extends tf.Optimizer {
  /** The name `tf.serialization` knows this class by. */
  static className = 'TransformationOptimizer';

  /** The wrapped transformation. */
  readonly transformation: GradientTransformationExtraArgs;
  private readonly cpuInPlace: boolean;
  /** State key (the variable's name when the state was made) by current variable name. */
  private keyOf = new Map<string, string>();
  /** Current variable name by state key. */
  private nameOf = new Map<string, string>();
  /** State keys in the order variables first came; `sorted` in `treeLeaves` order. */
  private order: string[] = [];
  private sorted: string[] = [];
  private state: unknown;
  /** `'array'`: typed-array state for the cpu kernel; `'tensor'`: tensor state. */
  private mode: 'array' | 'tensor' | undefined;
  /** The core's in-place step engine over the cpu backend's arrays (fused or generic). */
  private engine: StepEngine | undefined;
  private pending: SavedWeights | undefined;
  private snapshot: tf.Tensor[] = [];

  constructor(
    transformation: GradientTransformation | GradientTransformationExtraArgs,
    options: TransformationOptimizerOptions = {},
  ) {
    super();
    checkTransformation('TransformationOptimizer', 'transformation', transformation);
    const extra = Object.keys(options).filter((k) => k !== 'cpuInPlace' && k !== 'lossAsValue');
    if (extra.length > 0)
      throw new TypeError(
        `TransformationOptimizer: unknown option ${extra.map((k) => JSON.stringify(k)).join(', ')}; expected cpuInPlace or lossAsValue`,
      );
    for (const key of ['cpuInPlace', 'lossAsValue'] as const)
      if (options[key] !== undefined && typeof options[key] !== 'boolean')
        throw new TypeError(
          `TransformationOptimizer: ${key} must be a boolean, got ${String(options[key])}`,
        );
    registerTfjsOps();
    this.transformation = transformation as GradientTransformationExtraArgs;
    this.cpuInPlace = options.cpuInPlace ?? true;
    this.lossAsValue = options.lossAsValue ?? false;
  }

  private readonly lossAsValue: boolean;

  /**
   * As `tf.train.Optimizer.minimize`; with `lossAsValue`, the loss reaches the transformation as
   * `{ value }`.
   *
   * @example
   * ```ts
   * const x = tf.variable(tf.tensor([3, -2]));
   * const opt = new TransformationOptimizer(polyakSgd(1), { lossAsValue: true });
   * opt.minimize(() => tf.sum(tf.square(x)) as tf.Scalar); // loss 13, gradient [6, -4]
   * x.arraySync(); // [1.5, -1]: the Polyak step 13 / 52 = 0.25
   * ```
   */
  override minimize(
    f: () => tf.Scalar,
    returnCost = false,
    varList?: tf.Variable[],
  ): tf.Scalar | null {
    if (!this.lossAsValue) return super.minimize(f, returnCost, varList);
    const { value, grads } = this.computeGradients(f, varList);
    try {
      this.applyGradients(grads, { value: value.dataSync()[0]! });
    } finally {
      tf.dispose(grads);
    }
    if (returnCost) return value;
    value.dispose();
    return null;
  }

  /** Whether the last step ran in place on the cpu backend's typed arrays. */
  get ranInPlace(): boolean {
    return this.mode === 'array';
  }

  /**
   * How the last step ran: `'fused'` (the core's generated kernels, one pass per variable, for a
   * chain of fusable members such as `radam`: WebAssembly SIMD from `WASM_STAGING_THRESHOLD`
   * elements where it loads, else JavaScript), `'in-place'` (the members' in-place steps),
   * `'tensor'` (tensor ops), or `undefined` before the first step.
   */
  get kernel(): 'fused' | 'in-place' | 'tensor' | undefined {
    if (this.mode === 'tensor') return 'tensor';
    if (this.mode === 'array')
      return this.engine?.kernel === 'js' || this.engine?.kernel === 'wasm' ? 'fused' : 'in-place';
    return undefined;
  }

  /**
   * Updates the variables named in `variableGradients` (a map or a list of `{ name, tensor }`, as
   * TF.js passes them) by one step of the transformation. The gradients stay the caller's.
   * `extraArgs` reach transformations that take them. Throws, with nothing changed, on an unknown
   * variable, a gradient of the wrong shape, or a set of variables unlike the first call's.
   */
  applyGradients(
    variableGradients: tf.NamedTensorMap | NamedTensor[],
    extraArgs?: ExtraArgs,
  ): void {
    const grads = this.collect(variableGradients);
    const names = [...grads.keys()];
    if (this.pending) this.restore(names);
    else if (this.order.length === 0) this.adopt(names.map((n) => [n, n]));
    else this.checkSameVariables(names);

    const variables = this.sorted.map((k) => tf.engine().registeredVariables[this.nameOf.get(k)!]!);
    const gradients = this.sorted.map((k) => grads.get(this.nameOf.get(k)!)!);
    const backend =
      this.cpuInPlace && this.transformation.bindInPlace ? inPlaceBackend() : undefined;
    let gradData: Float32Array[] | undefined;
    let paramData: Float32Array[] | undefined;
    if (backend) {
      gradData = [];
      paramData = [];
      for (let i = 0; i < variables.length; i++) {
        const g = backend.values(gradients[i]!);
        const p = backend.values(variables[i]!);
        if (!g || !p) {
          gradData = undefined;
          break;
        }
        gradData.push(g);
        paramData.push(p);
      }
    }
    if (backend && gradData && paramData)
      this.stepInPlace(backend, variables, gradData, paramData, extraArgs);
    else this.stepTensors(variables, gradients, extraArgs);
    this.incrementIterations();
  }

  /** Checks the gradients and returns them by variable name. */
  private collect(variableGradients: tf.NamedTensorMap | NamedTensor[]): Map<string, tf.Tensor> {
    const fn = 'TransformationOptimizer.applyGradients';
    const entries: [string, unknown][] = Array.isArray(variableGradients)
      ? variableGradients.map((e) => [e?.name, e?.tensor])
      : Object.entries(variableGradients ?? {});
    if (entries.length === 0) throw new TypeError(`${fn}: no gradients given`);
    const grads = new Map<string, tf.Tensor>();
    for (const [name, g] of entries) {
      const v = tf.engine().registeredVariables[name];
      if (v === undefined)
        throw new TypeError(`${fn}: no variable named ${JSON.stringify(name)} is registered`);
      if (!isTensor(g) || g.isDisposed)
        throw new TypeError(
          `${fn}: the gradient of ${JSON.stringify(name)} must be a live tf.Tensor, got ${
            isTensor(g) ? 'a disposed tensor' : g === null ? 'null' : typeof g
          } (a variable without a gradient cannot be left out of a transformation's tree)`,
        );
      if (g.shape.length !== v.shape.length || g.shape.some((d, i) => d !== v.shape[i]))
        throw new TypeError(
          `${fn}: the gradient of ${JSON.stringify(name)} has shape [${g.shape}], the variable has [${v.shape}]`,
        );
      if (grads.has(name)) throw new TypeError(`${fn}: two gradients for ${JSON.stringify(name)}`);
      grads.set(name, g);
    }
    return grads;
  }

  private adopt(pairs: readonly (readonly [name: string, key: string])[]): void {
    this.keyOf = new Map(pairs.map(([n, k]) => [n, k]));
    this.nameOf = new Map(pairs.map(([n, k]) => [k, n]));
    this.order = pairs.map(([, k]) => k);
    this.sorted = [...this.order].sort();
  }

  private checkSameVariables(names: readonly string[]): void {
    const missing = [...this.keyOf.keys()].filter((n) => !names.includes(n));
    const extra = names.filter((n) => !this.keyOf.has(n));
    if (missing.length > 0 || extra.length > 0)
      throw new TypeError(
        `TransformationOptimizer.applyGradients: the state covers the variables of the first call [${[
          ...this.keyOf.keys(),
        ].join(', ')}]; this call ${[
          missing.length > 0 ? `lacks [${missing.join(', ')}]` : '',
          extra.length > 0 ? `adds [${extra.join(', ')}]` : '',
        ]
          .filter(Boolean)
          .join(' and ')} (use one optimizer per group of variables)`,
      );
  }

  /** The params tree `{ [key]: variable }` (tensor mode) or copies of their data (array mode). */
  private paramsTree(mode: 'array' | 'tensor'): Record<string, unknown> {
    const tree: Record<string, unknown> = {};
    for (const k of this.sorted) {
      const v = tf.engine().registeredVariables[this.nameOf.get(k)!]!;
      // Copies carry the variable's shape, for the transformations that treat matrices as such
      // (adafactor, muon, sm3, centralize).
      tree[k] =
        mode === 'tensor'
          ? v
          : Object.assign(Float32Array.from(v.dataSync() as ArrayLike<number>), {
              shape: [...v.shape],
            });
    }
    return tree;
  }

  /** Makes sure the state exists in `mode`, initialising or converting it. */
  private ensureState(mode: 'array' | 'tensor'): void {
    if (this.mode === mode) return;
    if (this.state === undefined) {
      this.state =
        mode === 'tensor'
          ? tf.tidy(() => this.transformation.init(this.paramsTree('tensor')) as tf.TensorContainer)
          : this.transformation.init(this.paramsTree('array'));
    } else if (mode === 'array') {
      replaceLeaves(this.state, (x) => {
        if (!isTensor(x)) return x;
        const a = Float32Array.from(x.dataSync() as ArrayLike<number>);
        x.dispose();
        return a;
      });
    } else {
      const old = treeLeaves<unknown>(this.state);
      this.state = this.template((leaf, _path, i) => {
        const x = old[i];
        if (!isTensor(leaf)) return x;
        return tf.tensor(x as Float32Array, leaf.shape, leaf.dtype);
      });
    }
    keepTree(this.state);
    this.mode = mode;
    this.bind();
  }

  /**
   * A fresh tensor-mode state from `init`, with each leaf replaced by `fill(leaf, path, index)`
   * (the template's tensors are disposed). Throws if the leaves do not fit.
   */
  private template(fill: (leaf: unknown, path: string, index: number) => unknown): unknown {
    const tmpl = tf.tidy(
      () => this.transformation.init(this.paramsTree('tensor')) as tf.TensorContainer,
    );
    const paths = treeLeafPaths(tmpl);
    try {
      replaceLeaves(tmpl, (leaf, i) => {
        const out = fill(leaf, paths[i]!, i);
        if (isTensor(leaf)) leaf.dispose();
        return out;
      });
    } catch (err) {
      for (const x of treeLeaves<unknown>(tmpl)) if (isTensor(x)) x.dispose();
      throw err;
    }
    return tmpl;
  }

  private bind(): void {
    this.engine = undefined;
    if (this.mode !== 'array') return;
    const params = this.paramsTree('array');
    const [leaves, def] = treeFlatten<Float32Array>(params, 'params');
    let elements = 0;
    for (const leaf of leaves) elements += leaf.length;
    // The core Optimizer's engine and choice of kernels: WebAssembly SIMD from
    // WASM_STAGING_THRESHOLD elements (through windows over the backend's arrays).
    this.engine = bindLeafEngine(this.transformation, this.state, params, def, leaves, {
      fuse: true,
      wasm: elements >= WASM_STAGING_THRESHOLD,
      threads: 'auto',
      names: def.paths.map((p) => `params${p}`),
    })?.engine;
  }

  private stepInPlace(
    backend: InPlaceBackend,
    variables: tf.Variable[],
    gradData: Float32Array[],
    paramData: Float32Array[],
    extraArgs: ExtraArgs | undefined,
  ): void {
    this.ensureState('array');
    // A variable whose storage another tensor shares, or that the backend does not let us write
    // in place, is stepped in a copy, then assigned.
    const shared = variables.map((v) => !backend.writable || backend.refCount(v.dataId) !== 1);
    const targets = paramData.map((p, i) => (shared[i] ? p.slice() : p));
    // The same engine as the core Optimizer's: it throws with the state unchanged.
    this.engine!.step(gradData, targets, extraArgs, undefined, undefined);
    targets.forEach((p, i) => {
      if (shared[i]) assignData(variables[i]!, p);
    });
  }

  private stepTensors(
    variables: tf.Variable[],
    gradients: tf.Tensor[],
    extraArgs: ExtraArgs | undefined,
  ): void {
    this.ensureState('tensor');
    const old = this.state;
    const params: Record<string, tf.Tensor> = {};
    const grads: Record<string, tf.Tensor> = {};
    this.sorted.forEach((k, i) => {
      params[k] = variables[i]!;
      grads[k] = gradients[i]!;
    });
    const next = tf.tidy(() => {
      const [updates, state] = this.transformation.update(grads, old, params, extraArgs);
      const newParams = applyUpdates(params, updates) as Record<string, tf.Tensor>;
      this.sorted.forEach((k, i) => {
        variables[i]!.assign(newParams[k]!);
      });
      return state as tf.TensorContainer;
    });
    // The old state's tensors that the new state does not reuse; never the caller's gradients.
    disposeReplaced(old, next, grads, params);
    keepTree(next);
    this.state = next;
  }

  /** Applies pending `setWeights` data for the variables `names` of this call. */
  private restore(names: readonly string[]): void {
    const p = this.pending!;
    const fn = 'TransformationOptimizer.setWeights';
    if (p.keys.length === 0) {
      this.pending = undefined;
      this.adopt(names.map((n) => [n, n]));
      return;
    }
    if (p.keys.length !== names.length)
      throw new TypeError(
        `${fn}: the saved state covers ${p.keys.length} variables [${p.keys.join(', ')}], applyGradients got ${names.length} [${names.join(', ')}]`,
      );
    const byName = names.every((n) => p.keys.includes(n));
    const order = byName
      ? p.keys.map((k) => [k, k] as const)
      : p.keys.map((k, i) => [names[i]!, k] as const);
    const previous = [this.keyOf, this.nameOf, this.order, this.sorted] as const;
    this.adopt(order);
    const used = new Set<string>();
    try {
      const state = this.template((leaf, path) => {
        const name = STATE_PREFIX + path;
        const saved = p.leaves.get(name);
        if (saved === undefined)
          throw new TypeError(
            `${fn}: no weight ${JSON.stringify(name)} for the transformation's state leaf ${path}; were the weights saved from an optimizer with the same transformation?`,
          );
        used.add(name);
        return decodeLeaf(fn, name, saved, leaf);
      });
      const unused = [...p.leaves.keys()].filter((k) => !used.has(k));
      if (unused.length > 0) {
        for (const x of treeLeaves<unknown>(state)) if (isTensor(x)) x.dispose();
        throw new TypeError(
          `${fn}: weights ${unused.map((k) => JSON.stringify(k)).join(', ')} do not belong to this transformation's state`,
        );
      }
      this.disposeState();
      keepTree(state);
      this.state = state;
      this.mode = 'tensor';
      this.bind();
      this.pending = undefined;
    } catch (err) {
      [this.keyOf, this.nameOf, this.order, this.sorted] = previous;
      throw err;
    }
  }

  private disposeState(): void {
    if (this.state !== undefined)
      for (const x of treeLeaves<unknown>(this.state)) if (isTensor(x)) x.dispose();
    this.state = undefined;
    this.mode = undefined;
    this.engine = undefined;
  }

  private disposeSnapshot(): void {
    for (const t of this.snapshot) t.dispose();
    this.snapshot = [];
  }

  /**
   * The state as TF.js optimizer weights: `iter`, `optax/variables` (string tensor of the
   * variable names) and one tensor per state leaf, named `optax/state` + its path. The tensors
   * belong to the optimizer (valid until the next `getWeights`, `setWeights` or `dispose`).
   */
  override async getWeights(): Promise<NamedTensor[]> {
    const fn = 'TransformationOptimizer.getWeights';
    const out = this.pending
      ? pendingWeights(this.pending)
      : stateWeights(fn, this.iterations, this.order, this.state);
    this.disposeSnapshot();
    this.snapshot = out.map((w) => tf.keep(w.tensor));
    return out;
  }

  /**
   * Restores weights made by {@link TransformationOptimizer.getWeights} (possibly by another
   * instance, in another process). The iteration count is set now; the state replaces the current
   * one at the next `applyGradients`, once the variables are known. The given tensors stay the
   * caller's (they are read, not kept).
   */
  override async setWeights(weightValues: NamedTensor[]): Promise<void> {
    const saved = await readWeights('TransformationOptimizer.setWeights', weightValues);
    this.disposeSnapshot();
    this.pending = saved;
    this.iterations_ = saved.iterations;
  }

  /** Frees the state's tensors and the weights handed out by `getWeights`. */
  override dispose(): void {
    this.disposeState();
    this.disposeSnapshot();
    this.pending = undefined;
    this.adopt([]);
    super.dispose();
  }

  /**
   * An arbitrary transformation cannot be described by a config; subclasses that can rebuild
   * theirs (like {@link RAdamOptimizer}) override this and `fromConfig`.
   */
  override getConfig(): tf.serialization.ConfigDict {
    throw new TypeError(
      'TransformationOptimizer.getConfig: a wrapped transformation has no serializable config; save with a subclass that defines getConfig and static fromConfig and is registered with tf.serialization.registerClass (RAdamOptimizer is), or save without includeOptimizer',
    );
  }

  /** Always throws: see {@link TransformationOptimizer.getConfig}. */
  static override fromConfig<T extends tf.serialization.Serializable>(
    _cls: tf.serialization.SerializableConstructor<T>,
    _config: tf.serialization.ConfigDict,
  ): T {
    throw new TypeError(
      'TransformationOptimizer.fromConfig: cannot rebuild an arbitrary transformation from a config; use a registered subclass such as RAdamOptimizer',
    );
  }
}

/** Options of {@link RAdamOptimizer}: `radam`'s (optax's defaults), and `cpuInPlace`. */
export interface RAdamOptimizerOptions extends RadamOptions {
  /** See {@link TransformationOptimizerOptions.cpuInPlace}. Default `true`. */
  cpuInPlace?: boolean;
}

/** The config keys of {@link RAdamOptimizer}, besides `learningRate`. */
const RADAM_CONFIG_KEYS = ['b1', 'b2', 'eps', 'epsRoot', 'threshold', 'nesterov', 'weightDecay'];

/**
 * Rectified Adam, exactly `optax.radam` (with optional decoupled `weightDecay`, as `radam`), as a
 * `tf.train.Optimizer`. Its config (`learningRate`, `b1`, `b2`, `eps`, `epsRoot`, `threshold`,
 * `nesterov`, and `weightDecay` when given) is serializable and the class is registered with
 * `tf.serialization`, so `model.save(handler, { includeOptimizer: true })` and
 * `tf.loadLayersModel` restore the optimizer and, through `getWeights`/`setWeights`, its state.
 * A schedule (for the learning rate or the decay) or a `weightDecayMask` works but cannot be
 * saved in a config. The mask, if any, sees the tree `{ [variableName]: variable }`.
 *
 * @example
 * ```ts
 * model.compile({ optimizer: new RAdamOptimizer(1e-3), loss: 'meanSquaredError' });
 * await model.fit(xs, ys, { epochs: 10 });
 * ```
 */
export class RAdamOptimizer extends TransformationOptimizer {
  static override className = 'RAdamOptimizer';
  /** The learning rate (a number, or a schedule of the step count). */
  readonly learningRate: ScalarOrSchedule;
  private readonly options: RadamOptions;
  private readonly hyperparams: Required<ScaleByRadamOptions>;

  constructor(learningRate: ScalarOrSchedule, options: RAdamOptimizerOptions = {}) {
    const { cpuInPlace, ...radamOptions } = options ?? {};
    super(radam(learningRate, radamOptions), cpuInPlace === undefined ? {} : { cpuInPlace });
    this.learningRate = learningRate;
    this.options = radamOptions;
    const { weightDecay: _w, weightDecayMask: _m, ...own } = radamOptions;
    this.hyperparams = radamHyperparams('RAdamOptimizer', own);
  }

  /** `{ learningRate, b1, b2, eps, epsRoot, threshold, nesterov }`, plus `weightDecay` if given. */
  override getConfig(): tf.serialization.ConfigDict {
    const fn = 'RAdamOptimizer.getConfig';
    const { weightDecay, weightDecayMask } = this.options;
    if (typeof this.learningRate !== 'number')
      throw new TypeError(
        `${fn}: the learning rate is a schedule (a function), which a config cannot hold; save without includeOptimizer or use a number`,
      );
    if (weightDecay !== undefined && typeof weightDecay !== 'number')
      throw new TypeError(`${fn}: weightDecay is a schedule, which a config cannot hold`);
    if (weightDecayMask !== undefined)
      throw new TypeError(`${fn}: weightDecayMask cannot be saved in a config`);
    return {
      learningRate: this.learningRate,
      ...this.hyperparams,
      ...(weightDecay === undefined ? {} : { weightDecay }),
    };
  }

  /**
   * Rebuilds an optimizer from {@link RAdamOptimizer.getConfig}'s config (other keys, such as the
   * `customObjects` tfjs-layers adds, are ignored).
   */
  static override fromConfig<T extends tf.serialization.Serializable>(
    cls: tf.serialization.SerializableConstructor<T>,
    config: tf.serialization.ConfigDict,
  ): T {
    const { learningRate } = config;
    if (typeof learningRate !== 'number')
      throw new TypeError(
        `RAdamOptimizer.fromConfig: learningRate must be a number, got ${JSON.stringify(learningRate)}`,
      );
    const options: Record<string, unknown> = {};
    for (const k of RADAM_CONFIG_KEYS) if (config[k] !== undefined) options[k] = config[k];
    return new cls(learningRate, options);
  }
}

tf.serialization.registerClass(RAdamOptimizer);
