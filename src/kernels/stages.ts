/**
 * The per-element math of every fusable transformation, written once in the expression form of
 * `expr.ts`. A *stage* maps the incoming update `u` (and the parameter `p`, and its own state
 * arrays, which it updates in place) to the outgoing update; a fused step is a chain of stages
 * that starts with {@link STAGES.load} (`u = g`) and ends with {@link STAGES.apply} (`p = p + u`,
 * in place) or {@link STAGES.emit} (the update written out, on the functional path).
 *
 * Each stage makes the typed-array `LeafOps` operations of its transformation in their order, so
 * the generated kernels give the functional path's bits. The per-step scalars (bias corrections,
 * the learning rate, ...) are computed by the transformation and passed in, in the order of
 * `scalars`.
 *
 * Adding a fused transformation means adding its stage here, tagging the transformation with its
 * name and scalars (`base.ts`'s fusion protocol), and rebuilding (`npm run build:kernels`).
 */

import { ALIAS_STAGES, CATALOGUE_STAGES } from './defs/index.js';
import { add, div, eq, gt, lt, mul, select, sqrt, ZERO } from './expr.js';
import type { StageDef } from './stage.js';

export type { StageDef, StageInputs, StageOutputs } from './stage.js';

/**
 * Adam's moments and step, as `scaleByAdam`/`scaleByRadam` make them (`radam.ts`'s leaf):
 * `m = a1 g + b1 m`, `v = a2 (g g) + b2 v` (`a1 = 1 - b1`, `a2 = 1 - b2`); the bias-corrected
 * momentum `mHat = m / bc1`, or with Nesterov `b1 (m / bc1Next) + a1 (g / bc1)`; then with `ratio`
 * the step `r mHat / (sqrt(v / bc2 + epsRoot) + eps)` (`mHat` itself where it is zero, so that 0/0
 * gives 0), and without (RAdam's unrectified steps) `mHat`.
 */
function adamStage(nesterov: boolean, ratio: boolean): StageDef {
  const scalars = ['a1', 'b1', 'a2', 'b2', 'bc1', 'bc2', 'r', 'epsRoot', 'eps'];
  if (nesterov) scalars.push('bc1Next');
  return {
    arrays: ['mu', 'nu'],
    scalars,
    math({ u: g, elem, scalar: s }) {
      const m = add(mul(s('a1'), g), mul(s('b1'), elem('mu')));
      const v = add(mul(s('a2'), mul(g, g)), mul(s('b2'), elem('nu')));
      const mHat = nesterov
        ? add(mul(s('b1'), div(m, s('bc1Next'))), mul(s('a1'), div(g, s('bc1'))))
        : div(m, s('bc1'));
      const step = ratio
        ? select(
            eq(mHat, ZERO),
            mHat,
            div(mul(s('r'), mHat), add(sqrt(add(div(v, s('bc2')), s('epsRoot'))), s('eps'))),
          )
        : mHat;
      return { u: step, set: { mu: m, nu: v } };
    },
  };
}

/**
 * `trace` (momentum): `t = u + decay t`, and the update is `t`, or with Nesterov `u + decay t`.
 * (`LeafOps.linearCombination(1, u, decay, t)`: `1 u` is `u` exactly.)
 */
function traceStage(nesterov: boolean): StageDef {
  return {
    arrays: ['trace'],
    scalars: ['decay'],
    math({ u, elem, scalar }) {
      const t = add(u, mul(scalar('decay'), elem('trace')));
      return { u: nesterov ? add(u, mul(scalar('decay'), t)) : t, set: { trace: t } };
    },
  };
}

/** Every stage, by the name the kernels are generated and looked up under. */
export const STAGES = {
  /** Starts a chain: the update is the gradient. */
  load: { arrays: ['g'], scalars: [], math: ({ elem }) => ({ u: elem('g') }) },
  /** Ends a chain: `p = p + u` (`applyUpdates`). */
  apply: { arrays: [], scalars: [], readsParams: true, math: ({ u, p }) => ({ p: add(p, u) }) },
  /** Ends a chain on the functional path: the update is written to `out`. */
  emit: { arrays: ['out'], scalars: [], math: ({ u }) => ({ set: { out: u } }) },
  adam: adamStage(false, true),
  adamNesterov: adamStage(true, true),
  /** RAdam's unrectified steps: the bias-corrected momentum. */
  adamMomentum: adamStage(false, false),
  adamMomentumNesterov: adamStage(true, false),
  trace: traceStage(false),
  traceNesterov: traceStage(true),
  /** `scale`, `scaleByLearningRate`, `scaleBySchedule`: `u s`. */
  scale: { arrays: [], scalars: ['s'], math: ({ u, scalar }) => ({ u: mul(u, scalar('s')) }) },
  /** `addDecayedWeights`: `u + wd p` (`linearCombination(1, u, wd, p)`; `1 u` is exact). */
  decay: {
    arrays: [],
    scalars: ['wd'],
    readsParams: true,
    math: ({ u, p, scalar }) => ({ u: add(u, mul(scalar('wd'), p)) }),
  },
  /** `clip`: `u < lo ? lo : u > hi ? hi : u` (NaN stays NaN, as `LeafOps.clip`). */
  clip: {
    arrays: [],
    scalars: ['lo', 'hi'],
    math: ({ u, scalar }) => ({
      u: select(lt(u, scalar('lo')), scalar('lo'), select(gt(u, scalar('hi')), scalar('hi'), u)),
    }),
  },
  ...CATALOGUE_STAGES,
} satisfies Record<string, StageDef>;

/** A stage's name. */
export type StageName = keyof typeof STAGES;

/**
 * The chains that are generated as one fused kernel each (the aliases' chains). Any other chain of
 * stages runs as a sequence of single-stage kernels over cache-sized blocks, with the same bits.
 */
export const FUSED_CHAINS: readonly (readonly StageName[])[] = [
  ['load', 'adam', 'scale', 'apply'],
  ['load', 'adamNesterov', 'scale', 'apply'],
  ['load', 'adamMomentum', 'scale', 'apply'],
  ['load', 'adamMomentumNesterov', 'scale', 'apply'],
  ['load', 'adam', 'decay', 'scale', 'apply'],
  ['load', 'adamNesterov', 'decay', 'scale', 'apply'],
  ['load', 'adamMomentum', 'decay', 'scale', 'apply'],
  ['load', 'adamMomentumNesterov', 'decay', 'scale', 'apply'],
  ['load', 'trace', 'scale', 'apply'],
  ['load', 'traceNesterov', 'scale', 'apply'],
  ['load', 'scale', 'apply'],
  // The functional path's chains (the update written out, the params left alone).
  ['load', 'adam', 'scale', 'emit'],
  ['load', 'adamNesterov', 'scale', 'emit'],
  ['load', 'adamMomentum', 'scale', 'emit'],
  ['load', 'adamMomentumNesterov', 'scale', 'emit'],
  ['load', 'adam', 'decay', 'scale', 'emit'],
  ['load', 'adamMomentum', 'decay', 'scale', 'emit'],
  ['load', 'trace', 'scale', 'emit'],
  ['load', 'apply'],
  // The catalogue's aliases, in place (their functional chains run stage by stage, same bits).
  ...ALIAS_STAGES.flatMap(({ stage, decay }): StageName[][] => [
    ['load', stage, 'scale', 'apply'],
    ...(decay ? [['load', stage, 'decay', 'scale', 'apply'] as StageName[]] : []),
  ]),
];

/** The kernel name of a chain of stages (`load+adam+scale+apply`). */
export function chainName(stages: readonly StageName[]): string {
  return stages.join('+');
}

/** A chain's arrays (its stages', in order, with duplicates kept apart) and scalars. */
export interface ChainLayout {
  /** `[stage index, array name]` per kernel array argument. */
  readonly arrays: readonly (readonly [number, string])[];
  /** `[stage index, scalar name]` per scalar slot. */
  readonly scalars: readonly (readonly [number, string])[];
}

/** The kernel arguments of a chain: every stage's arrays, then every stage's scalars, in order. */
export function chainLayout(stages: readonly StageName[]): ChainLayout {
  const arrays: [number, string][] = [];
  const scalars: [number, string][] = [];
  stages.forEach((name, i) => {
    for (const a of STAGES[name].arrays) arrays.push([i, a]);
    for (const s of STAGES[name].scalars) scalars.push([i, s]);
  });
  return { arrays, scalars };
}

/** The most state arrays a kernel takes. */
export const MAX_KERNEL_ARRAYS = 6;
