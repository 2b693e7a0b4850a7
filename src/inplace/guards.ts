/**
 * What the in-place {@link Optimizer} checks on every step before it changes anything, in
 * O(leaves) and without allocating: that the state it bound is still the state (no leaf or
 * container replaced, no buffer detached or resized, no value of another type), and that the
 * gradients neither overlap a param other than their own nor any state buffer. Also the state
 * backup that makes a step of the generic path transactional.
 */
import { floatKind } from '../leaf.js';
import type { ArrayLeaf, TreeSlot } from '../tree.js';
import { MAX_STATE_DEPTH, treeSlots } from '../tree.js';
import { describeValue } from '../validate.js';

/** Why an array that had `expected` elements cannot be used now, or `undefined` if it can. */
export function bufferProblem(x: ArrayLeaf, expected: number): string | undefined {
  if (x.length === expected) return undefined;
  if (x.byteLength === 0 && expected > 0)
    return 'its buffer was detached (transferred) or shrunk to nothing';
  return `its length changed from ${expected} to ${x.length} (a resized buffer)`;
}

/** Slot kinds: the value must stay the same object, or keep its type. */
const SAME_OBJECT = 0;
const ARRAY = 1;
const NUMBER = 2;
const OTHER = 3;

/**
 * The state's shape as bound at construction: every slot (container, key) with the object it held
 * or the type of its value. {@link StateGuard.verify} throws a `TypeError` naming the first slot
 * that differs.
 */
export class StateGuard {
  readonly slots: readonly TreeSlot[];
  private readonly kinds: Uint8Array;
  private readonly refs: unknown[];
  private readonly lengths: Float64Array;
  private readonly types: string[];

  constructor(readonly state: unknown) {
    this.slots = treeSlots(state, 'state', MAX_STATE_DEPTH);
    const n = this.slots.length;
    this.kinds = new Uint8Array(n);
    this.refs = new Array(n).fill(null);
    this.lengths = new Float64Array(n);
    this.types = new Array(n).fill('');
    this.slots.forEach((slot, i) => {
      const v = slot.container[slot.key];
      if (floatKind(v)) {
        this.kinds[i] = ARRAY;
        this.refs[i] = v;
        this.lengths[i] = (v as ArrayLeaf).length;
      } else if (typeof v === 'number') this.kinds[i] = NUMBER;
      else if (v !== null && (typeof v === 'object' || typeof v === 'function')) {
        this.kinds[i] = SAME_OBJECT;
        this.refs[i] = v;
      } else {
        this.kinds[i] = OTHER;
        this.types[i] = v === null ? 'null' : typeof v;
      }
    });
  }

  /** Throws, naming the path, when the state no longer has the shape it had when bound. */
  verify(): void {
    const { slots, kinds, refs } = this;
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i]!;
      const v = slot.container[slot.key];
      switch (kinds[i]) {
        case NUMBER:
          if (typeof v !== 'number') throw this.changed(i, v, 'a number');
          break;
        case OTHER:
          if ((v === null ? 'null' : typeof v) !== this.types[i])
            throw this.changed(i, v, this.types[i]!);
          break;
        default: {
          if (v !== refs[i])
            throw new TypeError(
              `Optimizer.step: state${slot.path} was replaced after the optimizer was built; the in-place optimizer updates the objects it was given (change the state only through steps, or build a new Optimizer)`,
            );
          if (kinds[i] === ARRAY) {
            const why = bufferProblem(v as ArrayLeaf, this.lengths[i]!);
            if (why) throw new TypeError(`Optimizer.step: state${slot.path}: ${why}`);
          }
        }
      }
    }
  }

  private changed(i: number, v: unknown, want: string): TypeError {
    return new TypeError(
      `Optimizer.step: state${this.slots[i]!.path} is ${describeValue(v)}; it must stay ${want}`,
    );
  }
}

/**
 * A copy of every value of the state (array contents, numbers, booleans), preallocated once, so
 * that a step that throws half-way can be undone: {@link save} before the step, {@link restore}
 * when it throws. Costs one state-sized copy per step in memory traffic and one state-sized buffer.
 */
export class StateBackup {
  private readonly arrays: { slot: number; copy: ArrayLeaf }[] = [];
  private readonly numberSlots: number[] = [];
  private readonly numbers: Float64Array;
  private readonly otherSlots: number[] = [];
  private readonly others: unknown[];

  constructor(private readonly guard: StateGuard) {
    guard.slots.forEach((slot, i) => {
      const v = slot.container[slot.key];
      const kind = floatKind(v);
      if (kind)
        this.arrays.push({
          slot: i,
          copy:
            kind === 'f32' ? new Float32Array(v as ArrayLeaf) : new Float64Array(v as ArrayLeaf),
        });
      else if (typeof v === 'number') this.numberSlots.push(i);
      else if (v === null || (typeof v !== 'object' && typeof v !== 'function'))
        this.otherSlots.push(i);
    });
    this.numbers = new Float64Array(this.numberSlots.length);
    this.others = new Array(this.otherSlots.length).fill(null);
  }

  /** Copies the state's current values. */
  save(): void {
    const slots = this.guard.slots;
    for (const { slot, copy } of this.arrays) {
      const s = slots[slot]!;
      copy.set(s.container[s.key] as ArrayLeaf);
    }
    for (let j = 0; j < this.numberSlots.length; j++) {
      const s = slots[this.numberSlots[j]!]!;
      this.numbers[j] = s.container[s.key] as number;
    }
    for (let j = 0; j < this.otherSlots.length; j++) {
      const s = slots[this.otherSlots[j]!]!;
      this.others[j] = s.container[s.key];
    }
  }

  /** Puts back the values of the last {@link save}. */
  restore(): void {
    const slots = this.guard.slots;
    for (const { slot, copy } of this.arrays) {
      const s = slots[slot]!;
      (s.container[s.key] as ArrayLeaf).set(copy);
    }
    for (let j = 0; j < this.numberSlots.length; j++) {
      const s = slots[this.numberSlots[j]!]!;
      s.container[s.key] = this.numbers[j];
    }
    for (let j = 0; j < this.otherSlots.length; j++) {
      const s = slots[this.otherSlots[j]!]!;
      s.container[s.key] = this.others[j];
    }
  }
}

/** Byte ranges of the arrays that gradients must not overlap, per buffer, sorted by start. */
interface Ranges {
  starts: number[];
  ends: number[];
  /** The leaf index a gradient may match exactly (a param, an arena's grads buffer), or -1. */
  owner: number[];
  /** Whether the range is a param's. */
  param: boolean[];
  paths: string[];
  /** True when the ranges of this buffer overlap each other (then scanned linearly). */
  tangled: boolean;
}

/**
 * Byte ranges of the params and the state's arrays, to refuse overlapping params at construction
 * and, on each step, gradients that overlap anything but exactly their own param.
 */
export class AliasGuard {
  private readonly byBuffer = new Map<ArrayBufferLike, Ranges>();

  /**
   * `params`/`paramPaths`: the params leaves and their paths (`params.w`); `others`: arrays no
   * gradient may overlap (the state's), with their paths, except exactly the one whose `owner` is
   * the gradient's leaf index (an arena's grads buffer). Throws, naming both paths, when two
   * params overlap.
   */
  constructor(
    params: readonly ArrayLeaf[],
    paramPaths: readonly string[],
    others: readonly { array: ArrayLeaf; path: string; owner?: number }[],
  ) {
    const all: { a: ArrayLeaf; owner: number; path: string; param: boolean }[] = [];
    params.forEach((a, i) => {
      all.push({ a, owner: i, path: paramPaths[i]!, param: true });
    });
    for (const s of others)
      all.push({ a: s.array, owner: s.owner ?? -1, path: s.path, param: false });
    for (const { a, owner, path, param } of all) {
      if (a.byteLength === 0) continue;
      let r = this.byBuffer.get(a.buffer);
      if (!r) {
        r = { starts: [], ends: [], owner: [], paths: [], param: [], tangled: false };
        this.byBuffer.set(a.buffer, r);
      }
      r.starts.push(a.byteOffset);
      r.ends.push(a.byteOffset + a.byteLength);
      r.owner.push(owner);
      r.paths.push(path);
      r.param.push(param);
    }
    for (const r of this.byBuffer.values()) {
      const order = r.starts.map((_, i) => i).sort((x, y) => r.starts[x]! - r.starts[y]!);
      const pick = <T>(xs: T[]) => order.map((i) => xs[i]!);
      r.starts = pick(r.starts);
      r.ends = pick(r.ends);
      r.owner = pick(r.owner);
      r.paths = pick(r.paths);
      r.param = pick(r.param);
      // Sorted by start: a range overlaps an earlier one exactly when it starts before the
      // largest end so far (and an earlier param exactly when before the largest param end).
      let maxEnd = 0;
      let maxParam = -1;
      for (let i = 0; i < r.starts.length; i++) {
        if (r.starts[i]! < maxEnd) r.tangled = true;
        if (!r.param[i]) {
          maxEnd = Math.max(maxEnd, r.ends[i]!);
          continue;
        }
        if (maxParam >= 0 && r.starts[i]! < r.ends[maxParam]!)
          throw new TypeError(
            `Optimizer: ${r.paths[maxParam]} and ${r.paths[i]} share memory (the same array twice, or overlapping views of one buffer); each param must have a buffer of its own`,
          );
        if (maxParam < 0 || r.ends[i]! > r.ends[maxParam]!) maxParam = i;
        maxEnd = Math.max(maxEnd, r.ends[i]!);
      }
    }
  }

  /** Throws when gradient `g` (for param `index`, at `path`) overlaps anything it must not. */
  checkGrad(g: ArrayLeaf, index: number, path: string): void {
    const r = this.byBuffer.get(g.buffer);
    if (r === undefined || g.byteLength === 0) return;
    const s = g.byteOffset;
    const e = s + g.byteLength;
    const { starts, ends } = r;
    let from = 0;
    if (!r.tangled) {
      // The first range that ends after s; only it and the ones after it can overlap.
      let lo = 0;
      let hi = starts.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (ends[mid]! <= s) lo = mid + 1;
        else hi = mid;
      }
      from = lo;
    }
    for (let i = from; i < starts.length; i++) {
      if (starts[i]! >= e) {
        if (r.tangled) continue;
        return;
      }
      if (ends[i]! <= s) continue;
      if (r.owner[i] === index && starts[i] === s && ends[i] === e) continue;
      throw new TypeError(
        `Optimizer.step: grads${path} shares memory with ${r.paths[i]}; a gradient may be its own param's array but must not overlap another param or the optimizer's state`,
      );
    }
  }
}
