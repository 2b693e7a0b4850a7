/**
 * An arena: one contiguous block holding the params, gradients and (for a fused RAdam step) both
 * moments of every leaf, handed out as `Float32Array`/`Float64Array` views. Leaves of one dtype sit
 * back to back, each padded to a multiple of 4 elements with zeros (which the kernels map to zeros),
 * so one kernel call steps every leaf of that dtype. The block is WebAssembly memory when the SIMD
 * kernels load, otherwise an `ArrayBuffer` stepped by the JavaScript kernels. The memory never
 * grows, so views stay valid for the arena's lifetime.
 *
 * A large arena (or one asked for 2 threads) in Node is shared WebAssembly memory (its views are
 * over a `SharedArrayBuffer`) stepped by two threads: this one and a worker (`threads.ts`) each
 * run the kernel on half of every region. The step is elementwise, so the bits are the same.
 */
import { floatKind } from '../leaf.js';
import type { ArrayLeaf } from '../tree.js';
import { warnOnce } from '../warn.js';
import { type KernelScalars, radamStepF32, radamStepF64 } from './radam-js.js';
import { CHUNK, KernelThreadError, KernelWorker, threadsAvailable } from './threads.js';
import {
  instantiateKernels,
  KERNEL_SCALARS,
  kernelName,
  type WasmKernel,
  type WasmKernels,
} from './wasm.js';

/** Where one dtype's leaves live: byte offsets of the four regions and the padded length. */
interface Group {
  f32: boolean;
  /** Padded element count of each region. */
  n: number;
  g: number;
  m: number;
  v: number;
  p: number;
  /** Views of whole regions (for the JavaScript kernels). */
  all: { g: ArrayLeaf; m: ArrayLeaf; v: ArrayLeaf; p: ArrayLeaf };
  /** The wasm kernels for this dtype, indexed by `2 * nesterov + decay`. */
  fns: WasmKernel[];
  /** Index of this dtype's first kernel in {@link ALL_KERNELS}. */
  first: number;
}

/** Every kernel, float32 then float64, each by `2 * nesterov + decay` (the worker's numbering). */
const ALL_KERNELS = [true, false].flatMap((f32) =>
  [0, 1, 2, 3].map((j) => kernelName(f32, j >= 2, (j & 1) === 1)),
);

/** How many threads step an arena: `'auto'` uses 2 from {@link THREAD_THRESHOLD} elements. */
export type ArenaThreads = 'auto' | 1 | 2;

/** With `threads: 'auto'`, arenas of at least this many elements are stepped by two threads. */
export const THREAD_THRESHOLD = 1 << 18;

const pad4 = (n: number) => (n + 3) & ~3;
/** The kernels' scalars: float64s at byte 0, the same rounded to float32 at byte `F32_SCALARS`. */
const F32_SCALARS = 128;
/** The second thread's control block (Int32), after the scalars. */
const CONTROL = 256;
const SCALARS_BYTES = 512;

interface Layout {
  layout: { f32: boolean; index: number[]; offset: number[]; n: number }[];
  bytes: number;
}

/** Where each leaf goes: float64 leaves first, then float32, each padded to 4 elements. */
function arenaLayout(leaves: readonly ArrayLeaf[], moments: boolean): Layout {
  const layout: Layout['layout'] = [];
  for (const f32 of [false, true]) {
    const index: number[] = [];
    const offset: number[] = [];
    let n = 0;
    leaves.forEach((leaf, i) => {
      if ((floatKind(leaf) === 'f32') !== f32) return;
      index.push(i);
      offset.push(n);
      n += pad4(leaf.length);
    });
    if (index.length > 0) layout.push({ f32, index, offset, n });
  }
  const regions = moments ? 4 : 2;
  // The kernels' scalars come first.
  let bytes = SCALARS_BYTES;
  for (const l of layout) bytes += regions * l.n * (l.f32 ? 4 : 8);
  return { layout, bytes };
}

/**
 * The bytes of one WebAssembly memory that an arena for `leaves` needs.
 */
export function arenaBytes(leaves: readonly ArrayLeaf[], moments: boolean): number {
  return arenaLayout(leaves, moments).bytes;
}

export class Arena {
  /** Per leaf (in `treeLeaves` order), views into the arena. */
  readonly params: ArrayLeaf[] = [];
  readonly grads: ArrayLeaf[] = [];
  readonly mu: ArrayLeaf[] = [];
  readonly nu: ArrayLeaf[] = [];
  /** `'wasm'` when the SIMD kernels run on this arena, else `'js'`. */
  readonly kernel: 'wasm' | 'js';
  /** Threads that ran the last step: 2 when the worker took half of it, else 1. */
  lastThreads: 1 | 2 = 1;
  /** The second thread, when this arena has one (it may still be starting). */
  private worker: KernelWorker | undefined;
  /**
   * Why the second thread was given up (it died, or stopped answering, during or between steps),
   * after which every step runs on this thread; `undefined` while it is fine or was never used.
   */
  threadFailure: string | undefined;

  /** Total bytes of the block. */
  readonly bytes: number;
  private readonly groups: Group[] = [];
  private readonly kernels: WasmKernels | undefined;
  /** The float64 kernels' scalars, at byte 0. */
  private readonly scalars: Float64Array;
  /** The float32 kernels' scalars (the same, rounded to float32), at byte `F32_SCALARS`. */
  private readonly scalars32: Float32Array;

  /**
   * Lays out `leaves` (copying their values into the params views). With `moments`, also
   * allocates zeroed first- and second-moment regions. `wasm: false` forces an `ArrayBuffer`.
   * `threads`: 2 starts a worker for the fused step where Node's `worker_threads` and shared
   * WebAssembly memory exist; `'auto'` does so from {@link THREAD_THRESHOLD} elements on machines
   * with at least 2 CPUs; 1 never does.
   */
  constructor(
    leaves: readonly ArrayLeaf[],
    moments: boolean,
    wasm: boolean,
    threads: ArenaThreads = 1,
  ) {
    const { layout, bytes } = arenaLayout(leaves, moments);
    let elements = 0;
    for (const l of layout) elements += l.n;
    const twoThreads =
      wasm &&
      moments &&
      (threads === 2
        ? threadsAvailable(1)
        : threads === 'auto' && elements >= THREAD_THRESHOLD && threadsAvailable(2));
    this.bytes = bytes;
    const shared = twoThreads ? instantiateKernels(bytes, true) : undefined;
    const inst = shared ?? (wasm ? instantiateKernels(bytes) : undefined);
    this.worker = shared
      ? KernelWorker.start(this, shared.module, shared.memory, ALL_KERNELS, CONTROL)
      : undefined;
    this.kernels = inst?.kernels;
    this.kernel = inst ? 'wasm' : 'js';
    const buffer: ArrayBuffer = inst ? inst.memory.buffer : new ArrayBuffer(Math.max(bytes, 8));
    this.scalars = new Float64Array(buffer, 0, KERNEL_SCALARS.length);
    this.scalars32 = new Float32Array(buffer, F32_SCALARS, KERNEL_SCALARS.length);
    let at = SCALARS_BYTES;
    for (const l of layout) {
      const size = l.f32 ? 4 : 8;
      const Ctor = l.f32 ? Float32Array : Float64Array;
      const region = () => {
        const start = at;
        at += l.n * size;
        return start;
      };
      const g = region();
      const p = region();
      const m = moments ? region() : -1;
      const v = moments ? region() : -1;
      const view = (base: number, len: number) =>
        base < 0 ? new Ctor(0) : new Ctor(buffer, base, len);
      this.groups.push({
        f32: l.f32,
        n: l.n,
        g,
        m,
        v,
        p,
        all: { g: view(g, l.n), m: view(m, l.n), v: view(v, l.n), p: view(p, l.n) },
        fns: this.kernels
          ? [0, 1, 2, 3].map((j) => this.kernels![kernelName(l.f32, j >= 2, (j & 1) === 1)]!)
          : [],
        first: l.f32 ? 0 : 4,
      });
      l.index.forEach((leafIndex, j) => {
        const len = leaves[leafIndex]!.length;
        const off = l.offset[j]! * size;
        this.grads[leafIndex] = new Ctor(buffer, g + off, len);
        const pv = new Ctor(buffer, p + off, len);
        pv.set(leaves[leafIndex]!);
        this.params[leafIndex] = pv;
        if (moments) {
          this.mu[leafIndex] = new Ctor(buffer, m + off, len);
          this.nu[leafIndex] = new Ctor(buffer, v + off, len);
        }
      });
    }
  }

  /**
   * Completes the worker's share of the step it abandoned: the chunks it had not started, in its
   * order, each stepped exactly once, so that the bits are those of an uninterrupted step. Returns
   * false when the worker died in the middle of a chunk (`midChunk`): that chunk's elements may
   * be half-written and are left as they are (the others are completed).
   */
  private finishForWorker(worker: KernelWorker, fn: number, rectify: number): boolean {
    const done = worker.progress;
    const mid = worker.midChunk;
    let chunk = 0;
    for (const grp of this.groups) {
      const half = (grp.n >> 1) & ~3;
      const size = grp.f32 ? 4 : 8;
      const n = grp.n - half;
      for (let at = 0; at < n; at += CHUNK, chunk++) {
        if (chunk < done || (chunk === done && mid)) continue;
        const len = Math.min(CHUNK, n - at);
        const off = (half + at) * size;
        grp.fns[fn]!(
          grp.g + off,
          grp.m + off,
          grp.v + off,
          grp.p + off,
          len,
          rectify,
          grp.f32 ? F32_SCALARS : 0,
        );
      }
    }
    return !mid;
  }

  /** Stops using the worker for good, records why, and says so once per process. */
  private giveUpWorker(why: string): void {
    this.worker = undefined;
    this.threadFailure = `the second kernel thread was given up: ${why}; steps now run on one thread`;
    warnOnce(`optax-ts: ${this.threadFailure} (same results, slower).`);
  }

  /**
   * Tests only: makes the worker fail on the next step (see `KernelWorker.injectFault`).
   * @internal
   */
  injectWorkerFault(code: number): void {
    this.worker?.injectFault(code);
  }

  /** One fused RAdam step over every leaf (one kernel call per dtype). */
  radamStep(k: KernelScalars): void {
    const kernels = this.kernels;
    if (kernels !== undefined) {
      const sc = this.scalars;
      sc[0] = k.a1;
      sc[1] = k.b1;
      sc[2] = k.a2;
      sc[3] = k.b2;
      sc[4] = k.bc1;
      sc[5] = k.bc1Next;
      sc[6] = k.bc2;
      sc[7] = k.r;
      sc[8] = k.epsRoot;
      sc[9] = k.eps;
      sc[10] = k.wd;
      sc[11] = k.s;
      // Storing into a Float32Array rounds each to float32, as the float32 LeafOps do. (An
      // element loop: \`set\` from a view of the same buffer would copy the source first.)
      const sc32 = this.scalars32;
      for (let j = 0; j < sc32.length; j++) sc32[j] = sc[j]!;
    }
    const fn = (k.nesterov ? 2 : 0) + (k.decay ? 1 : 0);
    const rectify = k.rectify ? 1 : 0;
    const worker = this.worker;
    if (kernels !== undefined && worker?.ready) {
      // The worker steps the upper half of every region while this thread steps the lower half.
      const groups = this.groups;
      for (const grp of groups) {
        const half = (grp.n >> 1) & ~3;
        const off = half * (grp.f32 ? 4 : 8);
        worker.add(
          grp.first + fn,
          grp.g + off,
          grp.m + off,
          grp.v + off,
          grp.p + off,
          grp.n - half,
          rectify,
          grp.f32 ? F32_SCALARS : 0,
        );
      }
      worker.run();
      for (const grp of groups) {
        const half = (grp.n >> 1) & ~3;
        grp.fns[fn]!(grp.g, grp.m, grp.v, grp.p, half, rectify, grp.f32 ? F32_SCALARS : 0);
      }
      if (worker.join()) {
        this.lastThreads = 2;
        return;
      }
      const exact = this.finishForWorker(worker, fn, rectify);
      this.lastThreads = 1;
      if (exact) {
        this.giveUpWorker(
          'it died or stopped answering during a step, which was completed on the calling thread',
        );
        return;
      }
      this.giveUpWorker('it died in the middle of writing a chunk of a step');
      throw new KernelThreadError(
        'Optimizer.step: the second kernel thread died in the middle of writing a chunk of this step (at most 16,384 elements of the params and moments may be half-updated; every other element was stepped exactly once on this thread). Restore the optimizer from a checkpoint; later steps run on one thread',
      );
    }
    if (worker?.failed) this.giveUpWorker('it exited between steps');
    this.lastThreads = 1;
    for (const grp of this.groups) {
      if (kernels !== undefined) {
        grp.fns[fn]!(grp.g, grp.m, grp.v, grp.p, grp.n, rectify, grp.f32 ? F32_SCALARS : 0);
      } else if (grp.f32) {
        const a = grp.all as { g: Float32Array; m: Float32Array; v: Float32Array; p: Float32Array };
        radamStepF32(a.g, a.m, a.v, a.p, 0, grp.n, k);
      } else {
        const a = grp.all as { g: Float64Array; m: Float64Array; v: Float64Array; p: Float64Array };
        radamStepF64(a.g, a.m, a.v, a.p, 0, grp.n, k);
      }
    }
  }
}
