/**
 * The chunks of an arena with windows: the caller keeps the params and gradients, the arena keeps
 * the state, and each step copies the params and gradients chunk by chunk into cache-sized ring
 * windows, runs the kernels on the window and the state, and copies the params back (see
 * `Arena.stepWindowed`). A chunk is `windowOf(n)` consecutive elements of one dtype's region, so it may
 * cover parts of several leaves (its *pieces*) and the zero padding between them.
 */
import type { ArrayLeaf } from '../tree.js';
import { RING } from './threads.js';

type Float = Float32Array | Float64Array;

/**
 * Elements per window chunk: with windows (the params and gradients are the caller's), each step
 * copies them through `RING` windows of this many elements, which stay in cache.
 */
export const WINDOW = 16384;

/** The window of a dtype region of `n` elements: {@link WINDOW}, or less for a small region. */
export const windowOf = (n: number): number => Math.min(WINDOW, n);

/** What the plan needs of an arena's layout: per dtype, its leaves' indices and offsets. */
export interface WindowLayout {
  readonly index: readonly number[];
  readonly offset: readonly number[];
  readonly n: number;
}

/** What the plan needs of an arena's dtype groups: the window views per ring slot. */
export interface WindowGroup {
  readonly winPView: readonly ArrayLeaf[];
  readonly winGView: readonly ArrayLeaf[];
}

export class WindowPlan {
  /** Per chunk: its dtype group, and its start and end in that group's region. */
  readonly chunkGroup: number[] = [];
  readonly chunkStart: number[] = [];
  readonly chunkEnd: number[] = [];
  /** Pieces of chunk `c`: `[pieceFirst[c], pieceFirst[c + 1])`. */
  private readonly pieceFirst: number[] = [0];
  private readonly pieceLeaf: number[] = [];
  private readonly pieceAt: number[] = [];
  private readonly pieceWin: number[] = [];
  private readonly pieceLen: number[] = [];
  /** Padding elements after the piece (inside the chunk), zeroed in the windows. */
  private readonly piecePad: number[] = [];
  /** Per piece: the window's params view it is copied back from. */
  private readonly winOut: Float[] = [];
  /** Per piece: views of the caller's arrays (rebuilt when a leaf's array changes). */
  private readonly gViews: Float[] = [];
  private readonly pViews: Float[] = [];
  private readonly lastG: (Float | undefined)[];
  private readonly lastP: (Float | undefined)[];
  private readonly piecesOf: number[][];

  constructor(
    layout: readonly WindowLayout[],
    leaves: readonly ArrayLeaf[],
    private readonly groups: readonly WindowGroup[],
  ) {
    this.lastG = leaves.map(() => undefined);
    this.lastP = leaves.map(() => undefined);
    this.piecesOf = leaves.map(() => []);
    layout.forEach((l, gi) => {
      const window = windowOf(l.n);
      for (let start = 0; start < l.n; start += window) {
        const end = Math.min(l.n, start + window);
        const c = this.chunkStart.length;
        const slot = c % RING;
        this.chunkGroup.push(gi);
        this.chunkStart.push(start);
        this.chunkEnd.push(end);
        l.index.forEach((leaf, j) => {
          const off = l.offset[j]!;
          const len = leaves[leaf]!.length;
          const padded = (len + 3) & ~3;
          // The leaf's data [off, off + len) and padding [off + len, off + padded), within the chunk.
          const a = Math.max(start, off);
          const b = Math.min(end, off + len);
          const padA = Math.max(start, off + len);
          const padB = Math.min(end, off + padded);
          if (b <= a && padB <= padA) return;
          const k = this.pieceLeaf.length;
          this.pieceLeaf.push(leaf);
          this.pieceAt.push(b > a ? a - off : 0);
          this.pieceWin.push(b > a ? a - start : padA - start);
          this.pieceLen.push(Math.max(0, b - a));
          this.piecePad.push(Math.max(0, padB - padA));
          const win = groups[gi]!.winPView[slot]! as Float;
          const w = this.pieceWin[k]!;
          this.winOut.push(win.subarray(w, w + this.pieceLen[k]!));
          this.gViews.push(win);
          this.pViews.push(win);
          this.piecesOf[leaf]!.push(k);
        });
        this.pieceFirst.push(this.pieceLeaf.length);
      }
    });
  }

  /** The number of chunks. */
  get chunks(): number {
    return this.chunkStart.length;
  }

  /** Rebuilds the views of the leaves whose gradient or params arrays changed since the last step. */
  refresh(grads: readonly ArrayLeaf[], params: readonly ArrayLeaf[]): void {
    for (let leaf = 0; leaf < grads.length; leaf++) {
      const g = grads[leaf] as Float;
      const p = params[leaf] as Float;
      if (this.lastG[leaf] === g && this.lastP[leaf] === p) continue;
      for (const k of this.piecesOf[leaf]!) {
        const at = this.pieceAt[k]!;
        const len = this.pieceLen[k]!;
        this.gViews[k] = g.subarray(at, at + len);
        this.pViews[k] = p.subarray(at, at + len);
      }
      this.lastG[leaf] = g;
      this.lastP[leaf] = p;
    }
  }

  /** Copies chunk `c`'s gradients and params into its ring slot's windows (zeros in the padding). */
  copyIn(c: number): void {
    const grp = this.groups[this.chunkGroup[c]!]!;
    const slot = c % RING;
    const wg = grp.winGView[slot] as Float;
    const wp = grp.winPView[slot] as Float;
    for (let k = this.pieceFirst[c]!; k < this.pieceFirst[c + 1]!; k++) {
      const w = this.pieceWin[k]!;
      const len = this.pieceLen[k]!;
      if (len > 0) {
        wg.set(this.gViews[k]!, w);
        wp.set(this.pViews[k]!, w);
      }
      const pad = this.piecePad[k]!;
      if (pad > 0) {
        wg.fill(0, w + len, w + len + pad);
        wp.fill(0, w + len, w + len + pad);
      }
    }
  }

  /** Copies chunk `c`'s params from its window back to the caller's arrays. */
  copyOut(c: number): void {
    for (let k = this.pieceFirst[c]!; k < this.pieceFirst[c + 1]!; k++)
      if (this.pieceLen[k]! > 0) this.pViews[k]!.set(this.winOut[k]!);
  }
}
