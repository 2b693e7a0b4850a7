/**
 * Fused chains: a chain whose members all carry a fusion tag (`scaleByRadam`, `scaleByAdam`,
 * `trace`, `clip`, `addDecayedWeights`, `scale`, `scaleBySchedule`, ..., nested chains included)
 * runs as one pass per leaf of generated kernels, with the per-step scalars computed once: in
 * place in the {@link Optimizer} (the kernel chain `load`, the members' stages, `apply`) and on
 * the functional path of `chain`'s `update` ({@link fusedUpdate}: `load`, the stages, `emit`).
 * A member may change its stage from step to step (RAdam's unrectified and rectified steps), so a
 * chain has *variants*, laid out once per transformation.
 */
import { type FusedMember, fusionTag } from './base.js';
import { MAX_OPS, runFunctional } from './kernels/functional.js';
import { chainOps, JsChain, type KernelOp } from './kernels/program.js';
import { chainLayout, STAGES, type StageName } from './kernels/stages.js';
import { floatKind } from './leaf.js';
import type { ArrayLeaf, TreeDef } from './tree.js';
import { isContainer, MAX_STATE_DEPTH, treeFlatten, treeLeaves } from './tree.js';

/**
 * One variant of a fused chain: its stages, kernel calls, and where its arrays and scalars come
 * from.
 */
export interface ChainVariant {
  readonly chain: readonly StageName[];
  readonly ops: readonly KernelOp[];
  /**
   * Per array of the chain (`chainLayout` order), its slot: 0 the gradients, then the members'
   * arrays; -1 the update that `emit` writes.
   */
  readonly slotOf: readonly number[];
  /** Per scalar of the chain, the member (index) and the index in its `scalars` it is read from. */
  readonly scalarFrom: readonly (readonly [number, number])[];
  /** Whether a stage reads the params. */
  readonly readsParams: boolean;
  /** The JavaScript chains of its ops (made on first use), for float32 and float64 leaves. */
  js?: { f32: JsChain; f64: JsChain };
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

/** Every combination of the members' stages (the first member's choice varying slowest). */
function chainVariants(members: readonly FusedMember[], tail: 'apply' | 'emit'): ChainVariant[] {
  const base: number[] = [];
  let slots = 1;
  for (const m of members) {
    base.push(slots);
    slots += m.arrays.length;
  }
  const radix = radixOf(members);
  const count = radix.length > 0 ? radix[0]! * members[0]!.stages.length : 1;
  const variants: ChainVariant[] = [];
  for (let v = 0; v < count; v++) {
    const chain: StageName[] = ['load'];
    const owner: number[] = [-1];
    members.forEach((m, i) => {
      const stage = m.stages[Math.floor(v / radix[i]!) % m.stages.length]!;
      if (stage === null) return;
      chain.push(stage);
      owner.push(i);
    });
    chain.push(tail);
    owner.push(-1);
    const layout = chainLayout(chain);
    const slotOf = layout.arrays.map(([s, name]) =>
      chain[s] === 'emit'
        ? -1
        : owner[s]! < 0
          ? 0
          : base[owner[s]!]! + (STAGES[chain[s]!].arrays as readonly string[]).indexOf(name),
    );
    const scalarFrom = layout.scalars.map(
      ([s, name]) =>
        [owner[s]!, (STAGES[chain[s]!].scalars as readonly string[]).indexOf(name)] as const,
    );
    const readsParams = chain.some(
      (stage) => (STAGES[stage] as { readsParams?: boolean }).readsParams === true,
    );
    variants.push({ chain, ops: chainOps(chain), slotOf, scalarFrom, readsParams });
  }
  return variants;
}

function radixOf(members: readonly FusedMember[]): number[] {
  const radix: number[] = [];
  let count = 1;
  for (let i = members.length - 1; i >= 0; i--) {
    radix[i] = count;
    count *= members[i]!.stages.length;
  }
  return radix;
}

/**
 * The JavaScript chains of a variant's ops, for float32 and float64 leaves (made on first use and
 * shared: a chain's scalars are set right before each use).
 */
export function jsChains(variant: ChainVariant): { f32: JsChain; f64: JsChain } {
  variant.js ??= { f32: new JsChain(variant.ops, true), f64: new JsChain(variant.ops, false) };
  return variant.js;
}

/** The variants of a transformation's chains, made once (members' stages depend only on it). */
const VARIANTS = new WeakMap<object, { apply?: ChainVariant[]; emit?: ChainVariant[] }>();

/**
 * A fused chain bound to its state. `prepare` checks the state and computes the step's variant and
 * scalars (nothing changes if it throws); the kernels then run {@link variant} with
 * {@link scalars}; `commit` advances the members' counts.
 */
export class FusedChain {
  /** Array slots: 0 is the gradients (given per step), then each member's arrays, in order. */
  readonly slots: (readonly ArrayLeaf[])[] = [[]];
  /** The prepared step's variant (an index into {@link variants}). */
  variant = 0;
  /** The prepared step's scalars, in the variant's `chainLayout` order (float64). */
  readonly scalars: Float64Array;
  private readonly radix: number[];

  constructor(
    readonly members: readonly FusedMember[],
    readonly variants: readonly ChainVariant[],
  ) {
    for (const m of members) for (const a of m.arrays) this.slots.push(a);
    this.radix = radixOf(members);
    let most = 0;
    for (const v of variants) most = Math.max(most, v.scalarFrom.length);
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
      sc[k] = members[f[0]]!.scalars[f[1]]!;
    }
  }

  commit(): void {
    for (const m of this.members) m.commit();
  }
}

/**
 * The fused chain of `tx` bound to `state`, or `undefined` when a member is not fusable. `leaves`
 * gives a state subtree's leaves in params order, or `undefined` when it does not match them.
 * `tail`: `'apply'` for the in-place step, `'emit'` for the functional update.
 */
export function fusedChain(
  tx: unknown,
  state: unknown,
  leaves: (tree: unknown) => ArrayLeaf[] | undefined,
  tail: 'apply' | 'emit' = 'apply',
): FusedChain | undefined {
  const members: FusedMember[] = [];
  if (!collect(tx, state, leaves, members) || members.length === 0) return undefined;
  let cached = VARIANTS.get(tx as object);
  if (cached === undefined) {
    cached = {};
    VARIANTS.set(tx as object, cached);
  }
  const variants = cached[tail] ?? chainVariants(members, tail);
  cached[tail] = variants;
  return new FusedChain(members, variants);
}

/**
 * The functional update is fused when the leaves have at least this many elements on average;
 * below that, running the members one by one costs the same per leaf and less per call.
 */
export const FUSED_UPDATE_MIN_ELEMENTS_PER_LEAF = 64;

/** A matcher of state subtrees against the leaves of `def`, each of the same dtype and length. */
export function leafMatcher(
  def: TreeDef,
  like: readonly ArrayLeaf[],
): (tree: unknown) => ArrayLeaf[] | undefined {
  return (tree) => {
    const out: unknown[] = [];
    if (!def.match(tree, out)) return undefined;
    for (let i = 0; i < out.length; i++) {
      const leaf = out[i] as ArrayLeaf;
      const p = like[i]!;
      if (floatKind(leaf) === undefined || floatKind(leaf) !== floatKind(p)) return undefined;
      if (leaf.length !== p.length) return undefined;
    }
    return out as ArrayLeaf[];
  };
}

/**
 * A copy of the containers of `tree` (its leaves shared); `places` gets the container and key of
 * every typed-array leaf of the copy.
 */
function copyContainers(
  tree: unknown,
  places: { container: Record<string | number, unknown>; key: string | number }[],
  depth = 0,
): unknown {
  if (!isContainer(tree) || depth > MAX_STATE_DEPTH) return tree;
  const out: Record<string | number, unknown> = Array.isArray(tree)
    ? new Array(tree.length)
    : Object.create(Object.getPrototypeOf(tree));
  const record = tree as Record<string | number, unknown>;
  const keys = Array.isArray(tree) ? tree.keys() : Object.keys(record);
  for (const key of keys) {
    const v = record[key];
    out[key] = copyContainers(v, places, depth + 1);
    if (floatKind(v) !== undefined) places.push({ container: out, key });
  }
  return out;
}

/**
 * `tx.update(updates, state, params)` as one fused pass per leaf, for a chain of fusable members
 * over typed-array trees; `undefined` when it does not apply (a member that is not fusable, a leaf
 * that is not a `Float32Array`/`Float64Array` of the state's dtype, params missing where a stage
 * reads them), and the caller then runs the members one by one, with the same bits and errors.
 */
export function fusedUpdate(
  tx: unknown,
  updates: unknown,
  state: unknown,
  params: unknown,
): [unknown, unknown] | undefined {
  // First the cheap checks (leaf types and sizes), then the structure.
  let grads: ArrayLeaf[];
  let def: TreeDef;
  try {
    grads = treeLeaves<ArrayLeaf>(updates);
  } catch {
    return undefined;
  }
  let elements = 0;
  for (const g of grads) {
    if (floatKind(g) === undefined) return undefined;
    elements += g.length;
  }
  // Leaves of a few elements are as fast one operation at a time, with less fixed cost.
  if (elements < FUSED_UPDATE_MIN_ELEMENTS_PER_LEAF * grads.length) return undefined;
  try {
    [grads, def] = treeFlatten<ArrayLeaf>(updates, 'updates');
  } catch {
    return undefined;
  }
  const places: { container: Record<string | number, unknown>; key: string | number }[] = [];
  const next = copyContainers(state, places);
  const fused = fusedChain(tx, next, leafMatcher(def, grads), 'emit');
  if (fused === undefined) return undefined;
  let p: ArrayLeaf[] | undefined;
  if (fused.variants.some((v) => v.readsParams)) {
    if (params === undefined || params === null) return undefined;
    p = [];
    if (!def.match(params, p)) return undefined;
    for (let i = 0; i < p.length; i++)
      if (floatKind(p[i]) !== floatKind(grads[i]) || p[i]!.length !== grads[i]!.length)
        return undefined;
  }
  // (The windows take chains of up to MAX_OPS kernel calls; a longer one runs one by one.)
  if (fused.variants.some((v) => v.ops.length > MAX_OPS)) return undefined;
  fused.prepare();
  const variant = fused.variants[fused.variant]!;
  const js = jsChains(variant);
  js.f32.setScalars(fused.scalars);
  js.f64.setScalars(fused.scalars);
  const { slotOf } = variant;
  const out: ArrayLeaf[] = [];
  const moved = new Map<unknown, ArrayLeaf>();
  const inputs: (ArrayLeaf | undefined)[] = slotOf.map(() => undefined);
  const outputs: (ArrayLeaf | undefined)[] = slotOf.map(() => undefined);
  for (let i = 0; i < grads.length; i++) {
    const g = grads[i]!;
    const f32 = g instanceof Float32Array;
    const Ctor = f32 ? Float32Array : Float64Array;
    const u = new Ctor(g.length);
    for (let k = 0; k < slotOf.length; k++) {
      const slot = slotOf[k]!;
      if (slot === 0) {
        inputs[k] = g;
        outputs[k] = undefined;
      } else if (slot < 0) {
        inputs[k] = undefined;
        outputs[k] = u;
      } else {
        const old = fused.slots[slot]![i]!;
        const fresh = new Ctor(g.length);
        inputs[k] = old;
        outputs[k] = fresh;
        moved.set(old, fresh);
      }
    }
    runFunctional(
      variant.ops,
      f32 ? js.f32 : js.f64,
      f32,
      g.length,
      p?.[i],
      inputs,
      outputs,
      fused.scalars,
    );
    out.push(u);
  }
  // The new state: the copied containers, with fresh arrays for the stepped ones and the counts
  // advanced.
  for (const { container, key } of places) {
    const fresh = moved.get(container[key]);
    if (fresh !== undefined) container[key] = fresh;
  }
  fused.commit();
  return [def.unflatten(out), next];
}
