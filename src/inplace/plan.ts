/**
 * The plan of the in-place {@link Optimizer}'s fused step: a chain whose members all carry a
 * fusion tag (`scaleByRadam`, `scaleByAdam`, `trace`, `clip`, `addDecayedWeights`, `scale`,
 * `scaleBySchedule`, ..., nested chains included) runs as one pass per leaf of generated kernels,
 * with the per-step scalars computed once. The kernel chain is `load`, the members' stages, `apply`;
 * a member may change its stage from step to step (RAdam's unrectified and rectified steps), so a
 * chain has *variants*, all laid out when the plan is made.
 */
import { type FusedMember, fusionTag } from '../base.js';
import { chainOps, type KernelOp } from '../kernels/program.js';
import { chainLayout, STAGES, type StageName } from '../kernels/stages.js';
import type { ArrayLeaf } from '../tree.js';

/** One variant of a fused chain: its stages, kernel calls and where its arrays and scalars come from. */
export interface ChainVariant {
  readonly chain: readonly StageName[];
  readonly ops: readonly KernelOp[];
  /** Per array of the chain (`chainLayout` order), its slot (0: the gradients). */
  readonly slotOf: readonly number[];
  /** Per scalar of the chain, the member and the index in its `scalars` it is read from. */
  readonly scalarFrom: readonly (readonly [FusedMember, number])[];
}

function collect(
  tx: unknown,
  state: unknown,
  leaves: (tree: unknown) => ArrayLeaf[] | undefined,
  out: FusedMember[],
): boolean {
  const tag = fusionTag(tx);
  if (tag === undefined) return false;
  if (tag.kind === 'chain') {
    if (!Array.isArray(state) || state.length !== tag.members.length) return false;
    return tag.members.every((member, i) => collect(member, state[i], leaves, out));
  }
  const member = tag.fuse(state, leaves);
  if (member === undefined) return false;
  out.push(member);
  return true;
}

/**
 * A fused chain bound to its state. `prepare` checks the state and computes the step's variant and
 * scalars (nothing changes if it throws); the kernels then run {@link variant} with
 * {@link scalars}; `commit` advances the members' counts.
 */
export class FusedChain {
  /** Array slots: 0 is the gradients (given per step), then each member's arrays, in order. */
  readonly slots: (readonly ArrayLeaf[])[] = [[]];
  readonly variants: ChainVariant[] = [];
  /** The prepared step's variant (an index into {@link variants}). */
  variant = 0;
  /** The prepared step's scalars, in the variant's `chainLayout` order (float64). */
  readonly scalars: Float64Array;
  private readonly radix: number[] = [];

  constructor(readonly members: readonly FusedMember[]) {
    const base: number[] = [];
    for (const m of members) {
      base.push(this.slots.length);
      for (const a of m.arrays) this.slots.push(a);
    }
    // Every combination of the members' stages, the first member's choice varying slowest.
    let count = 1;
    for (let i = members.length - 1; i >= 0; i--) {
      this.radix[i] = count;
      count *= members[i]!.stages.length;
    }
    let most = 0;
    for (let v = 0; v < count; v++) {
      const chain: StageName[] = ['load'];
      const owner: number[] = [-1];
      members.forEach((m, i) => {
        const stage = m.stages[Math.floor(v / this.radix[i]!) % m.stages.length]!;
        if (stage === null) return;
        chain.push(stage);
        owner.push(i);
      });
      chain.push('apply');
      owner.push(-1);
      const layout = chainLayout(chain);
      const slotOf = layout.arrays.map(([s, name]) =>
        owner[s]! < 0
          ? 0
          : base[owner[s]!]! + (STAGES[chain[s]!].arrays as readonly string[]).indexOf(name),
      );
      const scalarFrom = layout.scalars.map(
        ([s, name]) =>
          [
            members[owner[s]!]!,
            (STAGES[chain[s]!].scalars as readonly string[]).indexOf(name),
          ] as const,
      );
      most = Math.max(most, scalarFrom.length);
      this.variants.push({ chain, ops: chainOps(chain), slotOf, scalarFrom });
    }
    this.scalars = new Float64Array(most);
  }

  prepare(): void {
    const { members, radix } = this;
    for (const m of members) m.prepare();
    let v = 0;
    for (let i = 0; i < members.length; i++) {
      const m = members[i]!;
      v += m.stages.indexOf(m.stage) * radix[i]!;
    }
    this.variant = v;
    const from = this.variants[v]!.scalarFrom;
    const sc = this.scalars;
    for (let k = 0; k < from.length; k++) {
      // (Index access: destructuring would use the iterator protocol, which may allocate.)
      const f = from[k]!;
      sc[k] = f[0].scalars[f[1]]!;
    }
  }

  commit(): void {
    for (const m of this.members) m.commit();
  }
}

/**
 * The fused chain of `tx` bound to `state`, or `undefined` when a member is not fusable. `leaves`
 * gives a state subtree's leaves in params order, or `undefined` when it does not match them.
 */
export function fusedChain(
  tx: unknown,
  state: unknown,
  leaves: (tree: unknown) => ArrayLeaf[] | undefined,
): FusedChain | undefined {
  const members: FusedMember[] = [];
  if (!collect(tx, state, leaves, members) || members.length === 0) return undefined;
  return new FusedChain(members);
}
