/**
 * The expression form in which each fusable transformation's per-element math is written once
 * (`stages.ts`). `scripts/build-kernels.ts` turns a chain of stages into a JavaScript loop and into
 * WebAssembly SIMD kernels (`f32x4` and `f64x2`, with a scalar tail): every node is one IEEE 754
 * operation in the leaf's dtype, evaluated in the same order by every backend, so the kernels give
 * the same bits by construction.
 *
 * A node's value is an element of the leaf's dtype, or for a comparison a per-element truth value
 * that only {@link select} consumes. Nodes are plain objects; a node used twice is computed once
 * (backends key on identity).
 */

/** One node of a per-element expression. */
export type Expr =
  /** The current element of an array the chain reads (`u`, `p`, `g` or a state array). */
  | { readonly op: 'elem'; readonly name: string }
  /** A per-step scalar (rounded to the leaf's dtype before use). */
  | { readonly op: 'scalar'; readonly name: string }
  /** The constant 0. */
  | { readonly op: 'zero' }
  /** A constant, exactly representable in float32 (so that every dtype reads the same value). */
  | { readonly op: 'const'; readonly value: number }
  | { readonly op: BinaryOp; readonly a: Expr; readonly b: Expr }
  | { readonly op: UnaryOp; readonly a: Expr }
  /** `cond ? then : otherwise`, where `cond` is a comparison. */
  | { readonly op: 'select'; readonly cond: Expr; readonly then: Expr; readonly otherwise: Expr };

/**
 * The binary operations of the expression form (`Expr`). `max` and `min` give NaN when either operand is NaN, and
 * order -0 below +0 (IEEE 754-2019 `maximum`/`minimum`, as WebAssembly's and `Math.max`).
 */
export type BinaryOp = 'add' | 'sub' | 'mul' | 'div' | 'max' | 'min' | 'lt' | 'gt' | 'eq';

/** The unary operations of the expression form (`Expr`): square root, absolute value, negation (all exact but sqrt). */
export type UnaryOp = 'sqrt' | 'abs' | 'neg';

/** Every operation of {@link Expr}. */
export type ExprOp = Expr['op'];

/** The comparisons (their value is a truth value, usable only as a {@link select} condition). */
export const COMPARISONS: ReadonlySet<string> = new Set(['lt', 'gt', 'eq']);

const bin =
  (op: BinaryOp) =>
  (a: Expr, b: Expr): Expr => ({ op, a, b });

/** `a + b` */
export const add = bin('add');
/** `a - b` */
export const sub = bin('sub');
/** `a * b` */
export const mul = bin('mul');
/** `a / b` */
export const div = bin('div');
/** `a < b` (false when either is NaN) */
export const lt = bin('lt');
/** `a > b` (false when either is NaN) */
export const gt = bin('gt');
/** `a == b` (`-0 == 0`; false when either is NaN) */
export const eq = bin('eq');
/** `max(a, b)` (NaN if either is NaN) */
export const max = bin('max');
/** `min(a, b)` (NaN if either is NaN) */
export const min = bin('min');
/** The square root. */
export const sqrt = (a: Expr): Expr => ({ op: 'sqrt', a });
/** `|a|` */
export const abs = (a: Expr): Expr => ({ op: 'abs', a });
/** `-a` */
export const neg = (a: Expr): Expr => ({ op: 'neg', a });
/**
 * A constant; it must be exactly representable in float32.
 *
 * @example
 * ```ts
 * constant(0.5); // { op: 'const', value: 0.5 }
 * constant(0.1); // RangeError: not exactly representable in float32
 * ```
 */
export function constant(value: number): Expr {
  if (Math.fround(value) !== value)
    throw new RangeError(`constant(${value}): not exactly representable in float32`);
  return { op: 'const', value };
}
/** The constant 1. */
export const ONE: Expr = constant(1);
/**
 * `sign(a)`: 1 where `a > 0`, -1 where `a < 0`, `a` itself where it is ±0 or NaN (as `jnp.sign`).
 */
export function sign(a: Expr): Expr {
  return select(gt(a, ZERO), ONE, select(lt(a, ZERO), constant(-1), a));
}
/** `cond ? then : otherwise` */
export const select = (cond: Expr, then: Expr, otherwise: Expr): Expr => ({
  op: 'select',
  cond,
  then,
  otherwise,
});
/** The constant 0. */
export const ZERO: Expr = { op: 'zero' };

/**
 * The nodes reachable from `roots`, each once, operands before the nodes that use them (the order
 * in which every backend evaluates them).
 *
 * @example
 * ```ts
 * const x: Expr = { op: 'elem', name: 'u' };
 * const y = add(x, x);
 * topoOrder([y]).length; // 2
 * ```
 */
export function topoOrder(roots: readonly Expr[]): Expr[] {
  const seen = new Set<Expr>();
  const out: Expr[] = [];
  const visit = (e: Expr): void => {
    if (seen.has(e)) return;
    seen.add(e);
    switch (e.op) {
      case 'sqrt':
      case 'abs':
      case 'neg':
        visit(e.a);
        break;
      case 'select':
        visit(e.cond);
        visit(e.then);
        visit(e.otherwise);
        break;
      case 'elem':
      case 'scalar':
      case 'zero':
      case 'const':
        break;
      default:
        visit(e.a);
        visit(e.b);
    }
    out.push(e);
  };
  for (const r of roots) visit(r);
  return out;
}
