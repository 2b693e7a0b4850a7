import { describe, expect, it } from 'vitest';
import { FUSION_TAG, fusionTag } from '../src/base.js';
import {
  type ArrayLeaf,
  addDecayedWeights,
  applyUpdates,
  chain,
  clip,
  deserializeStateInto,
  Optimizer,
  radam,
  scale,
  scaleByLearningRate,
  scaleByRadam,
  serializeState,
  trace,
  treeLeaves,
} from '../src/index.js';
import { WASM_STAGING_THRESHOLD } from '../src/inplace/optimizer.js';
import { wasmModule } from '../src/kernels/wasm.js';
import { heapGrowthPerStep } from './heap-helpers.js';

function sameBits(a: unknown, b: unknown): boolean {
  const la = treeLeaves<ArrayLeaf>(a);
  const lb = treeLeaves<ArrayLeaf>(b);
  if (la.length !== lb.length) return false;
  return la.every((x, k) => {
    const y = lb[k]!;
    if (x.constructor !== y.constructor || x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) return false;
    return true;
  });
}

const wasmAvailable = wasmModule() !== null;

describe('fused in-place RAdam', () => {
  it('WebAssembly SIMD loads in this runtime', () => {
    expect(wasmAvailable).toBe(true);
  });

  it('two threads (a worker steps half of every region): the same bits as the functional path', async () => {
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    for (const [nesterov, wd, arena] of [
      [false, undefined, true],
      [true, 0.01, true],
      [false, undefined, false],
      [true, 0.01, false],
    ] as const) {
      const make = () => {
        const r = scaleByRadam({ nesterov });
        return wd === undefined
          ? chain(r, scaleByLearningRate(0.01))
          : chain(r, addDecayedWeights(wd), scaleByLearningRate(0.01));
      };
      const init = () => ({
        a: Float32Array.from({ length: 1001 }, (_, i) => Math.sin(i)),
        b: Float64Array.from({ length: 515 }, (_, i) => Math.cos(i)),
        c: Float32Array.from({ length: 7 }, (_, i) => i),
      });
      const tx = make();
      let ref: unknown = init();
      let state = tx.init(ref);
      const mine = init();
      const opt = new Optimizer(make(), mine, { arena, threads: 2 });
      expect(opt.kernel).toBe('wasm');
      let threaded = 0;
      // Up to 200 steps (about 5 s of waiting on a loaded machine) until 8 have run on 2 threads.
      for (let t = 0; t < 200 && threaded < 8; t++) {
        const g = {
          a: Float32Array.from({ length: 1001 }, (_, i) => Math.sin(i * t + 1)),
          b: Float64Array.from({ length: 515 }, (_, i) => Math.cos(i + t) * 1e-3),
          c: Float32Array.from({ length: 7 }, (_, i) => i - t),
        };
        const [u, s] = tx.update(g, state, ref);
        state = s;
        ref = applyUpdates(ref, u);
        opt.step(g);
        if (opt.threads === 2) threaded++;
        expect(sameBits(opt.params, ref)).toBe(true);
        expect(sameBits(opt.state, state)).toBe(true);
        // Give the worker time to start (steps before that run on this thread alone).
        if (opt.threads === 1) await sleep(25);
      }
      expect(threaded).toBeGreaterThan(0);
      if (arena)
        expect((opt.params as { a: Float32Array }).a.buffer).toBeInstanceOf(SharedArrayBuffer);
      else expect(opt.params).toBe(mine); // staged: the caller's own buffers hold the results
    }
    // Small arenas stay on one thread with 'auto'; threads: 1 never starts a worker.
    const small = new Optimizer(radam(0.1), { w: new Float32Array(64) }, { arena: true });
    small.step({ w: new Float32Array(64).fill(1) });
    expect(small.threads).toBe(1);
    expect((small.params as { w: Float32Array }).w.buffer).toBeInstanceOf(ArrayBuffer);
    const one = new Optimizer(
      radam(0.1),
      { w: new Float32Array(1 << 18) },
      { threads: 1, arena: true },
    );
    expect((one.params as { w: Float32Array }).w.buffer).toBeInstanceOf(ArrayBuffer);
  });

  it('runs the documentation example', () => {
    const params = { w: new Float32Array([1, 2, 3]) };
    const opt = new Optimizer(radam(0.003), params);
    opt.step({ w: params.w.map((x) => 2 * x) });
    expect(Array.from(params.w)).toEqual([0.994, 1.988, 2.982].map(Math.fround));
    const big = { w: new Float32Array(1e6) };
    const staged = new Optimizer(radam(0.003), big);
    expect(staged.kernel).toBe('wasm');
    staged.step({ w: new Float32Array(1e6).fill(1) });
    expect(big.w[0]).toBe(Math.fround(-0.003));
    expect(big.w[999_999]).toBe(Math.fround(-0.003));
    // Optimizer.kernel's example.
    expect(new Optimizer(radam(1e-3), { w: new Float32Array(10) }).kernel).toBe('js');
    expect(new Optimizer(radam(1e-3), { w: new Float32Array(1e6) }).kernel).toBe('wasm');
    expect(new Optimizer(radam(1e-3), { w: new Float32Array(1e6) }, { kernel: 'js' }).kernel).toBe(
      'js',
    );
    const fast = new Optimizer(radam(0.003), { w: new Float32Array(1e6) }, { arena: true });
    fast.grads.w.fill(1);
    fast.step();
    expect(fast.params.w[0]).toBe(Math.fround(-0.003));
    expect(fast.params.w[999_999]).toBe(Math.fround(-0.003));
  });

  it("kernel 'auto' on the caller buffers: WebAssembly (staged) from the threshold, JavaScript below; same bits", () => {
    expect(WASM_STAGING_THRESHOLD).toBe(64);
    const init = (n: number) => ({
      a: Float32Array.from({ length: n - 24 }, (_, i) => Math.sin(i)),
      b: Float64Array.from({ length: 24 }, (_, i) => Math.cos(i)),
    });
    const grads = (n: number, t: number) => ({
      a: Float32Array.from({ length: n - 24 }, (_, i) => Math.sin(i * t + 1)),
      b: Float64Array.from({ length: 24 }, (_, i) => Math.cos(i + t) * 1e-3),
    });
    const below = new Optimizer(radam(0.01), init(63));
    expect(below.kernel).toBe('js');
    const staged = new Optimizer(radam(0.01, { weightDecay: 1e-3 }), init(1024));
    const js = new Optimizer(radam(0.01, { weightDecay: 1e-3 }), init(1024), { kernel: 'js' });
    expect(staged.kernel).toBe('wasm');
    expect(js.kernel).toBe('js');
    expect(staged.grads).toBeUndefined();
    // The moments live in WebAssembly memory (not the buffers init made); params stay the caller's.
    const mu = (staged.state as [{ mu: { a: Float32Array } }])[0].mu.a;
    expect(mu.buffer).not.toBe((js.state as [{ mu: { a: Float32Array } }])[0].mu.a.buffer);
    expect(mu.buffer.byteLength % 65536).toBe(0);
    for (let t = 0; t < 9; t++) {
      staged.step(grads(1024, t));
      js.step(grads(1024, t));
    }
    expect(sameBits(staged.params, js.params)).toBe(true);
    expect(sameBits(staged.state, js.state)).toBe(true);
    expect(Array.from(mu)).toEqual(Array.from((js.state as [{ mu: { a: Float32Array } }])[0].mu.a));
    // The caller may change its params between steps: each step reads them afresh.
    (staged.params as { a: Float32Array }).a.fill(0.25);
    (js.params as { a: Float32Array }).a.fill(0.25);
    staged.step(grads(1024, 9));
    js.step(grads(1024, 9));
    expect(sameBits(staged.params, js.params)).toBe(true);
  });

  it('staged WebAssembly kernel: a checkpoint restored with deserializeStateInto continues bit for bit', () => {
    const init = () => ({ w: Float32Array.from({ length: 2000 }, (_, i) => Math.sin(i)) });
    const g = (t: number) => ({
      w: Float32Array.from({ length: 2000 }, (_, i) => Math.cos(i + t)),
    });
    const straight = new Optimizer(radam(0.01), init());
    const first = new Optimizer(radam(0.01), init());
    expect(straight.kernel).toBe('wasm');
    for (let t = 0; t < 12; t++) straight.step(g(t));
    for (let t = 0; t < 5; t++) first.step(g(t));
    const stateBytes = serializeState(first.state);
    const paramBytes = serializeState(first.params);
    const resumed = new Optimizer(radam(0.01), init());
    const before = resumed.state;
    expect(deserializeStateInto(stateBytes, resumed.state)).toBe(before);
    deserializeStateInto(paramBytes, resumed.params);
    expect(sameBits(resumed.state, first.state)).toBe(true);
    for (let t = 5; t < 12; t++) resumed.step(g(t));
    expect(sameBits(resumed.params, straight.params)).toBe(true);
    expect(sameBits(resumed.state, straight.state)).toBe(true);
  });

  it('fuses the chains whose members all carry a fusion tag', () => {
    const p = { w: new Float64Array(3) };
    const tag = fusionTag(scaleByRadam());
    expect(tag?.kind === 'stage' && tag.name).toBe('scaleByRadam');
    expect(Object.keys(scaleByRadam())).not.toContain(FUSION_TAG.toString());
    expect(new Optimizer(radam(0.1), p).kernel).toBe('js');
    expect(new Optimizer(radam(0.1, { weightDecay: 1e-2 }), p).kernel).toBe('js');
    expect(new Optimizer(radam(0.1, { weightDecay: 0 }), p).kernel).toBe('js');
    expect(new Optimizer(chain(chain(scaleByRadam()), scale(-0.1)), p).kernel).toBe('js');
    // Any chain of tagged members fuses (here stage by stage, as no fused kernel was generated for it).
    expect(new Optimizer(chain(scaleByRadam(), scale(-1), scale(0.1)), p).kernel).toBe('js');
    expect(new Optimizer(chain(clip(1), trace(0.9), scale(-0.1)), p).kernel).toBe('js');
    expect(new Optimizer(radam(0.1), p, { kernel: 'generic' }).kernel).toBe('generic');
    const untagged = { ...scale(-0.1) }; // spreading drops the non-enumerable tag
    expect(new Optimizer(chain(scaleByRadam(), untagged), p).kernel).toBe('generic');
  });

  it('a bad schedule value throws with params, grads buffers and state untouched (arena)', () => {
    const opt = new Optimizer(
      radam((c) => (c < 2 ? 0.1 : Number.NaN)),
      { w: new Float32Array(6).fill(1) },
      {
        arena: true,
      },
    );
    opt.step({ w: new Float32Array(6).fill(1) });
    opt.step({ w: new Float32Array(6).fill(2) });
    const before = JSON.stringify([opt.params, opt.state, opt.grads]);
    expect(() => opt.step({ w: new Float32Array(6).fill(3) })).toThrow(
      /learning-rate schedule returned NaN at count 2/,
    );
    expect(JSON.stringify([opt.params, opt.state, opt.grads])).toBe(before);
  });

  it('checks its options and arguments', () => {
    const p = { w: new Float32Array(3) };
    expect(() => new Optimizer(radam(0.1), p, { fast: true } as never)).toThrow(
      'Optimizer: unknown option "fast"; expected arena, kernel, threads',
    );
    expect(() => new Optimizer(radam(0.1), p, { kernel: 'gpu' } as never)).toThrow(
      `Optimizer: kernel must be 'auto', 'wasm', 'js' or 'generic', got "gpu"`,
    );
    expect(() => new Optimizer(radam(0.1), p, { arena: 1 } as never)).toThrow(
      'Optimizer: arena must be a boolean, got 1',
    );
    expect(() => new Optimizer(radam(0.1), p, { threads: 4 } as never)).toThrow(
      "Optimizer: threads must be 'auto', 1 or 2, got 4",
    );
    expect(() => new Optimizer(radam(0.1), p).step()).toThrow(/Optimizer.step: grads is required/);
    const arena = new Optimizer(radam(0.1), p, { arena: true });
    expect(() => arena.step({ w: new Float32Array(4) })).toThrow('grads.w: length 4, params has 3');
  });

  it("allocates nothing per step after warm-up (a scheduled rate: only the schedule's numbers)", async () => {
    const leaves = (f32: boolean) =>
      Object.fromEntries(
        Array.from({ length: 20 }, (_, i) => [
          `l${i}`,
          f32 ? new Float32Array(64) : new Float64Array(64),
        ]),
      );
    // 20 x 64 = 1,280 elements: {} stages them through WebAssembly memory ('auto').
    const configs = [
      {},
      { kernel: 'js' as const },
      { threads: 2 as const },
      { arena: true },
      { arena: true, kernel: 'js' as const },
      { arena: true, threads: 2 as const },
    ];
    for (const scheduled of [false, true])
      for (const options of configs)
        for (const f32 of [true, false]) {
          const params = leaves(f32);
          const grads = leaves(f32);
          for (const g of Object.values(grads)) g.fill(0.5);
          const lr = scheduled ? (c: number) => 1e-3 / (1 + c) : 1e-3;
          const opt = new Optimizer(radam(lr), params, options);
          expect(opt.kernel).toBe('kernel' in options ? 'js' : 'wasm');
          for (let k = 0; k < 5000; k++) opt.step(grads);
          // With threads: 2, wait (up to about 5 s) until the worker takes part.
          for (let k = 0; k < 200 && 'threads' in options && opt.threads !== 2; k++) {
            await new Promise((r) => setTimeout(r, 25));
            opt.step(grads);
          }
          // The smallest growth of three windows of 5,000 steps.
          const growth = heapGrowthPerStep(() => opt.step(grads), 5000, 3);
          // Bound: under 64 bytes per step. Allocating anything per leaf (a view, an update
          // buffer, a result object: at least 20 x 16 bytes here) would exceed it. Measured: a
          // constant rate ~0 bytes per step in a fresh process and 16 after the property tests above
          // (one boxed number, from V8 generalising a field's representation); a schedule 32 (its
          // return values are boxed numbers, two per step through scaleByLearningRate's wrapper).
          expect(growth).toBeLessThan(64);
          if ('threads' in options) expect(opt.threads).toBe(2);
        }
  });
});
