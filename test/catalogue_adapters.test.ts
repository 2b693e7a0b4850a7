/**
 * The catalogue's elementwise optimizers on TF.js tensors and jax-js arrays: their stages are
 * evaluated operation by operation through each adapter's `primitive` (`kernels/evaluate.ts`), so
 * on backends whose float32 operations are IEEE 754 they give the typed-array path's bits. Checked
 * over 12 steps on both TF.js backends and on jax-js's WebAssembly backend, with tensors counted
 * for leaks.
 */
import { init, type numpy as np } from '@jax-js/jax';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import * as optax from '../src/index.js';
import { tidyTransformation } from '../src/jax/index.js';
import '../src/tfjs/index.js';
import { f32 as jaxF32, read } from './jax-helpers.js';
import { BACKENDS, randomArray, useBackend } from './tfjs-helpers.js';

/** Every elementwise alias of the catalogue, with non-default hyperparameters. */
const ALIASES: readonly [string, () => optax.GradientTransformation][] = [
  ['lion', () => optax.lion(0.01, { b1: 0.8, b2: 0.95, weightDecay: 0.1 })],
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

const SIZES = { w: 6, b: 3 };
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
function typedRun(make: () => optax.GradientTransformation) {
  const { p0, grads } = data();
  const tx = make();
  let params: Record<string, Float32Array> = { w: p0.w.slice(), b: p0.b.slice() };
  let state = tx.init(params);
  const out: Record<string, Float32Array>[] = [];
  for (const g of grads) {
    let u: unknown;
    [u, state] = tx.update(g, state, params);
    params = optax.applyUpdates(params, u);
    out.push(params);
  }
  return out;
}

const same = (a: ArrayLike<number>, b: ArrayLike<number>) =>
  Array.from(a).every((x, i) => Object.is(x, b[i]) || (Number.isNaN(x) && Number.isNaN(b[i]!)));

describe.each(BACKENDS)('TF.js %s backend', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });
  it.each(ALIASES)('%s gives the typed-array bits and leaks no tensor', (_name, make) => {
    const want = typedRun(make);
    const { p0, grads } = data();
    const tx = make();
    const before = tf.memory().numTensors;
    let params: Record<string, tf.Tensor> = { w: tf.tensor(p0.w), b: tf.tensor(p0.b) };
    let state = tx.init(params);
    for (let t = 0; t < STEPS; t++) {
      const g = { w: tf.tensor(grads[t]!.w), b: tf.tensor(grads[t]!.b) };
      const [u, next] = tx.update(g, state, params);
      const nextParams = optax.applyUpdates(params, u);
      optax.disposeTree([g, u, state, params]);
      state = next;
      params = nextParams;
      for (const k of ['w', 'b'] as const)
        expect(same(params[k]!.dataSync(), want[t]![k]!), `step ${t + 1} ${k}`).toBe(true);
    }
    optax.disposeTree([state, params]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('jax-js arrays', () => {
  beforeAll(async () => {
    await init('wasm');
  });
  it.each(ALIASES)('%s gives the typed-array bits', (_name, make) => {
    const want = typedRun(make);
    const { p0, grads } = data();
    const tx = tidyTransformation(make());
    let params: Record<string, np.Array> = { w: jaxF32(p0.w), b: jaxF32(p0.b) };
    let state = tx.init(params);
    for (let t = 0; t < STEPS; t++) {
      const g = { w: jaxF32(grads[t]!.w), b: jaxF32(grads[t]!.b) };
      const [u, next] = tx.update(g, state, params);
      const nextParams = optax.applyUpdates(params, u);
      optax.disposeTree([g, u, state, params]);
      state = next;
      params = nextParams;
      for (const k of ['w', 'b'] as const)
        expect(same(read(params[k]!), want[t]![k]!), `step ${t + 1} ${k}`).toBe(true);
    }
    optax.disposeTree([state, params]);
  });
});
