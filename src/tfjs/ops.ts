/**
 * `LeafOps` for TensorFlow.js tensors: every gradient transformation accepts trees whose leaves
 * are `tf.Tensor`s once this module is loaded (importing `optax-ts/tfjs` registers it).
 *
 * Each operation runs inside `tf.tidy`, so it returns one fresh tensor and keeps no temporary.
 * Arithmetic is float32 tensor arithmetic, composed from TF.js's primitive ops (not always in the
 * order and with the scalar roundings of the core's float32 operations), so results agree with the
 * `Float32Array` path to within a few float32 ulps, not bit for bit. Tensors of another dtype are cast to float32;
 * results are float32 except {@link tfjsOps}`.add`, which keeps the param's dtype.
 *
 * `adamRatio` skips the zero-momentum select (slow on tfjs-backend-wasm) when `eps` or `epsRoot`
 * is positive, since the denominator is then positive and a zero momentum already gives a zero
 * step; the one difference from the typed-array path is an element whose second moment is
 * already NaN and whose momentum is exactly 0, which gives NaN here and 0 there.
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
      if (eps > 0 && epsRoot === 0) {
        // r m / (sqrt(v / bc2) + eps) = (r sqrt(bc2)) m / (sqrt(v) + eps sqrt(bc2)): four ops.
        // The denominator is positive, so a zero momentum gives a zero step.
        const s = Math.sqrt(bc2);
        return tf.mul(tf.div(m, tf.add(tf.sqrt(f32(v)), eps * s)), r * s);
      }
      const root = tf.sqrt(
        epsRoot === 0 ? tf.div(f32(v), bc2) : tf.add(tf.div(f32(v), bc2), epsRoot),
      );
      const ratio = tf.div(tf.mul(m, r), eps === 0 ? root : tf.add(root, eps));
      if (eps > 0 || epsRoot > 0) return ratio;
      // With no epsilon the denominator can be 0: where the momentum is zero the step is zero
      // (0/0 would be NaN), as the typed-array path.
      return tf.where(tf.equal(m, 0), m, ratio);
    }),
  add: (p, u) =>
    tf.tidy(() => {
      const sum = tf.add(f32(p), f32(u));
      return p.dtype === 'float32' ? sum : tf.cast(sum, p.dtype);
    }),
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
  primitive: (op, args) =>
    tf.tidy(() => {
      // Numbers become float32 scalars (already rounded by the caller); masks are bool tensors.
      const t = (x: tf.Tensor | number | boolean): tf.Tensor =>
        typeof x === 'number'
          ? tf.scalar(x)
          : typeof x === 'boolean'
            ? tf.scalar(x, 'bool')
            : x.dtype === 'bool'
              ? x
              : f32(x);
      const [a, b, c] = args.map(t) as [tf.Tensor, tf.Tensor, tf.Tensor];
      switch (op) {
        case 'add':
          return tf.add(a, b);
        case 'sub':
          return tf.sub(a, b);
        case 'mul':
          return tf.mul(a, b);
        case 'div':
          return tf.div(a, b);
        case 'max':
          return tf.maximum(a, b);
        case 'min':
          return tf.minimum(a, b);
        case 'sqrt':
          return tf.sqrt(a);
        case 'abs':
          return tf.abs(a);
        case 'neg':
          return tf.neg(a);
        case 'lt':
          return tf.less(a, b);
        case 'gt':
          return tf.greater(a, b);
        case 'eq':
          return tf.equal(a, b);
        case 'select': {
          // tf.where needs the branches at the mask's shape.
          const shape = [a, b, c].find((x) => x.rank > 0)?.shape ?? [];
          return tf.where(
            tf.broadcastTo(a, shape),
            tf.broadcastTo(b, shape),
            tf.broadcastTo(c, shape),
          );
        }
      }
    }),
  toHost: (x) =>
    Object.assign(Float32Array.from(values(x)), {
      shape: [...x.shape],
    }),
  fromHost: (data, _like) => {
    const shape = (data as { shape?: number[] }).shape ?? [data.length];
    return tf.tensor(
      data instanceof Float32Array ? data : Float32Array.from(data),
      shape,
      'float32',
    );
  },
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
