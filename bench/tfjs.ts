/**
 * RAdam through optax-ts/tfjs (`RAdamOptimizer.applyGradients`) against TF.js's own
 * `tf.train.adam` on the same backend and the same gradients.
 *
 * Run on its own: `npx tsx bench/tfjs.ts [params] [steps]` (default 1,000,000 parameters in four
 * variables, 40 timed steps after 3 warm-up steps, on cpu then wasm).
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { RAdamOptimizer } from '../src/tfjs/index.js';

const require = createRequire(import.meta.url);
setWasmPaths(
  `${dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'))}/`,
);

/** Options of {@link benchTfjs}. */
export interface TfjsBenchOptions {
  /** `'cpu'` or `'wasm'` (any registered TF.js backend). */
  backend: string;
  /** Total parameters, split over four variables. Default 1,000,000. */
  params?: number;
  /** Timed steps per optimizer, in rounds of 5. Default 20. */
  steps?: number;
  /** Untimed steps first (state creation, JIT warm-up). Default 3. */
  warmup?: number;
}

/** Timings of {@link benchTfjs}, in milliseconds per `applyGradients` step. */
export interface TfjsBenchResult {
  backend: string;
  params: number;
  steps: number;
  /** `RAdamOptimizer` (optax-ts/tfjs). */
  radamMs: number;
  /** Whether RAdam ran the fused in-place kernel (tfjs-backend-cpu). */
  radamInPlace: boolean;
  /** `tf.train.adam`. */
  tfAdamMs: number;
  /** `tfAdamMs / radamMs`: above 1 means optax-ts is faster. */
  speedup: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

interface Contender {
  step(): void;
  sync(): void;
  dispose(): void;
}

/** Fresh variables and fixed gradients for one optimizer. */
function contender(
  sizes: readonly number[],
  make: () => tf.Optimizer,
): Contender & { opt: tf.Optimizer } {
  const vars = sizes.map((n, i) => tf.variable(tf.randomNormal([n], 0, 1, 'float32', i + 1), true));
  const grads: tf.NamedTensorMap = {};
  vars.forEach((v, i) => {
    grads[v.name] = tf.randomNormal([sizes[i]!], 0, 1, 'float32', 100 + i);
  });
  const opt = make();
  return {
    opt,
    step: () => opt.applyGradients(grads),
    sync: () => {
      for (const v of vars) v.dataSync();
    },
    dispose: () => {
      opt.dispose();
      tf.dispose(Object.values(grads));
      for (const v of vars) v.dispose();
    },
  };
}

/**
 * Times one `applyGradients` step of `RAdamOptimizer(1e-3)` and of `tf.train.adam(1e-3)` on
 * `backend`, with the same fixed gradients, each on its own variables. The two alternate in
 * rounds of 5 steps and the median round is reported, so that load from other processes affects
 * both alike.
 *
 * @example
 * ```ts
 * const r = await benchTfjs({ backend: 'cpu', params: 1_000_000 });
 * console.log(`${r.radamMs.toFixed(2)} ms vs ${r.tfAdamMs.toFixed(2)} ms`);
 * ```
 */
export async function benchTfjs(options: TfjsBenchOptions): Promise<TfjsBenchResult> {
  const { backend, params = 1_000_000, steps = 20, warmup = 3 } = options;
  if (!(await tf.setBackend(backend))) throw new Error(`benchTfjs: backend ${backend} failed`);
  await tf.ready();
  const sizes = [0.4, 0.3, 0.2, 0.1].map((f) => Math.round(f * params));
  const radam = contender(sizes, () => new RAdamOptimizer(1e-3));
  const adam = contender(sizes, () => tf.train.adam(1e-3));
  const times: [number[], number[]] = [[], []];
  const round = 5;
  for (const c of [radam, adam]) {
    for (let i = 0; i < warmup; i++) c.step();
    c.sync();
  }
  for (let done = 0; done < steps; done += round) {
    [radam, adam].forEach((c, j) => {
      const t0 = performance.now();
      for (let i = 0; i < round; i++) c.step();
      c.sync();
      times[j]!.push((performance.now() - t0) / round);
    });
  }
  const radamInPlace = (radam.opt as RAdamOptimizer).ranInPlace;
  radam.dispose();
  adam.dispose();
  const radamMs = median(times[0]);
  const tfAdamMs = median(times[1]);
  return { backend, params, steps, radamMs, radamInPlace, tfAdamMs, speedup: tfAdamMs / radamMs };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const params = Number(process.argv[2] ?? 1_000_000);
  const steps = Number(process.argv[3] ?? 40);
  for (const backend of ['cpu', 'wasm']) {
    const r = await benchTfjs({ backend, params, steps });
    console.log(
      `${backend}: ${params} params, RAdamOptimizer ${r.radamMs.toFixed(2)} ms/step${
        r.radamInPlace ? ' (in place)' : ''
      }, tf.train.adam ${r.tfAdamMs.toFixed(2)} ms/step, speedup ${r.speedup.toFixed(1)}x`,
    );
  }
}
