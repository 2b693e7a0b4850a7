/** Lion's per-element math (`scaleByLion`). */
import { add, mul, sign } from '../expr.js';
import type { StageDef } from '../stage.js';

/**
 * `scaleByLion`: the update is `sign(a1 g + b1 mu)`, then the momentum moves on with its own decay,
 * `mu = a2 g + b2 mu` (`a1 = 1 - b1`, `a2 = 1 - b2`, computed in float64).
 */
export const LION_STAGES = {
  lion: {
    arrays: ['mu'],
    scalars: ['a1', 'b1', 'a2', 'b2'],
    math({ u: g, elem, scalar: s }) {
      const update = sign(add(mul(s('a1'), g), mul(s('b1'), elem('mu'))));
      return { u: update, set: { mu: add(mul(s('a2'), g), mul(s('b2'), elem('mu'))) } };
    },
  },
} satisfies Record<string, StageDef>;
