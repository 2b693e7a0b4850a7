/**
 * A small seeded pseudo-random generator for the demo, so that weight initialisation, the
 * train/held-out split and the batch order depend only on the seed.
 */

/**
 * A 32-bit counter-based generator: each draw advances a Weyl sequence and scrambles it with two
 * multiply-xorshift rounds. Not cryptographic; plenty for shuffling and initialisation.
 *
 * @example
 * ```ts
 * const a = new Rng(42);
 * const b = new Rng(42);
 * a.uniform() === b.uniform(); // true: same seed, same stream
 * ```
 */
export class Rng {
  private state: number;

  /** Starts the stream for `seed` (any finite number; its low 32 bits are used) and `stream`. */
  constructor(seed: number, stream = 0) {
    if (!Number.isInteger(seed))
      throw new RangeError(`Rng: seed must be an integer, got ${String(seed)}`);
    this.state = mix32((seed >>> 0) ^ mix32(stream + 0x51ed27));
  }

  /** The next raw 32-bit unsigned integer. */
  nextUint32(): number {
    this.state = (this.state + 0x9e3779b9) | 0;
    return mix32(this.state);
  }

  /** A float in [0, 1) with 32 random bits. */
  uniform(): number {
    return this.nextUint32() / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Shuffles `a` in place (Fisher-Yates) and returns it. */
  shuffle<A extends { length: number; [i: number]: number }>(a: A): A {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i]!;
      a[i] = a[j]!;
      a[j] = t;
    }
    return a;
  }
}

/** A 32-bit integer hash (two multiply-xorshift rounds), as unsigned. */
function mix32(x: number): number {
  let z = x | 0;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  return (z ^ (z >>> 15)) >>> 0;
}
