/**
 * The matrix family on TF.js tensors: the per-leaf-norm aliases (`lamb`, `lars`, `fromage`) run
 * through `LeafOps` and agree with the typed-array path to float32 precision; the ones that need
 * typed arrays (`adafactor`, `muon`, `sm3`, `novograd`, `centralize`) refuse tensors with an error
 * naming the leaf type.
 */
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import * as optax from '../src/index.js';
import '../src/tfjs/index.js';
import { maxRelDiff, randomArray, useBackend } from './tfjs-helpers.js';

beforeAll(async () => {
  await useBackend('cpu');
});

describe('matrix family on TF.js tensors', () => {
  for (const [name, make] of [
    ['lamb', () => optax.lamb(0.01, { weightDecay: 0.01 })],
    ['lars', () => optax.lars(0.1, { weightDecay: 0.01 })],
    ['fromage', () => optax.fromage(0.01)],
  ] as const)
    it(`${name}: tensors agree with typed arrays to float32 precision`, () => {
      const w0 = randomArray(12, 1);
      const tx = make();
      let pT: any = { w: tf.tensor(w0, [3, 4]) };
      let pA: any = { w: Object.assign(Float32Array.from(w0), { shape: [3, 4] }) };
      let sT = tx.init(pT);
      let sA = tx.init(pA);
      for (let t = 0; t < 3; t++) {
        const g = randomArray(12, 10 + t);
        let uT: any;
        let uA: any;
        [uT, sT] = tx.update({ w: tf.tensor(g, [3, 4]) }, sT, pT);
        [uA, sA] = tx.update({ w: Float32Array.from(g) }, sA, pA);
        pT = optax.applyUpdates(pT, uT);
        pA = optax.applyUpdates(pA, uA);
      }
      expect(maxRelDiff(pT.w.dataSync(), pA.w)).toBeLessThan(1e-5);
    });

  it('the typed-array-only transformations refuse tensors, naming the leaf type', () => {
    const p = { w: tf.zeros([3, 4]) };
    expect(() => optax.scaleBySm3().init(p)).toThrow(
      'scaleBySm3.init: tf.Tensor leaves are not supported',
    );
    expect(() => optax.scaleByFactoredRms().init(p)).toThrow(
      'scaleByFactoredRms.init: tf.Tensor leaves are not supported',
    );
    const mu = optax.scaleByMuon();
    expect(() => mu.update(p, mu.init(p), p)).toThrow(
      'scaleByMuon.update: updates.w is a tf.Tensor',
    );
    const nv = optax.scaleByNovograd();
    expect(() => nv.init(p)).toThrow('scaleByNovograd.init: tf.Tensor leaves are not supported');
    expect(() => optax.centralize().update(p, {})).toThrow(
      'centralize.update: tf.Tensor leaves are not supported',
    );
  });
});
