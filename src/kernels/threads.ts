/**
 * A second thread for an arena's fused step: a Node `worker_threads` worker, or a Web Worker in a
 * cross-origin isolated page, that runs the same WebAssembly kernels on the same shared memory.
 * The step is elementwise, so splitting the elements between two threads gives exactly the bits of
 * one thread.
 *
 * Handshake through an `Int32Array` control block in the shared memory (no messages per step):
 * the main thread writes the job (up to 2 calls of the kernels' `run`), bumps `JOB` and wakes the
 * worker; the worker runs the calls, copies `JOB` into `DONE` and wakes the main thread, which
 * meanwhile ran its own half and waits for `DONE` to reach the job's number (`Atomics.wait`, or a
 * busy wait on a browser's main thread, which may not block). A *stream job* instead hands the
 * worker window chunks one by one as the main thread copies them in (`startStream`, `publish`,
 * `waitChunk`). Until the worker has started (it sets `READY`), the main thread runs every element
 * itself.
 *
 * Available in Node (through `process.getBuiltinModule`, so that no Node module is imported
 * elsewhere) and in cross-origin isolated pages (`crossOriginIsolated`, which shared WebAssembly
 * memory needs); callers fall back to one thread otherwise.
 */
import type { WasmMemory } from './wasm.js';

/** Int32 slots of the control block. */
const JOB = 0;
const DONE = 1;
const READY = 2;
const FAILED = 3;
const COUNT = 4;
/** Chunks of the current job the worker has finished (all calls, in order). */
const PROGRESS = 5;
/** 1 while the worker is stepping a chunk (it may have written part of it), else 0. */
const PHASE = 6;
/** Tests only: makes the worker die (see {@link KernelWorker.injectFault}). */
const FAULT = 7;
/** Each call: program, start, end, block buffer (4 slots), from slot `CALLS`. */
const CALLS = 8;
const CALL_SLOTS = 4;
/** 0: a job of calls; 1: a stream job (see {@link KernelWorker.startStream}). */
const MODE = CALLS + 2 * CALL_SLOTS;
/**
 * Stream jobs: the number of chunks, how many the main thread has published, and how many the
 * worker has done.
 */
const CHUNKS = MODE + 1;
const PUBLISHED = MODE + 2;
const WDONE = MODE + 3;
/** Stream jobs: 1 when the main thread gave the job up (the worker stops at once). */
const ABORT = MODE + 4;
/** Stream jobs: how long the worker waited for chunks to be published (spin iterations). */
const WSPINS = MODE + 5;
/** Stream jobs: per ring slot, the chunk's program, start and the end of the worker's part. */
const DESC = MODE + 6;
/** Chunks a stream job may have published and not yet finished (the ring's size). */
export const RING = 3;
/**
 * Stream jobs: how many chunks' worker parts have been claimed, in order, by the worker (which
 * then steps them) or by the main thread (which steals a part the worker has not started, when the
 * worker is late: descheduled on a busy machine). A compare-and-swap from `c` to `c + 1` claims
 * chunk `c`, so each part is stepped exactly once.
 */
const CLAIMED = DESC + 3 * RING;
/** Int32 slots in the control block. */
export const CONTROL_SLOTS = CLAIMED + 1;

/**
 * Elements per chunk of the worker's share. The worker counts the chunks it has finished, so that
 * if it dies between two of them the calling thread can step the rest exactly once. (A chunk it
 * dies in the middle of cannot be completed exactly: backing each chunk up first would make that
 * possible, but measured 65% slower two-thread steps.)
 */
export const CHUNK = 16384;
/** How long the worker may go without finishing a chunk before it is taken for dead. */
export const STALL_MS = 1000;
const WAIT_SLICE_MS = 100;
/** Stream jobs: spins before {@link KernelWorker.waitChunk} starts waiting in slices. */
const SPIN_FIRST = 1 << 16;
const CHUNK_SLICE_MS = 1;

/**
 * Thrown by a step when the second kernel thread died in the middle of writing its share: the one
 * chunk it was writing may be half-updated (see `Optimizer.threadFailure`).
 *
 * @example
 * ```ts
 * new KernelThreadError('the second kernel thread died').name; // 'KernelThreadError'
 * ```
 */
export class KernelThreadError extends Error {
  /** `'KernelThreadError'`. */
  override name = 'KernelThreadError';
}

/** A started worker, in Node or in a browser. */
interface HostWorker {
  terminate(): unknown;
}

/** What starts workers here: Node's `worker_threads`, or a cross-origin isolated browser's Web Workers. */
interface ThreadHost {
  cpus: number;
  /**
   * Whether this thread may block in `Atomics.wait` (not a browser's main thread, which must spin
   * while it waits for the worker).
   */
  canBlock: boolean;
  /** Starts a worker with `data`; `onExit` is called if it fails or ends. */
  spawn(data: unknown, onExit: () => void): HostWorker;
}

interface NodeWorker extends HostWorker {
  unref(): void;
  on(event: 'error' | 'exit', fn: (e: unknown) => void): void;
}
interface WorkerThreads {
  Worker: new (
    code: string,
    options: { eval: true; workerData: unknown; stdout?: boolean; stderr?: boolean },
  ) => NodeWorker;
}

/** `node:worker_threads` and the CPU count, when this is Node with `process.getBuiltinModule`. */
function nodeHost(): ThreadHost | undefined {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const get = proc?.getBuiltinModule;
  if (typeof get !== 'function') return undefined;
  try {
    const threads = get.call(proc, 'node:worker_threads') as WorkerThreads | undefined;
    const os = get.call(proc, 'node:os') as
      | { availableParallelism?: () => number; cpus: () => unknown[] }
      | undefined;
    if (!threads?.Worker || !os) return undefined;
    const cpus = os.availableParallelism ? os.availableParallelism() : os.cpus().length;
    return {
      cpus,
      canBlock: true,
      spawn(data, onExit) {
        const worker = new threads.Worker(workerSource('node'), { eval: true, workerData: data });
        worker.unref();
        worker.on('error', onExit);
        worker.on('exit', onExit);
        return worker;
      },
    };
  } catch {
    return undefined;
  }
}

interface WebWorker extends HostWorker {
  postMessage(data: unknown): void;
  addEventListener(type: 'error', fn: () => void): void;
}
interface WebGlobals {
  Worker?: new (url: string) => WebWorker;
  Blob?: new (parts: string[], options: { type: string }) => object;
  URL?: { createObjectURL(blob: object): string };
  crossOriginIsolated?: boolean;
  navigator?: { hardwareConcurrency?: number };
}

/** Web Workers, where the page is cross-origin isolated (shared WebAssembly memory needs it). */
function webHost(): ThreadHost | undefined {
  const g = globalThis as WebGlobals;
  if (typeof g.Worker !== 'function' || g.crossOriginIsolated !== true || !g.Blob || !g.URL)
    return undefined;
  const Worker = g.Worker;
  const url = g.URL.createObjectURL(new g.Blob([workerSource('web')], { type: 'text/javascript' }));
  return {
    cpus: g.navigator?.hardwareConcurrency ?? 1,
    canBlock: mayBlock(),
    spawn(data, onExit) {
      const worker = new Worker(url);
      worker.addEventListener('error', onExit);
      worker.postMessage(data);
      return worker;
    },
  };
}

/** Whether `Atomics.wait` is allowed on this thread (a browser's main thread refuses it). */
function mayBlock(): boolean {
  try {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 1, 0);
    return true;
  } catch {
    return false;
  }
}

let host: ThreadHost | null | undefined;
/** The thread host of this runtime, or `undefined` (then every step runs on one thread). */
function threadHost(): ThreadHost | undefined {
  if (host === undefined) host = nodeHost() ?? webHost() ?? null;
  return host ?? undefined;
}

/**
 * The worker's program, for Node (CommonJS, evaluated by `new Worker(code, { eval: true })`,
 * given its data as `workerData`) or for the web (a module-less script given its data by the first
 * message). For each call of a job it steps the call's elements chunk by chunk: copy the chunk's
 * set PHASE, run the kernel on the chunk in place, clear PHASE and
 * count the chunk in PROGRESS. The element size comes from the kernel index (float32 kernels first,
 * 4 of them).
 */
function workerSource(kind: 'node' | 'web'): string {
  const start =
    kind === 'node'
      ? "main(require('node:worker_threads').workerData);"
      : 'self.onmessage = (e) => main(e.data);';
  const die =
    kind === 'node'
      ? 'const die = () => process.exit(1);'
      : "const die = () => { close(); throw new Error('optax-ts kernel thread: injected fault'); };";
  return `
${die}
function main({ module, memory, control }) {
const ctl = new Int32Array(memory.buffer, control, ${CONTROL_SLOTS});
let run;
try {
  run = new WebAssembly.Instance(module, { env: { memory } }).exports.run;
  Atomics.store(ctl, ${READY}, 1);
} catch (e) {
  Atomics.store(ctl, ${FAILED}, 1);
  throw e;
}
// Jobs are numbered from 1; the main thread gives none before READY, so start from 0.
let seen = 0;
for (;;) {
  Atomics.wait(ctl, ${JOB}, seen);
  seen = Atomics.load(ctl, ${JOB});
  const fault = ctl[${FAULT}];
  if (fault === -1) die();
  if (fault === -2) Atomics.wait(ctl, ${FAULT}, -2);
  try {
    if (ctl[${MODE}] === 1) {
      // A stream job: the chunks are published one by one; spin (they come within microseconds).
      const chunks = ctl[${CHUNKS}], scratch = ctl[${CALLS} + 3];
      let spins = 0;
      for (let c = 0; c < chunks; c++) {
        while (Atomics.load(ctl, ${PUBLISHED}) <= c && ctl[${ABORT}] === 0) spins++;
        if (ctl[${ABORT}] !== 0) break;
        // The main thread stole this chunk's part while this thread was late: skip it.
        if (Atomics.compareExchange(ctl, ${CLAIMED}, c, c + 1) !== c) {
          Atomics.store(ctl, ${WDONE}, c + 1);
          continue;
        }
        const d = ${DESC} + 3 * (c % ${RING});
        const prog = ctl[d], start = ctl[d + 1], mid = ctl[d + 2];
        Atomics.store(ctl, ${PHASE}, 1);
        if (fault === c + 1) {
          run(prog, start, start + ((mid - start) >> 1), scratch);
          die();
        }
        if (mid > start) run(prog, start, mid, scratch);
        Atomics.store(ctl, ${PHASE}, 0);
        Atomics.store(ctl, ${WDONE}, c + 1);
        Atomics.notify(ctl, ${WDONE});
        if (fault === -10 - c) die();
      }
      ctl[${WSPINS}] = spins;
    }
    const count = ctl[${MODE}] === 1 ? 0 : ctl[${COUNT}];
    let chunk = 0;
    for (let j = 0; j < count; j++) {
      const b = ${CALLS} + ${CALL_SLOTS} * j;
      const prog = ctl[b], start = ctl[b + 1], end = ctl[b + 2], scratch = ctl[b + 3];
      for (let at = start; at < end; at += ${CHUNK}, chunk++) {
        const stop = Math.min(end, at + ${CHUNK});
        Atomics.store(ctl, ${PHASE}, 1);
        if (fault === chunk + 1) {
          run(prog, at, at + ((stop - at) >> 1), scratch);
          die();
        }
        run(prog, at, stop, scratch);
        Atomics.store(ctl, ${PHASE}, 0);
        Atomics.store(ctl, ${PROGRESS}, chunk + 1);
        if (fault === -10 - chunk) die();
      }
    }
  } catch (e) {
    Atomics.store(ctl, ${FAILED}, 1);
  }
  Atomics.store(ctl, ${DONE}, seen);
  Atomics.notify(ctl, ${DONE});
}
}
${start}
`;
}

const finalizer =
  typeof FinalizationRegistry === 'function'
    ? new FinalizationRegistry<HostWorker>((w) => {
        void w.terminate();
      })
    : undefined;

/** Whether a worker can be started here, on a machine with at least `minCpus` CPUs. */
export function threadsAvailable(minCpus: number): boolean {
  const h = threadHost();
  return h !== undefined && h.cpus >= minCpus;
}

/**
 * The worker of one arena. `owner` is the object whose collection terminates the worker (the
 * arena); the worker is `unref`'d, so it never keeps the process alive.
 */
export class KernelWorker {
  private readonly ctl: Int32Array;
  private job = 0;
  private calls = 0;
  private worker: HostWorker | undefined;

  private constructor(
    memory: WasmMemory,
    control: number,
    private readonly canBlock: boolean,
  ) {
    this.ctl = new Int32Array(memory.buffer, control, CONTROL_SLOTS);
  }

  /**
   * Starts a worker on `memory` (shared) with the compiled shared-memory `module` (whose `run`
   * a call runs); the control block is at byte `control`. `undefined` when workers are
   * unavailable.
   */
  static start(
    owner: object,
    module: object,
    memory: WasmMemory,
    control: number,
  ): KernelWorker | undefined {
    const h = threadHost();
    if (h === undefined) return undefined;
    try {
      new Int32Array(memory.buffer, control, CONTROL_SLOTS).fill(0);
      const kw = new KernelWorker(memory, control, h.canBlock);
      // A worker that fails to start is never ready; one that dies between steps is marked
      // FAILED here (the event arrives when this thread is idle); one that dies during a step
      // is noticed by join.
      const worker = h.spawn({ module, memory, control }, () => {
        Atomics.store(kw.ctl, FAILED, 1);
      });
      kw.worker = worker;
      finalizer?.register(owner, worker);
      return kw;
    } catch {
      return undefined;
    }
  }

  /** True once the worker has started and has not failed: the next job may be given to it. */
  get ready(): boolean {
    return Atomics.load(this.ctl, READY) === 1 && Atomics.load(this.ctl, FAILED) === 0;
  }

  /** True when the worker is known to have failed or exited. */
  get failed(): boolean {
    return Atomics.load(this.ctl, FAILED) !== 0;
  }

  /**
   * Queues one call of the next job (at most 2 per job): `run(prog, start, end, scratch)`, in
   * chunks of {@link CHUNK} elements.
   */
  add(prog: number, start: number, end: number, scratch: number): void {
    const ctl = this.ctl;
    const b = CALLS + CALL_SLOTS * this.calls++;
    ctl[b] = prog;
    ctl[b + 1] = start;
    ctl[b + 2] = end;
    ctl[b + 3] = scratch;
  }

  /** Hands the queued calls to the worker (returns at once). */
  run(): void {
    const ctl = this.ctl;
    ctl[MODE] = 0;
    ctl[COUNT] = this.calls;
    this.calls = 0;
    Atomics.store(ctl, PROGRESS, 0);
    Atomics.store(ctl, PHASE, 0);
    this.job = (this.job + 1) | 0;
    Atomics.store(ctl, JOB, this.job);
    Atomics.notify(ctl, JOB, 1);
  }

  /**
   * Waits until the worker has finished the job given by the last {@link run}: true when it
   * has. False when it has died or has not finished a chunk for {@link STALL_MS}: the worker is
   * then terminated and never used again, and the caller completes the job from
   * {@link progress} (chunks finished) and {@link midChunk} (whether the next chunk may be
   * half-written). No clock is read (it allocates): the stall is counted in timed-out waits.
   */
  join(): boolean {
    if (!this.canBlock) return this.spin();
    const ctl = this.ctl;
    const job = this.job;
    let last = -1;
    let stalled = 0;
    for (;;) {
      const done = Atomics.load(ctl, DONE);
      if (done === job) return Atomics.load(ctl, FAILED) === 0 || this.abandon();
      if (Atomics.load(ctl, FAILED) !== 0) return this.abandon();
      if (Atomics.wait(ctl, DONE, done, WAIT_SLICE_MS) !== 'timed-out') continue;
      const mark = 2 * Atomics.load(ctl, PROGRESS) + Atomics.load(ctl, PHASE);
      if (mark !== last) {
        last = mark;
        stalled = 0;
      } else if (++stalled * WAIT_SLICE_MS >= STALL_MS) return this.abandon();
    }
  }

  /** {@link join} where this thread may not block (a browser's main thread): a busy wait. */
  private spin(): boolean {
    const ctl = this.ctl;
    const job = this.job;
    let last = -1;
    let since = performance.now();
    for (let i = 0; ; i++) {
      if (Atomics.load(ctl, DONE) === job) return Atomics.load(ctl, FAILED) === 0 || this.abandon();
      if ((i & 1023) !== 0) continue;
      if (Atomics.load(ctl, FAILED) !== 0) return this.abandon();
      const mark = 2 * Atomics.load(ctl, PROGRESS) + Atomics.load(ctl, PHASE);
      const now = performance.now();
      if (mark !== last) {
        last = mark;
        since = now;
      } else if (now - since >= STALL_MS) return this.abandon();
    }
  }

  /**
   * Starts a stream job of `chunks` chunks (returns at once): the worker runs its part of each
   * chunk as soon as {@link publish} gives it, with the block buffer at byte `scratch`.
   */
  startStream(chunks: number, scratch: number): void {
    const ctl = this.ctl;
    ctl[CHUNKS] = chunks;
    ctl[CALLS + 3] = scratch;
    ctl[WSPINS] = 0;
    Atomics.store(ctl, ABORT, 0);
    Atomics.store(ctl, WDONE, 0);
    Atomics.store(ctl, CLAIMED, 0);
    Atomics.store(ctl, PUBLISHED, 0);
    Atomics.store(ctl, PHASE, 0);
    ctl[MODE] = 1;
    this.job = (this.job + 1) | 0;
    Atomics.store(ctl, JOB, this.job);
    Atomics.notify(ctl, JOB, 1);
  }

  /** Publishes chunk `c` of the stream job: the worker runs `run(prog, start, mid, scratch)`. */
  publish(c: number, prog: number, start: number, mid: number): void {
    const ctl = this.ctl;
    const d = DESC + 3 * (c % RING);
    ctl[d] = prog;
    ctl[d + 1] = start;
    ctl[d + 2] = mid;
    Atomics.store(ctl, PUBLISHED, c + 1);
  }

  /**
   * Claims chunk `c`'s worker part for the calling thread (true), which then steps it itself:
   * possible while the worker has not started that part. Never while a test fault is injected
   * (see {@link injectFault}), so that the fault happens in the chunk the test chose.
   */
  steal(c: number): boolean {
    const ctl = this.ctl;
    if (ctl[FAULT] !== 0) return false;
    return Atomics.compareExchange(ctl, CLAIMED, c, c + 1) === c;
  }

  /**
   * Waits (spinning) until the worker has done its part of chunk `c`: true when it has. False
   * when it has died or has not finished a chunk for {@link STALL_MS}: the worker is then
   * terminated (see {@link streamDone} and {@link midChunk} for what it had done).
   */
  waitChunk(c: number): boolean {
    const ctl = this.ctl;
    // The worker is normally at most a chunk behind: spin first (no clock, nothing allocated).
    for (let i = 0; i < SPIN_FIRST; i++) if (Atomics.load(ctl, WDONE) > c) return true;
    if (!this.canBlock) return this.spinChunk(c);
    // Then wait in slices (the worker notifies after each chunk, which ends a slice early),
    // counting the slices without progress.
    let last = -1;
    let stalled = 0;
    for (;;) {
      const done = Atomics.load(ctl, WDONE);
      if (done > c) return true;
      if (Atomics.load(ctl, FAILED) !== 0) return this.abandon();
      const mark = 2 * done + Atomics.load(ctl, PHASE);
      if (mark !== last) {
        last = mark;
        stalled = 0;
      } else if (++stalled * CHUNK_SLICE_MS >= STALL_MS) return this.abandon();
      Atomics.wait(ctl, WDONE, done, CHUNK_SLICE_MS);
    }
  }

  /** {@link waitChunk} where this thread may not block (a browser's main thread): a busy wait. */
  private spinChunk(c: number): boolean {
    const ctl = this.ctl;
    let last = -1;
    let since = 0;
    for (let i = 1; ; i++) {
      if (Atomics.load(ctl, WDONE) > c) return true;
      if ((i & 4095) !== 0) continue;
      if (Atomics.load(ctl, FAILED) !== 0) return this.abandon();
      const mark = 2 * Atomics.load(ctl, WDONE) + Atomics.load(ctl, PHASE);
      const now = performance.now();
      if (mark !== last) {
        last = mark;
        since = now;
      } else if (now - since >= STALL_MS) return this.abandon();
    }
  }

  /** Chunks of the current stream job the worker has finished. */
  get streamDone(): number {
    return Atomics.load(this.ctl, WDONE);
  }

  /** How long the worker waited for chunks in the last stream job (spin iterations). */
  get streamWaits(): number {
    return this.ctl[WSPINS]!;
  }

  /**
   * Ends the current stream job: stops the worker if it is still waiting for chunks (`abort`),
   * then waits until it is back between jobs (see {@link join}).
   */
  endStream(abort: boolean): boolean {
    if (abort) Atomics.store(this.ctl, ABORT, 1);
    const ctl = this.ctl;
    for (let i = 0; i < 1 << 16; i++) if (Atomics.load(ctl, DONE) === this.job) break;
    return this.join();
  }

  /** Chunks of the last job the worker finished. */
  get progress(): number {
    return Atomics.load(this.ctl, PROGRESS);
  }

  /** Whether the worker had started chunk {@link progress} and may have written part of it. */
  get midChunk(): boolean {
    return Atomics.load(this.ctl, PHASE) === 1;
  }

  private abandon(): false {
    Atomics.store(this.ctl, FAILED, 1);
    void this.worker?.terminate();
    return false;
  }

  /**
   * Tests only: makes the worker fail on the next job: `-1` exits before any work, `-2` hangs
   * without exiting, `k > 0` exits half-way through chunk `k - 1`, `-10 - k` exits right after
   * finishing chunk `k`.
   * @internal
   */
  injectFault(code: number): void {
    Atomics.store(this.ctl, FAULT, code);
  }
}
