/**
 * Issue #11, promise 2: buffers. Params that share memory are refused at construction naming both
 * paths; a gradient that aliases another param or a state array is refused naming both paths with
 * nothing changed; a gradient that is its own param is allowed and gives the functional path's
 * bits; a detached or resized params or grads buffer, or a params leaf replaced in the tree, is
 * refused naming the path. Every composition x kernel setting x dtype, below and above the staging
 * threshold; the outcome never depends on the kernel.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  type ArrayLeaf,
  adam,
  lookahead,
  lookaheadParams,
  Optimizer,
  radam,
} from '../../src/index.js';
import { treeSlots } from '../../src/tree.js';
import {
  assertSameBits,
  assertUnchanged,
  COMPOSITIONS,
  type Composition,
  copyTree,
  diffPlaces,
  Functional,
  functionalSnapshot,
  newKnobs,
  type ParamCase,
  places,
  problem,
  SETTINGS,
  type Setting,
  snapshot,
} from './helpers.js';

/** Cases whose leaves all have one length, so that any gradient can alias any param. */
const EQ_CASES: ParamCase[] = (['f32', 'f64', 'mixed'] as const).flatMap((dtype) => [
  { name: `${dtype} 4 x 8`, dtype, size: 'small' as const, lengths: { a: 8, c: 8, d: 8, e: 8 } },
  {
    name: `${dtype} 4 x 300`,
    dtype,
    size: 'large' as const,
    lengths: { a: 300, c: 300, d: 300, e: 300 },
  },
]);

const CORE = COMPOSITIONS.filter((c) => c.core);
const base = (c: Composition, t: any) => (c.lookahead ? t.fast : t);
const pre = (c: Composition) => (c.lookahead ? '.fast' : '');

/**
 * Params where `b.d` is a view at the start of a buffer twice its size (so that a view can overlap
 * it partially without leaving the buffer); everything else as `problem` makes it.
 */
function roomy(c: Composition, p: any): any {
  for (const half of c.lookahead ? [p.fast, p.slow] : [p]) {
    const d = half.b.d as ArrayLeaf;
    const big = new (d.constructor as typeof Float32Array)(2 * d.length);
    big.set(d);
    half.b.d = big.subarray(0, d.length);
  }
  return p;
}

function expectError(
  fn: () => void,
  type: new (...a: any[]) => Error,
  ...parts: (string | RegExp)[]
) {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, 'expected a throw').toBeInstanceOf(type);
  for (const part of parts)
    if (typeof part === 'string') expect((caught as Error).message).toContain(part);
    else expect((caught as Error).message).toMatch(part);
}

const KNOWN: { kind: RegExp; comp: RegExp; setting: RegExp; why: string }[] = [
  {
    kind: /^grads leaf is a state array$/,
    comp: /functional engine/,
    setting: /./,
    why: "functional engine: a gradient that is one of the state's arrays is not refused (the alias guard holds no state arrays when there is no StateGuard), though step() promises to throw on a gradient that shares memory with the state",
  },
];
const known = (c: Composition, s: Setting, kind: string) =>
  KNOWN.some((k) => k.kind.test(kind) && k.comp.test(c.name) && k.setting.test(s.name));

/** Victim and twin; each bad step must throw, change nothing, and be followed by a valid step. */
function pair(c: Composition, s: Setting, pc: ParamCase, seed: number) {
  const pr = problem(c, pc, seed);
  const victimParams = roomy(c, pr.params());
  const victim = new Optimizer(c.make(newKnobs()), victimParams, s.options);
  const twin = new Optimizer(c.make(newKnobs()), roomy(c, pr.params()), s.options);
  let t = 0;
  const valid = (label: string) => {
    victim.step(pr.grads(t));
    twin.step(pr.grads(t));
    t++;
    assertSameBits(snapshot(victim), snapshot(twin), label);
  };
  return { pr, victim, twin, victimParams, valid, t: () => t };
}

function aliasKinds(
  c: Composition,
  s: Setting,
  pc: ParamCase,
  seed: number,
  only: (k: string) => boolean,
) {
  const { pr, victim, valid, t } = pair(c, s, pc, seed);
  const arena = s.options.arena === true;
  const C = (x: ArrayLeaf) => x.constructor as typeof Float32Array;
  for (let i = 0; i < 3; i++) valid(`warm-up ${i}`);
  let ran = 0;
  const refused = (
    kind: string,
    build: (g: any, params: any) => void,
    parts: (string | RegExp)[],
  ) => {
    if (!only(kind) || known(c, s, kind)) return;
    const snap = snapshot(victim);
    const g = pr.grads(t());
    build(g, victim.params);
    expectError(() => victim.step(g), TypeError, ...parts);
    assertUnchanged(victim, snap, kind);
    valid(`${kind}, then a valid step`);
    ran++;
  };
  const P = pre(c);
  refused(
    'grads leaf is another param',
    (g, p) => {
      base(c, g).a = base(c, p).b.d;
    },
    [`grads${P}.a shares memory with params${P}.b.d`],
  );
  refused(
    'grads leaf overlaps part of another param',
    (g, p) => {
      const d = base(c, p).b.d as ArrayLeaf;
      const bytes = d.BYTES_PER_ELEMENT;
      // Starts inside d, ends past it (in the spare half of the buffer, or the next arena region).
      base(c, g).a = new (C(d))(d.buffer, d.byteOffset + 3 * bytes, d.length);
    },
    [`grads${P}.a shares memory with `, `params${P}.b.d`],
  );
  {
    // The first state array with the length and type of grads.a.
    const a = base(c, victim.params).a as ArrayLeaf;
    const slot = treeSlots(victim.state, 'state').find((x) => {
      const v = x.container[x.key] as ArrayLeaf;
      return ArrayBuffer.isView(v) && v.length === a.length && v.constructor === a.constructor;
    });
    if (slot)
      refused(
        'grads leaf is a state array',
        (g) => {
          base(c, g).a = slot.container[slot.key];
        },
        [`grads${P}.a shares memory with state${slot.path}`],
      );
  }
  if (c.lookahead)
    refused(
      'grads.slow leaf is a fast param',
      (g, p) => {
        g.slow.a = p.fast.a;
      },
      ['grads.slow.a shares memory with params.fast.a'],
    );
  refused(
    'grads leaf detached',
    (g) => {
      const a = base(c, g).a as ArrayLeaf;
      structuredClone(a, { transfer: [a.buffer as ArrayBuffer] });
    },
    [`grads${P}.a: its buffer was detached`],
  );
  if (!arena) {
    // A params leaf replaced in the caller's tree.
    if (only('params leaf replaced') && !known(c, s, 'params leaf replaced')) {
      const p = victim.params as any;
      const original = base(c, p).a as ArrayLeaf;
      const snap = snapshot(victim);
      base(c, p).a = original.slice();
      expectError(() => victim.step(pr.grads(t())), TypeError, `params${P}.a was replaced`);
      base(c, p).a = original;
      assertUnchanged(victim, snap, 'params leaf replaced');
      valid('params leaf replaced, then a valid step');
      ran++;
    }
  } else if (only('arena params leaf replaced') && !known(c, s, 'arena params leaf replaced')) {
    const p = victim.params as any;
    const original = base(c, p).b.c as ArrayLeaf;
    const snap = snapshot(victim);
    base(c, p).b.c = original.slice();
    expectError(() => victim.step(pr.grads(t())), TypeError, `params${P}.b.c was replaced`);
    base(c, p).b.c = original;
    assertUnchanged(victim, snap, 'arena params leaf replaced');
    valid('arena params leaf replaced, then a valid step');
    ran++;
  }
  for (let i = 0; i < 2; i++) valid(`final ${i}`);
  return ran;
}

describe('gradients that alias params or state are refused, naming both paths, nothing changed', () => {
  CORE.forEach((c, ci) => {
    describe(c.name, () => {
      for (const s of SETTINGS)
        EQ_CASES.forEach((pc, pi) => {
          it(`${s.name}, ${pc.name}`, () => {
            const ran = aliasKinds(c, s, pc, 300 + 10 * ci + pi, () => true);
            expect(ran).toBeGreaterThanOrEqual(4);
          });
        });
    });
  });
});

describe('a gradient that is its own param is allowed and gives the functional bits', () => {
  CORE.forEach((c, ci) => {
    describe(c.name, () => {
      for (const s of SETTINGS)
        EQ_CASES.forEach((pc, pi) => {
          it(`${s.name}, ${pc.name}`, () => {
            const pr = problem(c, pc, 900 + 10 * ci + pi);
            const ref = new Functional(c.make(newKnobs()), pr.params());
            const opt = new Optimizer(c.make(newKnobs()), pr.params(), s.options);
            for (let t = 0; t < 12; t++) {
              // Alternate: a new tree of the param arrays, ordinary gradients, the params tree
              // itself (opt.step(opt.params)).
              if (t % 3 === 1 || t % 4 === 3) {
                const p = opt.params as any;
                const g = t % 4 === 3 ? p : c.lookahead ? { fast: p.fast, slow: p.slow } : { ...p };
                ref.step(copyTree(base(c, ref.params)));
                opt.step(g);
              } else {
                ref.step(pr.functionalGrads(t));
                opt.step(pr.grads(t));
              }
              assertSameBits(snapshot(opt), functionalSnapshot(ref), `step ${t + 1}`);
            }
          });
        });
    });
  });
});

describe('detached, resized or replaced params buffers', () => {
  const nonArena = SETTINGS.filter((s) => !s.options.arena);
  CORE.forEach((c, ci) => {
    describe(c.name, () => {
      for (const s of nonArena)
        for (const pc of [EQ_CASES[0]!, EQ_CASES[3]!])
          it(`${s.name}, ${pc.name}: a params leaf detached after construction`, () => {
            const { victim, victimParams, pr, t } = pair(c, s, pc, 1300 + ci);
            victim.step(pr.grads(t()));
            const a = base(c, victimParams).a as ArrayLeaf;
            const before = snapshot(victim);
            structuredClone(a, { transfer: [a.buffer as ArrayBuffer] });
            expectError(
              () => victim.step(pr.grads(1)),
              TypeError,
              `params${pre(c)}.a: its buffer was detached`,
            );
            // Nothing else changed (params.a itself is gone).
            const keep = (xs: ReturnType<typeof places>) =>
              xs.filter((x) => x.path !== `${pre(c)}.a`);
            expect(diffPlaces(keep(before.params), keep(places(victim.params)), true)).toBe(
              undefined,
            );
            expect(diffPlaces(before.state, places(victim.state), true)).toBe(undefined);
          });
    });
  });

  for (const s of SETTINGS.filter((x) => !x.options.arena))
    it(`${s.name}: a length-tracking params view whose resizable buffer shrinks or grows`, () => {
      for (const size of [8, 1500]) {
        const rab = new (ArrayBuffer as any)(4 * size, { maxByteLength: 16 * size });
        const params = { w: new Float32Array(rab), v: new Float32Array(size).fill(1) };
        const twinParams = { w: new Float32Array(size), v: new Float32Array(size).fill(1) };
        const opt = new Optimizer(radam(0.01), params, s.options);
        const twin = new Optimizer(radam(0.01), twinParams, s.options);
        const g = () => ({
          w: new Float32Array(size).fill(0.5),
          v: new Float32Array(size).fill(2),
        });
        opt.step(g());
        twin.step(g());
        // Grown (the old bytes stay), refused, resized back: nothing changed, the run continues.
        const snap = snapshot(opt);
        rab.resize(8 * size);
        expectError(
          () => opt.step(g()),
          TypeError,
          `params.w: its length changed from ${size} to ${2 * size}`,
        );
        rab.resize(4 * size);
        assertUnchanged(opt, snap, 'grown, refused, resized back');
        opt.step(g());
        twin.step(g());
        assertSameBits(snapshot(opt), snapshot(twin), 'after the resize');
        // Shrunk (the upper bytes are lost): refused, the state unchanged.
        const state = places(opt.state);
        rab.resize(2 * size);
        expectError(
          () => opt.step(g()),
          TypeError,
          `params.w: its length changed from ${size} to ${size / 2}`,
        );
        expect(diffPlaces(state, places(opt.state), true)).toBe(undefined);
      }
    });

  it('with an arena, the caller detaching its own buffers changes nothing', () => {
    for (const s of SETTINGS.filter((x) => x.options.arena)) {
      const params = { w: new Float32Array(40).fill(1) };
      const opt = new Optimizer(radam(0.01), params, s.options);
      const twin = new Optimizer(radam(0.01), { w: new Float32Array(40).fill(1) }, s.options);
      structuredClone(params.w, { transfer: [params.w.buffer] });
      opt.step({ w: new Float32Array(40).fill(3) });
      twin.step({ w: new Float32Array(40).fill(3) });
      assertSameBits(snapshot(opt), snapshot(twin), s.name);
    }
  });
});

describe('params that share memory are refused at construction, naming both paths', () => {
  const settings = SETTINGS;
  it('the same array twice, for every setting and composition', () => {
    for (const s of settings)
      for (const c of CORE) {
        const x = new Float32Array(8);
        const p: any = { a: new Float32Array(8), b: { c: x, d: new Float32Array(8) }, e: x };
        expectError(
          () =>
            new Optimizer(
              c.make(newKnobs()),
              c.lookahead ? { fast: p, slow: copyTree(p) } : p,
              s.options,
            ),
          TypeError,
          `Optimizer: params${pre(c)}.b.c and params${pre(c)}.e share memory`,
        );
      }
  });

  it('lookahead with fast and slow the same tree (lookaheadParams not used)', () => {
    for (const s of settings) {
      const p = { w: new Float64Array(3), v: new Float64Array(2) };
      expectError(
        () =>
          new Optimizer(
            lookahead(adam(0.1), { syncPeriod: 2, slowStepSize: 0.5 }),
            { fast: p, slow: p },
            s.options,
          ),
        TypeError,
        'params.fast.v and params.slow.v share memory',
      );
      // lookaheadParams makes separate copies.
      new Optimizer(
        lookahead(adam(0.1), { syncPeriod: 2, slowStepSize: 0.5 }),
        lookaheadParams(p),
        s.options,
      );
    }
  });

  it('views of one buffer: refused exactly when their byte ranges overlap (any dtypes)', () => {
    const view = fc.record({
      f32: fc.boolean(),
      start: fc.integer({ min: 0, max: 15 }),
      len: fc.integer({ min: 1, max: 6 }),
    });
    fc.assert(
      fc.property(
        fc.array(view, { minLength: 2, maxLength: 4 }),
        fc.constantFrom(...settings),
        (vs, s) => {
          const buf = new ArrayBuffer(8 * 24);
          const leaves = vs.map((v) =>
            v.f32
              ? new Float32Array(buf, 8 * v.start, 2 * v.len)
              : new Float64Array(buf, 8 * v.start, v.len),
          );
          const ranges = leaves.map((l) => [l.byteOffset, l.byteOffset + l.byteLength] as const);
          let overlap: [number, number] | undefined;
          for (let i = 0; i < ranges.length && !overlap; i++)
            for (let j = i + 1; j < ranges.length && !overlap; j++)
              if (ranges[i]![0] < ranges[j]![1] && ranges[j]![0] < ranges[i]![1]) overlap = [i, j];
          const params = Object.fromEntries(leaves.map((l, i) => [`l${i}`, l]));
          const before = leaves.map((l) => l.slice());
          let err: Error | undefined;
          try {
            const opt = new Optimizer(radam(0.01), params, s.options);
            opt.step(Object.fromEntries(leaves.map((l, i) => [`l${i}`, l.map(() => 1)])));
          } catch (e) {
            err = e as Error;
          }
          if (overlap) {
            expect(err).toBeInstanceOf(TypeError);
            expect(err!.message).toMatch(/^Optimizer: params\.l\d and params\.l\d share memory/);
            // Both named paths really overlap.
            const [, x, y] = err!.message.match(/params\.l(\d) and params\.l(\d)/)!.map(Number);
            const [rx, ry] = [ranges[x!]!, ranges[y!]!];
            expect(rx[0] < ry[1] && ry[0] < rx[1]).toBe(true);
            leaves.forEach((l, i) => {
              expect(Array.from(l)).toEqual(Array.from(before[i]!));
            });
          } else expect(err).toBeUndefined();
        },
      ),
      { numRuns: 300 },
    );
  });
});

/**
 * Steps with grads.a and grads.e swapped between the arena's own grads buffers. Either outcome is
 * allowed: the functional bits on the swapped values, or a refusal (a TypeError naming both) with
 * nothing changed, after which the same values in fresh arrays are stepped. Returns which.
 */
function swapped(c: Composition, s: Setting): 'accepted' | 'refused' {
  const pc = EQ_CASES[0]!;
  const pr = problem(c, pc, 77);
  const ref = new Functional(c.make(newKnobs()), pr.params());
  const opt = new Optimizer(c.make(newKnobs()), pr.params(), s.options);
  const outcomes = new Set<'accepted' | 'refused'>();
  for (let t = 0; t < 6; t++) {
    const g = pr.grads(t);
    const og = opt.grads as any;
    og.a.set(g.a);
    og.e.set(g.e);
    og.b.c.set(g.b.c);
    og.b.d.set(g.b.d);
    const snap = snapshot(opt);
    // Step with a and e swapped: grads.a is the arena's e buffer and grads.e its a buffer.
    let err: unknown;
    try {
      opt.step({ a: og.e, b: { c: og.b.c, d: og.b.d }, e: og.a });
    } catch (e) {
      err = e;
    }
    if (err !== undefined) {
      expect(err).toBeInstanceOf(TypeError);
      expect((err as Error).message).toMatch(/grads\.[ae] shares memory with .*grads\.[ea]\b/);
      assertUnchanged(opt, snap, `refused step ${t + 1}`);
      opt.step({ a: g.e.slice(), b: { c: g.b.c, d: g.b.d }, e: g.a.slice() });
      outcomes.add('refused');
    } else outcomes.add('accepted');
    ref.step({ a: g.e.slice(), b: { c: g.b.c, d: g.b.d }, e: g.a.slice() });
    assertSameBits(snapshot(opt), functionalSnapshot(ref), `step ${t + 1}`);
  }
  expect(outcomes.size).toBe(1);
  return [...outcomes][0]!;
}

const ARENAS = SETTINGS.filter((x) => x.options.arena);

describe('arena grads swapped between leaves (views of the optimizer’s own grads buffers)', () => {
  for (const c of CORE.filter((x) => !x.lookahead && !x.fused))
    it(`${c.name}: the functional bits, or refused with nothing changed; the same for every arena setting`, () => {
      expect(new Set(ARENAS.map((s) => swapped(c, s))).size).toBe(1);
    });
});

describe('KNOWN FAILURES (lead to fix)', () => {
  it('lists its entries', () => {
    for (const k of KNOWN) expect(k.why.length).toBeGreaterThan(0);
  });
  // The fused arena engine copies each gradient into the arena's grads buffer in leaf order, so a
  // gradient that is the arena buffer of an earlier leaf is read after it was overwritten.
  for (const s of ARENAS)
    for (const c of CORE.filter((x) => x.fused))
      it.skip(`fused arena: grads swapped between the arena's own grads buffers are neither refused nor given the functional bits (grads.e is read after grads.a was copied over it) [${c.name}, ${s.name}]`, () => {
        swapped(c, s);
      });
  for (const k of KNOWN) {
    const c = CORE.find((x) => k.comp.test(x.name))!;
    const s = SETTINGS.find((x) => k.setting.test(x.name))!;
    it.skip(`${k.why} [${c.name}, ${s.name}]`, () => {
      const saved = KNOWN.splice(0);
      try {
        expect(aliasKinds(c, s, EQ_CASES[0]!, 1, (kind) => k.kind.test(kind))).toBeGreaterThan(0);
      } finally {
        KNOWN.push(...saved);
      }
    });
  }
});
