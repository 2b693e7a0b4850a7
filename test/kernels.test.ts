/**
 * The generated kernels: the committed files equal a fresh build, and every kernel (JavaScript and
 * WebAssembly, float32 and float64, each stage alone and each fused chain) gives the bits of the
 * typed-array `LeafOps` operations that the functional transformations make, on values chosen to
 * break them (zeros of both signs, NaN, infinities, subnormals, huge and tiny numbers) and at
 * lengths that leave a scalar tail.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildKernels } from '../scripts/build-kernels.js';
import { evaluateStage, typedArrayPrimitive } from '../src/kernels/evaluate.js';
import { chainOps, JsChain } from '../src/kernels/program.js';
import { BLOCK } from '../src/kernels/program-layout.js';
import { chainLayout, FUSED_CHAINS, STAGES, type StageName } from '../src/kernels/stages.js';
import { instantiateKernels, writeProgram } from '../src/kernels/wasm.js';
import { typedArrayOps as ops } from '../src/leaf.js';
import { rng } from './rng.js';

type Float = Float32Array | Float64Array;

describe('generated kernels', () => {
  it('the committed files equal a fresh build (npm run build:kernels)', () => {
    for (const [path, text] of Object.entries(buildKernels()))
      expect(readFileSync(join(__dirname, '..', path), 'utf8'), path).toBe(text);
  });
});

type Reference = (u: Float, p: Float, a: Float[], s: number[]) => Float;

/**
 * Per stage, the functional path's operations on one leaf (`u` in, `u` out; arrays updated): the
 * `LeafOps` calls of the core's transformations, and for the catalogue's stages (which have no
 * `LeafOps` of their own) the stage evaluated node by node over whole arrays (`evaluateStage`),
 * an implementation apart from the generated loops.
 */
const HAND: Partial<Record<StageName, Reference>> = {
  load: (_u, _p, [g]) => g!.slice(),
  apply: (u, p) => {
    // LeafOps.add's loop (which, for large arrays, now runs the generated kernel itself).
    const R = p instanceof Float32Array ? Math.fround : (x: number) => x;
    for (let i = 0; i < p.length; i++) p[i] = R(p[i]! + u[i]!);
    return u;
  },
  emit: (u, _p, [out]) => {
    out!.set(u);
    return u;
  },
  adam: (g, _p, a, s) => adamRef(g, a, s, false, true),
  adamNesterov: (g, _p, a, s) => adamRef(g, a, s, true, true),
  adamMomentum: (g, _p, a, s) => adamRef(g, a, s, false, false),
  adamMomentumNesterov: (g, _p, a, s) => adamRef(g, a, s, true, false),
  trace: (u, _p, [t], [d]) => {
    t!.set(ops.linearCombination(1, u, d!, t!));
    return t!.slice();
  },
  traceNesterov: (u, _p, [t], [d]) => {
    t!.set(ops.linearCombination(1, u, d!, t!));
    return ops.linearCombination(1, u, d!, t!);
  },
  scale: (u, _p, _a, [s]) => ops.scale(u, s!),
  decay: (u, p, _a, [wd]) => ops.linearCombination(1, u, wd!, p),
  clip: (u, _p, _a, [lo, hi]) => ops.clip(u, lo!, hi!),
};

const REFERENCE = (stage: StageName): Reference =>
  HAND[stage] ??
  ((u, p, a, s) => {
    const def = STAGES[stage];
    const out = evaluateStage(
      def,
      typedArrayPrimitive,
      { u, p, arrays: Object.fromEntries(def.arrays.map((k, i) => [k, a[i]!])), scalars: s },
      u instanceof Float32Array,
    );
    def.arrays.forEach((k, i) => {
      const v = out.set[k];
      if (v !== undefined) a[i]!.set(v as Float);
    });
    return out.u as Float;
  });

/** `radam.ts`'s leaf, with the scalars in the adam stage's order. */
function adamRef(g: Float, [mu, nu]: Float[], s: number[], nesterov: boolean, ratio: boolean) {
  const [a1, b1, , b2, bc1, bc2, r, epsRoot, eps, bc1Next] = s as number[];
  const m = ops.moment(g, mu!, b1!, 1);
  const v = ops.moment(g, nu!, b2!, 2);
  void a1;
  const mHat = nesterov
    ? ops.linearCombination(b1!, ops.divide(m, bc1Next!), 1 - b1!, ops.divide(g, bc1!))
    : ops.divide(m, bc1!);
  mu!.set(m);
  nu!.set(v);
  return ratio ? ops.adamRatio(mHat, v, r!, bc2!, epsRoot!, eps!) : mHat;
}

const SPECIAL = [0, -0, Number.NaN, Infinity, -Infinity, 1e-45, -1e-310, 3e38, 1e300, 1, -1];

function values(rand: () => number, n: number, f32: boolean): Float {
  const a = f32 ? new Float32Array(n) : new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const r = rand();
    a[i] =
      r < 0.15
        ? SPECIAL[Math.floor(rand() * SPECIAL.length)]!
        : (rand() - 0.5) * 10 ** Math.floor(rand() * 8 - 4);
  }
  return a;
}

/** Scalars for a chain: the adam ones consistent (a1 = 1 - b1), the others random. */
function scalarsFor(chain: readonly StageName[], rand: () => number): number[] {
  const out: number[] = [];
  chain.forEach((stage) => {
    const b1 = rand() < 0.2 ? 0 : rand();
    const b2 = rand();
    const named: Record<string, number> = {
      a1: 1 - b1,
      b1,
      a2: 1 - b2,
      b2,
      bc1: 1 - b1 ** 3,
      bc1Next: 1 - b1 ** 4,
      bc2: 1 - b2 ** 3,
      r: rand() * 2,
      epsRoot: rand() < 0.5 ? 0 : 1e-8,
      eps: rand() < 0.2 ? 0 : 1e-8,
      decay: rand(),
      s: -rand(),
      wd: rand() < 0.2 ? 0 : rand() * 0.1,
      lo: -rand(),
      hi: rand(),
    };
    for (const s of STAGES[stage].scalars as readonly string[]) out.push(named[s] ?? rand());
  });
  return out;
}

/** The chain run by the references, stage by stage, on copies. */
function reference(chain: readonly StageName[], p: Float, arrays: Float[], sc: number[]) {
  const layout = chainLayout(chain);
  let u: Float = p.slice();
  chain.forEach((stage, i) => {
    const a = layout.arrays.flatMap(([s], k) => (s === i ? [arrays[k]!] : []));
    const s = layout.scalars.flatMap(([j], k) => (j === i ? [sc[k]!] : []));
    u = REFERENCE(stage)(u, p, a, s);
  });
}

const bits = (a: Float) => [...new Uint8Array(a.buffer, a.byteOffset, a.byteLength)];
/** Bits, with every NaN taken as one value (WebAssembly may give a NaN another sign). */
const canon = (a: Float) => bits(Float64Array.from(a, (x) => (Number.isNaN(x) ? Number.NaN : x)));

const CHAINS: StageName[][] = [
  ...FUSED_CHAINS.map((c) => [...c]),
  ['load', 'clip', 'adam', 'decay', 'scale', 'apply'],
  ['load', 'trace', 'clip', 'scale', 'apply'],
  ['load', 'adamNesterov', 'trace', 'scale', 'apply'],
  // The RMS family's stages that have no fused alias kernel (run stage by stage).
  ...(
    [
      'rmsEpsOut',
      'rmsBc',
      'rmsBcEpsOut',
      'stddevEpsOut',
      'stddevBc',
      'stddevBcEpsOut',
      'ema',
      'rpropUnlagged',
      'optimisticFirst',
    ] as const
  ).map((stage): StageName[] => ['load', stage, 'scale', 'apply']),
  ['load', 'emaNoDebias', 'sign', 'scale', 'apply'],
  ['load', 'rms', 'scale', 'traceNesterov', 'apply'],
];

describe.each([true, false])('chains, f32 = %s', (f32) => {
  it.each(CHAINS.map((c) => [c.join('+'), c] as const))(
    '%s: JS and WebAssembly give the reference bits',
    (_n, chain) => {
      const rand = rng(chain.length * 7919 + (f32 ? 1 : 2));
      const layout = chainLayout(chain);
      const ops = chainOps(chain);
      for (const n of [1, 3, 7, 64, BLOCK + 5, 3 * BLOCK - 1]) {
        const sc = scalarsFor(chain, rand);
        const p0 = values(rand, n, f32);
        const arrays0 = layout.arrays.map(() => values(rand, n, f32));
        // Reference
        const pRef = p0.slice();
        const aRef = arrays0.map((a) => a.slice());
        reference(chain, pRef, aRef, sc);
        // JavaScript kernels
        const js = new JsChain(ops, f32);
        js.setScalars(sc);
        const pJs = p0.slice();
        const aJs = arrays0.map((a) => a.slice());
        js.run(pJs, aJs, n);
        // NaN signs are compared as one value here too: JavaScript engines may commute the
        // operands of + and * when they optimize a loop, and the NaN an operation with two NaN
        // operands returns is the first one's (x86), so its sign is not stable across JIT tiers.
        expect(canon(pJs), `js p, n=${n}`).toEqual(canon(pRef));
        aJs.forEach((a, k) => {
          expect(canon(a), `js array ${k}, n=${n}`).toEqual(canon(aRef[k]!));
        });
        // WebAssembly: program in memory, run in two pieces (as two threads would).
        const size = f32 ? 4 : 8;
        const bytes = 4096 + (2 + layout.arrays.length) * n * size + BLOCK * 8;
        const inst = instantiateKernels(bytes);
        if (!inst) continue;
        const buf = inst.memory.buffer;
        const Ctor = f32 ? Float32Array : Float64Array;
        let at = 4096;
        const region = (src: Float) => {
          const off = at;
          new Ctor(buf, off, n).set(src);
          at += n * size;
          return off;
        };
        const pOff = region(p0);
        const aOff = arrays0.map(region);
        const scratch = at;
        const words = new Int32Array(buf, 0, 512);
        const scAt = (k: number) => 2048 + 128 * k;
        writeProgram(words, 0, ops, f32, pOff, (i) => aOff[i]!, scAt);
        ops.forEach((op, k) => {
          const scv = new Ctor(buf, scAt(k), op.scalars.length);
          op.scalars.forEach((si, j) => {
            scv[j] = sc[si]!;
          });
        });
        const half = (n >> 1) & ~3;
        const run = inst.run;
        run(0, 0, half, scratch);
        run(0, half, n, scratch);
        expect(canon(new Ctor(buf, pOff, n)), `wasm p, n=${n}`).toEqual(canon(pRef));
        aOff.forEach((off, k) => {
          expect(canon(new Ctor(buf, off, n)), `wasm array ${k}, n=${n}`).toEqual(canon(aRef[k]!));
        });
      }
    },
  );
});
