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
import { Arena, type ArenaThreads, arenaBytes } from './arena.js';
import type { KernelScalars } from './radam-js.js';
import { MAX_WASM_PAGES } from './wasm.js';

type Float = Float32Array | Float64Array;

/** Elements per chunk of a streamed leaf (its four windows fit in a core's cache). */
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
  mu: Float;
  nu: Float;
  /** Chunk views of the moments, of the params and of the last gradient array seen (rebuilt when it changes). */
  muChunks: Float[];
  nuChunks: Float[];
  pChunks: Float[];
  gChunks: Float[];
  gOf: Float | undefined;
  pOf: Float | undefined;
  /** The window's views (whole, or the length of this leaf's last chunk): m, v, p. */
  tail: [Float, Float, Float];
  whole: [Float, Float, Float];
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
  /** Per leaf (in leaf order): the params, grads (none for a streamed leaf) and moment arrays. */
  readonly params: Float[] = [];
  readonly grads: Float[] = [];
  readonly mu: Float[] = [];
  readonly nu: Float[] = [];
  private readonly kernelKind: 'wasm' | 'js';

  /**
   * Lays `leaves` out over arenas (copying their values into the arenas' params views) with
   * zeroed moments when `moments`. `stream`: a leaf too large for one arena is streamed (its
   * params entry is then the given leaf, its moments ordinary arrays, and it has no grads buffer:
   * no `grads` entry); otherwise such a leaf throws a `RangeError` naming it (`names[i]`).
   */
  constructor(
    leaves: readonly Float[],
    moments: boolean,
    wasm: boolean,
    threads: ArenaThreads,
    stream: boolean,
    names: readonly string[],
  ) {
    const n = leaves.length;
    this.arenaOf = new Int32Array(n).fill(-1);
    this.localOf = new Int32Array(n).fill(-1);
    // First fit, in leaf order: a new arena when the next leaf would overflow this one.
    const groups: number[][] = [];
    let current: number[] = [];
    const empty = arenaBytes([], moments);
    let used = empty;
    for (let i = 0; i < n; i++) {
      const leaf = leaves[i]!;
      const cost = arenaBytes([leaf], moments) - empty;
      if (empty + cost > capacity) {
        if (!stream)
          throw new RangeError(
            `Optimizer: ${names[i]} has ${leaf.length} elements, more than one WebAssembly memory holds with its gradients and moments; { arena: true } keeps each leaf in one memory: leave the arena off (the default streams such a leaf), or split the leaf`,
          );
        this.streamed.push(this.streamedLeaf(i, leaf));
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
        moments,
        wasm,
        threads,
      );
      this.arenas.push(arena);
      members.forEach((i, j) => {
        this.arenaOf[i] = a;
        this.localOf[i] = j;
        this.params[i] = arena.params[j] as Float;
        this.grads[i] = arena.grads[j] as Float;
        if (moments) {
          this.mu[i] = arena.mu[j] as Float;
          this.nu[i] = arena.nu[j] as Float;
        }
      });
    });
    for (const s of this.streamed) {
      this.params[s.leaf] = leaves[s.leaf]!;
      this.mu[s.leaf] = s.mu;
      this.nu[s.leaf] = s.nu;
      const key = s.f32 ? 'f32' : 'f64';
      if (this.windows[key] === undefined)
        this.windows[key] = new Arena(
          [s.f32 ? new Float32Array(STREAM_CHUNK) : new Float64Array(STREAM_CHUNK)],
          true,
          wasm,
          1,
        );
      const win = this.windows[key]!;
      const last = s.length - (Math.ceil(s.length / STREAM_CHUNK) - 1) * STREAM_CHUNK;
      const views = [win.mu[0], win.nu[0], win.params[0]] as Float[];
      s.whole = views as [Float, Float, Float];
      s.tail = views.map((v) => v.subarray(0, last)) as [Float, Float, Float];
    }
    const all = [...this.arenas, this.windows.f32, this.windows.f64];
    this.kernelKind = all.every((a) => a === undefined || a.kernel === 'wasm') ? 'wasm' : 'js';
  }

  private streamedLeaf(i: number, leaf: Float): Streamed {
    const f32 = floatKind(leaf) === 'f32';
    const Ctor = f32 ? Float32Array : Float64Array;
    const mu = new Ctor(leaf.length);
    const nu = new Ctor(leaf.length);
    return {
      leaf: i,
      f32,
      length: leaf.length,
      mu,
      nu,
      muChunks: chunksOf(mu),
      nuChunks: chunksOf(nu),
      pChunks: [],
      gChunks: [],
      gOf: undefined,
      pOf: undefined,
      tail: [] as unknown as [Float, Float, Float],
      whole: [] as unknown as [Float, Float, Float],
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
   * One fused step over every leaf. `grads`/`params`: the arrays to read and update; for a leaf
   * kept in an arena they are copied in when they are not its own views (and the params copied
   * back when `staged`); a streamed leaf is stepped through its window.
   */
  step(k: KernelScalars, grads: readonly Float[], params: readonly Float[], staged: boolean): void {
    const { arenaOf, localOf } = this;
    for (let i = 0; i < arenaOf.length; i++) {
      const a = arenaOf[i]!;
      if (a < 0) continue;
      const arena = this.arenas[a]!;
      const j = localOf[i]!;
      const g = arena.grads[j]!;
      if (grads[i] !== g) g.set(grads[i]!);
      if (staged) arena.params[j]!.set(params[i]!);
    }
    for (const arena of this.arenas) arena.radamStep(k);
    if (staged)
      for (let i = 0; i < arenaOf.length; i++) {
        const a = arenaOf[i]!;
        if (a >= 0) params[i]!.set(this.arenas[a]!.params[localOf[i]!]!);
      }
    for (const s of this.streamed) this.stepStreamed(s, k, grads[s.leaf]!, params[s.leaf]!);
  }

  private stepStreamed(s: Streamed, k: KernelScalars, g: Float, p: Float): void {
    const win = (s.f32 ? this.windows.f32 : this.windows.f64)!;
    if (s.gOf !== g) {
      s.gChunks = chunksOf(g);
      s.gOf = g;
    }
    if (s.pOf !== p) {
      s.pChunks = chunksOf(p);
      s.pOf = p;
    }
    const wg = win.grads[0]!;
    const wp = win.params[0]!;
    const wm = win.mu[0]!;
    const wv = win.nu[0]!;
    const { mu, nu, muChunks, nuChunks, gChunks, pChunks } = s;
    const chunks = pChunks.length;
    for (let c = 0; c < chunks; c++) {
      const at = c * STREAM_CHUNK;
      // In: g, p, m, v of the chunk; the window beyond a short last chunk holds stale values,
      // stepped and then ignored.
      wg.set(gChunks[c]!);
      wp.set(pChunks[c]!);
      wm.set(muChunks[c]!);
      wv.set(nuChunks[c]!);
      win.radamStep(k);
      const [om, ov, op] = c === chunks - 1 ? s.tail : s.whole;
      mu.set(om, at);
      nu.set(ov, at);
      p.set(op, at);
    }
  }
}
