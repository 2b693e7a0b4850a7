/**
 * The example of optax.radam's documentation on jax-js arrays, with jax-js's `grad`: minimise
 * f(x) = sum(x²) from [1, 2, 3] with radam(0.003) for five steps.
 *
 * jax-js operations consume their arguments, so an array used again later is passed as `x.ref`;
 * optax-ts consumes nothing, and the arrays it returns are the caller's to dispose.
 *
 * Run: npx tsx examples/jax-quadratic.ts
 */
import { grad, init, numpy as jnp } from '@jax-js/jax';
import { applyUpdates, disposeTree, radam } from '../src/index.js';
import { tidyTransformation } from '../src/jax/index.js';

await init('wasm'); // the WebAssembly backend, which runs in Node

/** A simple quadratic function (it consumes x, as jax-js functions do). */
const f = (x: jnp.Array): jnp.Array => jnp.sum(x.ref.mul(x));

/** Python's '{:.2E}' format: 1.38E+01. */
function formatE(x: number): string {
  const [mantissa, exponent] = x.toExponential(2).toUpperCase().split('E') as [string, string];
  const sign = exponent.startsWith('-') ? '-' : '+';
  return `${mantissa}E${sign}${exponent.replace(/^[+-]/, '').padStart(2, '0')}`;
}

/** Python's str() of a float: 14.0 rather than 14. */
const pyFloat = (x: number): string => (Number.isInteger(x) ? x.toFixed(1) : String(x));

const solver = tidyTransformation(radam(0.003));
let params = jnp.array([1, 2, 3]);
console.log('Objective function: ', pyFloat(f(params.ref).item()));
let optState = solver.init(params);
for (let i = 0; i < 5; i++) {
  const g = grad(f)(params.ref);
  const [updates, newState] = solver.update(g, optState, params);
  const newParams = applyUpdates(params, updates);
  // The arrays of this step are done with: free them.
  disposeTree([g, updates, optState, params]);
  [optState, params] = [newState, newParams];
  console.log(`Objective function: ${formatE(f(params.ref).item())}`);
}
disposeTree([optState, params]);
