/**
 * The combinators and wrappers (partition, namedChain, conditionallyMask/Transform, freeze,
 * setToZero, selectiveTransform), multiSteps' skip functions, and schedule-free (scheduleFree,
 * scheduleFreeAdamw, scheduleFreeEvalParams): hand-derived steps, optax's documented examples,
 * optax's state layouts, validation, and the in-place Optimizer against the functional loop bit
 * for bit.
 */
import { describe, expect, it } from 'vitest';
import {
  adam,
  addDecayedWeights,
  applyUpdates,
  chain,
  conditionallyMask,
  conditionallyTransform,
  contrib,
  freeze,
  type GradientTransformationExtraArgs,
  masked,
  multiSteps,
  multiTransform,
  namedChain,
  Optimizer,
  partition,
  scale,
  scaleByAdam,
  scaleByLearningRate,
  scheduleFree,
  scheduleFreeAdamw,
  scheduleFreeEvalParams,
  scheduleFreeSgd,
  selectiveTransform,
  setToZero,
  sgd,
  skipLargeUpdates,
  skipNotFinite,
  treeMap,
} from '../src/index.js';
import { rng } from './rng.js';

type F = Float32Array | Float64Array;
type DT = 'f32' | 'f64';

const SIZES = [1, 7, 300, 5000];

function arr(dt: DT, n: number): F {
  return dt === 'f32' ? new Float32Array(n) : new Float64Array(n);
}

/** Params `{ a, b: { c }, d: [e] }` with leaves of the sizes 1, 7, 300, 5000. */
function makeParams(dt: DT, seed: number): Record<string, any> {
  const next = rng(seed);
  const leaf = (n: number) => {
    const x = arr(dt, n);
    for (let i = 0; i < n; i++) x[i] = (next() - 0.5) * 4;
    return x;
  };
  return { a: leaf(SIZES[0]!), b: { c: leaf(SIZES[1]!) }, d: [leaf(SIZES[2]!), leaf(SIZES[3]!)] };
}

/** Gradients like the params; some zeros, -0, tiny and large values, NaN when asked. */
function makeGrads(like: unknown, seed: number, nonFinite = false): any {
  const next = rng(seed);
  return treeMap((p: F) => {
    const g = p.slice().fill(0);
    for (let i = 0; i < g.length; i++) {
      const r = next();
      g[i] =
        nonFinite && r < 0.01
          ? Number.NaN
          : r < 0.03
            ? 0
            : r < 0.05
              ? -0
              : r < 0.07
                ? (next() - 0.5) * 1e-30
                : r < 0.08
                  ? (next() - 0.5) * 1e4
                  : (next() + next() - 1) * 2;
    }
    return g;
  }, like);
}

function copyTree<T>(t: T): T {
  return treeMap((x: F) => x.slice(), t);
}

function leaves(t: unknown): F[] {
  const out: F[] = [];
  treeMap((x: F) => {
    out.push(x);
    return x;
  }, t);
  return out;
}

/** Element by element with `Object.is` (NaN equal to NaN, +0 unlike -0). */
function expectSameBits(got: unknown, want: unknown): void {
  const g = leaves(got);
  const w = leaves(want);
  expect(g.length).toBe(w.length);
  g.forEach((x, k) => {
    expect(x.constructor).toBe(w[k]!.constructor);
    expect(x.length).toBe(w[k]!.length);
    for (let i = 0; i < x.length; i++)
      if (!Object.is(x[i], w[k]![i])) throw new Error(`leaf ${k}[${i}]: ${x[i]} vs ${w[k]![i]}`);
  });
}

/**
 * Runs `make()` for `steps` steps in the functional loop and in the in-place Optimizer (generic
 * steps; also the kernel choices given) on the same params and gradients, and compares the params
 * bit for bit after every step. Returns the optimizer's kernel.
 */
function compareInPlace(
  make: () => GradientTransformationExtraArgs,
  dt: DT,
  options: { steps?: number; nonFinite?: boolean; extraArgs?: (step: number) => any } = {},
): string {
  const steps = options.steps ?? 10;
  const p0 = makeParams(dt, 7);
  const tx = make();
  let params: any = copyTree(p0);
  let state = tx.init(params);
  const opt = new Optimizer(make(), copyTree(p0));
  for (let s = 0; s < steps; s++) {
    const g = makeGrads(p0, 100 + s, options.nonFinite === true && s % 3 === 1);
    const extra = options.extraArgs?.(s);
    let u: unknown;
    [u, state] = tx.update(g, state, params, extra);
    params = applyUpdates(params, u);
    opt.step(copyTree(g), extra);
    expectSameBits(opt.params, params);
  }
  return opt.kernel;
}

const labelsOf = { a: 'adam', b: 'sgd', d: ['adam', 'sgd'] };

describe('partition (optax.partition, multi_transform)', () => {
  it('applies each group its transformation (hand-derived)', () => {
    // a -> scale(2), b -> scale(-1): { a: 2 * 3, b: -1 * 3 }.
    const tx = partition({ two: scale(2), neg: scale(-1) }, { a: 'two', b: 'neg' });
    const state = tx.init({ a: 0, b: 0 });
    expect(state).toEqual({ innerStates: { two: { innerState: {} }, neg: { innerState: {} } } });
    const [u] = tx.update({ a: 3, b: 3 }, state);
    expect(u).toEqual({ a: 6, b: -3 });
  });

  it("optax's documented example: adam for the weights, sgd for the biases (labels by key)", () => {
    const z = (n: number) => new Float32Array(n);
    const params = { linear_1: { w: z(30), b: z(5) }, linear_2: { w: z(6), b: z(1) } };
    const grads = treeMap((x: Float32Array) => x.slice().fill(1), params);
    const labelFn = (tree: any) =>
      Object.fromEntries(
        Object.entries(tree).map(([k, v]) => [
          k,
          Object.fromEntries(Object.keys(v as object).map((kk) => [kk, kk])),
        ]),
      );
    const tx = partition({ w: adam(1.0), b: sgd(1.0) }, labelFn);
    const state = tx.init(params);
    // Each group's state covers its own leaves: the others are null (optax's MaskedNode).
    const adamState = (state.innerStates.w!.innerState as any[])[0];
    expect(adamState.mu.linear_1.b).toBeNull();
    expect(adamState.mu.linear_1.w).toBeInstanceOf(Float32Array);
    const [u, s2] = tx.update(grads, state, params);
    // adam's first step: -lr * mHat / (sqrt(nuHat) + eps) = -1 / (1 + 1e-8) -> -1 in float32;
    // sgd: -lr * g = -1.
    for (const x of leaves(u)) expect(Array.from(x).every((v) => v === -1)).toBe(true);
    expect((s2.innerStates.w!.innerState as any[])[0].count).toBe(1);
    const p2 = applyUpdates(params, u);
    expect(p2.linear_2.b[0]).toBe(-1);
  });

  it('takes a prefix tree of labels (the GAN example) and multiTransform is the same', () => {
    const params = [{ w: 1, b: 2 }, { w: 3 }];
    for (const make of [partition, multiTransform]) {
      const tx = make({ generator: scale(10), discriminator: scale(-1) }, [
        'generator',
        'discriminator',
      ]);
      const [u] = tx.update(params, tx.init(params));
      expect(u).toEqual([{ w: 10, b: 20 }, { w: -3 }]);
    }
  });

  it('calls a label function with the params in init and the updates in update', () => {
    const seen: unknown[] = [];
    const tx = partition({ x: scale(2) }, (t: any) => {
      seen.push(t);
      return treeMap(() => 'x', t);
    });
    const p = { w: 1 };
    const g = { w: 5 };
    tx.update(g, tx.init(p), p);
    expect(seen[0]).toBe(p);
    expect(seen[1]).toBe(g);
  });

  it('refuses labels that are not keys of transforms, naming the path', () => {
    expect(() => partition({ a: scale(1) }, { w: 'a', v: ['a', 'zz'] })).toThrow(
      'partition: paramLabels.v[1] is "zz", which has no transformation; the labels must be keys of transforms ("a")',
    );
    expect(() => multiTransform({ a: scale(1) }, { w: 3 })).toThrow(
      'multiTransform: paramLabels.w must be a label (a string) or a container of labels, got number 3',
    );
    const tx = partition({ a: scale(1) }, () => ({ w: 'b' }));
    expect(() => tx.init({ w: 0 })).toThrow(RangeError);
    expect(() => partition([scale(1)] as any, {})).toThrow(
      'partition: transforms must be an object mapping labels to transformations',
    );
    expect(() => partition({ a: 3 } as any, {})).toThrow(
      'partition: transforms.a must be a gradient transformation with init and update, got 3',
    );
    expect(() => partition({ a: scale(1) }, undefined)).toThrow(TypeError);
    // The labels must match the params (masked's check, naming the path).
    const bad = partition({ a: scale(1) }, { w: 'a', b: ['a', 'a'] });
    expect(() => bad.init({ w: 0, b: [1] })).toThrow(
      'partition: paramLabels.b is array of length 2, the params have array of length 1',
    );
    expect(() => bad.update({ w: 0, b: 1 }, bad.init({ w: 0, b: [1, 2] }))).toThrow(
      'partition: paramLabels.b is array of length 2, but the updates have number 1 there',
    );
  });

  for (const dt of ['f32', 'f64'] as const)
    it(`runs in place with the functional bits (${dt})`, () => {
      const kernel = compareInPlace(
        () => partition({ adam: adam(1e-2), sgd: sgd(0.1, { momentum: 0.9 }) }, labelsOf),
        dt,
      );
      expect(kernel).toBe('generic');
      compareInPlace(
        () =>
          partition({ adam: adam(1e-2), sgd: sgd(0.1) }, (p: any) =>
            treeMap((x: F) => (x.length > 100 ? 'adam' : 'sgd'), p),
          ),
        dt,
      );
    });
});

describe('namedChain (optax.named_chain)', () => {
  it('names each state, in order (optax documented example, with scaleByAdam)', () => {
    const tx = namedChain(['scale', scale(0.1)], ['adam', scaleByAdam()]);
    const state = tx.init(0.5);
    expect(Object.keys(state)).toEqual(['scale', 'adam']);
    const [u, s2] = tx.update(0.7, state, 0.7);
    // 0.1 * 0.7 = 0.07; Adam's first step: 0.07 / (0.07 + 1e-8).
    expect(u).toBeCloseTo(0.07 / (0.07 + 1e-8), 12);
    expect(Object.keys(s2)).toEqual(['scale', 'adam']);
    expect((s2.adam as any).count).toBe(1);
  });

  it('passes extra arguments to every member', () => {
    const got: unknown[] = [];
    const spy = {
      init: () => ({}),
      update: (u: unknown, s: unknown, _p?: unknown, extra?: unknown) => {
        got.push(extra);
        return [u, s] as [unknown, unknown];
      },
    };
    const tx = namedChain(['a', spy], ['b', spy]);
    tx.update(1, tx.init(1), 1, { value: 3 });
    expect(got).toEqual([{ value: 3 }, { value: 3 }]);
  });

  it('refuses repeated names and bad pairs', () => {
    expect(() => namedChain(['a', scale(1)], ['a', scale(2)])).toThrow(
      'namedChain: the names must be distinct, got ["a", "a"]',
    );
    expect(() => namedChain([3, scale(1)] as any)).toThrow(
      'namedChain: argument 0 must be a pair [name, transformation] with a string name',
    );
    expect(() => namedChain(['a', {}] as any)).toThrow(
      'namedChain: argument 0 ("a") must be a gradient transformation',
    );
    expect(() => namedChain(['a', scale(1)]).update(1, [{}] as any, 1)).toThrow(
      'namedChain.update: state must be { a } as made by namedChain.init',
    );
  });

  for (const dt of ['f32', 'f64'] as const)
    it(`runs in place with the functional bits (${dt})`, () => {
      compareInPlace(
        () =>
          namedChain(
            ['adam', scaleByAdam()],
            ['decay', addDecayedWeights(1e-3)],
            ['lr', scaleByLearningRate(1e-2)],
          ),
        dt,
      );
    });
});

describe('conditionallyTransform and conditionallyMask', () => {
  it('pass the updates through, or zero them, at the other steps (hand-derived)', () => {
    const even = (step: number) => step % 2 === 0;
    const t = conditionallyTransform(chain(scaleByAdam(), scale(-1)), even);
    const m = conditionallyMask(chain(scaleByAdam(), scale(-1)), even);
    let st = t.init({ w: 0 });
    let sm = m.init({ w: 0 });
    // optax's field order: ConditionallyTransformState(inner_state, step),
    // ConditionallyMaskState(step, inner_state).
    expect(Object.keys(st)).toEqual(['innerState', 'step']);
    expect(Object.keys(sm)).toEqual(['step', 'innerState']);
    let ut: any;
    let um: any;
    [ut, st] = t.update({ w: 2 }, st); // step 0: Adam's first step, -2 / (2 + 1e-8)
    [um, sm] = m.update({ w: 2 }, sm);
    expect(ut.w).toBeCloseTo(-1, 8);
    expect(um.w).toBeCloseTo(-1, 8);
    [ut, st] = t.update({ w: 2 }, st); // step 1: skipped
    [um, sm] = m.update({ w: 2 }, sm);
    expect(ut).toEqual({ w: 2 });
    expect(um).toEqual({ w: 0 });
    expect(st.step).toBe(2);
    expect(sm.step).toBe(2);
    expect((st.innerState as any)[0].count).toBe(1);
    expect((sm.innerState as any)[0].count).toBe(1);
  });

  it('forward the extra arguments to the predicate only when asked', () => {
    const calls: unknown[][] = [];
    const fn = (...args: unknown[]) => {
      calls.push(args);
      return true;
    };
    const a = conditionallyMask(scale(1), fn, { forwardExtraArgs: true });
    a.update(1, a.init(1), 1, { value: 5 });
    const b = conditionallyMask(scale(1), fn);
    b.update(1, b.init(1), 1, { value: 5 });
    expect(calls).toEqual([[0, { value: 5 }], [0]]);
  });

  it('check their arguments and the predicate', () => {
    expect(() => conditionallyMask(scale(1), 3 as any)).toThrow(
      'conditionallyMask: shouldTransformFn must be a function (step) => boolean, got number',
    );
    expect(() =>
      conditionallyTransform(scale(1), () => true, { forwardExtraArgs: 1 } as any),
    ).toThrow('conditionallyTransform: forwardExtraArgs must be true or false, got 1');
    expect(() => conditionallyTransform(scale(1), () => true, { forward: true } as any)).toThrow(
      'unknown option "forward"',
    );
    const tx = conditionallyTransform(scale(1), () => 1 as any);
    expect(() => tx.update(1, tx.init(1))).toThrow(
      'conditionallyTransform: shouldTransformFn must return true or false, got number 1 at step 0',
    );
    expect(() => tx.update(1, { innerState: {}, step: -1 })).toThrow(
      'conditionallyTransform.update: state.step must be an integer step count',
    );
  });

  for (const dt of ['f32', 'f64'] as const)
    it(`run in place with the functional bits (${dt})`, () => {
      compareInPlace(() => conditionallyMask(adam(1e-2), (s) => s % 3 !== 1), dt);
      compareInPlace(
        () =>
          chain(
            conditionallyTransform(scaleByAdam(), (_s, extra) => (extra as any).on === true, {
              forwardExtraArgs: true,
            }),
            scaleByLearningRate(1e-2),
          ),
        dt,
        { extraArgs: (s) => ({ on: s % 2 === 0 }) },
      );
    });
});

describe('freeze, setToZero and selectiveTransform', () => {
  it('zero the frozen leaves', () => {
    const [z] = setToZero().update({ w: new Float32Array([1, Number.NaN, -0]) }, {});
    expect(Array.from(z.w)).toEqual([0, 0, 0]);
    expect(Object.is(z.w[2], 0)).toBe(true);
    const tx = freeze({ w: true, b: false });
    expect(tx.init({ w: 0, b: 0 })).toEqual({ innerState: {} });
    const [u] = tx.update({ w: 1, b: 2 }, tx.init({ w: 0, b: 0 }));
    expect(u).toEqual({ w: 0, b: 2 });
    const all = freeze(true);
    expect(all.update({ w: 1, b: [2] }, all.init({ w: 0, b: [0] }))[0]).toEqual({ w: 0, b: [0] });
    expect(() => freeze(1 as any)).toThrow(
      'freeze: mask must be true, false or a tree of booleans matching the params, got number 1',
    );
  });

  it('selectiveTransform trains only the unfrozen leaves, with state for them only', () => {
    const tx = selectiveTransform(adam(1), { freezeMask: { w: false, b: true } });
    const p = { w: new Float64Array([1]), b: new Float64Array([1]) };
    const st = tx.init(p);
    expect(Object.keys(st.innerStates)).toEqual(['train', 'freeze']);
    expect((st.innerStates.train!.innerState as any)[0].mu.b).toBeNull();
    const [u] = tx.update({ w: new Float64Array([2]), b: new Float64Array([2]) }, st, p);
    expect(u.b[0]).toBe(0);
    expect(u.w[0]).toBeCloseTo(-1, 7);
    expect(() => selectiveTransform(adam(1), {} as any)).toThrow(
      'selectiveTransform: freezeMask must be true, false or a tree of booleans',
    );
  });

  for (const dt of ['f32', 'f64'] as const)
    it(`run in place with the functional bits (${dt})`, () => {
      compareInPlace(() => chain(freeze({ a: true, b: false, d: [false, true] }), adam(1e-2)), dt);
      compareInPlace(
        () =>
          selectiveTransform(sgd(0.1, { momentum: 0.9 }), {
            freezeMask: { a: false, b: true, d: false },
          }),
        dt,
      );
      compareInPlace(() => masked(setToZero(), { a: true, b: false, d: true }), dt);
    });
});

describe("multiSteps' skip functions (skipNotFinite, skipLargeUpdates)", () => {
  it('skipNotFinite counts the non-finite elements', () => {
    const g = { w: new Float32Array([1, Number.NaN, Number.POSITIVE_INFINITY]), b: 2 };
    expect(skipNotFinite(g, 0, null)).toEqual([true, { shouldSkip: true, numNotFinite: 2 }]);
    expect(skipNotFinite({ w: 1 }, 0, null)).toEqual([
      false,
      { shouldSkip: false, numNotFinite: 0 },
    ]);
  });

  it('skipLargeUpdates skips unless the squared norm is below the bound (and skips NaN)', () => {
    // |(3, 4)|^2 = 25.
    expect(skipLargeUpdates(26)({ w: new Float64Array([3, 4]) }, 0, null)).toEqual([
      false,
      { shouldSkip: false, normSquared: 25 },
    ]);
    expect(skipLargeUpdates(25)({ w: new Float64Array([3, 4]) }, 0, null)[0]).toBe(true);
    expect(skipLargeUpdates(Number.POSITIVE_INFINITY)({ w: Number.NaN }, 0, null)[0]).toBe(true);
    expect(() => skipLargeUpdates(Number.NaN)).toThrow(
      'skipLargeUpdates: maxSquaredNorm must be a number >= 0, got NaN',
    );
  });

  it('a skipped mini-step changes nothing but skipState (optax MultiStepsState.skip_state)', () => {
    const tx = multiSteps(sgd(1), { everyK: 2, shouldSkipUpdateFn: skipNotFinite });
    let st = tx.init({ w: 0 });
    expect(st.skipState).toEqual({ shouldSkip: false, numNotFinite: 0 });
    let u: any;
    [u, st] = tx.update({ w: 2 }, st); // accumulate 2
    expect(u).toEqual({ w: 0 });
    const before = st;
    [u, st] = tx.update({ w: Number.NaN }, st); // skipped
    expect(u).toEqual({ w: 0 });
    expect(st.miniStep).toBe(1);
    expect(st.accGrads).toBe(before.accGrads);
    expect(st.innerOptState).toBe(before.innerOptState);
    expect(st.skipState).toEqual({ shouldSkip: true, numNotFinite: 1 });
    [u, st] = tx.update({ w: 4 }, st); // mean (2 + 4) / 2 = 3, sgd(1): -3
    expect(u).toEqual({ w: -3 });
    expect(st.gradientStep).toBe(1);
    // Without a skip function the skip state is optax's empty tuple.
    expect(multiSteps(sgd(1), { everyK: 2 }).init({ w: 0 }).skipState).toEqual([]);
  });

  it('skipLargeUpdates receives gradientStep; custom functions are checked', () => {
    const seen: number[] = [];
    const custom = (_u: unknown, step: number): [boolean, unknown] => {
      seen.push(step);
      return [false, { step }];
    };
    const tx = multiSteps(sgd(1), { everyK: 1, shouldSkipUpdateFn: custom });
    let st = tx.init({ w: 0 });
    [, st] = tx.update({ w: 1 }, st);
    [, st] = tx.update({ w: 1 }, st);
    expect(seen).toEqual([0, 0, 1]); // init, then gradientStep 0 and 1
    const bad = multiSteps(sgd(1), { everyK: 1, shouldSkipUpdateFn: (() => 1) as any });
    expect(() => bad.init({ w: 0 })).toThrow(
      'multiSteps: shouldSkipUpdateFn must return [shouldSkip (a boolean), skipState], got number',
    );
    expect(() => multiSteps(sgd(1), { everyK: 1, shouldSkipUpdateFn: 3 as any })).toThrow(
      'multiSteps: shouldSkipUpdateFn must be a function',
    );
    // A custom function needs the trees: the Optimizer runs the functional update.
    expect(new Optimizer(tx, { w: new Float32Array(3) }).kernel).toBe('functional');
  });

  for (const dt of ['f32', 'f64'] as const)
    it(`run in place with the functional bits (${dt})`, () => {
      const k = compareInPlace(
        () => multiSteps(adam(1e-2), { everyK: 3, shouldSkipUpdateFn: skipNotFinite }),
        dt,
        { nonFinite: true, steps: 12 },
      );
      expect(k).toBe('generic');
      compareInPlace(
        () => multiSteps(sgd(0.1), { everyK: 2, shouldSkipUpdateFn: skipLargeUpdates(3000) }),
        dt,
        { steps: 12 },
      );
    });
});

describe('scheduleFree, scheduleFreeAdamw, scheduleFreeEvalParams (optax.contrib)', () => {
  it('takes two hand-derived steps of schedule-free SGD', () => {
    // b1 = 0.5, lr = 1, y0 = z0 = 1.
    const tx = scheduleFree(sgd(1), 1, { b1: 0.5 });
    let p: any = { w: 1 };
    let st = tx.init(p);
    expect(st).toEqual({
      b1: 0.5,
      weightSum: 0,
      stepCount: 1,
      maxLr: 0,
      baseOptimizerState: [{}, {}],
      z: { w: 1 },
    });
    let u: any;
    // Step 1, g = 2: z = 1 - 2 = -1; weight 1, ck = 1/1; x = z = -1; y = 0.5 x + 0.5 z = -1.
    [u, st] = tx.update({ w: 2 }, st, p);
    expect(u).toEqual({ w: -2 });
    p = applyUpdates(p, u);
    expect(st).toMatchObject({ weightSum: 1, stepCount: 2, maxLr: 1, z: { w: -1 } });
    expect(scheduleFreeEvalParams(st, p)).toEqual({ w: -1 });
    // Step 2, g = -2: z = 1; ck = 1/2; x_prev = (y - 0.5 z_old) / 0.5 = -1;
    // x = 0.5 (-1) + 0.5 (1) = 0; y = 0.5 * 0 + 0.5 * 1 = 0.5; update 0.5 - (-1) = 1.5.
    [u, st] = tx.update({ w: -2 }, st, p);
    expect(u).toEqual({ w: 1.5 });
    expect(scheduleFreeEvalParams(st, applyUpdates(p, u))).toEqual({ w: 0 });
  });

  it("matches optax's documented schedule_free_adamw(1.0) example (float32)", () => {
    const f = (x: Float32Array) => x.reduce((a, b) => a + b * b, 0);
    const solver = scheduleFreeAdamw(1.0);
    let params = { w: new Float32Array([1, 2, 3]) };
    expect(f(params.w)).toBe(14);
    let state = solver.init(params);
    const got: string[] = [];
    for (let i = 0; i < 5; i++) {
      const grad = { w: params.w.map((x) => 2 * x) };
      let u: any;
      [u, state] = solver.update(grad, state, params);
      params = applyUpdates(params, u);
      got.push(f(scheduleFreeEvalParams(state, params).w).toExponential(2));
    }
    expect(got).toEqual(['5.00e+0', '3.05e+0', '1.73e+0', '8.94e-1', '4.13e-1']);
  });

  it("matches optax's documented schedule_free_sgd() example (float32)", () => {
    const f = (x: Float32Array) => x.reduce((a, b) => Math.fround(a + Math.fround(b * b)), 0);
    const solver = scheduleFreeSgd();
    expect(
      Object.keys(solver.init({ w: new Float32Array(1) }).baseOptimizerState as object),
    ).toEqual(['0', '1']);
    let params = { w: new Float32Array([1, 2, 3]) };
    let state = solver.init(params);
    const got: string[] = [];
    for (let i = 0; i < 5; i++) {
      let u: any;
      [u, state] = solver.update({ w: params.w.map((x) => 2 * x) }, state, params);
      params = applyUpdates(params, u);
      got.push(f(scheduleFreeEvalParams(state, params).w).toExponential(2));
    }
    // optax prints 1.40E+01, 1.75E-14, 9.96E-01, 8.06E-01, 2.41E-01; the second value is
    // float32 rounding noise around 0 (x = 0 exactly in real arithmetic).
    expect(got[0]).toBe('1.40e+1');
    expect(Number(got[1])).toBeLessThan(1e-12);
    expect(got.slice(2)).toEqual(['9.96e-1', '8.06e-1', '2.41e-1']);
  });

  it("has optax's state layout: scalars in the params' lowest dtype, stepCount from 1", () => {
    const tx = scheduleFreeAdamw(1e-3, { weightDecay: 1e-4 });
    const p = { a: new Float32Array(2), b: new Float64Array(2) };
    const st = tx.init(p);
    expect(Object.keys(st)).toEqual([
      'b1',
      'weightSum',
      'stepCount',
      'maxLr',
      'baseOptimizerState',
      'z',
    ]);
    expect(st.b1).toBe(Math.fround(0.9));
    expect(st.stepCount).toBe(1);
    const baseState = st.baseOptimizerState as any[];
    expect(Object.keys(baseState[0])).toEqual(['count', 'nu']);
    expect(baseState.length).toBe(3);
    expect(st.z.a).not.toBe(p.a);
    expect(st.z.a).toBeInstanceOf(Float32Array);
    expect(scheduleFreeAdamw(1e-3).init({ w: new Float64Array(1) }).b1).toBe(0.9);
    expect(scheduleFree(sgd(1), 1, { stateDtype: 'float64' }).init(p).z.a).toBeInstanceOf(
      Float64Array,
    );
  });

  it('the first steps of a warmup from 0 give no NaN (0/0 weight is 0, as nan_to_num)', () => {
    const lr = (c: number) => (c < 3 ? 0 : 0.1);
    const tx = scheduleFree(sgd(lr), lr);
    let p: any = { w: new Float64Array([1, -2]) };
    let st = tx.init(p);
    let u: any;
    [u, st] = tx.update({ w: new Float64Array([1, 1]) }, st, p);
    expect(Array.from(u.w)).toEqual([0, 0]);
    p = applyUpdates(p, u);
    expect(st.weightSum).toBe(0);
    [u, st] = tx.update({ w: new Float64Array([1, 1]) }, st, p);
    [u, st] = tx.update({ w: new Float64Array([1, 1]) }, st, p);
    expect(Number.isFinite(u.w[0])).toBe(true);
    expect(st.maxLr).toBe(0.1);
  });

  it('scheduleFreeEvalParams uses the stored b1 (1 - b1 in float32 for float32 params)', () => {
    const st = scheduleFreeAdamw(1e-3).init({ w: new Float32Array([0.3]) });
    const y = new Float32Array([0.7]);
    const R = Math.fround;
    const b1 = R(0.9);
    const want = R(R(y[0]! - R(R(1 - b1) * R(0.3))) / b1);
    expect(scheduleFreeEvalParams(st, { w: y }).w[0]).toBe(want);
    // Nested inside a chain's state, as a wrapped optimizer's state is.
    expect(scheduleFreeEvalParams([{}, st], { w: y }).w[0]).toBe(want);
    expect(() => scheduleFreeEvalParams({ b1: 0.9 }, { w: y })).toThrow(
      'scheduleFreeEvalParams: state must be a schedule-free state (with b1 and z)',
    );
  });

  it('validates its hyperparameters', () => {
    expect(() => scheduleFreeAdamw(1e-3, { b1: 0 })).toThrow(
      'scheduleFreeAdamw: b1 must be in (0, 1] (schedule-free divides by it), got number 0',
    );
    expect(() => scheduleFree(sgd(1), 1, { b1: 1.5 })).toThrow(
      'scheduleFree: b1 must be in (0, 1]',
    );
    expect(() => scheduleFreeAdamw(1e-3, { b2: 1 })).toThrow(
      'scheduleFreeAdamw: b2 must be in [0, 1), got 1',
    );
    expect(() => scheduleFreeAdamw(Number.NaN)).toThrow(
      'scheduleFreeAdamw: learningRate must be a finite number or a schedule',
    );
    expect(() => scheduleFreeAdamw(1e-3, { eps: -1 })).toThrow(
      'scheduleFreeAdamw: eps must be >= 0',
    );
    expect(() => scheduleFreeAdamw(1e-3, { warmupSteps: -1 })).toThrow(
      'scheduleFreeAdamw: warmupSteps must be an integer >= 0, got -1',
    );
    expect(() => scheduleFreeAdamw(() => 1, { warmupSteps: 3 })).toThrow(
      'scheduleFreeAdamw: with warmupSteps the learning rate must be a number',
    );
    expect(() => scheduleFreeAdamw(1e-3, { weightLrPower: Number.NaN })).toThrow(
      'scheduleFreeAdamw: weightLrPower must be a finite number, got NaN',
    );
    expect(() => scheduleFree(sgd(1), 1, { stateDtype: 'int8' as any })).toThrow(
      "scheduleFree: stateDtype must be 'float32', 'float64' or null",
    );
    expect(() => scheduleFreeAdamw(1e-3, { momentum: 0.9 } as any)).toThrow(
      'unknown option "momentum"',
    );
    expect(() => scheduleFree({} as any, 1)).toThrow(
      'scheduleFree: baseOptimizer must be a gradient transformation',
    );
    const tx = scheduleFree(sgd(1), () => Number.NaN);
    expect(() => tx.update({ w: 1 }, tx.init({ w: 1 }), { w: 1 })).toThrow(
      'scheduleFree: the learningRate schedule returned NaN at count 1',
    );
    expect(() => tx.update({ w: 1 }, tx.init({ w: 1 }))).toThrow(
      'scheduleFree.update: params are required',
    );
  });

  it('is exported under contrib', () => {
    expect(contrib.scheduleFreeAdamw).toBe(scheduleFreeAdamw);
    expect(contrib.scheduleFree).toBe(scheduleFree);
    expect(contrib.scheduleFreeEvalParams).toBe(scheduleFreeEvalParams);
    expect(contrib.scheduleFreeSgd).toBe(scheduleFreeSgd);
    expect(() => scheduleFreeSgd(1, { weightDecay: Number.NaN })).toThrow(
      'scheduleFreeSgd: weightDecay must be a finite number or a schedule',
    );
  });

  for (const dt of ['f32', 'f64'] as const)
    it(`runs in place with the functional bits (${dt})`, () => {
      const k = compareInPlace(
        () => scheduleFreeAdamw(1e-2, { weightDecay: 1e-3, warmupSteps: 3 }),
        dt,
      );
      expect(k).toBe('generic');
      compareInPlace(() => scheduleFree(sgd(0.1), 0.1, { b1: 0.95, weightLrPower: 1.5 }), dt);
      compareInPlace(
        () => scheduleFreeSgd(0.5, { weightDecay: 1e-2, warmupSteps: 4, b1: 0.8 }),
        dt,
      );
      compareInPlace(
        () =>
          scheduleFree(adam(0.01, { b1: 0 }), 0.01, {
            stateDtype: dt === 'f32' ? 'float64' : 'float32',
          }),
        dt,
      );
    });
});

describe('schedule-free on TF.js tensors (cpu backend)', () => {
  it('gives the typed-array bits, and scheduleFreeEvalParams takes tensors', async () => {
    const tf = await import('@tensorflow/tfjs-core');
    await import('@tensorflow/tfjs-backend-cpu');
    const { registerTfjsOps, tfjsOps } = await import('../src/tfjs/index.js');
    registerTfjsOps();
    await tf.setBackend('cpu');
    await tf.ready();
    const make = () => scheduleFreeAdamw(1e-1, { weightDecay: 1e-2, warmupSteps: 2 });
    if (tfjsOps.primitive === undefined) {
      // The TF.js adapter has no elementwise primitives yet: a clear error, not wrong numbers.
      const tx = make();
      const p = { w: tf.tensor([1, 2]) };
      expect(() => tx.update({ w: tf.tensor([1, 1]) }, tx.init(p), p)).toThrow(
        'scheduleFreeAdamw.update: tf.Tensor leaves have no elementwise primitives',
      );
      return;
    }
    const p0 = makeParams('f32', 3).d[0] as Float32Array;
    const txA = make();
    const txT = make();
    let pa: any = { w: p0.slice() };
    let pt: any = { w: tf.tensor(p0.slice()) };
    let sa = txA.init(pa);
    let st = txT.init(pt);
    for (let s = 0; s < 4; s++) {
      const g = makeGrads({ w: p0 }, 50 + s).w as Float32Array;
      let ua: any;
      let ut: any;
      [ua, sa] = txA.update({ w: g }, sa, pa);
      [ut, st] = txT.update({ w: tf.tensor(g) }, st, pt);
      pa = applyUpdates(pa, ua);
      pt = applyUpdates(pt, ut);
      expectSameBits({ w: Float32Array.from(pt.w.dataSync()) }, pa);
    }
    const ea = scheduleFreeEvalParams(sa, pa);
    const et = scheduleFreeEvalParams(st, pt);
    const got = Float32Array.from((et.w as any).dataSync());
    // TF.js divides by b1 with its own kernel; allow an ulp.
    for (let i = 0; i < got.length; i++)
      expect(Math.abs(got[i]! - ea.w[i]!)).toBeLessThanOrEqual(
        2e-7 * Math.max(1, Math.abs(ea.w[i]!)),
      );
  });
});

describe('the wrappers in the in-place Optimizer: arena, unused labels, atomic steps', () => {
  it('run over an arena with the functional bits', () => {
    const makers: (() => GradientTransformationExtraArgs)[] = [
      () => partition({ x: adam(1e-2), y: sgd(0.1) }, { a: 'x', b: 'y', d: ['x', 'y'] }),
      () => scheduleFreeAdamw(1e-2, { weightDecay: 1e-3 }),
      () => conditionallyMask(adam(1e-2), (s) => s !== 2),
    ];
    for (const make of makers) {
      const p0 = makeParams('f32', 11);
      const tx = make();
      let params: any = copyTree(p0);
      let state = tx.init(params);
      const opt = new Optimizer(make(), copyTree(p0), { arena: true });
      for (let s = 0; s < 5; s++) {
        const g = makeGrads(p0, 200 + s);
        let u: unknown;
        [u, state] = tx.update(g, state, params);
        params = applyUpdates(params, u);
        opt.step(copyTree(g));
        expectSameBits(opt.params, params);
      }
    }
  });

  it('a group whose label no leaf has keeps an empty state', () => {
    const tx = partition({ x: adam(1e-2), unused: sgd(0.1, { momentum: 0.9 }) }, (p: any) =>
      treeMap(() => 'x', p),
    );
    const st = tx.init({ w: new Float32Array(2) });
    expect((st.innerStates.unused!.innerState as any)[0].trace).toEqual({ w: null });
    for (const dt of ['f32', 'f64'] as const)
      compareInPlace(
        () =>
          partition({ x: adam(1e-2), unused: sgd(0.1, { momentum: 0.9 }) }, (p: any) =>
            treeMap(() => 'x', p),
          ),
        dt,
      );
  });

  it('a step that throws (predicate, schedule) leaves the params and the state as they were', () => {
    const bomb = (s: number) => {
      if (s === 2) throw new Error('boom');
      return true;
    };
    const lr = (c: number) => (c === 3 ? Number.NaN : 0.1);
    for (const tx of [
      conditionallyMask(adam(1e-2), bomb),
      partition({ x: adam(1e-2), y: sgd(lr) }, { a: 'x', b: 'y', d: 'x' }),
      scheduleFree(sgd(0.1), lr),
    ]) {
      const opt = new Optimizer(tx, makeParams('f64', 5));
      const grads = makeGrads(opt.params, 9);
      let thrown: unknown;
      for (let s = 0; s < 5 && thrown === undefined; s++) {
        const before = copyTree(opt.params);
        const stateBefore = JSON.stringify(opt.state, (_k, v) =>
          ArrayBuffer.isView(v) ? Array.from(v as Float64Array) : v,
        );
        try {
          opt.step(grads);
        } catch (e) {
          thrown = e;
          expectSameBits(opt.params, before);
          expect(
            JSON.stringify(opt.state, (_k, v) =>
              ArrayBuffer.isView(v) ? Array.from(v as Float64Array) : v,
            ),
          ).toBe(stateBefore);
        }
      }
      expect(thrown).toBeInstanceOf(Error);
    }
  });
});
