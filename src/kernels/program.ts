/**
 * Running a chain of stages with the generated kernels. A chain (`load`, the transformations'
 * stages, `apply`) becomes a list of kernel calls, *ops*: one call when the chain was generated as
 * one fused kernel (`FUSED_CHAINS`), else one call per stage, made block by block so that the
 * running update stays in cache. Both give the same bits: every kernel makes its stages'
 * operations in their order.
 */
import { JS_KERNELS } from './generated/js-kernels.js';
import { BLOCK } from './program-layout.js';
import { chainLayout, chainName, FUSED_CHAINS, type StageName } from './stages.js';

type Float = Float32Array | Float64Array;

/** A generated JavaScript kernel (see scripts/kernels/js.ts). */
export type JsKernel = (
  u: Float,
  p: Float,
  a: readonly Float[],
  sc: Float64Array,
  start: number,
  end: number,
) => void;

/** One kernel call of a chain. */
export interface KernelOp {
  /** The kernel's chain name (`load+adam+scale+apply`, or one stage). */
  readonly name: string;
  /** Which of the chain's arrays (indices into `chainLayout(chain).arrays`) it takes, in order. */
  readonly arrays: readonly number[];
  /** Which of the chain's scalars (indices into `chainLayout(chain).scalars`) it reads. */
  readonly scalars: readonly number[];
}

const FUSED = new Set(FUSED_CHAINS.map(chainName));

/**
 * The kernel calls of a whole chain (it starts with `load` and ends with `apply`).
 *
 * @example
 * ```ts
 * chainOps(['load', 'adam', 'scale', 'apply']).length; // 1 (generated fused)
 * chainOps(['load', 'clip', 'adam', 'scale', 'apply']).length; // 5 (one per stage)
 * ```
 */
export function chainOps(chain: readonly StageName[]): KernelOp[] {
  const layout = chainLayout(chain);
  const all = (pick: readonly (readonly [number, string])[], from: number, to: number) =>
    pick.flatMap(([s], k) => (s >= from && s < to ? [k] : []));
  if (FUSED.has(chainName(chain)))
    return [
      {
        name: chainName(chain),
        arrays: all(layout.arrays, 0, chain.length),
        scalars: all(layout.scalars, 0, chain.length),
      },
    ];
  return chain.map((stage, i) => ({
    name: stage,
    arrays: all(layout.arrays, i, i + 1),
    scalars: all(layout.scalars, i, i + 1),
  }));
}

/** The JavaScript kernel of an op for a dtype. */
export function jsKernel(name: string, f32: boolean): JsKernel {
  const k = (JS_KERNELS as Record<string, { f32: JsKernel; f64: JsKernel }>)[name];
  if (k === undefined) throw new Error(`no generated kernel ${name}`);
  return f32 ? k.f32 : k.f64;
}

/**
 * A chain's calls bound to JavaScript kernels for one dtype, run on one leaf at a time: `p` and
 * the chain's arrays (`arrays[k]` the leaf's array `k` of `chainLayout`), the scalars of each op.
 */
export class JsChain {
  private readonly fns: JsKernel[];
  /** Per op, the scalars it reads (float64; the float32 kernels round them). */
  readonly scalars: Float64Array[];
  private readonly scratch: Float;
  private readonly opArrays: Float[][];

  constructor(
    readonly ops: readonly KernelOp[],
    f32: boolean,
  ) {
    this.fns = ops.map((op) => jsKernel(op.name, f32));
    this.scalars = ops.map((op) => new Float64Array(op.scalars.length));
    this.scratch =
      ops.length > 1
        ? f32
          ? new Float32Array(BLOCK)
          : new Float64Array(BLOCK)
        : new Float64Array(0);
    this.opArrays = ops.map((op) => op.arrays.map(() => new Float32Array(0)));
  }

  /** Fills every op's scalars from the chain's scalars (in `chainLayout` order). */
  setScalars(chainScalars: ArrayLike<number>): void {
    const { ops, scalars } = this;
    for (let k = 0; k < ops.length; k++) {
      const idx = ops[k]!.scalars;
      const out = scalars[k]!;
      for (let j = 0; j < idx.length; j++) out[j] = chainScalars[idx[j]!]!;
    }
  }

  /** Runs the chain on elements `[0, n)` of one leaf: `p` and its arrays, in place. */
  run(p: Float, arrays: readonly Float[], n: number): void {
    const { ops, fns, scalars, opArrays, scratch } = this;
    for (let k = 0; k < ops.length; k++) {
      const idx = ops[k]!.arrays;
      const a = opArrays[k]!;
      for (let j = 0; j < idx.length; j++) a[j] = arrays[idx[j]!]!;
    }
    if (ops.length === 1) {
      fns[0]!(scratch, p, opArrays[0]!, scalars[0]!, 0, n);
      return;
    }
    for (let start = 0; start < n; start += BLOCK) {
      const end = Math.min(n, start + BLOCK);
      for (let k = 0; k < ops.length; k++)
        fns[k]!(scratch, p, opArrays[k]!, scalars[k]!, start, end);
    }
  }
}
