/**
 * A float64 optax-ts radam run continued in torch.optim.RAdam (test/fixtures/torch_continuation.json,
 * made by scripts/torch_continuation.py with scripts/convert_checkpoint.py) follows the trajectory
 * optax-ts itself continues on (eps = 0, where the two definitions coincide), and torch's final
 * state converted back is a valid optax-ts checkpoint of the same state. No Python is needed here.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { deserializeState } from '../src/index.js';
import { type Problem, paramsOf, radamOf, run, start } from './continuation/problem.js';

const fixture = JSON.parse(readFileSync('test/fixtures/torch_continuation.json', 'utf8')) as {
  k: number;
  m: number;
  problem: Problem;
  start_checkpoint: string;
  torch_params: Record<string, number[]>[];
  torch_end_checkpoint: string;
  round_trip_torch_identical: boolean;
  round_trip_optax_identical: boolean;
  optax_treedef: { num_leaves: number; leaf_paths: string[]; params_tree: unknown };
  torch: string;
  command: string;
};

const PATHS = ['.layer.b', '.layer.w', '["odd key"]'] as const;

function flat(p: ReturnType<typeof start>['params']): Record<string, Float64Array> {
  return { '.layer.b': p.layer.b, '.layer.w': p.layer.w, '["odd key"]': p['odd key'] };
}

describe(`an optax-ts checkpoint continued in torch ${fixture.torch} (${fixture.command})`, () => {
  const begun = start(fixture.problem, fixture.k);

  it('the checkpoint the fixture started from is the one optax-ts writes now, byte for byte', () => {
    expect(Buffer.from(begun.bytes).toString('base64')).toBe(fixture.start_checkpoint);
    expect(fixture.round_trip_torch_identical).toBe(true);
    expect(fixture.round_trip_optax_identical).toBe(true);
    expect(fixture.optax_treedef.leaf_paths).toEqual([...PATHS]);
    expect(fixture.optax_treedef.params_tree).toEqual({ layer: { b: 0, w: 1 }, 'odd key': 2 });
  });

  it('torch continues on the trajectory optax-ts continues on (worst difference printed)', () => {
    const { trajectory, state } = run(fixture.problem, begun.params, begun.state, fixture.m);
    expect(trajectory.length).toBe(fixture.torch_params.length);
    let worstAbs = 0;
    let worstRel = 0;
    let moved = 0;
    trajectory.forEach((p, t) => {
      const ours = flat(p);
      for (const path of PATHS) {
        const theirs = fixture.torch_params[t]![path]!;
        ours[path]!.forEach((x, i) => {
          const d = Math.abs(x - theirs[i]!);
          worstAbs = Math.max(worstAbs, d);
          worstRel = Math.max(worstRel, d / Math.max(Math.abs(theirs[i]!), 1e-300));
          moved = Math.max(moved, Math.abs(x - flat(begun.params)[path]![i]!));
        });
      }
    });
    console.log(
      `torch continuation: ${fixture.k} optax-ts steps, then ${fixture.m} steps each; worst |optax-ts - torch| = ${worstAbs.toExponential(3)} (relative ${worstRel.toExponential(3)}); params moved up to ${moved.toFixed(3)}`,
    );
    expect(moved).toBeGreaterThan(0.1); // the continuation is not trivial
    // Rounding only (torch evaluates with fused multiply-adds): a few ulps of the params' scale.
    expect(worstAbs).toBeLessThan(1e-13);
    expect(worstRel).toBeLessThan(1e-11);

    // torch's final state, converted back, loads into optax-ts and holds the same moments.
    const end = deserializeState(
      Buffer.from(fixture.torch_end_checkpoint, 'base64'),
      radamOf(fixture.problem).init(paramsOf(fixture.problem, (l) => l.p0)),
    ) as any;
    const ours = state as any;
    expect(end[0].count).toBe(fixture.k + fixture.m);
    expect(ours[0].count).toBe(fixture.k + fixture.m);
    let worstMoment = 0;
    for (const moment of ['mu', 'nu'])
      for (const path of ['layer', 'odd key'])
        for (const leaf of path === 'layer' ? ['b', 'w'] : [null]) {
          const a: Float64Array = leaf ? end[0][moment][path][leaf] : end[0][moment][path];
          const b: Float64Array = leaf ? ours[0][moment][path][leaf] : ours[0][moment][path];
          a.forEach((x, i) => {
            worstMoment = Math.max(worstMoment, Math.abs(x - b[i]!) / Math.abs(b[i]!));
          });
        }
    console.log(
      `torch continuation: worst relative difference of mu and nu after ${fixture.k + fixture.m} steps ${worstMoment.toExponential(3)}`,
    );
    expect(worstMoment).toBeLessThan(1e-11);
  });
});
