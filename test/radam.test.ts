/**
 * Hand-derived expectations for scaleByRadam/radam: the momentum phase, the first rectified step,
 * Nesterov, epsRoot, thresholds, schedules, dtypes, step-count saturation and argument checks.
 *
 * A constant gradient g makes the algebra short: after t steps mu = (1 - b1^t) g and
 * nu = (1 - b2^t) g², so the bias-corrected moments are exactly g and g², and a rectified update
 * is r_t g / (|g| + eps).
 */
import { describe, expect, it } from 'vitest';
import {
  applyUpdates,
  chain,
  INT32_MAX,
  newRadamScalars,
  Optimizer,
  radam,
  radamScalars,
  scaleByLearningRate,
  scaleByRadam,
} from '../src/index.js';

const DEFAULTS = { b1: 0.9, b2: 0.999, eps: 1e-8, epsRoot: 0, threshold: 5, nesterov: false };

/** Runs `steps` updates of `tx` with a constant gradient; returns every step's updates. */
function constantGradientUpdates(tx: ReturnType<typeof radam>, g: Float64Array, steps: number) {
  let state = tx.init(g);
  const out: Float64Array[] = [];
  for (let i = 0; i < steps; i++) {
    const [u, s] = tx.update(g, state, g);
    state = s;
    out.push(u as Float64Array);
  }
  return out;
}

describe('per-step scalars', () => {
  it('rho_t and r_t with b2 = 0.999: steps 1-5 momentum, step 6 the first rectified', () => {
    const s = newRadamScalars();
    const rho = [1, 1.9995, 2.99867, 3.9975, 4.996, 5.99416];
    rho.forEach((want, i) => {
      radamScalars(i, DEFAULTS, s);
      expect(s.t).toBe(i + 1);
      expect(s.rho).toBeCloseTo(want, 4);
      expect(s.rectify).toBe(i + 1 >= 6);
    });
    radamScalars(5, DEFAULTS, s);
    // NOTES.md: r_6 = 0.0258.
    expect(s.r).toBeCloseTo(0.025821, 6);
    expect(s.bc1).toBeCloseTo(1 - 0.9 ** 6, 15);
    expect(s.bc2).toBeCloseTo(1 - 0.999 ** 6, 15);
  });

  it('are float64 whatever the leaves: b2 = 0.9999 gives rho_1 = 1, not a rectified step', () => {
    const s = radamScalars(0, { ...DEFAULTS, b2: 0.9999 }, newRadamScalars());
    expect(s.rho).toBeCloseTo(1, 9);
    expect(s.rectify).toBe(false);
    const g = new Float32Array([0.5, -2]);
    const tx = radam(0.1, { b2: 0.9999 });
    const [u] = tx.update(g, tx.init(g), g);
    expect(u).toBeInstanceOf(Float32Array);
    expect(Array.from(u as Float32Array)).toEqual([Math.fround(-0.05), Math.fround(0.2)]);
  });

  it('r_t is exactly 1 once b2^t underflows, even for b2 = 0.6 where rho_inf = 4', () => {
    const s = radamScalars(5000, { ...DEFAULTS, b2: 0.6, threshold: 4 }, newRadamScalars());
    expect(s.rho).toBe(4);
    expect(s.rectify).toBe(true);
    expect(s.r).toBe(1);
  });
});

describe('radam updates, derived by hand', () => {
  const g = new Float64Array([2, -0.5, 1e-3]);
  const lr = 0.01;

  it('momentum phase: each of the first five updates is -lr * g', () => {
    const us = constantGradientUpdates(radam(lr), g, 5);
    for (const u of us)
      for (let i = 0; i < g.length; i++) expect(u[i]).toBeCloseTo(-lr * g[i]!, 15);
  });

  it('step 6 is rectified: -lr * r_6 * g / (|g| + eps)', () => {
    const u = constantGradientUpdates(radam(lr), g, 6)[5]!;
    const r6 = radamScalars(5, DEFAULTS, newRadamScalars()).r;
    for (let i = 0; i < g.length; i++)
      expect(u[i]).toBeCloseTo((-lr * r6 * g[i]!) / (Math.abs(g[i]!) + 1e-8), 14);
  });

  it('the zero-gradient element with eps = 0 gets a zero update, not NaN', () => {
    const g0 = new Float64Array([0, 1]);
    const us = constantGradientUpdates(radam(lr, { eps: 0 }), g0, 8);
    for (const u of us) {
      expect(u[0]).toBe(-0);
      expect(Number.isFinite(u[1])).toBe(true);
    }
  });

  it('Nesterov: step 1 is -lr * (1 + b1 / (1 + b1)) * g; the stored mu stays plain', () => {
    const tx = radam(lr, { nesterov: true });
    const state = tx.init(g);
    const [u, s] = tx.update(g, state, g);
    for (let i = 0; i < g.length; i++)
      expect((u as Float64Array)[i]).toBeCloseTo(-lr * (1 + 0.9 / 1.9) * g[i]!, 15);
    const mu = ((s as unknown[])[0] as { mu: Float64Array }).mu;
    for (let i = 0; i < g.length; i++) expect(mu[i]).toBeCloseTo(0.1 * g[i]!, 15);
  });

  it('Nesterov with a constant gradient at step t: b1 (1-b1^t)/(1-b1^(t+1)) g + g, rectified', () => {
    const t = 7;
    const u = constantGradientUpdates(radam(lr, { nesterov: true }), g, t)[t - 1]!;
    const r = radamScalars(t - 1, DEFAULTS, newRadamScalars()).r;
    for (let i = 0; i < g.length; i++) {
      const mHat =
        (0.9 * (1 - 0.9 ** t) * g[i]!) / (1 - 0.9 ** (t + 1)) +
        ((1 - 0.9) * g[i]!) / (1 - 0.9 ** t);
      expect(u[i]).toBeCloseTo((-lr * r * mHat) / (Math.abs(g[i]!) + 1e-8), 14);
    }
  });

  it('epsRoot sits inside the square root, eps outside', () => {
    const half = new Float64Array([0.5]);
    const u = constantGradientUpdates(radam(lr, { epsRoot: 0.75, eps: 0.25 }), half, 6)[5]!;
    const r6 = radamScalars(5, DEFAULTS, newRadamScalars()).r;
    // sqrt(0.25 + 0.75) + 0.25 = 1.25
    expect(u[0]).toBeCloseTo((-lr * r6 * 0.5) / 1.25, 15);
  });

  it('threshold moves the first rectified step: 4 -> step 5, 6.5 -> step 7', () => {
    const one = new Float64Array([1]);
    const at4 = constantGradientUpdates(radam(1, { threshold: 4, eps: 0 }), one, 5);
    expect(at4[3]![0]).toBeCloseTo(-1, 15);
    expect(at4[4]![0]).toBeCloseTo(-0.017311503166315, 12);
    const at65 = constantGradientUpdates(radam(1, { threshold: 6.5, eps: 0 }), one, 7);
    expect(at65[5]![0]).toBeCloseTo(-1, 15);
    expect(at65[6]![0]).toBeCloseTo(-0.032738814409964, 12);
  });

  it('a schedule learning rate sees its own count, 0 on the first update', () => {
    const seen: number[] = [];
    const tx = radam((count) => {
      seen.push(count);
      return 0.1 / (count + 1);
    });
    const us = constantGradientUpdates(tx, g, 3);
    expect(seen).toEqual([0, 1, 2]);
    expect(us[2]![0]).toBeCloseTo((-0.1 / 3) * g[0]!, 14);
  });

  it('radam is chain(scaleByRadam, scaleByLearningRate), bit for bit', () => {
    const a = constantGradientUpdates(radam(lr, { b1: 0.8 }), g, 10);
    const b = constantGradientUpdates(
      chain(scaleByRadam({ b1: 0.8 }), scaleByLearningRate(lr)),
      g,
      10,
    );
    expect(a).toEqual(b);
  });
});

describe('state and dtypes', () => {
  it('Float32Array params keep float32 state and updates; Float64Array float64', () => {
    for (const Ctor of [Float32Array, Float64Array]) {
      const p = new Ctor([1, 2]);
      const tx = radam(0.1);
      const [u, s] = tx.update(new Ctor([1, 1]), tx.init(p), p);
      const st = (s as unknown[])[0] as { count: number; mu: unknown; nu: unknown };
      expect(u).toBeInstanceOf(Ctor);
      expect(st.mu).toBeInstanceOf(Ctor);
      expect(st.nu).toBeInstanceOf(Ctor);
      expect(st.count).toBe(1);
      expect(applyUpdates(p, u)).toBeInstanceOf(Ctor);
    }
  });

  it('the step count saturates at the int32 maximum, and the step still works', () => {
    const tx = scaleByRadam();
    const p = new Float64Array([1]);
    const state = { ...tx.init(p), count: INT32_MAX };
    const [u, s] = tx.update(p, state);
    expect(s.count).toBe(INT32_MAX);
    expect(Number.isFinite((u as Float64Array)[0])).toBe(true);
  });

  it('null leaves pass through untouched; number leaves work', () => {
    const params = { w: new Float64Array([1]), frozen: null, b: 2 };
    const tx = radam(0.1);
    const [u] = tx.update(
      { w: new Float64Array([1]), frozen: null, b: 4 },
      tx.init(params),
      params,
    );
    expect(u.frozen).toBeNull();
    expect(u.b).toBeCloseTo(-0.4, 15);
    expect(applyUpdates(params, u).frozen).toBeNull();
  });
});

describe('argument checks', () => {
  const bad: [object, RegExp][] = [
    [{ b1: 1 }, /\b(scaleByRadam|radam): b1 must be in \[0, 1\), got 1/],
    [{ b1: -0.1 }, /b1 must be in \[0, 1\), got -0.1/],
    [{ b2: Number.NaN }, /b2 must be in \[0, 1\), got NaN/],
    [{ eps: -1 }, /eps must be >= 0 and finite, got -1/],
    [{ epsRoot: Number.POSITIVE_INFINITY }, /epsRoot must be a finite number, got Infinity/],
    [{ threshold: 3 }, /threshold must be >= 4, got 3: for 2 < rho_t < 4/],
    [{ nesterov: 'yes' }, /nesterov must be true or false, got "yes"/],
    [
      { beta1: 0.9 },
      /unknown option "beta1"; expected one of b1, b2, eps, epsRoot, threshold, nesterov/,
    ],
  ];
  for (const [options, message] of bad) {
    it(`refuses ${JSON.stringify(options)}`, () => {
      expect(() => scaleByRadam(options as never)).toThrow(message);
      expect(() => radam(0.1, options as never)).toThrow(message);
    });
  }

  it('refuses a non-finite learning rate, and a schedule returning NaN before changing anything', () => {
    expect(() => radam(Number.NaN)).toThrow(
      /radam: learningRate must be a finite number or a schedule \(count\) => number, got NaN/,
    );
    const p = { w: new Float32Array([1, 2]) };
    const opt = new Optimizer(
      radam((c) => (c < 1 ? 0.1 : Number.NaN)),
      p,
    );
    opt.step({ w: new Float32Array([1, 1]) });
    const before = Array.from(p.w);
    const stateBefore = JSON.stringify(opt.state, (_k, v) =>
      ArrayBuffer.isView(v) ? Array.from(v as Float32Array) : v,
    );
    expect(() => opt.step({ w: new Float32Array([1, 1]) })).toThrow(
      /the learning-rate schedule returned NaN at count 1; expected a finite number/,
    );
    expect(Array.from(p.w)).toEqual(before);
    expect(
      JSON.stringify(opt.state, (_k, v) =>
        ArrayBuffer.isView(v) ? Array.from(v as Float32Array) : v,
      ),
    ).toBe(stateBefore);
  });

  it('refuses a state from another transformation', () => {
    const p = new Float64Array(2);
    expect(() => scaleByRadam().update(p, {} as never)).toThrow(
      /scaleByRadam.update: state must be \{ count, mu, nu \}/,
    );
    expect(() => radam(0.1).update(p, [{}] as never)).toThrow(
      /chain.update: state must be the list of 2 member states/,
    );
  });

  it('names the path of mismatched trees and unsupported leaves', () => {
    const params = {
      layers: [
        { w: new Float32Array(12) },
        { w: new Float32Array(12) },
        { w: new Float32Array(12) },
      ],
    };
    const opt = new Optimizer(radam(0.1), params);
    const grads = {
      layers: [
        { w: new Float32Array(12) },
        { w: new Float32Array(12) },
        { w: new Float32Array(10) },
      ],
    };
    expect(() => opt.step(grads)).toThrow('grads.layers[2].w: length 10, params has 12');
    const tx = radam(0.1);
    expect(() => tx.update(grads, tx.init(params), params)).toThrow(
      'updates.layers[2].w: length 10, state.mu has 12',
    );
    expect(() => tx.init({ a: new Int32Array(3) })).toThrow(
      'tree.a: unsupported leaf Int32Array; expected number, Float32Array or Float64Array',
    );
    expect(() => tx.init({ a: 'x' })).toThrow('tree.a: unsupported leaf string "x"');
  });
});
