/**
 * Pytrees: nested plain objects and arrays whose leaves are numbers or arrays.
 *
 * A node is a *container* when it is an `Array` or a plain object (prototype `Object.prototype`
 * or `null`); anything else (a number, a `Float32Array`, a `tf.Tensor`, ...) is a leaf. `null` is
 * optax's `None`: a placeholder with no leaves, passed through untouched.
 *
 * Object keys are visited in sorted order, as JAX does, so two trees with the same keys written in
 * a different order have the same leaves in the same order.
 */
import { describeLeaf, leafOps } from './leaf.js';
import { checkShape, shapeOf, withShapeOf } from './shape.js';
import { checkFinite, checkName } from './validate.js';

/** A leaf of the core: a number, a `Float32Array` or a `Float64Array`. */
export type ArrayLeaf = Float32Array | Float64Array;

/** A leaf that the core's arithmetic understands. Adapters add their own array types. */
export type Leaf = number | ArrayLeaf;

/**
 * A tree of leaves of type `L`: a leaf, `null`, an array of trees or a plain object of trees.
 *
 * @example
 * ```ts
 * const params: Tree = { w: new Float32Array([1, 2]), b: 0.5, frozen: null };
 * ```
 */
export type Tree<L = Leaf> = L | null | readonly Tree<L>[] | { readonly [key: string]: Tree<L> };

/** True for the nodes that hold subtrees: arrays and plain objects. */
export function isContainer(x: unknown): x is readonly unknown[] | Record<string, unknown> {
  if (Array.isArray(x)) return true;
  if (x === null || typeof x !== 'object') return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** Appends one step to a path: `.key`, `["odd key"]` or `[3]`. */
export function joinPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return IDENTIFIER.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/** The sorted own keys of a plain object. */
function sortedKeys(obj: Record<string, unknown>): string[] {
  return Object.keys(obj).sort();
}

/** The deepest tree (levels of nested containers) that any walk accepts. */
export const MAX_TREE_DEPTH = 1000;

/**
 * The deepest state a walk of a state accepts: a transformation's state wraps trees like the
 * params in a few levels of its own (chains, wrappers), so it may be deeper than
 * {@link MAX_TREE_DEPTH}.
 */
export const MAX_STATE_DEPTH = MAX_TREE_DEPTH + 64;

/**
 * Throws when a walk is about to enter container `node` at `path` below `ancestors` (the
 * containers above it, root first): a cyclic tree (`node` is one of its own ancestors) or one
 * deeper than `limit`. The check costs O(depth) per container; trees are shallow.
 */
function enter(
  node: unknown,
  ancestors: readonly unknown[],
  name: string,
  path: string,
  limit = MAX_TREE_DEPTH,
): void {
  if (ancestors.includes(node))
    throw new TreeStructureError(
      `${name}${path}: the tree is cyclic (this container is also one of its ancestors); trees must be finite`,
    );
  if (ancestors.length >= limit)
    throw new TreeStructureError(
      `${name}${path.slice(0, 80)}...: the tree is deeper than ${limit} levels${limit === MAX_TREE_DEPTH ? ' (MAX_TREE_DEPTH)' : ''}`,
    );
}

/** A compiled node of a {@link TreeDef}. */
type DefNode =
  | { kind: 'null' }
  | { kind: 'leaf'; index: number }
  | { kind: 'array'; children: DefNode[] }
  | { kind: 'object'; keys: string[]; children: DefNode[] };

/**
 * The structure of a tree without its leaves (JAX's treedef): what {@link treeFlatten} returns
 * beside the leaves. It rebuilds trees ({@link TreeDef.unflatten}), names leaves
 * ({@link TreeDef.paths}) and matches other trees against itself without allocating
 * ({@link TreeDef.match}), so the order of leaves is defined once, here.
 *
 * @example
 * ```ts
 * const [leaves, def] = treeFlatten({ b: [1, 2], a: 3 });
 * leaves; // [3, 1, 2]
 * def.paths; // ['.a', '.b[0]', '.b[1]']
 * def.unflatten([30, 10, 20]); // { a: 30, b: [10, 20] }
 * ```
 */
export class TreeDef {
  /** The path of each leaf, in leaf order (`.a`, `.b[0]`, ...). */
  readonly paths: readonly string[];

  /** @internal Use {@link treeFlatten}. */
  constructor(
    private readonly root: DefNode,
    paths: string[],
  ) {
    this.paths = paths;
  }

  /** The number of leaves. */
  get numLeaves(): number {
    return this.paths.length;
  }

  /**
   * A tree of this structure with `leaves` (in leaf order) as its leaves.
   *
   * @example
   * ```ts
   * treeFlatten({ w: 1, b: 2 })[1].unflatten(['B', 'W']); // { b: 'B', w: 'W' }
   * ```
   */
  unflatten<L>(leaves: readonly L[]): any {
    if (leaves.length !== this.paths.length)
      throw new TypeError(
        `TreeDef.unflatten: ${leaves.length} leaves given, the structure has ${this.paths.length}`,
      );
    const build = (node: DefNode): unknown => {
      switch (node.kind) {
        case 'null':
          return null;
        case 'leaf':
          return leaves[node.index];
        case 'array':
          return node.children.map(build);
        case 'object':
          // fromEntries gives objects whose keys V8 enumerates without allocating, so `match`
          // of a tree built here allocates nothing either.
          return Object.fromEntries(node.keys.map((k, i) => [k, build(node.children[i]!)]));
      }
    };
    return build(this.root);
  }

  /**
   * Writes the leaves of `tree` into `out` (in leaf order) when `tree` has exactly this structure
   * (same containers, keys, array lengths and `null`s; any non-container is taken as a leaf) and
   * returns true; returns false at the first difference (`out` then holds a prefix). Walks the
   * structure, not the tree, so a cyclic `tree` cannot make it loop.
   *
   * @example
   * ```ts
   * const def = treeFlatten({ w: 0 })[1];
   * const out: unknown[] = [];
   * def.match({ w: 5 }, out); // true
   * out; // [5]
   * def.match({ v: 5 }, out); // false
   * ```
   */
  match(tree: unknown, out: unknown[]): boolean {
    return matchNode(this.root, tree, out, true);
  }

  /**
   * {@link match} without the check for extra object keys: every key of this structure must be
   * there with a matching subtree, and keys beyond them are not looked at. Unlike `match`, it
   * allocates nothing whatever the objects (V8 may allocate to enumerate an object's keys).
   *
   * @example
   * ```ts
   * const def = treeFlatten({ w: 0 })[1];
   * def.matchKnownKeys({ w: 5, extra: 1 }, []); // true
   * def.match({ w: 5, extra: 1 }, []); // false
   * ```
   */
  matchKnownKeys(tree: unknown, out: unknown[]): boolean {
    return matchNode(this.root, tree, out, false);
  }
}

function matchNode(node: DefNode, tree: unknown, out: unknown[], exact: boolean): boolean {
  switch (node.kind) {
    case 'null':
      return tree === null;
    case 'leaf':
      if (tree === null || isContainer(tree)) return false;
      out[node.index] = tree;
      return true;
    case 'array': {
      if (!Array.isArray(tree) || tree.length !== node.children.length) return false;
      for (let i = 0; i < tree.length; i++)
        if (!matchNode(node.children[i]!, tree[i], out, exact)) return false;
      return true;
    }
    case 'object': {
      if (!isContainer(tree) || Array.isArray(tree)) return false;
      const obj = tree as Record<string, unknown>;
      if (exact) {
        let own = 0;
        for (const k in obj) if (Object.hasOwn(obj, k)) own++;
        if (own !== node.keys.length) return false;
      }
      for (let i = 0; i < node.keys.length; i++) {
        const k = node.keys[i]!;
        if (!Object.hasOwn(obj, k) || !matchNode(node.children[i]!, obj[k], out, exact))
          return false;
      }
      return true;
    }
  }
}

/**
 * The leaves of `tree` in order (arrays by index, object keys sorted, `null` skipped) and its
 * structure, as `jax.tree.flatten`. `name` names the tree in errors. Cyclic trees and trees deeper
 * than {@link MAX_TREE_DEPTH} are refused with a {@link TreeStructureError}.
 *
 * @example
 * ```ts
 * const [leaves, def] = treeFlatten({ w: new Float32Array(2), b: null, c: [1] });
 * leaves; // [1, Float32Array [0, 0]]
 * def.paths; // ['.c[0]', '.w']
 * ```
 */
export function treeFlatten<L = Leaf>(tree: unknown, name = 'tree'): [L[], TreeDef] {
  const leaves: L[] = [];
  const paths: string[] = [];
  const ancestors: unknown[] = [];
  const compile = (node: unknown, path: string): DefNode => {
    if (node === null) return { kind: 'null' };
    if (!isContainer(node)) {
      leaves.push(node as L);
      paths.push(path);
      return { kind: 'leaf', index: leaves.length - 1 };
    }
    enter(node, ancestors, name, path);
    ancestors.push(node);
    let out: DefNode;
    if (Array.isArray(node)) {
      const children: DefNode[] = [];
      for (let i = 0; i < node.length; i++) children.push(compile(node[i], joinPath(path, i)));
      out = { kind: 'array', children };
    } else {
      const obj = node as Record<string, unknown>;
      const keys = sortedKeys(obj);
      out = { kind: 'object', keys, children: keys.map((k) => compile(obj[k], joinPath(path, k))) };
    }
    ancestors.pop();
    return out;
  };
  const root = compile(tree, '');
  return [leaves, new TreeDef(root, paths)];
}

/** One place in a tree: the container, the key in it, the path, and whether it holds a leaf. */
export interface TreeSlot {
  readonly container: Record<string | number, unknown>;
  readonly key: string | number;
  readonly path: string;
  /** False when the slot holds a container (listed before the slots inside it). */
  readonly leaf: boolean;
}

/**
 * Every place below the root of `tree`, containers first and then their contents (leaves in leaf
 * order, `null` included as a leaf slot): what a walk that replaces, checks or restores values in
 * place needs. `maxDepth` defaults to {@link MAX_TREE_DEPTH}.
 *
 * @example
 * ```ts
 * const t = { a: [1], b: null };
 * treeSlots(t).map((s) => `${s.path}:${s.leaf}`); // ['.a:false', '.a[0]:true', '.b:true']
 * ```
 */
export function treeSlots(tree: unknown, name = 'tree', maxDepth = MAX_TREE_DEPTH): TreeSlot[] {
  const out: TreeSlot[] = [];
  const ancestors: unknown[] = [];
  const visit = (node: unknown, path: string): void => {
    enter(node, ancestors, name, path, maxDepth);
    ancestors.push(node);
    const obj = node as Record<string | number, unknown>;
    const keys: (string | number)[] = Array.isArray(node)
      ? node.map((_, i) => i)
      : sortedKeys(node as Record<string, unknown>);
    for (const k of keys) {
      const child = obj[k];
      const p = joinPath(path, k);
      const leaf = !isContainer(child);
      out.push({ container: obj, key: k, path: p, leaf });
      if (!leaf) visit(child, p);
    }
    ancestors.pop();
  };
  if (isContainer(tree)) visit(tree, '');
  return out;
}

/** Describes a node for an error message: `Float32Array of length 3`, `number`, `object`, ... */
export function describeNode(x: unknown): string {
  if (x === null) return 'null';
  if (x === undefined) return 'undefined';
  if (Array.isArray(x)) return `array of length ${x.length}`;
  if (isContainer(x))
    return `object with keys [${sortedKeys(x as Record<string, unknown>).join(', ')}]`;
  const d = describeLeaf(x);
  if (d) return d;
  if (ArrayBuffer.isView(x)) return `${x.constructor.name} (unsupported leaf type)`;
  if (typeof x === 'object') return `${(x as object).constructor?.name ?? 'object'}`;
  return `${typeof x} ${String(x)}`;
}

/**
 * Thrown when two trees that should match do not. The message names the first differing path.
 *
 * @example
 * ```ts
 * applyUpdates({ w: new Float32Array(2) }, { v: new Float32Array(2) }); // TreeStructureError: params: object with keys [w], updates has no key "w" and extra key "v"
 * ```
 */
export class TreeStructureError extends Error {
  /** `'TreeStructureError'`. */
  override name = 'TreeStructureError';
}

function structureError(
  names: readonly string[],
  path: string,
  i: number,
  what: string,
  found: string,
): TreeStructureError {
  return new TreeStructureError(`${names[0]}${path}: ${what}, ${names[i]} has ${found}`);
}

function childMismatch(
  trees: readonly unknown[],
  names: readonly string[],
  path: string,
): TreeStructureError | null {
  const first = trees[0];
  for (let i = 1; i < trees.length; i++) {
    const other = trees[i];
    if (Array.isArray(first)) {
      if (!Array.isArray(other))
        return structureError(names, path, i, describeNode(first), describeNode(other));
      if (other.length !== first.length)
        return structureError(
          names,
          path,
          i,
          `array of length ${first.length}`,
          `length ${other.length}`,
        );
    } else {
      if (!isContainer(other) || Array.isArray(other))
        return structureError(names, path, i, describeNode(first), describeNode(other));
      const a = sortedKeys(first as Record<string, unknown>);
      const b = sortedKeys(other as Record<string, unknown>);
      const missing = a.filter((k) => !(k in (other as object)));
      const extra = b.filter((k) => !(k in (first as object)));
      if (missing.length > 0 || extra.length > 0) {
        const parts: string[] = [];
        if (missing.length > 0)
          parts.push(`no key ${missing.map((k) => JSON.stringify(k)).join(', ')}`);
        if (extra.length > 0)
          parts.push(`extra key ${extra.map((k) => JSON.stringify(k)).join(', ')}`);
        return new TreeStructureError(
          `${names[0]}${path}: ${describeNode(first)}, ${names[i]} has ${parts.join(' and ')}`,
        );
      }
    }
  }
  return null;
}

/** Default names for trees in error messages: `tree`, `rest[0]`, `rest[1]`, ... (made once). */
const DEFAULT_NAMES: string[][] = [];
function defaultNames(n: number): readonly string[] {
  let names = DEFAULT_NAMES[n];
  if (names === undefined) {
    names = Array.from({ length: n }, (_, i) => (i === 0 ? 'tree' : `rest[${i - 1}]`));
    if (n < 16) DEFAULT_NAMES[n] = names;
  }
  return names;
}

function mapNode(
  fn: (leaves: unknown[], path: string) => unknown,
  trees: readonly unknown[],
  names: readonly string[],
  path: string,
  ancestors: unknown[] = [],
): unknown {
  const first = trees[0];
  if (first === null) return null;
  if (isContainer(first)) {
    const err = childMismatch(trees, names, path);
    if (err) throw err;
    enter(first, ancestors, names[0]!, path);
    ancestors.push(first);
    const result = mapChildren(fn, trees, names, path, ancestors);
    ancestors.pop();
    return result;
  }
  for (let i = 1; i < trees.length; i++) {
    if (isContainer(trees[i]))
      throw structureError(
        names,
        path,
        i,
        `a leaf (${describeNode(first)})`,
        describeNode(trees[i]),
      );
  }
  for (let i = 0; i < trees.length; i++) checkShape(trees[i], `${names[i]}${path}`);
  const out = fn(trees as unknown[], path);
  // A fresh array made from shaped leaves keeps the shape (an input leaf returned as it is, or an
  // array of another length, is left alone).
  if (!trees.includes(out)) withShapeOf(out, ...trees);
  return out;
}

/** The children of container `trees[0]` mapped by {@link mapNode} (the trees already match). */
function mapChildren(
  fn: (leaves: unknown[], path: string) => unknown,
  trees: readonly unknown[],
  names: readonly string[],
  path: string,
  ancestors: unknown[],
): unknown {
  const first = trees[0];
  if (Array.isArray(first))
    return first.map((_, j) =>
      mapNode(
        fn,
        trees.map((t) => (t as unknown[])[j]),
        names,
        joinPath(path, j),
        ancestors,
      ),
    );
  const out: Record<string, unknown> = {};
  for (const k of sortedKeys(first as Record<string, unknown>)) {
    out[k] = mapNode(
      fn,
      trees.map((t) => (t as Record<string, unknown>)[k]),
      names,
      joinPath(path, k),
      ancestors,
    );
  }
  return out;
}

/**
 * Maps `fn` over the leaves of `tree` and the matching leaves of `rest`, as `jax.tree.map`.
 * The trees must have the same structure; the error names the first path where they differ.
 * `null` in `tree` stays `null`.
 *
 * @example
 * ```ts
 * treeMap((a, b) => (a as number) + (b as number), { x: 1, y: [2] }, { x: 10, y: [20] });
 * // { x: 11, y: [22] }
 * ```
 */
export function treeMap<R = unknown>(
  fn: (...leaves: any[]) => R,
  tree: unknown,
  ...rest: unknown[]
): any {
  if (typeof fn !== 'function')
    throw new TypeError(`treeMap: fn must be a function of the leaves, got ${describeNode(fn)}`);
  const trees = [tree, ...rest];
  return mapNode((leaves) => fn(...leaves), trees, defaultNames(trees.length), '');
}

/**
 * Like {@link treeMap} with names for the error messages (`['grads', 'params']`) and a check
 * that every leaf is one the arithmetic supports and that matching leaves have equal sizes.
 * `fn` also receives the leaf's path.
 */
export function mapLeaves(
  fn: (leaves: any[], path: string) => unknown,
  trees: readonly unknown[],
  names: readonly string[],
  nullable: readonly boolean[] = [],
): any {
  return mapNode(
    (leaves, path) => {
      checkLeaves(leaves, names, path, nullable);
      return fn(leaves, path);
    },
    trees,
    names,
    '',
  );
}

/**
 * Checks that every entry of `leaves` is a supported leaf of the first's size; entry `i` may be
 * `null` where `nullable[i]` is true.
 */
export function checkLeaves(
  leaves: readonly unknown[],
  names: readonly string[],
  path: string,
  nullable: readonly boolean[] = [],
): void {
  const first = leaves[0];
  const ops = leafOps(first, `${names[0]}${path}`);
  const size = ops.size(first);
  const isNumber = typeof first === 'number';
  for (let i = 1; i < leaves.length; i++) {
    const leaf = leaves[i];
    if (leaf === null && nullable[i]) continue;
    const other = leafOps(leaf, `${names[i]}${path}`);
    if (isNumber !== (typeof leaf === 'number'))
      throw new TreeStructureError(
        `${names[0]}${path}: ${describeNode(first)}, ${names[i]} has ${describeNode(leaf)}`,
      );
    const otherSize = other.size(leaf);
    if (otherSize !== size)
      throw new TreeStructureError(
        `${names[0]}${path}: length ${size}, ${names[i]} has ${otherSize}`,
      );
    const a = shapeOf(first);
    const b = shapeOf(leaf);
    if (
      a !== undefined &&
      b !== undefined &&
      (a.length !== b.length || a.some((d, j) => d !== b[j]))
    )
      throw new TreeStructureError(
        `${names[0]}${path}: shape [${a.join(', ')}], ${names[i]} has shape [${b.join(', ')}]`,
      );
  }
}

/**
 * The leaves of a tree in order (arrays by index, object keys sorted), skipping `null`.
 *
 * @example
 * ```ts
 * treeLeaves({ b: [1, 2], a: new Float32Array(3) }); // [Float32Array [0, 0, 0], 1, 2]
 * ```
 */
export function treeLeaves<L = Leaf>(tree: Tree<L> | unknown): L[] {
  return treeFlatten<L>(tree)[0];
}

/**
 * The paths of the leaves, in the order of {@link treeLeaves}.
 *
 * @example
 * ```ts
 * treeLeafPaths({ w: [1, 2], b: 3 }); // ['.b', '.w[0]', '.w[1]']
 * ```
 */
export function treeLeafPaths(tree: unknown): string[] {
  return treeFlatten(tree)[1].paths.slice();
}

/**
 * A tree of zeros with the structure, leaf types and sizes of `tree`.
 *
 * @example
 * ```ts
 * treeZerosLike({ w: new Float32Array([1, 2]), b: 3 }); // { b: 0, w: Float32Array [0, 0] }
 * ```
 */
export function treeZerosLike<T>(tree: T): T {
  return mapLeaves(([x]) => leafOps(x).zerosLike(x), [tree], ['tree']);
}

/**
 * The leafwise sum of two or more trees, as `optax.tree_utils.tree_add(tree_x, tree_y,
 * *other_trees)`; the result has the first tree's leaf types. Every tree must have the first's
 * structure (the error names the tree, `trees[2]`, and the path).
 *
 * @example
 * ```ts
 * treeAdd({ x: 1 }, { x: 2 }); // { x: 3 }
 * treeAdd({ x: 1 }, { x: 2 }, { x: 4 }); // { x: 7 }
 * ```
 */
export function treeAdd<T>(...trees: [a: T, b: T, ...more: T[]]): T {
  if (trees.length < 2)
    throw new TypeError(`treeAdd: expected at least two trees to add, got ${trees.length}`);
  const names = trees.map((_, i) => `trees[${i}]`);
  return mapLeaves(
    (leaves: unknown[]) => {
      const ops = leafOps(leaves[0]);
      let sum = ops.linearCombination(1, leaves[0], 1, leaves[1]);
      for (let i = 2; i < leaves.length; i++) {
        const next = ops.linearCombination(1, sum, 1, leaves[i]);
        ops.dispose?.(sum);
        sum = next;
      }
      return sum;
    },
    trees,
    names,
  );
}

/**
 * Leafwise `a - b`; the result has `a`'s leaf types.
 *
 * @example
 * ```ts
 * treeSub({ x: 1 }, { x: 2 }); // { x: -1 }
 * ```
 */
export function treeSub<T>(...trees: [a: T, b: T]): T {
  if (trees.length !== 2)
    throw new TypeError(`treeSub: expected two trees (a, b), got ${trees.length} arguments`);
  const [a, b] = trees;
  return mapLeaves(([x, y]) => leafOps(x).linearCombination(1, x, -1, y), [a, b], ['a', 'b']);
}

/**
 * Leafwise `s * a`; `s` must be a finite number.
 *
 * @example
 * ```ts
 * treeScale(2, { x: new Float64Array([1, 2]) }); // { x: Float64Array [2, 4] }
 * treeScale(Number.NaN, { x: 1 }); // RangeError: treeScale: s must be a finite number, got NaN
 * ```
 */
export function treeScale<T>(s: number, a: T): T {
  checkFinite('treeScale', 's', s, ' (the factor every element is multiplied by)');
  return mapLeaves(([x]) => leafOps(x).scale(x, s), [a], ['tree']);
}

/**
 * The sum of the squares of every element of every leaf. `name` names the tree in errors.
 *
 * @example
 * ```ts
 * treeSumOfSquares({ x: 3, y: new Float32Array([4]) }); // 25
 * ```
 */
export function treeSumOfSquares(tree: unknown, name = 'tree'): number {
  checkName('treeSumOfSquares', 'name', name);
  let total = 0;
  mapLeaves(
    ([x]) => {
      total += leafOps(x).sumOfSquares(x);
      return null;
    },
    [tree],
    [name],
  );
  return total;
}

/**
 * The Euclidean norm of all elements of a tree, as `optax.tree_utils.tree_l2_norm`. `name` names
 * the tree in errors.
 *
 * @example
 * ```ts
 * treeL2Norm({ x: 3, y: new Float32Array([4]) }); // 5
 * ```
 */
export function treeL2Norm(tree: unknown, name = 'tree'): number {
  checkName('treeL2Norm', 'name', name);
  return Math.sqrt(treeSumOfSquares(tree, name));
}

/**
 * True when every element of every leaf is finite (no NaN, no ±Infinity).
 *
 * @example
 * ```ts
 * treeAllFinite({ x: new Float32Array([1, NaN]) }); // false
 * ```
 */
export function treeAllFinite(tree: unknown): boolean {
  let finite = true;
  mapLeaves(
    ([x]) => {
      if (finite && !leafOps(x).allFinite(x)) finite = false;
      return null;
    },
    [tree],
    ['tree'],
  );
  return finite;
}

/**
 * Throws a {@link TreeStructureError} naming the first path where the trees differ in structure,
 * leaf kind or leaf size.
 *
 * @example
 * ```ts
 * assertSameStructure([{ w: [1, 2] }, { w: [1] }], ['grads', 'params']); // TreeStructureError: grads.w: array of length 2, params has length 1
 * ```
 */
export function assertSameStructure(trees: readonly unknown[], names?: readonly string[]): void {
  if (!Array.isArray(trees) || trees.length === 0)
    throw new TypeError(
      `assertSameStructure: trees must be a non-empty list of trees, got ${describeNode(trees)}`,
    );
  if (
    names !== undefined &&
    (!Array.isArray(names) ||
      names.length < trees.length ||
      names.some((n) => typeof n !== 'string'))
  )
    throw new TypeError(
      `assertSameStructure: names must be a list of ${trees.length} strings (one per tree), got ${describeNode(names)}`,
    );
  mapLeaves(() => null, trees, names ?? defaultNames(trees.length));
}
