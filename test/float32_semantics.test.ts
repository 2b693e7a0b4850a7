/**
 * Float32 semantics: a `Float32Array` is computed in float32, operation by operation, with scalars
 * rounded to float32 first (as optax computes float32 arrays). Checked bit for bit against an
 * independent NumPy float32 implementation of optax's radam and adam
 * (`scripts/reference_float32.py`), through the functional path and every in-place kernel
 * (JavaScript, WebAssembly f32x4, generic); plus the mixed-dtype rule of `src/leaf.ts`.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  addDecayedWeights,
  applyUpdates,
  chain,
  type GradientTransformationExtraArgs,
  Optimizer,
  scaleByAdam,
  scaleByLearningRate,
  scaleByRadam,
  typedArrayOps,
} from '../src/index.js';
import type { OptimizerOptions } from '../src/inplace/optimizer.js';

interface Case {
  name: string;
  kind: 'radam' | 'adam';
  size: number;
  steps: number;
  b1: number;
  b2: number;
  eps: number;
  eps_root: number;
  threshold: number;
  nesterov: boolean;
  lr: number;
  weight_decay: number | null;
  p0: string[];
  grads: string[][];
  params: string[][];
  mu: string[];
  nu: string[];
}

const fixture = JSON.parse(
  readFileSync(new URL('./fixtures/radam_float32_numpy.json', import.meta.url), 'utf8'),
) as { cases: Case[] };

/** Float32 values from the hex of their bit patterns. */
const f32 = (hex: readonly string[]): Float32Array =>
  new Float32Array(Uint32Array.from(hex, (h) => Number.parseInt(h, 16)).buffer);

/** Index of the first element that differs (`Object.is`: -0 is not 0, NaN is NaN), or -1. */
function firstDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return 0;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

function makeTx(c: Case): GradientTransformationExtraArgs {
  const opts = { b1: c.b1, b2: c.b2, eps: c.eps, epsRoot: c.eps_root, nesterov: c.nesterov };
  const first =
    c.kind === 'radam' ? scaleByRadam({ ...opts, threshold: c.threshold }) : scaleByAdam(opts);
  if (c.weight_decay === null) return chain(first, scaleByLearningRate(c.lr));
  // A constant rate is fused by the in-place Optimizer together with radam.
  return chain(first, addDecayedWeights(c.weight_decay), scaleByLearningRate(c.lr));
}

const MODES: { options: OptimizerOptions; radam: string; adam: string }[] = [
  { options: {}, radam: 'js', adam: 'js' },
  { options: { arena: true }, radam: 'wasm', adam: 'wasm' },
  { options: { arena: true, kernel: 'js' }, radam: 'js', adam: 'js' },
  { options: { kernel: 'generic' }, radam: 'generic', adam: 'generic' },
];

describe('float32 arithmetic against NumPy float32 (optax formulas)', () => {
  for (const c of fixture.cases) {
    it(`${c.name}: the functional path, every step`, () => {
      const tx = makeTx(c);
      let params: { w: Float32Array } = { w: f32(c.p0) };
      let state = tx.init(params);
      c.grads.forEach((g, k) => {
        const [u, s] = tx.update({ w: f32(g) }, state, params);
        state = s;
        params = applyUpdates(params, u);
        expect(params.w).toBeInstanceOf(Float32Array);
        expect(firstDiff(params.w, f32(c.params[k]!)), `step ${k + 1}`).toBe(-1);
      });
      const [{ mu, nu }] = state as [{ mu: { w: Float32Array }; nu: { w: Float32Array } }];
      expect(firstDiff(mu.w, f32(c.mu))).toBe(-1);
      expect(firstDiff(nu.w, f32(c.nu))).toBe(-1);
    });

    for (const mode of MODES) {
      it(`${c.name}: the in-place Optimizer ${JSON.stringify(mode.options)}`, () => {
        const opt = new Optimizer(makeTx(c), { w: f32(c.p0) }, mode.options);
        expect(opt.kernel).toBe(mode[c.kind]);
        c.grads.forEach((g, k) => {
          opt.step({ w: f32(g) });
          expect(firstDiff(opt.params.w, f32(c.params[k]!)), `step ${k + 1}`).toBe(-1);
        });
        const [{ mu, nu }] = opt.state as [{ mu: { w: Float32Array }; nu: { w: Float32Array } }];
        expect(firstDiff(mu.w, f32(c.mu))).toBe(-1);
        expect(firstDiff(nu.w, f32(c.nu))).toBe(-1);
      });
    }
  }

  it('differs from computing each operation in float64 and rounding once (the fixture discriminates)', () => {
    // radam defaults: element 1 has g = 1e20 at every step. In float32, g * g overflows to
    // Infinity, so nu = Infinity and every rectified step divides by Infinity (a zero step). In
    // float64, g * g = 1e40 and (1 - b2) * g * g = 1e37 is finite in float32.
    const c = fixture.cases[0]!;
    expect(f32(c.nu)[1]).toBe(Infinity);
    const fr = Math.fround;
    expect(fr(0.001 * (1e20 * 1e20))).toBeLessThan(Infinity);
    // A float64-per-operation model of the whole trajectory (the previous semantics) ends elsewhere.
    const g0 = f32(c.grads[0]!);
    const p = f32(c.p0);
    const m = new Float32Array(p.length);
    const v = new Float32Array(p.length);
    const rhoInf = 2 / (1 - c.b2) - 1;
    c.grads.forEach((hex, k) => {
      const g = k === 0 ? g0 : f32(hex);
      const t = k + 1;
      const bc1 = 1 - c.b1 ** t;
      const bc2 = 1 - c.b2 ** t;
      const rho = rhoInf - (2 * t * c.b2 ** t) / bc2;
      const r = Math.sqrt(((rho - 4) * (rho - 2) * rhoInf) / ((rhoInf - 4) * (rhoInf - 2) * rho));
      for (let i = 0; i < p.length; i++) {
        m[i] = (1 - c.b1) * g[i]! + c.b1 * m[i]!;
        v[i] = (1 - c.b2) * (g[i]! * g[i]!) + c.b2 * v[i]!;
        let u = fr(m[i]! / bc1);
        if (rho >= c.threshold && u !== 0)
          u = fr((r * u) / (Math.sqrt(v[i]! / bc2 + c.eps_root) + c.eps));
        p[i] = p[i]! + fr(u * -c.lr);
      }
    });
    const expected = f32(c.params[c.steps - 1]!);
    let differing = 0;
    for (let i = 0; i < p.length; i++) if (!Object.is(p[i], expected[i])) differing++;
    expect(differing).toBeGreaterThan(0);
    expect(v[1]).toBeLessThan(Infinity);
  });
});

describe('mixed dtypes: the result dtype decides', () => {
  it('a float64 input to a float32 result is rounded to float32 before any arithmetic', () => {
    // 1 + (2^-24 + 2^-50): rounded first, the update is 2^-24 and 1 + 2^-24 is a tie that rounds
    // to even, 1. Added in float64 and rounded once, it would be just above the tie: 1 + 2^-23.
    const p = Float32Array.of(1);
    const u = Float64Array.of(2 ** -24 + 2 ** -50);
    expect(typedArrayOps.add(p, u)[0]).toBe(1);
    expect(Math.fround(1 + u[0]!)).toBe(1 + 2 ** -23);
    const next = applyUpdates({ w: p }, { w: u });
    expect(next.w).toBeInstanceOf(Float32Array);
    expect(next.w[0]).toBe(1);
  });

  it('every operation: mixed inputs give the bits of the same inputs converted first', () => {
    const a64 = Float64Array.from(
      { length: 50 },
      (_, i) => Math.sin(i * 1.7) * 10 ** ((i % 7) - 3),
    );
    const b64 = Float64Array.from({ length: 50 }, (_, i) => Math.cos(i * 0.3) + 1e-9 * i);
    const a32 = Float32Array.from(a64);
    const b32 = Float32Array.from(b64);
    const ops = typedArrayOps;
    const same = (x: ArrayLike<number>, y: ArrayLike<number>) => expect(firstDiff(x, y)).toBe(-1);
    // float32 results: float64 inputs rounded to float32 first.
    same(ops.moment(b64, a32, 0.9, 1), ops.moment(b32, a32, 0.9, 1));
    same(ops.moment(b64, a32, 0.999, 2), ops.moment(b32, a32, 0.999, 2));
    same(ops.linearCombination(0.3, a32, -1.7, b64), ops.linearCombination(0.3, a32, -1.7, b32));
    same(
      ops.adamRatio(a32, b64, 0.7, 0.1, 1e-9, 1e-8),
      ops.adamRatio(a32, b32, 0.7, 0.1, 1e-9, 1e-8),
    );
    same(ops.scale(a64, 0.1, new Float32Array(50)), ops.scale(a32, 0.1));
    same(ops.divide(a64, 3, new Float32Array(50)), ops.divide(a32, 3));
    // float64 results: float32 inputs are exact in float64.
    const b32as64 = Float64Array.from(b32);
    same(ops.moment(b32, a64, 0.9, 1), ops.moment(b32as64, a64, 0.9, 1));
    same(
      ops.linearCombination(0.3, a64, -1.7, b32),
      ops.linearCombination(0.3, a64, -1.7, b32as64),
    );
    same(ops.add(a64, b32), ops.add(a64, b32as64));
    expect(ops.add(a64, b32)).toBeInstanceOf(Float64Array);
  });

  it('a float32 operation rounds each scalar and each intermediate to float32', () => {
    const fr = Math.fround;
    // moment, order 2: R(R(R(1 - d) * R(g * g)) + R(R(d) * m)).
    const g = Float32Array.of(1.1, -3e-23, 1e20);
    const m = Float32Array.of(0.5, 0, 1);
    const out = typedArrayOps.moment(g, m, 0.999, 2);
    for (let i = 0; i < 3; i++)
      expect(out[i]).toBe(fr(fr(fr(1 - 0.999) * fr(g[i]! * g[i]!)) + fr(fr(0.999) * m[i]!)));
    expect(out[1]).toBe(0); // 9e-46 underflows to 0 in float32
    expect(out[2]).toBe(Infinity); // 1e40 overflows in float32
    // adamRatio: R(R(R(r) * m) / R(R(sqrt(R(R(v / R(bc2)) + R(epsRoot)))) + R(eps))).
    const ratio = typedArrayOps.adamRatio(
      Float32Array.of(0.3, 0, -0),
      Float32Array.of(0.2, 0, 0),
      0.1,
      0.7,
      0.01,
      0.001,
    );
    const den = fr(fr(Math.sqrt(fr(fr(fr(0.2) / fr(0.7)) + fr(0.01)))) + fr(0.001));
    expect(ratio[0]).toBe(fr(fr(fr(0.1) * fr(0.3)) / den));
    expect(Object.is(ratio[1], 0) && Object.is(ratio[2], -0)).toBe(true);
  });
});
