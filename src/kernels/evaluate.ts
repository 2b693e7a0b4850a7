/**
 * Runs a stage's per-element math (`stage.ts`) over whole leaves, one operation at a time, through
 * a small set of primitive operations. This is how an elementwise transformation of the catalogue
 * runs on leaves the generated kernels do not take (TF.js tensors, jax-js arrays, numbers): each
 * node of the expression is one elementwise operation in the leaf's dtype, in the kernels' order,
 * so a backend whose operations are IEEE 754 in that dtype gives the kernels' bits.
 */
import { withShapeOf } from '../shape.js';
import { type BinaryOp, type Expr, topoOrder, type UnaryOp } from './expr.js';
import type { StageDef } from './stage.js';

/** The operations of the expression form that take operands (all but elements, scalars, constants). */
export type PrimitiveOp = BinaryOp | UnaryOp | 'select';

/**
 * One operation of the expression form over whole leaves of one kind. Operands are leaves or
 * numbers (scalars, already rounded to the leaf dtype); a comparison's result is that kind's mask
 * (boolean tensor, ...), which only `select` (its first operand) receives. At least one operand is
 * a leaf.
 */
export type Primitive<L> = (op: PrimitiveOp, args: readonly (L | number | boolean)[]) => L;

/** The inputs of one stage on one leaf. */
export interface StageLeafInputs<L> {
  /** The incoming update. */
  readonly u: L;
  /** The parameter (only for stages that read it). */
  readonly p?: L;
  /** The stage's arrays, by name. */
  readonly arrays: Readonly<Record<string, L>>;
  /** The stage's scalars in its order (float64; rounded here to float32 when `f32`). */
  readonly scalars: ArrayLike<number>;
}

/** What a stage computed on one leaf: the new update and the new values of its arrays. */
export interface StageLeafResult<L> {
  u: L | number;
  set: Record<string, L | number>;
  /** Every leaf the evaluation made that is not in the result (for the caller to free). */
  temporaries: L[];
}

const R = Math.fround;

/** `op` on numbers only, in float64 or (`f32`) rounded to float32 as the kernels round it. */
function numeric(
  op: PrimitiveOp,
  args: readonly (number | boolean)[],
  f32: boolean,
): number | boolean {
  const [a, b, c] = args as number[];
  const round = f32 ? R : (x: number) => x;
  switch (op) {
    case 'add':
      return round(a! + b!);
    case 'sub':
      return round(a! - b!);
    case 'mul':
      return round(a! * b!);
    case 'div':
      return round(a! / b!);
    case 'max':
      return Math.max(a!, b!);
    case 'min':
      return Math.min(a!, b!);
    case 'sqrt':
      return round(Math.sqrt(a!));
    case 'abs':
      return Math.abs(a!);
    case 'neg':
      return -a!;
    case 'lt':
      return a! < b!;
    case 'gt':
      return a! > b!;
    case 'eq':
      return a! === b!;
    case 'select':
      return (args[0] as boolean) ? b! : c!;
  }
}

/** A stage's math as nodes to evaluate: the update, the stores, every node operands first. */
interface Lowered {
  readonly nodes: readonly Expr[];
  readonly uExpr: Expr;
  readonly stores: readonly (readonly [string, Expr])[];
}

const loweredCache = new WeakMap<StageDef, Lowered>();

/** `def`'s math lowered once (its inputs are the elements `\0u`, `\0p` and the arrays' names). */
function lowered(def: StageDef): Lowered {
  const cached = loweredCache.get(def);
  if (cached !== undefined) return cached;
  const elems = new Map<string, Expr>();
  const elem = (name: string): Expr => {
    let e = elems.get(name);
    if (e === undefined) {
      e = { op: 'elem', name };
      elems.set(name, e);
    }
    return e;
  };
  const scalarNodes = new Map<string, Expr>();
  const out = def.math({
    u: elem('\0u'),
    p: elem('\0p'),
    elem,
    scalar(name) {
      let e = scalarNodes.get(name);
      if (e === undefined) {
        e = { op: 'scalar', name };
        scalarNodes.set(name, e);
      }
      return e;
    },
  });
  const stores = Object.entries(out.set ?? {});
  const uExpr = out.u ?? elem('\0u');
  const result = { nodes: topoOrder([uExpr, ...stores.map(([, v]) => v)]), uExpr, stores };
  loweredCache.set(def, result);
  return result;
}

/**
 * Evaluates `def`'s math on one leaf with `primitive` (see the module comment). `f32` says whether
 * the leaf is float32, which decides how scalars are rounded and how operations on numbers alone
 * (a number leaf, or scalars combined with each other) are computed.
 *
 * @example
 * ```ts
 * const halve: StageDef = {
 *   arrays: [], scalars: ['s'], math: ({ u, scalar }) => ({ u: { op: 'mul', a: u, b: scalar('s') } }),
 * };
 * const out = evaluateStage(halve, typedArrayPrimitive, {
 *   u: new Float32Array([1, 2]), arrays: {}, scalars: [0.5],
 * }, true);
 * out.u; // Float32Array [0.5, 1]
 * ```
 */
export function evaluateStage<L>(
  def: StageDef,
  primitive: Primitive<L>,
  inputs: StageLeafInputs<L>,
  f32: boolean,
): StageLeafResult<L> {
  const { nodes, uExpr, stores } = lowered(def);
  const values = new Map<Expr, L | number | boolean>();
  const made: L[] = [];
  const isLeaf = (x: unknown): x is L => typeof x !== 'number' && typeof x !== 'boolean';
  for (const e of nodes) {
    let v: L | number | boolean;
    switch (e.op) {
      case 'elem': {
        const leaf =
          e.name === '\0u' ? inputs.u : e.name === '\0p' ? inputs.p : inputs.arrays[e.name];
        if (leaf === undefined) throw new Error(`evaluateStage: no input for ${e.name}`);
        v = leaf;
        break;
      }
      case 'scalar': {
        const k = def.scalars.indexOf(e.name);
        const x = inputs.scalars[k]!;
        v = f32 ? R(x) : x;
        break;
      }
      case 'zero':
        v = 0;
        break;
      case 'const':
        v = e.value;
        break;
      default: {
        const args =
          e.op === 'select' ? [e.cond, e.then, e.otherwise] : 'b' in e ? [e.a, e.b] : [e.a];
        const vals = args.map((a) => values.get(a)!);
        if (vals.some(isLeaf)) {
          v = primitive(e.op, vals);
          made.push(v);
        } else v = numeric(e.op, vals as (number | boolean)[], f32);
      }
    }
    values.set(e, v);
  }
  const u = values.get(uExpr) as L | number;
  const set: Record<string, L | number> = {};
  for (const [name, value] of stores) set[name] = values.get(value) as L | number;
  const kept = new Set<unknown>([u, ...Object.values(set)]);
  return { u, set, temporaries: made.filter((x) => !kept.has(x)) };
}

type Float = Float32Array | Float64Array;

/**
 * {@link Primitive} for typed arrays of one dtype (the first array operand's), rounding each result
 * to float32 for `Float32Array`s. A reference for the generated kernels, which compute the same
 * nodes element by element; masks are `Uint8Array`s.
 *
 * @example
 * ```ts
 * typedArrayPrimitive('mul', [new Float32Array([0.1]), 3]); // Float32Array [0.3000000119]
 * ```
 */
export const typedArrayPrimitive: Primitive<Float | Uint8Array> = (op, args) => {
  const arrays = args.filter((a): a is Float | Uint8Array => typeof a === 'object');
  const like = (op === 'select' ? args.slice(1) : args).find(
    (a): a is Float => a instanceof Float32Array || a instanceof Float64Array,
  );
  const n = arrays[0]!.length;
  const f32 = like === undefined || like instanceof Float32Array;
  const at = (a: Float | Uint8Array | number | boolean, i: number): number | boolean =>
    typeof a === 'object' ? (a instanceof Uint8Array ? a[i] === 1 : a[i]!) : a;
  const comparison = op === 'lt' || op === 'gt' || op === 'eq';
  const out = comparison
    ? new Uint8Array(n)
    : withShapeOf(f32 ? new Float32Array(n) : new Float64Array(n), ...arrays);
  const element: (number | boolean)[] = [];
  for (let i = 0; i < n; i++) {
    element.length = 0;
    for (const a of args) element.push(at(a, i));
    const v = numeric(op, element, f32);
    out[i] = typeof v === 'boolean' ? (v ? 1 : 0) : v;
  }
  return out;
};
