/**
 * Gradient noise, as `optax.add_noise`, with a small counter-based random generator of this
 * project's own (JAX's generator and bits cannot be reproduced here; see {@link gaussianPair}).
 */
import type { GradientTransformationExtraArgs } from '../base.js';
import { safeIncrement } from '../base.js';
import { leafOps } from '../leaf.js';
import type { ArrayLeaf } from '../tree.js';
import { isContainer, mapLeaves } from '../tree.js';
import {
  checkCount,
  checkFinite,
  checkNonNegative,
  checkOptionKeys,
  describeValue,
} from '../validate.js';

/** Options of {@link addNoise}. */
export interface AddNoiseOptions {
  /** Decay exponent of the noise variance, `eta / t^gamma`. Required (optax has no default). */
  gamma?: number;
  /** The random key: an integer in [0, 2^32). Default 0 (as optax without a key). */
  key?: number;
  /** optax's deprecated name of `key`; give one or the other. */
  seed?: number;
}

/** The state of {@link addNoise} (optax's `AddNoiseState`). */
export interface AddNoiseState {
  /** Updates made so far. */
  count: number;
  /** The random key of the next update (a uint32; it moves on each update). */
  rngKey: number;
}

const TWO_POW_32 = 4294967296;
const TWO_POW_M53 = 2 ** -53;
/** The key's increment per update (a Weyl sequence: every uint32 before one repeats). */
const KEY_STEP = 0x9e3779b9;

/** murmur3's 32-bit finalizer: a bijection of uint32 that mixes every bit into every other. */
function mix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The key of one leaf's noise: `key` and the leaf's index through bijective mixes. */
function leafKey(key: number, leaf: number): number {
  return mix(((mix((key ^ 0x6a09e667) >>> 0) ^ leaf) + 0xbb67ae85) >>> 0);
}

/** Word `w` (0 to 3) of the hash of pair `pair` under leaf key `lk` (`pk`: that pair's mix). */
const word = (pk: number, w: number) => mix(((pk ^ w) + 0xa54ff53a) >>> 0);
const pairKey = (lk: number, pair: number) => mix(((lk ^ pair) + 0x3c6ef372) >>> 0);
const TWO_PI = 2 * Math.PI;

/** Scratch for {@link gaussianPair}'s results (module-level so that a step allocates nothing). */
const pairOut = new Float64Array(2);

/**
 * Two independent standard normal numbers, a pure function of (`key`, `leaf`, `pair`): two 53-bit
 * uniforms from four 32-bit hashes, then Box–Muller. Written into `out` (default a module
 * scratch array). The values use `Math.log`, `Math.cos` and `Math.sin`, so another JavaScript
 * engine may differ in the last bit.
 *
 * @example
 * ```ts
 * const [z0, z1] = gaussianPair(7, 0, 0, new Float64Array(2));
 * Number.isFinite(z0) && Number.isFinite(z1); // true
 * ```
 */
export function gaussianPair(
  key: number,
  leaf: number,
  pair: number,
  out: Float64Array = pairOut,
): Float64Array {
  // The same operations as noisyLeaf's loop, which repeats them inline (a call per pair would
  // box its numbers).
  const pk = pairKey(leafKey(key, leaf), pair);
  const n1 = word(pk, 0) * 2097152 + (word(pk, 1) >>> 11);
  const n2 = word(pk, 2) * 2097152 + (word(pk, 3) >>> 11);
  const r = Math.sqrt(-2 * Math.log((n1 + 1) * TWO_POW_M53)); // (0, 1]: a finite logarithm
  const theta = TWO_PI * (n2 * TWO_POW_M53);
  out[0] = r * Math.cos(theta);
  out[1] = r * Math.sin(theta);
  return out;
}

/**
 * `u + std * z` into `out`, with `z` the standard normals of (`key`, `leaf`) ({@link gaussianPair}
 * computed inline), element by element; `step` holds `[std, key]` (a typed array, so that a call
 * per leaf boxes no number). Float32: `z` and `std` rounded to float32, then `u + std z` in float32.
 */
function noisyLeaf(u: ArrayLeaf, out: ArrayLeaf, step: Float64Array, leaf: number): void {
  const f32 = out instanceof Float32Array;
  const std = f32 ? Math.fround(step[0]!) : step[0]!;
  const lk = leafKey(step[1]!, leaf);
  const n = u.length;
  for (let i = 0; i < n; i += 2) {
    const pk = pairKey(lk, i >>> 1);
    const n1 = word(pk, 0) * 2097152 + (word(pk, 1) >>> 11);
    const n2 = word(pk, 2) * 2097152 + (word(pk, 3) >>> 11);
    const r = Math.sqrt(-2 * Math.log((n1 + 1) * TWO_POW_M53));
    const theta = TWO_PI * (n2 * TWO_POW_M53);
    const z0 = r * Math.cos(theta);
    if (f32) {
      out[i] = Math.fround(u[i]! + Math.fround(std * Math.fround(z0)));
      if (i + 1 < n) {
        const z1 = r * Math.sin(theta);
        out[i + 1] = Math.fround(u[i + 1]! + Math.fround(std * Math.fround(z1)));
      }
    } else {
      out[i] = u[i]! + std * z0;
      if (i + 1 < n) out[i + 1] = u[i + 1]! + std * (r * Math.sin(theta));
    }
  }
}

/** The sample key of the update made with state key `rngKey`, and the next state key. */
const sampleKey = (rngKey: number) => mix((rngKey ^ 0x5bd1e995) >>> 0);
const nextKey = (rngKey: number) => (rngKey + KEY_STEP) % TWO_POW_32;

/**
 * {@link addNoise} with the caller's name in errors, and `defaultGamma` for a missing `gamma`
 * (`noisySgd` passes optax's 0.55).
 *
 * @example
 * ```ts
 * const tx = makeAddNoise('noisySgd', 0.01, { key: 3 }, 0.55); // noisySgd's noise
 * makeAddNoise('addNoise', 0.01, {}); // TypeError: addNoise: gamma is required (the decay exponent of the noise variance)
 * ```
 */
export function makeAddNoise(
  fn: string,
  eta: number,
  options: AddNoiseOptions,
  defaultGamma?: number,
): GradientTransformationExtraArgs<AddNoiseState> {
  checkOptionKeys(fn, options, ['gamma', 'key', 'seed']);
  checkNonNegative(fn, 'eta', eta);
  if (options.gamma === undefined && defaultGamma === undefined)
    throw new TypeError(`${fn}: gamma is required (the decay exponent of the noise variance)`);
  const gamma = checkFinite(fn, 'gamma', options.gamma ?? defaultGamma);
  if (options.key !== undefined && options.seed !== undefined)
    throw new TypeError(`${fn}: give key or seed (its deprecated name), not both`);
  const key = options.key ?? options.seed ?? 0;
  if (!Number.isInteger(key) || key < 0 || key >= TWO_POW_32)
    throw new RangeError(`${fn}: key must be an integer in [0, 2^32), got ${describeValue(key)}`);
  const countWhat = `${fn}.update: state.count`;
  const checkState = (state: unknown): AddNoiseState => {
    const st = state as AddNoiseState;
    if (!isContainer(state) || Array.isArray(state) || !('rngKey' in state))
      throw new TypeError(`${fn}.update: state must be { count, rngKey } as made by ${fn}.init`);
    checkCount(countWhat, st.count);
    if (!Number.isInteger(st.rngKey) || st.rngKey < 0 || st.rngKey >= TWO_POW_32)
      throw new RangeError(
        `${fn}.update: state.rngKey must be an integer in [0, 2^32), got ${describeValue(st.rngKey)}`,
      );
    return st;
  };
  // The standard deviation sqrt(eta / t^gamma), t = count + 1, in float64.
  const stdAt = (count: number) => Math.sqrt(eta / safeIncrement(count) ** gamma);
  return {
    init: () => ({ count: 0, rngKey: key }),
    update(updates, state) {
      const st = checkState(state);
      const std = stdAt(st.count);
      const k = sampleKey(st.rngKey);
      const step = Float64Array.of(std, k);
      let leaf = 0;
      const out = mapLeaves(
        ([u]) => {
          const j = leaf++;
          if (typeof u === 'number') return u + std * gaussianPair(k, j, 0)[0]!;
          if (!(u instanceof Float32Array || u instanceof Float64Array))
            throw new TypeError(
              `${fn}.update: ${leafOps(u).name} leaves are not supported (the noise is generated for typed arrays and numbers)`,
            );
          const o =
            u instanceof Float32Array ? new Float32Array(u.length) : new Float64Array(u.length);
          noisyLeaf(u, o, step, j);
          return o;
        },
        [updates],
        ['updates'],
      );
      return [out, { count: safeIncrement(st.count), rngKey: nextKey(st.rngKey) }];
    },
    bindInPlace(state) {
      const step = new Float64Array(2);
      return {
        cannotThrow: true,
        prepare() {
          checkState(state);
          step[0] = stdAt(state.count);
          step[1] = sampleKey(state.rngKey);
        },
        run(input, output) {
          for (let i = 0; i < input.length; i++) noisyLeaf(input[i]!, output[i]!, step, i);
          state.count = safeIncrement(state.count);
          state.rngKey = nextKey(state.rngKey);
        },
      };
    },
  };
}

/**
 * Adds annealed Gaussian noise to the updates (Neelakantan et al., 2015), as `optax.add_noise`:
 * `u + sqrt(eta / t^gamma) z`, with `t` the step from 1 (the standard deviation in float64) and
 * `z` standard normal, drawn per element in the leaf's dtype. The state is optax's
 * `AddNoiseState` `{ count, rngKey }`.
 *
 * The noise is this project's own, not JAX's: the same `key` gives the same noise here on every
 * run (and in the functional and in-place paths), never the numbers optax draws. `rngKey` moves
 * on by a fixed odd increment each update (it repeats only after 2^32 updates); each element's
 * normal comes from a hash of (the step's key, the leaf's index, the element's pair index) and
 * Box–Muller (`gaussianPair` in this module). Leaves must be typed arrays or numbers. `eta` must be >= 0,
 * `gamma` finite, `key` an integer in [0, 2^32).
 *
 * @example
 * ```ts
 * const tx = addNoise(0.01, { gamma: 0.55, key: 42 });
 * const [u] = tx.update({ w: new Float64Array(3) }, tx.init({ w: new Float64Array(3) }));
 * u.w.every((x: number) => Math.abs(x) < 1); // true: normal noise of deviation 0.1
 * ```
 */
export function addNoise(
  eta: number,
  options: AddNoiseOptions = {},
): GradientTransformationExtraArgs<AddNoiseState> {
  return makeAddNoise('addNoise', eta, options);
}
