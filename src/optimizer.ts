/**
 * The in-place optimizer: it keeps the caller's parameter buffers and its own state, and each
 * `step(grads)` updates both in place, allocating nothing for typed-array trees.
 */
import type { ExtraArgs, GradientTransformationExtraArgs, InPlaceStep } from './base.js';
import { applyUpdates } from './base.js';
import { typedArrayOps } from './leaf.js';
import type { ArrayLeaf } from './tree.js';
import { assertSameStructure, isContainer, joinPath } from './tree.js';

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

/**
 * Runs a gradient transformation in place. The optimizer keeps the `params` tree you give it (the
 * very same buffers, updated by every step) and owns the state (`optimizer.state`, also updated in
 * place). Results are bit-identical to the functional loop
 * `[u, state] = tx.update(grads, state, params); params = applyUpdates(params, u)`.
 *
 * Leaves must be `Float32Array` or `Float64Array` (or `null`). When every transformation in `tx`
 * can run in place (all of the library's elementwise ones can), a step allocates nothing; otherwise
 * the optimizer runs the functional update and copies the result into the params buffers.
 * Gradients are checked against the params' structure before anything changes, and so are the
 * per-step scalars (a schedule returning NaN throws with the state untouched).
 *
 * @example
 * ```ts
 * const params = { w: new Float32Array([1, 2, 3]) };
 * const opt = new Optimizer(radam(0.003), params);
 * opt.step({ w: params.w.map((x) => 2 * x) }); // params.w is now [0.994, 1.988, 2.982]
 * ```
 */
export class Optimizer<T = unknown> {
  /** The parameters, the caller's own buffers, updated in place by {@link step}. */
  readonly params: T;
  private currentState: unknown;
  private readonly structure: Node;
  private readonly paramLeaves: ArrayLeaf[] = [];
  private readonly gradLeaves: ArrayLeaf[];
  private readonly updateLeaves: ArrayLeaf[];
  private readonly inPlace: InPlaceStep | undefined;

  constructor(
    readonly transformation: GradientTransformationExtraArgs,
    params: T,
  ) {
    this.params = params;
    this.structure = compile(params, '', this.paramLeaves);
    this.gradLeaves = this.paramLeaves.slice();
    this.updateLeaves = this.paramLeaves.map((p) => typedArrayOps.zerosLike(p));
    this.currentState = transformation.init(params);
    this.inPlace = transformation.bindInPlace?.(this.currentState);
  }

  /** The transformation's state, updated in place by each step (read it, don't write it). */
  get state(): unknown {
    return this.currentState;
  }

  /** Whether steps run in place with no allocation (every member of the chain supports it). */
  get runsInPlace(): boolean {
    return this.inPlace !== undefined;
  }

  /**
   * Applies one step: computes the updates from `grads` (a tree like `params`) and adds them to
   * the params in place. Throws, with nothing changed, on a gradient tree that does not match.
   */
  step(grads: T, extraArgs?: ExtraArgs): void {
    if (!flattenInto(this.structure, grads, this.gradLeaves)) {
      assertSameStructure([grads, this.params], ['grads', 'params']);
      throw new TypeError(
        'Optimizer.step: each grads leaf must have the type of its param (Float32Array or Float64Array)',
      );
    }
    const step = this.inPlace;
    if (step === undefined) {
      const tx = this.transformation;
      const [updates, state] = tx.update(grads, this.currentState, this.params, extraArgs);
      const next = applyUpdates(this.params, updates);
      const nextLeaves: ArrayLeaf[] = [];
      flattenInto(this.structure, next, nextLeaves);
      for (let i = 0; i < this.paramLeaves.length; i++) this.paramLeaves[i]!.set(nextLeaves[i]!);
      this.currentState = state;
      return;
    }
    step.prepare(extraArgs);
    const updates = this.updateLeaves;
    step.run(this.gradLeaves, updates, this.paramLeaves);
    const params = this.paramLeaves;
    for (let i = 0; i < params.length; i++) typedArrayOps.add(params[i]!, updates[i]!, params[i]);
  }
}
