/**
 * The command line of the demo (`npm start`): parses the flags, runs the
 * experiment with progress on stderr, prints the results and writes the report.
 */
import { isAbsolute, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { ExperimentConfig, Progress, RunResult } from './experiment.js';
import { OPTIMIZER_LABELS, OPTIMIZER_NAMES, parseOptimizers } from './optimizers.js';
import { formatLr } from './report.js';

/** The defaults: 15 runs that finish in about two minutes on two cores. */
export const DEFAULTS = {
  optimizers: 'radam,adam,adam-warmup',
  lrs: '0.1,0.03,0.01,0.003,0.001',
  epochs: 5,
  batchSize: 64,
  trainSize: 8000,
  testSize: 2000,
  hidden: 128,
  seed: 0,
  out: 'out',
  backend: 'wasm',
} as const;

/** The `--help` text. */
export const HELP = `optax-ts demo: RAdam vs Adam, with and without warmup, on handwritten digits

Trains a small MLP (784-${DEFAULTS.hidden}-10) on the digits bundled with the mnist package, with
gradients from TF.js and updates from optax-ts, once per optimizer and learning rate, all from
the same initial weights and batches. Prints a results table and writes a Markdown report with
SVG plots (loss curves; held-out accuracy against learning rate).

Usage: npm start -- [options]     (or: npx tsx demo/cli.ts [options])

Options:
  --optimizers <list>   comma-separated, from ${OPTIMIZER_NAMES.join(', ')}
                        (default ${DEFAULTS.optimizers})
  --lrs <list>          learning rates, comma-separated (default ${DEFAULTS.lrs})
  --epochs <n>          passes over the training set (default ${DEFAULTS.epochs})
  --batch-size <n>      examples per step (default ${DEFAULTS.batchSize})
  --train-size <n>      training digits (default ${DEFAULTS.trainSize})
  --test-size <n>       held-out digits (default ${DEFAULTS.testSize}); train + test <= 10000
  --hidden <n>          hidden units (default ${DEFAULTS.hidden})
  --warmup-steps <n>    linear warmup length for adam-warmup (default: one epoch)
  --seed <n>            seed for the split, the initial weights and the batch order (default ${DEFAULTS.seed})
  --out <dir>           output folder for report.md and the SVG plots (default ${DEFAULTS.out})
  --backend <name>      TF.js backend: wasm (faster) or cpu (default ${DEFAULTS.backend})
  --quiet               no progress output
  -h, --help            show this help

Optimizers: radam = radam(lr); adam = adam(lr); adam-warmup = Adam whose learning rate rises
linearly from 0 to lr over the warmup steps, then stays at lr.
`;

/** A command-line mistake: reported with the usage hint and exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

function positiveInt(flag: string, value: string): number {
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n) || n <= 0)
    throw new UsageError(`--${flag} must be a positive integer, got "${value}"`);
  return n;
}

function nonNegativeInt(flag: string, value: string): number {
  const n = Number(value);
  if (!/^\s*\d+\s*$/.test(value) || !Number.isSafeInteger(n))
    throw new UsageError(`--${flag} must be a non-negative integer, got "${value}"`);
  return n;
}

function learningRates(value: string): number[] {
  const parts = value.split(',').map((s) => s.trim());
  const lrs = parts.map((s) => {
    const x = Number(s);
    if (s === '' || !Number.isFinite(x) || x <= 0)
      throw new UsageError(
        `--lrs must be a comma-separated list of positive numbers, got "${s}" in "${value}"`,
      );
    return x;
  });
  if (new Set(lrs).size !== lrs.length)
    throw new UsageError(`--lrs "${value}" lists a learning rate twice`);
  return lrs;
}

/** What the command line asks for. */
export interface CliOptions {
  help: boolean;
  quiet: boolean;
  out: string;
  config: ExperimentConfig;
}

/**
 * Parses the demo's flags (see {@link HELP}); throws a {@link UsageError} naming the flag and
 * the value on bad input.
 *
 * @example
 * ```ts
 * parseCli(['--epochs', '2', '--lrs', '0.01,0.001']).config.lrs; // [0.01, 0.001]
 * ```
 */
export function parseCli(argv: string[]): CliOptions {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        optimizers: { type: 'string', default: DEFAULTS.optimizers },
        lrs: { type: 'string', default: DEFAULTS.lrs },
        epochs: { type: 'string', default: String(DEFAULTS.epochs) },
        'batch-size': { type: 'string', default: String(DEFAULTS.batchSize) },
        'train-size': { type: 'string', default: String(DEFAULTS.trainSize) },
        'test-size': { type: 'string', default: String(DEFAULTS.testSize) },
        hidden: { type: 'string', default: String(DEFAULTS.hidden) },
        'warmup-steps': { type: 'string' },
        seed: { type: 'string', default: String(DEFAULTS.seed) },
        out: { type: 'string', default: DEFAULTS.out },
        backend: { type: 'string', default: DEFAULTS.backend },
        quiet: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const str = (k: string): string => values[k] as string;
  const backend = str('backend');
  if (backend !== 'wasm' && backend !== 'cpu')
    throw new UsageError(`--backend must be wasm or cpu, got "${backend}"`);
  let optimizers: ExperimentConfig['optimizers'];
  try {
    optimizers = parseOptimizers(str('optimizers'));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const warmup = values['warmup-steps'] as string | undefined;
  const config: ExperimentConfig = {
    optimizers,
    lrs: learningRates(str('lrs')),
    epochs: positiveInt('epochs', str('epochs')),
    batchSize: positiveInt('batch-size', str('batch-size')),
    trainSize: positiveInt('train-size', str('train-size')),
    testSize: positiveInt('test-size', str('test-size')),
    hidden: positiveInt('hidden', str('hidden')),
    warmupSteps: warmup === undefined ? undefined : nonNegativeInt('warmup-steps', warmup),
    seed: nonNegativeInt('seed', str('seed')),
    backend,
  };
  if (config.seed > 0xffffffff)
    throw new UsageError(`--seed must be at most 4294967295, got ${config.seed}`);
  if (config.batchSize > config.trainSize)
    throw new UsageError(
      `--batch-size ${config.batchSize} is larger than --train-size ${config.trainSize}`,
    );
  return {
    help: values.help === true,
    quiet: values.quiet === true,
    out: str('out'),
    config,
  };
}

function bar(fraction: number, width = 24): string {
  const done = Math.round(fraction * width);
  return `${'#'.repeat(done)}${'.'.repeat(width - done)}`;
}

function runLabel(run: number, runs: number, optimizer: RunResult['optimizer'], lr: number) {
  const w = String(runs).length;
  return `[${String(run).padStart(w)}/${runs}] ${OPTIMIZER_LABELS[optimizer].padEnd(23)} lr ${formatLr(lr).padEnd(6)}`;
}

/**
 * Runs the demo with the given arguments and returns the exit code (0, or 2 for a usage error).
 *
 * @example
 * ```ts
 * process.exitCode = await main(process.argv.slice(2));
 * ```
 */
export async function main(argv: string[]): Promise<number> {
  let options: CliOptions;
  try {
    options = parseCli(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`optax-ts demo: ${e.message}\nRun npm start -- --help for usage.\n`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(HELP);
    return 0;
  }
  // Loaded here so that --help and usage errors answer at once.
  const { runExperiment } = await import('./experiment.js');
  const { formatTable, observations, writeReport } = await import('./report.js');
  const err = process.stderr;
  const live = !options.quiet && err.isTTY === true;
  const { config } = options;
  if (!options.quiet)
    err.write(
      `Training a ${784}-${config.hidden}-10 MLP on ${config.trainSize} mnist digits (${config.testSize} held out), ${config.epochs} epoch${config.epochs === 1 ? '' : 's'}, batch ${config.batchSize}, seed ${config.seed}, ${config.optimizers.length * config.lrs.length} run${config.optimizers.length * config.lrs.length === 1 ? '' : 's'}:\n`,
    );
  const onProgress = (p: Progress): void => {
    if (!live) return;
    err.write(
      `\r${runLabel(p.run, p.runs, p.optimizer, p.lr)} [${bar(p.step / p.totalSteps)}] step ${p.step}/${p.totalSteps} loss ${p.loss.toFixed(4)}\x1b[K`,
    );
  };
  const onRunDone = (r: RunResult, run: number, runs: number): void => {
    if (options.quiet) return;
    const note = r.divergedAtStep === null ? '' : `  diverged at step ${r.divergedAtStep}`;
    err.write(
      `${live ? '\r' : ''}${runLabel(run, runs, r.optimizer, r.lr)} train loss ${r.trainLoss.toFixed(4)}  held-out accuracy ${(100 * r.testAccuracy).toFixed(2)}%  (${r.seconds.toFixed(1)} s)${note}${live ? '\x1b[K' : ''}\n`,
    );
  };
  let result: Awaited<ReturnType<typeof runExperiment>>;
  try {
    result = await runExperiment(config, { onProgress, onRunDone });
  } catch (e) {
    // Settings that only the data can rule out (e.g. more digits than the package has).
    if (!(e instanceof RangeError)) throw e;
    process.stderr.write(`optax-ts demo: ${e.message}\nRun npm start -- --help for usage.\n`);
    return 2;
  }
  const files = await writeReport(result, options.out);
  const out = process.stdout;
  out.write(`\n${formatTable(result)}\n\n`);
  for (const line of observations(result)) out.write(`- ${line}\n`);
  const show = (p: string): string => {
    const rel = relative(process.cwd(), p);
    return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? resolve(p) : rel;
  };
  out.write(
    `\nReport: ${show(files.report)} (plots: ${show(files.lossPlot)}, ${show(files.accuracyPlot)}); ${result.seconds.toFixed(0)} s in all.\n`,
  );
  return 0;
}
