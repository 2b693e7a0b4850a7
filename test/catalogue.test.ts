/**
 * The optimizer catalogue against an independent float64 NumPy reference
 * (scripts/reference_catalogue.py, test/fixtures/catalogue_reference.json; layout in
 * scripts/README.md). Each fixture case names the optax-ts call (`members`: one transformation, or
 * several chained); this suite builds it from `src/index.ts`'s exports and runs the fixture's
 * quadratic problem:
 *
 * 1. float64, functional (`init`/`update`/`applyUpdates`): every step's params match the
 *    reference within {@link RTOL}/{@link ATOL};
 * 2. float32: the in-place `Optimizer` gives the functional float32 path's bits exactly, every
 *    element of every step;
 * 3. float32 stays near the float64 reference for the first {@link F32_STEPS} steps.
 */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import type { GradientTransformationExtraArgs } from '../src/index.js';
import * as optax from '../src/index.js';

/**
 * Tolerance of the float64 comparison: |x - ref| <= RTOL * |ref| + ATOL per element, every step.
 * Both sides are float64 and follow optax's operation order, but not bit for bit: V8's Math.pow
 * and glibc's pow (b^t in bias corrections) differ by an ulp now and then, NumPy sums reductions
 * (norms, means, matrix products) pairwise or through BLAS while the port sums left to right, and
 * 1/sqrt(x) vs rsqrt-like forms round differently. Each such difference is ~1e-16 relative; over
 * 50 steps they grow (the moment estimates feed back into the params) but stay far below 1e-12 in
 * the measured cases (the summary printed after the run gives each case's worst; the cases that
 * ran when this was written stayed within 5e-16). The reference itself is well conditioned: a one-ulp
 * change of p0 moves no case's trajectory by more than 1.1e-14 (scaled) over the 50 steps, so 1e-12
 * is ~100 times that. Params are O(1), so ATOL only matters for elements that pass near zero.
 */
const RTOL = 1e-12;
const ATOL = 1e-13;

/**
 * float32 against the float64 reference: the first F32_STEPS steps, within F32_TOL * max(1, |ref|).
 * Rounding the problem's inputs (p0, a, c) to float32 alone moves the float64 reference's first 10
 * steps by up to 1e-6 (scaleBySm3; most cases 1e-7, measured with the script's float64 model), and
 * float32 arithmetic adds a few ulps (6e-8) per operation; 5e-5 leaves a wide margin while still
 * catching a wrong formula (any real semantic difference shows up at 1e-3 or more).
 */
const F32_STEPS = 10;
const F32_TOL = 5e-5;

interface LeafFixture {
  shape: number[];
  p0: number[];
  a: number[];
  c: number[];
}
interface Member {
  fn: string;
  args: unknown[];
}
interface Case {
  name: string;
  members: Member[];
  steps: number;
  leaves: Record<string, LeafFixture>;
  params: Record<string, number[][]>;
  loss?: string;
  extra?: { eval_params?: Record<string, number[][]>; value?: number[] };
}

const fixture: { optax_commit: string; cases: Case[] } = JSON.parse(
  readFileSync(new URL('./fixtures/catalogue_reference.json', import.meta.url), 'utf8'),
);

type Leaves = Record<string, Float64Array | Float32Array>;
type ArrayCtor = Float64ArrayConstructor | Float32ArrayConstructor;

const exported = optax as unknown as Record<string, unknown>;

/** The fns of a case that `src/index.ts` does not export. */
const missingFns = (cs: Case): string[] =>
  cs.members.map((m) => m.fn).filter((fn) => typeof exported[fn] !== 'function');

/** Builds the case's transformation: its members called with their fixture args, chained if several. */
function build(cs: Case): GradientTransformationExtraArgs {
  const txs = cs.members.map((m) =>
    (exported[m.fn] as (...args: unknown[]) => GradientTransformationExtraArgs)(
      ...structuredClone(m.args),
    ),
  );
  return txs.length === 1 ? txs[0]! : optax.chain(...txs);
}

/** A leaf of the given kind carrying the fixture's shape. */
function leaf(Ctor: ArrayCtor, values: ArrayLike<number>, shape: number[]) {
  return Object.assign(Ctor.from(values), { shape });
}

/** Re-attaches `shape` to every leaf of `tree` that lost it (e.g. a fresh array from applyUpdates). */
function withShapes<T extends Leaves>(tree: T, cs: Case): T {
  for (const [k, v] of Object.entries(tree))
    if (!('shape' in v)) Object.assign(v, { shape: cs.leaves[k]!.shape });
  return tree;
}

/** g = a * (p - c) per element, in the leaf's precision (one rounding per operation). */
function grads(
  Ctor: ArrayCtor,
  p: Leaves,
  cs: Case,
  ac: Record<string, [Leaves[string], Leaves[string]]>,
): Leaves {
  const out: Leaves = {};
  for (const k of Object.keys(cs.leaves)) {
    const [a, c] = ac[k]!;
    const pk = p[k]!;
    const g = leaf(Ctor, new Array<number>(pk.length).fill(0), cs.leaves[k]!.shape);
    for (let i = 0; i < pk.length; i++) g[i] = a[i]! * (pk[i]! - c[i]!);
    out[k] = g;
  }
  return out;
}

/**
 * The loss handed to polyakSgd as `{ value }`: 0.5 * the left-to-right float64 sum of
 * (a * d) * d, d = p - c, over w's flat elements then b's (the fixture's definition; for float32
 * leaves the same sum of their values in float64).
 */
function loss(p: Leaves, cs: Case, ac: Record<string, [Leaves[string], Leaves[string]]>): number {
  let s = 0;
  for (const k of Object.keys(cs.leaves)) {
    const [a, c] = ac[k]!;
    const pk = p[k]!;
    for (let i = 0; i < pk.length; i++) {
      const d = pk[i]! - c[i]!;
      s += a[i]! * d * d;
    }
  }
  return 0.5 * s;
}

interface Run {
  /** params after every step, per leaf (copies) */
  params: Record<string, Float64Array | Float32Array>[];
  evalParams: Record<string, Float64Array | Float32Array>[];
  /** the loss passed to each update (polyakSgd only) */
  values: number[];
}

const usesValue = (cs: Case): boolean => cs.members.some((m) => m.fn === 'polyakSgd');

function problem(Ctor: ArrayCtor, cs: Case) {
  const ac: Record<string, [Leaves[string], Leaves[string]]> = {};
  const p0: Leaves = {};
  for (const [k, l] of Object.entries(cs.leaves)) {
    ac[k] = [Ctor.from(l.a), Ctor.from(l.c)];
    p0[k] = leaf(Ctor, l.p0, l.shape);
  }
  return { ac, p0 };
}

/** The functional loop: init, then steps x (grads, update, applyUpdates). */
function runFunctional(
  tx: GradientTransformationExtraArgs,
  cs: Case,
  Ctor: ArrayCtor,
  steps: number,
): Run {
  const { ac, p0 } = problem(Ctor, cs);
  let p = p0;
  let state = tx.init(p);
  const evalFn = exported.scheduleFreeEvalParams as
    | ((state: unknown, params: Leaves) => Leaves)
    | undefined;
  const run: Run = { params: [], evalParams: [], values: [] };
  for (let s = 0; s < steps; s++) {
    const g = grads(Ctor, p, cs, ac);
    let u: unknown;
    if (usesValue(cs)) {
      const value = loss(p, cs, ac);
      run.values.push(value);
      [u, state] = tx.update(g, state, p, { value });
    } else [u, state] = tx.update(g, state, p);
    p = withShapes(optax.applyUpdates(p, u) as Leaves, cs);
    run.params.push(Object.fromEntries(Object.entries(p).map(([k, v]) => [k, v.slice()])));
    if (cs.extra?.eval_params && typeof evalFn === 'function') {
      const ev = evalFn(state, p);
      run.evalParams.push(Object.fromEntries(Object.entries(ev).map(([k, v]) => [k, v.slice()])));
    }
  }
  return run;
}

/** The in-place Optimizer on the same problem. */
function runInPlace(
  tx: GradientTransformationExtraArgs,
  cs: Case,
  Ctor: ArrayCtor,
  steps: number,
): Run {
  const { ac, p0 } = problem(Ctor, cs);
  const opt = new optax.Optimizer(tx, p0);
  const run: Run = { params: [], evalParams: [], values: [] };
  for (let s = 0; s < steps; s++) {
    const g = grads(Ctor, p0, cs, ac);
    if (usesValue(cs)) opt.step(g, { value: loss(p0, cs, ac) });
    else opt.step(g);
    run.params.push(Object.fromEntries(Object.entries(p0).map(([k, v]) => [k, v.slice()])));
  }
  return run;
}

interface Worst {
  /** max over steps and elements of |x - ref| / max(1, |ref|) */
  rel: number;
  /** the step (1-based) and leaf where it occurs */
  at: string;
  /** the same for the float32 path's first F32_STEPS steps */
  f32: number;
}
const summary = new Map<string, Worst>();

/** Compares a trajectory with the fixture's; returns the worst scaled difference and where. */
function compare(
  got: Record<string, Float64Array | Float32Array>[],
  want: Record<string, number[][]>,
  steps: number,
  tol: (ref: number) => number,
  label: string,
): { worst: number; at: string } {
  let worst = 0;
  let at = '-';
  for (let s = 0; s < steps; s++)
    for (const [k, rows] of Object.entries(want)) {
      const ref = rows[s]!;
      const x = got[s]![k]!;
      expect(x.length, `${label} ${k} length`).toBe(ref.length);
      for (let i = 0; i < ref.length; i++) {
        const d = Math.abs(x[i]! - ref[i]!);
        const scaled = d / Math.max(1, Math.abs(ref[i]!));
        if (!(scaled <= worst)) {
          worst = scaled;
          at = `step ${s + 1} ${k}[${i}]`;
        }
        if (!(d <= tol(ref[i]!)))
          expect.fail(
            `${label}: step ${s + 1} ${k}[${i}] = ${x[i]}, reference ${ref[i]} (|diff| ${d} > ${tol(ref[i]!)})`,
          );
      }
    }
  return { worst, at };
}

describe(`optax catalogue against the NumPy reference (optax ${fixture.optax_commit.slice(0, 10)})`, () => {
  it('the fixture has unique case names and two leaves per case', () => {
    const names = fixture.cases.map((c) => c.name);
    expect(new Set(names).size).toBe(names.length);
    for (const cs of fixture.cases) {
      expect(Object.keys(cs.leaves)).toEqual(['w', 'b']);
      expect(cs.params.w!.length).toBe(cs.steps);
    }
  });

  for (const cs of fixture.cases) {
    const title = `${cs.name}: ${cs.members.map((m) => m.fn).join(' → ')}`;
    it(title, () => {
      expect(missingFns(cs), 'functions src/index.ts does not export').toEqual([]);
      const tx = build(cs);
      // 1. float64 functional against the reference
      const f64 = runFunctional(tx, cs, Float64Array, cs.steps);
      const r = compare(
        f64.params,
        cs.params,
        cs.steps,
        (ref) => RTOL * Math.abs(ref) + ATOL,
        'float64',
      );
      if (cs.extra?.eval_params) {
        expect(typeof exported.scheduleFreeEvalParams, 'scheduleFreeEvalParams is exported').toBe(
          'function',
        );
        compare(
          f64.evalParams,
          cs.extra.eval_params,
          cs.steps,
          (ref) => RTOL * Math.abs(ref) + ATOL,
          'eval params',
        );
      }
      if (cs.extra?.value)
        cs.extra.value.forEach((v, s) => {
          const d = Math.abs(f64.values[s]! - v);
          expect(d, `loss before step ${s + 1}`).toBeLessThanOrEqual(RTOL * Math.abs(v) + ATOL);
        });
      // 2. float32: in place bit for bit with the functional path
      const f32 = runFunctional(tx, cs, Float32Array, F32_STEPS);
      const inPlace = runInPlace(tx, cs, Float32Array, F32_STEPS);
      for (let s = 0; s < F32_STEPS; s++)
        for (const k of Object.keys(cs.leaves)) {
          const a = inPlace.params[s]![k]!;
          const b = f32.params[s]![k]!;
          for (let i = 0; i < a.length; i++)
            if (!Object.is(a[i], b[i]))
              expect.fail(
                `float32 in place: step ${s + 1} ${k}[${i}] = ${a[i]}, functional ${b[i]}`,
              );
        }
      // 3. float32 near the float64 reference early on
      const r32 = compare(
        f32.params,
        cs.params,
        F32_STEPS,
        (ref) => F32_TOL * Math.max(1, Math.abs(ref)),
        'float32',
      );
      summary.set(cs.name, { rel: r.worst, at: r.at, f32: r32.worst });
    });
  }

  afterAll(() => {
    const rows = fixture.cases.map((cs) => {
      const w = summary.get(cs.name);
      if (w === undefined) return `${cs.name.padEnd(44)} failed`;
      return `${cs.name.padEnd(44)} ${w.rel.toExponential(2).padStart(9)}  ${w.at.padEnd(18)} ${w.f32.toExponential(2).padStart(9)}`;
    });
    console.log(
      [
        `catalogue vs NumPy float64 reference: worst |x - ref| / max(1, |ref|) over ${fixture.cases[0]?.steps} steps (float64), and over the first ${F32_STEPS} steps (float32)`,
        `${'case'.padEnd(44)} ${'float64'.padStart(9)}  ${'where'.padEnd(18)} ${'float32'.padStart(9)}`,
        ...rows,
      ].join('\n'),
    );
  });
});
