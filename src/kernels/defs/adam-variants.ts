/**
 * The per-element math of Adam's variants (AdaBelief, Adamax, AMSGrad, Yogi, Adan) and of the
 * optimistic gradient, each in optax's operation order. `a1 = 1 - b1` (and so on) and the bias
 * corrections `bc1 = 1 - b1^t`, ... are per-step scalars computed in float64 by the
 * transformation. No stage guards a division: where optax computes 0/0 = NaN, so do they.
 */
import { abs, add, div, type Expr, max, mul, sign, sqrt, sub, ZERO } from '../expr.js';
import type { StageDef, StageInputs } from '../stage.js';

/**
 * The bias-corrected first moment: `m / bc1`, or with Nesterov momentum
 * `b1 (m / bc1Next) + a1 (g / bc1)` (as `scaleByAdam`'s).
 */
function firstMoment(nesterov: boolean, m: Expr, g: Expr, s: StageInputs['scalar']): Expr {
  return nesterov
    ? add(mul(s('b1'), div(m, s('bc1Next'))), mul(s('a1'), div(g, s('bc1'))))
    : div(m, s('bc1'));
}

/**
 * `scaleByBelief`: `m = a1 g + b1 mu`; `nu = (a2 (e e) + b2 nu) + epsRoot` with the prediction
 * error `e = g - m` (the state keeps `epsRoot` in `nu`, as optax's); the update is
 * `mHat / (sqrt(nu / bc2) + eps)`.
 */
function beliefStage(nesterov: boolean): StageDef {
  const scalars = ['a1', 'b1', 'a2', 'b2', 'bc1', 'bc2', 'epsRoot', 'eps'];
  if (nesterov) scalars.push('bc1Next');
  return {
    arrays: ['mu', 'nu'],
    scalars,
    math({ u: g, elem, scalar: s }) {
      const m = add(mul(s('a1'), g), mul(s('b1'), elem('mu')));
      const e = sub(g, m);
      const v = add(add(mul(s('a2'), mul(e, e)), mul(s('b2'), elem('nu'))), s('epsRoot'));
      const mHat = firstMoment(nesterov, m, g, s);
      return { u: div(mHat, add(sqrt(div(v, s('bc2'))), s('eps'))), set: { mu: m, nu: v } };
    },
  };
}

/**
 * Adan's step, with the gradient difference `d` (`g - gPrev`, or 0 on the first step):
 * `m = a1 g + b1 m`, `v = a2 d + b2 v`, `q = g + a2 d`, `n = a3 (q q) + b3 n`; the update is
 * `(m / bc1 + a2 (v / bc2)) / (sqrt(n / bc3 + epsRoot) + eps)`, and `g` is kept for the next step.
 */
function adanStage(first: boolean): StageDef {
  return {
    arrays: ['m', 'v', 'n', 'g'],
    scalars: ['a1', 'b1', 'a2', 'b2', 'a3', 'b3', 'bc1', 'bc2', 'bc3', 'epsRoot', 'eps'],
    math({ u: g, elem, scalar: s }) {
      const d = first ? ZERO : sub(g, elem('g'));
      const m = add(mul(s('a1'), g), mul(s('b1'), elem('m')));
      const v = add(mul(s('a2'), d), mul(s('b2'), elem('v')));
      const q = add(g, mul(s('a2'), d));
      const n = add(mul(s('a3'), mul(q, q)), mul(s('b3'), elem('n')));
      const num = add(div(m, s('bc1')), mul(s('a2'), div(v, s('bc2'))));
      const den = add(sqrt(add(div(n, s('bc3')), s('epsRoot'))), s('eps'));
      return { u: div(num, den), set: { m, v, n, g } };
    },
  };
}

/**
 * `scaleByOptimisticGradient`: `(alpha + beta) u - beta prev`, where `prev` is the previous
 * update, or on the first step the current one; the update is kept as the next `prev`.
 */
function optimisticStage(first: boolean): StageDef {
  return {
    arrays: ['previousGradient'],
    scalars: ['alphaPlusBeta', 'beta'],
    math({ u, elem, scalar: s }) {
      const prev = first ? u : elem('previousGradient');
      return {
        u: sub(mul(s('alphaPlusBeta'), u), mul(s('beta'), prev)),
        set: { previousGradient: u },
      };
    },
  };
}

/** The stages of Adam's variants, by name. */
export const ADAM_VARIANT_STAGES = {
  belief: beliefStage(false),
  beliefNesterov: beliefStage(true),
  /**
   * `scaleByAdamax`: `m = a1 g + b1 mu`, `nu = max(|g| + eps, b2 nu)`; the update is
   * `(m / bc1) / nu`.
   */
  adamax: {
    arrays: ['mu', 'nu'],
    scalars: ['a1', 'b1', 'b2', 'bc1', 'eps'],
    math({ u: g, elem, scalar: s }) {
      const m = add(mul(s('a1'), g), mul(s('b1'), elem('mu')));
      const v = max(add(abs(g), s('eps')), mul(s('b2'), elem('nu')));
      return { u: div(div(m, s('bc1')), v), set: { mu: m, nu: v } };
    },
  },
  /**
   * `scaleByAmsgrad`: Adam's moments, `nuMax = max(nuMax, nu / bc2)`; the update is
   * `(m / bc1) / (sqrt(nuMax + epsRoot) + eps)` (`bc1`, `bc2` are 1 when a correction is off:
   * dividing by 1 is exact).
   */
  amsgrad: {
    arrays: ['mu', 'nu', 'nuMax'],
    scalars: ['a1', 'b1', 'a2', 'b2', 'bc1', 'bc2', 'epsRoot', 'eps'],
    math({ u: g, elem, scalar: s }) {
      const m = add(mul(s('a1'), g), mul(s('b1'), elem('mu')));
      const v = add(mul(s('a2'), mul(g, g)), mul(s('b2'), elem('nu')));
      const vMax = max(elem('nuMax'), div(v, s('bc2')));
      const step = div(div(m, s('bc1')), add(sqrt(add(vMax, s('epsRoot'))), s('eps')));
      return { u: step, set: { mu: m, nu: v, nuMax: vMax } };
    },
  },
  /**
   * `scaleByYogi`: `m = a1 g + b1 mu`, `nu = nu - (a2 sign(nu - g g)) (g g)`; the update is
   * `(m / bc1) / (sqrt(nu / bc2 + epsRoot) + eps)`.
   */
  yogi: {
    arrays: ['mu', 'nu'],
    scalars: ['a1', 'b1', 'a2', 'bc1', 'bc2', 'epsRoot', 'eps'],
    math({ u: g, elem, scalar: s }) {
      const m = add(mul(s('a1'), g), mul(s('b1'), elem('mu')));
      const g2 = mul(g, g);
      const nu = elem('nu');
      const v = sub(nu, mul(mul(s('a2'), sign(sub(nu, g2))), g2));
      const step = div(div(m, s('bc1')), add(sqrt(add(div(v, s('bc2')), s('epsRoot'))), s('eps')));
      return { u: step, set: { mu: m, nu: v } };
    },
  },
  /** Adan's first step: no previous gradient, the difference is 0. */
  adanFirst: adanStage(true),
  adan: adanStage(false),
  /** The optimistic gradient's first step: the previous update is the current one. */
  optimisticFirst: optimisticStage(true),
  optimistic: optimisticStage(false),
} satisfies Record<string, StageDef>;
