/**
 * src/tfjs/weights.ts: TransformationOptimizer's getWeights/setWeights for every transformation's
 * state (booleans, nested counts, lookahead's slow params, injectHyperparams' float64
 * hyperparameters), resuming bit-identical to never stopping on the cpu in-place path and the
 * tensor path, and no tensor left behind by any error path (counted with tf.memory()).
 */
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  applyIfFinite,
  chain,
  clipByGlobalNorm,
  type GradientTransformationExtraArgs,
  injectHyperparams,
  lookahead,
  masked,
  multiSteps,
  radam,
  scaleByLearningRate,
  slowParamsInState,
  trace,
} from '../src/index.js';
import { TransformationOptimizer } from '../src/tfjs/index.js';
import { randomArray, useBackend } from './tfjs-helpers.js';

const cases: [string, () => GradientTransformationExtraArgs][] = [
  ['radam', () => radam(0.02)],
  [
    'applyIfFinite(radam) (a boolean, counters; NaN gradients)',
    () => applyIfFinite(radam(0.02), 3),
  ],
  [
    'multiSteps(radam) (nested counts, accumulated gradients)',
    () => multiSteps(radam(0.02), { everyK: 3 }),
  ],
  [
    'injectHyperparams(radam) (a float64 hyperparameter from a schedule)',
    () =>
      injectHyperparams((h: { lr: number; b1: number }) => radam(h.lr, { b1: h.b1 }))({
        lr: (c: number) => 0.05 * 0.93 ** c,
        b1: 0.85,
      }),
  ],
  [
    "slowParamsInState(lookahead(radam)) (lookahead's slow params)",
    () => slowParamsInState(lookahead(radam(0.02), { syncPeriod: 3, slowStepSize: 0.5 })),
  ],
  [
    'chain(clipByGlobalNorm, trace, scaleByLearningRate)',
    () => chain(clipByGlobalNorm(1), trace(0.9), scaleByLearningRate(0.05)),
  ],
  [
    'masked(radam) (a mask function of the variable tree)',
    () =>
      masked(radam(0.02), (tree: Record<string, unknown>) =>
        Object.fromEntries(Object.keys(tree).map((k) => [k, k.endsWith('a')])),
      ),
  ],
];

const SHAPES = { a: [2, 3], b: [4] } as const;

/** A variable holding `values` (the initial tensor is disposed: the variable keeps its data). */
function variable(values: Float32Array, shape: number[], name: string): tf.Variable {
  const t = tf.tensor(values, shape);
  const v = tf.variable(t, true, name);
  t.dispose();
  return v;
}

/** Fresh variables `<prefix>a`, `<prefix>b` with fixed values; their names key the state. */
function variables(prefix: string): Record<'a' | 'b', tf.Variable> {
  return {
    a: variable(randomArray(6, 1), [...SHAPES.a], `${prefix}a`),
    b: variable(randomArray(4, 2), [...SHAPES.b], `${prefix}b`),
  };
}

/** The gradients of step t (a NaN at steps 2 and 7). */
function gradients(t: number): Record<'a' | 'b', tf.Tensor> {
  const a = randomArray(6, 100 + t);
  if (t === 2 || t === 7) a[1] = Number.NaN;
  return { a: tf.tensor(a, [...SHAPES.a]), b: tf.tensor(randomArray(4, 200 + t), [...SHAPES.b]) };
}

function step(opt: TransformationOptimizer, vars: Record<'a' | 'b', tf.Variable>, t: number): void {
  const g = gradients(t);
  opt.applyGradients({ [vars.a.name]: g.a, [vars.b.name]: g.b });
  tf.dispose([g.a, g.b]);
}

const bits = (v: tf.Tensor) => Array.from(new Uint32Array(Float32Array.from(v.dataSync()).buffer));

let n = 0;

describe.each(['cpu', 'wasm'])('TransformationOptimizer weights on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });
  afterAll(async () => {
    await useBackend('cpu');
  });

  for (const [name, make] of cases) {
    for (const cpuInPlace of [true, false]) {
      it(`${name}, cpuInPlace ${cpuInPlace}: getWeights, setWeights into a new optimizer, resume bit for bit, no leak`, async () => {
        const start = tf.memory().numTensors;
        const p = `w${n++}_`;
        const straightVars = variables(`${p}s_`);
        const straight = new TransformationOptimizer(make(), { cpuInPlace });
        for (let t = 0; t < 12; t++) step(straight, straightVars, t);

        const firstVars = variables(`${p}f_`);
        const first = new TransformationOptimizer(make(), { cpuInPlace });
        for (let t = 0; t < 5; t++) step(first, firstVars, t);
        const weights = await first.getWeights();
        const dtypes = new Set(weights.map((w) => w.tensor.dtype));
        if (name.startsWith('applyIfFinite')) expect(dtypes.has('bool')).toBe(true);
        if (name.startsWith('injectHyperparams')) expect(dtypes.has('string')).toBe(true);
        if (name.startsWith('slowParams'))
          expect(weights.map((w) => w.name)).toContain(`optax/state.slow.${p}f_a`);

        // A new optimizer, on other variables holding the same values (matched by position).
        const resumedVars = variables(`${p}r_`);
        resumedVars.a.assign(firstVars.a);
        resumedVars.b.assign(firstVars.b);
        const resumed = new TransformationOptimizer(make(), { cpuInPlace });
        await resumed.setWeights(weights);
        expect(resumed.iterations).toBe(5);
        for (let t = 5; t < 12; t++) step(resumed, resumedVars, t);
        expect(bits(resumedVars.a)).toEqual(bits(straightVars.a));
        expect(bits(resumedVars.b)).toEqual(bits(straightVars.b));
        // The states agree too, leaf for leaf (values and dtypes), beyond the variable names.
        const strip = (ws: { name: string; tensor: tf.Tensor }[]) =>
          ws
            .filter((w) => w.name !== 'optax/variables')
            .map((w) => [
              w.name.replace(/w\d+_[sfr]_/g, ''),
              w.tensor.dtype,
              Array.from(w.tensor.dataSync() as never),
            ]);
        expect(strip(await resumed.getWeights())).toEqual(strip(await straight.getWeights()));

        for (const o of [straight, first, resumed]) o.dispose();
        for (const v of [straightVars, firstVars, resumedVars]) tf.dispose([v.a, v.b]);
        expect(tf.memory().numTensors).toBe(start);
      });
    }
  }

  it('error paths leave no tensor behind: a leaf getWeights cannot encode, bad lists, weights of another transformation', async () => {
    const start = tf.memory().numTensors;
    const v = variable(Float32Array.of(1, 2, 3), [3], `err${n++}`);
    const g = tf.tensor([0.5, -0.5, 1]);
    // A transformation whose state has a leaf with no tensor encoding (a string).
    const odd: GradientTransformationExtraArgs = {
      init: (p) => ({ inner: radam(0.1).init(p), tag: 'x' as never }),
      update: (u, s: any, p) => {
        const [uu, inner] = radam(0.1).update(u, s.inner, p);
        return [uu, { inner, tag: s.tag }];
      },
    };
    const opt = new TransformationOptimizer(odd, { cpuInPlace: false });
    opt.applyGradients({ [v.name]: g });
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++)
      await expect(opt.getWeights()).rejects.toThrow(
        'TransformationOptimizer.getWeights: state leaf .tag is string "x"; a TF.js optimizer\'s state leaf must be a tensor, a Float32Array, a number or a boolean',
      );
    expect(tf.memory().numTensors).toBe(before);

    // Weights that are not a list, a weight that is not a tensor, duplicate names.
    const good = new TransformationOptimizer(radam(0.1));
    good.applyGradients({ [v.name]: g });
    const weights = await good.getWeights();
    const other = new TransformationOptimizer(radam(0.1));
    await expect(other.setWeights(3 as never)).rejects.toThrow(
      'TransformationOptimizer.setWeights: expected the list of { name, tensor } made by getWeights, got number 3',
    );
    await expect(other.setWeights([{ name: 'iter', tensor: 1 as never }])).rejects.toThrow(
      'TransformationOptimizer.setWeights: weight 0 must be { name, tensor } with a live tf.Tensor, got an object with keys [name, tensor]',
    );
    await expect(other.setWeights([...weights, weights[2]!])).rejects.toThrow(
      'TransformationOptimizer.setWeights: two weights named "optax/state[0].count"',
    );
    // Weights of another transformation: refused at the next step, nothing leaked or changed.
    const mismatch = new TransformationOptimizer(applyIfFinite(radam(0.1), 2));
    await mismatch.setWeights(weights);
    const kept = Array.from(v.dataSync());
    const mid = tf.memory().numTensors;
    expect(() => mismatch.applyGradients({ [v.name]: g })).toThrow(
      /no weight "optax\/state\.innerState\[0\]\.count"/,
    );
    expect(tf.memory().numTensors).toBe(mid);
    expect(Array.from(v.dataSync())).toEqual(kept);
    // A saved count that is not an integer scalar where the state has a boolean.
    const flags = new TransformationOptimizer(applyIfFinite(radam(0.1), 2));
    flags.applyGradients({ [v.name]: g });
    const fw = await flags.getWeights();
    const wrong = fw.map((w) =>
      w.name === 'optax/state.lastFinite' ? { name: w.name, tensor: tf.scalar(1, 'int32') } : w,
    );
    const other2 = new TransformationOptimizer(applyIfFinite(radam(0.1), 2));
    await other2.setWeights(wrong);
    const mid2 = tf.memory().numTensors;
    expect(() => other2.applyGradients({ [v.name]: g })).toThrow(
      'TransformationOptimizer.setWeights: weight "optax/state.lastFinite" is int32 with 1 element; the state leaf for the current variables is a boolean (a bool scalar)',
    );
    expect(tf.memory().numTensors).toBe(mid2);
    wrong.find((w) => w.name === 'optax/state.lastFinite')!.tensor.dispose();

    // A schedule that turns NaN on the tensor path: refused inside tf.tidy, nothing leaked.
    const nan = new TransformationOptimizer(
      radam((c) => (c < 1 ? 0.1 : Number.NaN)),
      {
        cpuInPlace: false,
      },
    );
    nan.applyGradients({ [v.name]: g });
    const mid3 = tf.memory().numTensors;
    expect(() => nan.applyGradients({ [v.name]: g })).toThrow(
      /learning-rate schedule returned NaN/,
    );
    expect(tf.memory().numTensors).toBe(mid3);

    for (const o of [opt, good, other, mismatch, flags, other2, nan]) o.dispose();
    tf.dispose([v, g]);
    expect(tf.memory().numTensors).toBe(start);
  });
});
