/**
 * Issue #11, promise 3: the in-place Optimizer gives the bits of the functional loop
 * `[u, s] = tx.update(g, s, p); p = applyUpdates(p, u)`, params and every state leaf after every
 * step, for every composition x kernel setting x param case (float32, float64, mixed; below and
 * above the 64-element staging threshold), over 30 steps of seeded random gradients. Neither
 * path mutates its inputs; with an arena the caller's buffers are left alone, otherwise the
 * Optimizer updates them. Arena rows alternate `step(g)` and writing into `optimizer.grads` +
 * `step()`.
 *
 * This table replaces the equivalence tests formerly in test/transforms_inplace.test.ts and the
 * per-mode equivalence properties of test/optimizer_fused.test.ts (see fused_property.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { INT32_MAX, Optimizer, radam } from '../../src/index.js';
import { wasmModule } from '../../src/kernels/wasm.js';
import { treeSlots } from '../../src/tree.js';
import {
  assertSameBits,
  CASES,
  COMPOSITIONS,
  type Composition,
  diffPlaces,
  expectedKernel,
  Functional,
  functionalSnapshot,
  places,
  problem,
  SETTINGS,
  sleep,
  snapshot,
  writeArenaGrads,
} from './helpers.js';

const STEPS = 30;

describe('in-place equals functional, bit for bit (composition x kernel x case)', () => {
  it('WebAssembly SIMD loads here (the wasm rows would silently run the JavaScript kernel)', () => {
    expect(wasmModule()).not.toBeNull();
  });

  it('the comparison can fail: another learning rate, -0 for 0, another NaN', () => {
    const pc = CASES[0]!;
    const c = COMPOSITIONS[0]!;
    const pr = problem(c, pc, 1);
    const ref = new Functional(radam(3.001e-3), pr.params());
    const opt = new Optimizer(radam(3e-3), pr.params());
    ref.step(pr.functionalGrads(0));
    opt.step(pr.grads(0));
    expect(() => assertSameBits(snapshot(opt), functionalSnapshot(ref), 'x')).toThrow(
      /params differ: params\.a: different bits at \[0\]/,
    );
    const at = (x: number) => places({ w: Float64Array.of(1, x) });
    expect(diffPlaces(at(0), at(-0), false)).toBe(
      '.w: different bits at [1]: 0000000000000000 vs 8000000000000000',
    );
    expect(diffPlaces(at(Number.NaN), at(-Number.NaN), false)).toMatch(/different bits/);
    expect(diffPlaces(at(Number.NaN), at(-Number.NaN), false, true)).toBe(undefined);
    expect(diffPlaces(at(0), at(-0), false, true)).toBe('.w[1]: 0 vs 0');
  });

  COMPOSITIONS.forEach((c, ci) => {
    describe(c.name, () => {
      for (const s of SETTINGS)
        CASES.forEach((pc, pi) => {
          it(`${s.name}, ${pc.name}`, async () => {
            const seed = 1000 * ci + 10 * pi + 1;
            const pr = problem(c, pc, seed);
            const ref = new Functional(c.make({ poison: false, boom: false }), pr.params());
            const mine = pr.params();
            const mineBits = places(mine);
            const opt = new Optimizer(c.make({ poison: false, boom: false }), mine, s.options);
            expect(opt.kernel).toBe(expectedKernel(c, s, pc));
            expect(opt.runsInPlace).toBe(!c.functional);
            const arena = s.options.arena === true;
            for (let t = 0; t < STEPS; t++) {
              const g = pr.grads(t);
              const gBits = places(g);
              const fg = pr.functionalGrads(t);
              const fgBits = places(fg);
              const oldParams = ref.params;
              const oldState = ref.state;
              const pBits = places(oldParams);
              const sBits = places(oldState);
              ref.step(fg);
              expect(diffPlaces(pBits, places(oldParams), true), 'update mutated params').toBe(
                undefined,
              );
              expect(diffPlaces(sBits, places(oldState), true), 'update mutated state').toBe(
                undefined,
              );
              expect(diffPlaces(fgBits, places(fg), true), 'update mutated grads').toBe(undefined);
              if (arena && t % 2 === 1) {
                writeArenaGrads(opt, g);
                opt.step();
              } else opt.step(g);
              expect(diffPlaces(gBits, places(g), true), 'step mutated grads').toBe(undefined);
              assertSameBits(snapshot(opt), functionalSnapshot(ref), `step ${t + 1}`);
              // Let a second thread start (steps before that run on this one).
              if (c.fused && s.options.threads === 2 && opt.threads === 1 && t < 20) await sleep(5);
            }
            if (arena) {
              expect(diffPlaces(mineBits, places(mine), true), 'arena wrote caller params').toBe(
                undefined,
              );
              expect(opt.params).not.toBe(mine);
            } else expect(opt.params).toBe(mine);
          });
        });
    });
  });
});

/** Runs `steps` steps of both paths from the current states, comparing after each. */
async function run(
  opt: Optimizer<any>,
  ref: Functional,
  grads: (t: number) => unknown,
  fgrads: (t: number) => unknown,
  from: number,
  steps: number,
): Promise<void> {
  for (let t = from; t < from + steps; t++) {
    ref.step(fgrads(t));
    opt.step(grads(t) as any);
    assertSameBits(snapshot(opt), functionalSnapshot(ref), `step ${t + 1}`);
  }
}

describe('counts written near the int32 limit by the user continue like the functional path', () => {
  // Every count that may take any value: the step counts of the members, multiSteps'
  // gradientStep and applyIfFinite's totalNotfinite (not the ones bounded by a period).
  const KEYS = new Set(['count', 'gradientStep', 'totalNotfinite']);
  COMPOSITIONS.forEach((c, ci) => {
    for (const s of SETTINGS)
      it(`${c.name}, ${s.name}`, async () => {
        const pc = CASES[ci % 2 === 0 ? 1 : 5]!; // f32 large or mixed large
        const pr = problem(c, pc, 77 + ci);
        const ref = new Functional(c.make({ poison: false, boom: false }), pr.params());
        const opt = new Optimizer(c.make({ poison: false, boom: false }), pr.params(), s.options);
        await run(opt, ref, pr.grads, pr.functionalGrads, 0, 2);
        let written = 0;
        for (const value of [INT32_MAX - 2, INT32_MAX]) {
          const mine = treeSlots(opt.state, 'state');
          const theirs = treeSlots(ref.state, 'state');
          mine.forEach((slot, i) => {
            if (!slot.leaf || !KEYS.has(String(slot.key))) return;
            if (typeof slot.container[slot.key] !== 'number') return;
            const other = theirs[i]!;
            expect(other.path).toBe(slot.path);
            slot.container[slot.key] = value;
            other.container[other.key] = value;
            written++;
          });
          await run(opt, ref, pr.grads, pr.functionalGrads, 2, 4);
        }
        // Every fused composition with a count (stateless ones like clip have none) had one written.
        if (c.fused && /radam|adam|schedule/i.test(c.name)) expect(written).toBeGreaterThan(0);
      });
  });
});

describe('params with a null leaf', () => {
  for (const c of COMPOSITIONS.filter((x) => !/mask/i.test(x.name)))
    for (const s of SETTINGS)
      it(`${c.name}, ${s.name}`, async () => {
        const pr = problem(c, CASES[4]!, 5); // mixed small
        const withNull = (t: any) => {
          for (const half of c.lookahead ? [t.fast, t.slow] : [t]) half.n = null;
          return t;
        };
        const ref = new Functional(c.make({ poison: false, boom: false }), withNull(pr.params()));
        const opt = new Optimizer(
          c.make({ poison: false, boom: false }),
          withNull(pr.params()),
          s.options,
        );
        await run(
          opt,
          ref,
          (t) => withNull(pr.grads(t)),
          (t) => {
            const g: any = pr.functionalGrads(t);
            g.n = null;
            return g;
          },
          0,
          8,
        );
      });
});

describe('a constant injected hyperparameter changed between steps continues like the functional path', () => {
  const NEW: Record<string, number> = { b1: 0.85, learningRate: 0.02, weightDecay: 0.2 };
  for (const c of COMPOSITIONS.filter((x) => x.constantHyperparams))
    for (const s of SETTINGS)
      it(`${c.name}, ${s.name}`, async () => {
        const pr = problem(c, CASES[1]!, 11);
        const ref = new Functional(c.make({ poison: false, boom: false }), pr.params());
        const opt = new Optimizer(c.make({ poison: false, boom: false }), pr.params(), s.options);
        await run(opt, ref, pr.grads, pr.functionalGrads, 0, 3);
        const mine = treeSlots(opt.state, 'state');
        const theirs = treeSlots(ref.state, 'state');
        let changed = 0;
        mine.forEach((slot, i) => {
          const key = String(slot.key);
          if (!slot.path.includes('.hyperparams.') || !c.constantHyperparams!.includes(key)) return;
          slot.container[slot.key] = NEW[key];
          theirs[i]!.container[theirs[i]!.key] = NEW[key];
          changed++;
        });
        expect(changed).toBe(c.constantHyperparams!.length);
        await run(opt, ref, pr.grads, pr.functionalGrads, 3, 4);
      });
});

describe('params whose root is a list', () => {
  const toList = (b: any) => [b.a, [b.b.c, b.b.d], b.e];
  const listed = (c: Composition, t: any) =>
    c.lookahead ? { fast: toList(t.fast), slow: toList(t.slow) } : toList(t);
  for (const c of COMPOSITIONS.filter((x) => !/mask/i.test(x.name)))
    for (const s of SETTINGS)
      it(`${c.name}, ${s.name}`, async () => {
        const pr = problem(c, CASES[5]!, 21); // mixed large
        const ref = new Functional(c.make({ poison: false, boom: false }), listed(c, pr.params()));
        const opt = new Optimizer(
          c.make({ poison: false, boom: false }),
          listed(c, pr.params()),
          s.options,
        );
        expect(opt.kernel).toBe(expectedKernel(c, s, CASES[5]!));
        await run(
          opt,
          ref,
          (t) => listed(c, pr.grads(t)),
          (t) => toList(pr.functionalGrads(t)),
          0,
          6,
        );
      });
});
