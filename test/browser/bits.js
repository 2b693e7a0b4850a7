// The in-place Optimizer at 1e6 float32 elements, a few steps (rectified ones included), and a
// SHA-256 of the resulting parameters: run in Node and in the browser on the same packed package,
// the hashes must be equal (the kernels are bit-identical by contract, on every platform).

/** xorshift32 numbers in [-1, 1): the same float32 values in every JavaScript engine. */
function fill(out, seed) {
  let x = seed >>> 0 || 1;
  for (let i = 0; i < out.length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x / 2 ** 31 - 1;
  }
}

/**
 * `optax` is the optax-ts module namespace; `options` go to the Optimizer. `pauseMs`: wait that
 * long between steps (so that a kernel thread, which starts in the background, can take part).
 */
export async function optimizerBits(optax, options = {}, n = 1_000_000, steps = 8, pauseMs = 0) {
  const { Optimizer, radam } = optax;
  const w = new Float32Array(n);
  fill(w, 12345);
  const initial = w.slice();
  const params = { w };
  const opt = new Optimizer(radam(1e-3, { weightDecay: 1e-4 }), params, options);
  const g = new Float32Array(n);
  const started = performance.now();
  let threadsSeen = 1;
  for (let s = 0; s < steps; s++) {
    fill(g, 1000 + s);
    opt.step({ w: g });
    threadsSeen = Math.max(threadsSeen, opt.threads);
    if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
  }
  const ms = performance.now() - started;
  const out = options.arena ? opt.params.w : w;
  let changed = 0;
  for (let i = 0; i < n; i++) if (out[i] !== initial[i]) changed++;
  // A copy: the arena's memory may be a SharedArrayBuffer, which digest() refuses.
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', out.slice()));
  const hash = Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
  return { kernel: opt.kernel, hash, changed, ms, threads: opt.threads, threadsSeen };
}
