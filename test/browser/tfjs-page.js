// TF.js with optax-ts's RAdamOptimizer: a small linear regression trained with minimize() on the
// backend named in the page's query string (webgl or wasm), counting tensors after every step.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import '@tensorflow/tfjs-backend-webgl';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { RAdamOptimizer } from 'optax-ts/tfjs';

async function train(backend) {
  setWasmPaths('/wasm/');
  if (!(await tf.setBackend(backend))) throw new Error(`TF.js could not start ${backend}`);
  await tf.ready();
  // y = 2 x0 - 3 x1 + 0.5 on 64 fixed points.
  const n = 64;
  const x = new Float32Array(2 * n);
  for (let i = 0; i < x.length; i++) x[i] = ((i * 37) % 101) / 50 - 1;
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) y[i] = 2 * x[2 * i] - 3 * x[2 * i + 1] + 0.5;
  const xs = tf.tensor2d(x, [n, 2]);
  const ys = tf.tensor2d(y, [n, 1]);
  const w = tf.variable(tf.zeros([2, 1]));
  const b = tf.variable(tf.zeros([1]));
  // b2 = 0.99 rectifies sooner than the default 0.999, so a short run gets far.
  const opt = new RAdamOptimizer(0.1, { b2: 0.99 });
  const losses = [];
  const tensors = [];
  for (let step = 0; step < 120; step++) {
    const loss = opt.minimize(
      () => tf.losses.meanSquaredError(ys, tf.add(tf.matMul(xs, w), b)),
      true,
    );
    losses.push((await loss.data())[0]);
    loss.dispose();
    tensors.push(tf.memory().numTensors);
  }
  const result = { backend: tf.getBackend(), losses, tensors, w: Array.from(await w.data()) };
  opt.dispose();
  tf.dispose([xs, ys, w, b]);
  return result;
}

try {
  window.__result = await train(new URLSearchParams(location.search).get('backend'));
} catch (e) {
  window.__error = String(e?.stack ?? e);
}
