/**
 * Shared tables and tools of the in-place Optimizer suites (issue #11, "One step engine"): the
 * compositions, the kernel settings, the param cases (dtype x size), a seeded generator, bit-exact
 * snapshots of params and state, and the functional reference loop.
 */
import {
  type ArrayLeaf,
  adam,
  adamw,
  addDecayedWeights,
  applyIfFinite,
  applyUpdates,
  chain,
  clip,
  clipByGlobalNorm,
  type GradientTransformationExtraArgs,
  identity,
  injectHyperparams,
  lookahead,
  lookaheadParams,
  masked,
  multiSteps,
  type Optimizer,
  radam,
  scale,
  scaleByAdam,
  scaleByLearningRate,
  scaleByRadam,
  sgd,
  trace,
  treeLeaves,
  treeMap,
  treeZerosLike,
} from '../../src/index.js';
import { type OptimizerOptions, WASM_STAGING_THRESHOLD } from '../../src/inplace/optimizer.js';
import { joinPath } from '../../src/tree.js';
import { rng } from '../rng.js';

// ---------------------------------------------------------------------------------------------
// Seeded generator

export { rng };

/** A gradient-like value: mostly N(0, 1)-ish, sometimes 0, -0, tiny or large; NaN/Inf if asked. */
export function gradValue(next: () => number, nonFinite = false): number {
  const r = next();
  if (nonFinite && r < 0.02) return next() < 0.5 ? Number.NaN : -Infinity;
  if (r < 0.03) return 0;
  if (r < 0.05) return -0;
  if (r < 0.07) return (next() - 0.5) * 1e-30;
  if (r < 0.09) return (next() - 0.5) * 1e4;
  return (next() + next() + next() - 1.5) * 2;
}

// ---------------------------------------------------------------------------------------------
// Param cases

export type DType = 'f32' | 'f64' | 'mixed';
export type Size = 'small' | 'large';

/** Params are always `{ a, b: { c, d }, e }`; the case decides lengths and dtypes. */
export interface ParamCase {
  name: string;
  dtype: DType;
  size: Size;
  lengths: { a: number; c: number; d: number; e: number };
}

const SMALL = { a: 5, c: 17, d: 3, e: 0 };
// 25 elements in all, below WASM_STAGING_THRESHOLD (64); 1,237 above it.
const LARGE = { a: 1100, c: 130, d: 7, e: 1 };

export const CASES: ParamCase[] = (['f32', 'f64', 'mixed'] as const).flatMap((dtype) =>
  (['small', 'large'] as const).map((size) => ({
    name: `${dtype} ${size}`,
    dtype,
    size,
    lengths: size === 'small' ? SMALL : LARGE,
  })),
);

export type Base = { a: ArrayLeaf; b: { c: ArrayLeaf; d: ArrayLeaf }; e: ArrayLeaf };

function ctor(
  dtype: DType,
  leaf: 'a' | 'c' | 'd' | 'e',
): typeof Float32Array | typeof Float64Array {
  if (dtype === 'f32') return Float32Array;
  if (dtype === 'f64') return Float64Array;
  return leaf === 'c' ? Float64Array : Float32Array; // mixed: b.c is float64, the rest float32
}

/** A base tree of the case, filled from `fill`. Each leaf has a buffer of its own. */
export function baseTree(pc: ParamCase, fill: () => number): Base {
  const make = (leaf: 'a' | 'c' | 'd' | 'e') => {
    const C = ctor(pc.dtype, leaf);
    const x = new C(pc.lengths[leaf]);
    for (let i = 0; i < x.length; i++) x[i] = fill();
    return x;
  };
  const a = make('a');
  const c = make('c');
  const d = make('d');
  const e = make('e');
  return { a, b: { c, d }, e };
}

// ---------------------------------------------------------------------------------------------
// Compositions

/** Switches a test flips on a transformation it built: a poisoned schedule, a throwing member. */
export interface Knobs {
  /** Schedules return NaN while set. */
  poison: boolean;
  /** The user transformations throw while set (the in-place one after mutating its state). */
  boom: boolean;
}

export const newKnobs = (): Knobs => ({ poison: false, boom: false });

/** A schedule that is NaN while `k.poison` is set. */
const sched =
  (k: Knobs, lr: number) =>
  (c: number): number =>
    k.poison ? Number.NaN : lr / (1 + 0.1 * c);

/** Ways a composition can be made to throw in a step (besides bad inputs, which all share). */
export type Trigger = 'nan' | 'schedule' | 'boom';

export interface Composition {
  name: string;
  make(k: Knobs): GradientTransformationExtraArgs;
  /** Its params are `lookaheadParams(base)` and its grads `{ fast: g, slow: g }`. */
  lookahead?: boolean;
  /** `radam` the planner fuses. */
  fused?: boolean;
  /** No `bindInPlace`: the Optimizer runs the functional update. */
  functional?: boolean;
  triggers: readonly Trigger[];
  /** Gradients in the equivalence matrix may hold NaN and -Infinity. */
  nonFinite?: boolean;
  /** Used in the atomicity suite too (else the equivalence matrix only). */
  core?: boolean;
  /**
   * multiSteps: whether the next step emits an update (only then do the inner members run, so
   * only then can a NaN or a corrupted inner count be refused).
   */
  emits?: (state: any) => boolean;
  /** injectHyperparams: the hyperparameters given as constants (a schedule overwrites the rest). */
  constantHyperparams?: readonly string[];
}

/**
 * A user transformation that passes the updates through and records them (`state.last`, and
 * `state.calls`). Its in-place step does not promise `cannotThrow`: with `k.boom` set, `run`
 * writes its state and the output, then throws; `update` throws too.
 */
export function recorder(k: Knobs, inPlace: boolean): GradientTransformationExtraArgs {
  const tx: GradientTransformationExtraArgs = {
    init: (params) => ({ calls: 0, last: treeZerosLike(params) }),
    update(updates, state) {
      if (k.boom) throw new Error('recorder: boom');
      return [
        updates,
        { calls: state.calls + 1, last: treeMap((x: ArrayLeaf) => x.slice(), updates) },
      ];
    },
  };
  if (inPlace)
    tx.bindInPlace = (state) => {
      const last = treeLeaves<ArrayLeaf>(state.last);
      let boom = false;
      return {
        prepare() {
          boom = k.boom;
        },
        run(input, output) {
          for (let i = 0; i < input.length; i++) {
            last[i]!.set(input[i]!);
            if (output[i] !== input[i]) output[i]!.set(input[i]!);
          }
          state.calls++;
          if (boom) {
            for (const o of output) o.fill(Number.NaN);
            throw new Error('recorder: boom');
          }
        },
      };
    };
  return tx;
}

const maskTree = { a: true, b: { c: false, d: true }, e: false };

export const COMPOSITIONS: Composition[] = [
  // --- the compositions of issue #11 (matrix and atomicity) ---
  { name: 'radam(lr)', make: () => radam(3e-3), fused: true, triggers: [], core: true },
  {
    name: 'radam(lr, { weightDecay })',
    make: () => radam(3e-3, { weightDecay: 0.05 }),
    fused: true,
    triggers: [],
    core: true,
  },
  {
    name: 'radam(schedule)',
    make: (k) => radam(sched(k, 1e-2)),
    fused: true,
    triggers: ['schedule'],
    core: true,
  },
  {
    name: 'radam(lr, { nesterov, b1, negative weightDecay })',
    make: () => radam(1e-2, { nesterov: true, b1: 0.8, weightDecay: -0.02 }),
    fused: true,
    triggers: [],
  },
  { name: 'adam(lr)', fused: true, make: () => adam(1e-2), triggers: [], core: true },
  {
    name: 'chain(radam, applyIfFinite(scale(1), 0))',
    make: () => chain(radam(1e-2), applyIfFinite(scale(1), 0)),
    triggers: ['nan'],
    core: true,
  },
  {
    name: 'chain(trace(0.9), applyIfFinite(identity(), 0), scaleByLearningRate(0.1))',
    make: () => chain(trace(0.9), applyIfFinite(identity(), 0), scaleByLearningRate(0.1)),
    triggers: ['nan'],
    core: true,
  },
  {
    name: 'multiSteps(applyIfFinite(radam, 0), { everyK: 2 })',
    make: () => multiSteps(applyIfFinite(radam(1e-2), 0), { everyK: 2 }),
    triggers: ['nan'],
    core: true,
    emits: (st) => st.miniStep === 1,
  },
  {
    name: 'chain(injectHyperparams(radam)({ learningRate: schedule, b1 }), applyIfFinite(identity(), 0))',
    make: (k) =>
      chain(
        injectHyperparams((h: { learningRate: number; b1: number }) =>
          radam(h.learningRate, { b1: h.b1 }),
        )({ learningRate: sched(k, 1e-2), b1: 0.8 }),
        applyIfFinite(identity(), 0),
      ),
    triggers: ['nan', 'schedule'],
    core: true,
    constantHyperparams: ['b1'],
  },
  {
    name: 'chain(masked(scaleByAdam(), tree), scaleByLearningRate(schedule))',
    make: (k) => chain(masked(scaleByAdam(), maskTree), scaleByLearningRate(sched(k, 0.05))),
    triggers: ['schedule'],
    core: true,
  },
  {
    name: 'masked(radam, fn)',
    make: () =>
      masked(radam(1e-2, { weightDecay: 0.1 }), (p: Base) => ({
        a: p.a.length > 3,
        b: true,
        e: false,
      })),
    triggers: [],
    core: true,
  },
  {
    name: 'lookahead(radam(schedule), { syncPeriod: 3, resetState })',
    make: (k) =>
      lookahead(radam(sched(k, 1e-2)), { syncPeriod: 3, slowStepSize: 0.5, resetState: true }),
    lookahead: true,
    triggers: ['schedule'],
    core: true,
  },
  {
    name: 'lookahead(adam, { syncPeriod: 2 })',
    make: () => lookahead(adam(0.05), { syncPeriod: 2, slowStepSize: 0.3 }),
    lookahead: true,
    triggers: [],
  },
  {
    name: 'lookahead(adam, { syncPeriod: 1, resetState })',
    make: () => lookahead(adam(0.05), { syncPeriod: 1, slowStepSize: 0.5, resetState: true }),
    lookahead: true,
    triggers: [],
  },
  {
    name: 'lookahead(applyIfFinite(radam, 0), { syncPeriod: 4 })',
    make: () => lookahead(applyIfFinite(radam(1e-2), 0), { syncPeriod: 4, slowStepSize: 0.5 }),
    lookahead: true,
    triggers: ['nan'],
    core: true,
  },
  {
    name: 'chain(clipByGlobalNorm(1), radam(lr, { weightDecay }))',
    make: () => chain(clipByGlobalNorm(1), radam(1e-2, { weightDecay: 0.01 })),
    triggers: [],
    core: true,
  },
  {
    name: 'applyIfFinite(chain(clipByGlobalNorm(0.5), radam(schedule)), 0)',
    make: (k) => applyIfFinite(chain(clipByGlobalNorm(0.5), radam(sched(k, 1e-2))), 0),
    triggers: ['nan', 'schedule'],
    core: true,
  },
  {
    name: 'chain(radam, recorder) (a user step that throws in run after mutating)',
    make: (k) => chain(radam(1e-2), recorder(k, true)),
    triggers: ['boom'],
    core: true,
  },
  {
    name: 'chain(radam, recorder without bindInPlace) (functional engine)',
    make: (k) => chain(radam(1e-2), recorder(k, false)),
    functional: true,
    triggers: ['boom'],
    core: true,
  },
  {
    name: 'multiSteps(chain(radam, recorder), { everyK: 2 })',
    make: (k) => multiSteps(chain(radam(1e-2), recorder(k, true)), { everyK: 2 }),
    triggers: ['boom'],
    emits: (st) => st.miniStep === 1,
  },
  {
    name: 'lookahead(chain(radam, recorder), { syncPeriod: 2, resetState })',
    make: (k) =>
      lookahead(chain(radam(1e-2), recorder(k, true)), {
        syncPeriod: 2,
        slowStepSize: 0.5,
        resetState: true,
      }),
    lookahead: true,
    triggers: ['boom'],
  },
  {
    name: 'chain(masked(chain(radam, recorder), tree), scale(1))',
    make: (k) => chain(masked(chain(radam(1e-2), recorder(k, true)), maskTree), scale(1)),
    triggers: ['boom'],
  },
  // --- the factories of the former test/transforms_inplace.test.ts (matrix only) ---
  { name: 'addDecayedWeights(0.1)', fused: true, make: () => addDecayedWeights(0.1), triggers: [] },
  {
    name: 'addDecayedWeights(schedule)',
    fused: true,
    make: () => addDecayedWeights((c) => 0.1 / (c + 1)),
    triggers: [],
  },
  {
    name: 'addDecayedWeights with a mask',
    make: () => addDecayedWeights(0.3, { mask: maskTree }),
    triggers: [],
  },
  { name: 'clip(0.5)', fused: true, make: () => clip(0.5), triggers: [] },
  { name: 'clipByGlobalNorm(1)', make: () => clipByGlobalNorm(1), triggers: [] },
  {
    name: 'chain(clipByGlobalNorm(2), radam)',
    make: () => chain(clipByGlobalNorm(2), radam(0.01)),
    triggers: [],
  },
  { name: 'trace(0.9)', fused: true, make: () => trace(0.9), triggers: [] },
  {
    name: 'trace(0.9, nesterov)',
    fused: true,
    make: () => trace(0.9, { nesterov: true }),
    triggers: [],
  },
  { name: 'scaleByAdam()', fused: true, make: () => scaleByAdam(), triggers: [] },
  {
    name: 'scaleByAdam(nesterov, b1 0.8)',
    fused: true,
    make: () => scaleByAdam({ nesterov: true, b1: 0.8 }),
    triggers: [],
  },
  {
    name: 'adamw(1e-2, { weightDecay: 0.05 })',
    fused: true,
    make: () => adamw(1e-2, { weightDecay: 0.05 }),
    triggers: [],
  },
  { name: 'sgd(0.1)', fused: true, make: () => sgd(0.1), triggers: [] },
  {
    name: 'sgd(0.1, { momentum, nesterov })',
    fused: true,
    make: () => sgd(0.1, { momentum: 0.9, nesterov: true }),
    triggers: [],
  },
  {
    name: 'radam(0.01, { weightDecay, weightDecayMask })',
    make: () => radam(0.01, { weightDecay: 0.1, weightDecayMask: { a: false, b: true, e: true } }),
    triggers: [],
  },
  {
    name: 'L2: chain(addDecayedWeights, radam)',
    fused: true,
    make: () => chain(addDecayedWeights(0.01), radam(0.01)),
    triggers: [],
  },
  {
    name: 'masked(trace, fn)',
    make: () => masked(trace(0.5), (p: Base) => ({ a: p.a.length > 2, b: true, e: true })),
    triggers: [],
  },
  {
    name: 'injectHyperparams(radam) constant',
    make: () =>
      injectHyperparams((h: { learningRate: number; b1: number }) =>
        radam(h.learningRate, { b1: h.b1 }),
      )({ learningRate: 0.01, b1: 0.8 }),
    triggers: [],
    constantHyperparams: ['learningRate', 'b1'],
  },
  {
    name: 'injectHyperparams(adamw) scheduled',
    make: () =>
      injectHyperparams((h: { learningRate: number; weightDecay: number }) =>
        adamw(h.learningRate, { weightDecay: h.weightDecay }),
      )({ learningRate: (c: number) => 0.01 * (c + 1), weightDecay: 0.1 }),
    triggers: [],
    constantHyperparams: ['weightDecay'],
  },
  {
    name: 'multiSteps(adam, 3)',
    make: () => multiSteps(adam(0.1), { everyK: 3 }),
    triggers: [],
    emits: (st) => st.miniStep === 2,
  },
  {
    name: 'multiSteps(sgd, sum, everyK schedule)',
    make: () => multiSteps(sgd(0.1), { everyK: (s) => s + 1, useGradMean: false }),
    triggers: [],
    emits: (st) => st.miniStep === st.gradientStep,
  },
  {
    name: 'applyIfFinite(radam(lr, { weightDecay }), 100) with NaN and -Infinity gradients',
    make: () => applyIfFinite(radam(0.01, { weightDecay: 0.01 }), 100),
    triggers: [],
    nonFinite: true,
  },
  {
    name: 'chain(scaleByRadam(), scale(-1), scale(0.1)) (stage by stage)',
    fused: true,
    make: () => chain(scaleByRadam(), scale(-1), scale(0.1)),
    triggers: [],
  },
  {
    name: 'scaleByLearningRate(schedule) alone',
    fused: true,
    make: (k) => scaleByLearningRate(sched(k, 0.5)),
    triggers: ['schedule'],
  },
];

// ---------------------------------------------------------------------------------------------
// Kernel settings

export interface Setting {
  name: string;
  options: OptimizerOptions;
}

export const SETTINGS: Setting[] = [
  { name: '{}', options: {} },
  { name: "{ kernel: 'js' }", options: { kernel: 'js' } },
  { name: "{ kernel: 'wasm' }", options: { kernel: 'wasm' } },
  { name: "{ kernel: 'generic' }", options: { kernel: 'generic' } },
  { name: '{ threads: 2 }', options: { threads: 2 } },
  { name: '{ arena: true }', options: { arena: true } },
  { name: "{ arena: true, kernel: 'js' }", options: { arena: true, kernel: 'js' } },
  { name: '{ arena: true, threads: 2 }', options: { arena: true, threads: 2 } },
];

/** The kernel the Optimizer should report (WebAssembly SIMD loads in this runtime). */
export function expectedKernel(c: Composition, s: Setting, pc: ParamCase): string {
  if (c.functional) return 'functional';
  if (!c.fused) return 'generic';
  const o = s.options;
  if (o.kernel === 'generic') return 'generic';
  if (o.kernel === 'js') return 'js';
  if (o.kernel === 'wasm' || o.arena) return 'wasm';
  const total = pc.lengths.a + pc.lengths.c + pc.lengths.d + pc.lengths.e;
  return total >= WASM_STAGING_THRESHOLD ? 'wasm' : 'js';
}

// ---------------------------------------------------------------------------------------------
// Problems: params, grads and the functional reference

export interface Problem {
  /** The params to give the Optimizer (a fresh copy each call). */
  params(): any;
  /** The gradient of step `t` as the Optimizer takes it (a fresh tree each call). */
  grads(t: number): any;
  /** The same gradient as the functional `update` takes it. */
  functionalGrads(t: number): any;
}

export function problem(c: Composition, pc: ParamCase, seed: number): Problem {
  const p0 = baseTree(
    pc,
    (() => {
      const next = rng(seed);
      return () => (next() - 0.5) * 4;
    })(),
  );
  const base = (t: number): Base => {
    const next = rng(seed * 7919 + t + 1);
    return baseTree(pc, () => gradValue(next, c.nonFinite));
  };
  return {
    params: () => (c.lookahead ? lookaheadParams(copyTree(p0)) : copyTree(p0)),
    grads: (t) => {
      const g = base(t);
      return c.lookahead ? { fast: g, slow: copyTree(g) } : g;
    },
    functionalGrads: base,
  };
}

/** A deep copy of a tree of typed arrays (same structure, fresh buffers). */
export function copyTree<T>(tree: T): T {
  return treeMap((x: unknown) => (ArrayBuffer.isView(x) ? (x as ArrayLeaf).slice() : x), tree);
}

/** The functional loop: `[u, s] = tx.update(g, s, p); p = applyUpdates(p, u)`. */
export class Functional {
  state: unknown;
  constructor(
    readonly tx: GradientTransformationExtraArgs,
    public params: unknown,
  ) {
    this.state = tx.init(params);
  }

  step(g: unknown): void {
    const [u, s] = this.tx.update(g, this.state, this.params);
    this.state = s;
    this.params = applyUpdates(this.params, u);
  }
}

// ---------------------------------------------------------------------------------------------
// Bits

/** The bytes of a view (none for a detached one, whose byteLength is 0). */
const bytes = (x: ArrayBufferView): Uint8Array =>
  x.byteLength === 0
    ? new Uint8Array(0)
    : new Uint8Array(x.buffer, x.byteOffset, x.byteLength).slice();

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Every place of a tree, with its path as the library writes it (`[0].mu.a`). */
export interface Place {
  path: string;
  /** The value's identity (containers and arrays), or the value. */
  ref: unknown;
  kind: 'f32' | 'f64' | 'array-other' | 'container' | 'number' | 'other';
  /** Bytes of an array; the number or other value. */
  value: unknown;
}

function tag(x: unknown): string | undefined {
  return ArrayBuffer.isView(x)
    ? (x as { [Symbol.toStringTag]?: string })[Symbol.toStringTag]
    : undefined;
}

export function places(tree: unknown, path = '', out: Place[] = []): Place[] {
  const t = tag(tree);
  if (t === 'Float32Array' || t === 'Float64Array')
    out.push({
      path,
      ref: tree,
      kind: t === 'Float32Array' ? 'f32' : 'f64',
      value: bytes(tree as ArrayBufferView),
    });
  else if (t !== undefined)
    out.push({ path, ref: tree, kind: 'array-other', value: bytes(tree as ArrayBufferView) });
  else if (Array.isArray(tree)) {
    out.push({ path, ref: tree, kind: 'container', value: tree.length });
    tree.forEach((x, i) => {
      places(x, joinPath(path, i), out);
    });
  } else if (tree !== null && typeof tree === 'object') {
    const keys = Object.keys(tree).sort();
    out.push({ path, ref: tree, kind: 'container', value: keys.join(',') });
    for (const k of keys) places((tree as Record<string, unknown>)[k], joinPath(path, k), out);
  } else if (typeof tree === 'number') out.push({ path, ref: tree, kind: 'number', value: tree });
  else out.push({ path, ref: tree, kind: 'other', value: tree });
  return out;
}

/**
 * The first difference between two lists of places, or undefined. `identity`: containers and
 * arrays must also be the same objects (a snapshot of the same optimizer).
 */
export function diffPlaces(
  a: Place[],
  b: Place[],
  identity: boolean,
  nanEqual = false,
): string | undefined {
  if (a.length !== b.length)
    return `${a.length} places, then ${b.length}: [${a.map((p) => p.path).join(' ')}] vs [${b.map((p) => p.path).join(' ')}]`;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.path !== y.path || x.kind !== y.kind)
      return `${x.path} (${x.kind}) vs ${y.path} (${y.kind})`;
    if (identity && (x.kind === 'container' || x.kind.startsWith('f') || x.kind === 'array-other'))
      if (x.ref !== y.ref) return `${x.path}: a different object`;
    if (x.value instanceof Uint8Array) {
      if (!sameBytes(x.value, y.value as Uint8Array)) {
        if (!nanEqual || (x.kind !== 'f32' && x.kind !== 'f64'))
          return `${x.path}: different bits${firstDiff(x, y)}`;
        // Values equal under Object.is (every NaN equal, -0 not 0): only NaN bits may differ.
        const C = x.kind === 'f32' ? Float32Array : Float64Array;
        const u = new C((x.value as Uint8Array).slice().buffer);
        const v = new C((y.value as Uint8Array).slice().buffer);
        for (let i = 0; i < u.length; i++)
          if (!Object.is(u[i], v[i])) return `${x.path}[${i}]: ${u[i]} vs ${v[i]}`;
      }
    } else if (!Object.is(x.value, y.value))
      return `${x.path}: ${String(x.value)} vs ${String(y.value)}`;
  }
  return undefined;
}

/** ` at [i]: <hex> vs <hex>` for the first differing element of two float arrays' places. */
function firstDiff(x: Place, y: Place): string {
  const size = x.kind === 'f32' ? 4 : x.kind === 'f64' ? 8 : 1;
  const a = x.value as Uint8Array;
  const b = y.value as Uint8Array;
  for (let i = 0; i < a.length; i += size) {
    const ea = Array.from(a.subarray(i, i + size)).reverse();
    const eb = Array.from(b.subarray(i, i + size)).reverse();
    if (ea.some((v, j) => v !== eb[j])) {
      const h = (e: number[]) => e.map((v) => v.toString(16).padStart(2, '0')).join('');
      return ` at [${i / size}]: ${h(ea)} vs ${h(eb)}`;
    }
  }
  return '';
}

/** Everything a step could change: the params tree, the state tree, and (arena) the grads. */
export interface Snapshot {
  params: Place[];
  state: Place[];
  stateRoot: unknown;
  /** The arena's grads buffers (an empty list without an arena). */
  grads: Place[];
}

export function snapshot(opt: Optimizer<any>): Snapshot {
  return {
    params: places(opt.params),
    state: places(opt.state),
    stateRoot: opt.state,
    grads: opt.grads === undefined ? [] : places(opt.grads),
  };
}

/** Throws unless `opt` is exactly as in `snap` (same objects, same bits). */
export function assertUnchanged(opt: Optimizer<any>, snap: Snapshot, what: string): void {
  if (opt.state !== snap.stateRoot) throw new Error(`${what}: opt.state is another object`);
  const p = diffPlaces(snap.params, places(opt.params), true);
  if (p) throw new Error(`${what}: params changed: params${p}`);
  const s = diffPlaces(snap.state, places(opt.state), true);
  if (s) throw new Error(`${what}: state changed: state${s}`);
  const g = diffPlaces(snap.grads, opt.grads === undefined ? [] : places(opt.grads), true);
  if (g) throw new Error(`${what}: the arena's grads changed: grads${g}`);
}

/** Throws unless params and state of `a` have the bits of those of `b`. */
export function assertSameBits(a: Snapshot, b: Snapshot, what: string, nanEqual = false): void {
  const p = diffPlaces(a.params, b.params, false, nanEqual);
  if (p) throw new Error(`${what}: params differ: params${p}`);
  const s = diffPlaces(a.state, b.state, false, nanEqual);
  if (s) throw new Error(`${what}: state differs: state${s}`);
}

/** Bits of the params and state of the functional loop, as places. */
export function functionalSnapshot(f: Functional): Snapshot {
  return { params: places(f.params), state: places(f.state), stateRoot: f.state, grads: [] };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Writes a gradient tree into the arena's grads buffers (leaf by leaf). */
export function writeArenaGrads(opt: Optimizer<any>, g: unknown): void {
  const dst = treeLeaves<ArrayLeaf>(opt.grads);
  const src = treeLeaves<ArrayLeaf>(g);
  dst.forEach((d, i) => {
    d.set(src[i]!);
  });
}
