import { init, tree as jaxTree, jit, numpy as np } from '@jax-js/jax';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  adam,
  adamw,
  addDecayedWeights,
  applyIfFinite,
  applyUpdates,
  chain,
  clip,
  clipByGlobalNorm,
  disposeTree,
  type GradientTransformation,
  identity,
  injectHyperparams,
  lookahead,
  lookaheadParams,
  masked,
  multiSteps,
  radam,
  scale,
  scaleByAdam,
  scaleByRadam,
  sgd,
  TreeStructureError,
  trace,
  treeLeaves,
} from '../src/index.js';
import { isJaxArray, jaxArrayOps, tidy, tidyTransformation } from '../src/jax/index.js';
import { countLiveBuffers, f32, f64, lcg, read } from './jax-helpers.js';

beforeAll(async () => {
  await init('wasm');
});

type Kind = 'float32' | 'float64';
const W_SHAPE = [2, 3];

/** Params `{ b: [3], w: [2, 3] }` as core typed arrays and as jax-js arrays of the same values. */
function startParams(kind: Kind) {
  const w = [0.5, -1.25, 2, 0.75, -0.3, 1.1];
  const b = [1, -2, 0.25];
  const typed = kind === 'float32' ? Float32Array : Float64Array;
  const jx = kind === 'float32' ? f32 : f64;
  return {
    core: { b: typed.from(b), w: typed.from(w) },
    jax: { b: jx(b), w: jx(w, W_SHAPE) },
  };
}

/** Gradients for one step; `b[2]` is always 0, so its moments stay 0 (the 0/0 case). */
function gradients(kind: Kind, next: () => number, nan = false) {
  const w = Array.from({ length: 6 }, () => next());
  if (nan) w[1] = Number.NaN;
  const b = [next(), next() * 10, 0];
  const typed = kind === 'float32' ? Float32Array : Float64Array;
  const jx = kind === 'float32' ? f32 : f64;
  return { core: { b: typed.from(b), w: typed.from(w) }, jax: { b: jx(b), w: jx(w, W_SHAPE) } };
}

/**
 * Runs the same transformation on typed arrays (the core) and on jax-js arrays for `steps` steps
 * with the same gradients, and returns the largest difference of params, updates and state
 * leaves, relative to max(1, |core value|), over all steps checked.
 */
function compareWithCore(makeTx: () => GradientTransformation, kind: Kind, steps: number): number {
  return compareCase({ make: makeTx }, kind, steps);
}

/** A transformation to compare, with what its use needs beyond the plain loop. */
interface Case {
  make: () => GradientTransformation;
  /** Lookahead: the params are `{ fast, slow }`. */
  pair?: boolean;
  /** Steps whose gradient has a NaN (for applyIfFinite). */
  nanAt?: number[];
}

function compareCase(c: Case, kind: Kind, steps: number): number {
  const coreTx = c.make();
  const jaxTx = tidyTransformation(c.make());
  const start = startParams(kind);
  let p = (c.pair ? lookaheadParams(start.core) : start.core) as unknown;
  let pj = start.jax as unknown;
  if (c.pair) {
    const plain = pj;
    pj = lookaheadParams(plain);
    disposeTree(plain);
  }
  let s = coreTx.init(p);
  let sj = jaxTx.init(pj);
  const next = lcg(7);
  let worst = 0;
  const diff = (a: unknown, b: unknown) => {
    const la = treeLeaves<unknown>(a);
    const lb = treeLeaves<unknown>(b);
    expect(lb.length).toBe(la.length);
    la.forEach((x, i) => {
      const y = lb[i];
      if (typeof x === 'number' || typeof x === 'boolean') {
        expect(y).toBe(x);
        return;
      }
      expect(isJaxArray(y)).toBe(true);
      const ref = x as Float64Array;
      const got = read(y as np.Array);
      expect(got.length).toBe(ref.length);
      for (let k = 0; k < ref.length; k++) {
        const d = Math.abs(got[k]! - ref[k]!) / Math.max(1, Math.abs(ref[k]!));
        expect(Number.isNaN(got[k]!)).toBe(Number.isNaN(ref[k]!));
        if (d > worst) worst = d;
      }
    });
  };
  for (let t = 0; t < steps; t++) {
    const g = gradients(kind, next, c.nanAt?.includes(t) ?? false);
    const [u, s2] = coreTx.update(g.core, s, p);
    const [uj, sj2] = jaxTx.update(g.jax, sj, pj);
    const p2 = applyUpdates(p, u);
    const pj2 = applyUpdates(pj, uj);
    diff(u, uj);
    diff(s2, sj2);
    diff(p2, pj2);
    // jax-js's tree.dispose skips non-array leaves (the core's disposeTree rejects booleans).
    jaxTree.dispose([g.jax, uj, sj, pj]);
    [s, p, sj, pj] = [s2, p2, sj2, pj2];
  }
  jaxTree.dispose([sj, pj]);
  if (process.env.OPTAX_TS_REPORT) console.log(`max relative difference: ${worst}`);
  return worst;
}

// Each case rectifies from some step on: with b2 = 0.999 from step 6, with b2 = 0.99 from step 6
// too (rho_6 = 5.7), with threshold 6 from step 7.
const RADAM_CASES: [string, () => GradientTransformation][] = [
  ['radam defaults', () => radam(0.003)],
  ['radam nesterov', () => radam(0.01, { nesterov: true })],
  ['radam eps = epsRoot = 0, b2 0.99', () => radam(0.01, { b2: 0.99, eps: 0, epsRoot: 0 })],
  [
    'radam b1 0.5, epsRoot 1e-6, threshold 6, nesterov',
    () => radam(0.02, { b1: 0.5, epsRoot: 1e-6, threshold: 6, nesterov: true }),
  ],
  ['radam with a schedule', () => radam((count) => 0.01 / (1 + count))],
  ['scaleByRadam alone', () => scaleByRadam({ b2: 0.95 })],
];

const COMPANION_CASES: [string, Case][] = [
  ['adam', { make: () => adam(0.01) }],
  ['adam nesterov, epsRoot', { make: () => adam(0.01, { nesterov: true, epsRoot: 1e-8 }) }],
  ['adamw', { make: () => adamw(0.01, { weightDecay: 0.05 }) }],
  ['sgd', { make: () => sgd(0.05) }],
  ['sgd nesterov momentum', { make: () => sgd(0.05, { momentum: 0.9, nesterov: true }) }],
  ['trace', { make: () => trace(0.8) }],
  [
    'radam with masked weight decay',
    { make: () => radam(0.01, { weightDecay: 0.1, weightDecayMask: { b: false, w: true } }) },
  ],
  ['addDecayedWeights alone', { make: () => addDecayedWeights(0.1) }],
  ['clip then radam', { make: () => chain(clip(0.5), radam(0.01)) }],
  ['clipByGlobalNorm then radam', { make: () => chain(clipByGlobalNorm(1), radam(0.01)) }],
  ['masked radam', { make: () => masked(radam(0.01), { b: false, w: true }) }],
  [
    'applyIfFinite(radam) with NaN gradients',
    { make: () => applyIfFinite(radam(0.01), 2), nanAt: [3, 7, 8] },
  ],
  ['multiSteps(radam, 3)', { make: () => multiSteps(radam(0.01), { everyK: 3 }) }],
  [
    'lookahead(radam)',
    { make: () => lookahead(radam(0.01), { syncPeriod: 4, slowStepSize: 0.5 }), pair: true },
  ],
  [
    'injectHyperparams(radam)',
    {
      make: () =>
        injectHyperparams((h: { learningRate: number }) => radam(h.learningRate))({
          learningRate: (count: number) => 0.01 / (1 + count),
        }),
    },
  ],
  ['scaleByAdam then scale', { make: () => chain(scaleByAdam({ b1: 0.8 }), scale(-0.01)) }],
];

describe('jax-js arrays give the core results', () => {
  for (const [name, makeTx] of RADAM_CASES) {
    it(`${name}: float64, 25 steps, within 1e-14`, () => {
      expect(compareWithCore(makeTx, 'float64', 25)).toBeLessThanOrEqual(1e-14);
    });
    it(`${name}: float32, 25 steps, within 2e-6`, () => {
      // Both compute in float32, but jax-js composes the operations in its own order and roundings.
      expect(compareWithCore(makeTx, 'float32', 25)).toBeLessThanOrEqual(2e-6);
    });
  }

  for (const [name, c] of COMPANION_CASES) {
    it(`${name}: float64 and float32, 20 steps`, () => {
      expect(compareCase(c, 'float64', 20)).toBeLessThanOrEqual(1e-14);
      expect(compareCase(c, 'float32', 20)).toBeLessThanOrEqual(2e-6);
    });
  }

  it('a zero gradient gives a zero update with eps = epsRoot = 0 (not 0/0 = NaN)', () => {
    const tx = tidyTransformation(scaleByRadam({ eps: 0, epsRoot: 0, b2: 0.5 }));
    const x = f32([0, 1, -2]);
    let state = tx.init(x);
    for (let t = 0; t < 8; t++) {
      const [u, next] = tx.update(x, state);
      const values = read(u as np.Array);
      expect(values[0]).toBe(0);
      expect(Number.isFinite(values[1]!)).toBe(true);
      disposeTree([u, state]);
      state = next;
    }
    disposeTree([state, x]);
  });
});

/** Records every array that jaxArrayOps returns, until `restore()`. */
function recordMade(): { made: np.Array[]; restore(): void } {
  const methods = [
    'zerosLike',
    'moment',
    'scale',
    'divide',
    'linearCombination',
    'adamRatio',
    'add',
    'clip',
  ] as const;
  const made: np.Array[] = [];
  const ops = jaxArrayOps as unknown as Record<string, (...args: unknown[]) => unknown>;
  const originals = methods.map((m) => ops[m]!);
  methods.forEach((m, i) => {
    ops[m] = (...args: unknown[]) => {
      const out = originals[i]!.apply(jaxArrayOps, args) as np.Array;
      made.push(out);
      return out;
    };
  });
  return {
    made,
    restore() {
      methods.forEach((m, i) => {
        ops[m] = originals[i]!;
      });
    },
  };
}

describe('ownership', () => {
  it('update and applyUpdates leave the caller arrays alive, with unchanged reference counts', () => {
    const solver = radam(0.003, { nesterov: true });
    const params = { w: f32([1, 2, 3]) };
    const state = solver.init(params);
    const grads = { w: f32([0.5, -0.5, 1]) };
    const inputs = [params.w, grads.w, ...treeLeaves<np.Array>(state).filter(isJaxArray)];
    const [updates, next] = solver.update(grads, state, params);
    const newParams = applyUpdates(params, updates);
    for (const x of inputs) expect(x.refCount).toBe(1);
    for (const x of [...treeLeaves<np.Array>([updates, next, newParams]).filter(isJaxArray)])
      expect(x.refCount).toBe(1);
    disposeTree([params, grads, state]);
    // Everything returned is still usable after the inputs are gone, and is the core's result.
    const core = radam(0.003, { nesterov: true });
    const p = { w: Float32Array.of(1, 2, 3) };
    const [u] = core.update({ w: Float32Array.of(0.5, -0.5, 1) }, core.init(p), p);
    const expected = applyUpdates(p, u).w;
    const got = read(newParams.w as np.Array);
    for (let i = 0; i < 3; i++) expect(got[i]).toBeCloseTo(expected[i]!, 6);
    disposeTree([updates, next, newParams]);
    for (const x of inputs) expect(x.refCount).toBe(0);
  });

  it('tidy gives a passed-through leaf its own reference and frees what the result drops', () => {
    const g = f32([1, 2]);
    const tx = tidyTransformation(chain(identity(), identity()));
    const [u, s] = tx.update({ g }, tx.init({ g }));
    expect((u as { g: np.Array }).g).toBe(g);
    expect(g.refCount).toBe(2); // the caller's reference and the result's
    disposeTree(u);
    expect(g.refCount).toBe(1);
    expect(s).toEqual([{}, {}]);

    const made: np.Array[] = [];
    const kept = tidy(() => {
      made.push(jaxArrayOps.scale(g, 2), jaxArrayOps.scale(g, 3));
      return { twice: [made[0]!, made[0]!] };
    });
    expect(made[1]!.refCount).toBe(0); // dropped: freed
    expect(made[0]!.refCount).toBe(2); // kept twice: one reference per occurrence
    disposeTree(kept);
    expect(made[0]!.refCount).toBe(0);
    expect(g.refCount).toBe(1);
    g.dispose();
  });

  it('tidy frees the arrays made before an error and rethrows it', () => {
    const x = f32([1, 2]);
    let made: np.Array | undefined;
    expect(() =>
      tidy(() => {
        made = jaxArrayOps.scale(x, 2);
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(made!.refCount).toBe(0);
    expect(x.refCount).toBe(1);
    x.dispose();
  });

  it('nested tidy: what survives the inner scope belongs to the outer one', () => {
    const x = f32([1, 2]);
    let inner: np.Array | undefined;
    tidy(() => {
      inner = tidy(() => jaxArrayOps.scale(x, 2));
      expect(inner.refCount).toBe(1);
      return null;
    });
    expect(inner!.refCount).toBe(0);
    x.dispose();
  });

  it('every companion through tidyTransformation frees all it makes (12 steps each)', () => {
    const { made, restore } = recordMade();
    try {
      for (const [name, c] of COMPANION_CASES) {
        made.length = 0;
        const solver = tidyTransformation(c.make());
        const plain = { b: f32([1, -2, 0.25]), w: f32([0.5, -1.25, 2, 0.75, -0.3, 1.1], W_SHAPE) };
        let params: unknown = plain;
        if (c.pair) {
          params = lookaheadParams(plain);
          jaxTree.dispose(plain);
        }
        let state = solver.init(params);
        const next = lcg(11);
        for (let t = 0; t < 12; t++) {
          const g = gradients('float32', next, c.nanAt?.includes(t) ?? false).jax;
          const [updates, newState] = solver.update(g, state, params);
          const newParams = applyUpdates(params, updates);
          jaxTree.dispose([g, updates, state, params]);
          [state, params] = [newState, newParams];
        }
        const live = new Set(jaxTree.leaves([params, state]).filter(isJaxArray));
        const wrong = made.filter((x) => x.refCount !== (live.has(x) ? 1 : 0));
        expect(wrong.length, name).toBe(0);
        for (const x of live) expect(x.refCount, name).toBe(1);
        jaxTree.dispose([params, state]);
        expect(plain.w.refCount, name).toBe(0);
      }
    } finally {
      restore();
    }
  });

  it('1,000 steps (300 without tidyTransformation) leak no buffers and no arrays', async () => {
    const { made, restore } = recordMade();
    const buffers = await countLiveBuffers();
    try {
      for (const [solver, core, steps] of [
        [tidyTransformation(radam(0.01)), radam(0.01), 1000],
        [radam(0.01, { nesterov: true }), radam(0.01, { nesterov: true }), 300],
      ] as const) {
        made.length = 0;
        let coreParams = { b: Float32Array.of(0.5), w: Float32Array.of(1, -2, 3, 0.25) };
        let coreState = core.init(coreParams);
        let params = { b: f32([0.5]), w: f32([1, -2, 3, 0.25], [2, 2]) };
        let state = solver.init(params);
        let grads = { b: f32([0]), w: f32([0, 0, 0, 0], [2, 2]) };
        const before = buffers.live();
        let peak = 0;
        for (let t = 0; t < steps; t++) {
          // The gradient of sum(x²), built from the params without consuming them.
          disposeTree(grads);
          grads = { b: params.b.ref.mul(2), w: params.w.ref.mul(2) };
          const [updates, next] = solver.update(grads, state, params);
          const newParams = applyUpdates(params, updates);
          disposeTree([updates, state, params]);
          [state, params] = [next, newParams];
          const coreGrads = {
            b: coreParams.b.map((x) => 2 * x),
            w: coreParams.w.map((x) => 2 * x),
          };
          const [coreUpdates, coreNext] = core.update(coreGrads, coreState, coreParams);
          [coreState, coreParams] = [coreNext, applyUpdates(coreParams, coreUpdates)];
          if (t % 100 === 99) {
            read(params.w); // realise the pending work
            peak = Math.max(peak, buffers.live() - before);
          }
        }
        // Live: the params, the two moments and the grads, 2 leaves each, at most.
        expect(peak).toBeLessThanOrEqual(8);
        const live = new Set(treeLeaves<np.Array>([params, state]).filter(isJaxArray));
        expect(made.length).toBeGreaterThan(steps * 10);
        const wrong = made.filter((x) => x.refCount !== (live.has(x) ? 1 : 0));
        expect(wrong.length).toBe(0);
        // And the trajectory is the core's, to float32 precision.
        const finalW = read(params.w);
        for (let i = 0; i < 4; i++)
          expect(Math.abs(finalW[i]! - coreParams.w[i]!)).toBeLessThan(1e-4);
        disposeTree([params, state, grads]);
        expect(buffers.live()).toBeLessThanOrEqual(before);
      }
    } finally {
      buffers.restore();
      restore();
    }
  });
});

describe('jit', () => {
  it('scaleByRadam.update runs inside jit with the step count static, equal to eager', () => {
    const tx = scaleByRadam({ nesterov: true });
    const step = jit(
      (g: np.Array, mu: np.Array, nu: np.Array, count: number) => {
        const [u, s] = tx.update(g, { count, mu, nu });
        return [u, s.mu, s.nu] as np.Array[];
      },
      { staticArgnums: [3] },
    );
    const eager = tidyTransformation(tx);
    const next = lcg(3);
    let [mu, nu] = [f32([0, 0, 0]), f32([0, 0, 0])];
    let state = eager.init(f32([0, 0, 0]));
    for (let count = 0; count < 8; count++) {
      const g = f32([next(), next(), 0]);
      // jit consumes its arguments (jax-js's rule); eager update consumes nothing.
      const [u, m, n] = step(g.ref, mu, nu, count) as np.Array[];
      const [ue, s] = eager.update(g, state);
      const a = read(u!);
      const b = read(ue as np.Array);
      for (let i = 0; i < 3; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThanOrEqual(1e-6);
      expect(read(m!)).toEqual(read(s.mu));
      disposeTree([u, ue, state, g]);
      [mu, nu, state] = [m!, n!, s];
    }
    disposeTree([mu, nu, state]);
    step.dispose();
  });
});

describe('errors', () => {
  it('a transformation that reads values cannot be traced, and says so', () => {
    const tx = chain(clipByGlobalNorm(1), scaleByRadam());
    const step = jit((g: np.Array, mu: np.Array, nu: np.Array) => {
      const [u] = tx.update(g, [{}, { count: 0, mu, nu }]);
      return u as np.Array;
    });
    const [g, mu, nu] = [f32([1, 2]), f32([0, 0]), f32([0, 0])];
    expect(() => step(g, mu, nu)).toThrow(
      'jaxArrayOps.sumOfSquares: needs the values of the array, but got a traced float32[2]',
    );
    step.dispose();
  });

  it('names the path and the leaves when trees differ', () => {
    const solver = radam(0.1);
    const params = { w: f32([1, 2, 3]) };
    const state = solver.init(params);
    const grads = { w: f32([1, 2]) };
    expect(() => solver.update(grads, state, params)).toThrow(TreeStructureError);
    expect(() => solver.update(grads, state, params)).toThrow('updates.w: length 2');
    disposeTree([params, state, grads]);
  });

  it('rejects shapes that differ with an equal size, integer arrays and out buffers', () => {
    const a = f32([1, 2, 3, 4, 5, 6], [2, 3]);
    const b = f32([1, 2, 3, 4, 5, 6]);
    expect(() => jaxArrayOps.add(a, b)).toThrow(
      'jaxArrayOps.add: p has shape [2, 3], u has shape [6]; they must be equal',
    );
    const n = np.array([1, 2], { dtype: np.int32 });
    expect(() => radam(0.1).init({ n })).toThrow('jaxArrayOps.zerosLike: x has dtype int32');
    expect(() => jaxArrayOps.scale(b, 2, b)).toThrow('jax-js arrays are immutable');
    expect([a.refCount, b.refCount, n.refCount]).toEqual([1, 1, 1]);
    disposeTree([a, b, n]);
  });

  it('sumOfSquares and allFinite read values back without consuming', () => {
    const x = f64([3, -4]);
    expect(jaxArrayOps.sumOfSquares(x)).toBe(25);
    expect(jaxArrayOps.allFinite(x)).toBe(true);
    const y = f32([1, Number.NaN]);
    expect(jaxArrayOps.allFinite(y)).toBe(false);
    expect([x.refCount, y.refCount]).toEqual([1, 1]);
    disposeTree([x, y]);
  });
});

describe('documentation examples', () => {
  it('isJaxArray and jaxArrayOps.scale', () => {
    const x = np.array([1, 2, 3]);
    expect(isJaxArray(x)).toBe(true);
    expect(isJaxArray(new Float32Array(2))).toBe(false);
    const y = jaxArrayOps.scale(x, 2);
    expect(Array.from(read(y))).toEqual([2, 4, 6]);
    expect(x.refCount).toBe(1);
    disposeTree([x, y]);
  });

  it('tidyTransformation(radam(0.003)): one step of the quadratic', () => {
    const solver = tidyTransformation(radam(0.003));
    let params = f32([1, 2, 3]);
    let state = solver.init(params);
    const grads = params.ref.mul(2);
    const [updates, next] = tidy(() => solver.update(grads, state, params));
    const newParams = applyUpdates(params, updates);
    disposeTree([state, params, grads, updates]);
    [state, params] = [next, newParams];
    expect(Array.from(read(params))).toEqual(Array.from(Float32Array.of(0.994, 1.988, 2.982)));
    disposeTree([state, params]);
  });
});
