/**
 * The catalogue of bad inputs (docs/errors.md): each case asserts the error type and that the
 * message names the path or parameter, the value found and what was expected. Also: the int32
 * step-count limit saturates and keeps working, and a step of the in-place Optimizer that throws
 * leaves its params and state exactly as they were.
 */
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import {
  adamw,
  addDecayedWeights,
  applyIfFinite,
  applyUpdates,
  CheckpointError,
  chain,
  clip,
  clipByGlobalNorm,
  constantSchedule,
  deserializeState,
  type GradientTransformationExtraArgs,
  INT32_MAX,
  injectHyperparams,
  joinSchedules,
  lookahead,
  lookaheadParams,
  multiSteps,
  numberOps,
  Optimizer,
  radam,
  registerLeafOps,
  scale,
  scaleByLearningRate,
  scaleByRadam,
  scaleBySchedule,
  serializeState,
  TreeStructureError,
  treeAdd,
  treeL2Norm,
  treeScale,
} from '../src/index.js';

type ErrorType = new (...args: any[]) => Error;

interface Case {
  name: string;
  run: () => unknown;
  type: ErrorType;
  /** The exact message, or fragments that must all appear in it. */
  message: string | string[];
}

function expectError(run: () => unknown, type: ErrorType, message: string | string[]): void {
  let caught: unknown;
  try {
    run();
  } catch (e) {
    caught = e;
  }
  expect(caught, 'expected an error').toBeInstanceOf(type);
  const text = (caught as Error).message;
  if (typeof message === 'string') expect(text).toBe(message);
  else for (const part of message) expect(text).toContain(part);
}

const params = () => ({ w: new Float32Array(3), b: new Float64Array(2) });
const grads = () => ({ w: Float32Array.of(1, -2, 3), b: Float64Array.of(0.5, -0.5) });
const tx = radam(0.1);

const catalogue: Record<string, Case[]> = {
  'mismatched trees': [
    {
      name: 'a gradient tree missing a key of the state',
      run: () => tx.update({ w: new Float32Array(3) }, tx.init(params()), params()),
      type: TreeStructureError,
      message: 'updates: object with keys [w], state.mu has extra key "b"',
    },
    {
      name: 'a number where the state has an array',
      run: () => tx.update({ ...grads(), w: 3 }, tx.init(params()), params()),
      type: TreeStructureError,
      message: 'updates.w: number 3, state.mu has Float32Array of length 3',
    },
    {
      name: 'a list where the state has a leaf',
      run: () => tx.update({ ...grads(), w: [1, 2, 3] }, tx.init(params()), params()),
      type: TreeStructureError,
      message: 'updates.w: array of length 3, state.mu has Float32Array of length 3',
    },
    {
      name: 'applyUpdates with updates of another tree',
      run: () => applyUpdates(params(), { w: new Float32Array(3) }),
      type: TreeStructureError,
      message: 'params: object with keys [b, w], updates has no key "b"',
    },
    {
      name: 'Optimizer.step with a gradient tree missing a key',
      run: () => new Optimizer(radam(0.1), params()).step({ w: new Float32Array(3) } as never),
      type: TreeStructureError,
      message: 'grads: object with keys [w], params has extra key "b"',
    },
  ],
  'wrong leaf lengths or types': [
    {
      name: 'a leaf of the wrong length',
      run: () => tx.update({ ...grads(), w: new Float32Array(2) }, tx.init(params()), params()),
      type: TreeStructureError,
      message: 'updates.w: length 2, state.mu has 3',
    },
    {
      name: 'an Int32Array leaf',
      run: () => tx.update({ ...grads(), w: new Int32Array(3) }, tx.init(params()), params()),
      type: TypeError,
      message:
        'updates.w: unsupported leaf Int32Array; expected number, Float32Array or Float64Array',
    },
    {
      name: 'a string leaf',
      run: () => tx.update({ ...grads(), w: 'abc' }, tx.init(params()), params()),
      type: TypeError,
      message:
        'updates.w: unsupported leaf string "abc"; expected number, Float32Array or Float64Array',
    },
    {
      name: 'an undefined leaf',
      run: () => tx.update({ ...grads(), b: undefined }, tx.init(params()), params()),
      type: TypeError,
      message:
        'updates.b: unsupported leaf undefined; expected number, Float32Array or Float64Array',
    },
    {
      name: 'init with an Int32Array param',
      run: () => tx.init({ w: new Int32Array(2) }),
      type: TypeError,
      message: 'tree.w: unsupported leaf Int32Array; expected number, Float32Array or Float64Array',
    },
    {
      name: 'Optimizer.step with a gradient of the wrong length',
      run: () => new Optimizer(radam(0.1), params()).step({ ...grads(), w: new Float32Array(4) }),
      type: TreeStructureError,
      message: 'grads.w: length 4, params has 3',
    },
    {
      name: 'Optimizer.step with an Int32Array gradient',
      run: () =>
        new Optimizer(radam(0.1), params()).step({ ...grads(), w: new Int32Array(3) } as never),
      type: TypeError,
      message:
        'grads.w: unsupported leaf Int32Array; expected number, Float32Array or Float64Array',
    },
    {
      name: 'Optimizer.step with a float64 gradient for a float32 param',
      run: () =>
        new Optimizer(radam(0.1), params()).step({ ...grads(), w: new Float64Array(3) } as never),
      type: TypeError,
      message: [
        'Optimizer.step: grads.w: Float64Array, params has Float32Array',
        'each grads leaf must have the type of its param',
      ],
    },
    {
      name: 'an Optimizer over a number leaf',
      run: () => new Optimizer(radam(0.1), { w: 1 }),
      type: TypeError,
      message: ['params.w', 'the number 1', 'Float32Array or Float64Array'],
    },
  ],
  'missing params where a transformation needs them': [
    {
      name: 'addDecayedWeights (and adamw) without params',
      run: () => adamw(0.1).update(grads(), adamw(0.1).init(params())),
      type: TypeError,
      message:
        'addDecayedWeights.update: params are required (call update(updates, state, params)); weight decay adds weightDecay * params to the updates',
    },
    {
      name: 'addDecayedWeights with params of another tree',
      run: () =>
        chain(addDecayedWeights(0.1)).update(
          grads(),
          chain(addDecayedWeights(0.1)).init(params()),
          {
            w: new Float32Array(3),
          },
        ),
      type: TreeStructureError,
      message: 'updates: object with keys [b, w], params has no key "b"',
    },
    {
      name: 'lookahead without params',
      run: () => {
        const la = lookahead(radam(0.1), { syncPeriod: 2, slowStepSize: 0.5 });
        return la.update(grads(), la.init(lookaheadParams(params())));
      },
      type: TypeError,
      message:
        'lookahead.update: params must be { fast, slow } (see lookaheadParams), got undefined',
    },
    {
      name: 'applyUpdates without params',
      run: () => applyUpdates(undefined, grads()),
      type: TreeStructureError,
      message: 'params: a leaf (undefined), updates has object with keys [b, w]',
    },
  ],
  'non-finite or invalid hyperparameters': [
    {
      name: 'radam(NaN)',
      run: () => radam(Number.NaN),
      type: RangeError,
      message:
        'radam: learningRate must be a finite number or a schedule (count) => number, got NaN',
    },
    {
      name: 'radam(Infinity)',
      run: () => radam(Number.POSITIVE_INFINITY),
      type: RangeError,
      message:
        'radam: learningRate must be a finite number or a schedule (count) => number, got Infinity',
    },
    {
      name: 'a learning rate given as a string',
      run: () => radam('0.1' as never),
      type: RangeError,
      message:
        'radam: learningRate must be a finite number or a schedule (count) => number, got "0.1"',
    },
    {
      name: 'b1 NaN',
      run: () => radam(0.1, { b1: Number.NaN }),
      type: RangeError,
      message: 'radam: b1 must be in [0, 1), got NaN (the decay of the first-moment average)',
    },
    {
      name: 'b2 = 1',
      run: () => scaleByRadam({ b2: 1 }),
      type: RangeError,
      message: 'scaleByRadam: b2 must be in [0, 1), got 1 (the decay of the second-moment average)',
    },
    {
      name: 'eps Infinity',
      run: () => radam(0.1, { eps: Number.POSITIVE_INFINITY }),
      type: RangeError,
      message: 'radam: eps must be a finite number, got Infinity',
    },
    {
      name: 'threshold NaN',
      run: () => radam(0.1, { threshold: Number.NaN }),
      type: RangeError,
      message: 'radam: threshold must be a finite number, got NaN',
    },
    {
      name: 'a misspelt option',
      run: () => radam(0.1, { beta1: 0.9 } as never),
      type: TypeError,
      message: ['radam: unknown option "beta1"; expected one of b1, b2, eps, epsRoot, threshold'],
    },
    {
      name: 'scale(NaN)',
      run: () => scale(Number.NaN),
      type: RangeError,
      message: 'scale: stepSize must be a finite number, got NaN',
    },
    {
      name: 'clip(NaN)',
      run: () => clip(Number.NaN),
      type: RangeError,
      message: 'clip: maxDelta must be a finite number, got NaN',
    },
    {
      name: 'clipByGlobalNorm(Infinity)',
      run: () => clipByGlobalNorm(Number.POSITIVE_INFINITY),
      type: RangeError,
      message: 'clipByGlobalNorm: maxNorm must be a finite number, got Infinity',
    },
    {
      name: 'addDecayedWeights(NaN)',
      run: () => addDecayedWeights(Number.NaN),
      type: RangeError,
      message:
        'addDecayedWeights: weightDecay must be a finite number or a schedule (count) => number, got NaN',
    },
    {
      name: 'lookahead slowStepSize NaN',
      run: () => lookahead(radam(0.1), { syncPeriod: 2, slowStepSize: Number.NaN }),
      type: RangeError,
      message: 'lookahead: slowStepSize must be a finite number, got NaN',
    },
    {
      name: 'multiSteps everyK NaN',
      run: () => multiSteps(radam(0.1), { everyK: Number.NaN }),
      type: RangeError,
      message: 'multiSteps: everyK must be an integer >= 1, got NaN',
    },
    {
      name: 'injectHyperparams with a NaN hyperparameter',
      run: () => injectHyperparams((h: { lr: number }) => radam(h.lr))({ lr: Number.NaN }),
      type: RangeError,
      message: 'injectHyperparams: hyperparameter lr must be finite, got NaN',
    },
    {
      name: 'injectHyperparams with a NaN written into the state',
      run: () => {
        const t = injectHyperparams((h: { lr: number }) => radam(h.lr))({ lr: 0.1 });
        const s = t.init(params());
        return t.update(grads(), { ...s, hyperparams: { lr: Number.NaN } }, params());
      },
      type: RangeError,
      message: 'injectHyperparams: state.hyperparams.lr must be a finite number, got NaN',
    },
    {
      name: 'chain with a non-transformation',
      run: () => chain(scale(1), undefined as never),
      type: TypeError,
      message:
        'chain: argument 1 must be a gradient transformation with init and update, got undefined',
    },
  ],
  'schedules returning NaN': [
    {
      name: 'a learning-rate schedule returning NaN',
      run: () => {
        const t = radam(() => Number.NaN);
        return t.update(grads(), t.init(params()), params());
      },
      type: RangeError,
      message:
        'scaleByLearningRate: the learning-rate schedule returned NaN at count 0; expected a finite number',
    },
    {
      name: 'a schedule returning undefined',
      run: () => {
        const t = radam((() => undefined) as never);
        return t.update(grads(), t.init(params()), params());
      },
      type: RangeError,
      message:
        'scaleByLearningRate: the learning-rate schedule returned undefined at count 0; expected a finite number',
    },
    {
      name: 'a joined schedule whose second piece returns NaN, at its boundary',
      run: () => {
        const t = radam(joinSchedules([constantSchedule(0.1), () => Number.NaN], [2]));
        let s = t.init(params());
        for (let i = 0; i < 3; i++) [, s] = t.update(grads(), s, params());
      },
      type: RangeError,
      message:
        'scaleByLearningRate: the learning-rate schedule returned NaN at count 2; expected a finite number',
    },
    {
      name: 'scaleBySchedule returning Infinity',
      run: () => scaleBySchedule(() => Number.POSITIVE_INFINITY).update(grads(), { count: 0 }),
      type: RangeError,
      message:
        'scaleBySchedule: the step size schedule returned Infinity at count 0; expected a finite number',
    },
    {
      name: 'an injected schedule returning NaN',
      run: () => {
        const t = injectHyperparams((h: { lr: number }) => radam(h.lr))({ lr: () => Number.NaN });
        return t.update(grads(), t.init(params()), params());
      },
      type: RangeError,
      message:
        'injectHyperparams: the lr schedule returned NaN at count 0; expected a finite number',
    },
    {
      name: 'a multiSteps everyK schedule returning NaN',
      run: () => {
        const t = multiSteps(radam(0.1), { everyK: () => Number.NaN });
        return t.update(grads(), t.init(params()), params());
      },
      type: RangeError,
      message:
        'multiSteps: the everyK schedule returned NaN at gradientStep 0; expected an integer >= 1',
    },
  ],
  'a state from another transformation': [
    {
      name: 'radam given the state of scaleByRadam alone',
      run: () => tx.update(grads(), scaleByRadam().init(params()) as never, params()),
      type: TypeError,
      message:
        "chain.update: state must be the list of 2 member states made by this chain's init, got object",
    },
    {
      name: 'radam given undefined',
      run: () => tx.update(grads(), undefined as never, params()),
      type: TypeError,
      message:
        "chain.update: state must be the list of 2 member states made by this chain's init, got undefined",
    },
    {
      name: 'scaleByRadam given a schedule state',
      run: () => scaleByRadam().update(grads(), { count: 0 } as never),
      type: TypeError,
      message:
        'scaleByRadam.update: state must be { count, mu, nu } as made by scaleByRadam.init, got an object with keys [count]',
    },
    {
      name: 'a constant-rate radam state given to a scheduled radam',
      run: () => radam((c) => 0.1 / (c + 1)).update(grads(), tx.init(params()), params()),
      type: TypeError,
      message:
        'scaleByLearningRate.update: state must be { count } as made by scaleByLearningRate.init, got an object with keys []',
    },
    {
      name: 'a scheduled radam state given to a constant-rate radam',
      run: () => tx.update(grads(), radam((c) => 0.1 / (c + 1)).init(params()), params()),
      type: TypeError,
      message:
        'scale.update: state must be {} as made by scale.init, got an object with keys [count]',
    },
    {
      name: 'scaleBySchedule given undefined',
      run: () => scaleBySchedule((c) => 1 / (c + 1)).update(grads(), undefined as never),
      type: TypeError,
      message:
        'scaleBySchedule.update: state must be { count } as made by scaleBySchedule.init, got undefined',
    },
    {
      name: 'a fractional step count',
      run: () => scaleByRadam().update(grads(), { ...scaleByRadam().init(params()), count: 1.5 }),
      type: RangeError,
      message:
        'scaleByRadam.update: state.count must be an integer step count in [0, 2147483647], got 1.5',
    },
    {
      name: 'a step count beyond int32',
      run: () => scaleBySchedule((c) => 1 / (c + 1)).update(grads(), { count: 2 ** 31 }),
      type: RangeError,
      message:
        'scaleBySchedule.update: state.count must be an integer step count in [0, 2147483647], got 2147483648',
    },
    {
      name: 'multiSteps given a radam state',
      run: () =>
        multiSteps(radam(0.1), { everyK: 2 }).update(grads(), tx.init(params()) as never, params()),
      type: TypeError,
      message:
        'multiSteps.update: state must be { miniStep, gradientStep, innerOptState, accGrads } as made by multiSteps.init',
    },
    {
      name: 'applyIfFinite given a radam state',
      run: () => applyIfFinite(radam(0.1), 3).update(grads(), tx.init(params()) as never, params()),
      type: TypeError,
      message:
        'applyIfFinite.update: state must be { notfiniteCount, lastFinite, totalNotfinite, innerState } as made by applyIfFinite.init',
    },
    {
      name: 'injectHyperparams given a radam state',
      run: () =>
        injectHyperparams((h: { lr: number }) => radam(h.lr))({ lr: 0.1 }).update(
          grads(),
          tx.init(params()) as never,
          params(),
        ),
      type: TypeError,
      message:
        'injectHyperparams.update: state must be { count, hyperparams, innerState } as made by init',
    },
  ],
  'leaves and arguments of the wrong type': [
    {
      name: 'a BigInt leaf',
      run: () => tx.init({ w: 10n as never }),
      type: TypeError,
      message: 'tree.w: unsupported leaf bigint 10n; expected number, Float32Array or Float64Array',
    },
    {
      name: 'a BigInt leaf in a checkpoint',
      run: () => serializeState({ c: 10n }),
      type: CheckpointError,
      message: ['serializeState: state.c is bigint 10', 'a state leaf must be a number'],
    },
    {
      name: 'a Float32Array from another realm (vm.runInNewContext)',
      run: () => tx.init({ w: runInNewContext('new Float32Array(3)') }),
      type: TypeError,
      message:
        "tree.w: unsupported leaf Float32Array from another realm; expected number, Float32Array or Float64Array (a typed array from another realm, such as a vm context or an iframe, is not this realm's Float32Array: copy it with Float32Array.from(x))",
    },
    {
      name: 'injectHyperparams with staticArgs: 5',
      run: () => injectHyperparams((h: { lr: number }) => radam(h.lr), { staticArgs: 5 as never }),
      type: TypeError,
      message:
        'injectHyperparams: staticArgs must be a list of argument names (strings), got number 5',
    },
    {
      name: "injectHyperparams with staticArgs: 'mask'",
      run: () =>
        injectHyperparams((h: { lr: number }) => radam(h.lr), { staticArgs: 'mask' as never }),
      type: TypeError,
      message:
        'injectHyperparams: staticArgs must be a list of argument names (strings), got string "mask" (write ["mask"])',
    },
    ...([Number.NaN, undefined, 'abc'] as const).map((s) => ({
      name: `treeScale(${String(s)}, tree)`,
      run: () => treeScale(s as never, { x: 1 }),
      type: RangeError,
      message: `treeScale: s must be a finite number, got ${typeof s === 'string' ? '"abc"' : String(s)} (the factor every element is multiplied by)`,
    })),
    {
      name: 'treeAdd with one tree',
      run: () => (treeAdd as (...t: unknown[]) => unknown)({ x: 1 }),
      type: TypeError,
      message: 'treeAdd: expected at least two trees to add, got 1',
    },
    {
      name: 'treeAdd with trees of different structure names the tree',
      run: () => treeAdd({ x: 1 }, { x: 2 }, { y: 3 } as never),
      type: TreeStructureError,
      message: 'trees[0]: object with keys [x], trees[2] has no key "x" and extra key "y"',
    },
    {
      name: 'treeL2Norm with a name that is not a string',
      run: () => treeL2Norm({ x: 1 }, 3 as never),
      type: TypeError,
      message:
        'treeL2Norm: name must be a string (it names the tree in error messages), got number 3',
    },
    {
      name: 'registerLeafOps(undefined)',
      run: () => registerLeafOps(undefined as never),
      type: TypeError,
      message:
        'registerLeafOps: ops must be a LeafOps object (name, isLeaf, size, dtype and the arithmetic), got undefined',
    },
    {
      name: 'registerLeafOps with a method missing',
      run: () => registerLeafOps({ ...numberOps, name: 'half', adamRatio: undefined } as never),
      type: TypeError,
      message:
        'registerLeafOps: ops.adamRatio must be a function (see the LeafOps interface), got undefined',
    },
    {
      name: 'scaleBySchedule with a schedule that is not a function',
      run: () => scaleBySchedule(0.1 as never),
      type: TypeError,
      message: 'scaleBySchedule: stepSizeFn must be a function (count) => number, got number 0.1',
    },
  ],
};

describe('catalogue of bad inputs', () => {
  for (const [group, cases] of Object.entries(catalogue)) {
    describe(group, () => {
      for (const c of cases)
        it(`${c.name}: ${c.type.name}`, () => expectError(c.run, c.type, c.message));
    });
  }

  it('a checkpoint of another transformation: CheckpointError naming the path', () => {
    const bytes = serializeState(scaleByRadam().init(params()));
    expectError(
      () => deserializeState(bytes, tx.init(params())),
      CheckpointError,
      'deserializeState: state: the template has a list of length 2, the checkpoint has an object with keys [count, mu, nu]',
    );
  });
});

describe('tree utilities as optax.tree_utils', () => {
  it('treeAdd sums every tree given, as optax.tree_utils.tree_add', () => {
    const a = { x: Float64Array.of(1, 2), y: 0.5 };
    expect(treeAdd(a, a, a)).toEqual({ x: Float64Array.of(3, 6), y: 1.5 });
    expect(treeAdd(a, a, a, a)).toEqual({ x: Float64Array.of(4, 8), y: 2 });
    expect(treeAdd(a, a)).toEqual({ x: Float64Array.of(2, 4), y: 1 });
  });

  it('a refused registerLeafOps leaves the registry working', () => {
    expect(() => registerLeafOps(undefined as never)).toThrow(TypeError);
    const [u] = tx.update(grads(), tx.init(params()), params());
    expect(Array.from((u as { w: Float32Array }).w).every(Number.isFinite)).toBe(true);
  });
});

describe('step counts at the int32 limit saturate, as optax does', () => {
  it('radam at count 2^31 - 1: the count stays and the step is the fully bias-corrected one', () => {
    const p = { w: Float64Array.of(1, -2) };
    const g = { w: Float64Array.of(0.5, -4) };
    const t = radam(0.1);
    const [s0, s1] = t.init(p) as [any, any];
    let state: unknown = [{ ...s0, count: INT32_MAX }, s1];
    for (let k = 0; k < 3; k++) {
      const [u, next] = t.update(g, state as never, p);
      const mu = s0.mu.w as Float64Array;
      expect((next as any)[0].count).toBe(INT32_MAX);
      if (k === 0) {
        // From zero moments: mu = 0.1 g, nu = 0.001 g^2; b1^t = b2^t = 0, so r = 1 and
        // u = -lr * mu / (sqrt(nu) + eps).
        for (let i = 0; i < 2; i++) {
          const gi = g.w[i]!;
          const m = 0.1 * gi + 0.9 * mu[i]!;
          const v = 0.001 * (gi * gi);
          expect(u.w[i]).toBeCloseTo(-0.1 * (m / (Math.sqrt(v) + 1e-8)), 12);
        }
      }
      expect(Array.from(u.w as Float64Array).every(Number.isFinite)).toBe(true);
      state = next;
    }
  });

  it('a schedule at count 2^31 - 1 is called with 2^31 - 1 and its count stays there', () => {
    const seen: number[] = [];
    const t = scaleByLearningRate((c) => {
      seen.push(c);
      return 0.5;
    });
    let state: any = { count: INT32_MAX - 1 };
    for (let k = 0; k < 3; k++) [, state] = t.update({ w: 2 }, state);
    expect(seen).toEqual([INT32_MAX - 1, INT32_MAX, INT32_MAX]);
    expect(state.count).toBe(INT32_MAX);
  });

  it('injectHyperparams at count 2^31 - 1 stays there', () => {
    const t = injectHyperparams((h: { lr: number }) => radam(h.lr))({
      lr: (c: number) => 1 / (1 + c),
    });
    const s = t.init(params());
    const [, next] = t.update(grads(), { ...s, count: INT32_MAX }, params());
    expect(next.count).toBe(INT32_MAX);
    expect(next.hyperparams.lr).toBe(1 / (1 + INT32_MAX));
  });
});

/** A bitwise snapshot of a tree (params or state): its serialized bytes. */
const snapshot = (tree: unknown) => Buffer.from(serializeState(tree));

describe('a step that throws leaves the in-place Optimizer untouched', () => {
  const failing: [string, () => GradientTransformationExtraArgs, (opt: Optimizer<any>) => void][] =
    [
      [
        'a gradient tree with a missing key',
        () => radam(0.1),
        (opt) => opt.step({ w: new Float32Array(3) }),
      ],
      [
        'a gradient of the wrong dtype',
        () => radam(0.1),
        (opt) => opt.step({ w: new Float64Array(3), b: new Float64Array(2) }),
      ],
      [
        'a gradient of the wrong length',
        () => radam(0.1),
        (opt) => opt.step({ w: new Float32Array(3), b: new Float64Array(3) }),
      ],
      [
        'a schedule that returns NaN at the 4th step',
        () => radam((c) => (c < 3 ? 0.1 : Number.NaN)),
        (opt) => opt.step(grads()),
      ],
      [
        'a decay schedule that returns NaN (chain with addDecayedWeights)',
        () =>
          chain(
            addDecayedWeights((c) => (c < 3 ? 0.01 : Number.NaN)),
            scaleByRadam(),
            scaleByLearningRate(0.1),
          ),
        (opt) => opt.step(grads()),
      ],
      [
        'applyIfFinite after too many non-finite steps',
        () => applyIfFinite(radam(0.1), 0),
        (opt) => opt.step({ ...grads(), b: Float64Array.of(Number.NaN, 1) }),
      ],
      [
        'a transformation without an in-place path whose update throws',
        () => {
          const inner = radam(0.1);
          return {
            init: inner.init,
            update: (u: unknown, s: unknown, p: unknown) => {
              const out = inner.update(u, s as never, p);
              if ((s as any)[0].count >= 3) throw new RangeError('custom: refused at step 4');
              return out;
            },
          };
        },
        (opt) => opt.step(grads()),
      ],
    ];

  const kernels = [
    {},
    { kernel: 'js' as const },
    { kernel: 'wasm' as const },
    { kernel: 'generic' as const },
    { arena: true },
  ];
  for (const [name, make, bad] of failing) {
    for (const options of kernels) {
      it(`${name} (options ${JSON.stringify(options)})`, () => {
        const opt = new Optimizer(make(), params(), options);
        for (let k = 0; k < 3; k++) opt.step(grads());
        const paramsBefore = snapshot(opt.params);
        const stateBefore = snapshot(opt.state);
        const leavesBefore = [opt.params.w, opt.params.b];
        expect(() => bad(opt)).toThrow();
        expect(snapshot(opt.params).equals(paramsBefore)).toBe(true);
        expect(snapshot(opt.state).equals(stateBefore)).toBe(true);
        expect(opt.params.w).toBe(leavesBefore[0]);
        expect(opt.params.b).toBe(leavesBefore[1]);
      });
    }
  }

  it('after a refused step the optimizer continues exactly as if it had not been attempted', () => {
    const a = new Optimizer(radam(0.1), params());
    const b = new Optimizer(radam(0.1), params());
    for (let k = 0; k < 5; k++) {
      a.step(grads());
      expect(() => a.step({ w: new Float32Array(3) } as never)).toThrow(TreeStructureError);
      b.step(grads());
    }
    expect(snapshot(a.params).equals(snapshot(b.params))).toBe(true);
    expect(snapshot(a.state).equals(snapshot(b.state))).toBe(true);
  });
});
