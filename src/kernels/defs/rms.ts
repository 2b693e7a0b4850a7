/**
 * The per-element math of the adaptive-scaling family: `scaleByRss` (Adagrad), `scaleByRms` and
 * `scaleByStddev` (RMSprop), `scaleByAdadelta`, `ema`, `scaleByRprop` and
 * `scaleByOptimisticGradient`. optax's `jax.lax.rsqrt(x)` is written `1 / sqrt(x)` (two rounded
 * operations, as XLA computes it on CPU); `abs_sq(g)` of a real `g` is `g * g`.
 */
import {
  add,
  div,
  type Expr,
  eq,
  gt,
  lt,
  max,
  min,
  mul,
  ONE,
  select,
  sign,
  sqrt,
  sub,
  ZERO,
} from '../expr.js';
import type { StageDef } from '../stage.js';

/**
 * `scaleByRms` (`centered: false`) and `scaleByStddev` (`centered: true`): `nu = a g² + d nu`
 * (and `mu = a g + d mu`), with `a = 1 - decay`; with bias correction `nuHat = nu / bc` (and
 * `muHat = mu / bc`); the update is `scaling * g` where `scaling` is `1 / sqrt(nuHat + eps)`
 * (`epsInSqrt`) or `1 / (sqrt(nuHat) + eps)`, centered: `nuHat - muHat²` in place of `nuHat`.
 */
function rmsStage(centered: boolean, epsInSqrt: boolean, biasCorrection: boolean): StageDef {
  const scalars = ['a', 'd', 'eps'];
  if (biasCorrection) scalars.push('bc');
  return {
    arrays: centered ? ['mu', 'nu'] : ['nu'],
    scalars,
    math({ u: g, elem, scalar: s }) {
      const nu = add(mul(s('a'), mul(g, g)), mul(s('d'), elem('nu')));
      const set: Record<string, Expr> = { nu };
      let v = biasCorrection ? div(nu, s('bc')) : nu;
      if (centered) {
        const mu = add(mul(s('a'), g), mul(s('d'), elem('mu')));
        set.mu = mu;
        const m = biasCorrection ? div(mu, s('bc')) : mu;
        v = sub(v, mul(m, m));
      }
      const scaling = epsInSqrt
        ? div(ONE, sqrt(add(v, s('eps'))))
        : div(ONE, add(sqrt(v), s('eps')));
      return { u: mul(scaling, g), set };
    },
  };
}

/**
 * `ema`: `ema = a g + d ema` (`a = 1 - decay`); the update is `ema / bc` when debiased, else `ema`.
 */
function emaStage(debias: boolean): StageDef {
  return {
    arrays: ['ema'],
    scalars: debias ? ['a', 'd', 'bc'] : ['a', 'd'],
    math({ u: g, elem, scalar: s }) {
      const ema = add(mul(s('a'), g), mul(s('d'), elem('ema')));
      return { u: debias ? div(ema, s('bc')) : ema, set: { ema } };
    },
  };
}

/**
 * `scaleByRprop`: `s = g prev`; the step size is kept where `s == 0`, else multiplied by `etaPlus`
 * (`s > 0`) or `etaMinus` and clipped to `[minStep, maxStep]`; `prev` becomes 0 where `s < 0`,
 * else `step sign(g)`. The update is 0 where `s < 0`, else the OLD `prev` (`lagged`, optax's) or
 * the new one.
 */
function rpropStage(lagged: boolean): StageDef {
  return {
    arrays: ['stepSizes', 'prevUpdates'],
    scalars: ['etaMinus', 'etaPlus', 'minStepSize', 'maxStepSize'],
    math({ u: g, elem, scalar: x }) {
      const prev = elem('prevUpdates');
      const step = elem('stepSizes');
      const s = mul(g, prev);
      const grown = select(gt(s, ZERO), mul(step, x('etaPlus')), mul(step, x('etaMinus')));
      const clipped = min(max(grown, x('minStepSize')), x('maxStepSize'));
      const stepSizes = select(eq(s, ZERO), step, clipped);
      const prevUpdates = select(lt(s, ZERO), ZERO, mul(stepSizes, sign(g)));
      const u = lagged ? select(lt(s, ZERO), ZERO, prev) : prevUpdates;
      return { u, set: { stepSizes, prevUpdates } };
    },
  };
}

/** The family's stages, by name. */
export const RMS_STAGES = {
  /**
   * `scaleByRss` (Adagrad): `t = g g + t`; the update is `scaling * g` with
   * `scaling = t > 0 ? 1 / sqrt(t + eps) : 0`.
   */
  rss: {
    arrays: ['sumOfSquares'],
    scalars: ['eps'],
    math({ u: g, elem, scalar: s }) {
      const t = add(mul(g, g), elem('sumOfSquares'));
      const scaling = select(gt(t, ZERO), div(ONE, sqrt(add(t, s('eps')))), ZERO);
      return { u: mul(scaling, g), set: { sumOfSquares: t } };
    },
  },
  rms: rmsStage(false, true, false),
  rmsEpsOut: rmsStage(false, false, false),
  rmsBc: rmsStage(false, true, true),
  rmsBcEpsOut: rmsStage(false, false, true),
  stddev: rmsStage(true, true, false),
  stddevEpsOut: rmsStage(true, false, false),
  stddevBc: rmsStage(true, true, true),
  stddevBcEpsOut: rmsStage(true, false, true),
  /**
   * `scaleByAdadelta`: `eG = a g² + rho eG`; the update is `(sqrt(eX + eps) / sqrt(eG + eps)) g`
   * (with the old `eX`), then `eX = a u² + rho eX` (`a = 1 - rho`).
   */
  adadelta: {
    arrays: ['eG', 'eX'],
    scalars: ['a', 'rho', 'eps'],
    math({ u: g, elem, scalar: s }) {
      const eG = add(mul(s('a'), mul(g, g)), mul(s('rho'), elem('eG')));
      const u = mul(div(sqrt(add(elem('eX'), s('eps'))), sqrt(add(eG, s('eps')))), g);
      const eX = add(mul(s('a'), mul(u, u)), mul(s('rho'), elem('eX')));
      return { u, set: { eG, eX } };
    },
  },
  ema: emaStage(true),
  emaNoDebias: emaStage(false),
  rprop: rpropStage(true),
  rpropUnlagged: rpropStage(false),
} satisfies Record<string, StageDef>;
