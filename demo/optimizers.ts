/** The optimizers the demo compares, each built from optax-ts. */
import type { GradientTransformationExtraArgs } from '../src/index.js';
import { adam, radam, warmupConstantSchedule } from '../src/index.js';

/** The optimizer names accepted by `--optimizers`, in the order the report lists them. */
export const OPTIMIZER_NAMES = ['radam', 'adam', 'adam-warmup'] as const;

/** One of {@link OPTIMIZER_NAMES}. */
export type OptimizerName = (typeof OPTIMIZER_NAMES)[number];

/** Human-readable names for tables and legends. */
export const OPTIMIZER_LABELS: Readonly<Record<OptimizerName, string>> = {
  radam: 'RAdam',
  adam: 'Adam without warmup',
  'adam-warmup': 'Adam with linear warmup',
};

/**
 * Builds the optimizer `name` at learning rate `lr`: `radam(lr)`, `adam(lr)`, or Adam whose
 * learning rate rises linearly from 0 to `lr` over `warmupSteps` steps and then stays at `lr`.
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
      return radam(lr);
    case 'adam':
      return adam(lr);
    case 'adam-warmup':
      return adam(warmupConstantSchedule({ initValue: 0, peakValue: lr, warmupSteps }));
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
