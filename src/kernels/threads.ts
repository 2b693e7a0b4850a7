/**
 * A second thread for an arena's fused step: a Node `worker_threads` worker that runs the same
 * WebAssembly kernels on the same shared memory. The step is elementwise, so splitting the
 * elements between two threads gives exactly the bits of one thread.
 *
 * Handshake through an `Int32Array` control block in the shared memory (no messages per step):
 * the main thread writes the job (up to 2 kernel calls), bumps `JOB` and wakes the worker; the
 * worker runs the calls, copies `JOB` into `DONE` and wakes the main thread, which meanwhile ran
 * its own half and waits (`Atomics.wait`) for `DONE` to reach the job's number. Until the worker
 * has started (it sets `READY`), the main thread runs every element itself.
 *
 * Available only in Node (through `process.getBuiltinModule`, so that nothing here is imported
 * elsewhere) with shared WebAssembly memory; callers fall back to one thread otherwise.
 */
import type { WasmMemory } from './wasm.js';

/** Int32 slots of the control block. */
const JOB = 0;
const DONE = 1;
const READY = 2;
const FAILED = 3;
const COUNT = 4;
/** Each call: kernel index, g, m, v, p, n, rectify, scalars (8 slots), from slot `CALLS`. */
const CALLS = 8;
const CALL_SLOTS = 8;
/** How long {@link KernelWorker.join} waits for the worker before giving up. */
const JOIN_TIMEOUT_MS = 60_000;

/** Int32 slots in the control block. */
export const CONTROL_SLOTS = CALLS + 2 * CALL_SLOTS;

interface NodeWorker {
  unref(): void;
  terminate(): Promise<number>;
  on(event: 'error', fn: (e: unknown) => void): void;
}
interface WorkerThreads {
  Worker: new (
    code: string,
    options: { eval: true; workerData: unknown; stdout?: boolean; stderr?: boolean },
  ) => NodeWorker;
}

/** `node:worker_threads` and the CPU count, when this is Node with `process.getBuiltinModule`. */
function nodeThreads(): { threads: WorkerThreads; cpus: number } | undefined {
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
    return { threads, cpus };
  } catch {
    return undefined;
  }
}

/** The worker's program (CommonJS, evaluated by `new Worker(code, { eval: true })`). */
const WORKER_CODE = `
const { workerData } = require('node:worker_threads');
const { module, memory, names, control } = workerData;
const ctl = new Int32Array(memory.buffer, control, ${CONTROL_SLOTS});
let fns;
try {
  const exp = new WebAssembly.Instance(module, { env: { memory } }).exports;
  fns = names.map((n) => exp[n]);
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
  try {
    const count = ctl[${COUNT}];
    for (let j = 0; j < count; j++) {
      const b = ${CALLS} + ${CALL_SLOTS} * j;
      fns[ctl[b]](ctl[b + 1], ctl[b + 2], ctl[b + 3], ctl[b + 4], ctl[b + 5], ctl[b + 6], ctl[b + 7]);
    }
  } catch (e) {
    Atomics.store(ctl, ${FAILED}, 1);
  }
  Atomics.store(ctl, ${DONE}, seen);
  Atomics.notify(ctl, ${DONE});
}
`;

const finalizer =
  typeof FinalizationRegistry === 'function'
    ? new FinalizationRegistry<NodeWorker>((w) => {
        void w.terminate();
      })
    : undefined;

/** Whether a worker can be started here, on a machine with at least `minCpus` CPUs. */
export function threadsAvailable(minCpus: number): boolean {
  const node = nodeThreads();
  return node !== undefined && node.cpus >= minCpus;
}

/**
 * The worker of one arena. `owner` is the object whose collection terminates the worker (the
 * arena); the worker is `unref`'d, so it never keeps the process alive.
 */
export class KernelWorker {
  private readonly ctl: Int32Array;
  private job = 0;
  private calls = 0;

  private constructor(memory: WasmMemory, control: number) {
    this.ctl = new Int32Array(memory.buffer, control, CONTROL_SLOTS);
  }

  /**
   * Starts a worker on `memory` (shared) with the compiled shared-memory `module`, exporting
   * kernels `names` (a call's kernel index points into it); the control block is at byte
   * `control`. `undefined` when workers are unavailable.
   */
  static start(
    owner: object,
    module: object,
    memory: WasmMemory,
    names: readonly string[],
    control: number,
  ): KernelWorker | undefined {
    const node = nodeThreads();
    if (node === undefined) return undefined;
    try {
      new Int32Array(memory.buffer, control, CONTROL_SLOTS).fill(0);
      const worker = new node.threads.Worker(WORKER_CODE, {
        eval: true,
        workerData: { module, memory, names, control },
      });
      worker.unref();
      const kw = new KernelWorker(memory, control);
      // A worker that fails to start is never ready; one that dies later is reported by FAILED.
      worker.on('error', () => {
        Atomics.store(kw.ctl, FAILED, 1);
      });
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

  /** Queues one kernel call of the next job (at most 2 per job). */
  add(
    kernel: number,
    g: number,
    m: number,
    v: number,
    p: number,
    n: number,
    rectify: number,
    scalars: number,
  ): void {
    const ctl = this.ctl;
    const b = CALLS + CALL_SLOTS * this.calls++;
    ctl[b] = kernel;
    ctl[b + 1] = g;
    ctl[b + 2] = m;
    ctl[b + 3] = v;
    ctl[b + 4] = p;
    ctl[b + 5] = n;
    ctl[b + 6] = rectify;
    ctl[b + 7] = scalars;
  }

  /** Hands the queued calls to the worker (returns at once). */
  run(): void {
    const ctl = this.ctl;
    ctl[COUNT] = this.calls;
    this.calls = 0;
    this.job = (this.job + 1) | 0;
    Atomics.store(ctl, JOB, this.job);
    Atomics.notify(ctl, JOB, 1);
  }

  /** Waits until the worker has finished the job given by the last {@link run}. */
  join(): void {
    const ctl = this.ctl;
    const job = this.job;
    for (;;) {
      const done = Atomics.load(ctl, DONE);
      if (done === job) break;
      // A step takes milliseconds; a worker that has not answered for a minute is gone (killed
      // from outside), and waiting on would hang the process. (No clock reads here: they allocate.)
      if (Atomics.wait(ctl, DONE, done, JOIN_TIMEOUT_MS) === 'timed-out')
        throw new Error(
          `Optimizer: the second kernel thread did not finish a step within ${JOIN_TIMEOUT_MS / 1000} s; its half of this step may be missing (use { threads: 1 } to run on one thread)`,
        );
    }
    if (Atomics.load(ctl, FAILED) !== 0)
      throw new Error('Optimizer: the second kernel thread failed during a step');
  }
}
