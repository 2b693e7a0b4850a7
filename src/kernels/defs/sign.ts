/** The sign of the updates (`scaleBySign`, the heart of `signSgd` and `signum`). */
import { sign } from '../expr.js';
import type { StageDef } from '../stage.js';

/** `scaleBySign`: `sign(u)` (±1, with ±0 and NaN kept as they are, as `jnp.sign`). */
export const SIGN_STAGES = {
  sign: { arrays: [], scalars: [], math: ({ u }) => ({ u: sign(u) }) },
} satisfies Record<string, StageDef>;
