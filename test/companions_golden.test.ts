/**
 * Golden trajectories: L2 weight decay against torch.optim.RAdam(weight_decay=…) and decoupled
 * weight decay, linear warmup and Lookahead against an independent float64 NumPy reference
 * (scripts/golden_torch.py, scripts/reference_companions.py; layout in scripts/README.md).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  addDecayedWeights,
  applyUpdates,
  chain,
  type GradientTransformationExtraArgs,
  linearSchedule,
  lookahead,
  lookaheadParams,
  Optimizer,
  radam,
  scaleByLearningRate,
  scaleByRadam,
} from '../src/index.js';

interface Case {
  name: string;
  kind?: string;
  lr: number;
  b1: number;
  b2: number;
  eps: number;
  eps_root?: number;
  weight_decay?: number;
  steps: number;
  a: number[];
  c: number[];
  p0: number[];
  step_indices: number[];
  params?: number[][];
  fast_params?: number[][];
  slow_params?: number[][];
  learning_rates?: number[];
  schedule?: {
    init_value: number;
    end_value: number;
    transition_steps: number;
    transition_begin: number;
  };
  sync_period?: number;
  slow_step_size?: number;
  reset_state?: boolean;
  abs_diff_vs_optax_rule?: number[];
  abs_diff_reordered_arithmetic?: number[];
}

const load = (f: string): Case[] =>
  JSON.parse(readFileSync(new URL(`./fixtures/${f}`, import.meta.url), 'utf8')).cases;
const torch = load('radam_torch.json');
const companions = load('companions_reference.json');

/** g = a * (p - c), elementwise in float64, as the fixtures define it. */
function grad(p: Float64Array, a: Float64Array, c: Float64Array): Float64Array {
  const g = new Float64Array(p.length);
  for (let i = 0; i < p.length; i++) g[i] = a[i]! * (p[i]! - c[i]!);
  return g;
}

const maxAbsDiff = (x: ArrayLike<number>, y: ArrayLike<number>): number => {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  return m;
};

/** Runs the functional loop and returns params after every step (index s-1 for step s). */
function runFunctional(tx: GradientTransformationExtraArgs, cs: Case): Float64Array[] {
  const a = Float64Array.from(cs.a);
  const c = Float64Array.from(cs.c);
  let p = Float64Array.from(cs.p0);
  let state = tx.init(p);
  const out: Float64Array[] = [];
  for (let s = 0; s < cs.steps; s++) {
    let u: Float64Array;
    [u, state] = tx.update(grad(p, a, c), state, p);
    p = applyUpdates(p, u);
    out.push(p);
  }
  return out;
}

/** The same with the in-place Optimizer; returns copies of the params after every step. */
function runInPlace(tx: GradientTransformationExtraArgs, cs: Case): Float64Array[] {
  const a = Float64Array.from(cs.a);
  const c = Float64Array.from(cs.c);
  const params: { p: Float64Array } = { p: Float64Array.from(cs.p0) };
  const opt = new Optimizer(tx, params);
  expect(opt.runsInPlace).toBe(true);
  const out: Float64Array[] = [];
  for (let s = 0; s < cs.steps; s++) {
    opt.step({ p: grad(params.p, a, c) });
    out.push(params.p.slice());
  }
  return out;
}

/**
 * Tolerance against the NumPy reference. Our arithmetic follows the reference's operation order,
 * but V8's Math.pow and glibc's pow (used by NumPy) round differently in about 10% of the b1^t,
 * b2^t evaluations (1 ulp), and those bias corrections feed every later step. The measured
 * maximum over all cases is 4.9e-15 (params are O(1)); 1e-14 is about 45 ulps at 1.
 */
const REF_TOL = 1e-14;

const sameBits = (x: Float64Array, y: Float64Array): boolean =>
  x.length === y.length && x.every((v, i) => Object.is(v, y[i]));

const radamOpts = (cs: Case) => ({
  b1: cs.b1,
  b2: cs.b2,
  eps: cs.eps,
  epsRoot: cs.eps_root ?? 0,
});

describe('L2 weight decay against torch.optim.RAdam(weight_decay)', () => {
  const l2 = torch.filter((cs) => (cs.weight_decay ?? 0) > 0);
  it('the fixture has L2 cases', () => expect(l2.length).toBeGreaterThanOrEqual(3));
  for (const cs of l2) {
    it(`${cs.name}: chain(addDecayedWeights, scaleByRadam, scaleByLearningRate) follows torch`, () => {
      const tx = chain(
        addDecayedWeights(cs.weight_decay!),
        scaleByRadam(radamOpts(cs)),
        scaleByLearningRate(cs.lr),
      );
      const traj = runFunctional(tx, cs);
      cs.step_indices.forEach((s, i) => {
        const d = maxAbsDiff(traj[s - 1]!, cs.params![i]!);
        // torch uses FMA; the fixture records how far torch is from the plain-float64 rule at
        // each stored step. Allow that plus a few ulps.
        expect(d, `step ${s}`).toBeLessThanOrEqual(cs.abs_diff_vs_optax_rule![i]! * 2 + 4e-15);
      });
      // in place: bit-identical to the functional loop
      const inPlace = runInPlace(tx, cs);
      for (let s = 0; s < cs.steps; s++) expect(sameBits(inPlace[s]!, traj[s]!)).toBe(true);
    });
  }
});

describe('decoupled weight decay against the NumPy reference', () => {
  const cases = companions.filter((cs) => cs.kind === 'radam_decoupled_weight_decay');
  it('the fixture has decoupled cases', () => expect(cases.length).toBeGreaterThanOrEqual(3));
  for (const cs of cases) {
    it(`${cs.name}: radam(lr, { weightDecay }) and the explicit chain`, () => {
      const viaOption = radam(cs.lr, { ...radamOpts(cs), weightDecay: cs.weight_decay! });
      const viaChain = chain(
        scaleByRadam(radamOpts(cs)),
        addDecayedWeights(cs.weight_decay!),
        scaleByLearningRate(cs.lr),
      );
      const a = runFunctional(viaOption, cs);
      const b = runFunctional(viaChain, cs);
      for (let s = 0; s < cs.steps; s++) expect(sameBits(a[s]!, b[s]!)).toBe(true);
      cs.step_indices.forEach((s, i) => {
        expect(maxAbsDiff(a[s - 1]!, cs.params![i]!), `step ${s}`).toBeLessThanOrEqual(REF_TOL);
      });
      const inPlace = runInPlace(viaOption, cs);
      for (let s = 0; s < cs.steps; s++) expect(sameBits(inPlace[s]!, a[s]!)).toBe(true);
    });
  }
});

describe('linear warmup against the NumPy reference', () => {
  const cases = companions.filter((cs) => cs.kind === 'radam_linear_warmup');
  it('the fixture has warmup cases', () => expect(cases.length).toBeGreaterThanOrEqual(3));
  for (const cs of cases) {
    it(`${cs.name}: radam(linearSchedule(...)) with the schedule read before its count increments`, () => {
      const sch = cs.schedule!;
      const schedule = linearSchedule({
        initValue: sch.init_value,
        endValue: sch.end_value,
        transitionSteps: sch.transition_steps,
        transitionBegin: sch.transition_begin,
      });
      cs.step_indices.forEach((s, i) => {
        expect(schedule(s - 1), `lr at count ${s - 1}`).toBe(cs.learning_rates![i]);
      });
      const tx = radam(schedule, radamOpts(cs));
      const traj = runFunctional(tx, cs);
      // the first update uses lr = 0: params unchanged
      expect(sameBits(traj[0]!, Float64Array.from(cs.p0))).toBe(true);
      cs.step_indices.forEach((s, i) => {
        expect(maxAbsDiff(traj[s - 1]!, cs.params![i]!), `step ${s}`).toBeLessThanOrEqual(REF_TOL);
      });
      const inPlace = runInPlace(tx, cs);
      for (let s = 0; s < cs.steps; s++) expect(sameBits(inPlace[s]!, traj[s]!)).toBe(true);
    });
  }
});

describe('Lookahead against the NumPy reference', () => {
  const cases = companions.filter((cs) => cs.kind === 'lookahead_radam');
  it('the fixture has lookahead cases', () => expect(cases.length).toBeGreaterThanOrEqual(3));
  for (const cs of cases) {
    it(`${cs.name}: lookahead(radam, { syncPeriod, slowStepSize })`, () => {
      const a = Float64Array.from(cs.a);
      const c = Float64Array.from(cs.c);
      const tx = lookahead(radam(cs.lr, radamOpts(cs)), {
        syncPeriod: cs.sync_period!,
        slowStepSize: cs.slow_step_size!,
        resetState: cs.reset_state!,
      });
      let params = lookaheadParams(Float64Array.from(cs.p0));
      let state = tx.init(params);
      const fast: Float64Array[] = [];
      const slow: Float64Array[] = [];
      for (let s = 0; s < cs.steps; s++) {
        let u: { fast: Float64Array; slow: Float64Array };
        [u, state] = tx.update(grad(params.fast, a, c), state, params);
        params = applyUpdates(params, u);
        fast.push(params.fast);
        slow.push(params.slow);
      }
      cs.step_indices.forEach((s, i) => {
        expect(
          maxAbsDiff(slow[s - 1]!, cs.slow_params![i]!),
          `slow, step ${s}`,
        ).toBeLessThanOrEqual(REF_TOL);
        // optax's merged fast update lands on the new slow params only up to rounding (the
        // reference stores fast = slow exactly), so the fast trajectory carries that too.
        expect(
          maxAbsDiff(fast[s - 1]!, cs.fast_params![i]!),
          `fast, step ${s}`,
        ).toBeLessThanOrEqual(REF_TOL);
        if (s % cs.sync_period! === 0)
          expect(maxAbsDiff(fast[s - 1]!, slow[s - 1]!)).toBeLessThanOrEqual(1e-14);
      });
      // in place, with grads given as { fast, slow }: bit-identical to the functional loop
      const live = lookaheadParams<Float64Array>(Float64Array.from(cs.p0));
      const opt = new Optimizer(tx, live);
      expect(opt.runsInPlace).toBe(true);
      for (let s = 0; s < cs.steps; s++) {
        const g = grad(live.fast, a, c);
        opt.step({ fast: g, slow: g });
        expect(sameBits(live.fast, fast[s]!), `fast, step ${s + 1}`).toBe(true);
        expect(sameBits(live.slow, slow[s]!), `slow, step ${s + 1}`).toBe(true);
      }
    });
  }
});
