import { describe, expect, it } from 'vitest';
import {
  adafactor,
  applyUpdates,
  centralize,
  chain,
  clipByBlockRms,
  contrib,
  deserializeState,
  deserializeStateInto,
  factoredDims,
  fromage,
  type GradientTransformationExtraArgs,
  lamb,
  lars,
  MuonDimensionNumbers,
  muon,
  novograd,
  Optimizer,
  scale,
  scaleByFactoredRms,
  scaleByMuon,
  scaleByNovograd,
  scaleByParamBlockRms,
  scaleByShape,
  scaleBySm3,
  scaleByTrustRatio,
  serializeState,
  shapeOf,
  sm3,
  treeMap,
} from '../src/index.js';
import { treeLeaves } from '../src/tree.js';
import { heapGrowthPerStep } from './heap-helpers.js';
import { rng } from './rng.js';

type Float = Float32Array | Float64Array;
type Ctor = Float32ArrayConstructor | Float64ArrayConstructor;

function shaped<T extends Float>(x: T, shape: number[]): T {
  return Object.assign(x, { shape });
}

/** A params tree of several sizes and shapes, deterministic, in `C`. */
function makeParams(C: Ctor, shapes: number[][], seed = 1): Record<string, Float> {
  const r = rng(seed);
  const out: Record<string, Float> = {};
  shapes.forEach((s, i) => {
    const n = s.reduce((a, b) => a * b, 1);
    out[`p${i}`] = shaped(
      (C as Float64ArrayConstructor).from({ length: n }, () => r() * 2 - 1) as Float,
      s,
    );
  });
  return out;
}

function gradsLike(params: Record<string, Float>, seed: number, special = false) {
  const r = rng(seed);
  return treeMap((p: Float) => {
    const g = p.map(() => r() * 2 - 1);
    if (special && g.length > 3) {
      g[0] = 0;
      g[1] = -0;
      g[2] = 1e-20;
    }
    return g;
  }, params) as Record<string, Float>;
}

const clone = (t: Record<string, Float>) => treeMap((x: Float) => x.slice(), t);

/** The Optimizer (generic in-place steps) gives the functional loop's bits over `steps` steps. */
function expectBitIdentical(
  make: () => GradientTransformationExtraArgs,
  params: Record<string, Float>,
  steps = 10,
  special = false,
) {
  const tx = make();
  let p = clone(params);
  let state = tx.init(p);
  const opt = new Optimizer(make(), clone(params));
  // The same in an arena (the optimizer's own buffers).
  const arena = new Optimizer(make(), clone(params), { arena: true });
  expect(opt.runsInPlace).toBe(true);
  for (let t = 0; t < steps; t++) {
    const g = gradsLike(params, 100 + t, special);
    let u: unknown;
    [u, state] = tx.update(g, state, p);
    p = applyUpdates(p, u);
    opt.step(clone(g));
    arena.step(clone(g));
  }
  const a = treeLeaves<Float>(p);
  const b = treeLeaves<Float>(opt.params);
  treeLeaves<Float>(arena.params).forEach((x, i) => {
    const y = b[i]!;
    for (let j = 0; j < x.length; j++)
      if (!Object.is(x[j], y[j]))
        expect.fail(`arena leaf ${i}[${j}]: ${x[j]}, caller's buffers ${y[j]}`);
  });
  a.forEach((x, i) => {
    const y = b[i]!;
    expect(y.constructor).toBe(x.constructor);
    for (let j = 0; j < x.length; j++)
      if (!Object.is(x[j], y[j]))
        expect.fail(`leaf ${i}[${j}]: functional ${x[j]}, in place ${y[j]}`);
    expect(shapeOf(y)).toEqual(shapeOf(x));
  });
  // The state too.
  const sa = treeLeaves<unknown>(state).filter((x) => ArrayBuffer.isView(x)) as Float[];
  const sb = treeLeaves<unknown>(opt.state).filter((x) => ArrayBuffer.isView(x)) as Float[];
  expect(sb.length).toBe(sa.length);
  sa.forEach((x, i) => {
    expect(Array.from(sb[i]!).every((v, j) => Object.is(v, x[j]))).toBe(true);
  });
}

const SHAPES = [[1], [7], [20, 15], [50, 100]];

describe('scaleByTrustRatio', () => {
  it('rescales each leaf to its param norm (hand-derived)', () => {
    const tx = scaleByTrustRatio();
    // |p| = 10, |u| = 5: ratio 2.
    const [u] = tx.update({ w: Float64Array.of(3, 4) }, {}, { w: Float64Array.of(6, 8) });
    expect(Array.from(u.w)).toEqual([6, 8]);
    // A zero param: ratio 1. trustCoefficient and eps: 0.5 * 10 / (5 + 5) = 0.5.
    const [z] = tx.update({ w: Float64Array.of(3, 4) }, {}, { w: Float64Array.of(0, 0) });
    expect(Array.from(z.w)).toEqual([3, 4]);
    const t2 = scaleByTrustRatio({ trustCoefficient: 0.5, eps: 5 });
    const [h] = t2.update({ w: Float64Array.of(3, 4) }, {}, { w: Float64Array.of(6, 8) });
    expect(Array.from(h.w)).toEqual([1.5, 2]);
    // minNorm raises both norms: |p| = 0 -> 1, |u| = 0.5 -> 1: ratio 1 (both nonzero).
    const t3 = scaleByTrustRatio({ minNorm: 1 });
    const [m] = t3.update({ w: Float64Array.of(0.3, 0.4) }, {}, { w: Float64Array.of(0, 0) });
    expect(Array.from(m.w)).toEqual([0.3, 0.4]);
  });
  it('float32: the ratio is computed in float32', () => {
    const [u] = scaleByTrustRatio().update(
      { w: Float32Array.of(1, 1) },
      {},
      { w: Float32Array.of(1, 0) },
    );
    const r = Math.fround(1 / Math.fround(Math.SQRT2));
    expect(u.w[0]).toBe(Math.fround(1 * r));
  });
  it('validation', () => {
    expect(() => scaleByTrustRatio({ minNorm: -1 })).toThrow(
      'scaleByTrustRatio: minNorm must be >= 0',
    );
    expect(() => scaleByTrustRatio({ eps: Number.NaN })).toThrow(
      'scaleByTrustRatio: eps must be a finite number',
    );
    expect(() => scaleByTrustRatio({ foo: 1 } as never)).toThrow('unknown option "foo"');
    expect(() => scaleByTrustRatio().update({ w: 1 }, {})).toThrow('params are required');
  });
});

describe('lamb, lars, fromage', () => {
  it('lamb: one hand-derived step', () => {
    // Adam's first step is g / (|g| + eps) elementwise = [1/(1+1e-6), 0]; |p| = 5, so the step is
    // scaled to norm 5: u = -lr * 5 * [1, 0].
    const solver = lamb(0.1);
    const p = { w: Float64Array.of(3, 4) };
    const [u] = solver.update({ w: Float64Array.of(1, 0) }, solver.init(p), p);
    expect(u.w[0]).toBeCloseTo(-0.5, 12);
    expect(u.w[1]).toBe(-0);
  });
  it('lars: weight decay, trust ratio, lr, momentum (hand-derived)', () => {
    const solver = lars(0.1, { weightDecay: 0.5, momentum: 0.9 });
    const p = { w: Float64Array.of(3, 4) };
    let st: any = solver.init(p);
    // g + 0.5 p = [1.5, 2] + [0.5, 0] ... with g = [1, 0]: [2.5, 2]; ratio 0.001 * 5 / |[2.5, 2]|.
    const d = [2.5, 2];
    const n = Math.hypot(2.5, 2);
    let u: any;
    [u, st] = solver.update({ w: Float64Array.of(1, 0) }, st, p);
    d.forEach((x, i) => {
      expect(u.w[i]).toBeCloseTo(-0.1 * ((0.001 * 5) / n) * x, 15);
    });
    // optax's state: [add_decayed_weights masked, masked trust ratio, lr, trace].
    expect(Object.keys(st[1])).toEqual(['innerState']);
    expect(Object.keys(st[3])).toEqual(['trace']);
  });
  it('fromage: lr * m and decay m - 1 (hand-derived)', () => {
    const lr = 0.01;
    const m = 1 / Math.sqrt(1 + lr * lr);
    const solver = fromage(lr);
    const p = { w: Float64Array.of(3, 4) };
    const [u] = solver.update({ w: Float64Array.of(1, 0) }, solver.init(p), p);
    // Trust ratio 5: [5, 0]; * -lr m; + (m - 1) p.
    expect(u.w[0]).toBeCloseTo(-lr * m * 5 + (m - 1) * 3, 15);
    expect(u.w[1]).toBeCloseTo((m - 1) * 4, 15);
    const sched = fromage((c: number) => 0.01 / (c + 1));
    expect(() => sched.update({ w: Float64Array.of(1, 0) }, sched.init(p), p)).not.toThrow();
  });
  for (const C of [Float32Array, Float64Array])
    it(`Optimizer = functional, bit for bit (${C.name})`, () => {
      const params = makeParams(C, SHAPES);
      expectBitIdentical(() => lamb(0.01, { weightDecay: 0.01 }), params, 10, true);
      expectBitIdentical(() => lars(0.1, { weightDecay: 1e-4, nesterov: true }), params);
      expectBitIdentical(() => fromage(0.01), params);
      expectBitIdentical(() => fromage((c: number) => 0.01 / (1 + c)), params);
    });
  it('validation names the alias', () => {
    expect(() => lamb(0.1, { b1: 1 })).toThrow('lamb: b1 must be in [0, 1), got 1');
    expect(() => lamb(Number.NaN)).toThrow('lamb: learningRate must be a finite number');
    expect(() => lamb(0.1, { nesterov: true } as never)).toThrow('lamb: unknown option "nesterov"');
    expect(() => lars(0.1, { trustCoefficient: Number.POSITIVE_INFINITY })).toThrow(
      'lars: trustCoefficient must be a finite number',
    );
    expect(() => lars(0.1, { eps: -1 })).toThrow('lars: eps must be >= 0');
    expect(() => fromage(0.1, { minNorm: -1 })).toThrow('fromage: minNorm must be >= 0');
  });
});

describe('adafactor', () => {
  it('factoredDims follows numpy argsort (the later of equal sizes is d0)', () => {
    expect(factoredDims([300, 200], true, 128)).toEqual([1, 0]);
    expect(factoredDims([200, 300], true, 128)).toEqual([0, 1]);
    expect(factoredDims([200, 200], true, 128)).toEqual([0, 1]);
    expect(factoredDims([4, 300, 200], true, 128)).toEqual([2, 1]);
    expect(factoredDims([300, 100], true, 128)).toBeNull();
    expect(factoredDims([300, 300], false, 128)).toBeNull();
    expect(factoredDims([300], true, 1)).toBeNull();
  });

  it('a factored 2x3 moment by hand (float64)', () => {
    const tx = scaleByFactoredRms({ minDimSizeToFactor: 2, epsilon: 0 });
    const p = { w: shaped(new Float64Array(6), [2, 3]) };
    const st = tx.init(p);
    // d0 = 1 (size 3), d1 = 0 (size 2): vRow has shape [2] (mean over columns), vCol [3].
    expect(shapeOf(st.vRow.w)).toEqual([2]);
    expect(shapeOf(st.vCol.w)).toEqual([3]);
    expect(st.v.w.length).toBe(1);
    const g = Float64Array.of(1, 2, 3, 4, 5, 6);
    const [u, s1] = tx.update({ w: g }, st, p);
    // The decay is 1 - (count + 1)^-0.8 = 0 on the first step: the moments are the means of g².
    const c = 1;
    // Row means of g²: [14/3, 77/3]; column means: [17/2, 29/2, 45/2].
    const vr = [c * (14 / 3), c * (77 / 3)];
    const vc = [c * (17 / 2), c * (29 / 2), c * (45 / 2)];
    vr.forEach((x, i) => {
      expect(s1.vRow.w[i]).toBeCloseTo(x, 13);
    });
    vc.forEach((x, i) => {
      expect(s1.vCol.w[i]).toBeCloseTo(x, 13);
    });
    const mean = (vr[0]! + vr[1]!) / 2;
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < 3; j++)
        expect(u.w[i * 3 + j]).toBeCloseTo(
          g[i * 3 + j]! * (vr[i]! / mean) ** -0.5 * vc[j]! ** -0.5,
          12,
        );
    expect(s1.count).toBe(1);
  });

  it('an unfactored leaf by hand, and a 3-D leaf factored over its two largest dims', () => {
    const tx = scaleByFactoredRms();
    const p = { b: Float64Array.of(0, 0) };
    const [u] = tx.update({ b: Float64Array.of(2, -3) }, tx.init(p), p);
    // First step: v = g² + 1e-30, u = g / |g|.
    expect(Array.from(u.b)).toEqual([1, -1]);
    const t3 = scaleByFactoredRms({ minDimSizeToFactor: 3 });
    const w = shaped(new Float64Array(2 * 4 * 3), [2, 4, 3]);
    const s3 = t3.init({ w });
    expect(shapeOf(s3.vRow.w)).toEqual([2, 3]); // without d0 = 1 (size 4)
    expect(shapeOf(s3.vCol.w)).toEqual([2, 4]); // without d1 = 2 (size 3)
    // A constant gradient 2: vRow = vCol = 4, the row factor (vRow / mean vRow)^-0.5 = 1 and the
    // column factor 4^-0.5, so u = 2 * 1 * 0.5 = 1.
    const g = new Float64Array(24).fill(2);
    const [u3] = t3.update({ w: g }, s3, { w });
    expect(Array.from(u3.w)).toEqual(new Array(24).fill(1));
  });

  it('clipByBlockRms and scaleByParamBlockRms by hand', () => {
    const [u] = clipByBlockRms(1).update({ w: Float64Array.of(3, 4) }, {});
    const rms = Math.sqrt(12.5);
    expect(u.w[0]).toBeCloseTo(3 / rms, 15);
    const [v] = scaleByParamBlockRms().update(
      { w: Float64Array.of(1, 1) },
      {},
      { w: Float64Array.of(0, 0) },
    );
    expect(Array.from(v.w)).toEqual([1e-3, 1e-3]);
  });

  it('the alias chain: state layout as optax composes it', () => {
    const st: any = adafactor(0.01, { momentum: 0.9, weightDecayRate: 1e-3 }).init({
      w: new Float32Array(3),
    });
    // factored rms, clip, lr, param scale, ema, decay, scale(-1).
    expect(st.length).toBe(7);
    expect(Object.keys(st[0]).sort()).toEqual(['count', 'v', 'vCol', 'vRow']);
    expect(Object.keys(st[4]).sort()).toEqual(['count', 'ema']);
    expect(adafactor().init({ w: new Float32Array(3) }).length).toBe(4);
    expect(
      adafactor(null, { clippingThreshold: null, multiplyByParameterScale: false }).init({}).length,
    ).toBe(2);
  });

  for (const C of [Float32Array, Float64Array])
    it(`Optimizer = functional, bit for bit (${C.name})`, () => {
      const params = makeParams(C, [[1], [7], [20, 15], [130, 140], [3, 130, 129]]);
      expectBitIdentical(() => adafactor(0.01), params, 6, true);
      expectBitIdentical(
        () => adafactor(null, { minDimSizeToFactor: 10, momentum: 0.9 }),
        params,
        6,
      );
      expectBitIdentical(
        () =>
          adafactor(0.01, {
            minDimSizeToFactor: 3,
            momentum: 0.5,
            dtypeMomentum: 'float64',
            weightDecayRate: 1e-3,
          }),
        params,
        4,
      );
    });

  it('validation names adafactor', () => {
    expect(() => adafactor(null, { decayRate: Number.NaN })).toThrow(
      'adafactor: decayRate must be a finite number',
    );
    expect(() => adafactor(null, { minDimSizeToFactor: 1.5 })).toThrow(
      'adafactor: minDimSizeToFactor must be an integer >= 0',
    );
    expect(() => adafactor(null, { eps: -1 })).toThrow('adafactor: eps must be >= 0');
    expect(() => adafactor(null, { dtypeMomentum: 'int8' as never })).toThrow(
      "adafactor: dtypeMomentum must be 'float32', 'float64' or null",
    );
    expect(() => adafactor(Number.NaN)).toThrow('adafactor: learningRate must be a finite number');
    const tx = scaleByFactoredRms();
    expect(() => tx.update({ w: 1 }, tx.init({ w: 1 }))).toThrow('params are required');
  });
});

describe('muon', () => {
  const mat = (C: Ctor, r: number, c: number, values: number[]) =>
    shaped((C as Float64ArrayConstructor).from(values) as Float, [r, c]);

  it('a 2x2 Newton-Schulz step by hand', () => {
    const tx = scaleByMuon({ nsSteps: 1, nsCoeffs: [1.5, -0.5, 0], eps: 0, nesterov: false });
    const w = mat(Float64Array, 2, 2, [0, 0, 0, 0]);
    const [u, st] = tx.update({ w: Float64Array.of(3, 0, 0, 4) }, tx.init({ w }), { w });
    // mu = 0.05 g, mHat = mu / (1 - 0.95) = g; x = g / |g|_F = diag(0.6, 0.8);
    // A = x xT = diag(0.36, 0.64); b = -0.5 A; x' = 1.5 x + b x = diag(0.792, 0.944).
    const want = [0.792, 0, 0, 0.944];
    want.forEach((x, i) => {
      expect(u.w[i]).toBeCloseTo(x, 14);
    });
    expect(st.count).toBe(1);
    expect(Array.from(st.mu.w)).toEqual([(1 - 0.95) * 3, 0, 0, (1 - 0.95) * 4]);
    expect(st.nsCoeffs).toEqual([1.5, -0.5, 0]);
    expect(shapeOf(u.w)).toEqual([2, 2]);
  });

  it('five standard steps make the rows nearly orthonormal; a tall leaf is the transpose of the wide one', () => {
    const r = rng(7);
    const vals = Array.from({ length: 12 }, () => r() * 2 - 1);
    const wide = mat(Float64Array, 3, 4, vals);
    const tall = mat(
      Float64Array,
      4,
      3,
      Array.from({ length: 12 }, (_, k) => vals[(k % 3) * 4 + Math.floor(k / 3)]!),
    );
    const tx = scaleByMuon({ nesterov: false });
    const [a] = tx.update({ w: wide }, tx.init({ w: wide }), { w: wide });
    const [b] = tx.update({ w: tall }, tx.init({ w: tall }), { w: tall });
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 4; j++) expect(Object.is(a.w[i * 4 + j], b.w[j * 3 + i])).toBe(true);
    for (let i = 0; i < 3; i++) {
      let d = 0;
      for (let k = 0; k < 4; k++) d += a.w[i * 4 + k] ** 2;
      expect(d).toBeGreaterThan(0.4);
      expect(d).toBeLessThan(1.6);
    }
  });

  it('spectral preconditioning divides by the largest singular value', () => {
    // With no Newton-Schulz step the update is mHat / (sigma_max + eps).
    const tx = scaleByMuon({ nsSteps: 0, eps: 0, nesterov: false, preconditioning: 'spectral' });
    const w = mat(Float64Array, 2, 3, [0, 0, 0, 0, 0, 0]);
    // Rows orthogonal with norms 5 and 2: singular values 5 and 2.
    const g = Float64Array.of(3, 4, 0, 0, 0, 2);
    const [v] = tx.update({ w: g }, tx.init({ w }), { w });
    Array.from(g).forEach((x, i) => {
      expect(v.w[i]).toBeCloseTo(x / 5, 14);
    });
    // A full matrix: sigma_max of [[1, 2], [3, 4]] is sqrt(15 + sqrt(221)).
    const sq = mat(Float64Array, 2, 2, [0, 0, 0, 0]);
    const [z] = tx.update({ w: Float64Array.of(1, 2, 3, 4) }, tx.init({ w: sq }), { w: sq });
    const s = Math.sqrt(15 + Math.sqrt(221));
    [1, 2, 3, 4].forEach((x, i) => {
      expect(z.w[i]).toBeCloseTo(x / s, 14);
    });
  });

  it('weight dimension numbers: batches and permuted axes give the 2-D results bit for bit', () => {
    const r = rng(3);
    const vals = Array.from({ length: 24 }, () => r() * 2 - 1);
    const run = (w: Float, dims?: MuonDimensionNumbers) => {
      const tx = scaleByMuon(dims ? { weightDimensionNumbers: { w: dims } } : {});
      return tx.update({ w }, tx.init({ w }), { w })[0].w as Float;
    };
    // [2, 3, 4] with reduction 1 and output 2: two 3x4 matrices, each as its own 2-D leaf.
    const batched = run(shaped(Float32Array.from(vals), [2, 3, 4]), new MuonDimensionNumbers(1, 2));
    for (let b = 0; b < 2; b++) {
      const one = run(mat(Float32Array, 3, 4, vals.slice(b * 12, b * 12 + 12)));
      for (let i = 0; i < 12; i++) expect(Object.is(batched[b * 12 + i], one[i])).toBe(true);
    }
    // A [3, 4] leaf read as reduction 1, output 0: the transpose, as the [4, 3] leaf of its transpose.
    const tv = Array.from({ length: 12 }, (_, k) => vals[(k % 3) * 4 + Math.floor(k / 3)]!);
    const swapped = run(mat(Float64Array, 3, 4, vals.slice(0, 12)), new MuonDimensionNumbers(1, 0));
    const direct = run(mat(Float64Array, 4, 3, tv));
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 4; j++)
        expect(Object.is(swapped[i * 4 + j], direct[j * 3 + i])).toBe(true);
    // A conv kernel [2, 2, 3] as a 4 x 3 matrix (reduction [0, 1], output 2).
    const conv = run(
      shaped(Float64Array.from(vals.slice(0, 12)), [2, 2, 3]),
      new MuonDimensionNumbers([0, 1], -1),
    );
    const flat = run(mat(Float64Array, 4, 3, vals.slice(0, 12)));
    expect(Array.from(conv)).toEqual(Array.from(flat));
    expect(() => new MuonDimensionNumbers([], 1)).toThrow(
      'MuonDimensionNumbers: reductionAxis must be an integer axis',
    );
    expect(() => run(shaped(new Float64Array(6), [2, 3]), new MuonDimensionNumbers(0, 0))).toThrow(
      'must be distinct',
    );
    expect(() => run(shaped(new Float64Array(6), [2, 3]), new MuonDimensionNumbers(0, 2))).toThrow(
      'axis 2 is out of range',
    );
  });

  it('the alias with muonWeightDimensionNumbers: Muon for the leaves that have them', () => {
    const dims = { k: new MuonDimensionNumbers([0, 1], 2), w: null };
    const params = makeParams(Float64Array, [
      [2, 2, 3],
      [4, 5],
    ]);
    const p2 = { k: params.p0!, w: params.p1! };
    const solver = muon(0.02, { muonWeightDimensionNumbers: dims });
    const st: any = solver.init(p2);
    expect(st.innerStates.muon.innerState[0].mu.k.length).toBe(12);
    expect(st.innerStates.muon.innerState[0].mu.w).toBeNull();
    expect(st.innerStates.adam.innerState[0].mu.w.length).toBe(20);
    for (const C of [Float32Array, Float64Array]) {
      const q = makeParams(C, [
        [2, 2, 3],
        [4, 5],
        [3, 3],
      ]);
      const byFn = (p: any) =>
        treeMap(
          (x: Float) => (shapeOf(x)!.length === 3 ? new MuonDimensionNumbers([0, 1], 2) : null),
          p,
        );
      expectBitIdentical(() => muon(0.02, { muonWeightDimensionNumbers: byFn }), q, 4);
    }
  });

  it('scaleByShape: width and consistent-RMS scaling', () => {
    const w = mat(Float64Array, 1, 4, [1, 1, 1, 1]);
    expect(Array.from(scaleByShape().update({ w }, {})[0].w)).toEqual([2, 2, 2, 2]);
    const v = mat(Float64Array, 4, 1, [1, 1, 1, 1]);
    expect(Array.from(scaleByShape().update({ w: v }, {})[0].w)).toEqual([1, 1, 1, 1]);
    const k = scaleByShape({ consistentRms: 0.5 }).update({ w }, {})[0].w;
    expect(Array.from(k)).toEqual([1, 1, 1, 1]);
  });

  it("the alias: matrices to Muon, the rest to AdamW, in optax's partition state", () => {
    const solver = muon(0.02);
    const params = { w: mat(Float32Array, 2, 3, [1, 2, 3, 4, 5, 6]), b: new Float32Array(3) };
    const st: any = solver.init(params);
    expect(Object.keys(st.innerStates).sort()).toEqual(['adam', 'muon']);
    expect(st.innerStates.muon.innerState[0].mu.b).toBeNull();
    expect(st.innerStates.muon.innerState[0].mu.w.length).toBe(6);
    expect(st.innerStates.adam.innerState[0].mu.w).toBeNull();
    // Unshaped grads are fine: the params' shapes decide.
    const g = { w: new Float32Array(6).fill(1), b: Float32Array.of(1, -1, 0) };
    const [u] = solver.update(g, st, params);
    expect(shapeOf(u.w)).toEqual([2, 3]);
    expect(contrib.muon).toBe(muon);
    // The state round-trips through a checkpoint.
    const again: any = deserializeState(serializeState(st), solver.init(params));
    expect(again.innerStates.muon.innerState[0].nsCoeffs).toEqual([3.4445, -4.775, 2.0315]);
  });

  for (const C of [Float32Array, Float64Array])
    it(`Optimizer = functional, bit for bit (${C.name})`, () => {
      const params = makeParams(C, [[1], [7], [20, 15], [15, 20], [40, 30]]);
      expectBitIdentical(() => muon(0.02, { weightDecay: 0.01 }), params, 6, true);
      expectBitIdentical(
        () =>
          muon(0.02, { nsCoeffs: 'dion', adaptive: true, nesterov: false, preconditioning: 'aol' }),
        params,
        4,
      );
      expectBitIdentical(
        () =>
          muon(0.02, { preconditioning: 'schatten', consistentRms: 0.2, adamLearningRate: 0.001 }),
        params,
        4,
      );
      expectBitIdentical(() => muon(0.02, { preconditioning: 'spectral' }), params, 3);
    });

  it('validation', () => {
    expect(() => muon(0.02, { beta: 1 })).toThrow('muon: beta must be in [0, 1), got 1');
    expect(() => muon(0.02, { nsCoeffs: 'fast' as never })).toThrow(
      "muon: nsCoeffs must be 'standard', 'dion'",
    );
    expect(() => scaleByMuon({ nsCoeffs: [1, 2] as never })).toThrow(
      'scaleByMuon: nsCoeffs must be three finite numbers',
    );
    expect(() => scaleByMuon({ nsCoeffs: NS6, nsSteps: 5 })).toThrow(
      'nsCoeffs has 6 rows, more than nsSteps = 5',
    );
    expect(() => scaleByMuon({ preconditioning: 'svd' as never })).toThrow(
      "scaleByMuon: preconditioning must be 'frobenius', 'spectral', 'aol' or 'schatten', got \"svd\"",
    );
    expect(() => muon(Number.NaN)).toThrow('muon: learningRate must be a finite number');
    expect(() => muon(0.1, { foo: 1 } as never)).toThrow('muon: unknown option "foo"');
    const tx = scaleByMuon();
    const v = new Float32Array(3);
    expect(() => tx.update({ w: v }, tx.init({ w: v }), { w: v })).toThrow(
      'scaleByMuon: updates.w is not a matrix',
    );
  });
});

const NS6 = Array.from({ length: 6 }, () => [1, 0, 0] as [number, number, number]);

describe('sm3, novograd, centralize', () => {
  it('scaleBySm3: two steps of a 2x2 leaf by hand', () => {
    const tx = scaleBySm3({ eps: 0 });
    const p = { w: shaped(new Float64Array(4), [2, 2]) };
    let st: any = tx.init(p);
    expect(st.mu.w.map((v: Float) => shapeOf(v))).toEqual([[2], [2]]);
    let u: any;
    // b2 = 1: accum = g² + min(mu0[i], mu1[j]) = g²; up = g / |g| = 1; nu = 0.1 * 1.
    [u, st] = tx.update({ w: Float64Array.of(1, 2, 3, 4) }, st, p);
    expect(Array.from(u.w)).toEqual(new Array(4).fill(1 - 0.9));
    // mu0 = row maxima [4, 16], mu1 = column maxima [9, 16].
    expect(Array.from(st.mu.w[0])).toEqual([4, 16]);
    expect(Array.from(st.mu.w[1])).toEqual([9, 16]);
    // g = 1: accum = 1 + min(mu0[i], mu1[j]) = [5, 5, 10, 17].
    [u, st] = tx.update({ w: Float64Array.of(1, 1, 1, 1) }, st, p);
    [5, 5, 10, 17].forEach((a, i) => {
      expect(u.w[i]).toBeCloseTo((1 - 0.9) / Math.sqrt(a) + 0.9 * (1 - 0.9), 14);
    });
    expect(Array.from(st.mu.w[0])).toEqual([5, 17]);
    expect(Array.from(st.mu.w[1])).toEqual([10, 17]);
  });

  it('scaleByNovograd: two steps by hand', () => {
    const tx = scaleByNovograd({ eps: 0, weightDecay: 0.5 });
    const p = { w: Float64Array.of(1, 2) };
    let st: any = tx.init(p);
    expect(shapeOf(st.nu.w)).toEqual([]);
    let u: any;
    // nu = |g|² = 25; mu = g / 5 + 0.5 p.
    [u, st] = tx.update({ w: Float64Array.of(3, 4) }, st, p);
    expect(Array.from(u.w)).toEqual([0.6 + 0.5, 0.8 + 1]);
    expect(st.nu.w[0]).toBe(25);
    // |g|² = 25 again: nu = 0.75 * 25 + 0.25 * 25 = 25; mu = 0.9 mu + g / 5 + 0.5 p.
    [u, st] = tx.update({ w: Float64Array.of(0, 5) }, st, p);
    expect(u.w[0]).toBeCloseTo(0.9 * 1.1 + 0.5, 14);
    expect(u.w[1]).toBeCloseTo(0.9 * 1.8 + 1 + 1, 14);
    expect(st.count).toBe(2);
  });

  it('centralize: slices along the first axis lose their means; vectors pass', () => {
    const g = shaped(Float64Array.of(1, 2, 3, 4, 5, 6, 7, 9), [2, 2, 2]);
    const v = Float64Array.of(1, 2, 3);
    const [u] = centralize().update({ g, v, s: 2 }, {});
    expect(Array.from(u.g)).toEqual([-1.5, -0.5, 0.5, 1.5, -1.75, -0.75, 0.25, 2.25]);
    expect(Array.from(u.v)).toEqual([1, 2, 3]);
    expect(u.v).not.toBe(v);
    expect(u.s).toBe(2);
    expect(shapeOf(u.g)).toEqual([2, 2, 2]);
  });

  for (const C of [Float32Array, Float64Array])
    it(`Optimizer = functional, bit for bit (${C.name})`, () => {
      const params = makeParams(C, [[1], [7], [20, 15], [4, 5, 6], [300]]);
      expectBitIdentical(() => sm3(0.1), params, 10, true);
      expectBitIdentical(() => sm3(0.1, { momentum: 0.5 }), params, 5);
      expectBitIdentical(() => novograd(0.1, { weightDecay: 0.01 }), params, 10, true);
      expectBitIdentical(() => chain(centralize(), scale(-0.1)), params, 3, true);
    });

  it('validation', () => {
    expect(() => novograd(0.1, { b2: 1 })).toThrow('novograd: b2 must be in [0, 1), got 1');
    expect(() => novograd(0.1, { eps: -1 })).toThrow('novograd: eps must be >= 0');
    expect(() => novograd(0.1, { weightDecay: (() => 0) as never })).toThrow(
      'novograd: weightDecay must be a finite number',
    );
    expect(() => sm3((() => 0.1) as never)).toThrow(
      "sm3: learningRate must be a finite number (optax's sm3 takes no schedule)",
    );
    expect(() => sm3(0.1, { momentum: Number.NaN })).toThrow(
      'sm3: momentum must be a finite number',
    );
    expect(() => scaleBySm3({ eps: -1 })).toThrow('scaleBySm3: eps must be >= 0');
    expect(() => scaleBySm3().init({ w: 1 })).toThrow(
      'scaleBySm3.init: number leaves are not supported',
    );
    const tx = scaleByNovograd();
    expect(() => tx.update({ w: 1 }, tx.init({ w: 1 }))).toThrow('params are required');
  });
});

describe('in place, no buffer allocated per step', () => {
  it('each transformation of this family, float32 and float64', () => {
    const makers: [string, () => GradientTransformationExtraArgs][] = [
      ['scaleByTrustRatio', () => chain(scaleByTrustRatio(), scale(-1e-3))],
      [
        'scaleByFactoredRms',
        () => chain(scaleByFactoredRms({ minDimSizeToFactor: 4 }), scale(-1e-3)),
      ],
      ['clipByBlockRms', () => chain(clipByBlockRms(1), scaleByParamBlockRms(), scale(-1e-3))],
      ['scaleByMuon', () => chain(scaleByMuon(), scale(-1e-3))],
      ['scaleBySm3', () => chain(scaleBySm3(), scale(-1e-3))],
      ['scaleByNovograd', () => chain(scaleByNovograd(), scale(-1e-3))],
      ['centralize', () => chain(centralize(), scale(-1e-3))],
      ['adafactor', () => adafactor(1e-3, { minDimSizeToFactor: 4, momentum: 0.9 })],
      ['muon', () => muon(1e-3)],
    ];
    for (const [name, make] of makers)
      for (const C of [Float32Array, Float64Array]) {
        const params = makeParams(C, [
          [6, 8],
          [8, 6],
          [3, 4],
          [5, 7],
        ]);
        const grads = gradsLike(params, 5);
        const opt = new Optimizer(make(), params);
        for (let k = 0; k < 2000; k++) opt.step(grads);
        const growth = heapGrowthPerStep(() => opt.step(grads), 2000, 5);
        // One typed array per leaf per step would take over 4 x 200 bytes here (a header and
        // its buffer, 24 to 48 elements); what remains (0 to about 300 bytes a step, measured,
        // most in the generic engine's chains and masks) is numbers boxed by the engine.
        expect(growth, `${name} ${C.name}`).toBeLessThan(500);
      }
  });
});

describe('checkpoints of these states', () => {
  it('serialize, restore into a fresh Optimizer, continue: the same bits as without the break', () => {
    const makers: [string, () => GradientTransformationExtraArgs][] = [
      ['lamb', () => lamb(1e-2)],
      ['lars', () => lars(1e-2)],
      ['adafactor', () => adafactor(1e-2, { minDimSizeToFactor: 4, momentum: 0.9 })],
      ['muon', () => muon(1e-2)],
      ['sm3', () => sm3(1e-2)],
      ['novograd', () => novograd(1e-2)],
    ];
    for (const [name, make] of makers)
      for (const C of [Float32Array, Float64Array]) {
        const params = makeParams(C, [[6, 8], [3], [2, 3, 4]]);
        const a = new Optimizer(make(), clone(params));
        for (let t = 0; t < 3; t++) a.step(gradsLike(params, t));
        const bytes = serializeState(a.state);
        const b = new Optimizer(make(), clone(a.params as Record<string, Float>));
        deserializeStateInto(bytes, b.state);
        // The functional path reads the same file.
        const restored = deserializeState(bytes, make().init(params));
        expect(serializeState(restored)).toEqual(bytes);
        for (let t = 3; t < 6; t++) {
          a.step(gradsLike(params, t));
          b.step(gradsLike(params, t));
        }
        const x = treeLeaves<Float>(a.params);
        treeLeaves<Float>(b.params).forEach((y, i) => {
          expect(
            Array.from(y).every((v, j) => Object.is(v, x[i]![j])),
            `${name} ${C.name}`,
          ).toBe(true);
        });
      }
  });
});
