/**
 * Property tests: for every companion transformation, `new Optimizer(tx, params).step(grads)`
 * gives the same bits as the functional loop `[u, s] = tx.update(g, s, p); p = applyUpdates(p, u)`,
 * and neither path mutates its inputs.
 */
import fc from 'fast-check';
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
  type GradientTransformationExtraArgs,
  injectHyperparams,
  lookahead,
  lookaheadParams,
  masked,
  multiSteps,
  Optimizer,
  radam,
  scaleByAdam,
  scaleByLearningRate,
  sgd,
  trace,
  treeLeaves,
} from '../src/index.js';

type Params = { a: Float32Array; b: { c: Float64Array; d: Float64Array } };

const value = fc.double({ min: -8, max: 8, noNaN: true, noDefaultInfinity: true });
const sizes = fc.tuple(
  fc.integer({ min: 1, max: 5 }),
  fc.integer({ min: 1, max: 4 }),
  fc.integer({ min: 1, max: 3 }),
);

function treeOf(vals: number[], [n1, n2]: [number, number, number]): Params {
  return {
    a: Float32Array.from(vals.slice(0, n1)),
    b: { c: Float64Array.from(vals.slice(n1, n1 + n2)), d: Float64Array.from(vals.slice(n1 + n2)) },
  };
}

/** Params and a few gradient steps, optionally with some non-finite gradient entries. */
const problem = (steps: number, withNonFinite = false) =>
  sizes.chain((sz) => {
    const n = sz[0] + sz[1] + sz[2];
    const g = withNonFinite
      ? fc.oneof(
          { weight: 8, arbitrary: value },
          { weight: 1, arbitrary: fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY) },
        )
      : value;
    return fc.record({
      sz: fc.constant(sz),
      p0: fc.array(value, { minLength: n, maxLength: n }),
      grads: fc.array(fc.array(g, { minLength: n, maxLength: n }), {
        minLength: steps,
        maxLength: steps,
      }),
    });
  });

const clone = <T>(tree: T): T => structuredClone(tree);
const snapshot = (tree: unknown): number[] => treeLeaves<Float64Array>(tree).flatMap((x) => [...x]);
const sameBits = (x: number[], y: number[]): boolean =>
  x.length === y.length && x.every((v, i) => Object.is(v, y[i]));

/** Runs both paths and asserts bit equality after every step and no mutation of inputs. */
function checkBoth(
  tx: GradientTransformationExtraArgs,
  p0: Params,
  grads: Params[],
  expectInPlace = true,
): void {
  const p0Bits = snapshot(p0);
  const gradBits = grads.map(snapshot);
  let p = clone(p0);
  let state = tx.init(p);
  const live = clone(p0);
  const opt = new Optimizer(tx, live);
  expect(opt.runsInPlace).toBe(expectInPlace);
  for (let k = 0; k < grads.length; k++) {
    const before = snapshot(p);
    let u: unknown;
    [u, state] = tx.update(grads[k], state, p);
    expect(sameBits(snapshot(p), before), 'functional update mutated params').toBe(true);
    p = applyUpdates(p, u);
    opt.step(grads[k]!);
    expect(sameBits(snapshot(live), snapshot(p)), `step ${k + 1}`).toBe(true);
  }
  expect(sameBits(snapshot(p0), p0Bits)).toBe(true);
  grads.forEach((g, k) => {
    expect(sameBits(snapshot(g), gradBits[k]!)).toBe(true);
  });
}

const factories: [string, () => GradientTransformationExtraArgs][] = [
  ['addDecayedWeights(0.1)', () => addDecayedWeights(0.1)],
  ['addDecayedWeights(schedule)', () => addDecayedWeights((c) => 0.1 / (c + 1))],
  [
    'addDecayedWeights with a mask',
    () => addDecayedWeights(0.3, { mask: { a: true, b: { c: false, d: true } } }),
  ],
  ['clip(0.5)', () => clip(0.5)],
  ['clipByGlobalNorm(1)', () => clipByGlobalNorm(1)],
  ['chain(clipByGlobalNorm, radam)', () => chain(clipByGlobalNorm(2), radam(0.01))],
  ['trace(0.9)', () => trace(0.9)],
  ['trace(0.9, nesterov)', () => trace(0.9, { nesterov: true })],
  ['scaleByAdam()', () => scaleByAdam()],
  ['scaleByAdam(nesterov)', () => scaleByAdam({ nesterov: true, b1: 0.8 })],
  ['adam(1e-2)', () => adam(1e-2)],
  ['adamw(1e-2)', () => adamw(1e-2, { weightDecay: 0.05 })],
  ['sgd(0.1)', () => sgd(0.1)],
  ['sgd(0.1, momentum)', () => sgd(0.1, { momentum: 0.9, nesterov: true })],
  ['radam(0.01, { weightDecay })', () => radam(0.01, { weightDecay: 0.1 })],
  [
    'radam(0.01, { weightDecay, weightDecayMask })',
    () => radam(0.01, { weightDecay: 0.1, weightDecayMask: { a: false, b: true } }),
  ],
  ['L2: chain(addDecayedWeights, radam)', () => chain(addDecayedWeights(0.01), radam(0.01))],
  [
    'masked(scaleByAdam, tree)',
    () =>
      chain(masked(scaleByAdam(), { a: true, b: { c: true, d: false } }), scaleByLearningRate(0.1)),
  ],
  ['masked(trace, fn)', () => masked(trace(0.5), (p: Params) => ({ a: p.a.length > 2, b: true }))],
  [
    'injectHyperparams(radam) constant',
    () =>
      injectHyperparams((h: { learningRate: number; b1: number }) =>
        radam(h.learningRate, { b1: h.b1 }),
      )({ learningRate: 0.01, b1: 0.8 }),
  ],
  [
    'injectHyperparams(adamw) scheduled',
    () =>
      injectHyperparams((h: { learningRate: number; weightDecay: number }) =>
        adamw(h.learningRate, { weightDecay: h.weightDecay }),
      )({ learningRate: (c: number) => 0.01 * (c + 1), weightDecay: 0.1 }),
  ],
  ['multiSteps(adam, 3)', () => multiSteps(adam(0.1), { everyK: 3 })],
  [
    'multiSteps(sgd, sum, schedule)',
    () => multiSteps(sgd(0.1), { everyK: (s) => s + 1, useGradMean: false }),
  ],
];

describe('in-place Optimizer equals the functional loop bit for bit', () => {
  for (const [name, make] of factories) {
    it(name, () => {
      fc.assert(
        fc.property(problem(7), ({ sz, p0, grads }) => {
          checkBoth(
            make(),
            treeOf(p0, sz),
            grads.map((g) => treeOf(g, sz)),
          );
        }),
        { numRuns: 25 },
      );
    });
  }

  it('applyIfFinite(radam) with NaN and Infinity gradients', () => {
    fc.assert(
      fc.property(problem(8, true), ({ sz, p0, grads }) => {
        checkBoth(
          applyIfFinite(radam(0.01, { weightDecay: 0.01 }), 100),
          treeOf(p0, sz),
          grads.map((g) => treeOf(g, sz)),
        );
      }),
      { numRuns: 40 },
    );
  });

  it('lookahead(radam) with { fast, slow } params', () => {
    for (const resetState of [false, true]) {
      fc.assert(
        fc.property(problem(9), fc.integer({ min: 1, max: 4 }), ({ sz, p0, grads }, k) => {
          const tx = lookahead(adam(0.05), { syncPeriod: k, slowStepSize: 0.5, resetState });
          let params = lookaheadParams(treeOf(p0, sz));
          let state = tx.init(params);
          const live = lookaheadParams(treeOf(p0, sz));
          const opt = new Optimizer(tx, live);
          expect(opt.runsInPlace).toBe(true);
          for (const g of grads) {
            const gt = treeOf(g, sz);
            const gBits = snapshot(gt);
            let u: { fast: Params; slow: Params };
            [u, state] = tx.update(gt, state, params);
            params = applyUpdates(params, u);
            opt.step({ fast: gt, slow: gt });
            expect(sameBits(snapshot(live), snapshot(params))).toBe(true);
            expect(sameBits(snapshot(gt), gBits)).toBe(true);
          }
        }),
        { numRuns: 20 },
      );
    }
  });
});
