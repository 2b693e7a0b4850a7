/**
 * Ranger = RAdam + Lookahead, against plain RAdam, on a noisy ill-conditioned quadratic
 * f(x) = ½ Σ aᵢ xᵢ² with aᵢ from 10 down to 0.01, where each gradient carries Gaussian noise
 * (σ = 1, seeded). With a fixed learning rate RAdam ends up bouncing in the noise. Lookahead's slow
 * params (the ones to evaluate) average the fast trajectory, which lowers the loss they settle at.
 *
 * Both run on the in-place Optimizer. Ranger's params are { fast, slow }: gradients are taken at
 * the fast params, and every 6 steps the slow params move halfway toward them.
 *
 * Run: npx tsx examples/ranger.ts
 */
import { lookahead, lookaheadParams, Optimizer, radam } from '../src/index.js';

const n = 10;
const curvature = Float64Array.from({ length: n }, (_, i) => 10 * 1000 ** (-i / (n - 1)));
const loss = (x: Float64Array): number => {
  let s = 0;
  for (let i = 0; i < n; i++) s += 0.5 * curvature[i]! * x[i]! * x[i]!;
  return s;
};

/** A small seeded generator (LCG + Box-Muller), so the example prints the same thing every run. */
function gaussian(seed: number): () => number {
  let state = seed >>> 0;
  const uniform = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return (state + 0.5) / 2 ** 32;
  };
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}

function noisyGradient(x: Float64Array, noise: () => number, out: Float64Array): void {
  for (let i = 0; i < n; i++) out[i] = curvature[i]! * x[i]! + noise();
}

const steps = 3000;
const lr = 0.05;
const start = () => new Float64Array(n).fill(3);

const plain = { x: start() };
const radamOpt = new Optimizer(radam(lr), plain);
const g1 = { x: new Float64Array(n) };
const noise1 = gaussian(42);

const ranger = lookaheadParams({ x: start() });
const rangerOpt = new Optimizer(lookahead(radam(lr), { syncPeriod: 6, slowStepSize: 0.5 }), ranger);
const g2 = { x: new Float64Array(n) };
const rangerGrads = { fast: g2, slow: g2 }; // the Optimizer takes a tree shaped like its params
const noise2 = gaussian(42); // the same noise sequence for both

const window = 500;
let sumPlain = 0;
let sumSlow = 0;
const fmt = (x: number): string => x.toFixed(3).padStart(8);
console.log(
  `noisy quadratic, n = ${n}, lr = ${lr}, ${steps} steps, f(start) = ${loss(start()).toFixed(1)}`,
);
console.log('  step  radam f(x)  ranger f(slow)');
for (let s = 1; s <= steps; s++) {
  noisyGradient(plain.x, noise1, g1.x);
  radamOpt.step(g1);
  noisyGradient(ranger.fast.x, noise2, g2.x);
  rangerOpt.step(rangerGrads);
  if (s > steps - window) {
    sumPlain += loss(plain.x);
    sumSlow += loss(ranger.slow.x);
  }
  if (s % 500 === 0)
    console.log(`${String(s).padStart(6)}  ${fmt(loss(plain.x))}    ${fmt(loss(ranger.slow.x))}`);
}
const meanPlain = sumPlain / window;
const meanSlow = sumSlow / window;
console.log(
  `mean loss over the last ${window} steps: radam ${meanPlain.toFixed(4)}, ranger ${meanSlow.toFixed(4)}`,
);
console.log(`ranger / radam: ${(meanSlow / meanPlain).toFixed(3)}`);
console.log(`in place: radam ${radamOpt.runsInPlace}, ranger ${rangerOpt.runsInPlace}`);
