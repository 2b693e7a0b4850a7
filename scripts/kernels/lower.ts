/**
 * Lowers a chain of stages (src/kernels/stages.ts) to one per-element program: the elements it
 * loads, the nodes it computes (operands first) and the elements it stores. Both generators
 * (`js.ts`, `wasm.ts`) emit exactly these nodes in this order.
 *
 * Element names in the lowered program: `u` (the block's running update, read when the chain does
 * not start with `load` and written when it does not end with `apply`), `p` (the parameter), and
 * `a0`..`a5` (the stages' arrays, in {@link chainLayout} order). Scalar names: `s0`, `s1`, ...
 */
import { type Expr, topoOrder } from '../../src/kernels/expr.js';
import {
  chainLayout,
  MAX_KERNEL_ARRAYS,
  STAGES,
  type StageDef,
  type StageName,
} from '../../src/kernels/stages.js';

/** A chain lowered to one per-element program. */
export interface Lowered {
  /** The nodes to compute, operands first (loads and scalars included). */
  readonly nodes: readonly Expr[];
  /** The stores, in order: `[target element name, value]`. */
  readonly stores: readonly (readonly [string, Expr])[];
  /** How many scalars the kernel reads. */
  readonly scalarCount: number;
}

/** Lowers `stages` (see the module comment). */
export function lower(stages: readonly StageName[]): Lowered {
  const layout = chainLayout(stages);
  if (layout.arrays.length > MAX_KERNEL_ARRAYS)
    throw new Error(`chain ${stages.join('+')} needs more than ${MAX_KERNEL_ARRAYS} arrays`);
  const elems = new Map<string, Expr>();
  const elem = (name: string): Expr => {
    let e = elems.get(name);
    if (!e) {
      e = { op: 'elem', name };
      elems.set(name, e);
    }
    return e;
  };
  const scalarNodes = new Map<string, Expr>();
  const p = elem('p');
  let u: Expr | undefined = stages[0] === 'load' ? undefined : elem('u');
  const stores: [string, Expr][] = [];
  let pOut: Expr | undefined;
  stages.forEach((name, i) => {
    const def: StageDef = STAGES[name];
    const arrayName = (a: string): string => {
      const k = layout.arrays.findIndex(([s, n]) => s === i && n === a);
      if (k < 0) throw new Error(`stage ${name} reads an array it does not declare: ${a}`);
      return `a${k}`;
    };
    const scalar = (s: string): Expr => {
      const k = layout.scalars.findIndex(([j, n]) => j === i && n === s);
      if (k < 0) throw new Error(`stage ${name} reads a scalar it does not declare: ${s}`);
      let e = scalarNodes.get(`s${k}`);
      if (!e) {
        e = { op: 'scalar', name: `s${k}` };
        scalarNodes.set(`s${k}`, e);
      }
      return e;
    };
    const out = def.math({ u: u as Expr, p, elem: (a) => elem(arrayName(a)), scalar });
    for (const [a, value] of Object.entries(out.set ?? {})) stores.push([arrayName(a), value]);
    if (out.u) u = out.u;
    if (out.p) pOut = out.p;
  });
  if (stages[stages.length - 1] !== 'apply') {
    if (u === undefined) throw new Error('a chain must compute an update');
    stores.push(['u', u]);
  }
  if (pOut) stores.push(['p', pOut]);
  return {
    nodes: topoOrder(stores.map(([, v]) => v)),
    stores,
    scalarCount: layout.scalars.length,
  };
}
