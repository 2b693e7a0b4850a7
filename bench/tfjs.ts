/**
 * TF.js peers: `tf.train.adam` and optax-ts/tfjs's `RAdamOptimizer`, each stepping its own
 * variables with `applyGradients` on fixed gradients, on one backend (tfjs-backend-wasm or
 * tfjs-backend-cpu, both of which run every kernel synchronously, so a step's time is the call's).
 *
 * {@link tfjsContenders} gives them to bench/harness.ts. {@link benchTfjs} is the older two-way
 * comparison (kept for `test/tfjs.test.ts` and for running alone:
 * `npx tsx bench/tfjs.ts [params] [steps]`, 1,000,000 parameters in four variables by default).
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { RAdamOptimizer } from '../src/tfjs/index.js';
import { type Contender, local, median } from './harness.js';

const require = createRequire(import.meta.url);
setWasmPaths(
  `${dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'))}/`,
);

/** TF.js core's version. */
export const TFJS_VERSION = tf.version_core;

/** Switches TF.js to `backend` (`'wasm'` or `'cpu'`). */
export async function useBackend(backend: string): Promise<void> {
  if (!(await tf.setBackend(backend))) throw new Error(`tfjs: backend ${backend} failed`);
  await tf.ready();
}

interface Stepper {
  opt: tf.Optimizer;
  step(): void;
  sync(): void;
  dispose(): void;
}

/** Fresh variables of the given sizes, fixed gradients, and `make()`'s optimizer over them. */
function stepper(sizes: readonly number[], make: () => tf.Optimizer): Stepper {
  const vars = sizes.map((n, i) => tf.variable(tf.randomNormal([n], 0, 1, 'float32', i + 1), true));
  const grads: tf.NamedTensorMap = {};
  vars.forEach((v, i) => {
    grads[v.name] = tf.randomNormal([sizes[i]!], 0, 0.1, 'float32', 100 + i);
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
 * `tf.train.adam(1e-3)` and `RAdamOptimizer(1e-3)` on the current backend (see
 * {@link useBackend}), over float32 variables of the given `sizes`, warmed up by `warmup` steps.
 * Each round ends with an untimed `dataSync` of the variables.
 */
export function tfjsContenders(sizes: readonly number[], warmup: number): Contender[] {
  const backend = tf.getBackend();
  const layout = `${sizes.length} var${sizes.length > 1 ? 's' : ''}`;
  return (
    [
      ['tf.train.adam', () => tf.train.adam(1e-3)],
      ['optax-ts/tfjs RAdamOptimizer', () => new RAdamOptimizer(1e-3)],
    ] as const
  ).map(([label, make]) => {
    const s = stepper(sizes, make);
    for (let i = 0; i < warmup; i++) s.step();
    s.sync();
    const inPlace = s.opt instanceof RAdamOptimizer && s.opt.ranInPlace ? ', in place' : '';
    const inner = local(`${label} (tfjs-${backend}, ${layout})`, s.step, 1);
    return {
      ...inner,
      note: `tfjs ${TFJS_VERSION}${inPlace}`,
      async round(samples: number, budgetMs: number) {
        const out = await inner.round(samples, budgetMs);
        s.sync();
        return out;
      },
      dispose: s.dispose,
    };
  });
}

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

/**
 * Times one `applyGradients` step of `RAdamOptimizer(1e-3)` and of `tf.train.adam(1e-3)` on
 * `backend`, with the same fixed gradients, each on its own variables (four, of 40%, 30%, 20% and
 * 10% of `params`). The two alternate in rounds of 5 steps and the median round is reported.
 *
 * @example
 * ```ts
 * const r = await benchTfjs({ backend: 'cpu', params: 1_000_000 });
 * console.log(`${r.radamMs.toFixed(2)} ms vs ${r.tfAdamMs.toFixed(2)} ms`);
 * ```
 */
export async function benchTfjs(options: TfjsBenchOptions): Promise<TfjsBenchResult> {
  const { backend, params = 1_000_000, steps = 20, warmup = 3 } = options;
  await useBackend(backend);
  const sizes = fourVariables(params);
  const radam = stepper(sizes, () => new RAdamOptimizer(1e-3));
  const adam = stepper(sizes, () => tf.train.adam(1e-3));
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

/** `n` split over four variables of 40%, 30%, 20% and 10% (the last takes the rounding). */
export function fourVariables(n: number): number[] {
  const head = [0.4, 0.3, 0.2].map((f) => Math.round(f * n));
  return [...head, n - head.reduce((a, b) => a + b, 0)];
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
