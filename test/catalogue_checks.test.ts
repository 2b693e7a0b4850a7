import { describe, expect, it } from 'vitest';
import * as optax from '../src/index.js';
import { heapGrowthPerStep } from './heap-helpers.js';

type Make = (
  lr: number,
  options?: Record<string, unknown>,
) => optax.GradientTransformationExtraArgs;

/** One alias: how to build it, and one option value it must refuse (with the error's pattern). */
interface AliasCase {
  name: string;
  make: Make;
  /** One option value it must refuse (`null`: it takes no options but the learning rate). */
  bad: [option: string, value: unknown] | null;
}

const alias = (name: string, bad: [string, unknown] | null): AliasCase => ({
  name,
  make: (optax as unknown as Record<string, Make>)[name]!,
  bad,
});

/** Every alias of the catalogue, with an out-of-range option value. */
const ALIASES: readonly AliasCase[] = [
  alias('adabelief', ['b1', 1]),
  alias('adadelta', ['rho', 1]),
  alias('adagrad', ['initialAccumulatorValue', -1]),
  alias('adam', ['b2', -0.5]),
  alias('adamax', ['eps', -1]),
  alias('adamaxw', ['b1', 2]),
  alias('adamw', ['eps', Number.NaN]),
  alias('adan', ['b3', 1.5]),
  alias('amsgrad', ['b2', 1]),
  alias('lion', ['b1', -0.1]),
  alias('nadam', ['b1', 1]),
  alias('nadamw', ['eps', -1e-8]),
  alias('noisySgd', ['key', -1]),
  alias('optimisticAdamV2', ['alpha', Number.NaN]),
  alias('optimisticGradientDescent', ['beta', Number.NaN]),
  alias('polyakSgd', ['eps', -1]),
  alias('radam', ['threshold', 3]),
  alias('rmsprop', ['decay', 1]),
  alias('rprop', ['etaMinus', 0]),
  alias('scheduleFreeAdamw', ['b1', 0]),
  alias('sgd', ['momentum', Number.POSITIVE_INFINITY]),
  alias('signum', ['beta', 1]),
  alias('yogi', ['b2', 1]),
  alias('adafactor', ['decayRate', Number.NaN]),
  alias('fromage', ['minNorm', -1]),
  alias('lamb', ['b1', 1]),
  alias('lars', ['momentum', Number.NaN]),
  alias('muon', ['beta', 1]),
  alias('novograd', ['b2', 1]),
  alias('signSgd', null),
  alias('sm3', ['momentum', Number.NaN]),
];

/** Steps to `{ value }` for the aliases that read the loss; others ignore it. */
const EXTRA = { value: 1 };

/** A float32 tree of 20 leaves of 64 (an 8 x 8 matrix, for the aliases that use shapes). */
function tree(seed: number): Record<string, Float32Array> {
  return Object.fromEntries(
    Array.from({ length: 20 }, (_, i) => {
      const a = Object.assign(new Float32Array(64), { shape: [8, 8] });
      for (let k = 0; k < 64; k++) a[k] = Math.sin(seed + i * 64 + k) * 0.5;
      return [`l${i}`, a];
    }),
  );
}

describe.each(ALIASES)('$name', ({ name, make, bad }) => {
  it('refuses an unknown option and a bad value, naming the alias and the option', () => {
    expect(() => make(0.1, { notAnOption: 1 })).toThrow(
      new RegExp(`${name}.*notAnOption|notAnOption.*${name}`),
    );
    if (bad === null) return;
    const [option, value] = bad;
    let error: unknown;
    try {
      make(0.1, { [option]: value });
    } catch (e) {
      error = e;
    }
    expect(error, `${name}({ ${option}: ${String(value)} }) must throw`).toBeInstanceOf(Error);
    expect((error as Error).name).toMatch(/^(RangeError|TypeError)$/);
    expect((error as Error).message).toContain(option);
    expect((error as Error).message).toMatch(new RegExp(`^${name}\\b|\\b${name}:`));
  });

  it('takes a schedule for its learning rate (a constant schedule gives the constant bits)', () => {
    // Three first arguments are numbers in optax: polyakSgd's maximal learning rate, rprop's
    // initial step size, and sm3's learning rate (optax types it float).
    if (name === 'polyakSgd' || name === 'rprop' || name === 'sm3') return;
    const run = (tx: optax.GradientTransformationExtraArgs) => {
      let p = tree(0);
      let s = tx.init(p);
      for (let t = 0; t < 4; t++) {
        const [u, next] = tx.update(tree(100 + t), s, p, EXTRA);
        p = optax.applyUpdates(p, u);
        s = next;
      }
      return p;
    };
    const constant = run(make(0.01));
    const scheduled = run(make(optax.constantSchedule(0.01) as never));
    for (const k of Object.keys(constant))
      expect(Array.from(scheduled[k]!), k).toEqual(Array.from(constant[k]!));
    // And a schedule whose value changes is called with the step count.
    const seen: number[] = [];
    run(
      make(((c: number) => {
        seen.push(c);
        return 0.01 / (1 + c);
      }) as never),
    );
    expect(seen.length).toBeGreaterThan(0);
  });

  it('resumes from a checkpoint with the bits of the uninterrupted run', () => {
    const tx = make(0.01);
    const run = (
      params: Record<string, Float32Array>,
      state: unknown,
      from: number,
      to: number,
    ) => {
      let p = params;
      let s = state;
      for (let t = from; t < to; t++) {
        const g = tree(100 + t);
        const [u, next] = tx.update(g, s, p, EXTRA);
        p = optax.applyUpdates(p, u);
        s = next;
      }
      return [p, s] as const;
    };
    const p0 = tree(0);
    const [pHalf, sHalf] = run(p0, tx.init(p0), 0, 6);
    const [pStraight] = run(pHalf, sHalf, 6, 12);
    const restored = optax.deserializeState(optax.serializeState(sHalf), tx.init(p0));
    const [pResumed] = run(pHalf, restored, 6, 12);
    for (const k of Object.keys(p0))
      expect(Array.from(pResumed[k]!), k).toEqual(Array.from(pStraight[k]!));
  });

  it('allocates nothing per step in the in-place Optimizer', () => {
    const opt = new optax.Optimizer(make(1e-3), tree(0));
    const grads = tree(7);
    for (let k = 0; k < 3000; k++) opt.step(grads, EXTRA);
    // The smallest growth of five windows. Under 64 bytes a step: anything per leaf (20 leaves: a
    // view, a buffer, a result object) would exceed it (see optimizer_fused.test.ts for the
    // measured baseline).
    expect(heapGrowthPerStep(() => opt.step(grads, EXTRA), 3000, 5)).toBeLessThan(64);
  });
});
