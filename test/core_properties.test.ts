/**
 * Property tests of the core: the functional and in-place paths agree bit for bit on arbitrary
 * trees and hyperparameters, `update` never mutates its inputs, float32 follows float64, and
 * the tree utilities keep the structure.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ArrayLeaf } from '../src/index.js';
import {
  applyUpdates,
  Optimizer,
  radam,
  treeLeaves,
  treeMap,
  treeZerosLike,
} from '../src/index.js';

type Shape = number | null | Shape[] | { [k: string]: Shape };

/** A tree shape: leaf sizes (1..6), nulls, nested arrays and objects. */
const shapeArb: fc.Arbitrary<Shape> = fc.letrec<{ node: Shape }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.integer({ min: 1, max: 6 }),
    fc.constant(null),
    fc.array(tie('node'), { minLength: 1, maxLength: 3 }),
    fc.dictionary(fc.constantFrom('w', 'b', 'kernel', 'bias', 'x y', '0'), tie('node'), {
      minKeys: 1,
      maxKeys: 3,
    }),
  ),
})).node;

/** Builds a tree of the shape, filling leaves from `next()`. */
function build(shape: Shape, f32: boolean, next: () => number): unknown {
  if (shape === null) return null;
  if (typeof shape === 'number') {
    const a = f32 ? new Float32Array(shape) : new Float64Array(shape);
    for (let i = 0; i < shape; i++) a[i] = next();
    return a;
  }
  if (Array.isArray(shape)) return shape.map((s) => build(s, f32, next));
  return Object.fromEntries(Object.entries(shape).map(([k, s]) => [k, build(s, f32, next)]));
}

function countLeaves(shape: Shape): number {
  if (shape === null) return 0;
  if (typeof shape === 'number') return 1;
  return (Array.isArray(shape) ? shape : Object.values(shape)).reduce<number>(
    (n, s) => n + countLeaves(s),
    0,
  );
}

/** A gradient value: mostly moderate, sometimes exactly zero or tiny. */
const gradValue = fc.oneof(
  { weight: 8, arbitrary: fc.double({ min: -10, max: 10, noNaN: true }) },
  { weight: 1, arbitrary: fc.constant(0) },
  { weight: 1, arbitrary: fc.double({ min: -1e-6, max: 1e-6, noNaN: true }) },
);

const hyperArb = fc.record({
  lr: fc.double({ min: 1e-5, max: 0.5, noNaN: true }),
  b1: fc.double({ min: 0, max: 0.99, noNaN: true }),
  b2: fc.double({ min: 0.5, max: 0.9999, noNaN: true }),
  eps: fc.oneof(fc.constant(1e-8), fc.constant(0), fc.double({ min: 0, max: 1e-3, noNaN: true })),
  epsRoot: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1e-3, noNaN: true })),
  threshold: fc.double({ min: 4, max: 8, noNaN: true }),
  nesterov: fc.boolean(),
});

const caseArb = fc.record({
  shape: shapeArb.filter((s) => countLeaves(s) > 0),
  f32: fc.boolean(),
  hp: hyperArb,
  steps: fc.integer({ min: 1, max: 12 }),
  values: fc.array(gradValue, { minLength: 64, maxLength: 64 }),
});

function cycle(values: number[]): () => number {
  let i = 0;
  return () => values[i++ % values.length]!;
}

function sameBits(a: unknown, b: unknown): boolean {
  const la = treeLeaves<ArrayLeaf | number>(a as never);
  const lb = treeLeaves<ArrayLeaf | number>(b as never);
  if (la.length !== lb.length) return false;
  for (let k = 0; k < la.length; k++) {
    const x = la[k]!;
    const y = lb[k]!;
    if (typeof x === 'number' || typeof y === 'number') {
      if (!Object.is(x, y)) return false;
      continue;
    }
    if (x.constructor !== y.constructor || x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) return false;
  }
  return true;
}

const deepCopy = (tree: unknown) =>
  treeMap((x: ArrayLeaf | number) => (typeof x === 'number' ? x : x.slice()), tree);

describe('core properties', () => {
  it('in-place Optimizer and functional update agree bit for bit (params and state)', () => {
    fc.assert(
      fc.property(caseArb, ({ shape, f32, hp, steps, values }) => {
        const { lr, ...opts } = hp;
        const next = cycle(values);
        const p0 = build(shape, f32, next);
        const grads = Array.from({ length: steps }, () => build(shape, f32, next));

        const tx = radam(lr, opts);
        let params = deepCopy(p0);
        let state = tx.init(params);
        for (const g of grads) {
          const [u, s] = tx.update(g, state, params);
          state = s;
          params = applyUpdates(params, u);
        }

        const inPlaceParams = deepCopy(p0);
        const opt = new Optimizer(radam(lr, opts), inPlaceParams);
        expect(opt.runsInPlace).toBe(true);
        for (const g of grads) opt.step(g as never);

        expect(sameBits(inPlaceParams, params)).toBe(true);
        expect(sameBits(opt.state, state)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('update and applyUpdates never mutate their inputs', () => {
    fc.assert(
      fc.property(caseArb, ({ shape, f32, hp, steps, values }) => {
        const { lr, ...opts } = hp;
        const next = cycle(values);
        const tx = radam(lr, opts);
        let params = build(shape, f32, next);
        let state = tx.init(params);
        for (let k = 0; k < steps; k++) {
          const g = build(shape, f32, next);
          const copies = [deepCopy(g), deepCopy(state), deepCopy(params)];
          const [u, s] = tx.update(g, state, params);
          const uCopy = deepCopy(u);
          const next2 = applyUpdates(params, u);
          expect(sameBits(g, copies[0])).toBe(true);
          expect(sameBits(state, copies[1])).toBe(true);
          expect(sameBits(params, copies[2])).toBe(true);
          expect(sameBits(u, uCopy)).toBe(true);
          state = s;
          params = next2;
        }
      }),
      { numRuns: 150 },
    );
  });

  it('float32 updates stay close to float64 updates', () => {
    // Each element keeps one sign, so the moments do not cancel: a well-conditioned regime where
    // float32 rounding of the state should cost only a few float32 ulps of relative error.
    const moderate = fc.oneof(
      { weight: 9, arbitrary: fc.double({ min: 1e-2, max: 10, noNaN: true }) },
      { weight: 1, arbitrary: fc.constant(0) },
    );
    const signs = [1, -1, 1, 1, -1];
    fc.assert(
      fc.property(
        hyperArb,
        fc.array(fc.array(moderate, { minLength: 5, maxLength: 5 }), {
          minLength: 1,
          maxLength: 20,
        }),
        (hp, gs) => {
          const { lr, ...opts } = hp;
          const tx = radam(lr, { ...opts, eps: 1e-8 });
          const p32 = new Float32Array(5);
          const p64 = new Float64Array(5);
          let s32 = tx.init(p32);
          let s64 = tx.init(p64);
          for (const g of gs) {
            const signed = g.map((x, i) => signs[i]! * x);
            const [u32, n32] = tx.update(Float32Array.from(signed), s32, p32);
            const [u64, n64] = tx.update(Float64Array.from(Float32Array.from(signed)), s64, p64);
            s32 = n32;
            s64 = n64;
            for (let i = 0; i < 5; i++) {
              const a = (u32 as Float32Array)[i]!;
              const b = (u64 as Float64Array)[i]!;
              expect(Math.abs(a - b)).toBeLessThanOrEqual(2e-5 * Math.abs(b) + 1e-30);
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('tree utilities keep arbitrary structures: zerosLike, map and leaves', () => {
    fc.assert(
      fc.property(shapeArb, fc.boolean(), (shape, f32) => {
        let n = 0;
        const tree = build(shape, f32, () => ++n);
        const zeros = treeZerosLike(tree);
        expect(treeLeaves(zeros).length).toBe(countLeaves(shape));
        expect(treeLeaves(zeros).every((z) => (z as ArrayLeaf).every((v) => v === 0))).toBe(true);
        const doubled = treeMap((x: ArrayLeaf) => x.map((v) => 2 * v), tree);
        const flat = treeLeaves<ArrayLeaf>(doubled).flatMap((x) => Array.from(x));
        const orig = treeLeaves<ArrayLeaf>(tree).flatMap((x) => Array.from(x));
        expect(flat).toEqual(orig.map((v) => 2 * v));
      }),
      { numRuns: 200 },
    );
  });
});
