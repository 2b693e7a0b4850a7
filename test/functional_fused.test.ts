/**
 * The functional path's fused update (`chain`'s `update` over typed-array trees whose members all
 * carry a fusion tag, run as one generated kernel per leaf): the same updates and state, bit for
 * bit, as the members run one by one (the same chain built from untagged copies of the members),
 * over many steps, both dtypes, leaves that take the JavaScript and the WebAssembly kernels, and
 * values that include NaN, infinities and signed zeros. And where it does not apply, it gets out
 * of the way: the unfused path runs and its errors are the ones users see.
 */
import { describe, expect, it } from 'vitest';
import { fusedUpdate } from '../src/fusion.js';
import {
  addDecayedWeights,
  applyUpdates,
  chain,
  clip,
  type GradientTransformationExtraArgs,
  scaleByAdam,
  scaleByLearningRate,
  scaleByRadam,
  trace,
} from '../src/index.js';
import { rng } from './rng.js';

type Float = Float32Array | Float64Array;

/** A chain's members, fresh each call (so the fused and unfused chains share no state). */
const CHAINS: [string, () => GradientTransformationExtraArgs[]][] = [
  ['radam', () => [scaleByRadam(), scaleByLearningRate(3e-3)]],
  [
    'radam nesterov, weight decay, schedule',
    () => [
      scaleByRadam({ nesterov: true, b1: 0.8 }),
      addDecayedWeights(0.01),
      scaleByLearningRate((c) => 0.01 / (1 + c)),
    ],
  ],
  ['adam', () => [scaleByAdam({ epsRoot: 1e-9 }), scaleByLearningRate(1e-2)]],
  ['adamw', () => [scaleByAdam(), addDecayedWeights(1e-2), scaleByLearningRate(1e-2)]],
  ['sgd nesterov momentum', () => [trace(0.9, { nesterov: true }), scaleByLearningRate(0.1)]],
  [
    'clip, trace, scheduled decay',
    () => [clip(0.3), trace(0.5), addDecayedWeights((c) => 0.1 * c), scaleByLearningRate(0.1)],
  ],
];

function leaves(rand: () => number, f32: boolean, sizes: number[], specials: boolean) {
  const out: Record<string, Float> = {};
  sizes.forEach((n, i) => {
    const a = f32 ? new Float32Array(n) : new Float64Array(n);
    for (let j = 0; j < n; j++) {
      const r = rand();
      a[j] =
        specials && r < 0.02
          ? [Number.NaN, Infinity, -Infinity, 0, -0][Math.floor(rand() * 5)]!
          : (rand() - 0.5) * 4;
    }
    out[`l${i}`] = a;
  });
  return out;
}

/** Bits, with every NaN taken as one value (WebAssembly may give a NaN another sign). */
const canon = (tree: unknown): string =>
  JSON.stringify(tree, (_k, v) =>
    v instanceof Float32Array || v instanceof Float64Array
      ? Array.from(
          new Uint32Array(Float64Array.from(v, (x) => (Number.isNaN(x) ? Number.NaN : x)).buffer),
        )
      : v,
  );

describe('the fused functional update', () => {
  for (const [name, members] of CHAINS)
    for (const f32 of [true, false])
      for (const sizes of [
        [100, 70, 300],
        [5000, 1024, 64],
      ])
        it(`${name}, ${f32 ? 'float32' : 'float64'}, leaves of ${sizes.join(', ')}: the members' bits`, () => {
          const rand = rng(sizes[0]! + (f32 ? 1 : 2));
          const fused = chain(...members());
          // Spreading a member drops its (non-enumerable) fusion tag: this chain runs one by one.
          const plain = chain(...members().map((m) => ({ ...m })));
          const p0 = leaves(rand, f32, sizes, false);
          let pa: unknown = p0;
          let pb: unknown = p0;
          let sa = fused.init(p0);
          let sb = plain.init(p0);
          for (let t = 0; t < 12; t++) {
            const g = leaves(rand, f32, sizes, t >= 8);
            expect(fusedUpdate(fused, g, sa, pa), 'the fused path applies').toBeDefined();
            expect(fusedUpdate(plain, g, sb, pb), 'untagged members are not fused').toBeUndefined();
            const [ua, na] = fused.update(g, sa, pa);
            const [ub, nb] = plain.update(g, sb, pb);
            expect(canon(ua), `updates, step ${t}`).toBe(canon(ub));
            expect(canon(na), `state, step ${t}`).toBe(canon(nb));
            pa = applyUpdates(pa, ua);
            pb = applyUpdates(pb, ub);
            sa = na;
            sb = nb;
          }
          expect(canon(pa)).toBe(canon(pb));
        });

  it('leaves the inputs alone and returns fresh arrays', () => {
    const tx = chain(scaleByRadam(), scaleByLearningRate(0.1));
    const p = { w: new Float32Array(1000).fill(1) };
    const g = { w: new Float32Array(1000).fill(0.5) };
    const state = tx.init(p);
    const before = canon([p, g, state]);
    const [u, next] = tx.update(g, state, p);
    expect(canon([p, g, state])).toBe(before);
    expect(u.w).not.toBe(g.w);
    const [s0, s1] = next as [{ count: number; mu: { w: Float32Array } }, unknown];
    expect(s0.count).toBe(1);
    expect(s0.mu.w).not.toBe((state as [{ mu: { w: Float32Array } }])[0].mu.w);
    expect(s1).toEqual({});
  });

  it('steps aside where it does not apply, so the usual errors and semantics hold', () => {
    const tx = chain(scaleByRadam(), addDecayedWeights(0.1), scaleByLearningRate(0.1));
    const p = { w: new Float32Array(1000) };
    const g = { w: new Float32Array(1000) };
    const state = tx.init(p);
    // Params missing where weight decay reads them: the member's own error.
    expect(fusedUpdate(tx, g, state, undefined)).toBeUndefined();
    expect(() => tx.update(g, state)).toThrow(/params are required/);
    // A state whose count is not a count: the same error as one by one.
    const bad = [{ ...((state as unknown[])[0] as object), count: -1 }, {}, {}];
    expect(() => tx.update(g, bad, p)).toThrow(/state.count/);
    // Mixed dtypes (float64 gradients for float32 state): not fused, same results as before.
    expect(fusedUpdate(tx, { w: new Float64Array(1000) }, state, p)).toBeUndefined();
    // Grads of another structure: the chain's structure error.
    expect(() => tx.update({ v: new Float32Array(1000) }, state, p)).toThrow();
  });
});
