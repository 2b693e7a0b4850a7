// Imports the built package through its own `exports` map (Node resolves a package's own name),
// runs optax's doc example and checks the printed values: proof that dist/ and the map work.
import { applyUpdates, radam } from 'optax-ts';

const solver = radam(0.003);
let params = new Float32Array([1, 2, 3]);
let state = solver.init(params);
const seen = [];
for (let i = 0; i < 5; i++) {
  const grads = params.map((x) => 2 * x);
  const [updates, next] = solver.update(grads, state, params);
  state = next;
  params = applyUpdates(params, updates);
  seen.push(params.reduce((s, x) => s + x * x, 0).toExponential(2));
}
const want = ['1.38e+1', '1.37e+1', '1.35e+1', '1.33e+1', '1.32e+1'];
if (seen.join() !== want.join()) {
  console.error(`dist smoke test: got ${seen.join(' ')}, want ${want.join(' ')}`);
  process.exit(1);
}
console.log(`dist smoke test: ok (${seen.join(' ')})`);
