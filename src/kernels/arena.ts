/**
 * An arena: one contiguous block holding the params, gradients and state arrays (the fused chain's
 * *slots*, for example RAdam's two moments) of every leaf, handed out as
 * `Float32Array`/`Float64Array` views, with the kernel programs of the chain's variants
 * (`program-layout.ts`). Leaves of one dtype sit back to back, each padded to a multiple of 4
 * elements with zeros (which the kernels map to zeros), so one `run` call steps every leaf of that
 * dtype. The block is WebAssembly memory when the SIMD kernels load, otherwise an `ArrayBuffer`
 * stepped by the JavaScript kernels. The memory never grows, so views stay valid for the arena's
 * lifetime.
 *
 * A large arena (or one asked for 2 threads) is shared WebAssembly memory (its views are over a
 * `SharedArrayBuffer`) stepped by two threads: this one and a worker (`threads.ts`) each run the
 * program on half of every region. The step is elementwise, so the bits are the same.
 *
 * An arena *with windows* keeps only the state: the params and gradients stay the caller's, and
 * each step copies them chunk by chunk through ring windows (`window.ts`) while the worker steps
 * most of each chunk ({@link Arena.stepWindowed}).
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
  RING,
  threadsAvailable,
} from './threads.js';
import { instantiateKernels, type WasmRun, writeProgram } from './wasm.js';
import { WindowPlan, windowOf } from './window.js';

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
  /**
   * Per program variant: the byte offset of its program (WebAssembly), or with windows one per
   * ring slot (`progs[variant * RING + slot]`); or its JavaScript chain.
   */
  progs: number[];
  /** With windows: per program variant, the word indices of the params and gradients pointers. */
  pWords: number[][];
  gWords: number[][];
  /** With windows: per ring slot, byte offsets and views of the params and gradients windows. */
  winP: number[];
  winG: number[];
  winPView: ArrayLeaf[];
  winGView: ArrayLeaf[];
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

/** Program copies per variant and dtype: one per ring slot with windows, else one. */
const copies = (windowed: boolean) => (windowed ? RING : 1);

/** The words of the programs of `specs` over two dtypes. */
function programWords(specs: readonly ProgramSpec[], windowed: boolean): number {
  let words = 0;
  for (const s of specs)
    words += copies(windowed) * 2 * (PROGRAM.HEADER + s.ops.length * PROGRAM.OP_WORDS);
  return words;
}

/** The header's size for `specs` over `groups` dtypes. */
function headerBytes(specs: readonly ProgramSpec[], groups: number, windowed: boolean): number {
  const words = CONTROL_SLOTS + programWords(specs, windowed);
  let scalars = 0;
  for (const s of specs) scalars += groups * s.ops.length * MAX_OP_SCALARS * 8;
  const round = (x: number) => (x + 63) & ~63;
  return round(4 * words) + round(scalars) + 2 * BLOCK * 8;
}

/** Where each leaf goes: float64 leaves first, then float32, each padded to 4 elements. */
function arenaLayout(
  leaves: readonly ArrayLeaf[],
  slots: number,
  specs: readonly ProgramSpec[],
  windowed: boolean,
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
  const header = headerBytes(specs, 2, windowed);
  let bytes = header;
  for (const l of layout) {
    const size = l.f32 ? 4 : 8;
    // With windows: the state slots in full, the params and gradients in ring windows.
    bytes += windowed
      ? (slots - 1) * l.n * size + 2 * RING * windowOf(l.n) * size
      : (1 + slots) * l.n * size;
  }
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
  windowed = false,
): number {
  return arenaLayout(leaves, slots, specs, windowed).bytes;
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
  private readonly words: Int32Array;
  private readonly window: WindowPlan | undefined;
  /**
   * With windows and a worker: the share of each chunk the worker steps, adapted each step. It
   * starts high: this thread also copies every chunk in and out, which on the development machine
   * takes longer than the worker's whole part (it settles at 0.95 there).
   */
  private share = 0.8;
  /** Per ring slot: the end of the worker's part of the chunk in it, and the chunk's program. */
  private readonly mids = new Int32Array(RING);
  private readonly ringProgs = new Int32Array(RING);
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
    /**
     * The params and gradients stay the caller's: the arena holds the state slots (1 and up) and
     * ring windows through which each step copies the params and gradients (WebAssembly only).
     */
    readonly windowed = false,
  ) {
    const { layout, header, bytes } = arenaLayout(leaves, slots, specs, windowed);
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
    if (windowed && inst === undefined)
      throw new Error('an arena with windows needs the WebAssembly kernels');
    this.worker = shared ? KernelWorker.start(this, shared.module, shared.memory, 0) : undefined;
    this.run = inst?.run;
    this.kernel = inst ? 'wasm' : 'js';
    const buffer: ArrayBuffer = inst ? inst.memory.buffer : new ArrayBuffer(Math.max(bytes, 8));
    this.scratch = header - 2 * BLOCK * 8;
    this.workerScratch = header - BLOCK * 8;
    for (let k = 0; k < slots; k++) this.slots.push([]);
    // Programs and scalars, after the control block.
    let word = CONTROL_SLOTS;
    let scalarAt = (4 * (CONTROL_SLOTS + programWords(specs, windowed)) + 63) & ~63;
    let at = header;
    const words = new Int32Array(buffer, 0, header >> 2);
    this.words = words;
    for (const l of layout) {
      const size = l.f32 ? 4 : 8;
      const Ctor = l.f32 ? Float32Array : Float64Array;
      const region = (n: number) => {
        const start = at;
        at += n * size;
        return start;
      };
      const p = windowed ? -1 : region(l.n);
      const slotAt = this.slots.map((_, k) => (windowed && k === 0 ? -1 : region(l.n)));
      const winP: number[] = [];
      const winG: number[] = [];
      if (windowed)
        for (let r = 0; r < RING; r++) {
          winP.push(region(windowOf(l.n)));
          winG.push(region(windowOf(l.n)));
        }
      const view = (o: number, n: number) => (o < 0 ? new Ctor(0) : new Ctor(buffer, o, n));
      const grp: Group = {
        f32: l.f32,
        n: l.n,
        p,
        slots: slotAt,
        pAll: view(p, l.n),
        slotsAll: slotAt.map((o) => view(o, l.n)),
        progs: [],
        js: [],
        scalars: [],
        pWords: [],
        gWords: [],
        winP,
        winG,
        winPView: winP.map((o) => view(o, windowOf(l.n))),
        winGView: winG.map((o) => view(o, windowOf(l.n))),
      };
      for (const spec of specs) {
        if (this.run === undefined) {
          grp.js.push(new JsChain(spec.ops, l.f32));
          continue;
        }
        const scs: (Float32Array | Float64Array)[] = [];
        const pw: number[] = [];
        const gw: number[] = [];
        const scalarsOf = (k: number) => scalarAt + k * MAX_OP_SCALARS * 8;
        for (let copy = 0; copy < copies(windowed); copy++) {
          grp.progs.push(4 * word);
          word += writeProgram(
            words,
            word,
            spec.ops,
            l.f32,
            p,
            (i) => slotAt[spec.slotOf[i]!]!,
            scalarsOf,
          );
        }
        // Where each program holds the params' and the gradients' pointers (rewritten per chunk
        // with windows), and the views of each call's scalars.
        spec.ops.forEach((op, k) => {
          const w = PROGRAM.HEADER + k * PROGRAM.OP_WORDS;
          pw.push(w + PROGRAM.P);
          op.arrays.forEach((i, j) => {
            if (spec.slotOf[i] === 0) gw.push(w + PROGRAM.A0 + j);
          });
          scs.push(new Ctor(buffer, scalarsOf(k), op.scalars.length));
        });
        scalarAt += spec.ops.length * MAX_OP_SCALARS * 8;
        grp.scalars.push(scs);
        grp.pWords.push(pw);
        grp.gWords.push(gw);
      }
      this.groups.push(grp);
      l.index.forEach((leafIndex, j) => {
        const len = leaves[leafIndex]!.length;
        const off = l.offset[j]! * size;
        if (!windowed) {
          const pv = new Ctor(buffer, p + off, len);
          pv.set(leaves[leafIndex]!);
          this.params[leafIndex] = pv;
        }
        slotAt.forEach((o, k) => {
          if (o >= 0) this.slots[k]![leafIndex] = new Ctor(buffer, o + off, len);
        });
      });
    }
    this.window = windowed ? new WindowPlan(layout, leaves, this.groups) : undefined;
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

  /** Writes the scalars of program `variant` (float64s; rounded to float32 for float32 leaves). */
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

  /**
   * Copies chunk `c` into its ring slot and writes its program; with a `worker`, hands it the
   * first `share` of the chunk.
   */
  private publish(
    variant: number,
    c: number,
    worker: KernelWorker | undefined,
    share: number,
  ): void {
    const plan = this.window!;
    plan.copyIn(c);
    const prog = this.chunkProgram(variant, c);
    const start = plan.chunkStart[c]!;
    const end = plan.chunkEnd[c]!;
    const mid = worker
      ? Math.min(end, start + ((Math.round((end - start) * share) + 3) & ~3))
      : start;
    this.mids[c % RING] = mid;
    this.ringProgs[c % RING] = prog;
    if (worker) worker.publish(c, prog, start, mid);
  }

  /** Writes chunk `c`'s program (its ring slot's copy): the params and gradients in the windows. */
  private chunkProgram(variant: number, c: number): number {
    const plan = this.window!;
    const grp = this.groups[plan.chunkGroup[c]!]!;
    const slot = c % RING;
    const prog = grp.progs[variant * RING + slot]!;
    const base = prog >> 2;
    // Element i of the region is element i - start of the window: the driver adds i * size to
    // these (wrapping) offsets.
    const shift = grp.f32 ? 4 : 8;
    const start = plan.chunkStart[c]!;
    const pBase = (grp.winP[slot]! - start * shift) | 0;
    const gBase = (grp.winG[slot]! - start * shift) | 0;
    const words = this.words;
    for (const w of grp.pWords[variant]!) words[base + w] = pBase;
    for (const w of grp.gWords[variant]!) words[base + w] = gBase;
    return prog;
  }

  /**
   * One step of an arena with windows over the caller's `grads` and `params` (this arena's leaves,
   * in its order): chunk by chunk, this thread copies the chunk into its ring slot, the worker
   * (when there is one) steps the first part of each chunk while this thread steps the rest, and
   * this thread copies the params back once both are done. Two chunks are published ahead, so the
   * worker seldom waits.
   */
  stepWindowed(
    variant: number,
    scalars: Float64Array,
    grads: readonly ArrayLeaf[],
    params: readonly ArrayLeaf[],
  ): void {
    this.setScalars(variant, scalars);
    const plan = this.window!;
    plan.refresh(grads, params);
    const run = this.run!;
    const chunks = plan.chunks;
    let worker = this.worker?.ready ? this.worker : undefined;
    if (!worker && this.worker?.failed) this.giveUpWorker('it exited between steps');
    const share = this.share;
    const mids = this.mids;
    if (worker) worker.startStream(chunks, this.workerScratch);
    let lost = false;
    let mainWaits = 0;
    let steals = 0;
    let finished = false;
    try {
      for (let c = 0; c < Math.min(2, chunks); c++) this.publish(variant, c, worker, share);
      for (let c = 0; c < chunks; c++) {
        run(this.ringProgs[c % RING]!, mids[c % RING]!, plan.chunkEnd[c]!, this.scratch);
        if (worker && worker.streamDone <= c && worker.steal(c)) {
          // The worker has not started its part of this chunk (it is late, descheduled on a busy
          // machine): step it here rather than wait for it.
          run(this.ringProgs[c % RING]!, plan.chunkStart[c]!, mids[c % RING]!, this.scratch);
          steals++;
        } else if (worker) {
          if (worker.streamDone <= c) mainWaits++;
          if (!worker.waitChunk(c)) {
            // The worker died or hung: step its parts of the chunks it had not done (all but one
            // it may have half-written), and go on alone.
            const done = worker.streamDone;
            const mid = worker.midChunk;
            this.giveUpWorker(
              mid
                ? 'it died in the middle of writing a chunk of a step'
                : 'it died or stopped answering during a step, which was completed on the calling thread',
            );
            worker = undefined;
            for (let k = done; k < Math.min(chunks, c + 2); k++) {
              if (k === done && mid) {
                lost = true;
                continue;
              }
              run(this.ringProgs[k % RING]!, plan.chunkStart[k]!, mids[k % RING]!, this.scratch);
            }
          }
        }
        plan.copyOut(c);
        if (c + 2 < chunks) this.publish(variant, c + 2, worker, share);
      }
      finished = true;
    } finally {
      // (Nothing above throws; if it ever did, the worker must not spin on.)
      if (!finished && worker) worker.endStream(true);
    }
    if (worker) {
      if (!worker.endStream(false)) this.giveUpWorker('it stopped answering after a step');
      else {
        // Balance the next step: the side that waited takes more of each chunk.
        const workerWaited = worker.streamWaits > 1000;
        const late = mainWaits + steals;
        if (late > chunks / 8 && !workerWaited) this.share = Math.max(0.05, share - 0.03);
        else if (workerWaited && late < chunks / 8) this.share = Math.min(0.95, share + 0.03);
      }
    }
    this.lastThreads = worker ? 2 : 1;
    if (lost)
      throw new KernelThreadError(
        'Optimizer.step: the second kernel thread died in the middle of writing a chunk of this step (at most 16,384 elements of the params and state may be half-updated; every other element was stepped exactly once on this thread). Restore the optimizer from a checkpoint; later steps run on one thread',
      );
  }
}
