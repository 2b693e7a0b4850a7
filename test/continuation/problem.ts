/**
 * The RAdam run shared by scripts/continuation_checkpoint.ts (which writes the checkpoint the
 * torch continuation starts from) and test/torch_continuation.test.ts: float64 params in a small
 * tree, the quadratic loss 0.5 * sum(a * (p - c)^2) of scripts/golden_torch.py (gradient
 * a * (p - c), subtract then multiply), optax's radam with eps = 0.
 */
import { applyUpdates, radam, serializeState } from '../../src/index.js';

/** The problem as the fixture records it: per leaf path, a, c and the initial params. */
export interface Problem {
  lr: number;
  b1: number;
  b2: number;
  leaves: { path: string; a: number[]; c: number[]; p0: number[] }[];
}

type Params = { layer: { w: Float64Array; b: Float64Array }; 'odd key': Float64Array };

/** The params tree of the problem, from its leaves (in tree order: layer.b, layer.w, "odd key"). */
export function paramsOf(
  problem: Problem,
  values: (leaf: Problem['leaves'][number]) => number[],
): Params {
  const byPath = new Map(problem.leaves.map((l) => [l.path, Float64Array.from(values(l))]));
  return {
    layer: { b: byPath.get('.layer.b')!, w: byPath.get('.layer.w')! },
    'odd key': byPath.get('["odd key"]')!,
  };
}

export function radamOf(problem: Problem) {
  return radam(problem.lr, { b1: problem.b1, b2: problem.b2, eps: 0 });
}

/** The gradient a * (p - c) of every leaf. */
export function gradient(problem: Problem, p: Params): Params {
  const a = paramsOf(problem, (l) => l.a);
  const c = paramsOf(problem, (l) => l.c);
  const g = (x: Float64Array, ai: Float64Array, ci: Float64Array) =>
    x.map((v, i) => ai[i]! * (v - ci[i]!));
  return {
    layer: { b: g(p.layer.b, a.layer.b, c.layer.b), w: g(p.layer.w, a.layer.w, c.layer.w) },
    'odd key': g(p['odd key'], a['odd key'], c['odd key']),
  };
}

/** `steps` steps of radam from (params, state); returns the params after each step too. */
export function run(problem: Problem, params: Params, state: unknown, steps: number) {
  const tx = radamOf(problem);
  const trajectory: Params[] = [];
  for (let t = 0; t < steps; t++) {
    const [u, s] = tx.update(gradient(problem, params), state as never, params);
    params = applyUpdates(params, u);
    state = s;
    trajectory.push(params);
  }
  return { params, state, trajectory };
}

/** The first `k` steps from p0: the params and the checkpoint bytes of the state. */
export function start(problem: Problem, k: number) {
  const p0 = paramsOf(problem, (l) => l.p0);
  const { params, state } = run(problem, p0, radamOf(problem).init(p0), k);
  return {
    params,
    state,
    bytes: serializeState(state, { metadata: { run: 'torch continuation' } }),
  };
}
