/**
 * Fusion tags: a transformation that the in-place {@link Optimizer} can fuse into one pass carries
 * a non-enumerable description of itself under {@link FUSION_TAG} (its kind and hyperparameters).
 * The optimizer recognises chains of tagged members (for example `radam(lr)` =
 * `chain(scaleByRadam(), scaleByLearningRate(lr))`) and runs them as one fused kernel; anything
 * else runs through the generic `bindInPlace` path. A tag never changes what `init`/`update` do.
 */
import type { Schedule } from '../schedule-types.js';

/** The property key of a transformation's fusion tag. */
export const FUSION_TAG: unique symbol = Symbol.for('optax-ts.fusion') as any;

/** What a tagged transformation is, with what the fused kernel needs of it. */
export type FusionTag =
  | {
      kind: 'scaleByRadam';
      /** Resolved hyperparameters (as `RadamHyperparams`). */
      hp: {
        b1: number;
        b2: number;
        eps: number;
        epsRoot: number;
        threshold: number;
        nesterov: boolean;
      };
    }
  | { kind: 'scale'; stepSize: number }
  | { kind: 'scaleBySchedule'; stepSizeFn: Schedule; name: string }
  | {
      kind: 'addDecayedWeights';
      /** A constant weight decay; the update becomes `u + weightDecay * p`. */
      weightDecay: number;
    }
  | { kind: 'chain'; members: readonly unknown[] };

/** Attaches `tag` to `tx` (non-enumerable, read-only) and returns `tx`. */
export function withFusionTag<T extends object>(tx: T, tag: FusionTag): T {
  Object.defineProperty(tx, FUSION_TAG, { value: tag, enumerable: false });
  return tx;
}

/** The fusion tag of `tx`, if it has one. */
export function fusionTag(tx: unknown): FusionTag | undefined {
  if (tx === null || typeof tx !== 'object') return undefined;
  return (tx as { [FUSION_TAG]?: FusionTag })[FUSION_TAG];
}
