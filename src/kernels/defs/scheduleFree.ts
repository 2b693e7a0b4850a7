/** The per-element math of `scheduleFree`'s averaging step. */
import { add, div, mul, sub } from '../expr.js';
import type { StageDef } from '../stage.js';

export const SCHEDULE_FREE_STAGES = {
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
