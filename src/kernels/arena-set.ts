/**
 * Leaves spread over as many arenas (WebAssembly memories) as they need. One memory holds at most
 * 4 GiB, so a large tree is split at leaf boundaries over several arenas, each stepped by the SIMD
 * kernels (and by its own second thread where the arena asks for one). A leaf too large for any
 * one memory, possible only where the caller keeps the params (`stream: true`), is *streamed*: its
 * moments are ordinary arrays, and each step copies it chunk by chunk through a small window arena
 * that stays in cache (one thread). Nothing here allocates per step when the gradient arrays are
 * the same from one step to the next.
 */

import { floatKind } from '../leaf.js';
import { withShapeOf } from '../shape.js';
import { Arena, type ArenaThreads, arenaBytes, type ProgramSpec } from './arena.js';
import { MAX_WASM_PAGES } from './wasm.js';

type Float = Float32Array | Float64Array;

/** Elements per chunk of a streamed leaf (its windows fit in a core's cache). */
export const STREAM_CHUNK = 32768;

let capacity = MAX_WASM_PAGES * 65536;

/**
 * Tests only: the bytes one arena may hold (default 4 GiB, one WebAssembly memory), so that the
 * splitting and streaming can be tested on small trees. Returns the previous value.
 * @internal
 */
export function setArenaCapacity(bytes: number): number {
  const old = capacity;
  capacity = bytes;
  return old;
}

/** One leaf streamed through a window: its chunk views, made once per array. */
interface Streamed {
  leaf: number;
  f32: boolean;
  length: number;
  /** Chunk views of the state slots (index 0 unused: the gradients come per step). */
  slotChunks: Float[][];
  /** Chunk views of the params and of the last gradient array seen (rebuilt when they change). */
  pChunks: Float[];
  gChunks: Float[];
  gOf: Float | undefined;
  pOf: Float | undefined;
}

function chunksOf(a: Float): Float[] {
  const out: Float[] = [];
  for (let at = 0; at < a.length; at += STREAM_CHUNK)
    out.push(a.subarray(at, Math.min(a.length, at + STREAM_CHUNK)));
  return out;
}

export class ArenaSet {
  readonly arenas: Arena[] = [];
  /** Per leaf: arena index and index within it, or -1 for a streamed leaf. */
  private readonly arenaOf: Int32Array;
  private readonly localOf: Int32Array;
  private readonly streamed: Streamed[] = [];
  private readonly windows: { f32?: Arena; f64?: Arena } = {};
  /** Per leaf (in leaf order): the params. */
  readonly params: Float[] = [];
  /**
   * Per slot, per leaf: slot 0 the gradients (no entry for a streamed leaf), then the state
   * arrays (ordinary arrays for a streamed leaf).
   */
  readonly slots: Float[][] = [];
  private readonly kernelKind: 'wasm' | 'js';
  /** Per arena: the indices of its leaves, and a list reused to pass it their arrays. */
  private readonly members: number[][] = [];
  private readonly local: Float[][] = [];
  private readonly localP: Float[][] = [];

  /**
   * Lays `leaves` out over arenas (copying their values into the arenas' params views) with
   * `slots` zeroed arrays per leaf (the gradients, then the state arrays) and the fused chain's
   * programs `specs`. `stream`: a leaf too large for one arena is streamed (its params entry is
   * then the given leaf and its state ordinary arrays); otherwise such a leaf throws a
   * `RangeError` naming it (`names[i]`).
   */
  constructor(
    leaves: readonly Float[],
    slots: number,
    specs: readonly ProgramSpec[],
    wasm: boolean,
    threads: ArenaThreads,
    stream: boolean,
    names: readonly string[],
  ) {
    const n = leaves.length;
    for (let k = 0; k < slots; k++) this.slots.push([]);
    this.arenaOf = new Int32Array(n).fill(-1);
    this.localOf = new Int32Array(n).fill(-1);
    // First fit, in leaf order: a new arena when the next leaf would overflow this one.
    const groups: number[][] = [];
    let current: number[] = [];
    // On the caller's buffers (`stream`), arenas keep only the state and copy the params and
    // gradients through windows.
    const windowed = stream;
    const empty = arenaBytes([], slots, specs, windowed);
    let used = empty;
    for (let i = 0; i < n; i++) {
      const leaf = leaves[i]!;
      const cost = arenaBytes([leaf], slots, specs, windowed) - empty;
      if (empty + cost > capacity) {
        if (!stream)
          throw new RangeError(
            `Optimizer: ${names[i]} has ${leaf.length} elements, more than one WebAssembly memory holds with its gradients and state; { arena: true } keeps each leaf in one memory: leave the arena off (the default streams such a leaf), or split the leaf`,
          );
        this.streamed.push(this.streamedLeaf(i, leaf, slots));
        continue;
      }
      if (current.length > 0 && used + cost > capacity) {
        groups.push(current);
        current = [];
        used = empty;
      }
      current.push(i);
      used += cost;
    }
    if (current.length > 0 || (groups.length === 0 && this.streamed.length === 0))
      groups.push(current);
    groups.forEach((members, a) => {
      const arena = new Arena(
        members.map((i) => leaves[i]!),
        slots,
        specs,
        wasm,
        threads,
        windowed,
      );
      this.arenas.push(arena);
      this.members.push(members);
      this.local.push(members.map((i) => leaves[i]!));
      this.localP.push(members.map((i) => leaves[i]!));
      members.forEach((i, j) => {
        this.arenaOf[i] = a;
        this.localOf[i] = j;
        // The arena's views keep the caller's leaf shapes.
        this.params[i] = windowed ? leaves[i]! : withShapeOf(arena.params[j] as Float, leaves[i]);
        arena.slots.forEach((views, k) => {
          if (views[j] !== undefined) this.slots[k]![i] = withShapeOf(views[j] as Float, leaves[i]);
        });
      });
    });
    for (const s of this.streamed) {
      this.params[s.leaf] = leaves[s.leaf]!;
      const key = s.f32 ? 'f32' : 'f64';
      if (this.windows[key] === undefined)
        this.windows[key] = new Arena(
          [s.f32 ? new Float32Array(STREAM_CHUNK) : new Float64Array(STREAM_CHUNK)],
          slots,
          specs,
          wasm,
          1,
        );
    }
    const all = [...this.arenas, this.windows.f32, this.windows.f64];
    this.kernelKind = all.every((a) => a === undefined || a.kernel === 'wasm') ? 'wasm' : 'js';
  }

  private streamedLeaf(i: number, leaf: Float, slots: number): Streamed {
    const f32 = floatKind(leaf) === 'f32';
    const Ctor = f32 ? Float32Array : Float64Array;
    const slotChunks: Float[][] = [[]];
    for (let k = 1; k < slots; k++) {
      const state = withShapeOf(new Ctor(leaf.length), leaf);
      this.slots[k]![i] = state;
      slotChunks.push(chunksOf(state));
    }
    return {
      leaf: i,
      f32,
      length: leaf.length,
      slotChunks,
      pChunks: [],
      gChunks: [],
      gOf: undefined,
      pOf: undefined,
    };
  }

  /** `'wasm'` when every arena runs the SIMD kernels, else `'js'`. */
  get kernel(): 'wasm' | 'js' {
    return this.kernelKind;
  }

  /** 2 when every arena that has elements used two threads in the last step, else 1. */
  get lastThreads(): 1 | 2 {
    if (this.streamed.length > 0 || this.arenas.length === 0) return 1;
    for (const a of this.arenas) if (a.lastThreads !== 2) return 1;
    return 2;
  }

  /** Why an arena's second thread was given up, if one was. */
  get threadFailure(): string | undefined {
    for (const a of this.arenas) if (a.threadFailure) return a.threadFailure;
    return undefined;
  }

  /** Number of leaves that are streamed. */
  get streamedLeaves(): number {
    return this.streamed.length;
  }

  /**
   * One fused step of program `variant` with the chain's `scalars` over every leaf.
   * `grads`/`params`: the arrays to read and update; for a leaf kept in an arena they are copied
   * in when they are not its own views (and the params copied back when `staged`); a streamed
   * leaf is stepped through its window.
   */
  step(
    variant: number,
    scalars: Float64Array,
    grads: readonly Float[],
    params: readonly Float[],
    staged: boolean,
  ): void {
    const { arenaOf, localOf } = this;
    if (staged && this.arenas.length > 0 && this.arenas[0]!.windowed) {
      for (let a = 0; a < this.arenas.length; a++) {
        const members = this.members[a]!;
        const g = this.local[a]!;
        const p = this.localP[a]!;
        for (let j = 0; j < members.length; j++) {
          g[j] = grads[members[j]!]!;
          p[j] = params[members[j]!]!;
        }
        this.arenas[a]!.stepWindowed(variant, scalars, g, p);
      }
      for (const s of this.streamed)
        this.stepStreamed(s, variant, scalars, grads[s.leaf]!, params[s.leaf]!);
      return;
    }
    for (let i = 0; i < arenaOf.length; i++) {
      const a = arenaOf[i]!;
      if (a < 0) continue;
      const arena = this.arenas[a]!;
      const j = localOf[i]!;
      const g = arena.grads[j]!;
      if (grads[i] !== g) g.set(grads[i]!);
      if (staged) arena.params[j]!.set(params[i]!);
    }
    for (const arena of this.arenas) arena.step(variant, scalars);
    if (staged)
      for (let i = 0; i < arenaOf.length; i++) {
        const a = arenaOf[i]!;
        if (a >= 0) params[i]!.set(this.arenas[a]!.params[localOf[i]!]!);
      }
    for (const s of this.streamed)
      this.stepStreamed(s, variant, scalars, grads[s.leaf]!, params[s.leaf]!);
  }

  private stepStreamed(
    s: Streamed,
    variant: number,
    scalars: Float64Array,
    g: Float,
    p: Float,
  ): void {
    const win = (s.f32 ? this.windows.f32 : this.windows.f64)!;
    if (s.gOf !== g) {
      s.gChunks = chunksOf(g);
      s.gOf = g;
    }
    if (s.pOf !== p) {
      s.pChunks = chunksOf(p);
      s.pOf = p;
    }
    const wp = win.params[0]!;
    const ws = win.slots;
    const { gChunks, pChunks, slotChunks } = s;
    const chunks = pChunks.length;
    for (let c = 0; c < chunks; c++) {
      const pc = pChunks[c]!;
      const len = pc.length;
      ws[0]![0]!.set(gChunks[c]!);
      wp.set(pc);
      for (let k = 1; k < ws.length; k++) ws[k]![0]!.set(slotChunks[k]![c]!);
      win.step(variant, scalars, len);
      // Out: the chunk's params and state (the window's views are whole; copy `len` elements).
      copyPrefix(pc, wp, len);
      for (let k = 1; k < ws.length; k++) copyPrefix(slotChunks[k]![c]!, ws[k]![0]!, len);
    }
  }
}

/** `dst.set(src.subarray(0, len))` without allocating the subarray. */
function copyPrefix(dst: Float, src: Float, len: number): void {
  if (len === src.length) dst.set(src);
  else for (let i = 0; i < len; i++) dst[i] = src[i]!;
}
