/**
 * The example of optax.radam's documentation, in TypeScript: minimise f(x) = sum(x²) from
 * [1, 2, 3] with radam(0.003) for five steps.
 *
 * Run: npx tsx examples/quadratic.ts
 */
import { applyUpdates, radam } from '../src/index.js';

/** f(x) = sum(x²) and its gradient 2x. */
const f = (x: Float32Array): number => x.reduce((s, xi) => s + xi * xi, 0);
const grad = (x: Float32Array): Float32Array => x.map((xi) => 2 * xi);

/** Python's '{:.2E}' format: 1.38E+01. */
function formatE(x: number): string {
  const [mantissa, exponent] = x.toExponential(2).toUpperCase().split('E') as [string, string];
  const sign = exponent.startsWith('-') ? '-' : '+';
  return `${mantissa}E${sign}${exponent.replace(/^[+-]/, '').padStart(2, '0')}`;
}

/** Python's str() of a float: 14.0 rather than 14. */
const pyFloat = (x: number): string => (Number.isInteger(x) ? x.toFixed(1) : String(x));

const solver = radam(0.003);
let params = new Float32Array([1, 2, 3]);
console.log('Objective function: ', pyFloat(f(params)));
let optState = solver.init(params);
for (let i = 0; i < 5; i++) {
  const g = grad(params);
  let updates: Float32Array;
  [updates, optState] = solver.update(g, optState, params);
  params = applyUpdates(params, updates);
  console.log(`Objective function: ${formatE(f(params))}`);
}
