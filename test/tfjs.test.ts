/**
 * optax-ts/tfjs on tfjs-backend-cpu and tfjs-backend-wasm: tensor leaves in the functional API,
 * TransformationOptimizer / RAdamOptimizer with applyGradients, minimize, compile/fit, weights and
 * model save/load, and leaks.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { benchTfjs } from '../bench/tfjs.js';
import {
  adam,
  applyUpdates,
  chain,
  clipByGlobalNorm,
  identity,
  Optimizer,
  radam,
  scaleByLearningRate,
  trace,
  warmupConstantSchedule,
} from '../src/index.js';
import {
  disposeReplaced,
  RAdamOptimizer,
  registerTfjsOps,
  TransformationOptimizer,
  tfjsOps,
} from '../src/tfjs/index.js';
import { BACKENDS, maxRelDiff, randomArray, useBackend } from './tfjs-helpers.js';

/**
 * Agreement of the tensor path (float32 rounding after each TF.js op) with the core's Float32Array
 * path (one rounding per operation) over 15 steps: measured worst case 9.6e-7 relative (with a
 * 1e-3 floor), on cpu and wasm alike; it grows slowly with the number of steps (5.4e-6 after 100).
 */
const TENSOR_TOL = 5e-6;

/** A memory handler that keeps the artifacts, for model.save / tf.loadLayersModel. */
function memorySink(): { handler: tf.io.IOHandler; artifacts: () => tf.io.ModelArtifacts } {
  let saved: tf.io.ModelArtifacts | undefined;
  const handler = tf.io.withSaveHandler(async (a) => {
    saved = a;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  });
  return {
    handler,
    artifacts: () => {
      if (!saved) throw new Error('nothing saved');
      return saved;
    },
  };
}

/** Synthetic regression: y = tanh(x · a) + 0.5 x · b, 256 samples of 8 features. */
function regressionData(): { xs: tf.Tensor2D; ys: tf.Tensor2D } {
  const xs = tf.tensor2d(randomArray(256 * 8, 11), [256, 8]);
  const ys = tf.tidy(() => {
    const a = tf.tensor2d(randomArray(8, 12), [8, 1]);
    const b = tf.tensor2d(randomArray(8, 13), [8, 1]);
    return tf.add(tf.tanh(tf.matMul(xs, a)), tf.mul(tf.matMul(xs, b), 0.5)) as tf.Tensor2D;
  });
  return { xs, ys };
}

/** A 2-layer dense net with fixed initial weights (so every backend starts from the same point). */
function makeModel(): tfl.Sequential {
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({ units: 16, activation: 'tanh', inputShape: [8] }),
      tfl.layers.dense({ units: 1 }),
    ],
  });
  model.setWeights([
    tf.tensor2d(randomArray(8 * 16, 21, 0.5), [8, 16]),
    tf.zeros([16]),
    tf.tensor2d(randomArray(16, 22, 0.5), [16, 1]),
    tf.zeros([1]),
  ]);
  return model;
}

function weightsOf(model: tfl.LayersModel): Float32Array[] {
  return model.getWeights().map((w) => Float32Array.from(w.dataSync()));
}

describe.each(BACKENDS)('optax-ts/tfjs on %s', (backend) => {
  beforeAll(async () => {
    await useBackend(backend);
  });
  afterAll(() => {
    tf.disposeVariables();
  });

  it('tfjsOps computes in float32 tensors and registers', () => {
    registerTfjsOps(); // idempotent
    const x = tf.tensor([1, 2]);
    const y = tfjsOps.scale(x, 3);
    expect(y.dtype).toBe('float32');
    expect(Array.from(y.dataSync())).toEqual([3, 6]);
    const m = tf.tensor([0, 2]);
    const v = tf.tensor([0, 4]);
    const r = tfjsOps.adamRatio(m, v, 1, 1, 0, 0); // 0/0 gives 0, 2/sqrt(4) gives 1
    expect(Array.from(r.dataSync())).toEqual([0, 1]);
    // With eps (and with epsRoot) the zero momentum still gives exactly 0.
    const rEps = tfjsOps.adamRatio(m, v, 0.5, 0.25, 0, 1e-8).dataSync();
    expect(rEps[0]).toBe(0);
    expect(rEps[1]).toBeCloseTo((0.5 * 2) / (Math.sqrt(4 / 0.25) + 1e-8), 6);
    const rRoot = tfjsOps.adamRatio(m, v, 1, 1, 1e-4, 0).dataSync();
    expect(rRoot[0]).toBe(0);
    expect(rRoot[1]).toBeCloseTo(2 / Math.sqrt(4 + 1e-4), 6);
    const c = tfjsOps.clip(tf.tensor([-5, Number.NaN, 0.5, 9]), -1, 1);
    const cv = Array.from(c.dataSync());
    expect(cv[0]).toBe(-1);
    expect(cv[1]).toBeNaN();
    expect(cv.slice(2)).toEqual([0.5, 1]);
    expect(tfjsOps.sumOfSquares(tf.tensor([3, 4]))).toBe(25);
    expect(tfjsOps.allFinite(tf.tensor([1, Number.POSITIVE_INFINITY]))).toBe(false);
    tf.dispose([x, y, m, v, r, c]);
    // The registerTfjsOps example: transformations accept tensor leaves.
    const state = radam(1e-3).init({ w: tf.zeros([2, 2]) }) as [{ mu: { w: tf.Tensor } }];
    expect(state[0].mu.w.shape).toEqual([2, 2]);
    disposeReplaced(state);
  });

  it('radam on tensor trees matches the Float32Array path to float32 precision', () => {
    const w0 = randomArray(12, 1);
    const b0 = randomArray(3, 2);
    const gradOf = (w: ArrayLike<number>, step: number) =>
      Float32Array.from(w, (x, i) => 2 * x + Math.sin(i + step));
    for (const options of [{}, { nesterov: true }, { weightDecay: 1e-2 }]) {
      const tx = radam(0.05, options);
      let pArr: { b: Float32Array; w: Float32Array } = { b: b0.slice(), w: w0.slice() };
      let sArr = tx.init(pArr);
      let pT: Record<string, tf.Tensor> = { b: tf.tensor(b0), w: tf.tensor2d(w0, [3, 4]) };
      let sT = tx.init(pT);
      for (let step = 0; step < 12; step++) {
        const gArr = { b: gradOf(pArr.b, step), w: gradOf(pArr.w, step) };
        let u: unknown;
        [u, sArr] = tx.update(gArr, sArr, pArr);
        pArr = applyUpdates(pArr, u);
        const gT = { b: tf.tensor(gArr.b), w: tf.tensor2d(gArr.w, [3, 4]) };
        const [uT, nextT] = tx.update(gT, sT, pT);
        const newP = applyUpdates(pT, uT);
        disposeReplaced(sT, nextT);
        disposeReplaced(uT, nextT, newP);
        disposeReplaced(pT, newP);
        tf.dispose([gT.b, gT.w]);
        pT = newP;
        sT = nextT;
        expect(pT.w!.shape).toEqual([3, 4]);
        expect(maxRelDiff(pT.w!.dataSync(), pArr.w, 1e-3)).toBeLessThan(TENSOR_TOL);
        expect(maxRelDiff(pT.b!.dataSync(), pArr.b, 1e-3)).toBeLessThan(TENSOR_TOL);
      }
      disposeReplaced(sT);
      disposeReplaced(pT);
    }
  });

  it('leaks no tensor over 1,000 functional steps (radam with decay, trace chain, identity)', () => {
    const txs = [
      radam(1e-2, { weightDecay: 1e-3 }),
      chain(identity(), trace(0.9), scaleByLearningRate(1e-2)),
      chain(clipByGlobalNorm(1), adam(1e-2)),
    ];
    for (const tx of txs) {
      let params: Record<string, tf.Tensor> = { w: tf.ones([4, 4]), b: tf.zeros([4]) };
      let state = tx.init(params);
      const before = tf.memory().numTensors;
      for (let i = 0; i < 1000; i++) {
        const grads = tf.tidy(() => ({ w: tf.mul(params.w!, 2), b: tf.add(params.b!, 1) }));
        const [updates, next] = tx.update(grads, state, params);
        const newParams = applyUpdates(params, updates);
        disposeReplaced(state, next);
        disposeReplaced(updates, next, newParams);
        disposeReplaced(params, newParams);
        disposeReplaced(grads, next);
        params = newParams;
        state = next;
      }
      expect(tf.memory().numTensors).toBe(before);
      expect(tfjsOps.allFinite(params.w!)).toBe(true);
      disposeReplaced(state);
      disposeReplaced(params);
    }
  });

  it('applyGradients equals the core in-place Optimizer (bit for bit on cpu, float32 tolerance otherwise)', () => {
    for (const cpuInPlace of [true, false]) {
      const w0 = randomArray(6 * 5, 3);
      const b0 = randomArray(5, 4);
      const w = tf.variable(tf.tensor2d(w0, [6, 5]), true, `apply_w_${cpuInPlace}`);
      const b = tf.variable(tf.tensor1d(b0), true, `apply_b_${cpuInPlace}`);
      const opt = new RAdamOptimizer(0.03, { cpuInPlace });
      const params: Record<string, Float32Array> = { [w.name]: w0.slice(), [b.name]: b0.slice() };
      const core = new Optimizer(radam(0.03), params);
      for (let step = 0; step < 15; step++) {
        const gw = randomArray(30, 100 + step);
        const gb = randomArray(5, 200 + step);
        const gwT = tf.tensor2d(gw, [6, 5]);
        const gbT = tf.tensor1d(gb);
        // A list in another order than the map: state is keyed by name, not position.
        opt.applyGradients(
          step % 2 === 0
            ? { [w.name]: gwT, [b.name]: gbT }
            : [
                { name: b.name, tensor: gbT },
                { name: w.name, tensor: gwT },
              ],
        );
        core.step({ [w.name]: gw, [b.name]: gb });
        tf.dispose([gwT, gbT]);
      }
      // The cpu and wasm backends run the core's engine on the variables' storage.
      const exact = (backend === 'cpu' || backend === 'wasm') && cpuInPlace;
      expect(opt.ranInPlace).toBe(exact);
      expect(opt.kernel).toBe(exact ? 'fused' : 'tensor');
      if (exact) {
        expect(Array.from(w.dataSync())).toEqual(Array.from(params[w.name]!));
        expect(Array.from(b.dataSync())).toEqual(Array.from(params[b.name]!));
      } else {
        expect(maxRelDiff(w.dataSync(), params[w.name]!, 1e-3)).toBeLessThan(TENSOR_TOL);
        expect(maxRelDiff(b.dataSync(), params[b.name]!, 1e-3)).toBeLessThan(TENSOR_TOL);
      }
      expect(opt.iterations).toBe(15);
      opt.dispose();
      w.dispose();
      b.dispose();
    }
  });

  it('runs other fusable transformations with the fused kernels on cpu, equal to the core', () => {
    const w0 = randomArray(12, 8);
    const w = tf.variable(tf.tensor2d(w0, [3, 4]), true, 'generic_w');
    const alias = tf.variable(tf.tensor1d(randomArray(4, 9)), true, 'generic_alias');
    const aliasView = tf.clone(alias); // shares the data: that variable is stepped in a copy
    const make = () => chain(trace(0.9, { nesterov: true }), scaleByLearningRate(0.05));
    const opt = new TransformationOptimizer(make());
    const params: Record<string, Float32Array> = {
      [w.name]: w0.slice(),
      [alias.name]: Float32Array.from(alias.dataSync()),
    };
    const core = new Optimizer(make(), params);
    const alias0 = Array.from(aliasView.dataSync());
    for (let step = 0; step < 8; step++) {
      const g = { [w.name]: randomArray(12, 400 + step), [alias.name]: randomArray(4, 500 + step) };
      const gT = {
        [w.name]: tf.tensor2d(g[w.name]!, [3, 4]),
        [alias.name]: tf.tensor1d(g[alias.name]!),
      };
      opt.applyGradients(gT);
      core.step(g);
      tf.dispose(Object.values(gT));
    }
    const exact = backend === 'cpu' || backend === 'wasm';
    expect(opt.kernel).toBe(exact ? 'fused' : 'tensor');
    for (const v of [w, alias]) {
      if (exact) expect(Array.from(v.dataSync())).toEqual(Array.from(params[v.name]!));
      else expect(maxRelDiff(v.dataSync(), params[v.name]!, 1e-3)).toBeLessThan(TENSOR_TOL);
    }
    expect(Array.from(aliasView.dataSync())).toEqual(alias0);
    opt.dispose();
    aliasView.dispose();
    w.dispose();
    alias.dispose();
  });

  it('updates a variable whose data another tensor shares without touching that tensor', () => {
    const init = tf.tensor([1, 2, 3]);
    const v = tf.variable(init, true, 'shared_data_v'); // shares init's data
    const opt = new RAdamOptimizer(0.1);
    const g = tf.tensor([1, 1, 1]);
    opt.applyGradients({ [v.name]: g });
    expect(Array.from(init.dataSync())).toEqual([1, 2, 3]);
    expect(Array.from(v.dataSync()).map((x) => Math.round(x * 1e6) / 1e6)).toEqual([0.9, 1.9, 2.9]);
    tf.dispose([init, g]);
    v.dispose();
    opt.dispose();
  });

  it('minimize works and the optimizer leaks nothing over many steps', () => {
    const x = tf.variable(tf.tensor([3, -2, 1]), true, 'minimize_x');
    const opt = new TransformationOptimizer(radam(0.1));
    const f = () => tf.sum(tf.square(x)) as tf.Scalar;
    opt.minimize(f); // first step creates the state
    const before = tf.memory().numTensors;
    for (let i = 0; i < 300; i++) opt.minimize(f);
    expect(tf.memory().numTensors).toBe(before);
    const cost = opt.minimize(f, true)!;
    expect(cost.dataSync()[0]).toBeLessThan(0.05);
    cost.dispose();
    opt.dispose();
    x.dispose();
  });

  it('wraps any transformation: adam with a warmup schedule, clipped, in compile/fit', async () => {
    const { xs, ys } = regressionData();
    const model = makeModel();
    const lr = warmupConstantSchedule({ initValue: 0, peakValue: 2e-2, warmupSteps: 20 });
    const optimizer = new TransformationOptimizer(chain(clipByGlobalNorm(1), adam(lr)));
    model.compile({ optimizer, loss: 'meanSquaredError' });
    const h = await model.fit(xs, ys, { epochs: 15, batchSize: 32, shuffle: false, verbose: 0 });
    const losses = h.history.loss as number[];
    expect(losses.at(-1)!).toBeLessThan(0.2 * losses[0]!);
    await expect(model.save(memorySink().handler, { includeOptimizer: true })).rejects.toThrow(
      /getConfig: a wrapped transformation has no serializable config/,
    );
    model.dispose();
    optimizer.dispose();
    tf.dispose([xs, ys]);
  });

  it('RAdamOptimizer trains a 2-layer net through compile/fit to a target loss, without leaks', async () => {
    const { xs, ys } = regressionData();
    const model = makeModel();
    const optimizer = new RAdamOptimizer(1e-2);
    model.compile({ optimizer, loss: 'meanSquaredError' });
    await model.fit(xs, ys, { epochs: 1, batchSize: 32, shuffle: false, verbose: 0 });
    const before = tf.memory().numTensors;
    const h = await model.fit(xs, ys, { epochs: 40, batchSize: 32, shuffle: false, verbose: 0 });
    expect(tf.memory().numTensors).toBe(before);
    const losses = h.history.loss as number[];
    expect(losses.at(-1)!).toBeLessThan(0.02);
    expect(optimizer.ranInPlace).toBe(backend === 'cpu' || backend === 'wasm');
    model.dispose();
    optimizer.dispose();
    tf.dispose([xs, ys]);
  });

  it('save with includeOptimizer, load, and continue: identical to uninterrupted training', async () => {
    const { xs, ys } = regressionData();
    const train = (m: tfl.LayersModel, epochs: number) =>
      m.fit(xs, ys, { epochs, batchSize: 64, shuffle: false, verbose: 0 });

    const straight = makeModel();
    straight.compile({
      optimizer: new RAdamOptimizer(5e-3, { b2: 0.99 }),
      loss: 'meanSquaredError',
    });
    await train(straight, 6);

    const first = makeModel();
    first.compile({ optimizer: new RAdamOptimizer(5e-3, { b2: 0.99 }), loss: 'meanSquaredError' });
    await train(first, 3);
    const sink = memorySink();
    const before = tf.memory().numTensors;
    await first.save(sink.handler, { includeOptimizer: true });
    await first.save(memorySink().handler, { includeOptimizer: true }); // snapshots are reused
    expect(tf.memory().numTensors).toBeLessThanOrEqual(before + 16);
    const artifacts = sink.artifacts();
    expect(artifacts.trainingConfig?.optimizer_config).toEqual({
      class_name: 'RAdamOptimizer',
      config: {
        learningRate: 5e-3,
        b1: 0.9,
        b2: 0.99,
        eps: 1e-8,
        epsRoot: 0,
        threshold: 5,
        nesterov: false,
      },
    });
    const names = artifacts.weightSpecs!.filter((s) => s.group === 'optimizer').map((s) => s.name);
    expect(names.slice(0, 3)).toEqual(['iter', 'optax/variables', 'optax/state[0].count']);
    // One weight per state leaf, named by its path in the state tree keyed by variable name.
    expect(names).toContain(
      `optax/state[0].mu["${(first.trainableWeights[0]!.read() as tf.Variable).name}"]`,
    );
    expect(names.length).toBe(3 + 2 * 4);

    const loaded = await tfl.loadLayersModel(tf.io.fromMemory(artifacts));
    expect(loaded.optimizer).toBeInstanceOf(RAdamOptimizer);
    expect(loaded.optimizer.iterations).toBe(12);
    // Same process: tfjs-layers renamed the variables (suffix _1), so state is matched by position.
    await train(loaded, 3);
    const a = weightsOf(straight);
    const b = weightsOf(loaded);
    for (let i = 0; i < a.length; i++) expect(Array.from(b[i]!)).toEqual(Array.from(a[i]!));
    expect(loaded.optimizer.iterations).toBe(straight.optimizer.iterations);

    // Without the optimizer's state the continuation differs (RAdam restarts its warm-up).
    const fresh = makeModel();
    fresh.compile({ optimizer: new RAdamOptimizer(5e-3, { b2: 0.99 }), loss: 'meanSquaredError' });
    fresh.setWeights(first.getWeights());
    await train(fresh, 3);
    expect(Array.from(weightsOf(fresh)[0]!)).not.toEqual(Array.from(a[0]!));

    for (const m of [straight, first, loaded, fresh]) {
      m.optimizer.dispose();
      m.dispose();
    }
    tf.dispose([xs, ys]);
  });

  it('getWeights/setWeights round-trip the state into a new optimizer', async () => {
    const v = tf.variable(tf.tensor2d(randomArray(6, 5), [2, 3]), true, 'roundtrip_v');
    const v0 = Float32Array.from(v.dataSync());
    const grads = Array.from({ length: 10 }, (_, i) => tf.tensor2d(randomArray(6, 50 + i), [2, 3]));
    const a = new RAdamOptimizer(0.02);
    for (const g of grads.slice(0, 7)) a.applyGradients({ [v.name]: g });
    const mid = Float32Array.from(v.dataSync());
    const weights = await a.getWeights();
    expect(weights.map((w) => w.name)).toEqual([
      'iter',
      'optax/variables',
      'optax/state[0].count',
      'optax/state[0].mu.roundtrip_v',
      'optax/state[0].nu.roundtrip_v',
    ]);
    expect(Array.from(weights[1]!.tensor.dataSync() as unknown as string[])).toEqual([v.name]);
    expect(weights[2]!.tensor.dataSync()[0]).toBe(7);
    const b = new RAdamOptimizer(0.02);
    await b.setWeights(weights);
    expect(b.iterations).toBe(7);
    const pending = await b.getWeights(); // before any step: the pending weights
    expect(pending.map((w) => w.name)).toEqual(weights.map((w) => w.name));
    for (const g of grads.slice(7)) a.applyGradients({ [v.name]: g });
    const end = Float32Array.from(v.dataSync());
    v.assign(tf.tensor2d(mid, [2, 3]));
    for (const g of grads.slice(7)) b.applyGradients({ [v.name]: g });
    expect(Array.from(v.dataSync())).toEqual(Array.from(end));
    expect(Array.from(end)).not.toEqual(Array.from(v0));
    a.dispose();
    b.dispose();
    tf.dispose(grads);
    v.dispose();
  });

  it('rejects bad input with clear errors and leaves the variables untouched', async () => {
    const v = tf.variable(tf.tensor([1, 2]), true, 'errors_v');
    const u = tf.variable(tf.tensor([3]), true, 'errors_u');
    const opt = new RAdamOptimizer(0.1);
    const g2 = tf.tensor([1, 1]);
    const g1 = tf.tensor([1]);
    const g3 = tf.tensor([1, 1, 1]);
    expect(() => opt.applyGradients({ nope: g2 })).toThrow(/no variable named "nope"/);
    expect(() => opt.applyGradients({ [v.name]: g3 })).toThrow(
      /gradient of "errors_v" has shape \[3\], the variable has \[2\]/,
    );
    expect(() => opt.applyGradients({})).toThrow(/no gradients given/);
    opt.applyGradients({ [v.name]: g2 });
    expect(() => opt.applyGradients({ [v.name]: g2, [u.name]: g1 })).toThrow(
      /adds \[errors_u\].*one optimizer per group/,
    );
    expect(() => new TransformationOptimizer({} as never)).toThrow(/init and update/);
    expect(() => new RAdamOptimizer(0.1, { b1: 1 })).toThrow(/b1/);
    expect(() => new RAdamOptimizer(0.1, { cpuInPlace: 'yes' as never })).toThrow(/cpuInPlace/);
    await expect(opt.setWeights([{ name: 'iter', tensor: tf.scalar(1, 'int32') }])).rejects.toThrow(
      /no "optax\/variables" weight/,
    );
    expect(() => new RAdamOptimizer((n) => 0.1 / (n + 1)).getConfig()).toThrow(/schedule/);

    // A schedule that turns NaN throws before anything changes.
    const w = tf.variable(tf.tensor([1, 2]), true, 'errors_w');
    const bad = new TransformationOptimizer(radam((n) => (n < 2 ? 0.1 : Number.NaN)));
    bad.applyGradients({ [w.name]: g2 });
    bad.applyGradients({ [w.name]: g2 });
    const kept = Array.from(w.dataSync());
    const state = (await bad.getWeights()).map((x) => Array.from(x.tensor.dataSync() as never));
    expect(() => bad.applyGradients({ [w.name]: g2 })).toThrow(/learning-rate/);
    expect(Array.from(w.dataSync())).toEqual(kept);
    expect((await bad.getWeights()).map((x) => Array.from(x.tensor.dataSync() as never))).toEqual(
      state,
    );

    // Weights from another transformation do not fit.
    const other = new TransformationOptimizer(chain(trace(0.9), scaleByLearningRate(0.1)));
    await other.setWeights(await opt.getWeights());
    expect(() => other.applyGradients({ [v.name]: g2 })).toThrow(
      /no weight "optax\/state\[0\]\.trace/,
    );

    for (const o of [opt, bad, other]) o.dispose();
    tf.dispose([g1, g2, g3]);
    for (const x of [v, u, w]) x.dispose();
  });
});

describe('optax-ts/tfjs across backends and configs', () => {
  beforeAll(async () => {
    await useBackend('cpu');
  });
  afterAll(() => {
    tf.disposeVariables();
  });

  it('RAdamOptimizer config round-trips through fromConfig, with weightDecay and nesterov', () => {
    const a = new RAdamOptimizer(3e-3, { b1: 0.8, nesterov: true, weightDecay: 1e-4 });
    const config = a.getConfig();
    expect(config).toEqual({
      learningRate: 3e-3,
      b1: 0.8,
      b2: 0.999,
      eps: 1e-8,
      epsRoot: 0,
      threshold: 5,
      nesterov: true,
      weightDecay: 1e-4,
    });
    const b = RAdamOptimizer.fromConfig(RAdamOptimizer, { ...config, customObjects: {} });
    expect(b).toBeInstanceOf(RAdamOptimizer);
    expect(b.getConfig()).toEqual(config);
    expect(b.getClassName()).toBe('RAdamOptimizer');
    expect(() => RAdamOptimizer.fromConfig(RAdamOptimizer, { b1: 0.9 })).toThrow(/learningRate/);
    expect(() =>
      TransformationOptimizer.fromConfig(TransformationOptimizer, { learningRate: 1 }),
    ).toThrow(/arbitrary transformation/);
    expect(() =>
      new RAdamOptimizer(1e-3, { weightDecay: 1e-4, weightDecayMask: () => ({}) }).getConfig(),
    ).toThrow(/weightDecayMask/);
  });

  it('keeps its state when the backend changes mid-training (typed-array steps, tensor steps as the data moves)', async () => {
    const w0 = randomArray(20, 7);
    const w = tf.variable(tf.tensor2d(w0, [4, 5]), true, 'switch_w');
    const opt = new RAdamOptimizer(0.02);
    const params: Record<string, Float32Array> = { [w.name]: w0.slice() };
    const core = new Optimizer(radam(0.02), params);
    const order = ['cpu', 'cpu', 'cpu', 'wasm', 'wasm', 'wasm', 'cpu', 'cpu', 'wasm', 'cpu'];
    const ran: boolean[] = [];
    for (let step = 0; step < order.length; step++) {
      await useBackend(order[step]!);
      const g = randomArray(20, 300 + step);
      const gT = tf.tensor2d(g, [4, 5]);
      opt.applyGradients({ [w.name]: gT });
      core.step({ [w.name]: g });
      gT.dispose();
      // The engine runs when the data is in the current backend's store; a step after a switch
      // may use tensor ops (which move the data) instead.
      ran.push(opt.ranInPlace);
    }
    // Both kinds of steps ran, on both backends, with one state between them.
    for (const b of ['cpu', 'wasm']) {
      expect(ran.some((r, step) => r && order[step] === b)).toBe(true);
    }
    expect(ran).toContain(false);
    expect(maxRelDiff(w.dataSync(), params[w.name]!, 1e-3)).toBeLessThan(TENSOR_TOL);
    expect(opt.iterations).toBe(order.length);
    opt.dispose();
    w.dispose();
  });

  it('the core (outside the adapters and the demo) does not import TF.js', () => {
    const files = readdirSync('src', { recursive: true, encoding: 'utf8' }).filter(
      (f) => f.endsWith('.ts') && !/^(tfjs|jax|demo|node)[/\\]/.test(f),
    );
    expect(files.length).toBeGreaterThan(5);
    for (const f of files)
      expect(readFileSync(join('src', f), 'utf8'), f).not.toMatch(/from '@tensorflow\//);
  });

  it('benchTfjs times both optimizers (tiny size)', async () => {
    const r = await benchTfjs({ backend: 'cpu', params: 2000, steps: 5, warmup: 1 });
    expect(r.radamInPlace).toBe(true);
    expect(r.radamMs).toBeGreaterThan(0);
    expect(r.tfAdamMs).toBeGreaterThan(0);
    expect(r.speedup).toBeCloseTo(r.tfAdamMs / r.radamMs, 10);
  });
});
