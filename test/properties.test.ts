/**
 * Property tests over every transformation of the library, on random trees (nested objects and
 * arrays, null leaves), dtypes and hyperparameters:
 * - the in-place Optimizer (each kernel choice) and the functional loop agree bit for bit;
 * - `update` and `applyUpdates` never mutate their inputs;
 * - states round-trip through serializeState/deserializeState bit for bit, and resuming from the
 *   bytes continues exactly as the uninterrupted run.
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
  deserializeState,
  type GradientTransformationExtraArgs,
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
  scaleBySchedule,
  serializeState,
  sgd,
  trace,
  treeMap,
} from '../src/index.js';

type Shape = number | null | Shape[] | { [k: string]: Shape };

/** Tree shapes: leaf sizes 1..5, nulls, nested arrays and objects (with awkward keys). */
const shapeArb: fc.Arbitrary<Shape> = fc.letrec<{ node: Shape }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.integer({ min: 1, max: 5 }),
    fc.constant(null),
    fc.array(tie('node'), { minLength: 0, maxLength: 3 }),
    fc.dictionary(fc.constantFrom('w', 'b', 'layer 1', '0', 'x.y', '__proto__x'), tie('node'), {
      minKeys: 0,
      maxKeys: 3,
    }),
  ),
})).node;

function leafCount(shape: Shape): number {
  if (shape === null) return 0;
  if (typeof shape === 'number') return 1;
  return (Array.isArray(shape) ? shape : Object.values(shape)).reduce<number>(
    (n, s) => n + leafCount(s),
    0,
  );
}

/** Builds a tree of `shape`; leaf `i` (in visiting order) is float32 when `f32(i)`. */
function build(shape: Shape, f32: (i: number) => boolean, next: () => number): unknown {
  let leafIndex = 0;
  const visit = (s: Shape): unknown => {
    if (s === null) return null;
    if (typeof s === 'number') {
      const a = f32(leafIndex++) ? new Float32Array(s) : new Float64Array(s);
      for (let i = 0; i < s; i++) a[i] = next();
      return a;
    }
    if (Array.isArray(s)) return s.map(visit);
    return Object.fromEntries(Object.entries(s).map(([k, c]) => [k, visit(c)]));
  };
  return visit(shape);
}

const valueArb = fc.oneof(
  { weight: 8, arbitrary: fc.double({ min: -5, max: 5, noNaN: true }) },
  { weight: 1, arbitrary: fc.constant(0) },
  { weight: 1, arbitrary: fc.double({ min: -1e-7, max: 1e-7, noNaN: true }) },
);

/** A transformation to test: how to build it, and whether its params are lookahead pairs. */
interface TxCase {
  name: string;
  make: () => GradientTransformationExtraArgs;
  pair?: boolean;
  /** Whether a NaN gradient is part of the test (applyIfFinite). */
  nan?: boolean;
}

const lrArb = fc.oneof(
  fc.double({ min: 1e-4, max: 0.3, noNaN: true }),
  fc
    .record({
      lr: fc.double({ min: 1e-4, max: 0.3, noNaN: true }),
      k: fc.integer({ min: 1, max: 4 }),
    })
    .map(
      ({ lr, k }) =>
        (c: number) =>
          lr / (1 + c / k),
    ),
);
const decayArb = fc.double({ min: 0, max: 0.99, noNaN: true });
const b2Arb = fc.double({ min: 0.5, max: 0.9999, noNaN: true });
const epsArb = fc.constantFrom(0, 1e-8, 1e-3);

/** An alternating boolean mask over the params' leaves. */
const alternate = (p: unknown) => {
  let i = 0;
  return treeMap(() => i++ % 2 === 0, p);
};

const txArb: fc.Arbitrary<TxCase> = fc.oneof(
  fc
    .record({
      lr: lrArb,
      b1: decayArb,
      b2: b2Arb,
      eps: epsArb,
      epsRoot: fc.constantFrom(0, 1e-12),
      threshold: fc.double({ min: 4, max: 8, noNaN: true }),
      nesterov: fc.boolean(),
    })
    .map(({ lr, ...o }) => ({ name: `radam ${JSON.stringify(o)}`, make: () => radam(lr, o) })),
  fc
    .record({ lr: lrArb, b1: decayArb, b2: b2Arb, eps: epsArb })
    .map(({ lr, ...o }) => ({ name: `adam ${JSON.stringify(o)}`, make: () => adam(lr, o) })),
  fc
    .record({
      lr: lrArb,
      weightDecay: fc.double({ min: 0, max: 0.1, noNaN: true }),
      m: fc.boolean(),
    })
    .map(({ lr, weightDecay, m }) => ({
      name: `adamw wd ${weightDecay}${m ? ' masked' : ''}`,
      make: () => adamw(lr, m ? { weightDecay, mask: alternate } : { weightDecay }),
    })),
  fc
    .record({
      lr: lrArb,
      momentum: fc.option(decayArb, { nil: undefined }),
      nesterov: fc.boolean(),
    })
    .map(({ lr, momentum, nesterov }) => ({
      name: `sgd momentum ${momentum} nesterov ${nesterov}`,
      make: () =>
        sgd(lr, momentum === undefined ? {} : { momentum, nesterov: nesterov && momentum > 0 }),
    })),
  fc
    .record({
      lr: lrArb,
      wd: fc.double({ min: 0, max: 0.1, noNaN: true }),
      b2: b2Arb,
      nesterov: fc.boolean(),
    })
    .map(({ lr, wd, b2, nesterov }) => ({
      name: `chain(scaleByRadam, addDecayedWeights ${wd}, scaleByLearningRate)`,
      make: () =>
        chain(scaleByRadam({ b2, nesterov }), addDecayedWeights(wd), scaleByLearningRate(lr)),
    })),
  fc
    .record({
      maxDelta: fc.double({ min: 1e-3, max: 3, noNaN: true }),
      s: fc.double({ min: -1, max: 1, noNaN: true }),
    })
    .map(({ maxDelta, s }) => ({
      name: `chain(clip ${maxDelta}, scaleByAdam, scale ${s})`,
      make: () => chain(clip(maxDelta), scaleByAdam(), scale(s)),
    })),
  fc
    .record({
      maxNorm: fc.double({ min: 1e-3, max: 10, noNaN: true }),
      decay: decayArb,
      nesterov: fc.boolean(),
      lr: lrArb,
    })
    .map(({ maxNorm, decay, nesterov, lr }) => ({
      name: `chain(clipByGlobalNorm ${maxNorm}, trace ${decay}, scaleByLearningRate)`,
      make: () =>
        chain(clipByGlobalNorm(maxNorm), trace(decay, { nesterov }), scaleByLearningRate(lr)),
    })),
  fc.record({ k: fc.integer({ min: 1, max: 5 }) }).map(({ k }) => ({
    name: 'chain(identity, scaleBySchedule, masked(radam))',
    make: () =>
      chain(
        identity(),
        scaleBySchedule((c) => 1 / (1 + c / k)),
        masked(radam(0.05), alternate),
      ),
  })),
  fc
    .record({ lr: lrArb, everyK: fc.integer({ min: 1, max: 4 }), mean: fc.boolean() })
    .map(({ lr, everyK, mean }) => ({
      name: `multiSteps(radam) everyK ${everyK}`,
      make: () => multiSteps(radam(lr), { everyK, useGradMean: mean }),
    })),
  fc.record({ lr: lrArb, maxErrors: fc.integer({ min: 1, max: 3 }) }).map(({ lr, maxErrors }) => ({
    name: `applyIfFinite(radam, ${maxErrors})`,
    make: () => applyIfFinite(radam(lr), maxErrors),
    nan: true,
  })),
  fc.record({ lr: lrArb, b1: decayArb }).map(({ lr, b1 }) => ({
    name: `injectHyperparams(radam) b1 ${b1}`,
    make: () =>
      injectHyperparams((h: { lr: number; b1: number }) => radam(h.lr, { b1: h.b1 }))({ lr, b1 }),
  })),
  fc
    .record({
      lr: lrArb,
      syncPeriod: fc.integer({ min: 1, max: 4 }),
      slowStepSize: fc.double({ min: 0, max: 1, noNaN: true }),
    })
    .map(({ lr, syncPeriod, slowStepSize }) => ({
      name: `lookahead(radam) sync ${syncPeriod} alpha ${slowStepSize}`,
      make: () => lookahead(radam(lr), { syncPeriod, slowStepSize }),
      pair: true,
    })),
);

const caseArb = fc.record({
  shape: shapeArb.filter((s) => leafCount(s) > 0),
  dtype: fc.constantFrom('f32', 'f64', 'mixed'),
  tx: txArb,
  steps: fc.integer({ min: 1, max: 8 }),
  values: fc.array(valueArb, { minLength: 32, maxLength: 32 }),
});
type Case = typeof caseArb extends fc.Arbitrary<infer C> ? C : never;

function cycle(values: readonly number[], offset = 0): () => number {
  let i = offset;
  return () => values[i++ % values.length]!;
}

function setup(c: Case) {
  const f32 = (i: number) => (c.dtype === 'mixed' ? i % 2 === 0 : c.dtype === 'f32');
  const base = () => build(c.shape, f32, cycle(c.values));
  const params = () => (c.tx.pair ? lookaheadParams(base()) : base());
  /** Gradients for step t (deterministic), shaped like the functional update wants them. */
  const grads = (t: number) => {
    const g = build(c.shape, f32, cycle(c.values, 7 * t + 3)) as any;
    if (c.tx.nan && t === 1) poisonFirst(g);
    return g;
  };
  return { params, grads };
}

/** Sets the first element of the first leaf to NaN. */
function poisonFirst(tree: unknown): boolean {
  if (tree === null) return false;
  if (ArrayBuffer.isView(tree)) {
    (tree as Float64Array)[0] = Number.NaN;
    return true;
  }
  const children = Array.isArray(tree)
    ? tree
    : Object.keys(tree as object)
        .sort()
        .map((k) => (tree as any)[k]);
  return children.some(poisonFirst);
}

/** A bitwise snapshot of a tree. */
const bits = (tree: unknown) => Buffer.from(serializeState(tree));

const RUNS = 60;

describe('properties of every transformation', () => {
  it('in-place Optimizer (auto, js, wasm, generic kernels; arena) and functional loop agree bit for bit', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const { params, grads } = setup(c);
        const tx = c.tx.make();
        let p = params();
        let state = tx.init(p);
        const opts = [
          {},
          { kernel: 'js' as const },
          { kernel: 'wasm' as const },
          { kernel: 'generic' as const },
          { arena: true },
        ];
        const opt = opts.map((o) => new Optimizer(c.tx.make(), params(), o));
        for (let t = 0; t < c.steps; t++) {
          const [u, s] = tx.update(grads(t), state, p);
          p = applyUpdates(p, u);
          state = s;
          for (const o of opt) {
            const g = grads(t);
            o.step((c.tx.pair ? { fast: g, slow: g } : g) as never);
          }
        }
        for (const o of opt) {
          expect(bits(o.params).equals(bits(p)), `params, ${c.tx.name}`).toBe(true);
          expect(bits(o.state).equals(bits(state)), `state, ${c.tx.name}`).toBe(true);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('update and applyUpdates never mutate their inputs', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const { params, grads } = setup(c);
        const tx = c.tx.make();
        let p = params();
        let state = tx.init(p);
        for (let t = 0; t < c.steps; t++) {
          const g = grads(t);
          const before = [bits(g), bits(state), bits(p)];
          const [u, s] = tx.update(g, state, p);
          const uBefore = bits(u);
          const next = applyUpdates(p, u);
          expect([bits(g), bits(state), bits(p)], c.tx.name).toEqual(before);
          expect(bits(u).equals(uBefore), c.tx.name).toBe(true);
          p = next;
          state = s;
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('states round-trip through safetensors bytes, and resuming equals never stopping', () => {
    fc.assert(
      fc.property(caseArb, fc.integer({ min: 0, max: 8 }), (c, stopAt) => {
        const { params, grads } = setup(c);
        const stop = Math.min(stopAt, c.steps);
        const tx = c.tx.make();
        let p = params();
        let state = tx.init(p);
        let resumedP: unknown;
        let resumed: unknown;
        for (let t = 0; t < c.steps; t++) {
          if (t === stop) {
            const bytes = serializeState(state, { metadata: { step: String(t) } });
            const restored = deserializeState(bytes, c.tx.make().init(params()));
            expect(bits(restored).equals(bits(state)), c.tx.name).toBe(true);
            resumed = restored;
            resumedP = p;
          }
          const [u, s] = tx.update(grads(t), state, p);
          p = applyUpdates(p, u);
          state = s;
        }
        if (resumed === undefined) return;
        const tx2 = c.tx.make();
        for (let t = stop; t < c.steps; t++) {
          const [u, s] = tx2.update(grads(t), resumed, resumedP);
          resumedP = applyUpdates(resumedP, u);
          resumed = s;
        }
        expect(bits(resumedP).equals(bits(p)), c.tx.name).toBe(true);
        expect(bits(resumed).equals(bits(state)), c.tx.name).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it('any tree of numbers, booleans, typed arrays and nulls round-trips exactly', () => {
    const leafArb = fc.oneof(
      fc.double(),
      fc.integer(),
      fc.constant(-0),
      fc.boolean(),
      fc.constant(null),
      fc.float32Array({ maxLength: 4 }),
      fc.float64Array({ maxLength: 4 }),
      fc.int32Array({ maxLength: 3 }),
    );
    const treeArb = fc.letrec<{ t: unknown }>((tie) => ({
      t: fc.oneof(
        { depthSize: 'small' },
        leafArb,
        fc.array(tie('t'), { maxLength: 3 }),
        fc.dictionary(fc.string({ maxLength: 4 }), tie('t'), { maxKeys: 3 }),
      ),
    })).t;
    fc.assert(
      fc.property(treeArb, (tree) => {
        const bytes = serializeState(tree);
        // The template only fixes the structure and types: a zeroed copy of the same tree.
        const template = treeMap(
          (x: unknown) =>
            typeof x === 'number'
              ? 0
              : typeof x === 'boolean'
                ? !x
                : new (x as any).constructor((x as Float64Array).length),
          tree,
        );
        const back = deserializeState(bytes, template);
        expect(Buffer.from(serializeState(back)).equals(Buffer.from(bytes))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});
