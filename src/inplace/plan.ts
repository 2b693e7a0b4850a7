/**
 * The plan of the in-place {@link Optimizer}'s fused step: recognises `chain(scaleByRadam(...),
 * [addDecayedWeights(wd),] scaleByLearningRate(lr))` (and `scale`/`scaleBySchedule` in the last
 * place, nested chains included) by the members' fusion tags, and runs the whole chain plus the
 * parameter update as one pass per leaf, with the per-step scalars computed once.
 */
import { type FusionTag, fusionTag, safeIncrement } from '../base.js';
import {
  type KernelScalars,
  newKernelScalars,
  radamStepF32,
  radamStepF64,
} from '../kernels/radam-js.js';
import type { Schedule } from '../schedule-types.js';
import {
  newRadamScalars,
  type RadamHyperparams,
  radamScalars,
  type ScaleByAdamState,
} from '../transforms/radam.js';
import type { ArrayLeaf } from '../tree.js';
import { checkCount, evaluate } from '../validate.js';

/** A recognised chain, bound to its state. */
export interface FusedPlan {
  hp: RadamHyperparams;
  radamState: ScaleByAdamState;
  /** Constant weight decay, when `addDecayedWeights` sits between the two. */
  weightDecay: number | undefined;
  /** The constant final scale, or the schedule and its state. */
  scale:
    | { kind: 'scale'; stepSize: number }
    | { kind: 'schedule'; fn: Schedule; name: string; state: { count: number } };
}

function collect(tx: unknown, state: unknown, out: { tag: FusionTag; state: unknown }[]): boolean {
  const tag = fusionTag(tx);
  if (tag === undefined) return false;
  if (tag.kind === 'chain') {
    if (!Array.isArray(state) || state.length !== tag.members.length) return false;
    return tag.members.every((member, i) => collect(member, state[i], out));
  }
  out.push({ tag, state });
  return true;
}

/** The fused plan for `tx` with its `state`, or `undefined` when the chain is not one we fuse. */
export function fusedPlan(tx: unknown, state: unknown): FusedPlan | undefined {
  const members: { tag: FusionTag; state: unknown }[] = [];
  if (!collect(tx, state, members)) return undefined;
  if (members.length !== 2 && members.length !== 3) return undefined;
  const first = members[0]!;
  const last = members[members.length - 1]!;
  if (first.tag.kind !== 'scaleByRadam') return undefined;
  let weightDecay: number | undefined;
  if (members.length === 3) {
    const mid = members[1]!.tag;
    if (mid.kind !== 'addDecayedWeights') return undefined;
    // A zero rate is a no-op in the functional path; `u + 0 * p` would turn -0 into +0.
    weightDecay = mid.weightDecay === 0 ? undefined : mid.weightDecay;
  }
  let scale: FusedPlan['scale'];
  if (last.tag.kind === 'scale') scale = { kind: 'scale', stepSize: last.tag.stepSize };
  else if (last.tag.kind === 'scaleBySchedule')
    scale = {
      kind: 'schedule',
      fn: last.tag.stepSizeFn,
      name: last.tag.name,
      state: last.state as { count: number },
    };
  else return undefined;
  return {
    hp: first.tag.hp,
    radamState: first.state as ScaleByAdamState,
    weightDecay,
    scale,
  };
}

/**
 * The fused step: `prepare` computes and checks the per-step scalars (nothing changes if it
 * throws); `run` steps every leaf and advances the counts.
 */
export class FusedRadamStep {
  /** The scalars of the prepared step. */
  readonly k: KernelScalars = newKernelScalars();
  private readonly s = newRadamScalars();
  /** The schedule count's name in errors (made once: a step allocates nothing). */
  private readonly scheduleCount: string;

  constructor(
    private readonly plan: FusedPlan,
    private readonly mu: readonly ArrayLeaf[],
    private readonly nu: readonly ArrayLeaf[],
  ) {
    const { hp } = plan;
    const k = this.k;
    k.nesterov = hp.nesterov;
    k.decay = plan.weightDecay !== undefined;
    k.wd = plan.weightDecay ?? 0;
    k.a1 = 1 - hp.b1;
    k.b1 = hp.b1;
    k.a2 = 1 - hp.b2;
    k.b2 = hp.b2;
    k.eps = hp.eps;
    k.epsRoot = hp.epsRoot;
    this.scheduleCount =
      plan.scale.kind === 'schedule' ? `Optimizer.step: the state count of ${plan.scale.name}` : '';
  }

  prepare(): void {
    const { plan, k, s } = this;
    const scale = plan.scale;
    // The counts as the functional update checks them (a caller may have written to the state).
    checkCount('Optimizer.step: the state count of scaleByRadam', plan.radamState.count);
    if (scale.kind === 'schedule') checkCount(this.scheduleCount, scale.state.count);
    // The schedule first: it may throw, and nothing has changed yet.
    k.s =
      scale.kind === 'scale'
        ? scale.stepSize
        : evaluate(scale.name, 'step size', scale.fn, scale.state.count);
    radamScalars(plan.radamState.count, plan.hp, s);
    k.rectify = s.rectify;
    k.r = s.r;
    k.bc1 = s.bc1;
    k.bc1Next = s.bc1Next;
    k.bc2 = s.bc2;
  }

  /** Steps the caller's leaves, one fused pass each. */
  runLeaves(grads: readonly ArrayLeaf[], params: readonly ArrayLeaf[]): void {
    const { mu, nu, k } = this;
    for (let i = 0; i < params.length; i++) {
      const p = params[i]!;
      if (p instanceof Float32Array)
        radamStepF32(
          grads[i] as Float32Array,
          mu[i] as Float32Array,
          nu[i] as Float32Array,
          p,
          0,
          p.length,
          k,
        );
      else
        radamStepF64(
          grads[i] as Float64Array,
          mu[i] as Float64Array,
          nu[i] as Float64Array,
          p,
          0,
          p.length,
          k,
        );
    }
    this.commit();
  }

  /** Advances the counts, after the kernels have stepped every leaf with {@link k}. */
  commit(): void {
    const { plan, s } = this;
    plan.radamState.count = s.t;
    if (plan.scale.kind === 'schedule')
      plan.scale.state.count = safeIncrement(plan.scale.state.count);
  }
}
