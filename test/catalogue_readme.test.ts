/**
 * The README's optimizer catalogue table, checked against what each alias does: its optax-ts name
 * exists, the in-place `Optimizer` runs it as the table says (*fused*: a generated kernel engine;
 * *in place*: a hand-written step), and it runs on TF.js tensors and jax-js arrays exactly when
 * the table says so (and otherwise refuses them with an error naming the leaf type).
 */
import { readFileSync } from 'node:fs';
import { init, numpy as np } from '@jax-js/jax';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import * as optax from '../src/index.js';
import { tidyTransformation } from '../src/jax/index.js';
import '../src/tfjs/index.js';
import { useBackend } from './tfjs-helpers.js';

const section = readFileSync('README.md', 'utf8').split('### The optimizer catalogue')[1]!;
const rows = [...section.matchAll(/^\| `([\w.]+)` \| `(\w+)` \| ([\w ]+) \| (yes|no) \|$/gm)].map(
  ([, optaxName, name, mode, tensors]) => ({ optaxName, name: name!, mode, tensors }),
);

type Make = (lr: number) => optax.GradientTransformationExtraArgs;
const make = (name: string) => (optax as unknown as Record<string, Make>)[name]!;

/** Params with a matrix (8 x 8, shaped) and a vector, for every alias. */
function params() {
  return {
    w: Object.assign(new Float32Array(64).fill(0.5), { shape: [8, 8] }),
    b: new Float32Array(8).fill(0.1),
  };
}

beforeAll(async () => {
  await useBackend('cpu');
  await init('wasm');
});

describe("the README's catalogue table", () => {
  it('lists every alias of the catalogue', () => {
    expect(rows.length).toBeGreaterThanOrEqual(24);
    for (const r of rows) expect(typeof make(r.name), r.name).toBe('function');
  });

  it.each(rows)('$name runs in the Optimizer as the table says ($mode)', ({ name, mode }) => {
    const opt = new optax.Optimizer(make(name)(1e-3), params());
    opt.step(params(), { value: 1 });
    const kernel = opt.kernel;
    expect(
      kernel === 'wasm' || kernel === 'js' ? 'fused' : kernel === 'generic' ? 'in place' : kernel,
    ).toBe(mode);
  });

  it.each(rows)('$name: tensors "$tensors"', ({ name, tensors }) => {
    const run = () => {
      const tx = make(name)(1e-3);
      const p = { w: tf.ones([8, 8]), b: tf.ones([8]) };
      const g = { w: tf.ones([8, 8]), b: tf.ones([8]) };
      const [u, s] = tx.update(g, tx.init(p), p, { value: 1 });
      optax.disposeTree([p, g, u, s]);
      const tj = tidyTransformation(make(name)(1e-3));
      const pj = { w: np.ones([8, 8]), b: np.ones([8]) };
      const gj = { w: np.ones([8, 8]), b: np.ones([8]) };
      const [uj, sj] = tj.update(gj, tj.init(pj), pj, { value: 1 });
      optax.disposeTree([pj, gj, uj, sj]);
    };
    if (tensors === 'yes') expect(run).not.toThrow();
    else expect(run).toThrow(/tf\.Tensor|jax-js/);
  });
});
