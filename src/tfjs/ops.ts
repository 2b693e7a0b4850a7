/**
 * `LeafOps` for TensorFlow.js tensors: every gradient transformation accepts trees whose leaves
 * are `tf.Tensor`s once this module is loaded (importing `optax-ts/tfjs` registers it).
 *
 * Each operation runs inside `tf.tidy`, so it returns one fresh tensor and keeps no temporary.
 * Arithmetic is float32 tensor arithmetic (TF.js rounds after every primitive op, where the core's
 * typed-array operations round once per operation), so results agree with the `Float32Array` path
 * to within a few float32 ulps, not bit for bit. Tensors of another dtype are cast to float32;
 * results are float32 except {@link tfjsOps}`.add` and `castLike`, which keep the param's dtype.
 */
import * as tf from '@tensorflow/tfjs-core';
import { type LeafOps, registerLeafOps } from '../leaf.js';

/** True when `x` is a live or disposed `tf.Tensor` (including `tf.Variable`). */
function isTensor(x: unknown): x is tf.Tensor {
  return x instanceof tf.Tensor;
}

/** `x` as float32 (the tensor itself when it already is). */
function f32(x: tf.Tensor): tf.Tensor {
  return x.dtype === 'float32' ? x : tf.cast(x, 'float32');
}

/** Reads a tensor's values into a typed array (a copy on backends that keep data off the JS heap). */
function values(x: tf.Tensor): ArrayLike<number> {
  return x.dataSync() as ArrayLike<number>;
}

/**
 * Tensor arithmetic for the transformations, registered with `registerLeafOps` when
 * `optax-ts/tfjs` is imported. The functional API then works on tensor trees; every call returns
 * fresh tensors and never disposes its inputs (the caller owns both).
 *
 * @example
 * ```ts
 * import * as tf from '@tensorflow/tfjs-core';
 * import { tfjsOps } from 'optax-ts/tfjs';
 * const y = tfjsOps.scale(tf.tensor([1, 2]), 3); // tensor [3, 6], float32
 * ```
 */
export const tfjsOps: LeafOps<tf.Tensor> = {
  name: 'tf.Tensor',
  isLeaf: isTensor,
  size: (x) => x.size,
  dtype: (x) => x.dtype,
  zerosLike: (x) => tf.zeros(x.shape, 'float32'),
  moment: (g, m, decay, order) =>
    tf.tidy(() => {
      const gf = f32(g);
      const term = order === 1 ? gf : tf.square(gf);
      return tf.add(tf.mul(term, 1 - decay), tf.mul(f32(m), decay));
    }),
  scale: (x, s) => tf.tidy(() => tf.mul(f32(x), s)),
  divide: (x, s) => tf.tidy(() => tf.div(f32(x), s)),
  linearCombination: (a, x, b, y) => tf.tidy(() => tf.add(tf.mul(f32(x), a), tf.mul(f32(y), b))),
  adamRatio: (mHat, v, r, bc2, epsRoot, eps) =>
    tf.tidy(() => {
      const m = f32(mHat);
      const denom = tf.add(tf.sqrt(tf.add(tf.div(f32(v), bc2), epsRoot)), eps);
      const ratio = tf.div(tf.mul(m, r), denom);
      // Where the momentum is zero the step is zero (0/0 would be NaN), as the typed-array path.
      return tf.where(tf.equal(m, 0), m, ratio);
    }),
  add: (p, u) => tf.tidy(() => tf.cast(tf.add(f32(p), f32(u)), p.dtype)),
  clip: (x, lo, hi) =>
    tf.tidy(() => {
      const xf = f32(x);
      // Comparisons with NaN are false, so NaN passes through unchanged (as jnp.clip).
      const low = tf.where(tf.less(xf, lo), tf.fill(xf.shape, lo), xf);
      return tf.where(tf.greater(xf, hi), tf.fill(xf.shape, hi), low);
    }),
  sumOfSquares(x) {
    const a = values(x);
    let s = 0;
    for (let i = 0; i < a.length; i++) s += a[i]! * a[i]!;
    return s;
  },
  allFinite(x) {
    const a = values(x);
    for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) return false;
    return true;
  },
  castLike: (x, like) =>
    tf.tidy(() => (x.dtype === like.dtype ? tf.clone(x) : tf.cast(x, like.dtype))),
  dispose: (x) => x.dispose(),
};

registerLeafOps(tfjsOps);

/**
 * Registers {@link tfjsOps} (done once when `optax-ts/tfjs` is imported; calling it again is a
 * no-op). Call it yourself if a bundler dropped the import's side effect.
 *
 * @example
 * ```ts
 * registerTfjsOps();
 * radam(1e-3).init({ w: tf.zeros([2, 2]) }); // tensor leaves are accepted
 * ```
 */
export function registerTfjsOps(): void {
  registerLeafOps(tfjsOps);
}
