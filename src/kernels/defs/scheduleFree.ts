/** The per-element math of schedule-free AdamW's base optimizer (`scheduleFreeAdamw`). */
import { add, div, mul, ONE, sqrt, sub } from '../expr.js';
import type { StageDef } from '../stage.js';

/**
 * optax's `scale_by_rms(decay=b2, eps=eps, eps_in_sqrt=False, bias_correction=True)`, the base of
 * `schedule_free_adamw`: `nu = a2 (g g) + b2 nu` (`a2 = 1 - b2`), then the update
 * `(1 / (sqrt(nu / bc2) + eps)) g` (the scaling first, then the product, as optax).
 */
export const SCHEDULE_FREE_STAGES = {
  rmsBiasCorrected: {
    arrays: ['nu'],
    scalars: ['a2', 'b2', 'bc2', 'eps'],
    math({ u: g, elem, scalar: s }) {
      const nu = add(mul(s('a2'), mul(g, g)), mul(s('b2'), elem('nu')));
      const scaling = div(ONE, add(sqrt(div(nu, s('bc2'))), s('eps')));
      return { u: mul(scaling, g), set: { nu } };
    },
  },
  /**
   * `schedule_free`'s step after its base optimizer, on an update `u` and the params `y`:
   * `zNew = z + u`; `x = (y - c1 z) / b1` (the previous average, recomputed); `x = omck x + ck zNew`;
   * `yNew = b1 x + c1 zNew`; the update is `yNew - y` (`c1 = 1 - b1` in float64, `omck = 1 - ck`
   * in the params' dtype).
   */
  scheduleFree: {
    arrays: ['z'],
    scalars: ['c1', 'b1', 'ck', 'omck'],
    readsParams: true,
    math({ u, p: y, elem, scalar: s }) {
      const z = elem('z');
      const zNew = add(z, u);
      const prevX = div(sub(y, mul(s('c1'), z)), s('b1'));
      const x = add(mul(s('omck'), prevX), mul(s('ck'), zNew));
      const yNew = add(mul(s('b1'), x), mul(s('c1'), zNew));
      return { u: sub(yNew, y), set: { z: zNew } };
    },
  },
} satisfies Record<string, StageDef>;
