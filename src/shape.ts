/**
 * Leaf shapes. A `Float32Array` or `Float64Array` leaf may carry its shape (row-major) as an own
 * `shape` property: `Object.assign(new Float32Array(r * c), { shape: [r, c] })`. Every array the
 * library makes from another (zeros, updates, state, checkpoints, the `Optimizer`'s own buffers)
 * gets that array's shape through {@link withShapeOf}; the matrix transformations (`adafactor`,
 * `muon`, ...) read it with {@link shapeOf}. An array without one is a vector of its length.
 * This module imports nothing, so every layer (kernels included) may use it.
 */

/** A leaf's dimensions, outermost first (row-major). */
export type Shape = readonly number[];

function isFloatArray(x: unknown): x is (Float32Array | Float64Array) & { shape?: unknown } {
  return x instanceof Float32Array || x instanceof Float64Array;
}

/**
 * The shape a typed-array leaf carries, or `undefined` (no `shape`, or not a float typed array).
 *
 * @example
 * ```ts
 * shapeOf(Object.assign(new Float32Array(6), { shape: [2, 3] })); // [2, 3]
 * shapeOf(new Float32Array(6)); // undefined
 * ```
 */
export function shapeOf(x: unknown): Shape | undefined {
  if (!isFloatArray(x)) return undefined;
  const s = x.shape;
  return s === undefined ? undefined : (s as Shape);
}

/**
 * Gives `out` (a fresh float typed array) the shape of the first of `likes` that has one and the
 * same length, unless `out` has its own already; returns `out`. Anything else is returned as is.
 * The shape list is shared, not copied.
 *
 * @example
 * ```ts
 * const w = Object.assign(new Float64Array(4), { shape: [2, 2] });
 * shapeOf(withShapeOf(new Float64Array(4), w)); // [2, 2]
 * ```
 */
export function withShapeOf<T>(out: T, ...likes: unknown[]): T {
  if (!isFloatArray(out) || out.shape !== undefined) return out;
  for (const like of likes) {
    const s = shapeOf(like);
    if (s !== undefined && (like as Float32Array).length === out.length) {
      out.shape = s;
      break;
    }
  }
  return out;
}

/**
 * Throws unless the `shape` of a typed-array leaf (when it has one) is a list of non-negative
 * integers whose product is its length; `path` names the leaf (`params.w`). Other values pass.
 *
 * @example
 * ```ts
 * checkShape(Object.assign(new Float32Array(5), { shape: [2, 3] }), 'params.w'); // RangeError: params.w: shape [2, 3] has 6 elements, the array has length 5
 * ```
 */
export function checkShape(x: unknown, path: string): void {
  if (!isFloatArray(x) || x.shape === undefined) return;
  const s = x.shape;
  if (!Array.isArray(s) || !s.every((d) => Number.isInteger(d) && d >= 0))
    throw new TypeError(
      `${path}: shape must be a list of non-negative integers (row-major dimensions), got ${
        Array.isArray(s) ? `[${s.join(', ')}]` : typeof s
      }`,
    );
  let n = 1;
  for (const d of s) n *= d;
  if (n !== x.length)
    throw new RangeError(
      `${path}: shape [${s.join(', ')}] has ${n} elements, the array has length ${x.length}`,
    );
}

/**
 * The number of elements of a shape (1 for `[]`).
 *
 * @example
 * ```ts
 * shapeSize([2, 3]); // 6
 * ```
 */
export function shapeSize(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
