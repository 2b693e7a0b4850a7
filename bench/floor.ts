/**
 * The memory-speed floor of a RAdam step: a four-array read-modify-write that reads g, m, v, p and
 * writes m, v, p (28 bytes per float32 element, 56 per float64), with as little arithmetic as
 * keeps every byte live:
 *
 *     m' = m * a + g;   v' = v * b + g * g;   p' = p + m' * c
 *
 * in `f32x4` (float32) or `f64x2` (float64) WebAssembly SIMD, built here with binaryen. Any RAdam
 * step has to move at least these bytes, so on the same arrays in the same process no
 * implementation of the step can be faster than this loop except by doing less work.
 *
 * {@link Floor.step} runs it on this thread; {@link Floor.step2} splits the elements between this
 * thread and a `worker_threads` Worker on the same shared `WebAssembly.Memory`, started together
 * through `Atomics` on a `SharedArrayBuffer` and timed until both halves are done.
 */
import { Worker } from 'node:worker_threads';
import binaryen from 'binaryen';

/** Multipliers of the floor loop (any values that keep the numbers finite and normal). */
const A = 0.9;
const B = 0.999;
const C = -1e-3;
/** Vectors of each array per loop iteration (2: 32 bytes, a little faster in cache than 1). */
const UNROLL = 2;

/**
 * The floor module: it imports a shared memory and exports `f32` and `f64`, each
 * `(g, m, v, p, bytes, a, b, c)`: the byte offsets of the four arrays, the bytes of each to step
 * (a multiple of 32) and the three multipliers.
 */
function buildModule(): Uint8Array {
  const m = new binaryen.Module();
  m.setFeatures(binaryen.Features.SIMD128 | binaryen.Features.MVP | binaryen.Features.Atomics);
  m.addMemoryImport('0', 'env', 'memory', true);
  const { i32, v128 } = binaryen;
  for (const kind of ['f32', 'f64'] as const) {
    const scalar = kind === 'f32' ? binaryen.f32 : binaryen.f64;
    const simd = kind === 'f32' ? m.f32x4 : m.f64x2;
    // Locals: 0-3 pointers, 4 end (bytes), 5-7 a, b, c; then i, A, B, C, g, mNew.
    const [G, M, V, P, END, a, b, c, I, SA, SB, SC, GV, MN] = [
      0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
    ];
    const get = (idx: number, type: number) => m.local.get(idx, type);
    const at = (base: number) => m.i32.add(get(base, i32), get(I, i32));
    const load = (base: number, off: number) => m.v128.load(off, 16, at(base));
    // One 16-byte vector of each array per unrolled part.
    const part = (off: number) => [
      m.local.set(GV, load(G, off)),
      m.local.set(MN, simd.add(simd.mul(load(M, off), get(SA, v128)), get(GV, v128))),
      m.v128.store(off, 16, at(M), get(MN, v128)),
      m.v128.store(
        off,
        16,
        at(V),
        simd.add(simd.mul(load(V, off), get(SB, v128)), simd.mul(get(GV, v128), get(GV, v128))),
      ),
      m.v128.store(off, 16, at(P), simd.add(load(P, off), simd.mul(get(MN, v128), get(SC, v128)))),
    ];
    const body = m.block(null, [
      m.local.set(SA, simd.splat(get(a, scalar))),
      m.local.set(SB, simd.splat(get(b, scalar))),
      m.local.set(SC, simd.splat(get(c, scalar))),
      m.local.set(I, m.i32.const(0)),
      m.block('out', [
        m.loop(
          'next',
          m.block(null, [
            m.br('out', m.i32.ge_u(get(I, i32), get(END, i32))),
            ...Array.from({ length: UNROLL }, (_, u) => part(16 * u)).flat(),
            m.local.set(I, m.i32.add(get(I, i32), m.i32.const(16 * UNROLL))),
            m.br('next'),
          ]),
        ),
      ]),
    ]);
    m.addFunction(
      kind,
      binaryen.createType([i32, i32, i32, i32, i32, scalar, scalar, scalar]),
      binaryen.none,
      [i32, v128, v128, v128, v128, v128],
      body,
    );
    m.addFunctionExport(kind, kind);
  }
  if (!m.validate()) throw new Error('floor: binaryen module does not validate');
  m.optimize();
  const bytes = m.emitBinary();
  m.dispose();
  return bytes;
}

/** The WebAssembly API used here (the project's `lib` has no WebAssembly typings). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Memory: new (d: {
    initial: number;
    maximum: number;
    shared: boolean;
  }) => {
    readonly buffer: ArrayBuffer;
  };
  Instance: new (m: object, imports: object) => { exports: Record<string, unknown> };
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

type Kernel = (g: number, m: number, v: number, p: number, bytes: number, ...abc: number[]) => void;

// Control words in the SharedArrayBuffer shared with the worker.
const JOB = 0; // incremented by this thread to start a job
const DONE = 1; // set by the worker to the job number it finished
const KIND = 2; // 0 f32, 1 f64, -1 exit
const OFFSET = 3; // the worker's first element (byte offset added to each array's base)
const BYTES = 4; // the worker's byte count per array
const READY = 5;
/**
 * How long the worker busy-waits for the next job before blocking in `Atomics.wait` (ms): long
 * enough to stay awake between the back-to-back steps of a round, so that only a round's first step
 * pays for waking it.
 */
const WORKER_SPIN_MS = 2;
/**
 * How long this thread busy-waits for the worker to finish before blocking (ms): short, because
 * when another process holds the other core the worker may be waiting for this one, and every
 * microsecond spun here delays it (with 1 ms, a 1e6-element step took 2 to 3.5 ms instead of 0.6
 * on the busy machine).
 */
const MAIN_SPIN_MS = 0.05;

/** The worker: its own instance of the module on the shared memory, waiting for jobs. */
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { module, memory, control, bases, abc } = workerData;
const { f32, f64 } = new WebAssembly.Instance(module, { env: { memory } }).exports;
const ctl = new Int32Array(control);
const [g, m, v, p] = bases;
let seen = 0;
Atomics.store(ctl, ${READY}, 1);
Atomics.notify(ctl, ${READY});
for (;;) {
  const until = performance.now() + ${WORKER_SPIN_MS};
  for (let i = 0; Atomics.load(ctl, ${JOB}) === seen; i++)
    if ((i & 63) === 0 && performance.now() > until) {
      Atomics.wait(ctl, ${JOB}, seen);
      break;
    }
  seen = Atomics.load(ctl, ${JOB});
  const kind = Atomics.load(ctl, ${KIND});
  if (kind < 0) break;
  const off = Atomics.load(ctl, ${OFFSET});
  (kind === 0 ? f32 : f64)(g + off, m + off, v + off, p + off, Atomics.load(ctl, ${BYTES}), ...abc);
  Atomics.store(ctl, ${DONE}, seen);
  Atomics.notify(ctl, ${DONE});
}
`;

/**
 * The floor loop on four arrays of up to `capacity` float64s (or twice as many float32s) in one
 * shared WebAssembly memory. Call {@link Floor.prepare} before timing a size, then
 * {@link Floor.step} (one thread) or {@link Floor.step2} (two threads); {@link Floor.close} ends the
 * worker.
 */
export class Floor {
  private readonly memory: { readonly buffer: ArrayBuffer };
  private readonly kernels: { f32: Kernel; f64: Kernel };
  private readonly worker: Worker;
  private readonly ctl: Int32Array;
  /** Byte offsets of g, m, v, p. */
  private readonly bases: number[];
  private job = 0;
  private n = 0;
  private f32 = true;

  private constructor(capacity: number) {
    const stride = Math.ceil((capacity * 8) / 4096) * 4096;
    const pages = Math.ceil((4 * stride) / 65536);
    this.memory = new wasm.Memory({ initial: pages, maximum: pages, shared: true });
    this.bases = [0, stride, 2 * stride, 3 * stride];
    const module = new wasm.Module(buildModule());
    const exports = new wasm.Instance(module, { env: { memory: this.memory } }).exports;
    this.kernels = exports as unknown as { f32: Kernel; f64: Kernel };
    this.ctl = new Int32Array(new SharedArrayBuffer(64));
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        module,
        memory: this.memory,
        control: this.ctl.buffer,
        bases: this.bases,
        abc: [A, B, C],
      },
    });
    this.worker.unref();
  }

  /**
   * A floor for arrays of up to `capacity` elements of either dtype, with its worker started and
   * both threads' code warmed up (so that V8 has tiered the loop up before anything is timed).
   */
  static async create(capacity: number): Promise<Floor> {
    const floor = new Floor(capacity);
    let failure: unknown;
    floor.worker.once('error', (e) => {
      failure = e;
    });
    for (let waited = 0; Atomics.load(floor.ctl, READY) === 0; waited += 5) {
      if (failure !== undefined || waited > 10_000)
        throw new Error(`floor: the worker did not start (${String(failure ?? 'timeout')})`);
      await new Promise((r) => setTimeout(r, 5));
    }
    for (const f32 of [true, false]) {
      floor.prepare(Math.min(capacity, 1 << 16), f32);
      for (let i = 0; i < 300; i++) {
        floor.step();
        floor.step2();
      }
    }
    return floor;
  }

  /**
   * Sets the size and dtype of the next steps and fills the arrays (g small, m, v, p zero). The
   * loop runs whole 64-byte blocks, so `n` is rounded up to a multiple of 16 float32s (8 float64s);
   * the returned count is what a step then touches.
   */
  prepare(n: number, f32: boolean): number {
    const block = f32 ? 16 : 8;
    n = Math.ceil(n / block) * block;
    this.n = n;
    this.f32 = f32;
    const Arr = f32 ? Float32Array : Float64Array;
    const [g, m, v, p] = this.bases.map((base) => new Arr(this.memory.buffer, base, n));
    for (let i = 0; i < n; i++) g![i] = 0.01 * Math.sin(i);
    m!.fill(0);
    v!.fill(0);
    p!.fill(0);
    return n;
  }

  /** One floor step over all `n` elements on this thread. */
  step(): void {
    const [g, m, v, p] = this.bases as [number, number, number, number];
    const bytes = this.n * (this.f32 ? 4 : 8);
    (this.f32 ? this.kernels.f32 : this.kernels.f64)(g, m, v, p, bytes, A, B, C);
  }

  /**
   * One floor step on two threads: the worker takes the upper half, this thread the lower half
   * (split at a 64-byte boundary, so that no cache line is written by both), and the call returns
   * when both are done.
   */
  step2(): void {
    const size = this.f32 ? 4 : 8;
    const total = this.n * size;
    const lower = Math.floor(total / 2 / 64) * 64;
    const ctl = this.ctl;
    Atomics.store(ctl, KIND, this.f32 ? 0 : 1);
    Atomics.store(ctl, OFFSET, lower);
    Atomics.store(ctl, BYTES, total - lower);
    const job = ++this.job;
    Atomics.store(ctl, JOB, job);
    Atomics.notify(ctl, JOB, 1);
    const [g, m, v, p] = this.bases as [number, number, number, number];
    (this.f32 ? this.kernels.f32 : this.kernels.f64)(g, m, v, p, lower, A, B, C);
    let until = 0;
    for (let i = 0; Atomics.load(ctl, DONE) !== job; i++) {
      if ((i & 63) !== 0) continue;
      const now = performance.now();
      if (until === 0) until = now + MAIN_SPIN_MS;
      else if (now > until) Atomics.wait(ctl, DONE, Atomics.load(ctl, DONE), 1);
    }
  }

  /** Ends the worker. */
  close(): void {
    Atomics.store(this.ctl, KIND, -1);
    Atomics.store(this.ctl, JOB, ++this.job);
    Atomics.notify(this.ctl, JOB, 1);
  }
}
