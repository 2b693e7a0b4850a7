/**
 * A kernel thread that dies or hangs: the step is completed on the calling thread with the bits of
 * an uninterrupted step, within about a second, and the optimizer goes on on one thread and says
 * so (`threadFailure`, `threads`); a thread that dies in the middle of writing a chunk gives a
 * KernelThreadError, with every other element stepped exactly once. Faults are injected into the
 * worker through the arena's test hook: exit before the job, hang, or exit half-way through a chunk.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { KernelThreadError, Optimizer, radam, treeLeaves } from '../../src/index.js';
import { CHUNK } from '../../src/kernels/threads.js';
import { WINDOW } from '../../src/kernels/window.js';

const N = 1 << 19; // above the chunk size many times over, in both dtypes

function wave(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.sin(i * 0.37 + seed);
  return a;
}

const paramsOf = () => ({ a: wave(N, 0), b: Float64Array.from(wave(N + 12, 9)) });
const gradsOf = (k: number) => ({ a: wave(N, k + 1), b: Float64Array.from(wave(N + 12, k + 5)) });

/** Every byte of the params and of every state leaf, as one hex digest-like summary per leaf. */
function snapshot(opt: Optimizer): string[] {
  return [...treeLeaves(opt.params), ...treeLeaves(opt.state)].map((x) =>
    typeof x === 'number'
      ? `count ${x}`
      : createHash('sha256')
          .update(new Uint8Array((x as Float32Array).slice().buffer))
          .digest('hex'),
  );
}

/** The one arena of an optimizer whose tree fits one WebAssembly memory. */
function arenaOf(opt: Optimizer): { injectWorkerFault(code: number): void; worker: unknown } {
  return (opt as unknown as { engine: { arenas: { arenas: never[] } } }).engine.arenas.arenas[0]!;
}

/**
 * The two ways a second thread steps: an arena (the worker takes the upper half of each region),
 * and the caller's buffers (copied through windows; the worker takes the first part of each
 * window chunk).
 */
const MODES = [
  { name: 'arena', arena: true },
  { name: "caller's buffers", arena: false },
] as const;
type Mode = (typeof MODES)[number];

const zeros = () => ({ a: new Float32Array(N), b: new Float64Array(N + 12) });

/** An optimizer whose worker has started (it takes part in steps). */
async function twoThreaded(mode: Mode = MODES[0]): Promise<Optimizer> {
  const opt = new Optimizer(radam(1e-2), paramsOf(), { arena: mode.arena, threads: 2 });
  // Warm-up steps with zero gradients until the worker takes part; the reference mirrors them.
  for (let k = 0; k < 400 && opt.threads !== 2; k++) {
    if (mode.arena) opt.step();
    else opt.step(zeros());
    await new Promise((r) => setTimeout(r, 10));
  }
  expect(opt.threads).toBe(2);
  return opt;
}

function reference(steps: number): Optimizer {
  const opt = new Optimizer(radam(1e-2), paramsOf(), { arena: true, threads: 1 });
  for (let k = 0; k < steps; k++) opt.step();
  return opt;
}

describe.each(MODES)('a kernel thread that fails ($name)', (mode) => {
  for (const [what, code] of [
    ['exits before the step', -1],
    ['hangs', -2],
    ['exits between two chunks', -12],
  ] as const)
    it(`${what}: the step completes on this thread, exactly, within about a second`, async () => {
      const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
      const opt = await twoThreaded(mode);
      const warm = (opt.state as [{ count: number }])[0].count;
      const ref = reference(warm);
      for (const o of [opt, ref]) o.step(gradsOf(0));
      expect(opt.threads).toBe(2);
      arenaOf(opt).injectWorkerFault(code);
      const t0 = performance.now();
      opt.step(gradsOf(1));
      const took = performance.now() - t0;
      ref.step(gradsOf(1));
      expect(took).toBeLessThan(3000);
      expect(opt.threads).toBe(1);
      expect(opt.threadFailure).toMatch(/second kernel thread was given up/);
      expect(snapshot(opt)).toEqual(snapshot(ref));
      for (let k = 2; k < 5; k++) for (const o of [opt, ref]) o.step(gradsOf(k));
      expect(opt.threads).toBe(1);
      expect(snapshot(opt)).toEqual(snapshot(ref));
      console.log(`${what}: the faulty step took ${took.toFixed(0)} ms`);
      warn.mockRestore();
    });

  it('exits in the middle of a chunk: a KernelThreadError, every element outside that chunk exact', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const opt = await twoThreaded(mode);
    const ref = reference((opt.state as [{ count: number }])[0].count);
    for (const o of [opt, ref]) o.step(gradsOf(0));
    arenaOf(opt).injectWorkerFault(3); // dies half-way through its third chunk
    expect(() => opt.step(gradsOf(1))).toThrow(KernelThreadError);
    ref.step(gradsOf(1));
    expect(opt.threads).toBe(1);
    expect(opt.threadFailure).toMatch(/middle of writing a chunk/);
    // Arena: the worker's share is the upper half of each dtype's region; its third chunk is
    // [half + 2 CHUNK, half + 3 CHUNK) of the first region (float64 leaves come first). Caller's
    // buffers: its third chunk is part of the third window chunk of the first region.
    const p = (opt.params as { b: Float64Array }).b;
    const q = (ref.params as { b: Float64Array }).b;
    const n = p.length + ((4 - (p.length % 4)) % 4);
    const half = (n >> 1) & ~3;
    const lo = mode.arena ? half + 2 * CHUNK : 2 * WINDOW;
    const hi = mode.arena ? half + 3 * CHUNK : 3 * WINDOW;
    let outside = 0;
    let inside = 0;
    for (let i = 0; i < p.length; i++) {
      if (Object.is(p[i], q[i])) continue;
      if (i >= lo && i < hi) inside++;
      else outside++;
    }
    expect(outside).toBe(0);
    expect(inside).toBeGreaterThan(0); // the half-written chunk really differs
    warn.mockRestore();
  });

  it('killed between steps: the next step runs on this thread at once, exactly', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const opt = await twoThreaded(mode);
    const ref = reference((opt.state as [{ count: number }])[0].count);
    const worker = (arenaOf(opt).worker as { worker: { terminate(): Promise<number> } }).worker;
    await worker.terminate();
    await new Promise((r) => setTimeout(r, 50)); // the exit event
    const t0 = performance.now();
    opt.step(gradsOf(0));
    expect(performance.now() - t0).toBeLessThan(500);
    ref.step(gradsOf(0));
    expect(opt.threads).toBe(1);
    expect(opt.threadFailure).toMatch(/exited between steps/);
    expect(snapshot(opt)).toEqual(snapshot(ref));
    warn.mockRestore();
  });
});
