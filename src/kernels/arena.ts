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
import { JsChain, type KernelOp } from './program.js';
import { BLOCK, PROGRAM } from './program-layout.js';
import {
  CHUNK,
  CONTROL_SLOTS,
  KernelThreadError,
  KernelWorker,
  threadsAvailable,
} from './threads.js';
import { instantiateKernels, kernelIndex, type WasmRun } from './wasm.js';

/** A chain's kernel calls and, per array of the chain, the arena slot it reads (0: gradients). */
export interface ProgramSpec {
  readonly ops: readonly KernelOp[];
  readonly slotOf: readonly number[];
}

/** Where one dtype's leaves live: byte offsets of the regions and the padded length. */
interface Group {
  f32: boolean;
  /** Padded element count of each region. */
  n: number;
  /** Byte offset of the params region, and of each slot's region (slot 0: gradients). */
  p: number;
  slots: number[];
  /** Views of whole regions (for the JavaScript kernels). */
  pAll: ArrayLeaf;
  slotsAll: ArrayLeaf[];
  /** Per program variant: the byte offset of its program (WebAssembly) or its JavaScript chain. */
  progs: number[];
  js: JsChain[];
  /** Per program variant, per op: the op's scalars in the arena (float32 for float32 leaves). */
  scalars: (Float32Array | Float64Array)[][];
}

/** How many threads step an arena: `'auto'` uses 2 from {@link THREAD_THRESHOLD} elements. */
export type ArenaThreads = 'auto' | 1 | 2;

/** With `threads: 'auto'`, arenas of at least this many elements are stepped by two threads. */
export const THREAD_THRESHOLD = 1 << 18;

const pad4 = (n: number) => (n + 3) & ~3;
/** The most scalars one kernel call reads. */
const MAX_OP_SCALARS = 16;

interface Layout {
  layout: { f32: boolean; index: number[]; offset: number[]; n: number }[];
  /** Bytes before the regions: the control block, programs, scalars and two block buffers. */
  header: number;
  bytes: number;
}

/** The header's size for `specs` over `groups` dtypes. */
function headerBytes(specs: readonly ProgramSpec[], groups: number): number {
  let words = CONTROL_SLOTS;
  let scalars = 0;
  for (const s of specs) {
    words += groups * (PROGRAM.HEADER + s.ops.length * PROGRAM.OP_WORDS);
    scalars += groups * s.ops.length * MAX_OP_SCALARS * 8;
  }
  const round = (x: number) => (x + 63) & ~63;
  return round(4 * words) + round(scalars) + 2 * BLOCK * 8;
}

/** Where each leaf goes: float64 leaves first, then float32, each padded to 4 elements. */
function arenaLayout(
  leaves: readonly ArrayLeaf[],
  slots: number,
  specs: readonly ProgramSpec[],
): Layout {
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
  const header = headerBytes(specs, 2);
  let bytes = header;
  for (const l of layout) bytes += (1 + slots) * l.n * (l.f32 ? 4 : 8);
  return { layout, header, bytes };
}

/**
 * The bytes of one WebAssembly memory that an arena for `leaves` with `slots` arrays per leaf
 * besides the params (the gradients and the state arrays) and the kernel programs `specs` needs.
 */
export function arenaBytes(
  leaves: readonly ArrayLeaf[],
  slots: number,
  specs: readonly ProgramSpec[],
): number {
  return arenaLayout(leaves, slots, specs).bytes;
}

export class Arena {
  /** Per leaf (in `treeLeaves` order), views into the arena. */
  readonly params: ArrayLeaf[] = [];
  /** Per slot (0: the gradients, then the state arrays), per leaf, views into the arena. */
  readonly slots: ArrayLeaf[][] = [];
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
  private readonly run: WasmRun | undefined;
  /** The block buffers of this thread and of the worker. */
  private readonly scratch: number;
  private readonly workerScratch: number;

  /**
   * Lays out `leaves` (copying their values into the params views) with `slots` zeroed regions
   * per leaf (slot 0 for the gradients, then the state arrays), and the programs `specs` (the
   * variants of a fused chain; none for an arena that is never stepped). `wasm: false` forces an
   * `ArrayBuffer` stepped by the JavaScript kernels. `threads`: 2 starts a worker where workers
   * and shared WebAssembly memory exist; `'auto'` does so from {@link THREAD_THRESHOLD} elements on
   * machines with at least 2 CPUs; 1 never does.
   */
  constructor(
    leaves: readonly ArrayLeaf[],
    slots: number,
    readonly specs: readonly ProgramSpec[],
    wasm: boolean,
    threads: ArenaThreads = 1,
  ) {
    const { layout, header, bytes } = arenaLayout(leaves, slots, specs);
    let elements = 0;
    for (const l of layout) elements += l.n;
    const stepped = specs.length > 0;
    const twoThreads =
      wasm &&
      stepped &&
      (threads === 2
        ? threadsAvailable(1)
        : threads === 'auto' && elements >= THREAD_THRESHOLD && threadsAvailable(2));
    this.bytes = bytes;
    const shared = twoThreads ? instantiateKernels(bytes, true) : undefined;
    const inst = shared ?? (wasm ? instantiateKernels(bytes) : undefined);
    this.worker = shared ? KernelWorker.start(this, shared.module, shared.memory, 0) : undefined;
    this.run = inst?.run;
    this.kernel = inst ? 'wasm' : 'js';
    const buffer: ArrayBuffer = inst ? inst.memory.buffer : new ArrayBuffer(Math.max(bytes, 8));
    this.scratch = header - 2 * BLOCK * 8;
    this.workerScratch = header - BLOCK * 8;
    for (let k = 0; k < slots; k++) this.slots.push([]);
    // Programs and scalars, after the control block.
    let word = CONTROL_SLOTS;
    let totalWords = CONTROL_SLOTS;
    for (const spec of specs)
      totalWords += 2 * (PROGRAM.HEADER + spec.ops.length * PROGRAM.OP_WORDS);
    let scalarAt = (4 * totalWords + 63) & ~63;
    let at = header;
    const words = new Int32Array(buffer, 0, header >> 2);
    for (const l of layout) {
      const size = l.f32 ? 4 : 8;
      const Ctor = l.f32 ? Float32Array : Float64Array;
      const region = () => {
        const start = at;
        at += l.n * size;
        return start;
      };
      const p = region();
      const slotAt = this.slots.map(() => region());
      const grp: Group = {
        f32: l.f32,
        n: l.n,
        p,
        slots: slotAt,
        pAll: new Ctor(buffer, p, l.n),
        slotsAll: slotAt.map((o) => new Ctor(buffer, o, l.n)),
        progs: [],
        js: [],
        scalars: [],
      };
      for (const spec of specs) {
        if (this.run !== undefined) {
          const prog = 4 * word;
          words[word + PROGRAM.SHIFT] = l.f32 ? 2 : 3;
          words[word + PROGRAM.N_OPS] = spec.ops.length;
          const scs: (Float32Array | Float64Array)[] = [];
          spec.ops.forEach((op, k) => {
            const w = word + PROGRAM.HEADER + k * PROGRAM.OP_WORDS;
            words[w + PROGRAM.FN] = kernelIndex(op.name, l.f32);
            words[w + PROGRAM.P] = p;
            op.arrays.forEach((ai, j) => {
              words[w + PROGRAM.A0 + j] = slotAt[spec.slotOf[ai]!]!;
            });
            words[w + PROGRAM.SC] = scalarAt;
            scs.push(new Ctor(buffer, scalarAt, op.scalars.length));
            scalarAt += MAX_OP_SCALARS * 8;
          });
          word += PROGRAM.HEADER + spec.ops.length * PROGRAM.OP_WORDS;
          grp.progs.push(prog);
          grp.scalars.push(scs);
        } else grp.js.push(new JsChain(spec.ops, l.f32));
      }
      this.groups.push(grp);
      l.index.forEach((leafIndex, j) => {
        const len = leaves[leafIndex]!.length;
        const off = l.offset[j]! * size;
        const pv = new Ctor(buffer, p + off, len);
        pv.set(leaves[leafIndex]!);
        this.params[leafIndex] = pv;
        slotAt.forEach((o, k) => {
          this.slots[k]![leafIndex] = new Ctor(buffer, o + off, len);
        });
      });
    }
  }

  /** Per leaf, views of the gradients region. */
  get grads(): ArrayLeaf[] {
    return this.slots[0] ?? [];
  }

  /**
   * Completes the worker's share of the step it abandoned: the chunks it had not started, in its
   * order, each stepped exactly once, so that the bits are those of an uninterrupted step. Returns
   * false when the worker died in the middle of a chunk (`midChunk`): that chunk's elements may
   * be half-written and are left as they are (the others are completed).
   */
  private finishForWorker(worker: KernelWorker, variant: number): boolean {
    const done = worker.progress;
    const mid = worker.midChunk;
    const run = this.run!;
    let chunk = 0;
    for (const grp of this.groups) {
      const half = (grp.n >> 1) & ~3;
      for (let at = half; at < grp.n; at += CHUNK, chunk++) {
        if (chunk < done || (chunk === done && mid)) continue;
        run(grp.progs[variant]!, at, Math.min(grp.n, at + CHUNK), this.scratch);
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

  /** Writes the scalars of program `variant` (float64s, and rounded to float32 for float32 leaves). */
  private setScalars(variant: number, scalars: Float64Array): void {
    const ops = this.specs[variant]!.ops;
    for (const grp of this.groups) {
      if (this.run === undefined) {
        grp.js[variant]!.setScalars(scalars);
        continue;
      }
      const views = grp.scalars[variant]!;
      for (let k = 0; k < ops.length; k++) {
        const idx = ops[k]!.scalars;
        // Storing into a Float32Array rounds each to float32, as the float32 LeafOps do.
        const out = views[k]!;
        for (let j = 0; j < idx.length; j++) out[j] = scalars[idx[j]!]!;
      }
    }
  }

  /**
   * One fused step of program `variant` with `scalars` (the chain's, in `chainLayout` order) over
   * every leaf, or over the first `limit` elements of each dtype's regions.
   */
  step(variant: number, scalars: Float64Array, limit = Number.POSITIVE_INFINITY): void {
    this.setScalars(variant, scalars);
    const run = this.run;
    const worker = this.worker;
    if (run !== undefined && worker?.ready && limit === Number.POSITIVE_INFINITY) {
      // The worker steps the upper half of every region while this thread steps the lower half.
      const groups = this.groups;
      for (const grp of groups) {
        const half = (grp.n >> 1) & ~3;
        worker.add(grp.progs[variant]!, half, grp.n, this.workerScratch);
      }
      worker.run();
      for (const grp of groups) run(grp.progs[variant]!, 0, (grp.n >> 1) & ~3, this.scratch);
      if (worker.join()) {
        this.lastThreads = 2;
        return;
      }
      const exact = this.finishForWorker(worker, variant);
      this.lastThreads = 1;
      if (exact) {
        this.giveUpWorker(
          'it died or stopped answering during a step, which was completed on the calling thread',
        );
        return;
      }
      this.giveUpWorker('it died in the middle of writing a chunk of a step');
      throw new KernelThreadError(
        'Optimizer.step: the second kernel thread died in the middle of writing a chunk of this step (at most 16,384 elements of the params and state may be half-updated; every other element was stepped exactly once on this thread). Restore the optimizer from a checkpoint; later steps run on one thread',
      );
    }
    if (worker?.failed) this.giveUpWorker('it exited between steps');
    this.lastThreads = 1;
    for (const grp of this.groups) {
      const n = Math.min(grp.n, limit);
      if (run !== undefined) run(grp.progs[variant]!, 0, n, this.scratch);
      else grp.js[variant]!.run(grp.pAll as Float32Array, grp.slotsAll as Float32Array[], n);
    }
  }
}
