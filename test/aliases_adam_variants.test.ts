/**
 * Adam's variants (adabelief, adamax, adamaxw, amsgrad, nadam, nadamw, yogi, adan,
 * optimisticAdamV2) and their transformations: first steps derived by hand, the in-place
 * Optimizer (every kernel setting) against the functional path bit for bit in float32 and
 * float64, validation errors, and optax's semantics (defaults, state fields, counts, first steps).
 */
import { describe, expect, it } from 'vitest';
import {
  type ArrayLeaf,
  adabelief,
  adam,
  adamax,
  adamaxw,
  adamw,
  adan,
  amsgrad,
  applyUpdates,
  chain,
  deserializeState,
  type GradientTransformationExtraArgs,
  nadam,
  nadamw,
  Optimizer,
  optimisticAdamV2,
  scaleByAdam,
  scaleByAdamax,
  scaleByAdan,
  scaleByAmsgrad,
  scaleByBelief,
  scaleByLearningRate,
  scaleByOptimisticGradient,
  scaleByYogi,
  serializeState,
  treeLeaves,
  yogi,
} from '../src/index.js';
import type { OptimizerOptions } from '../src/inplace/optimizer.js';
import { gradValue } from './inplace/helpers.js';
import { rng } from './rng.js';

type Float = Float32Array | Float64Array;
type Tx = GradientTransformationExtraArgs;

const f = Math.fround;

/** One functional update of plain-number params `{ w }`; returns the update and the state. */
function first(tx: Tx, g: number, p = 0): [number, any] {
  const [u, s] = tx.update({ w: g }, tx.init({ w: p }), { w: p });
  return [(u as { w: number }).w, s];
}

describe('first steps derived by hand (float64 numbers, optax operation order)', () => {
  it('scaleByBelief and adabelief', () => {
    // m = 0.1 * 2 = 0.2; e = 2 - 0.2 = 1.8; s = 0.001 * 1.8² + 1e-16 (+ 0.999 * 0);
    // update = (m / 0.1) / (sqrt(s / 0.001) + 1e-16).
    const m = (1 - 0.9) * 2 + 0.9 * 0;
    const s = (1 - 0.999) * ((2 - m) * (2 - m)) + 0.999 * 0 + 1e-16;
    const want = m / (1 - 0.9) / (Math.sqrt(s / (1 - 0.999)) + 1e-16);
    const [u, st] = first(scaleByBelief(), 2);
    expect(u).toBe(want);
    expect(u).toBeCloseTo(2 / 1.8, 12);
    expect(st).toEqual({ count: 1, mu: { w: m }, nu: { w: s } });
    expect(first(adabelief(0.5), 2)[0]).toBe(-0.5 * want);
    // Nesterov: mHat = 0.9 m / (1 - 0.9²) + 0.1 g / (1 - 0.9).
    const mn = 0.9 * (m / (1 - 0.9 ** 2)) + (1 - 0.9) * (2 / (1 - 0.9));
    expect(first(scaleByBelief({ nesterov: true }), 2)[0]).toBe(
      mn / (Math.sqrt(s / (1 - 0.999)) + 1e-16),
    );
    // Decoupled decay: -lr (u + wd p).
    expect(first(adabelief(0.5, { weightDecay: 0.25 }), 2, 4)[0]).toBe(-0.5 * (want + 0.25 * 4));
  });

  it('scaleByAdamax, adamax and adamaxw', () => {
    // mu = 0.1 g; nu = max(|g| + 1e-8, 0.999 * 0); update = (mu / 0.1) / nu.
    for (const g of [2, -3]) {
      const m = (1 - 0.9) * g;
      const nu = Math.max(Math.abs(g) + 1e-8, 0);
      expect(first(scaleByAdamax(), g)[0]).toBe(m / (1 - 0.9) / nu);
      expect(first(adamax(0.1), g)[0]).toBe(-0.1 * (m / (1 - 0.9) / nu));
      expect(first(adamaxw(0.1), g, 5)[0]).toBe(-0.1 * (m / (1 - 0.9) / nu + 1e-4 * 5));
    }
    // Second step: nu = max(|g2| + eps, b2 nu1) keeps the larger past |g| (decayed).
    const tx = scaleByAdamax({ eps: 0 });
    const [, s1] = tx.update({ w: 4 }, tx.init({ w: 0 }));
    const [u2, s2] = tx.update({ w: 1 }, s1);
    expect(s2.nu.w).toBe(0.999 * 4);
    const m2 = (1 - 0.9) * 1 + 0.9 * ((1 - 0.9) * 4);
    expect((u2 as { w: number }).w).toBe(m2 / (1 - 0.9 ** 2) / (0.999 * 4));
  });

  it('scaleByAmsgrad and amsgrad: the bias correction before the maximum', () => {
    const tx = scaleByAmsgrad();
    const [, s1] = tx.update({ w: 4 }, tx.init({ w: 0 }));
    // nu1 = 0.001 * 16, nuMax1 = nu1 / 0.001 = 16.
    expect(s1.nuMax.w).toBe(((1 - 0.999) * 16) / (1 - 0.999));
    const [u2, s2] = tx.update({ w: 1 }, s1);
    const nu2 = (1 - 0.999) * 1 + 0.999 * s1.nu.w;
    const nuMax2 = Math.max(s1.nuMax.w, nu2 / (1 - 0.999 ** 2));
    expect(s2.nuMax.w).toBe(nuMax2);
    expect(nuMax2).toBe(s1.nuMax.w); // the corrected nu2 (about 8.5) is below 16
    const m2 = (1 - 0.9) * 1 + 0.9 * s1.mu.w;
    expect((u2 as { w: number }).w).toBe(m2 / (1 - 0.9 ** 2) / (Math.sqrt(nuMax2 + 0) + 1e-8));
    // The paper's variant: no correction at all.
    const paper = scaleByAmsgrad({ biasCorrectionMu: false, biasCorrectionNu: false });
    const [u, s] = first(paper, 2);
    const m = (1 - 0.9) * 2;
    expect(u).toBe(m / (Math.sqrt((1 - 0.999) * 4 + 0) + 1e-8));
    expect(s.nuMax.w).toBe((1 - 0.999) * 4);
    const nuMax = ((1 - 0.999) * 4) / (1 - 0.999);
    expect(first(amsgrad(0.5), 2)[0]).toBe(-0.5 * (m / (1 - 0.9) / (Math.sqrt(nuMax) + 1e-8)));
  });

  it('nadam and nadamw: adam and adamw with Nesterov momentum', () => {
    // mHat = 0.9 (0.1 g) / (1 - 0.9²) + 0.1 g / 0.1; nuHat = g²; update = mHat / (|g| + 1e-8).
    const g = 2;
    const mHat = 0.9 * (((1 - 0.9) * g) / (1 - 0.9 ** 2)) + (1 - 0.9) * (g / (1 - 0.9));
    const nuHat = ((1 - 0.999) * (g * g)) / (1 - 0.999);
    const r = mHat / (Math.sqrt(nuHat + 0) + 1e-8);
    expect(first(nadam(0.1), g)[0]).toBe(-0.1 * r);
    expect(first(nadamw(0.1), g, 3)[0]).toBe(-0.1 * (r + 1e-4 * 3));
    // The same transformations as adam/adamw with nesterov: true, over several steps.
    const pairs: [Tx, Tx][] = [
      [nadam(0.01, { b1: 0.8 }), adam(0.01, { b1: 0.8, nesterov: true })],
      [nadamw(0.01, { weightDecay: 0.1 }), adamw(0.01, { weightDecay: 0.1, nesterov: true })],
    ];
    for (const [a, b] of pairs) {
      let pa = { w: Float32Array.of(1, -2, 3) };
      let pb = { w: Float32Array.of(1, -2, 3) };
      let sa = a.init(pa);
      let sb = b.init(pb);
      for (let t = 0; t < 5; t++) {
        const g = { w: Float32Array.of(t, -0.5 * t + 1, 2) };
        let ua: unknown;
        let ub: unknown;
        [ua, sa] = a.update(g, sa, pa);
        [ub, sb] = b.update(g, sb, pb);
        pa = applyUpdates(pa, ua);
        pb = applyUpdates(pb, ub);
      }
      expect(pa).toEqual(pb);
    }
  });

  it('scaleByYogi and yogi: moments start at 1e-6; nu moves by sign(nu - g²) (1 - b2) g²', () => {
    const [u, s] = first(scaleByYogi(), 2);
    const m = (1 - 0.9) * 2 + 0.9 * 1e-6;
    const nu = 1e-6 - (1 - 0.999) * -1 * 4; // sign(1e-6 - 4) = -1
    expect(s).toEqual({ count: 1, mu: { w: m }, nu: { w: nu } });
    const want = m / (1 - 0.9) / (Math.sqrt(nu / (1 - 0.999) + 0) + 1e-3);
    expect(u).toBe(want);
    expect(first(yogi(0.1), 2)[0]).toBe(-0.1 * want);
    // A small gradient after a large one: nu - g² > 0 (nu1 = 0.004001), so nu decreases.
    const tx = scaleByYogi();
    const [, s1] = tx.update({ w: 2 }, tx.init({ w: 0 }));
    const [, s2] = tx.update({ w: 0.01 }, s1);
    expect(s2.nu.w).toBe(s1.nu.w - (1 - 0.999) * 1 * (0.01 * 0.01));
    // g² == nu: sign(0) = 0, nu stays.
    const [, s3] = tx.update({ w: 0.001 }, tx.init({ w: 0 }));
    expect(s3.nu.w).toBe(1e-6 - (1 - 0.999) * 0 * 1e-6);
    // float32: every operation rounded, 1e-6 rounded at init.
    const [u32, s32] = tx.update({ w: Float32Array.of(2) }, tx.init({ w: new Float32Array(1) }));
    const i = f(1e-6);
    const m32 = f(f(f(1 - 0.9) * 2) + f(f(0.9) * i));
    const g2 = f(2 * 2);
    const nu32 = f(i - f(f(f(1 - 0.999) * -1) * g2));
    const den = f(f(Math.sqrt(f(f(nu32 / f(1 - 0.999)) + 0))) + f(1e-3));
    expect(s32.mu.w[0]).toBe(m32);
    expect(s32.nu.w[0]).toBe(nu32);
    expect((u32 as { w: Float32Array }).w[0]).toBe(f(f(m32 / f(1 - 0.9)) / den));
  });

  it('scaleByAdan and adan: the first step has no gradient difference', () => {
    const tx = scaleByAdan();
    // Step 1: d = 0; m = 0.02 g, v = 0, n = 0.01 g²; update = (m/0.02 + 0.08 * 0) / (sqrt(n/0.01) + eps).
    const [u1, s1] = tx.update({ w: 2 }, tx.init({ w: 0 }));
    const m1 = (1 - 0.98) * 2;
    const n1 = (1 - 0.99) * ((2 + 0.08 * 0) * (2 + 0.08 * 0));
    expect(s1).toEqual({ t: 1, m: { w: m1 }, v: { w: 0 }, n: { w: n1 }, g: { w: 2 } });
    expect((u1 as { w: number }).w).toBe(
      (m1 / (1 - 0.98) + (1 - 0.92) * (0 / (1 - 0.92))) / (Math.sqrt(n1 / (1 - 0.99) + 0) + 1e-8),
    );
    // Step 2: d = 1 - 2 = -1.
    const [u2, s2] = tx.update({ w: 1 }, s1);
    const d = 1 - 2;
    const m2 = (1 - 0.98) * 1 + 0.98 * m1;
    const v2 = (1 - 0.92) * d + 0.92 * 0;
    const q = 1 + (1 - 0.92) * d;
    const n2 = (1 - 0.99) * (q * q) + 0.99 * n1;
    expect(s2).toEqual({ t: 2, m: { w: m2 }, v: { w: v2 }, n: { w: n2 }, g: { w: 1 } });
    const num = m2 / (1 - 0.98 ** 2) + (1 - 0.92) * (v2 / (1 - 0.92 ** 2));
    expect((u2 as { w: number }).w).toBe(num / (Math.sqrt(n2 / (1 - 0.99 ** 2) + 0) + 1e-8));
    // At t = 0 the stored g is ignored (optax's `where(t == 0, 0, g - g_prev)`), even if not 0.
    const [uA] = tx.update({ w: 2 }, { ...tx.init({ w: 0 }), g: { w: 100 } });
    expect(uA).toEqual(u1);
    // adan: epsRoot defaults to 1e-8 in the alias, and the decay (0 by default) is chained.
    const [ua] = adan(0.1).update({ w: 2 }, adan(0.1).init({ w: 5 }), { w: 5 });
    const r1 =
      (m1 / (1 - 0.98) + (1 - 0.92) * (0 / (1 - 0.92))) /
      (Math.sqrt(n1 / (1 - 0.99) + 1e-8) + 1e-8);
    expect((ua as { w: number }).w).toBe(-0.1 * r1);
    const wd = adan(0.1, { weightDecay: 0.5 });
    const [ub] = wd.update({ w: 2 }, wd.init({ w: 5 }), { w: 5 });
    expect((ub as { w: number }).w).toBe(-0.1 * (r1 + 0.5 * 5));
  });

  it('scaleByOptimisticGradient and optimisticAdamV2', () => {
    const tx = scaleByOptimisticGradient({ alpha: 0.5, beta: 2 });
    const s0 = tx.init({ w: 0 });
    expect(s0).toEqual({ isInitialStep: true, previousGradient: { w: 0 } });
    // First step: prev = g, so (0.5 + 2) 4 - 2 * 4 = 2.
    const [u1, s1] = tx.update({ w: 4 }, s0);
    expect(u1).toEqual({ w: 2 });
    expect(s1).toEqual({ isInitialStep: false, previousGradient: { w: 4 } });
    // Second: 2.5 * 1 - 2 * 4 = -5.5.
    const [u2, s2] = tx.update({ w: 1 }, s1);
    expect(u2).toEqual({ w: -5.5 });
    expect(s2).toEqual({ isInitialStep: false, previousGradient: { w: 1 } });
    // optimisticAdamV2 = chain(scaleByAdam(nesterov: true), optimistic, lr).
    const a = optimisticAdamV2(0.1, { alpha: 0.01, beta: 0.5 });
    const b = chain(
      scaleByAdam({ nesterov: true }),
      scaleByOptimisticGradient({ alpha: 0.01, beta: 0.5 }),
      scaleByLearningRate(0.1),
    );
    let sa: any = a.init({ w: 0 });
    let sb: any = b.init({ w: 0 });
    let r0 = 0;
    for (const g of [2, -1, 3]) {
      let ua: any;
      let ub: any;
      [ua, sa] = a.update({ w: g }, sa);
      [ub, sb] = b.update({ w: g }, sb);
      expect(ua).toEqual(ub);
      const r = sa[0].mu.w; // (only to keep the loop honest about state moving)
      expect(r).not.toBe(r0);
      r0 = r;
    }
    // The first update: Adam's Nesterov step r, times -lr (alpha + beta - beta).
    const mHat = 0.9 * (((1 - 0.9) * 2) / (1 - 0.9 ** 2)) + (1 - 0.9) * (2 / (1 - 0.9));
    const r = mHat / (Math.sqrt(((1 - 0.999) * 4) / (1 - 0.999) + 0) + 1e-8);
    const [u] = optimisticAdamV2(0.1).update({ w: 2 }, optimisticAdamV2(0.1).init({ w: 0 }));
    expect((u as { w: number }).w).toBe(-0.1 * ((1 + 1) * r - 1 * r));
  });
});

// ---------------------------------------------------------------------------------------------
// In place vs functional, bit for bit

interface Case {
  name: string;
  make: () => Tx;
}

const CASES: Case[] = [
  { name: 'adabelief', make: () => adabelief(1e-2) },
  {
    name: 'adabelief nesterov + decay schedule',
    make: () => adabelief(1e-2, { nesterov: true, weightDecay: (c) => 1e-2 / (1 + c) }),
  },
  { name: 'adabelief eps = epsRoot = 0', make: () => adabelief(1e-2, { eps: 0, epsRoot: 0 }) },
  { name: 'adamax', make: () => adamax(1e-2) },
  { name: 'adamax eps = 0', make: () => adamax(1e-2, { eps: 0 }) },
  { name: 'adamaxw', make: () => adamaxw(1e-2, { weightDecay: 0.1 }) },
  { name: 'amsgrad', make: () => amsgrad(1e-2) },
  {
    name: 'amsgrad without bias corrections',
    make: () => amsgrad(1e-2, { biasCorrectionMu: false, biasCorrectionNu: false, epsRoot: 1e-6 }),
  },
  { name: 'nadam', make: () => nadam(1e-2) },
  { name: 'nadamw', make: () => nadamw(1e-2, { weightDecay: 0.05 }) },
  { name: 'yogi', make: () => yogi(1e-2) },
  { name: 'adan', make: () => adan(1e-2) },
  {
    name: 'adan with decay and a scheduled rate',
    make: () => adan((c) => 1e-2 * 0.9 ** c, { weightDecay: 0.02, epsRoot: 0 }),
  },
  { name: 'optimisticAdamV2', make: () => optimisticAdamV2(1e-2, { alpha: 0.1, beta: 0.5 }) },
];

const SETTINGS: OptimizerOptions[] = [
  { kernel: 'js' },
  { kernel: 'wasm' },
  { kernel: 'generic' },
  { arena: true },
];

const SIZES = [1, 7, 300, 5000];

/**
 * A tree of leaves of {@link SIZES}: gradient-like values (sometimes 0, -0, tiny or huge); for
 * gradients also NaN and -Infinity now and then, and element 0 of every leaf always 0 (so that
 * the `eps = 0` cases meet optax's 0/0).
 */
function makeTree(dtype: 'f32' | 'f64', next: () => number, grads = false): Record<string, Float> {
  const leaf = (n: number): Float => {
    const x = dtype === 'f32' ? new Float32Array(n) : new Float64Array(n);
    for (let i = 0; i < n; i++) x[i] = grads && i === 0 && n > 1 ? 0 : gradValue(next, grads);
    return x;
  };
  return Object.fromEntries(SIZES.map((n, k) => [`l${k}`, leaf(n)]));
}

function sameBits(a: unknown, b: unknown, what: string): void {
  const la = treeLeaves<ArrayLeaf>(a);
  const lb = treeLeaves<ArrayLeaf>(b);
  expect(la.length, what).toBe(lb.length);
  la.forEach((x, k) => {
    const y = lb[k]!;
    expect(x.constructor, what).toBe(y.constructor);
    for (let i = 0; i < x.length; i++)
      if (!Object.is(x[i], y[i]))
        throw new Error(`${what}: leaf ${k} element ${i}: ${x[i]} (in place) vs ${y[i]}`);
  });
}

describe('the in-place Optimizer gives the functional bits (10 steps, leaves of 1, 7, 300, 5000)', () => {
  for (const c of CASES)
    for (const dtype of ['f32', 'f64'] as const)
      it(`${c.name}, ${dtype}`, () => {
        const next = rng(dtype === 'f32' ? 17 : 29);
        const p0 = makeTree(dtype, next);
        const grads = Array.from({ length: 10 }, () => makeTree(dtype, next, true));
        // The functional path.
        const tx = c.make();
        let params: unknown = structuredClone(p0);
        let state = tx.init(params);
        for (const g of grads) {
          let u: unknown;
          [u, state] = tx.update(g, state, params);
          params = applyUpdates(params, u);
        }
        for (const options of SETTINGS) {
          const opt = new Optimizer(c.make(), structuredClone(p0), options);
          if (options.kernel !== 'generic') expect(opt.kernel).toMatch(/^(js|wasm)$/);
          expect(opt.runsInPlace).toBe(true);
          for (const g of grads) opt.step(structuredClone(g));
          const what = `${c.name} ${dtype} ${JSON.stringify(options)}`;
          sameBits(opt.params, params, `${what} params`);
          sameBits(opt.state, state, `${what} state`);
          expect(JSON.stringify(opt.state, (_k, v) => (ArrayBuffer.isView(v) ? 0 : v))).toBe(
            JSON.stringify(state, (_k, v) => (ArrayBuffer.isView(v) ? 0 : v)),
          );
        }
      });
});

// ---------------------------------------------------------------------------------------------
// optax semantics

describe('optax semantics: state fields, counts, defaults, zero divisions', () => {
  const params = { w: Float32Array.of(1, 2) };

  it('state field names and counts', () => {
    const keys = (s: unknown) => Object.keys(s as object).sort();
    expect(keys(scaleByBelief().init(params))).toEqual(['count', 'mu', 'nu']);
    expect(keys(scaleByAdamax().init(params))).toEqual(['count', 'mu', 'nu']);
    expect(keys(scaleByAmsgrad().init(params))).toEqual(['count', 'mu', 'nu', 'nuMax']);
    expect(keys(scaleByYogi().init(params))).toEqual(['count', 'mu', 'nu']);
    expect(keys(scaleByAdan().init(params))).toEqual(['g', 'm', 'n', 't', 'v']);
    expect(keys(scaleByOptimisticGradient().init(params))).toEqual([
      'isInitialStep',
      'previousGradient',
    ]);
    // Chains: [transformation, (decay,) learning rate].
    expect(adabelief(1e-3).init(params)).toHaveLength(2);
    expect(adabelief(1e-3, { weightDecay: 1e-2 }).init(params)).toHaveLength(3);
    expect(adan(1e-3).init(params)).toHaveLength(3); // the decay member is always there
    expect(adamaxw(1e-3).init(params)).toHaveLength(3);
    expect(optimisticAdamV2(1e-3).init(params)).toHaveLength(3);
    // Counts move by one per update; Adan's is `t`.
    for (const [tx, key] of [
      [scaleByBelief(), 'count'],
      [scaleByAdamax(), 'count'],
      [scaleByAmsgrad(), 'count'],
      [scaleByYogi(), 'count'],
      [scaleByAdan(), 't'],
    ] as const) {
      let s: any = tx.init(params);
      for (let k = 0; k < 3; k++) [, s] = tx.update({ w: Float32Array.of(1, -1) }, s);
      expect(s[key]).toBe(3);
    }
    // Yogi's moments start at initialAccumulatorValue (float32-rounded for float32 params).
    const y = scaleByYogi({ initialAccumulatorValue: 0.1 }).init(params);
    expect(y.mu.w).toEqual(Float32Array.of(0.1, 0.1));
    expect(y.nu.w).toEqual(Float32Array.of(0.1, 0.1));
  });

  it('defaults are optax’s', () => {
    // Each default-argument transformation equals the one given optax's defaults explicitly.
    const pairs: [Tx, Tx][] = [
      [scaleByBelief(), scaleByBelief({ b1: 0.9, b2: 0.999, eps: 1e-16, epsRoot: 1e-16 })],
      [scaleByAdamax(), scaleByAdamax({ b1: 0.9, b2: 0.999, eps: 1e-8 })],
      [scaleByAmsgrad(), scaleByAmsgrad({ b1: 0.9, b2: 0.999, eps: 1e-8, epsRoot: 0 })],
      [
        scaleByYogi(),
        scaleByYogi({ b1: 0.9, b2: 0.999, eps: 1e-3, epsRoot: 0, initialAccumulatorValue: 1e-6 }),
      ],
      [scaleByAdan(), scaleByAdan({ b1: 0.98, b2: 0.92, b3: 0.99, eps: 1e-8, epsRoot: 0 })],
      [adan(0.1), adan(0.1, { epsRoot: 1e-8, weightDecay: 0 })],
      [adamaxw(0.1), adamaxw(0.1, { weightDecay: 1e-4 })],
      [nadamw(0.1), nadamw(0.1, { weightDecay: 1e-4 })],
      [optimisticAdamV2(0.1), optimisticAdamV2(0.1, { alpha: 1, beta: 1, nesterov: true })],
      [scaleByOptimisticGradient(), scaleByOptimisticGradient({ alpha: 1, beta: 1 })],
    ];
    const g = { w: Float64Array.of(0.3, -2) };
    const p = { w: Float64Array.of(1, 2) };
    for (const [a, b] of pairs) {
      let sa = a.init(p);
      let sb = b.init(p);
      for (let k = 0; k < 3; k++) {
        let ua: unknown;
        let ub: unknown;
        [ua, sa] = a.update(g, sa, p);
        [ub, sb] = b.update(g, sb, p);
        expect(ua).toEqual(ub);
      }
    }
    // optimisticAdamV2 with nesterov: false differs (the default is true).
    const [u1] = optimisticAdamV2(0.1).update(g, optimisticAdamV2(0.1).init(p));
    const plain = optimisticAdamV2(0.1, { nesterov: false });
    const [u2] = plain.update(g, plain.init(p));
    expect(u1).not.toEqual(u2);
  });

  it('0/0 is NaN where optax divides 0 by 0 (eps = epsRoot = 0, all-zero gradients)', () => {
    const zero = { w: Float32Array.of(0, 1) };
    const nanFirst = (tx: Tx) => {
      const [u] = tx.update(zero, tx.init(params), params);
      const w = (u as { w: Float32Array }).w;
      expect(Number.isNaN(w[0])).toBe(true);
      expect(Number.isFinite(w[1])).toBe(true);
    };
    nanFirst(scaleByBelief({ eps: 0, epsRoot: 0 }));
    nanFirst(scaleByAdamax({ eps: 0 }));
    nanFirst(scaleByAmsgrad({ eps: 0 }));
    nanFirst(scaleByAdan({ eps: 0 }));
    // Yogi's moments start at 1e-6, so a zero gradient gives a finite step even with eps = 0.
    const y = scaleByYogi({ eps: 0 });
    const [u] = y.update(zero, y.init(params));
    expect(Number.isFinite((u as { w: Float32Array }).w[0])).toBe(true);
    // With their defaults, all-zero gradients give 0.
    for (const tx of [scaleByBelief(), scaleByAdamax(), scaleByAmsgrad(), scaleByAdan()] as Tx[]) {
      const [u0] = tx.update(zero, tx.init(params));
      expect((u0 as { w: Float32Array }).w[0]).toBe(0);
    }
  });

  it('states survive a checkpoint: a resumed run gives the same bits', () => {
    for (const c of CASES) {
      const p = { a: Float32Array.of(1, -2, 3), b: Float64Array.of(0.5, 0) };
      const g = (t: number) => ({ a: Float32Array.of(t, -1, 0.5), b: Float64Array.of(1 - t, 2) });
      const tx = c.make();
      let state = tx.init(p);
      for (let t = 0; t < 3; t++) [, state] = tx.update(g(t), state, p);
      const restored = deserializeState(serializeState(state), tx.init(p));
      const [u1, s1] = tx.update(g(3), state, p);
      const [u2, s2] = tx.update(g(3), restored, p);
      sameBits(u2, u1, `${c.name} update`);
      sameBits(s2, s1, `${c.name} state`);
      expect(JSON.stringify(s2, (_k, v) => (ArrayBuffer.isView(v) ? 0 : v))).toBe(
        JSON.stringify(s1, (_k, v) => (ArrayBuffer.isView(v) ? 0 : v)),
      );
    }
  });

  it('the functional update refuses a state without its step field', () => {
    const tx = scaleByAdan();
    const { t: _t, ...noT } = tx.init(params);
    expect(() => tx.update(params, noT as any)).toThrow(
      'scaleByAdan.update: state must be { t, m, v, n, g }',
    );
    expect(() => tx.update(params, { ...tx.init(params), t: -1 })).toThrow(
      'scaleByAdan.update: state.t must be an integer step count',
    );
    const o = scaleByOptimisticGradient();
    expect(() => o.update(params, { ...o.init(params), isInitialStep: 1 } as any)).toThrow(
      'scaleByOptimisticGradient.update: state.isInitialStep must be a boolean',
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Validation

describe('validation: each bad hyperparameter throws a clear error naming the alias', () => {
  const cases: [() => unknown, string, string][] = [
    [() => adabelief(1e-3, { b1: 1 }), 'RangeError', 'adabelief: b1 must be in [0, 1), got 1'],
    [() => adabelief(1e-3, { b2: -0.1 }), 'RangeError', 'adabelief: b2 must be in [0, 1)'],
    [() => adabelief(1e-3, { eps: -1 }), 'RangeError', 'adabelief: eps must be >= 0'],
    [() => adabelief(1e-3, { epsRoot: NaN }), 'RangeError', 'adabelief: epsRoot must be a finite'],
    [
      () => adabelief(1e-3, { nesterov: 1 as any }),
      'TypeError',
      'adabelief: nesterov must be true or false',
    ],
    [() => adabelief(Number.NaN), 'RangeError', 'adabelief: learningRate must be a finite number'],
    [
      () => adabelief(1e-3, { weightDecay: Infinity }),
      'RangeError',
      'adabelief: weightDecay must be',
    ],
    [
      () => adabelief(1e-3, { weightDecayMask: { w: true } }),
      'TypeError',
      'adabelief: weightDecayMask was given without weightDecay',
    ],
    [() => adabelief(1e-3, { mask: {} } as any), 'TypeError', 'adabelief: unknown option "mask"'],
    [() => scaleByBelief({ b1: 2 }), 'RangeError', 'scaleByBelief: b1 must be in [0, 1), got 2'],
    [() => adamax(1e-3, { b1: 1 }), 'RangeError', 'adamax: b1 must be in [0, 1), got 1'],
    [() => adamax(1e-3, { eps: -1e-8 }), 'RangeError', 'adamax: eps must be >= 0'],
    [() => adamax(1e-3, { epsRoot: 0 } as any), 'TypeError', 'adamax: unknown option "epsRoot"'],
    [() => adamaxw(1e-3, { b2: 1 }), 'RangeError', 'adamaxw: b2 must be in [0, 1), got 1'],
    [() => adamaxw(1e-3, { weightDecay: NaN }), 'RangeError', 'adamaxw: weightDecay must be'],
    [() => scaleByAdamax({ b2: 1.5 }), 'RangeError', 'scaleByAdamax: b2 must be in [0, 1)'],
    [() => amsgrad(1e-3, { b1: -1 }), 'RangeError', 'amsgrad: b1 must be in [0, 1), got -1'],
    [() => amsgrad(1e-3, { epsRoot: -1 }), 'RangeError', 'amsgrad: epsRoot must be >= 0'],
    [
      () => amsgrad(1e-3, { biasCorrectionMu: 'yes' as any }),
      'TypeError',
      'amsgrad: biasCorrectionMu must be true or false',
    ],
    [
      () => amsgrad(1e-3, { biasCorrectionNu: 0 as any }),
      'TypeError',
      'amsgrad: biasCorrectionNu must be true or false',
    ],
    [() => scaleByAmsgrad({ eps: -1 }), 'RangeError', 'scaleByAmsgrad: eps must be >= 0'],
    [() => nadam(1e-3, { b1: 1 }), 'RangeError', 'nadam: b1 must be in [0, 1), got 1'],
    [
      () => nadam(1e-3, { nesterov: false } as any),
      'TypeError',
      'nadam: unknown option "nesterov"',
    ],
    [() => nadam('0.1' as any), 'RangeError', 'nadam: learningRate must be a finite number'],
    [() => nadamw(1e-3, { eps: -1 }), 'RangeError', 'nadamw: eps must be >= 0'],
    [() => nadamw(1e-3, { weightDecay: NaN }), 'RangeError', 'nadamw: weightDecay must be'],
    [
      () => nadamw(1e-3, { nesterov: true } as any),
      'TypeError',
      'nadamw: unknown option "nesterov"',
    ],
    [() => yogi(1e-3, { b2: 1 }), 'RangeError', 'yogi: b2 must be in [0, 1), got 1'],
    [() => yogi(1e-3, { eps: -1 }), 'RangeError', 'yogi: eps must be >= 0'],
    [() => yogi(1e-3, { epsRoot: 0 } as any), 'TypeError', 'yogi: unknown option "epsRoot"'],
    [
      () => scaleByYogi({ initialAccumulatorValue: -1 }),
      'RangeError',
      'scaleByYogi: initialAccumulatorValue must be >= 0',
    ],
    [() => adan(1e-3, { b1: 1 }), 'RangeError', 'adan: b1 must be in [0, 1), got 1'],
    [() => adan(1e-3, { b2: -1 }), 'RangeError', 'adan: b2 must be in [0, 1), got -1'],
    [() => adan(1e-3, { b3: 1 }), 'RangeError', 'adan: b3 must be in [0, 1), got 1'],
    [() => adan(1e-3, { eps: -1 }), 'RangeError', 'adan: eps must be >= 0'],
    [() => adan(1e-3, { epsRoot: -1 }), 'RangeError', 'adan: epsRoot must be >= 0'],
    [() => adan(1e-3, { weightDecay: NaN }), 'RangeError', 'adan: weightDecay must be'],
    [() => scaleByAdan({ b3: 1 }), 'RangeError', 'scaleByAdan: b3 must be in [0, 1), got 1'],
    [
      () => optimisticAdamV2(1e-3, { alpha: NaN }),
      'RangeError',
      'optimisticAdamV2: alpha must be a finite number, got NaN',
    ],
    [
      () => optimisticAdamV2(1e-3, { beta: Infinity }),
      'RangeError',
      'optimisticAdamV2: beta must be a finite number',
    ],
    [
      () => optimisticAdamV2(1e-3, { b1: 1 }),
      'RangeError',
      'optimisticAdamV2: b1 must be in [0, 1)',
    ],
    [
      () => optimisticAdamV2(1e-3, { nesterov: 'no' as any }),
      'TypeError',
      'optimisticAdamV2: nesterov must be true or false',
    ],
    [
      () => optimisticAdamV2(1e-3, { optimism: 1 } as any),
      'TypeError',
      'optimisticAdamV2: unknown option "optimism"',
    ],
    [
      () => scaleByOptimisticGradient({ alpha: NaN }),
      'RangeError',
      'scaleByOptimisticGradient: alpha must be a finite number',
    ],
  ];
  for (const [make, name, message] of cases)
    it(message, () => {
      let err: unknown;
      try {
        make();
      } catch (e) {
        err = e;
      }
      expect(err, message).toBeInstanceOf(Error);
      expect((err as Error).name).toBe(name);
      expect((err as Error).message).toContain(message);
    });
});
