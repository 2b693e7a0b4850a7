/** Rounding to a leaf's dtype, for the hand-written (non-elementwise) transformations. */

/**
 * `x` rounded to float32 when `f32`, else `x` (float64). A small module function rather than a
 * function value, so that the compiler inlines it and a step boxes no numbers.
 *
 * @example
 * ```ts
 * rnd(true, 0.1); // 0.10000000149011612
 * rnd(false, 0.1); // 0.1
 * ```
 */
export function rnd(f32: boolean, x: number): number {
  return f32 ? Math.fround(x) : x;
}
