/** src/transforms/slowParamsInState.ts: lookahead on plain params, equal to lookahead itself. */
import { describe, expect, it } from 'vitest';
import {
  applyUpdates,
  lookahead,
  lookaheadParams,
  radam,
  slowParamsInState,
} from '../src/index.js';

describe('slowParamsInState', () => {
  for (const A of [Float32Array, Float64Array]) {
    it(`gives lookahead's fast and slow params bit for bit (${A.name}, 11 steps, syncPeriod 3)`, () => {
      const make = () => lookahead(radam(0.05), { syncPeriod: 3, slowStepSize: 0.4 });
      const p0 = { w: A.from([1, -2, 0.5]), b: A.from([0.25]) };
      const grads = (p: typeof p0, t: number) => ({
        w: p.w.map((x, i) => Math.sin(t + i) + 0.3 * x) as typeof p0.w,
        b: p.b.map((x) => 0.5 * x - 0.1 * t) as typeof p0.b,
      });
      const ref = make();
      let pair = lookaheadParams(p0);
      let refState = ref.init(pair);
      const tx = slowParamsInState(make());
      let p = lookaheadParams(p0).fast;
      let state = tx.init(p);
      for (let t = 0; t < 11; t++) {
        const [u, s] = ref.update(grads(pair.fast, t), refState, pair);
        pair = applyUpdates(pair, u);
        refState = s;
        const [u2, s2] = tx.update(grads(p, t), state, p);
        p = applyUpdates(p, u2);
        state = s2;
        expect(p).toEqual(pair.fast);
        expect(state.slow).toEqual(pair.slow);
        expect(state.innerState).toEqual(refState);
      }
      expect(p.w).toBeInstanceOf(A);
    });
  }

  it('refuses what is not a transformation, and a state it did not make', () => {
    expect(() => slowParamsInState(3 as never)).toThrow(
      'slowParamsInState: tx must be a gradient transformation with init and update, got 3',
    );
    const tx = slowParamsInState(lookahead(radam(0.1), { syncPeriod: 2, slowStepSize: 0.5 }));
    const p = { w: Float64Array.of(1) };
    expect(() => tx.update(p, { fastState: {} } as never, p)).toThrow(
      'slowParamsInState.update: state must be { innerState, slow } as made by slowParamsInState.init, got an object with keys [fastState]',
    );
  });
});
