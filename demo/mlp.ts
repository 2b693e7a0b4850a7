/**
 * A one-hidden-layer perceptron (784 -> hidden -> 10, ReLU, softmax cross-entropy) whose gradients
 * come from TF.js and whose parameters live in `Float32Array`s updated in place by an optax-ts
 * {@link Optimizer}.
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core's Node bundle registers no gradient functions; importing tfjs-layers registers them all.
import '@tensorflow/tfjs-layers';
import { withShapeOf } from '../src/index.js';
import { type Digits, IMAGE_SIZE, NUM_CLASSES } from './data.js';
import { Rng } from './prng.js';

/** The TF.js backends the demo can run on. */
export type BackendName = 'wasm' | 'cpu';

/**
 * Selects and initialises a TF.js backend: `wasm` (XNNPACK, several times faster here) or `cpu`
 * (plain JavaScript kernels).
 *
 * @example
 * ```ts
 * await useBackend('wasm'); // tf.getBackend() is now 'wasm'
 * ```
 */
export async function useBackend(name: BackendName): Promise<void> {
  if (tf.getBackend() === name) return;
  if (name === 'wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    const entry = createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm');
    wasm.setWasmPaths(`${dirname(entry)}/`);
  } else {
    await import('@tensorflow/tfjs-backend-cpu');
  }
  if (!(await tf.setBackend(name))) throw new Error(`--backend ${name}: TF.js could not start it`);
  await tf.ready();
  // The cpu backend prints a banner recommending tfjs-node on its first use in Node; the demo
  // uses pure-JavaScript/WebAssembly backends on purpose, so mark the backend as already used.
  const backend = tf.backend() as { firstUse?: boolean };
  if (name === 'cpu' && backend.firstUse === true) backend.firstUse = false;
}

/** The MLP's parameters, a pytree of `Float32Array`s (weights row-major, `[in, out]`). */
export interface MlpParams {
  w1: Float32Array;
  b1: Float32Array;
  w2: Float32Array;
  b2: Float32Array;
}

/**
 * Seeded initial weights: He-uniform for the ReLU layer, Glorot-uniform for the output layer,
 * zero biases.
 *
 * @example
 * ```ts
 * const p = initMlp(128, 0);
 * p.w1.length; // 784 * 128
 * ```
 */
export function initMlp(hidden: number, seed: number): MlpParams {
  const rng = new Rng(seed, 2);
  const uniform = (n: number, limit: number): Float32Array => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = (2 * rng.uniform() - 1) * limit;
    return a;
  };
  // The weight matrices carry their shapes, for the optimizers that treat matrices as such
  // (adafactor's factored moments, muon, sm3).
  return {
    w1: Object.assign(uniform(IMAGE_SIZE * hidden, Math.sqrt(6 / IMAGE_SIZE)), {
      shape: [IMAGE_SIZE, hidden],
    }),
    b1: new Float32Array(hidden),
    w2: Object.assign(uniform(hidden * NUM_CLASSES, Math.sqrt(6 / (hidden + NUM_CLASSES))), {
      shape: [hidden, NUM_CLASSES],
    }),
    b2: new Float32Array(NUM_CLASSES),
  };
}

/** A deep copy of `p`, so every run starts from the same weights. */
export function cloneMlp(p: MlpParams): MlpParams {
  return {
    w1: withShapeOf(p.w1.slice(), p.w1),
    b1: p.b1.slice(),
    w2: withShapeOf(p.w2.slice(), p.w2),
    b2: p.b2.slice(),
  };
}

/** Mean softmax cross-entropy of the MLP on a batch (x: [n, 784], oneHot: [n, 10]). */
function meanLoss(
  x: tf.Tensor2D,
  oneHot: tf.Tensor2D,
  w1: tf.Tensor,
  b1: tf.Tensor,
  w2: tf.Tensor,
  b2: tf.Tensor,
): tf.Scalar {
  const logits = forward(x, w1, b1, w2, b2);
  return tf.neg(tf.mean(tf.sum(tf.mul(oneHot, tf.logSoftmax(logits)), 1))) as tf.Scalar;
}

function forward(x: tf.Tensor2D, w1: tf.Tensor, b1: tf.Tensor, w2: tf.Tensor, b2: tf.Tensor) {
  const h = tf.relu(tf.add(tf.matMul(x, w1 as tf.Tensor2D), b1));
  return tf.add(tf.matMul(h as tf.Tensor2D, w2 as tf.Tensor2D), b2) as tf.Tensor2D;
}

function paramTensors(p: MlpParams, hidden: number): tf.Tensor[] {
  return [
    tf.tensor2d(p.w1, [IMAGE_SIZE, hidden]),
    tf.tensor1d(p.b1),
    tf.tensor2d(p.w2, [hidden, NUM_CLASSES]),
    tf.tensor1d(p.b2),
  ];
}

/**
 * Computes the mean loss of a batch and its gradient with respect to every parameter.
 * `images`/`labels` hold the batch's rows; the gradient comes back as fresh `Float32Array`s in
 * the shape of {@link MlpParams}.
 *
 * @example
 * ```ts
 * const { loss, grads } = lossAndGrads(params, batchImages, batchLabels);
 * optimizer.step(grads); // params updated in place
 * ```
 */
export function lossAndGrads(
  p: MlpParams,
  images: Float32Array,
  labels: Uint8Array,
): { loss: number; grads: MlpParams } {
  const hidden = p.b1.length;
  const n = labels.length;
  const x = tf.tensor2d(images, [n, IMAGE_SIZE]);
  const y = oneHot(labels);
  const params = paramTensors(p, hidden);
  const f = (w1: tf.Tensor, b1: tf.Tensor, w2: tf.Tensor, b2: tf.Tensor) =>
    meanLoss(x, y, w1, b1, w2, b2);
  const { value, grads } = tf.valueAndGrads(f as (...a: tf.Tensor[]) => tf.Scalar)(params);
  const [g1, gb1, g2, gb2] = grads.map((g) => g.dataSync() as Float32Array) as [
    Float32Array,
    Float32Array,
    Float32Array,
    Float32Array,
  ];
  const loss = value.dataSync()[0]!;
  tf.dispose([x, y, value, ...grads, ...params]);
  return { loss, grads: { w1: g1, b1: gb1, w2: g2, b2: gb2 } };
}

function oneHot(labels: Uint8Array): tf.Tensor2D {
  const y = new Float32Array(labels.length * NUM_CLASSES);
  for (let i = 0; i < labels.length; i++) y[i * NUM_CLASSES + labels[i]!] = 1;
  return tf.tensor2d(y, [labels.length, NUM_CLASSES]);
}

/**
 * Mean loss and accuracy (fraction correct) of the MLP on a whole set, in chunks of 1,000.
 *
 * @example
 * ```ts
 * const { loss, accuracy } = evaluate(params, split.test); // accuracy in [0, 1]
 * ```
 */
export function evaluate(p: MlpParams, set: Digits): { loss: number; accuracy: number } {
  const hidden = p.b1.length;
  const params = paramTensors(p, hidden);
  const [w1, b1, w2, b2] = params as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
  let lossSum = 0;
  let correct = 0;
  const chunk = 1000;
  for (let start = 0; start < set.count; start += chunk) {
    const end = Math.min(set.count, start + chunk);
    const labels = set.labels.subarray(start, end);
    const [losses, predicted] = tf.tidy(() => {
      const x = tf.tensor2d(set.images.subarray(start * IMAGE_SIZE, end * IMAGE_SIZE), [
        end - start,
        IMAGE_SIZE,
      ]);
      const logits = forward(x, w1, b1, w2, b2);
      const perExample = tf.neg(tf.sum(tf.mul(oneHot(labels), tf.logSoftmax(logits)), 1));
      return [perExample.dataSync(), tf.argMax(logits, 1).dataSync()];
    });
    for (let i = 0; i < labels.length; i++) {
      lossSum += losses[i]!;
      if (predicted[i] === labels[i]) correct++;
    }
  }
  tf.dispose(params);
  return { loss: lossSum / set.count, accuracy: correct / set.count };
}
