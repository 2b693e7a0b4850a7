/**
 * Trees larger than one WebAssembly memory: the leaves are spread over several arenas, and a leaf
 * too large for any one memory is streamed through a window (the default on the caller's buffers)
 * or refused by name (`{ arena: true }`). Tested with the arena capacity lowered, so that small
 * trees take the same paths as 600M-parameter ones; the bits are the functional path's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyUpdates, Optimizer, radam, treeLeaves } from '../../src/index.js';
import { STREAM_CHUNK, setArenaCapacity } from '../../src/kernels/arena-set.js';

const CAPACITY = 1 << 20; // 1 MiB: about 120K float32 elements with moments (params and gradients in windows)
let old = 0;
beforeAll(() => {
  old = setArenaCapacity(CAPACITY);
});
afterAll(() => {
  setArenaCapacity(old);
});

function wave(n: number, seed: number, f32: boolean): Float32Array | Float64Array {
  const a = f32 ? new Float32Array(n) : new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.sin(i * 0.61 + seed) * (1 + (i % 7));
  return a;
}

/** Leaves that fit (several per arena, several arenas) and leaves that must be streamed. */
function tree(seed: number) {
  return {
    a: wave(30_000, seed, true),
    b: wave(25_000, seed + 1, true),
    c: wave(12_000, seed + 2, false),
    // More than one 1 MiB arena holds: streamed, with a short last chunk.
    big: wave(4 * STREAM_CHUNK + 1234, seed + 3, true),
    big64: wave(2 * STREAM_CHUNK + 8, seed + 4, false),
    small: wave(7, seed + 5, true),
  };
}

const bits = (x: Float32Array | Float64Array) => Array.from(new Uint32Array(x.slice().buffer));

describe('trees larger than one WebAssembly memory', () => {
  for (const schedule of [false, true])
    it(`split over arenas and streamed: the functional bits${schedule ? ' (scheduled rate)' : ''}`, () => {
      const lr = schedule ? (c: number) => 0.01 / (1 + c) : 0.01;
      const tx = radam(lr, { weightDecay: 1e-3 });
      const mine = tree(0);
      const opt = new Optimizer(tx, mine);
      expect(opt.kernel).toBe('wasm');
      const inner = (
        opt as unknown as { engine: { arenas: { arenas: unknown[]; streamedLeaves: number } } }
      ).engine.arenas;
      expect(inner.arenas.length).toBeGreaterThan(1);
      expect(inner.streamedLeaves).toBe(2);
      let params: ReturnType<typeof tree> = tree(0);
      let state = tx.init(params);
      for (let k = 1; k <= 8; k++) {
        const grads = tree(k * 10);
        opt.step(grads);
        const [u, s] = tx.update(grads, state, params);
        state = s;
        params = applyUpdates(params, u);
      }
      const want = treeLeaves(params) as (Float32Array | Float64Array)[];
      const got = treeLeaves(mine) as (Float32Array | Float64Array)[];
      for (let i = 0; i < want.length; i++) expect(bits(got[i]!)).toEqual(bits(want[i]!));
      const ws = treeLeaves(state) as unknown[];
      const gs = treeLeaves(opt.state) as unknown[];
      for (let i = 0; i < ws.length; i++)
        if (typeof ws[i] === 'number') expect(gs[i]).toBe(ws[i]);
        else expect(bits(gs[i] as Float32Array)).toEqual(bits(ws[i] as Float32Array));
    });

  it('with { arena: true }: spread over arenas; a leaf too large for one memory is refused by name', () => {
    const fits = { a: wave(30_000, 0, true), b: wave(30_000, 1, true), c: wave(20_000, 2, false) };
    const opt = new Optimizer<Record<string, Float32Array | Float64Array>>(radam(0.01), fits, {
      arena: true,
    });
    const inner = (opt as unknown as { engine: { arenas: { arenas: unknown[] } } }).engine.arenas;
    expect(inner.arenas.length).toBeGreaterThan(1);
    const ref = new Optimizer<Record<string, Float32Array | Float64Array>>(
      radam(0.01),
      { a: fits.a.slice(), b: fits.b.slice(), c: fits.c.slice() },
      { kernel: 'js' },
    );
    for (let k = 0; k < 4; k++) {
      const g = {
        a: wave(30_000, k, true),
        b: wave(30_000, k + 1, true),
        c: wave(20_000, k + 2, false),
      };
      opt.step(g);
      ref.step(g);
    }
    for (const key of ['a', 'b', 'c'] as const)
      expect(bits((opt.params as typeof fits)[key])).toEqual(
        bits((ref.params as typeof fits)[key]),
      );
    expect(
      () => new Optimizer(radam(0.01), { w: wave(200_000, 0, true) }, { arena: true }),
    ).toThrow(/params\.w has 200000 elements, more than one WebAssembly memory holds/);
  });
});
