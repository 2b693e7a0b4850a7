import { describe, expect, it } from 'vitest';
import {
  adadelta,
  adagrad,
  addNoise,
  applyUpdates,
  chain,
  deserializeState,
  deserializeStateInto,
  ema,
  type GradientTransformationExtraArgs,
  noisySgd,
  Optimizer,
  optimisticGradientDescent,
  polyakSgd,
  rmsprop,
  rprop,
  scaleByAdadelta,
  scaleByLearningRate,
  scaleByOptimisticGradient,
  scaleByPolyak,
  scaleByRms,
  scaleByRprop,
  scaleByRss,
  scaleBySign,
  scaleByStddev,
  serializeState,
  sgd,
  signSgd,
  signum,
  zeroNans,
} from '../src/index.js';
import { gaussianPair } from '../src/transforms/addNoise.js';
import { heapGrowthPerStep } from './heap-helpers.js';
import { rng } from './rng.js';

type Float = Float32Array | Float64Array;
const R = Math.fround;

const SIZES = [1, 7, 300, 5000];
const SPECIAL = [0, -0, Number.NaN, Infinity, -Infinity, 1e-30, -1e-30, 1e30];

function makeTree(f32: boolean, seed: number, special: boolean): Record<string, Float> {
  const rand = rng(seed);
  const out: Record<string, Float> = {};
  SIZES.forEach((n, k) => {
    const a = f32 ? new Float32Array(n) : new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const r = rand();
      a[i] =
        special && r < 0.03
          ? SPECIAL[Math.floor(rand() * SPECIAL.length)]!
          : (rand() - 0.5) * 10 ** Math.floor(rand() * 4 - 2);
    }
    out[`l${k}`] = a;
  });
  return out;
}

const copyTree = (t: Record<string, Float>) =>
  Object.fromEntries(Object.entries(t).map(([k, v]) => [k, v.slice()]));

function expectSameBits(a: Record<string, Float>, b: Record<string, Float>, what: string) {
  for (const k of Object.keys(a)) {
    const x = a[k]!;
    const y = b[k]!;
    expect(y.constructor, what).toBe(x.constructor);
    for (let i = 0; i < x.length; i++)
      if (!Object.is(x[i], y[i])) throw new Error(`${what}: ${k}[${i}] ${x[i]} vs ${y[i]}`);
  }
}

/**
 * Runs `make()` for 10 steps functionally and through the in-place Optimizer with each kernel
 * setting, and checks the params bit for bit. Returns the in-place optimizers' kernels.
 */
function checkInPlace(
  make: () => GradientTransformationExtraArgs,
  opts: { special?: boolean; extra?: (t: number) => Record<string, unknown> } = {},
): { kinds: string[]; ran: Set<string> } {
  const kinds: string[] = [];
  const ran = new Set<string>();
  for (const f32 of [true, false]) {
    const params0 = makeTree(f32, 11, false);
    const grads = Array.from({ length: 10 }, (_, t) =>
      makeTree(f32, 100 + t, opts.special ?? true),
    );
    const tx = make();
    let ref = copyTree(params0);
    let state = tx.init(ref);
    for (let t = 0; t < 10; t++) {
      let u: unknown;
      [u, state] = tx.update(grads[t]!, state, ref, opts.extra?.(t));
      ref = applyUpdates(ref, u);
    }
    for (const kernel of ['auto', 'generic', 'js', 'wasm', 'arena'] as const) {
      const params = copyTree(params0);
      let opt: Optimizer<Record<string, Float>>;
      try {
        opt = new Optimizer(make(), params, kernel === 'arena' ? { arena: true } : { kernel });
      } catch (err) {
        // Only the fused kernels may be refused (a member without a stage), and only for a chain
        // that 'auto' ran on the generic path.
        if ((kernel === 'js' || kernel === 'wasm') && kinds[kinds.length - 1] === 'generic')
          continue;
        throw err;
      }
      if (kernel === 'auto') kinds.push(opt.kernel);
      ran.add(kernel);
      for (let t = 0; t < 10; t++) opt.step(grads[t]!, opts.extra?.(t));
      expectSameBits(ref, opt.params, `f32=${f32} kernel=${kernel}`);
    }
  }
  return { kinds, ran };
}

/** The kernels an alias ran with: fused (JavaScript or WebAssembly), not the generic path. */
function expectFused({ kinds, ran }: { kinds: string[]; ran: Set<string> }) {
  expect(kinds.length).toBe(2);
  for (const k of kinds) expect(['js', 'wasm']).toContain(k);
  expect([...ran].sort()).toEqual(['arena', 'auto', 'generic', 'js', 'wasm']);
}

describe('adagrad / scaleByRss', () => {
  it('hand-derived steps (float64): sum of squares starts at 0.1, eps inside the root', () => {
    const tx = adagrad(0.1);
    let state = tx.init({ w: 0 });
    let u: { w: number };
    // sum = 0.1 + 2² = 4.1; u = -0.1 * (1 / sqrt(4.1 + 1e-7)) * 2
    [u, state] = tx.update({ w: 2 }, state);
    expect(u.w).toBe(-0.1 * ((1 / Math.sqrt(4.1 + 1e-7)) * 2));
    // sum = 4.1 + 1 = 5.1
    [u, state] = tx.update({ w: 1 }, state);
    expect(u.w).toBe(-0.1 * ((1 / Math.sqrt(4.1 + 1 + 1e-7)) * 1));
    expect(state[0]).toEqual({ sumOfSquares: { w: 5.1 } });
  });

  it('float32: every operation rounded; a zero sum gives a zero update', () => {
    const tx = scaleByRss({ initialAccumulatorValue: 0 });
    const [u, s] = tx.update({ w: new Float32Array([0, 3]) }, tx.init({ w: new Float32Array(2) }));
    // t = 0: where(t > 0, ..., 0) * 0 = 0; t = 9: (1 / sqrt(9 + 1e-7)) * 3 in float32.
    expect(Array.from(u.w as Float32Array)).toEqual([
      0,
      R(R(1 / R(Math.sqrt(R(9 + R(1e-7))))) * 3),
    ]);
    expect(Array.from(s.sumOfSquares.w as Float32Array)).toEqual([0, 9]);
  });

  it('in place = functional, bit for bit; fused', () => {
    expectFused(checkInPlace(() => adagrad(0.05)));
    checkInPlace(() => adagrad((c) => 0.1 / (c + 1), { initialAccumulatorValue: 0, eps: 0 }));
  });

  it('validation', () => {
    expect(() => adagrad(0.1, { initialAccumulatorValue: -1 })).toThrow(
      'adagrad: initialAccumulatorValue must be >= 0 and finite, got -1',
    );
    expect(() => adagrad(0.1, { eps: Number.NaN })).toThrow(
      'adagrad: eps must be a finite number, got NaN',
    );
    expect(() => adagrad(Number.NaN)).toThrow(
      'adagrad: learningRate must be a finite number or a schedule',
    );
    expect(() => adagrad(0.1, { epsRoot: 1 } as never)).toThrow(
      'adagrad: unknown option "epsRoot"',
    );
    expect(() => scaleByRss({ eps: -1 })).toThrow('scaleByRss: eps must be >= 0');
  });
});

describe('rmsprop / scaleByRms / scaleByStddev', () => {
  it('hand-derived steps (float64), every option', () => {
    const g1 = 2;
    const g2 = -1;
    // plain: nu = 0.1 g²; u = -lr (1 / sqrt(nu + eps)) g
    let tx = rmsprop(0.01);
    let state = tx.init({ w: 0 });
    let u: { w: number };
    [u, state] = tx.update({ w: g1 }, state);
    // optax's (1 - decay) is 1 - 0.9 = 0.09999999999999998 in float64.
    const a = 1 - 0.9;
    let nu = a * (g1 * g1) + 0.9 * 0;
    expect(u.w).toBe((1 / Math.sqrt(nu + 1e-8)) * g1 * -0.01);
    [u, state] = tx.update({ w: g2 }, state);
    nu = a * (g2 * g2) + 0.9 * nu;
    expect(u.w).toBe((1 / Math.sqrt(nu + 1e-8)) * g2 * -0.01);
    expect(state).toEqual([{ nu: { w: nu } }, {}, {}]);
    // eps outside, initial scale, bias correction (count in the state)
    tx = rmsprop(0.01, { epsInSqrt: false, initialScale: 0.5, biasCorrection: true, eps: 0.1 });
    state = tx.init({ w: 0 });
    [u, state] = tx.update({ w: g1 }, state);
    nu = a * (g1 * g1) + 0.9 * 0.5;
    expect(u.w).toBe((1 / (Math.sqrt(nu / (1 - 0.9)) + 0.1)) * g1 * -0.01);
    expect(state[0]).toEqual({ count: 1, nu: { w: nu } });
    // centered: nu - mu²
    tx = rmsprop(0.01, { centered: true, decay: 0.5 });
    state = tx.init({ w: 0 });
    [u, state] = tx.update({ w: g1 }, state);
    [u, state] = tx.update({ w: g2 }, state);
    const mu = 0.5 * g2 + 0.5 * (0.5 * g1);
    nu = 0.5 * (g2 * g2) + 0.5 * (0.5 * g1 * g1);
    expect(u.w).toBe((1 / Math.sqrt(nu - mu * mu + 1e-8)) * g2 * -0.01);
    expect(state[0]).toEqual({ mu: { w: mu }, nu: { w: nu } });
    // momentum: a trace of the scaled updates, after the learning rate
    tx = rmsprop(0.01, { momentum: 0.9 });
    state = tx.init({ w: 0 });
    [u, state] = tx.update({ w: g1 }, state);
    const s1 = (1 / Math.sqrt(a * 4 + 1e-8)) * g1 * -0.01;
    expect(u.w).toBe(s1);
    [u, state] = tx.update({ w: g2 }, state);
    const s2 = (1 / Math.sqrt(a * 1 + 0.9 * (a * 4) + 1e-8)) * g2 * -0.01;
    expect(u.w).toBe(s2 + 0.9 * s1);
    expect(state[2]).toEqual({ trace: { w: s2 + 0.9 * s1 } });
    // nesterov: g + decay * newTrace
    tx = rmsprop(0.01, { momentum: 0.9, nesterov: true });
    [u] = tx.update({ w: g1 }, tx.init({ w: 0 }));
    expect(u.w).toBe(s1 + 0.9 * s1);
  });

  it('scaleByRms and scaleByStddev states, with and without bias correction', () => {
    expect(scaleByRms().init({ w: 0 })).toEqual({ nu: { w: 0 } });
    expect(scaleByRms({ biasCorrection: true, initialScale: 2 }).init({ w: 0 })).toEqual({
      count: 0,
      nu: { w: 2 },
    });
    expect(scaleByStddev({ initialScale: 1 }).init({ w: 0 })).toEqual({
      mu: { w: 0 },
      nu: { w: 1 },
    });
    expect(scaleByStddev({ biasCorrection: true }).init({ w: 0 })).toEqual({
      count: 0,
      mu: { w: 0 },
      nu: { w: 0 },
    });
    // centered with bias correction, eps outside: 1 / (sqrt(nuHat - muHat²) + eps)
    const tx = scaleByStddev({ biasCorrection: true, epsInSqrt: false, decay: 0.5 });
    let state = tx.init({ w: 0 });
    let u: { w: number };
    [u, state] = tx.update({ w: 3 }, state);
    [u, state] = tx.update({ w: 1 }, state);
    const mu = 0.5 * 1 + 0.5 * 1.5;
    const nu = 0.5 * 1 + 0.5 * 4.5;
    const bc = 1 - 0.5 ** 2;
    const m = mu / bc;
    expect(u.w).toBe((1 / (Math.sqrt(nu / bc - m * m) + 1e-8)) * 1);
    expect(state.count).toBe(2);
  });

  it('float32: per-operation rounding', () => {
    const tx = scaleByRms({ decay: 0.9 });
    const [u] = tx.update({ w: new Float32Array([3]) }, tx.init({ w: new Float32Array(1) }));
    const nu = R(R(R(1 - 0.9) * 9) + R(R(0.9) * 0));
    expect((u.w as Float32Array)[0]).toBe(R(R(1 / R(Math.sqrt(R(nu + R(1e-8))))) * 3));
  });

  it('in place = functional, bit for bit', () => {
    expectFused(checkInPlace(() => rmsprop(0.01)));
    checkInPlace(() => rmsprop(0.01, { centered: true }));
    checkInPlace(() =>
      rmsprop(0.01, { biasCorrection: true, epsInSqrt: false, initialScale: 0.1 }),
    );
    checkInPlace(() =>
      rmsprop((c) => 0.01 / (1 + c), { centered: true, biasCorrection: true, momentum: 0.9 }),
    );
    checkInPlace(() => rmsprop(0.01, { momentum: 0.5, nesterov: true }));
  });

  it('validation', () => {
    expect(() => rmsprop(0.1, { decay: 1 })).toThrow('rmsprop: decay must be in [0, 1), got 1');
    expect(() => rmsprop(0.1, { eps: -1 })).toThrow('rmsprop: eps must be >= 0');
    expect(() => rmsprop(0.1, { initialScale: Infinity })).toThrow(
      'rmsprop: initialScale must be a finite number, got Infinity',
    );
    expect(() => rmsprop(0.1, { epsInSqrt: 1 as never })).toThrow(
      'rmsprop: epsInSqrt must be true or false, got 1',
    );
    expect(() => rmsprop(0.1, { centered: 'yes' as never })).toThrow(
      'rmsprop: centered must be true or false',
    );
    expect(() => rmsprop(0.1, { momentum: Number.NaN })).toThrow(
      'rmsprop: momentum must be a finite number, got NaN',
    );
    expect(() => rmsprop(0.1, { nesterov: true })).toThrow(
      'rmsprop: nesterov: true needs a momentum',
    );
    expect(() => scaleByStddev({ decay: -0.1 })).toThrow('scaleByStddev: decay must be in [0, 1)');
    expect(() => scaleByRms({ biasCorrection: 'no' as never })).toThrow(
      'scaleByRms: biasCorrection must be true or false',
    );
  });
});

describe('adadelta / scaleByAdadelta', () => {
  it('hand-derived steps (float64)', () => {
    const tx = adadelta(1);
    let state = tx.init({ w: 0 });
    let u: { w: number };
    // eG = 0.1 g²; u = (sqrt(0 + 1e-6) / sqrt(eG + 1e-6)) g; eX = 0.1 u²
    [u, state] = tx.update({ w: 2 }, state, { w: 0 });
    const a = 1 - 0.9;
    const eG = a * 4 + 0.9 * 0;
    const step = (Math.sqrt(0 + 1e-6) / Math.sqrt(eG + 1e-6)) * 2;
    expect(u.w).toBe(-step);
    const eX = a * (step * step) + 0.9 * 0;
    expect(state[1]).toEqual({ eG: { w: eG }, eX: { w: eX } });
    [u, state] = tx.update({ w: 1 }, state, { w: 0 });
    const eG2 = a * 1 + 0.9 * eG;
    expect(u.w).toBe(-((Math.sqrt(eX + 1e-6) / Math.sqrt(eG2 + 1e-6)) * 1));
  });

  it("learningRate null (optax's default) is the identity: the updates are not negated", () => {
    const tx = adadelta();
    const [u] = tx.update({ w: 2 }, tx.init({ w: 0 }), { w: 0 });
    expect(u.w).toBeGreaterThan(0);
    expect(adadelta().init({ w: 0 })).toEqual([{}, { eG: { w: 0 }, eX: { w: 0 } }, {}]);
  });

  it('weight decay is added to the gradient first (L2), with a mask', () => {
    const tx = adadelta(1, { weightDecay: 0.5, rho: 0.5, eps: 1 });
    const [u] = tx.update({ a: 1, b: 1 }, tx.init({ a: 0, b: 0 }), { a: 2, b: 2 });
    const g = 1 + 0.5 * 2;
    expect(u.a).toBe(-((Math.sqrt(0 + 1) / Math.sqrt(0.5 * g * g + 1)) * g));
    const masked = adadelta(1, {
      weightDecay: 0.5,
      rho: 0.5,
      eps: 1,
      weightDecayMask: { a: false, b: true },
    });
    const [v] = masked.update({ a: 1, b: 1 }, masked.init({ a: 0, b: 0 }), { a: 2, b: 2 });
    expect(v.a).toBe(-((1 / Math.sqrt(0.5 + 1)) * 1));
    expect(v.b).toBe(u.a);
  });

  it('in place = functional, bit for bit', () => {
    expectFused(checkInPlace(() => adadelta(1)));
    checkInPlace(() => adadelta(0.5, { weightDecay: 0.01, rho: 0.5 }));
    checkInPlace(() => chain(scaleByAdadelta({ eps: 1e-3 }), scaleByLearningRate(0.1)));
  });

  it('validation', () => {
    expect(() => adadelta(1, { rho: 1 })).toThrow('adadelta: rho must be in [0, 1), got 1');
    expect(() => adadelta(1, { eps: -1 })).toThrow('adadelta: eps must be >= 0');
    expect(() => adadelta(Infinity)).toThrow('adadelta: learningRate must be a finite number');
    expect(() => adadelta(1, { weightDecay: Number.NaN })).toThrow('adadelta: weightDecay must be');
    expect(() => adadelta(1, { mask: {} } as never)).toThrow('adadelta: unknown option "mask"');
  });
});

describe('signSgd / signum / scaleBySign / ema', () => {
  it('signSgd: -lr sign(g), ±0 and NaN kept', () => {
    const tx = signSgd(0.5);
    const [u] = tx.update({ w: new Float32Array([3, -0.1, 0, -0, Number.NaN]) }, tx.init({ w: 0 }));
    const w = Array.from(u.w as Float32Array);
    expect(w.slice(0, 2)).toEqual([-0.5, 0.5]);
    expect(Object.is(w[2], -0)).toBe(true);
    expect(Object.is(w[3], 0)).toBe(true);
    expect(w[4]).toBeNaN();
    expect(scaleBySign().init({ w: 0 })).toEqual({});
  });

  it('signum: the sign of an undebiased EMA (state counted)', () => {
    const tx = signum(0.1);
    let state = tx.init({ w: 0 });
    let u: { w: number };
    [u, state] = tx.update({ w: 5 }, state);
    expect(u.w).toBe(-0.1);
    // ema = 0.1 (-1) + 0.9 (0.5) > 0: still +
    [u, state] = tx.update({ w: -1 }, state);
    expect(u.w).toBe(-0.1);
    const a = 1 - 0.9;
    expect(state[0]).toEqual({ count: 2, ema: { w: a * -1 + 0.9 * (a * 5 + 0.9 * 0) } });
    [u, state] = tx.update({ w: -10 }, state);
    expect(u.w).toBe(0.1);
  });

  it('ema: debiased by 1 - decay^t; state { count, ema }', () => {
    const tx = ema(0.9);
    let state = tx.init({ w: 0 });
    let u: { w: number };
    [u, state] = tx.update({ w: 2 }, state);
    const a = 1 - 0.9;
    expect(u.w).toBe((a * 2 + 0.9 * 0) / (1 - 0.9));
    [u, state] = tx.update({ w: 1 }, state);
    const e = a * 1 + 0.9 * (a * 2);
    expect(u.w).toBe(e / (1 - 0.9 ** 2));
    expect(state).toEqual({ count: 2, ema: { w: e } });
    const plain = ema(0.9, { debias: false });
    expect(plain.update({ w: 2 }, plain.init({ w: 0 }))[0].w).toBe(a * 2 + 0);
  });

  it('in place = functional, bit for bit', () => {
    expectFused(checkInPlace(() => signSgd(0.01)));
    checkInPlace(() => signum(0.01, { beta: 0.5 }));
    checkInPlace(() => chain(ema(0.9), scaleByLearningRate(0.1)));
    checkInPlace(() => chain(ema(0.5, { debias: false }), scaleBySign(), scaleByLearningRate(0.1)));
  });

  it('validation', () => {
    expect(() => signSgd(Number.NaN)).toThrow('signSgd: learningRate must be a finite number');
    expect(() => signSgd(0.1, { beta: 0.9 } as never)).toThrow('signSgd: unknown option "beta"');
    expect(() => signum(0.1, { beta: 1 })).toThrow('signum: beta must be in [0, 1), got 1');
    expect(() => signum(0.1, { accumulatorDtype: 'float32' as never })).toThrow(
      'signum: accumulatorDtype must be null',
    );
    expect(() => ema(1)).toThrow('ema: decay must be in [0, 1), got 1');
    expect(() => ema(0.5, { debias: 0 as never })).toThrow('ema: debias must be true or false');
  });
});

describe('rprop / scaleByRprop', () => {
  it("hand-derived steps, optax's lag (default)", () => {
    const tx = rprop(0.1);
    let state = tx.init({ w: 0 });
    let u: { w: number };
    // step 1: prev = 0, s = 0: step 0.1 kept, prev = 0.1 sign(3) = 0.1, update = old prev = 0.
    [u, state] = tx.update({ w: 3 }, state);
    expect(u.w).toBe(-0);
    expect(state[0]).toEqual({ stepSizes: { w: 0.1 }, prevUpdates: { w: 0.1 } });
    // step 2: s = 3 * 0.1 > 0: step 0.1 * 1.2, prev = 0.12, update = old prev 0.1 (negated).
    [u, state] = tx.update({ w: 3 }, state);
    expect(u.w).toBe(-0.1);
    const s2 = 0.1 * 1.2;
    expect(state[0]).toEqual({ stepSizes: { w: s2 }, prevUpdates: { w: s2 } });
    // step 3: sign flip, s < 0: step * 0.5, prev = 0, update 0.
    [u, state] = tx.update({ w: -1 }, state);
    expect(u.w).toBe(-0);
    expect(state[0]).toEqual({ stepSizes: { w: s2 * 0.5 }, prevUpdates: { w: 0 } });
    // step 4: s = 0: step kept, prev = -step, update = old prev 0.
    [u, state] = tx.update({ w: -1 }, state);
    expect(u.w).toBe(-0);
    // step 5: s > 0: step grows, update = old prev -0.06, negated.
    [u, state] = tx.update({ w: -1 }, state);
    expect(u.w).toBe(s2 * 0.5);
  });

  it('lagged: false applies the current step (the paper, torch.optim.Rprop)', () => {
    const tx = rprop(0.1, { lagged: false });
    let state = tx.init({ w: 0 });
    let u: { w: number };
    [u, state] = tx.update({ w: 3 }, state);
    expect(u.w).toBe(-0.1);
    [u, state] = tx.update({ w: 3 }, state);
    expect(u.w).toBe(-(0.1 * 1.2));
    [u, state] = tx.update({ w: -1 }, state);
    expect(u.w).toBe(-0); // a sign change: no step
    [u, state] = tx.update({ w: -1 }, state);
    expect(u.w).toBe(0.1 * 1.2 * 0.5);
  });

  it('the gradients 1, 1, 1, -1, 1: optax 0, .1, .12, 0, 0; lagged: false .1, .12, .144, 0, .072', () => {
    const run = (lagged: boolean) => {
      const tx = scaleByRprop(0.1, { lagged });
      let state = tx.init({ w: 0 });
      const out: number[] = [];
      for (const g of [1, 1, 1, -1, 1]) {
        let u: { w: number };
        [u, state] = tx.update({ w: g }, state);
        out.push(u.w);
      }
      return out;
    };
    expect(run(true)).toEqual([0, 0.1, 0.1 * 1.2, 0, 0]);
    expect(run(false)).toEqual([0.1, 0.1 * 1.2, 0.1 * 1.2 * 1.2, 0, 0.1 * 1.2 * 1.2 * 0.5]);
  });

  it('step sizes are clipped to [minStepSize, maxStepSize]', () => {
    const tx = scaleByRprop(1, { etaPlus: 10, maxStepSize: 5, etaMinus: 0.01, minStepSize: 0.5 });
    let state = tx.init({ w: 0 });
    [, state] = tx.update({ w: 1 }, state);
    [, state] = tx.update({ w: 1 }, state);
    expect(state.stepSizes.w).toBe(5);
    [, state] = tx.update({ w: -1 }, state);
    expect(state.stepSizes.w).toBe(0.5);
  });

  it('in place = functional, bit for bit', () => {
    expectFused(checkInPlace(() => rprop(0.01)));
    checkInPlace(() => rprop(0.01, { lagged: false, maxStepSize: 0.02 }));
  });

  it('validation', () => {
    expect(() => rprop(0)).toThrow(
      'rprop: learningRate must be > 0 (the initial step size), got 0',
    );
    expect(() => rprop((() => 1) as never)).toThrow('rprop: learningRate must be a finite number');
    expect(() => rprop(0.1, { etaMinus: 0 })).toThrow('rprop: etaMinus must be > 0, got 0');
    expect(() => rprop(0.1, { etaPlus: Number.NaN })).toThrow(
      'rprop: etaPlus must be a finite number',
    );
    expect(() => rprop(0.1, { minStepSize: -1 })).toThrow('rprop: minStepSize must be >= 0');
    expect(() => rprop(0.1, { minStepSize: 2, maxStepSize: 1 })).toThrow(
      'rprop: maxStepSize must be >= minStepSize (2), got 1',
    );
    expect(() => rprop(0.1, { lagged: 'no' as never })).toThrow(
      'rprop: lagged must be true or false',
    );
    expect(() => scaleByRprop(0.1, { eta: 1 } as never)).toThrow(
      'scaleByRprop: unknown option "eta"',
    );
  });
});

describe('optimisticGradientDescent / scaleByOptimisticGradient', () => {
  it('hand-derived steps and the state', () => {
    const tx = optimisticGradientDescent(0.1, { alpha: 0.5, beta: 2 });
    let state = tx.init({ w: 0 });
    expect(state[0]).toEqual({ isInitialStep: true, previousGradient: { w: 0 } });
    let u: { w: number };
    // first step: prev = g: (2.5 g - 2 g) = 0.5 g
    [u, state] = tx.update({ w: 4 }, state);
    expect(u.w).toBe((2.5 * 4 - 2 * 4) * -0.1);
    expect(state[0]).toEqual({ isInitialStep: false, previousGradient: { w: 4 } });
    [u, state] = tx.update({ w: 1 }, state);
    expect(u.w).toBe((2.5 * 1 - 2 * 4) * -0.1);
  });

  it('the functional update leaves its input state alone (fused typed-array path included)', () => {
    for (const n of [3, 5000]) {
      const tx = optimisticGradientDescent(0.1);
      const params = { w: new Float32Array(n) };
      const state: any = tx.init(params);
      const [, next]: any = tx.update({ w: new Float32Array(n).fill(2) }, state, params);
      expect(state[0].isInitialStep).toBe(true);
      expect(state[0].previousGradient.w.every((x: number) => x === 0)).toBe(true);
      expect(next[0].isInitialStep).toBe(false);
      expect(next[0].previousGradient.w[n - 1]).toBe(2);
    }
  });

  it('in place = functional, bit for bit (the flag advances in place)', () => {
    expectFused(checkInPlace(() => optimisticGradientDescent(0.01)));
    checkInPlace(() => chain(scaleByOptimisticGradient({ alpha: 0.3, beta: 0.7 }), scaleBySign()));
    const params = { w: new Float32Array(3) };
    const tx = optimisticGradientDescent(0.1);
    const opt = new Optimizer(tx, params);
    opt.step({ w: new Float32Array([1, 2, 3]) });
    expect((opt.state as any)[0].isInitialStep).toBe(false);
  });

  it('validation', () => {
    expect(() => optimisticGradientDescent(0.1, { alpha: Number.NaN })).toThrow(
      'optimisticGradientDescent: alpha must be a finite number, got NaN',
    );
    expect(() => scaleByOptimisticGradient({ beta: (() => 1) as never })).toThrow(
      'scaleByOptimisticGradient: beta must be a finite number',
    );
    expect(() => scaleByOptimisticGradient().update({ w: 1 }, {} as never)).toThrow(
      'scaleByOptimisticGradient.update: state must be { isInitialStep, previousGradient }',
    );
  });
});

describe('zeroNans', () => {
  it('zeroes NaNs, keeps infinities, flags each leaf', () => {
    const tx = zeroNans();
    expect(tx.init({ a: new Float32Array(2), b: [1] })).toEqual({
      foundNan: { a: false, b: [false] },
    });
    const [u, s] = tx.update(
      { a: new Float32Array([Number.NaN, Infinity]), b: [2] },
      tx.init({ a: 0, b: [0] }),
    );
    expect(Array.from(u.a)).toEqual([0, Infinity]);
    expect(u.b).toEqual([2]);
    expect(s).toEqual({ foundNan: { a: true, b: [false] } });
  });

  it('in place = functional, bit for bit, flags included', () => {
    checkInPlace(() => chain(zeroNans(), scaleByLearningRate(0.1)));
    const params = { a: new Float64Array(3), b: new Float64Array(2) };
    const opt = new Optimizer(chain(zeroNans(), scaleByLearningRate(1)), params);
    opt.step({ a: new Float64Array([1, Number.NaN, 2]), b: new Float64Array([1, 1]) });
    expect(Array.from(params.a)).toEqual([-1, 0, -2]); // 0 + 0 * -1 = +0
    expect((opt.state as any)[0]).toEqual({ foundNan: { a: true, b: false } });
    opt.step({ a: new Float64Array([1, 1, 1]), b: new Float64Array([Number.NaN, 1]) });
    expect((opt.state as any)[0]).toEqual({ foundNan: { a: false, b: true } });
    // A single-array params tree: the flag is the state's own field.
    const single = new Float32Array(2);
    const one = new Optimizer(zeroNans(), single);
    one.step(new Float32Array([Number.NaN, 1]));
    expect(one.state as any).toEqual({ foundNan: true });
    expect(Array.from(single)).toEqual([0, 1]);
  });
});

/** Sample statistics of an array. */
function stats(x: ArrayLike<number>) {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]!;
  const mean = s / x.length;
  let v = 0;
  let k = 0;
  for (let i = 0; i < x.length; i++) {
    const d = x[i]! - mean;
    v += d * d;
    k += d * d * d * d;
  }
  v /= x.length;
  k /= x.length * v * v;
  return { mean, variance: v, kurtosis: k };
}

function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const sa = stats(a);
  const sb = stats(b);
  let c = 0;
  for (let i = 0; i < a.length; i++) c += (a[i]! - sa.mean) * (b[i]! - sb.mean);
  return c / a.length / Math.sqrt(sa.variance * sb.variance);
}

describe('noisySgd / addNoise', () => {
  const N = 200_000;
  it('the noise is normal with variance eta / t^gamma at step t (mean, variance, kurtosis)', () => {
    const tx = addNoise(2, { gamma: 0.55, key: 123 });
    let state = tx.init({ w: new Float64Array(N) });
    const zero = { w: new Float64Array(N) };
    for (let t = 1; t <= 3; t++) {
      let u: { w: Float64Array };
      [u, state] = tx.update(zero, state);
      const s = stats(u.w);
      const want = 2 / t ** 0.55;
      // Standard errors: mean sqrt(v / N) ~ 0.003, variance v sqrt(2 / N) ~ 0.006.
      expect(Math.abs(s.mean)).toBeLessThan(5 * Math.sqrt(want / N));
      expect(Math.abs(s.variance / want - 1)).toBeLessThan(5 * Math.sqrt(2 / N));
      expect(Math.abs(s.kurtosis - 3)).toBeLessThan(0.05);
    }
    expect(state.count).toBe(3);
  });

  it('independent across steps, leaves and neighbouring elements; reproducible for a key', () => {
    const tx = addNoise(1, { gamma: 0, key: 7 });
    const zero = { a: new Float64Array(N), b: new Float64Array(N) };
    const state0 = tx.init(zero);
    const [u1, state1] = tx.update(zero, state0);
    const [u2] = tx.update(zero, state1);
    const bound = 5 / Math.sqrt(N);
    expect(Math.abs(correlation(u1.a, u2.a))).toBeLessThan(bound);
    expect(Math.abs(correlation(u1.a, u1.b))).toBeLessThan(bound);
    expect(Math.abs(correlation(u1.a.subarray(0, N - 1), u1.a.subarray(1)))).toBeLessThan(bound);
    // The two normals of a Box–Muller pair are uncorrelated too.
    const even = (u1.a as Float64Array).filter((_, i) => i % 2 === 0);
    const odd = (u1.a as Float64Array).filter((_, i) => i % 2 === 1);
    expect(Math.abs(correlation(even, odd))).toBeLessThan(5 / Math.sqrt(N / 2));
    // Same key: same noise; another key: other noise.
    const again = addNoise(1, { gamma: 0, key: 7 });
    const [v1] = again.update(zero, again.init(zero));
    expect(v1.a).toEqual(u1.a);
    const other = addNoise(1, { gamma: 0, key: 8 });
    const [w1] = other.update(zero, other.init(zero));
    expect(Math.abs(correlation(u1.a, w1.a))).toBeLessThan(bound);
    // optax's deprecated name of the key.
    const seeded = addNoise(1, { gamma: 0, seed: 7 });
    expect(seeded.update(zero, seeded.init(zero))[0].a).toEqual(u1.a);
  });

  it('the state: { count, rngKey }, the key moving on each update', () => {
    const tx = noisySgd(0.1, { key: 5 });
    let state: any = tx.init({ w: 0 });
    expect(state[0]).toEqual({ count: 0, rngKey: 5 });
    [, state] = tx.update({ w: 0 }, state);
    expect(state[0].count).toBe(1);
    expect(state[0].rngKey).not.toBe(5);
    expect(Number.isInteger(state[0].rngKey)).toBe(true);
    const [z0, z1] = gaussianPair(1, 2, 3, new Float64Array(2));
    expect(gaussianPair(1, 2, 3, new Float64Array(2))).toEqual(Float64Array.of(z0!, z1!));
  });

  it('float32 leaves: the noise is rounded to float32, then added in float32', () => {
    const tx = addNoise(1, { gamma: 0 });
    const g = new Float32Array([0.5, 0.25, 1]);
    const [u] = tx.update({ w: g }, tx.init({ w: g }));
    const [d] = tx.update({ w: new Float64Array(g) }, tx.init({ w: g }));
    for (let i = 0; i < 3; i++) expect(u.w[i]).toBe(R(g[i]! + R(d.w[i]! - g[i]!)));
  });

  it('in place = functional, bit for bit', () => {
    checkInPlace(() => noisySgd(0.01, { key: 3 }));
    checkInPlace(() => noisySgd((c) => 0.01 / (1 + c), { eta: 0.5, gamma: 1, key: 9 }));
  });

  it('validation', () => {
    expect(() => addNoise(0.1)).toThrow('addNoise: gamma is required');
    expect(() => addNoise(-1, { gamma: 1 })).toThrow('addNoise: eta must be >= 0');
    expect(() => addNoise(1, { gamma: Number.NaN })).toThrow(
      'addNoise: gamma must be a finite number',
    );
    expect(() => noisySgd(0.1, { key: 1.5 })).toThrow(
      'noisySgd: key must be an integer in [0, 2^32), got number 1.5',
    );
    expect(() => noisySgd(0.1, { key: 2 ** 32 })).toThrow('noisySgd: key must be an integer');
    expect(() => noisySgd(0.1, { key: 1, seed: 1 })).toThrow(
      'noisySgd: give key or seed (its deprecated name), not both',
    );
    const tx = addNoise(1, { gamma: 1 });
    expect(() => tx.update({ w: 1 }, { count: 0, rngKey: -1 })).toThrow(
      'addNoise.update: state.rngKey must be an integer in [0, 2^32)',
    );
  });
});

describe('polyakSgd / scaleByPolyak', () => {
  it('hand-derived steps: sgd(scaling) first, then the Polyak step on the scaled updates', () => {
    const g = { w: new Float64Array([3, 4]) };
    let tx = polyakSgd(10);
    // u = -g; ||u||² = 25; step = min((50 - 0) / 25, 10) = 2
    expect(Array.from(tx.update(g, tx.init(g), undefined, { value: 50 })[0].w)).toEqual([-6, -8]);
    // capped at maxLearningRate
    expect(Array.from(tx.update(g, tx.init(g), undefined, { value: 5000 })[0].w)).toEqual([
      -30, -40,
    ]);
    // scaling enters the norm: u = -0.5 g, ||u||² = 6.25, step = 50 / 6.25 = 8
    tx = polyakSgd(10, { scaling: 0.5 });
    expect(Array.from(tx.update(g, tx.init(g), undefined, { value: 50 })[0].w)).toEqual([-12, -16]);
    // fMin, eps
    tx = polyakSgd(10, { fMin: 10, eps: 15 });
    expect(Array.from(tx.update(g, tx.init(g), undefined, { value: 50 })[0].w)).toEqual([-3, -4]);
    // sps: a loss below fMin gives a negative step; sps+ clips the gap at 0
    tx = polyakSgd(10, { fMin: 100 });
    expect(Array.from(tx.update(g, tx.init(g), undefined, { value: 50 })[0].w)).toEqual([6, 8]);
    tx = polyakSgd(10, { fMin: 100, variant: 'sps+' });
    expect(Array.from(tx.update(g, tx.init(g), undefined, { value: 50 })[0].w)).toEqual([-0, -0]);
    // a (near) zero gradient: step 0
    const tiny = { w: new Float64Array([1e-9, 0]) };
    expect(Array.from(tx.update(tiny, tx.init(tiny), undefined, { value: 1 })[0].w)).toEqual([
      -0, -0,
    ]);
    expect(polyakSgd().init(g)).toEqual([[{}, {}], {}]);
  });

  it('float32: the float64 step rounded, then u * step in float32', () => {
    const tx = scaleByPolyak();
    const g = new Float32Array([0.1, 0.2]);
    const [u] = tx.update({ w: g }, {}, undefined, { value: 0.3 });
    const sq = 0.1 ** 0 * (g[0]! * g[0]! + g[1]! * g[1]!);
    const step = Math.min(0.3 / sq, 1);
    expect(Array.from(u.w)).toEqual([R(g[0]! * R(step)), R(g[1]! * R(step))]);
  });

  it('in place = functional, bit for bit; Optimizer.step(grads, { value })', () => {
    const extra = (t: number) => ({ value: 1 + t * 0.1 });
    checkInPlace(() => polyakSgd(0.5), { special: false, extra });
    checkInPlace(() => polyakSgd(2, { scaling: (c) => 1 / (1 + c), variant: 'sps+', fMin: 1.3 }), {
      special: false,
      extra,
    });
  });

  it('a missing or non-finite loss throws before anything changes', () => {
    const tx = polyakSgd();
    expect(() => tx.update({ w: 1 }, tx.init({ w: 0 }))).toThrow(
      'polyakSgd.update: the loss value is required: update(updates, state, params, { value }) or Optimizer.step(grads, { value })',
    );
    expect(() => tx.update({ w: 1 }, tx.init({ w: 0 }), undefined, { value: Number.NaN })).toThrow(
      'polyakSgd.update: value (the loss) must be a finite number, got number NaN',
    );
    expect(() => tx.update({ w: 1 }, tx.init({ w: 0 }), undefined, { value: '1' })).toThrow(
      'polyakSgd.update: value (the loss) must be a finite number, got string "1"',
    );
    const params = { w: new Float32Array([1, 2]) };
    const opt = new Optimizer(polyakSgd(1, { scaling: (c) => 1 / (1 + c) }), params);
    expect(() => opt.step({ w: new Float32Array([1, 1]) })).toThrow(
      'polyakSgd.update: the loss value is required',
    );
    expect(() => opt.step({ w: new Float32Array([1, 1]) }, { value: Infinity })).toThrow(
      'polyakSgd.update: value (the loss) must be a finite number, got number Infinity',
    );
    expect(Array.from(params.w)).toEqual([1, 2]);
    expect((opt.state as any)[0][1]).toEqual({ count: 0 });
    opt.step({ w: new Float32Array([1, 1]) }, { value: 1 });
    expect(Array.from(params.w)).toEqual([0.5, 1.5]);
  });

  it('validation', () => {
    expect(() => polyakSgd(-1)).toThrow('polyakSgd: maxLearningRate must be >= 0');
    expect(() => polyakSgd(1, { eps: -1 })).toThrow('polyakSgd: eps must be >= 0');
    expect(() => polyakSgd(1, { fMin: Number.NaN })).toThrow(
      'polyakSgd: fMin must be a finite number',
    );
    expect(() => polyakSgd(1, { variant: 'sps-' as never })).toThrow(
      `polyakSgd: variant must be 'sps' or 'sps+', got string "sps-"`,
    );
    expect(() => polyakSgd(1, { scaling: Number.NaN })).toThrow(
      'polyakSgd: scaling must be a finite number',
    );
    expect(() => polyakSgd(1, { maxLearningRate: 2 } as never)).toThrow(
      'polyakSgd: unknown option "maxLearningRate"',
    );
    expect(() => scaleByPolyak({ fStar: 1 } as never)).toThrow(
      'scaleByPolyak: unknown option "fStar"',
    );
  });
});

describe('sgd (optax: momentum None vs 0)', () => {
  it('momentum null or absent: no state; 0: a trace of zeros', () => {
    expect(sgd(0.1, { momentum: null }).init({ w: 0 })).toEqual([{}, {}]);
    expect(sgd(0.1).init({ w: 0 })).toEqual([{}, {}]);
    expect(sgd(0.1, { momentum: 0 }).init({ w: 0 })).toEqual([{ trace: { w: 0 } }, {}]);
    expect(() => sgd(0.1, { nesterov: true })).toThrow('sgd: nesterov: true needs a momentum');
    expect(() => sgd(0.1, { accumulatorDtype: 'bfloat16' as never })).toThrow(
      'sgd: accumulatorDtype must be null',
    );
    expectFused(checkInPlace(() => sgd(0.1)));
    checkInPlace(() => sgd(0.1, { momentum: 0.9, nesterov: true }));
  });
});

describe('in-place steps allocate nothing per step', () => {
  it('hand-written steps (zeroNans, addNoise, scaleByPolyak), the optimistic flag, elementwise ones', () => {
    const leaves = (f32: boolean) =>
      Object.fromEntries(
        Array.from({ length: 20 }, (_, i) => [
          `l${i}`,
          f32 ? new Float32Array(64) : new Float64Array(64),
        ]),
      );
    const extra = { value: 2 };
    const makers: [string, () => GradientTransformationExtraArgs][] = [
      ['zeroNans', () => chain(zeroNans(), scaleByLearningRate(1e-3))],
      ['noisySgd', () => noisySgd(1e-3, { key: 1 })],
      ['polyakSgd', () => polyakSgd(1e-3)],
      ['optimisticGradientDescent', () => optimisticGradientDescent(1e-3)],
      ['adagrad', () => adagrad(1e-3)],
      ['rmsprop bc', () => rmsprop(1e-3, { biasCorrection: true })],
      ['optimistic, generic', () => chain(scaleByOptimisticGradient(), zeroNans())],
    ];
    for (const [name, make] of makers)
      for (const f32 of [true, false]) {
        const params = leaves(f32);
        const grads = leaves(f32);
        for (const g of Object.values(grads)) g.fill(0.5).fill(Number.NaN, 0, 3);
        const opt = new Optimizer(make(), params);
        for (let k = 0; k < 3000; k++) opt.step(grads, extra);
        // The smallest of five windows; under 64 bytes per step: anything per leaf (20 leaves)
        // would exceed it.
        const growth = heapGrowthPerStep(() => opt.step(grads, extra), 3000, 5);
        expect(growth, `${name} f32=${f32}`).toBeLessThan(64);
      }
  });
});

describe("checkpoints of the family's states (booleans, keys, flags)", () => {
  it('serializeState / deserializeState round trips, and a resumed Optimizer continues the run', () => {
    const makers: [string, () => GradientTransformationExtraArgs][] = [
      ['zeroNans', () => chain(zeroNans(), scaleByLearningRate(0.1))],
      ['optimisticGradientDescent', () => optimisticGradientDescent(0.1)],
      ['noisySgd', () => noisySgd(0.1, { key: 4 })],
      ['rprop', () => rprop(0.1)],
      ['rmsprop', () => rmsprop(0.1, { biasCorrection: true, momentum: 0.9 })],
    ];
    for (const [name, make] of makers) {
      const p0 = () => ({ a: Float32Array.of(1, 2, 3), b: Float64Array.of(-1, 0.5) });
      const g = (t: number) => ({
        a: Float32Array.of(t, Number.NaN, -t),
        b: Float64Array.of(0.25 * t, -1),
      });
      const whole = new Optimizer(make(), p0());
      const first = new Optimizer(make(), p0());
      for (let t = 0; t < 3; t++) {
        whole.step(g(t));
        first.step(g(t));
      }
      const bytes = serializeState(first.state);
      expect(deserializeState(bytes, make().init(p0())), name).toEqual(first.state);
      const resumed = new Optimizer(make(), {
        a: first.params.a.slice(),
        b: first.params.b.slice(),
      });
      deserializeStateInto(bytes, resumed.state);
      for (let t = 3; t < 6; t++) {
        whole.step(g(t));
        resumed.step(g(t));
      }
      expectSameBits(whole.params, resumed.params, name);
    }
  });
});
