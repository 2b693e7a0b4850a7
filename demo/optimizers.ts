/** The optimizers the demo compares, each built from optax-ts. */
import type { GradientTransformationExtraArgs } from '../src/index.js';
import * as optax from '../src/index.js';

/**
 * The rest of the catalogue, each alias at the run's learning rate with optax's defaults (the
 * first argument of `polyakSgd` is its maximal learning rate; it reads the loss each step). The
 * benchmark's catalogue rows use this list too.
 */
export const CATALOGUE = {
  adabelief: (lr: number) => optax.adabelief(lr),
  adafactor: (lr: number) => optax.adafactor(lr),
  adadelta: (lr: number) => optax.adadelta(lr),
  adagrad: (lr: number) => optax.adagrad(lr),
  adamax: (lr: number) => optax.adamax(lr),
  adamaxw: (lr: number) => optax.adamaxw(lr),
  adamw: (lr: number) => optax.adamw(lr),
  adan: (lr: number) => optax.adan(lr),
  amsgrad: (lr: number) => optax.amsgrad(lr),
  fromage: (lr: number) => optax.fromage(lr),
  lamb: (lr: number) => optax.lamb(lr),
  lars: (lr: number) => optax.lars(lr),
  lion: (lr: number) => optax.lion(lr),
  muon: (lr: number) => optax.muon(lr),
  nadam: (lr: number) => optax.nadam(lr),
  nadamw: (lr: number) => optax.nadamw(lr),
  noisySgd: (lr: number) => optax.noisySgd(lr),
  novograd: (lr: number) => optax.novograd(lr),
  optimisticAdamV2: (lr: number) => optax.optimisticAdamV2(lr),
  optimisticGradientDescent: (lr: number) => optax.optimisticGradientDescent(lr),
  polyakSgd: (lr: number) => optax.polyakSgd(lr),
  rmsprop: (lr: number) => optax.rmsprop(lr),
  rprop: (lr: number) => optax.rprop(lr),
  scheduleFreeAdamw: (lr: number) => optax.scheduleFreeAdamw(lr),
  sgd: (lr: number) => optax.sgd(lr),
  signSgd: (lr: number) => optax.signSgd(lr),
  signum: (lr: number) => optax.signum(lr),
  sm3: (lr: number) => optax.sm3(lr),
  yogi: (lr: number) => optax.yogi(lr),
} satisfies Record<string, (lr: number) => GradientTransformationExtraArgs>;

/** The optimizer names accepted by `--optimizers`, in the order the report lists them. */
export const OPTIMIZER_NAMES = [
  'radam',
  'adam',
  'adam-warmup',
  ...(Object.keys(CATALOGUE) as (keyof typeof CATALOGUE)[]),
] as const;

/** One of {@link OPTIMIZER_NAMES}. */
export type OptimizerName = (typeof OPTIMIZER_NAMES)[number];

/** Human-readable names for tables and legends (the catalogue's: their optax-ts names). */
export const OPTIMIZER_LABELS: Readonly<Record<OptimizerName, string>> = {
  radam: 'RAdam',
  adam: 'Adam without warmup',
  'adam-warmup': 'Adam with linear warmup',
  ...(Object.fromEntries(Object.keys(CATALOGUE).map((n) => [n, n])) as Record<
    keyof typeof CATALOGUE,
    string
  >),
};

/**
 * Builds the optimizer `name` at learning rate `lr`: `radam(lr)`, `adam(lr)`, Adam whose learning
 * rate rises linearly from 0 to `lr` over `warmupSteps` steps and then stays at `lr`, or any other
 * alias of the catalogue with optax's defaults.
 *
 * @example
 * ```ts
 * const tx = makeOptimizer('adam-warmup', 1e-2, 100); // adam(warmupConstantSchedule(...))
 * ```
 */
export function makeOptimizer(
  name: OptimizerName,
  lr: number,
  warmupSteps: number,
): GradientTransformationExtraArgs {
  switch (name) {
    case 'radam':
      return optax.radam(lr);
    case 'adam':
      return optax.adam(lr);
    case 'adam-warmup':
      return optax.adam(optax.warmupConstantSchedule({ initValue: 0, peakValue: lr, warmupSteps }));
    default:
      return CATALOGUE[name](lr);
  }
}

/**
 * Checks a `--optimizers` value: a comma-separated list of {@link OPTIMIZER_NAMES}.
 *
 * @example
 * ```ts
 * parseOptimizers('radam,adam'); // ['radam', 'adam']
 * ```
 */
export function parseOptimizers(value: string): OptimizerName[] {
  const names = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (names.length === 0)
    throw new RangeError(
      `--optimizers: expected a comma-separated list of ${OPTIMIZER_NAMES.join(', ')}, got "${value}"`,
    );
  for (const n of names)
    if (!(OPTIMIZER_NAMES as readonly string[]).includes(n))
      throw new RangeError(
        `--optimizers: unknown optimizer "${n}"; expected some of ${OPTIMIZER_NAMES.join(', ')}`,
      );
  if (new Set(names).size !== names.length)
    throw new RangeError(`--optimizers: "${value}" lists an optimizer twice`);
  return names as OptimizerName[];
}
