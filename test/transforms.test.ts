/** Unit tests of the companion transformations, with expectations derived by hand from optax's definitions. */
import { describe, expect, it } from 'vitest';
import {
  adam,
  adamw,
  addDecayedWeights,
  applyIfFinite,
  applyUpdates,
  chain,
  clip,
  clipByGlobalNorm,
  identity,
  injectHyperparams,
  lookahead,
  lookaheadParams,
  masked,
  multiSteps,
  Optimizer,
  radam,
  scale,
  scaleByAdam,
  scaleByLearningRate,
  scaleByRadam,
  sgd,
  trace,
  treeMap,
} from '../src/index.js';

const f64 = (...xs: number[]) => Float64Array.from(xs);

describe('addDecayedWeights', () => {
  it('adds weightDecay * params (the doc example)', () => {
    const tx = addDecayedWeights(0.1);
    const [u] = tx.update({ w: 1 }, tx.init({ w: 2 }), { w: 2 });
    expect(u).toEqual({ w: 1.2 });
    const [v] = tx.update({ w: f64(1, -1) }, {}, { w: f64(10, 20) });
    expect([...v.w]).toEqual([1 + 0.1 * 10, -1 + 0.1 * 20]);
    const decoupled = chain(scaleByRadam(), addDecayedWeights(1e-2), scaleByLearningRate(1e-3));
    const l2 = chain(addDecayedWeights(1e-2), scaleByRadam(), scaleByLearningRate(1e-3));
    expect(decoupled.init({ w: 0 })).toHaveLength(3);
    expect(l2.init({ w: 0 })).toHaveLength(3);
  });
  it('refuses to run without params, with a clear message', () => {
    const tx = addDecayedWeights(0.1);
    expect(() => tx.update({ w: 1 }, {})).toThrow(/addDecayedWeights.update: params are required/);
    expect(() => addDecayedWeights(0).update({ w: 1 }, {})).toThrow(/params are required/);
  });
  it('weightDecay 0 returns the updates unchanged', () => {
    const g = { w: f64(1, 2) };
    expect(addDecayedWeights(0).update(g, {}, { w: f64(3, 4) })[0]).toBe(g);
  });
  it('a schedule is evaluated at its own count, starting at 0', () => {
    const tx = addDecayedWeights((c) => c + 1);
    let state = tx.init({ w: 0 });
    expect(state).toEqual({ count: 0 });
    let u: unknown;
    [u, state] = tx.update({ w: 0 }, state, { w: 1 });
    expect(u).toEqual({ w: 1 });
    [u, state] = tx.update({ w: 0 }, state, { w: 1 });
    expect(u).toEqual({ w: 2 });
    expect(state).toEqual({ count: 2 });
    expect(() =>
      addDecayedWeights(() => Number.NaN).update({ w: 0 }, { count: 0 }, { w: 1 }),
    ).toThrow(/weight-decay schedule returned NaN at count 0/);
  });
  it('mask: only the masked-in params decay (tree prefix and function)', () => {
    const p = { w: f64(2), b: 3, nested: { x: 4, y: 5 } };
    const g = { w: f64(1), b: 1, nested: { x: 1, y: 1 } };
    const tx = addDecayedWeights(0.5, { mask: { w: true, b: false, nested: true } });
    const [u] = tx.update(g, tx.init(p), p);
    expect(u).toEqual({ w: f64(2), b: 1, nested: { x: 3, y: 3.5 } });
    const byFn = addDecayedWeights(0.5, {
      mask: (t: typeof p) => treeMap((x) => typeof x !== 'number', t),
    });
    const [v] = byFn.update(g, byFn.init(p), p);
    expect(v).toEqual({ w: f64(2), b: 1, nested: { x: 1, y: 1 } });
  });
  it('rejects a non-finite rate and unknown options', () => {
    expect(() => addDecayedWeights(Number.NaN)).toThrow(
      /addDecayedWeights: weightDecay must be a finite number/,
    );
    expect(() => addDecayedWeights(0.1, { mak: true } as never)).toThrow(/unknown option "mak"/);
  });
});

describe('L2 vs decoupled placement', () => {
  it('L2 enters the moments; decoupled does not', () => {
    const p = { w: f64(2) };
    const g = { w: f64(0) };
    // decoupled: radam sees g = 0, so the update is exactly -lr * wd * p
    const dec = radam(0.1, { weightDecay: 0.5 });
    const [u] = dec.update(g, dec.init(p), p);
    expect(u.w[0]).toBe(-0.1 * (0 + 0.5 * 2));
    // L2: radam sees 0.5 * 2 = 1; first step is the bias-corrected momentum 1, times -lr
    const l2 = chain(addDecayedWeights(0.5), scaleByRadam(), scaleByLearningRate(0.1));
    const [v] = l2.update(g, l2.init(p), p);
    expect(v.w[0]).toBeCloseTo(-0.1, 15);
  });
});

describe('radam weightDecay option', () => {
  it('without the options radam is chain(scaleByRadam, scaleByLearningRate)', () => {
    expect(radam(0.1).init({ w: 0 })).toHaveLength(2);
    expect(radam(0.1, { weightDecay: 0.1 }).init({ w: 0 })).toHaveLength(3);
  });
  it('rejects a mask without a rate, and unknown options', () => {
    expect(() => radam(0.1, { weightDecayMask: { w: true } })).toThrow(
      /weightDecayMask was given without weightDecay/,
    );
    expect(() => radam(0.1, { weightdecay: 0.1 } as never)).toThrow(
      /radam: unknown option "weightdecay"/,
    );
  });
});

describe('clip and clipByGlobalNorm', () => {
  it('clip clamps each element (doc example); NaN stays NaN', () => {
    const [u] = clip(1).update({ w: f64(-3, 0.5, 2, Number.NaN) }, {});
    expect([...u.w]).toEqual([-1, 0.5, 1, Number.NaN]);
    expect(() => clip(-1)).toThrow(/clip: maxDelta must be >= 0/);
  });
  it('clipByGlobalNorm: unchanged below maxNorm, (u / norm) * maxNorm from it on', () => {
    const [u] = clipByGlobalNorm(1).update({ a: 3, b: f64(4) }, {});
    expect(u).toEqual({ a: (3 / 5) * 1, b: f64((4 / 5) * 1) });
    // at exactly the norm, optax's trigger g_norm < max_norm is false: scaled (by 1 here)
    const [v] = clipByGlobalNorm(5).update({ a: 3, b: f64(4) }, {});
    expect(v).toEqual({ a: (3 / 5) * 5, b: f64((4 / 5) * 5) });
    const g = { a: 3, b: f64(4) };
    expect(clipByGlobalNorm(5.000001).update(g, {})[0].b).toBe(g.b);
  });
  it('clipByGlobalNorm: a non-finite norm passes the updates through; maxNorm must be > 0', () => {
    const [u] = clipByGlobalNorm(1).update({ a: Number.NaN, b: f64(4) }, {});
    expect(u.b[0]).toBe(4);
    expect(() => clipByGlobalNorm(0)).toThrow(/clipByGlobalNorm: maxNorm must be > 0/);
  });
});

describe('trace, scaleByAdam, adam, adamw, sgd', () => {
  it('trace: g + decay * trace (doc example) and Nesterov', () => {
    const tx = trace(0.9);
    let state = tx.init({ w: 0 });
    let u: unknown;
    [u, state] = tx.update({ w: 1 }, state);
    expect(u).toEqual({ w: 1 });
    [u, state] = tx.update({ w: 1 }, state);
    expect(u).toEqual({ w: 1 + 0.9 * 1 });
    const n = trace(0.9, { nesterov: true });
    const [v, s2] = n.update({ w: 1 }, n.init({ w: 0 }));
    expect(v).toEqual({ w: 1 + 0.9 * 1 });
    expect(s2).toEqual({ trace: { w: 1 } });
  });
  it('scaleByAdam: mHat / (sqrt(nuHat) + eps)', () => {
    const tx = scaleByAdam();
    const [u, state] = tx.update({ w: 2 }, tx.init({ w: 0 }));
    // mu = (1 - b1) g, nu = (1 - b2) g², then the bias corrections 1 - b^1
    const mHat = ((1 - 0.9) * 2) / (1 - 0.9);
    const nuHat = ((1 - 0.999) * 4) / (1 - 0.999);
    expect(u.w).toBe(mHat / (Math.sqrt(nuHat) + 1e-8));
    expect(state.count).toBe(1);
  });
  it('adam equals chain(scaleByAdam, scaleByLearningRate); adamw adds decoupled decay', () => {
    const p = { w: f64(1, -2) };
    const g = { w: f64(0.3, 0.7) };
    const a = adam(0.01).update(g, adam(0.01).init(p), p)[0];
    const c = chain(scaleByAdam(), scaleByLearningRate(0.01));
    expect(a).toEqual(c.update(g, c.init(p), p)[0]);
    const w = adamw(0.01, { weightDecay: 0.1 });
    const [uw] = w.update(g, w.init(p), p);
    const s = scaleByAdam().update(g, scaleByAdam().init(p))[0];
    expect([...uw.w]).toEqual([...s.w].map((x, i) => -0.01 * (x + 0.1 * p.w[i]!)));
  });
  it('sgd: -lr * g, with momentum a trace', () => {
    expect(sgd(0.1).update({ w: 2 }, sgd(0.1).init({ w: 0 }))[0]).toEqual({ w: -0.2 });
    const m = sgd(0.1, { momentum: 0.9 });
    let state = m.init({ w: 0 });
    let u: unknown;
    [u, state] = m.update({ w: 1 }, state);
    [u, state] = m.update({ w: 1 }, state);
    expect(u).toEqual({ w: -0.1 * 1.9 });
    expect(() => sgd(0.1, { nesterov: true })).toThrow(/nesterov: true needs a momentum/);
  });
});

describe('masked', () => {
  it('applies the inner transformation only where the mask is true (doc example)', () => {
    const tx = masked(scale(10), { w: true, b: false });
    expect(tx.update({ w: 1, b: 1 }, tx.init({ w: 0, b: 0 }))[0]).toEqual({ b: 1, w: 10 });
  });
  it('the inner state exists only for masked-in leaves; a mask function sees the params', () => {
    const params = { big: f64(1, 2, 3), small: f64(1) };
    const tx = masked(trace(0.5), (p: typeof params) =>
      treeMap((x: Float64Array) => x.length > 1, p),
    );
    let state = tx.init(params);
    expect(state.innerState).toEqual({ trace: { big: f64(0, 0, 0), small: null } });
    let u: typeof params;
    [u, state] = tx.update({ big: f64(1, 1, 1), small: f64(7) }, state);
    [u, state] = tx.update({ big: f64(1, 1, 1), small: f64(7) }, state);
    expect(u).toEqual({ big: f64(1.5, 1.5, 1.5), small: f64(7) });
  });
  it('bad masks throw errors naming the path', () => {
    const tx = masked(scale(2), { w: 'yes', b: false });
    expect(() => tx.init({ w: 1, b: 1 })).toThrow(
      /masked: mask\.w must be true, false or a container/,
    );
    const short = masked(scale(2), { w: true });
    expect(() => short.init({ w: 1, b: 1 })).toThrow(/masked: mask/);
    expect(() => masked(scale(2), 3 as never)).toThrow(
      /mask must be a tree of booleans or a function/,
    );
  });
});

describe('applyIfFinite', () => {
  it('drops a NaN step: zero updates, inner state kept, counters updated', () => {
    const p = { w: f64(1, 2) };
    const tx = applyIfFinite(radam(0.1), 2);
    let state = tx.init(p);
    let u: { w: Float64Array };
    [u, state] = tx.update({ w: f64(1, 1) }, state, p);
    const innerAfterOne = state.innerState;
    [u, state] = tx.update({ w: f64(Number.NaN, 1) }, state, p);
    expect([...u.w]).toEqual([0, 0]);
    expect(state.innerState).toBe(innerAfterOne);
    expect(state).toMatchObject({ notfiniteCount: 1, lastFinite: false, totalNotfinite: 1 });
    [u, state] = tx.update({ w: f64(1, Number.POSITIVE_INFINITY) }, state, p);
    expect(state).toMatchObject({ notfiniteCount: 2, lastFinite: false, totalNotfinite: 2 });
    expect(state.innerState).toBe(innerAfterOne);
    // a finite step runs the inner transformation (radam's count goes on from 1) and resets the streak
    [u, state] = tx.update({ w: f64(1, 1) }, state, p);
    expect(state).toMatchObject({ notfiniteCount: 0, lastFinite: true, totalNotfinite: 2 });
    expect((state.innerState as [{ count: number }])[0].count).toBe(2);
  });
  it('refuses a step beyond maxConsecutiveErrors instead of applying NaN (optax would apply it)', () => {
    const tx = applyIfFinite(sgd(0.1), 1);
    let state = tx.init({ w: 0 });
    [, state] = tx.update({ w: Number.NaN }, state);
    expect(() => tx.update({ w: Number.NaN }, state)).toThrow(
      /applyIfFinite: 2 consecutive steps had NaN or infinite gradients, more than maxConsecutiveErrors = 1/,
    );
    expect(() => applyIfFinite(sgd(0.1), -1)).toThrow(
      /maxConsecutiveErrors must be an integer >= 0/,
    );
  });
});

describe('lookahead', () => {
  it('syncs every syncPeriod steps: slow += alpha * (fast + u - slow), fast jumps to slow', () => {
    const tx = lookahead(sgd(1), { syncPeriod: 2, slowStepSize: 0.5 });
    let params = lookaheadParams({ w: f64(10) });
    let state = tx.init(params);
    expect(state.stepsSinceSync).toBe(0);
    let u: { fast: { w: Float64Array }; slow: { w: Float64Array } };
    [u, state] = tx.update({ w: f64(1) }, state, params);
    params = applyUpdates(params, u);
    expect(state.stepsSinceSync).toBe(1);
    expect([params.fast.w[0], params.slow.w[0]]).toEqual([9, 10]);
    [u, state] = tx.update({ w: f64(1) }, state, params);
    params = applyUpdates(params, u);
    // last fast = 8; slow = 10 + 0.5 * (8 - 10) = 9; fast = slow
    expect(state.stepsSinceSync).toBe(0);
    expect([params.fast.w[0], params.slow.w[0]]).toEqual([9, 9]);
  });
  it('resetState re-initialises the fast state at a sync step', () => {
    const tx = lookahead(sgd(1, { momentum: 0.9 }), {
      syncPeriod: 2,
      slowStepSize: 0.5,
      resetState: true,
    });
    const params = lookaheadParams({ w: f64(1) });
    let state = tx.init(params);
    [, state] = tx.update({ w: f64(1) }, state, params);
    expect((state.fastState as [{ trace: { w: Float64Array } }])[0].trace.w[0]).toBe(1);
    [, state] = tx.update({ w: f64(1) }, state, params);
    expect((state.fastState as [{ trace: { w: Float64Array } }])[0].trace.w[0]).toBe(0);
  });
  it('the Optimizer falls back to the functional update for a fast optimizer without bindInPlace', () => {
    const inner = sgd(0.5);
    const plain = { init: inner.init, update: inner.update };
    const tx = lookahead(plain, { syncPeriod: 2, slowStepSize: 0.5 });
    const live = lookaheadParams({ w: f64(10) });
    const opt = new Optimizer(tx, live);
    expect(opt.runsInPlace).toBe(false);
    opt.step({ fast: { w: f64(2) }, slow: { w: f64(2) } });
    expect([live.fast.w[0], live.slow.w[0]]).toEqual([9, 10]);
    opt.step({ fast: { w: f64(2) }, slow: { w: f64(2) } });
    // last fast = 8, slow = 10 + 0.5 * (8 - 10) = 9
    expect([live.fast.w[0], live.slow.w[0]]).toEqual([9, 9]);
  });
  it('checks its arguments', () => {
    expect(() => lookahead(sgd(1), { syncPeriod: 0, slowStepSize: 0.5 })).toThrow(
      /syncPeriod must be an integer >= 1/,
    );
    expect(() => lookahead(sgd(1), { syncPeriod: 2, slowStepSize: 1.5 })).toThrow(
      /slowStepSize must be in \[0, 1\]/,
    );
    const tx = lookahead(sgd(1), { syncPeriod: 2, slowStepSize: 0.5 });
    expect(() => tx.update({ w: 1 }, tx.init({ w: 1 }), { w: 1 })).toThrow(
      /params must be \{ fast, slow \}/,
    );
  });
});

describe('multiSteps', () => {
  it('emits zeros between and the mean of k gradients every k-th call', () => {
    const tx = multiSteps(scaleByLearningRate(1, { flipSign: false }), { everyK: 3 });
    let state = tx.init({ w: f64(0, 0) });
    const outs: number[][] = [];
    for (const g of [
      [1, 2],
      [3, 4],
      [8, 0],
      [1, 1],
      [1, 1],
      [4, 1],
    ]) {
      let u: { w: Float64Array };
      [u, state] = tx.update({ w: f64(...g) }, state);
      outs.push([...u.w]);
    }
    expect(outs).toEqual([
      [0, 0],
      [0, 0],
      [4, 2],
      [0, 0],
      [0, 0],
      [2, 1],
    ]);
    expect(state).toMatchObject({ miniStep: 0, gradientStep: 2, accGrads: { w: f64(0, 0) } });
  });
  it('the inner state advances only on emitted updates; a sum with useGradMean: false', () => {
    const tx = multiSteps(adam(0.1), { everyK: 2, useGradMean: false });
    let state = tx.init({ w: 0 });
    let u: { w: number };
    [u, state] = tx.update({ w: 1 }, state);
    expect(u).toEqual({ w: 0 });
    expect((state.innerOptState as [{ count: number }])[0].count).toBe(0);
    expect(state.accGrads).toEqual({ w: 1 });
    [u, state] = tx.update({ w: 2 }, state);
    expect((state.innerOptState as [{ count: number }])[0].count).toBe(1);
    const ref = adam(0.1);
    expect(u).toEqual(ref.update({ w: 3 }, ref.init({ w: 0 }))[0]);
  });
  it('checks everyK', () => {
    expect(() => multiSteps(sgd(1), { everyK: 0 })).toThrow(/everyK must be an integer >= 1/);
    const tx = multiSteps(sgd(1), { everyK: () => 1.5 });
    expect(() => tx.update({ w: 1 }, tx.init({ w: 0 }))).toThrow(
      /everyK schedule returned 1.5 at gradientStep 0/,
    );
  });
});

describe('injectHyperparams', () => {
  const make = injectHyperparams((h: { learningRate: number; momentum: number }) =>
    sgd(h.learningRate, { momentum: h.momentum }),
  );
  it('keeps numeric hyperparameters in the state; changing one takes effect at the next update', () => {
    const tx = make({ learningRate: 0.1, momentum: 0.5 });
    let state = tx.init({ w: 0 });
    expect(state.count).toBe(0);
    expect(state.hyperparams).toEqual({ learningRate: 0.1, momentum: 0.5 });
    let u: unknown;
    [u, state] = tx.update({ w: 1 }, state);
    expect(u).toEqual({ w: -0.1 });
    // round-trip through JSON, then change the learning rate
    state = JSON.parse(JSON.stringify(state));
    state = { ...state, hyperparams: { ...state.hyperparams, learningRate: 0.01 } };
    [u, state] = tx.update({ w: 1 }, state);
    // trace = 1 + 0.5 * 1 = 1.5, times -0.01
    expect(u).toEqual({ w: -0.01 * 1.5 });
    expect(state.hyperparams.learningRate).toBe(0.01);
    expect(state.count).toBe(2);
  });
  it('evaluates schedules at count (0 on the first update); setting a scheduled one has no effect', () => {
    const tx = make({ learningRate: (c: number) => 10 ** -(c + 1), momentum: 0 });
    let state = tx.init({ w: 0 });
    expect(state.hyperparams.learningRate).toBe(0.1);
    let u: unknown;
    [u, state] = tx.update({ w: 1 }, state);
    expect(u).toEqual({ w: -0.1 });
    state = { ...state, hyperparams: { ...state.hyperparams, learningRate: 5 } };
    [u, state] = tx.update({ w: 1 }, state);
    expect(u).toEqual({ w: -0.01 });
    expect(state.hyperparams.learningRate).toBe(0.01);
  });
  it('rejects bad hyperparameter values with the factory or state path named', () => {
    const tx = make({ learningRate: 0.1, momentum: 0.5 });
    const state = tx.init({ w: 0 });
    expect(() =>
      tx.update(
        { w: 1 },
        { ...state, hyperparams: { ...state.hyperparams, learningRate: Number.NaN } },
      ),
    ).toThrow(/state.hyperparams.learningRate must be a finite number, got NaN/);
    expect(() =>
      tx.update({ w: 1 }, { ...state, hyperparams: { ...state.hyperparams, lr: 1 } }),
    ).toThrow(/state.hyperparams has "lr"/);
    expect(() => make({ learningRate: () => Number.NaN, momentum: 0 })).toThrow(
      /the learningRate schedule returned NaN at count 0/,
    );
  });
});

describe('doc examples of the aliases', () => {
  it('identity passes updates through', () => {
    expect(identity().update({ x: 1 }, {})[0]).toEqual({ x: 1 });
  });
});
