/**
 * Issue #11, promise 1: a step of the in-place Optimizer that throws changes nothing (params,
 * every state leaf, counts, hyperparameters, the arena's grads buffers; the same objects, the same
 * bits), for every composition and every kernel setting, and the next valid step gives exactly the
 * bits of a twin optimizer that never saw the refused step.
 *
 * Each test runs a victim and a twin side by side; before every bad step the victim is snapshotted,
 * the bad step must throw the expected error, the snapshot must still hold, and then one valid step
 * on both must leave them bit-identical. Bad steps: NaN gradients refused by applyIfFinite(…, 0), a
 * schedule returning NaN, a member that throws in run after mutating its state, malformed gradient
 * trees (new and reused), corrupted state counts and hyperparameters, replaced state leaves and
 * containers.
 */
import { afterAll, describe, expect, it } from 'vitest';
import * as api from '../../src/index.js';
import { type ArrayLeaf, chain, Optimizer, radam, TreeStructureError } from '../../src/index.js';
import { treeSlots } from '../../src/tree.js';
import {
  assertSameBits,
  assertUnchanged,
  CASES,
  COMPOSITIONS,
  type Composition,
  newKnobs,
  type ParamCase,
  problem,
  recorder,
  SETTINGS,
  type Setting,
  snapshot,
  writeArenaGrads,
} from './helpers.js';

type ErrorClass = new (...args: any[]) => Error;

/** One bad step: `make` prepares it (and returns how to undo the preparation), `run` does it. */
interface BadStep {
  kind: string;
  error: ErrorClass | ErrorClass[];
  message: RegExp | string;
}

const COUNT_KEYS = new Set([
  'count',
  'miniStep',
  'gradientStep',
  'stepsSinceSync',
  'notfiniteCount',
  'totalNotfinite',
]);

/**
 * Known failures, by kind label (regex) and composition name (regex) and setting name (regex); the
 * main table skips them; each has its own test of what does happen.
 */
const KNOWN: { kind: RegExp; comp: RegExp; setting: RegExp; why: string }[] = [
  {
    // Documented limit (README, docs/errors.md): a grads tree that is the same object as the last
    // step's is matched by its known keys only, so a key added to it is ignored; tested below.
    kind: /^grads with an extra key z \(reused tree\)$/,
    comp: /./,
    setting: /./,
    why: 'documented limit: a key added to a reused grads tree is ignored',
  },
];

function isKnown(c: Composition, s: Setting, kind: string): boolean {
  return KNOWN.some((k) => k.kind.test(kind) && k.comp.test(c.name) && k.setting.test(s.name));
}

function expectThrows(fn: () => void, bad: BadStep, label: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  if (caught === undefined) throw new Error(`${label}: the bad step did not throw`);
  const classes = Array.isArray(bad.error) ? bad.error : [bad.error];
  const e = caught as Error;
  if (!classes.some((C) => e instanceof C))
    throw new Error(
      `${label}: threw ${e?.constructor?.name} (${String(e?.message ?? e)}), expected ${classes.map((C) => C.name).join(' or ')}`,
    );
  const ok =
    typeof bad.message === 'string' ? e.message.includes(bad.message) : bad.message.test(e.message);
  if (!ok)
    throw new Error(`${label}: message ${JSON.stringify(e.message)} does not match ${bad.message}`);
}

/** The path of grads leaf `a` (under `fast` for lookahead). */
const aPath = (c: Composition) => (c.lookahead ? 'grads.fast.a' : 'grads.a');
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The base part of a grads tree (the `fast` half for lookahead). */
const baseOf = (c: Composition, g: any) => (c.lookahead ? g.fast : g);

/**
 * Runs every bad step that applies to composition `c` (those whose kind passes `only`) on a victim,
 * each followed by one valid step on victim and twin and a bit comparison.
 */
function attack(
  c: Composition,
  s: Setting,
  pc: ParamCase,
  seed: number,
  only: (k: string) => boolean,
) {
  const pr = problem(c, pc, seed);
  const kv = newKnobs();
  const victim = new Optimizer(c.make(kv), pr.params(), s.options);
  const twin = new Optimizer(c.make(newKnobs()), pr.params(), s.options);
  const arena = s.options.arena === true;
  let t = 0;
  let ran = 0;
  const valid = (label: string) => {
    victim.step(pr.grads(t));
    twin.step(pr.grads(t));
    t++;
    assertSameBits(snapshot(victim), snapshot(twin), label);
  };
  /** Valid steps until the next one emits an update (multiSteps), so inner members run. */
  const align = () => {
    if (c.emits === undefined) return;
    for (let i = 0; i < 100; i++) {
      if (c.emits(victim.state)) return;
      valid('aligning');
    }
    throw new Error('could not align on an emitting step');
  };
  /** One bad step: prepare, snapshot, throw, unchanged, undo, then a valid step on both. */
  const bad = (
    b: BadStep,
    prepare: () => { run: () => void; undo?: () => void; stillBad?: () => boolean },
    setup?: () => void,
    needsEmit = false,
  ) => {
    if (!only(b.kind) || isKnown(c, s, b.kind)) return;
    if (needsEmit) align();
    setup?.();
    const label = `${b.kind} (after ${t} valid steps)`;
    const snap = snapshot(victim);
    const p = prepare();
    expectThrows(p.run, b, label);
    if (p.stillBad && !p.stillBad())
      throw new Error(`${label}: the step rewrote the corrupted slot`);
    p.undo?.();
    assertUnchanged(victim, snap, label);
    valid(`${label}, then a valid step`);
    ran++;
  };

  for (let i = 0; i < 3; i++) valid(`warm-up ${i}`);

  // --- the composition's own triggers ---
  if (c.triggers.includes('nan')) {
    bad(
      {
        kind: 'NaN gradient refused by applyIfFinite(…, 0)',
        error: RangeError,
        message: /applyIfFinite: 1 consecutive steps had NaN/,
      },
      () => {
        const g = pr.grads(t);
        baseOf(c, g).b.c[1] = Number.NaN;
        return { run: () => victim.step(g) };
      },
      undefined,
      true,
    );
    bad(
      {
        kind: 'Infinity gradient refused by applyIfFinite(…, 0)',
        error: RangeError,
        message: /applyIfFinite: 1 consecutive steps had NaN/,
      },
      () => {
        const g = pr.grads(t);
        baseOf(c, g).a[0] = Infinity;
        return { run: () => victim.step(g) };
      },
      undefined,
      true,
    );
    if (arena)
      bad(
        {
          kind: 'NaN written into the arena grads, step()',
          error: RangeError,
          message: /applyIfFinite: 1 consecutive steps had NaN/,
        },
        () => ({ run: () => victim.step() }),
        () => {
          const g = pr.grads(t);
          baseOf(c, g).a[2] = Number.NaN;
          writeArenaGrads(victim, g);
        },
        true,
      );
  }
  if (c.triggers.includes('schedule'))
    bad(
      {
        kind: 'schedule returns NaN',
        error: RangeError,
        message: /schedule returned NaN at count \d+/,
      },
      () => {
        kv.poison = true;
        const g = pr.grads(t);
        return { run: () => victim.step(g), undo: () => (kv.poison = false) };
      },
    );
  if (c.triggers.includes('boom'))
    bad(
      { kind: 'member throws in run after mutating', error: Error, message: 'recorder: boom' },
      () => {
        kv.boom = true;
        const g = pr.grads(t);
        return { run: () => victim.step(g), undo: () => (kv.boom = false) };
      },
      undefined,
      true,
    );

  // --- malformed gradient trees ---
  const lengthA = pc.lengths.a;
  const other = (x: ArrayLeaf) =>
    x instanceof Float32Array ? new Float64Array(x.length) : new Float32Array(x.length);
  const treeCases: [BadStep, (g: any) => void][] = [
    [
      { kind: 'grads missing key e', error: TreeStructureError, message: /"e"/ },
      (g) => delete baseOf(c, g).e,
    ],
    [
      { kind: 'grads with an extra key z', error: TreeStructureError, message: /"z"/ },
      (g) => (baseOf(c, g).z = new Float32Array(1)),
    ],
    [
      {
        kind: 'grads leaf of the wrong length',
        error: TreeStructureError,
        message: new RegExp(`${esc(aPath(c))}: length ${lengthA + 1}, params has ${lengthA}`),
      },
      (g) => (baseOf(c, g).a = new (baseOf(c, g).a.constructor)(lengthA + 1)),
    ],
    [
      {
        kind: 'grads leaf of the other float type',
        error: TypeError,
        message: new RegExp(`${esc(aPath(c))}: Float(32|64)Array, params has Float(32|64)Array`),
      },
      (g) => (baseOf(c, g).a = other(baseOf(c, g).a)),
    ],
    [
      {
        kind: 'grads leaf Int32Array',
        error: TypeError,
        message: new RegExp(`${esc(aPath(c))}: unsupported leaf Int32Array`),
      },
      (g) => (baseOf(c, g).a = new Int32Array(lengthA)),
    ],
    [
      {
        kind: 'grads leaf a number',
        error: [TypeError, TreeStructureError],
        message: new RegExp(esc(aPath(c))),
      },
      (g) => (baseOf(c, g).a = 1),
    ],
    [
      {
        kind: 'grads leaf undefined',
        error: TypeError,
        message: new RegExp(`${esc(aPath(c))}: unsupported leaf undefined`),
      },
      (g) => (baseOf(c, g).a = undefined),
    ],
    [
      { kind: 'grads subtree a list', error: TreeStructureError, message: /grads(\.fast)?\.b/ },
      (g) => (baseOf(c, g).b = [baseOf(c, g).b.c, baseOf(c, g).b.d]),
    ],
  ];
  for (const [b, mutate] of treeCases) {
    bad(b, () => {
      const g = pr.grads(t);
      mutate(g);
      return { run: () => victim.step(g) };
    });
    // The same tree object as the last valid step, changed since (the Optimizer matches a reused
    // tree by its known keys only).
    let reused: any;
    bad(
      { ...b, kind: `${b.kind} (reused tree)` },
      () => {
        mutate(reused);
        return { run: () => victim.step(reused) };
      },
      () => {
        reused = pr.grads(t);
        victim.step(reused);
        twin.step(pr.grads(t));
        t++;
      },
    );
  }
  bad({ kind: 'grads undefined', error: TypeError, message: /grads/ }, () => ({
    run: () => victim.step(arena ? null : (undefined as any)),
  }));

  // --- corrupted counts ---
  const slotAt = (path: string) => {
    const slot = treeSlots(victim.state, 'state').find((x) => x.path === path);
    if (!slot) throw new Error(`no slot ${path}`);
    return slot;
  };
  const countPaths = treeSlots(victim.state, 'state')
    .filter(
      (x) => x.leaf && COUNT_KEYS.has(String(x.key)) && typeof x.container[x.key] === 'number',
    )
    .map((x) => x.path);
  for (const path of countPaths)
    for (const value of [-1, '3', Number.NaN, 1.5, 2 ** 31]) {
      bad(
        {
          kind: `state${path} = ${typeof value === 'string' ? JSON.stringify(value) : value}`,
          error: [RangeError, TypeError],
          message: /count|must stay a number|miniStep|gradientStep|stepsSinceSync|notfinite/i,
        },
        () => {
          const slot = slotAt(path);
          const before = slot.container[slot.key];
          slot.container[slot.key] = value;
          return {
            run: () => victim.step(pr.grads(t)),
            stillBad: () => Object.is(slot.container[slot.key], value),
            undo: () => {
              slot.container[slot.key] = before;
            },
          };
        },
        undefined,
        true,
      );
    }

  // --- hyperparameters written into the state (injectHyperparams' constant ones; a scheduled one
  // is recomputed at each step, by both paths) ---
  for (const slot of treeSlots(victim.state, 'state').filter(
    (x) => x.path.includes('.hyperparams.') && c.constantHyperparams?.includes(String(x.key)),
  ))
    for (const value of [Number.NaN, Infinity, '0.8', ...(slot.key === 'b1' ? [1] : [])]) {
      bad(
        {
          kind: `state${slot.path} = ${String(value)}`,
          error: [RangeError, TypeError],
          message: new RegExp(`${String(slot.key)}|must stay a number`),
        },
        () => {
          const s2 = slotAt(slot.path);
          const before = s2.container[s2.key];
          s2.container[s2.key] = value;
          return {
            run: () => victim.step(pr.grads(t)),
            stillBad: () => Object.is(s2.container[s2.key], value),
            undo: () => {
              s2.container[s2.key] = before;
            },
          };
        },
        undefined,
        true,
      );
    }

  // --- state leaves and containers replaced by the user ---
  for (const slot of treeSlots(victim.state, 'state')) {
    const v = slot.container[slot.key];
    let replacement: (x: any) => unknown;
    if (ArrayBuffer.isView(v)) replacement = (x) => (x as ArrayLeaf).slice();
    else if (Array.isArray(v)) replacement = (x) => x.slice();
    else if (v !== null && typeof v === 'object') replacement = (x) => ({ ...x });
    else if (typeof v === 'boolean') replacement = (x) => String(x);
    else continue;
    bad(
      { kind: `state${slot.path} replaced`, error: TypeError, message: `state${slot.path}` },
      () => {
        const s2 = slotAt(slot.path);
        const original = s2.container[s2.key];
        const copy = replacement(original);
        s2.container[s2.key] = copy;
        return {
          run: () => victim.step(pr.grads(t)),
          stillBad: () => s2.container[s2.key] === copy,
          undo: () => {
            s2.container[s2.key] = original;
          },
        };
      },
    );
  }

  for (let i = 0; i < 3; i++) valid(`final ${i}`);
  return ran;
}

describe('a step that throws changes nothing; the next valid step continues bit for bit', () => {
  // Every refused step is checked byte for byte (a changed byte fails its test), so when the
  // suite passes, none of these changed anything.
  let refused = 0;
  afterAll(() => {
    console.log(
      `atomicity: ${refused} refused steps over ${COMPOSITIONS.length} compositions x ${SETTINGS.length} kernel settings x ${CASES.length} param cases, each leaving every byte unchanged`,
    );
  });
  COMPOSITIONS.forEach((c, ci) => {
    describe(c.name, () => {
      for (const s of SETTINGS)
        CASES.forEach((pc, pi) => {
          it(`${s.name}, ${pc.name}`, () => {
            const ran = attack(c, s, pc, 5000 + 100 * ci + pi, () => true);
            expect(ran).toBeGreaterThan(10);
            refused += ran;
          });
        });
    });
  });
});

describe('the harness can fail', () => {
  it('detects a step that is not atomic (a member that claims cannotThrow and throws after mutating)', () => {
    const liar: Composition = {
      name: 'chain(radam, lying recorder)',
      make: (k) => {
        const tx = chain(radam(1e-2), recorder(k, true));
        const bind = tx.bindInPlace!;
        return {
          ...tx,
          bindInPlace: (state: any, params: unknown) => ({
            ...bind(state, params),
            cannotThrow: true,
          }),
        };
      },
      triggers: ['boom'],
    };
    for (const s of SETTINGS.filter((x) => x.name === '{}' || x.name === '{ arena: true }'))
      expect(() =>
        attack(liar, s, CASES[0]!, 7, (kind) => kind.startsWith('member throws')),
      ).toThrow(
        /member throws in run after mutating .*: state changed: state\[0\]\[0\]\.count: 3 vs 4/,
      );
  });
});

describe('a reused grads tree with a key added (the documented limit)', () => {
  for (const s of SETTINGS)
    it(`is stepped by its known keys, the extra key ignored [${s.name}]`, () => {
      const c = COMPOSITIONS[0]!;
      const pr = problem(c, CASES[0]!, 5);
      const opt = new Optimizer(c.make(newKnobs()), pr.params(), s.options);
      const twin = new Optimizer(c.make(newKnobs()), pr.params(), s.options);
      const g = pr.grads(0) as Record<string, unknown>;
      opt.step(g as never);
      twin.step(pr.grads(0) as never);
      g.z = new Float32Array(1);
      opt.step(g as never);
      delete g.z;
      twin.step(g as never);
      assertSameBits(snapshot(opt), snapshot(twin), 'with the extra key');
      // A new tree with the extra key is refused.
      expect(() => opt.step({ ...pr.grads(1), z: new Float32Array(1) } as never)).toThrow();
    });
});

describe('a state value of another type, even one without a prototype', () => {
  it('is refused with a TypeError naming the path and the value, nothing changed', () => {
    const opt = new Optimizer(radam(0.1), { w: new Float32Array(4).fill(1) });
    opt.step({ w: new Float32Array(4).fill(0.5) });
    const before = snapshot(opt);
    const state = opt.state as [{ count: unknown }];
    state[0].count = Object.create(null);
    expect(() => opt.step({ w: new Float32Array(4).fill(0.5) })).toThrow(
      /^Optimizer\.step: state\[0\]\.count is an object with keys \[\]; it must stay a number$/,
    );
    state[0].count = 1;
    assertSameBits(snapshot(opt), before, 'after the refused step');
  });
});

describe('which in-place steps need the state backup (README: every built-in but applyIfFinite skips it)', () => {
  const params = { w: new Float32Array(4) };
  const built: [string, api.GradientTransformationExtraArgs, boolean][] = [
    ['identity()', api.identity(), true],
    ['scale(2)', api.scale(2), true],
    ['scaleByLearningRate(schedule)', api.scaleByLearningRate((c) => 1 / (1 + c)), true],
    ['clip(1)', api.clip(1), true],
    ['clipByGlobalNorm(1)', api.clipByGlobalNorm(1), true],
    ['trace(0.9)', api.trace(0.9), true],
    ['addDecayedWeights(schedule)', api.addDecayedWeights((c) => 1e-3 / (1 + c)), true],
    ['scaleByRadam()', api.scaleByRadam(), true],
    ['scaleByAdam()', api.scaleByAdam(), true],
    ['radam(lr, { weightDecay })', api.radam(0.1, { weightDecay: 1e-3 }), true],
    ['masked(scaleByAdam(), true)', api.masked(api.scaleByAdam(), { w: true }), true],
    ['multiSteps(radam, { everyK: 2 })', api.multiSteps(api.radam(0.1), { everyK: 2 }), true],
    [
      'injectHyperparams(radam)',
      api.injectHyperparams((h: { learningRate: number }) => api.radam(h.learningRate))({
        learningRate: 0.1,
      }),
      true,
    ],
    ['applyIfFinite(scale(1), 0)', api.applyIfFinite(api.scale(1), 0), false],
    [
      'chain(radam, applyIfFinite(scale(1), 0))',
      api.chain(api.radam(0.1), api.applyIfFinite(api.scale(1), 0)),
      false,
    ],
    [
      'multiSteps(applyIfFinite(radam, 0))',
      api.multiSteps(api.applyIfFinite(api.radam(0.1), 0), { everyK: 2 }),
      false,
    ],
  ];
  for (const [name, tx, cannotThrow] of built)
    it(`${name}: cannotThrow is ${cannotThrow}`, () => {
      const step = tx.bindInPlace!(tx.init(params), params);
      expect(step.cannotThrow === true).toBe(cannotThrow);
    });
});
