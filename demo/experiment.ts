/**
 * The demo's experiment: every optimizer at every learning rate trains the same MLP from the same
 * initial weights on the same batches, and is scored on the same held-out digits.
 */
import { Optimizer, treeAllFinite } from '../src/index.js';
import { IMAGE_SIZE, loadDigits, type Split, splitDigits } from './data.js';
import {
  type BackendName,
  cloneMlp,
  evaluate,
  initMlp,
  lossAndGrads,
  type MlpParams,
  useBackend,
} from './mlp.js';
import { makeOptimizer, type OptimizerName } from './optimizers.js';
import { Rng } from './prng.js';

/** Everything that determines the experiment's numbers. */
export interface ExperimentConfig {
  optimizers: OptimizerName[];
  lrs: number[];
  epochs: number;
  batchSize: number;
  trainSize: number;
  testSize: number;
  hidden: number;
  seed: number;
  /** Steps of linear warmup for `adam-warmup`; `undefined` means one epoch. */
  warmupSteps: number | undefined;
  backend: BackendName;
}

/** One point of a loss curve: the mean mini-batch loss over the bin of steps ending at `step`. */
export interface CurvePoint {
  step: number;
  loss: number;
}

/** The outcome of one optimizer at one learning rate. */
export interface RunResult {
  optimizer: OptimizerName;
  lr: number;
  curve: CurvePoint[];
  /** Loss on the whole training set after training. */
  trainLoss: number;
  /** Loss and accuracy (fraction correct) on the held-out set after training. */
  testLoss: number;
  testAccuracy: number;
  /** The step whose loss or gradient was not finite (training stopped there), or null. */
  divergedAtStep: number | null;
  seconds: number;
}

/** Progress of the run in flight, reported every few steps. */
export interface Progress {
  run: number;
  runs: number;
  optimizer: OptimizerName;
  lr: number;
  step: number;
  totalSteps: number;
  loss: number;
}

/** The experiment's results and the quantities derived from its configuration. */
export interface ExperimentResult {
  config: ExperimentConfig;
  stepsPerEpoch: number;
  totalSteps: number;
  warmupSteps: number;
  digitsAvailable: number;
  runs: RunResult[];
  seconds: number;
}

/** Callbacks for {@link runExperiment}. */
export interface ExperimentHooks {
  onProgress?: (p: Progress) => void;
  onRunDone?: (r: RunResult, run: number, runs: number) => void;
}

/**
 * Runs every optimizer at every learning rate (optimizers in the outer loop) and returns the
 * loss curves and final scores. The same seed gives the same numbers.
 *
 * @example
 * ```ts
 * const result = await runExperiment({ ...DEFAULT_CONFIG, epochs: 1, lrs: [1e-2] });
 * result.runs[0].testAccuracy; // e.g. 0.9
 * ```
 */
export async function runExperiment(
  config: ExperimentConfig,
  hooks: ExperimentHooks = {},
): Promise<ExperimentResult> {
  const start = performance.now();
  await useBackend(config.backend);
  const all = loadDigits();
  const split = splitDigits(all, config);
  const stepsPerEpoch = Math.floor(config.trainSize / config.batchSize);
  if (stepsPerEpoch < 1)
    throw new RangeError(
      `--batch-size ${config.batchSize} is larger than --train-size ${config.trainSize}`,
    );
  const totalSteps = stepsPerEpoch * config.epochs;
  const warmupSteps = config.warmupSteps ?? stepsPerEpoch;
  const initial = initMlp(config.hidden, config.seed);
  const runs: RunResult[] = [];
  const count = config.optimizers.length * config.lrs.length;
  for (const optimizer of config.optimizers) {
    for (const lr of config.lrs) {
      const result = trainOne(config, split, initial, optimizer, lr, warmupSteps, (step, loss) =>
        hooks.onProgress?.({
          run: runs.length + 1,
          runs: count,
          optimizer,
          lr,
          step,
          totalSteps,
          loss,
        }),
      );
      runs.push(result);
      hooks.onRunDone?.(result, runs.length, count);
    }
  }
  return {
    config,
    stepsPerEpoch,
    totalSteps,
    warmupSteps,
    digitsAvailable: all.count,
    runs,
    seconds: (performance.now() - start) / 1000,
  };
}

function trainOne(
  config: ExperimentConfig,
  split: Split,
  initial: MlpParams,
  name: OptimizerName,
  lr: number,
  warmupSteps: number,
  progress: (step: number, loss: number) => void,
): RunResult {
  const t0 = performance.now();
  const params = cloneMlp(initial);
  const opt = new Optimizer(makeOptimizer(name, lr, warmupSteps), params);
  const { train } = split;
  const batch = config.batchSize;
  const stepsPerEpoch = Math.floor(train.count / batch);
  const images = new Float32Array(batch * IMAGE_SIZE);
  const labels = new Uint8Array(batch);
  const losses: number[] = [];
  const every = Math.max(1, Math.floor(stepsPerEpoch / 10));
  let step = 0;
  let divergedAtStep: number | null = null;
  training: for (let epoch = 0; epoch < config.epochs; epoch++) {
    // The batch order depends on the seed and the epoch only: every run sees the same batches.
    const order = new Rng(config.seed, 1000 + epoch).shuffle(
      Uint32Array.from({ length: train.count }, (_, i) => i),
    );
    for (let b = 0; b < stepsPerEpoch; b++) {
      for (let i = 0; i < batch; i++) {
        const row = order[b * batch + i]!;
        images.set(train.images.subarray(row * IMAGE_SIZE, (row + 1) * IMAGE_SIZE), i * IMAGE_SIZE);
        labels[i] = train.labels[row]!;
      }
      const { loss, grads } = lossAndGrads(params, images, labels);
      step++;
      if (!Number.isFinite(loss) || !treeAllFinite(grads)) {
        divergedAtStep = step;
        break training;
      }
      // The loss as an extra argument, for the optimizers that read it (polyakSgd).
      opt.step(grads, { value: loss });
      losses.push(loss);
      if (step % every === 0) progress(step, loss);
    }
  }
  const curve = binLosses(losses, Math.max(1, Math.round((stepsPerEpoch * config.epochs) / 60)));
  const trainScore = evaluate(params, train);
  const testScore = evaluate(params, split.test);
  return {
    optimizer: name,
    lr,
    curve,
    trainLoss: trainScore.loss,
    testLoss: testScore.loss,
    testAccuracy: testScore.accuracy,
    divergedAtStep,
    seconds: (performance.now() - t0) / 1000,
  };
}

/**
 * Averages per-step losses over consecutive bins of `width` steps, one point per bin at its last
 * step; a last bin shorter than half the width joins the one before it.
 */
export function binLosses(losses: readonly number[], width: number): CurvePoint[] {
  const curve: CurvePoint[] = [];
  let start = 0;
  while (start < losses.length) {
    let end = Math.min(losses.length, start + width);
    if (losses.length - end < width / 2) end = losses.length;
    let sum = 0;
    for (let i = start; i < end; i++) sum += losses[i]!;
    curve.push({ step: end, loss: sum / (end - start) });
    start = end;
  }
  return curve;
}
