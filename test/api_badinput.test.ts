/**
 * A property test over the exported API: every exported function (and the transformations,
 * schedules and optimizers it returns) is called with random wrong arguments, and no generic
 * JavaScript error may escape: no property read of undefined, "is not iterable", "is not a
 * function", stack overflow, BigInt serialisation or any other error whose message does not come
 * from optax-ts. Every thrown error must be an `Error` whose message names the function or the
 * tree path. The counts are printed (`npx vitest run test/api_badinput.test.ts`).
 *
 * The random trees are built non-cyclic and at most 4 levels deep (`junkTree`): cyclic and very
 * deep trees are the tree core's, tested in test/inplace/trees.test.ts.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as api from '../src/index.js';
import * as node from '../src/node/index.js';
import * as tfjs from '../src/tfjs/index.js';

/** Messages of errors thrown by the JavaScript engine rather than by optax-ts's checks. */
const GENERIC = [
  /Cannot read propert/,
  /Cannot set propert/,
  /Cannot convert/,
  /Cannot destructure/,
  /Cannot (?:define|redefine|assign|add) propert/,
  /is not iterable/,
  /is not a function/,
  /is not a constructor/,
  /is not defined/,
  /Maximum call stack/,
  /serialize a BigInt/,
  /Invalid (?:array|typed array) length/,
  /object null is not/,
  /undefined is not/,
  /Reduce of empty array/,
  /Symbol\(\)? to a (?:string|number)/,
  /^Array buffer allocation failed/,
  /Start offset|out of bounds/,
];

/** True when `e` is an engine error escaping rather than an optax-ts error. */
function isGeneric(e: unknown): boolean {
  return !(e instanceof Error) || GENERIC.some((re) => re.test(e.message));
}

const foreignF32 = runInNewContext('new Float32Array([1, 2, 3])') as Float32Array;
const foreignObject = runInNewContext('({ w: 1 })') as object;

/** Values of the wrong kind for almost any parameter. */
const junkLeaf = fc.oneof(
  fc.constantFrom<unknown>(
    undefined,
    null,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    -1,
    0,
    1.5,
    5,
    2 ** 40,
    '',
    'abc',
    'mask',
    true,
    false,
    10n,
    Symbol('s'),
    () => 1,
    (x: unknown) => x,
    () => Number.NaN,
    () => undefined,
    new Map(),
    new Date(0),
    /re/,
    new Error('x'),
    Object.create(null),
    Object.freeze({ w: 1 }),
    foreignF32,
    foreignObject,
    new Int32Array(3),
    new Uint8ClampedArray(2),
    new BigInt64Array(2),
    new DataView(new ArrayBuffer(4)),
    new ArrayBuffer(8),
    new Float32Array(0),
    new Float32Array(3),
    new Float64Array(2),
    Float32Array.of(1, Number.NaN, 3),
    [],
    {},
    { init: 1, update: 2 },
    { init: () => ({}), update: () => 1 },
  ),
  fc.double(),
  fc.integer({ min: -5, max: 5 }),
  fc.string({ maxLength: 3 }),
);

/** Trees of junk leaves: non-cyclic and at most 4 levels deep by construction (cycles and depth: see the header). */
const junkTree = fc.letrec<{ tree: unknown }>((tie) => ({
  tree: fc.oneof(
    { depthSize: 'small', maxDepth: 3 },
    junkLeaf,
    fc.array(tie('tree'), { maxLength: 3 }),
    fc.dictionary(
      fc.constantFrom('w', 'b', 'count', 'mu', 'nu', '__proto__', 'odd key'),
      tie('tree'),
      {
        maxKeys: 3,
      },
    ),
  ),
})).tree;

/** Well-formed trees, so that calls get past the first argument and reach later checks. */
const goodTree = fc.constantFrom<() => unknown>(
  () => ({ w: new Float32Array(3), b: new Float64Array(2) }),
  () => ({ w: Float32Array.of(1, -2, 3) }),
  () => [1, 2, 3],
  () => 0.5,
  () => new Float64Array(2),
);

const arg = fc.oneof(
  { weight: 3, arbitrary: junkTree },
  { weight: 1, arbitrary: goodTree.map((f) => f()) },
);

/** The exported functions, except `registerLeafOps` (it changes global state; tested below). */
const functions = Object.entries(api).filter(
  ([name, v]) =>
    typeof v === 'function' &&
    name !== 'registerLeafOps' &&
    // Error classes take any message, as Error does.
    !((v as { prototype?: unknown }).prototype instanceof Error),
) as [string, (...args: unknown[]) => unknown][];

const stats = { calls: 0, generic: 0, examples: [] as string[] };
const byKind = new Map<string, number>();

function describeArgs(args: unknown[]): string {
  return args.map((a) => fc.stringify(a)).join(', ');
}

/** Calls `f(...args)`, classifies what it throws; returns the result when it did not throw. */
function attempt(label: string, f: () => unknown, args: unknown[]): unknown {
  stats.calls++;
  try {
    return f();
  } catch (e) {
    if (isGeneric(e)) {
      stats.generic++;
      const key = `${label}: ${e instanceof Error ? e.message.replace(/\d+/g, 'N').slice(0, 60) : typeof e}`;
      byKind.set(key, (byKind.get(key) ?? 0) + 1);
      if (stats.examples.length < 30)
        stats.examples.push(
          `${label}(${describeArgs(args)}): ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`,
        );
    }
    return undefined;
  }
}

function isTransformation(x: unknown): x is api.GradientTransformationExtraArgs {
  return (
    x !== null &&
    typeof x === 'object' &&
    typeof (x as { init?: unknown }).init === 'function' &&
    typeof (x as { update?: unknown }).update === 'function'
  );
}

/** Exercises what a successful call returned: transformations, schedules, optimizers. */
function exercise(label: string, result: unknown, more: unknown[][]): void {
  if (isTransformation(result)) {
    for (const [a, b, c] of more) {
      attempt(`${label}.init`, () => result.init(a as never), [a]);
      const good = { w: new Float32Array(3), b: new Float64Array(2) };
      const state = attempt(`${label}.init`, () => result.init(good), [good]);
      attempt(`${label}.update`, () => result.update(a as never, b as never, c as never), [
        a,
        b,
        c,
      ]);
      attempt(`${label}.update`, () => result.update(a as never, state as never, good), [
        a,
        '<state>',
        good,
      ]);
      attempt(`${label}.update`, () => result.update(good, a as never, good), [good, a, good]);
    }
  } else if (
    typeof result === 'function' &&
    !((result as { prototype?: unknown }).prototype instanceof Error)
  ) {
    for (const [a] of more)
      attempt(`${label}(...)`, () => (result as (x: unknown) => unknown)(a), [a]);
  } else if (result instanceof api.Optimizer) {
    for (const [a, b] of more)
      attempt(`${label}.step`, () => result.step(a as never, b as never), [a, b]);
  }
}

describe('no generic JavaScript error escapes the exported API', () => {
  it('random wrong arguments to every exported function, and to what they return', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...functions),
        fc.array(arg, { maxLength: 4 }),
        fc.array(fc.tuple(arg, arg, arg), { minLength: 1, maxLength: 2 }),
        ([name, f], args, more) => {
          const isClass = /^[A-Z]/.test(name);
          const result = attempt(
            name,
            () => (isClass ? new (f as any)(...args) : f(...args)),
            args,
          );
          exercise(name, result, more);
        },
      ),
      { seed: 13, numRuns: Number(process.env.RUNS ?? 20000) },
    );
    console.log(
      `api bad-input property (seed 13): ${stats.calls} bad calls, ${stats.generic} generic errors${
        stats.examples.length > 0 ? `\n  ${stats.examples.join('\n  ')}` : ''
      }`,
    );
    if (process.env.KINDS) console.log([...byKind].map(([k, n]) => `${n}\t${k}`).join('\n'));
    expect(stats.examples).toEqual([]);
    expect(stats.generic).toBe(0);
    expect(stats.calls).toBeGreaterThan(20_000);
  }, 120_000);

  it('random wrong gradients, states and params to every transformation and schedule', () => {
    const before = { ...stats };
    const txs: [string, () => api.GradientTransformationExtraArgs][] = [
      ['radam', () => api.radam(0.1)],
      [
        'radam(schedule, weightDecay)',
        () => api.radam((c) => 0.1 / (1 + c), { weightDecay: 0.01, nesterov: true }),
      ],
      ['adam', () => api.adam(0.1)],
      ['adamw', () => api.adamw(0.1)],
      ['sgd', () => api.sgd(0.1, { momentum: 0.9 })],
      ['scaleByRadam', () => api.scaleByRadam()],
      ['scaleByAdam', () => api.scaleByAdam()],
      ['scale', () => api.scale(2)],
      ['scaleByLearningRate', () => api.scaleByLearningRate((c) => 1 / (1 + c))],
      ['scaleBySchedule', () => api.scaleBySchedule((c) => c)],
      ['addDecayedWeights', () => api.addDecayedWeights(0.1)],
      ['clip', () => api.clip(1)],
      ['clipByGlobalNorm', () => api.clipByGlobalNorm(1)],
      ['trace', () => api.trace(0.9)],
      ['chain', () => api.chain(api.clip(1), api.radam(0.1))],
      ['applyIfFinite', () => api.applyIfFinite(api.radam(0.1), 2)],
      ['lookahead', () => api.lookahead(api.radam(0.1), { syncPeriod: 2, slowStepSize: 0.5 })],
      ['masked', () => api.masked(api.radam(0.1), { w: true, b: false })],
      ['multiSteps', () => api.multiSteps(api.radam(0.1), { everyK: 2 })],
      [
        'injectHyperparams',
        () =>
          api.injectHyperparams((h: { lr: number }) => api.radam(h.lr))({
            lr: (c: number) => 0.1 / (1 + c),
          }),
      ],
      ['identity', () => api.identity()],
    ];
    const schedules: [string, (c: number) => number][] = [
      ['linearSchedule', api.linearSchedule({ initValue: 0, endValue: 1, transitionSteps: 10 })],
      ['cosineDecaySchedule', api.cosineDecaySchedule({ initValue: 1, decaySteps: 10 })],
      [
        'warmupCosineDecaySchedule',
        api.warmupCosineDecaySchedule({
          initValue: 0,
          peakValue: 1,
          warmupSteps: 2,
          decaySteps: 10,
        }),
      ],
      [
        'exponentialDecay',
        api.exponentialDecay({ initValue: 1, transitionSteps: 2, decayRate: 0.5 }),
      ],
      ['piecewiseConstantSchedule', api.piecewiseConstantSchedule(1, { 2: 0.5 })],
      ['joinSchedules', api.joinSchedules([api.constantSchedule(1), api.constantSchedule(2)], [3])],
    ];
    /** A copy of `tree` with the leaf at a random path replaced by `junk`. */
    const corrupt = (tree: unknown, junk: unknown, pick: number): unknown => {
      const paths: (string | number)[][] = [];
      const visit = (node: unknown, path: (string | number)[]) => {
        paths.push(path);
        if (Array.isArray(node)) for (let i = 0; i < node.length; i++) visit(node[i], [...path, i]);
        else if (node !== null && typeof node === 'object' && !ArrayBuffer.isView(node))
          for (const k of Object.keys(node))
            visit((node as Record<string, unknown>)[k], [...path, k]);
      };
      visit(tree, []);
      const path = paths[pick % paths.length]!;
      if (path.length === 0) return junk;
      const copy = structuredClone(tree) as Record<string | number, unknown>;
      let node = copy;
      for (const k of path.slice(0, -1)) node = node[k] as Record<string | number, unknown>;
      node[path.at(-1)!] = junk;
      return copy;
    };
    fc.assert(
      fc.property(
        fc.constantFrom(...txs),
        fc.constantFrom(...schedules),
        arg,
        arg,
        fc.nat(),
        fc.constantFrom('grads', 'state', 'params', 'init', 'schedule'),
        ([name, make], [sname, schedule], junk, other, pick, where) => {
          const tx = make();
          const params = { w: Float32Array.of(1, -2, 3), b: Float64Array.of(0.5, 0.25) };
          const pair = name === 'lookahead' ? api.lookaheadParams(params) : params;
          const state = tx.init(pair);
          const grads = { w: Float32Array.of(0.1, 0.2, 0.3), b: Float64Array.of(1, -1) };
          if (where === 'init')
            attempt(`${name}.init`, () => tx.init(corrupt(pair, junk, pick) as never), [junk]);
          else if (where === 'grads')
            attempt(
              `${name}.update`,
              () => tx.update(corrupt(grads, junk, pick) as never, state, pair),
              [junk],
            );
          else if (where === 'state')
            attempt(
              `${name}.update`,
              () => tx.update(grads, corrupt(state, junk, pick) as never, pair),
              [junk],
            );
          else if (where === 'params')
            attempt(
              `${name}.update`,
              () => tx.update(grads, state, corrupt(pair, junk, pick) as never, other as never),
              [junk, other],
            );
          else attempt(sname, () => schedule(junk as number), [junk]);
        },
      ),
      { seed: 14, numRuns: Number(process.env.RUNS ?? 6000) },
    );
    const calls = stats.calls - before.calls;
    const generic = stats.generic - before.generic;
    console.log(
      `transformations and schedules (seed 14): ${calls} bad calls, ${generic} generic errors`,
    );
    expect(stats.examples).toEqual([]);
    expect(generic).toBe(0);
    expect(calls).toBeGreaterThan(5_000);
  }, 120_000);

  it('random wrong arguments to optax-ts/node and optax-ts/tfjs', async () => {
    const before = { calls: stats.calls, generic: stats.generic };
    const dir = mkdtempSync(join(tmpdir(), 'optax-ts-badinput-'));
    const file = join(dir, 'x.safetensors');
    await node.saveState(file, api.radam(0.1).init({ w: new Float32Array(2) }));
    const v = tf.variable(tf.zeros([2]), true, 'badinput_v');
    const opt = new tfjs.TransformationOptimizer(api.radam(0.1));
    opt.applyGradients({ [v.name]: tf.ones([2]) });
    const weights = await opt.getWeights();
    /** Like attempt, for promises. */
    const attemptAsync = async (label: string, f: () => unknown, args: unknown[]) => {
      stats.calls++;
      try {
        await f();
      } catch (e) {
        if (isGeneric(e)) {
          stats.generic++;
          if (stats.examples.length < 30)
            stats.examples.push(
              `${label}(${describeArgs(args)}): ${e instanceof Error ? e.message : String(e)}`,
            );
        }
      }
    };
    await fc.assert(
      fc.asyncProperty(arg, arg, fc.nat(8), async (a, b, which) => {
        switch (which) {
          case 0:
            // A string path is taken inside the temporary folder: a valid one is written there,
            // never into the working directory.
            return attemptAsync(
              'saveState',
              () => node.saveState((typeof a === 'string' ? join(dir, a) : a) as never, b),
              [a, b],
            );
          case 1:
            return attemptAsync(
              'saveState',
              () => node.saveState(join(dir, 'y.safetensors'), a, b as never),
              [a, b],
            );
          case 2:
            return attemptAsync('loadState', () => node.loadState(file, a, b as never), [a, b]);
          case 3:
            return attemptAsync('loadStateInto', () => node.loadStateInto(a as never, b), [a, b]);
          case 4:
            return attemptAsync(
              'removeStaleTemporaries',
              () =>
                node.removeStaleTemporaries((typeof a === 'string' ? join(dir, a) : a) as never),
              [a],
            );
          case 5:
            return attemptAsync(
              'TransformationOptimizer',
              () => new tfjs.TransformationOptimizer(a as never, b as never),
              [a, b],
            );
          case 6:
            return attemptAsync(
              'RAdamOptimizer',
              () => new tfjs.RAdamOptimizer(a as never, b as never),
              [a, b],
            );
          default:
            return attemptAsync(
              'TransformationOptimizer.setWeights',
              () =>
                opt.setWeights([
                  ...weights.slice(0, 2),
                  { name: 'optax/state[0].count', tensor: a },
                ] as never),
              [a],
            );
        }
      }),
      { seed: 15, numRuns: Number(process.env.RUNS_ASYNC ?? 1500) },
    );
    opt.dispose();
    v.dispose();
    rmSync(dir, { recursive: true, force: true });
    const calls = stats.calls - before.calls;
    const generic = stats.generic - before.generic;
    console.log(
      `optax-ts/node and optax-ts/tfjs (seed 15): ${calls} bad calls, ${generic} generic errors`,
    );
    expect(stats.examples).toEqual([]);
    expect(generic).toBe(0);
  }, 120_000);
});
