/**
 * The catalogue's rows: every alias of the demo's list (optax's defaults, learning rate 1e-3) in
 * the in-place `Optimizer`, by default (`step(g)` on the caller's arrays) and in the arena
 * (`step()`), one leaf of `n` elements. The floor is the same four-array read-modify-write as
 * RAdam's, so an optimizer with more state per element (AMSGrad, Adan) is further above it.
 */
import { CATALOGUE } from '../demo/optimizers.js';
import type { Contender } from './harness.js';
import { filled, optimizerCase } from './modes.js';

/** The catalogue's alias names, in the demo's order. */
export const CATALOGUE_NAMES = Object.keys(CATALOGUE) as (keyof typeof CATALOGUE)[];

/** The two in-place cases of alias `name` on `n` elements. */
export function catalogueCases(name: keyof typeof CATALOGUE, f32: boolean, n: number): Contender[] {
  const g = filled(f32, n, 3, 0.1);
  const p = filled(f32, n, 4);
  return [
    optimizerCase(`${name}, step(g)`, g, p, undefined, false, CATALOGUE[name](1e-3)),
    optimizerCase(`${name}, arena step()`, g, p, { arena: true }, true, CATALOGUE[name](1e-3)),
  ];
}
