/**
 * The catalogue's elementwise optimizers on TF.js tensors and jax-js arrays: their stages are
 * evaluated operation by operation through each adapter's `primitive` (`kernels/evaluate.ts`), so
 * on backends whose float32 operations are IEEE 754 they give the typed-array path's bits. Checked
 * over 12 steps on both TF.js backends (bit for bit, where the alias is made of stages only:
 * members that use `LeafOps`' own tensor arithmetic, such as `scaleByAdam` in
 * `optimisticAdamV2`, agree to float32 precision) and on jax-js's WebAssembly backend (to float32
 * precision: its float32 division is not always correctly rounded, e.g. 0.3 / 7), with tensors
 * counted for leaks.
 */
import { init, type numpy as np } from '@jax-js/jax';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import * as optax from '../src/index.js';
import { tidyTransformation } from '../src/jax/index.js';
import '@tensorflow/tfjs-layers';
import { TransformationOptimizer } from '../src/tfjs/index.js';
import { f32 as jaxF32, read } from './jax-helpers.js';
import { BACKENDS, randomArray, useBackend } from './tfjs-helpers.js';

/**
 * Every elementwise alias of the catalogue, with non-default hyperparameters; the third entry is
 * false where a member computes with `LeafOps` tensor arithmetic (not bit for bit on TF.js).
 */
const ALIASES: readonly [string, () => optax.GradientTransformationExtraArgs, boolean?][] = [
  ['lion', () => optax.lion(0.01, { b1: 0.8, b2: 0.95, weightDecay: 0.1 })],
  ['adabelief', () => optax.adabelief(0.01, { b1: 0.8, nesterov: true, weightDecay: 0.1 })],
  ['adamax', () => optax.adamax(0.01, { b2: 0.9, eps: 1e-6 })],
  ['adamaxw', () => optax.adamaxw(0.01, { weightDecay: 0.1 })],
  ['amsgrad', () => optax.amsgrad(0.01, { b1: 0.8, b2: 0.9 })],
  ['yogi', () => optax.yogi(0.01, { b1: 0.8, eps: 1e-4 })],
  ['adan', () => optax.adan(0.01, { weightDecay: 0.1 })],
  ['optimisticAdamV2', () => optax.optimisticAdamV2(0.01, { alpha: 0.5, beta: 0.25 }), false],
  ['adagrad', () => optax.adagrad(0.05, { initialAccumulatorValue: 0.2, eps: 1e-6 })],
  ['rmsprop', () => optax.rmsprop(0.01, { decay: 0.8, momentum: 0.5, nesterov: true })],
  [
    'rmsprop centered',
    () => optax.rmsprop(0.01, { centered: true, biasCorrection: true, epsInSqrt: false }),
  ],
  ['adadelta', () => optax.adadelta(0.5, { rho: 0.8, weightDecay: 0.01 })],
  ['signSgd', () => optax.signSgd(0.01)],
  ['signum', () => optax.signum(0.01, { beta: 0.7 })],
  ['rprop', () => optax.rprop(0.01, { etaPlus: 1.3 })],
  ['rprop unlagged', () => optax.rprop(0.01, { lagged: false })],
  ['optimisticGradientDescent', () => optax.optimisticGradientDescent(0.01, { alpha: 0.7 })],
  ['zeroNans', () => optax.chain(optax.zeroNans(), optax.scaleByLearningRate(0.1))],
];

/**
 * The aliases that are not made of stages alone (matrices, norms, noise, the loss): through the
 * TransformationOptimizer they run on the variables' storage, which carries the variables' shapes;
 * on tensors and jax-js arrays the ones written on typed arrays run by way of the host
 * (`onHost`), so they give the typed-array path's values exactly there too.
 */
const IN_PLACE_ONLY: readonly [string, () => optax.GradientTransformationExtraArgs, boolean?][] = [
  ['adafactor', () => optax.adafactor(0.01, { minDimSizeToFactor: 2, momentum: 0.9 })],
  ['muon', () => optax.muon(0.01)],
  ['sm3', () => optax.sm3(0.01)],
  ['novograd', () => optax.novograd(0.01)],
  ['noisySgd', () => optax.noisySgd(0.01, { key: 7 })],
  ['lamb', () => optax.lamb(0.01), false],
  ['lars', () => optax.lars(0.01)],
  ['fromage', () => optax.fromage(0.01)],
  ['polyakSgd', () => optax.polyakSgd(0.5)],
  ['scheduleFreeAdamw', () => optax.scheduleFreeAdamw(0.01)],
];

const SIZES = { w: 6, b: 3 };
const W_SHAPE = [2, 3];
const STEPS = 12;

/** The params and per-step gradients, as Float32Arrays (with zeros and a huge value). */
function data() {
  const p0 = { w: randomArray(SIZES.w, 1), b: randomArray(SIZES.b, 2) };
  const grads = Array.from({ length: STEPS }, (_, t) => {
    const w = randomArray(SIZES.w, 10 + t, 3);
    const b = randomArray(SIZES.b, 50 + t);
    w[0] = 0;
    b[1] = t % 3 === 0 ? 1e30 : b[1]!;
    return { w, b };
  });
  return { p0, grads };
}

/** The typed-array trajectory: params after each step. */
function typedRun(make: () => optax.GradientTransformationExtraArgs) {
  const { p0, grads } = data();
  const tx = make();
  let params: Record<string, Float32Array> = {
    w: Object.assign(p0.w.slice(), { shape: W_SHAPE }),
    b: p0.b.slice(),
  };
  let state = tx.init(params);
  const out: Record<string, Float32Array>[] = [];
  for (const [t, g] of grads.entries()) {
    let u: unknown;
    [u, state] = tx.update(g, state, params, { value: 1 + t });
    params = optax.applyUpdates(params, u);
    out.push(params);
  }
  return out;
}

/**
 * Frees every leaf of `old` once, except those that live on in `alive` (a transformation may return
 * a leaf that is also in its new state, as `trace` does).
 */
function release(old: readonly unknown[], alive: readonly unknown[]): void {
  const keep = new Set(optax.treeLeaves<unknown>(alive));
  const seen = new Set<unknown>();
  for (const x of optax.treeLeaves<unknown>(old))
    if (!keep.has(x) && !seen.has(x)) {
      seen.add(x);
      optax.disposeTree(x);
    }
}

const same = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  Array.from(a).every((x, i) => Object.is(x, b[i]) || (Number.isNaN(x) && Number.isNaN(b[i]!)));

/** Within float32 precision: `|a - b| <= 1e-5 max(1, |b|)` (a few ulps, grown over 12 steps). */
const close = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  Array.from(a).every(
    (x, i) =>
      Math.abs(x - b[i]!) <= 1e-5 * Math.max(1, Math.abs(b[i]!)) ||
      (Number.isNaN(x) && Number.isNaN(b[i]!)),
  );

describe.each(BACKENDS)('TF.js %s backend', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });
  it.each([...ALIASES, ...IN_PLACE_ONLY])(
    '%s gives the typed-array bits and leaks no tensor',
    (_name, make, exact) => {
      const agree = exact === false ? close : same;
      const want = typedRun(make);
      const { p0, grads } = data();
      const tx = make();
      const before = tf.memory().numTensors;
      let params: Record<string, tf.Tensor> = { w: tf.tensor(p0.w, W_SHAPE), b: tf.tensor(p0.b) };
      let state = tx.init(params);
      for (let t = 0; t < STEPS; t++) {
        const g = { w: tf.tensor(grads[t]!.w, W_SHAPE), b: tf.tensor(grads[t]!.b) };
        const [u, next] = tx.update(g, state, params, { value: 1 + t });
        const nextParams = optax.applyUpdates(params, u);
        release([g, u, state, params], [next, nextParams]);
        state = next;
        params = nextParams;
        for (const k of ['w', 'b'] as const)
          expect(agree(params[k]!.dataSync(), want[t]![k]!), `step ${t + 1} ${k}`).toBe(true);
      }
      optax.disposeTree([state, params]);
      expect(tf.memory().numTensors).toBe(before);
    },
  );
});

describe.each(BACKENDS)("TF.js's TransformationOptimizer on the %s backend", (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });
  it.each([...ALIASES, ...IN_PLACE_ONLY])(
    '%s equals the core Optimizer on the same arrays',
    (name, make) => {
      const { p0, grads } = data();
      const w = tf.variable(tf.tensor2d(p0.w, [2, 3]), true, `cat_${backend}_${name}_w`);
      const b = tf.variable(tf.tensor1d(p0.b), true, `cat_${backend}_${name}_b`);
      const params: Record<string, Float32Array> = {
        [w.name]: Object.assign(p0.w.slice(), { shape: [2, 3] }),
        [b.name]: p0.b.slice(),
      };
      const core = new optax.Optimizer(make(), params);
      const opt = new TransformationOptimizer(make());
      for (const [t, g] of grads.entries()) {
        const gw = tf.tensor2d(g.w, [2, 3]);
        const gb = tf.tensor1d(g.b);
        const extra = { value: 1 + t };
        opt.applyGradients({ [w.name]: gw, [b.name]: gb }, extra);
        core.step({ [w.name]: g.w, [b.name]: g.b }, extra);
        tf.dispose([gw, gb]);
      }
      // Both backends run the core's engine on the variables' storage: the same bits.
      expect(opt.ranInPlace).toBe(true);
      expect(same(w.dataSync(), params[w.name]!)).toBe(true);
      expect(same(b.dataSync(), params[b.name]!)).toBe(true);
      opt.dispose();
      tf.dispose([w, b]);
    },
  );
});

describe("polyakSgd through TransformationOptimizer's minimize", () => {
  it('passes the loss as { value } with lossAsValue, and refuses clearly without it', async () => {
    await useBackend('cpu');
    const x = tf.variable(tf.tensor([3, -2]));
    const f = () => tf.sum(tf.square(x)) as tf.Scalar;
    const without = new TransformationOptimizer(optax.polyakSgd(1));
    expect(() => without.minimize(f)).toThrow(/polyakSgd.update: the loss value is required/);
    expect(Array.from(x.dataSync())).toEqual([3, -2]);
    const opt = new TransformationOptimizer(optax.polyakSgd(1), { lossAsValue: true });
    const cost = opt.minimize(f, true)!;
    // Loss 13, gradient [6, -4], |g|^2 = 52: the Polyak step 13 / 52 = 0.25.
    expect(cost.dataSync()[0]).toBe(13);
    expect(Array.from(x.dataSync())).toEqual([1.5, -1]);
    expect(() => new TransformationOptimizer(optax.sgd(1), { lossAsValue: 1 as never })).toThrow(
      'TransformationOptimizer: lossAsValue must be a boolean, got 1',
    );
    tf.dispose([x, cost]);
    opt.dispose();
    without.dispose();
  });
});

describe('jax-js arrays', () => {
  beforeAll(async () => {
    await init('wasm');
  });
  it.each([...ALIASES, ...IN_PLACE_ONLY])(
    '%s agrees with the typed-array path to float32 precision',
    (_name, make) => {
      const want = typedRun(make);
      const { p0, grads } = data();
      const tx = tidyTransformation(make());
      let params: Record<string, np.Array> = { w: jaxF32(p0.w, W_SHAPE), b: jaxF32(p0.b) };
      let state = tx.init(params);
      for (let t = 0; t < STEPS; t++) {
        const g = { w: jaxF32(grads[t]!.w, W_SHAPE), b: jaxF32(grads[t]!.b) };
        const [u, next] = tx.update(g, state, params, { value: 1 + t });
        const nextParams = optax.applyUpdates(params, u);
        release([g, u, state, params], [next, nextParams]);
        state = next;
        params = nextParams;
        for (const k of ['w', 'b'] as const)
          expect(close(read(params[k]!), want[t]![k]!), `step ${t + 1} ${k}`).toBe(true);
      }
      optax.disposeTree([state, params]);
    },
  );
});
