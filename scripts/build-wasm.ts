/**
 * Builds the WebAssembly SIMD kernels of the fused RAdam step and writes them, base64-encoded, to
 * `src/kernels/radam-wasm.generated.ts`. Run with `npm run build:wasm` (`tsx scripts/build-wasm.ts`).
 *
 * This file is the kernels' source: a few lines of binary encoding (LEB128, sections) and, below,
 * the kernel bodies written instruction by instruction. Each kernel makes the typed-array
 * `LeafOps` operations in their order and in the leaf's dtype: the float32 kernels in `f32x4`
 * lanes (every operation a float32 operation, every scalar a float32 splat, as `LeafOps` compute a
 * `Float32Array` result), the float64 kernels in `f64x2` lanes. So their results are the same bits
 * as the functional path's. No rounding mode, fused multiply-add or reassociation is involved:
 * WebAssembly's float operations are IEEE 754 round-to-nearest, as JavaScript's are (and
 * `Math.fround` of a float64 operation on float32 operands equals the float32 operation).
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
// The scalars at `scalars` (8 bytes each for float64 kernels, 4 for float32), in this order.
import { KERNEL_SCALARS as SCALARS } from '../src/kernels/wasm.js';

type Bytes = number[];

const uleb = (value: number): Bytes => {
  const out: Bytes = [];
  let n = value >>> 0;
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
};
const sleb = (value: number): Bytes => {
  const out: Bytes = [];
  let n = value | 0;
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
};
const name = (s: string): Bytes => {
  const b = [...new TextEncoder().encode(s)];
  return [...uleb(b.length), ...b];
};
const vec = (items: Bytes[]): Bytes => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: Bytes): Bytes => [id, ...uleb(body.length), ...body];

const I32 = 0x7f;
const V128 = 0x7b;

// Core instructions.
const get = (i: number): Bytes => [0x20, ...uleb(i)];
const set = (i: number): Bytes => [0x21, ...uleb(i)];
const i32const = (n: number): Bytes => [0x41, ...sleb(n)];
const I32_ADD = [0x6a];
const I32_SHL = [0x74];
const I32_GE_U = [0x4f];
const BLOCK = [0x02, 0x40];
const LOOP = [0x03, 0x40];
const IF = [0x04, 0x40];
const ELSE = [0x05];
const END = [0x0b];
const br = (depth: number): Bytes => [0x0c, ...uleb(depth)];
const brIf = (depth: number): Bytes => [0x0d, ...uleb(depth)];

// SIMD instructions (prefix 0xfd, LEB128 opcode).
const simd = (op: number, ...imm: number[]): Bytes => [0xfd, ...uleb(op), ...imm];
const memarg = (align: number, offset: number): Bytes => [...uleb(align), ...uleb(offset)];
const v128Load = (offset: number): Bytes => [...simd(0x00), ...memarg(4, offset)];
const v128Store = (offset: number): Bytes => [...simd(0x0b), ...memarg(4, offset)];
const load32Splat = (offset: number): Bytes => [...simd(0x09), ...memarg(2, offset)];
const load64Splat = (offset: number): Bytes => [...simd(0x0a), ...memarg(3, offset)];
const BITSELECT = simd(0x52);

/** The lane arithmetic of one dtype. */
interface Lanes {
  eq: Bytes;
  sqrt: Bytes;
  add: Bytes;
  mul: Bytes;
  div: Bytes;
}
const F32X4: Lanes = {
  eq: simd(0x41),
  sqrt: simd(0xe3),
  add: simd(0xe4),
  mul: simd(0xe6),
  div: simd(0xe7),
};
const F64X2: Lanes = {
  eq: simd(0x47),
  sqrt: simd(0xef),
  add: simd(0xf0),
  mul: simd(0xf2),
  div: simd(0xf3),
};

/**
 * The kernel's parameters, in order: byte offsets of g, m, v, p, the element count (a multiple of
 * 4), whether to rectify, and the byte offset of the scalars ({@link SCALARS}, in order: float64s
 * for the float64 kernels, the same values rounded to float32 for the float32 kernels). The
 * scalars are passed through memory so that a call from JavaScript boxes no numbers.
 */
export const KERNEL_PARAMS = [
  ['g', I32],
  ['m', I32],
  ['v', I32],
  ['p', I32],
  ['n', I32],
  ['rectify', I32],
  ['scalars', I32],
] as const;

const P = Object.fromEntries(KERNEL_PARAMS.map(([n], i) => [n, i])) as Record<
  (typeof KERNEL_PARAMS)[number][0],
  number
>;

interface Variant {
  f32: boolean;
  nesterov: boolean;
  decay: boolean;
}

/**
 * One kernel: `n` elements (a multiple of 4) at byte offsets g, m, v, p, one v128 of each per
 * iteration (4 float32 or 2 float64 lanes; the float64 kernels do two per iteration). Locals after
 * the parameters: `end` (i32), a splat v128 per scalar, a zero vector and temporaries.
 */
function kernelBody(k: Variant): Bytes {
  let next = KERNEL_PARAMS.length;
  const END_PTR = next++;
  const splat: Record<string, number> = {};
  for (const s of SCALARS) splat[s] = next++;
  const ZERO = next++;
  const G = next++;
  const M = next++;
  const V = next++;
  const P0 = next++;
  const MH = next++;
  const U = next++;
  const T1 = next++;
  const T2 = next++;
  const vLocals = next - (END_PTR + 1);
  const locals = vec([
    [1, I32],
    [vLocals, V128],
  ]);
  const L = k.f32 ? F32X4 : F64X2;
  const sc = (name: (typeof SCALARS)[number]): Bytes => get(splat[name]!);
  const load = (ptr: number, off: number): Bytes => [...get(ptr), ...v128Load(off)];
  const store = (ptr: number, off: number, x: number): Bytes => [
    ...get(ptr),
    ...get(x),
    ...v128Store(off),
  ];

  // One v128 of each array at byte offset `off` from the pointers. The comments give the LeafOps
  // operation each line makes; each lane operation rounds to the lane type, as LeafOps do.
  const vector = (off: number, rectify: boolean): Bytes => {
    const b: Bytes = [];
    b.push(...load(P.g, off), ...set(G));
    b.push(...load(P.p, off), ...set(P0));
    // moment, order 1: m = (1-b1)*g + b1*m
    b.push(...sc('a1'), ...get(G), ...L.mul, ...sc('b1'), ...load(P.m, off), ...L.mul, ...L.add);
    b.push(...set(M), ...store(P.m, off, M));
    // moment, order 2: v = (1-b2)*(g*g) + b2*v
    b.push(...sc('a2'), ...get(G), ...get(G), ...L.mul, ...L.mul);
    b.push(...sc('b2'), ...load(P.v, off), ...L.mul, ...L.add, ...set(V), ...store(P.v, off, V));
    if (k.nesterov) {
      // divide: gHat = g / bc1; divide: mNext = m / bc1Next;
      // linearCombination: mHat = b1*mNext + (1-b1)*gHat
      b.push(...get(G), ...sc('bc1'), ...L.div, ...set(T1));
      b.push(...get(M), ...sc('bc1Next'), ...L.div, ...set(T2));
      b.push(...sc('b1'), ...get(T2), ...L.mul, ...sc('a1'), ...get(T1), ...L.mul, ...L.add);
      b.push(...set(MH));
    } else {
      // divide: mHat = m / bc1
      b.push(...get(M), ...sc('bc1'), ...L.div, ...set(MH));
    }
    if (rectify) {
      // adamRatio: u = mHat == 0 ? mHat : (r*mHat) / (sqrt(v/bc2 + epsRoot) + eps)
      b.push(...get(MH));
      b.push(...sc('r'), ...get(MH), ...L.mul);
      b.push(...get(V), ...sc('bc2'), ...L.div, ...sc('epsRoot'), ...L.add);
      b.push(...L.sqrt, ...sc('eps'), ...L.add, ...L.div);
      b.push(...get(MH), ...get(ZERO), ...L.eq, ...BITSELECT, ...set(U));
    } else {
      b.push(...get(MH), ...set(U));
    }
    if (k.decay) {
      // linearCombination(1, u, wd, p): u + wd*p (1*u is u exactly)
      b.push(...get(U), ...sc('wd'), ...get(P0), ...L.mul, ...L.add, ...set(U));
    }
    // scale: u = u * s; add: p = p + u
    b.push(...get(P0), ...get(U), ...sc('s'), ...L.mul, ...L.add);
    b.push(...set(P0), ...store(P.p, off, P0));
    return b;
  };

  // Four elements per iteration: one f32x4 vector, or two f64x2 vectors.
  const sz = k.f32 ? 4 : 8;
  const step = 4 * sz;
  const offs = k.f32 ? [0] : [0, 16];
  const loop = (rectify: boolean): Bytes => {
    const b: Bytes = [...BLOCK, ...LOOP];
    b.push(...get(P.g), ...get(END_PTR), ...I32_GE_U, ...brIf(1));
    for (const off of offs) b.push(...vector(off, rectify));
    for (const ptr of [P.g, P.m, P.v, P.p])
      b.push(...get(ptr), ...i32const(step), ...I32_ADD, ...set(ptr));
    b.push(...br(0), ...END, ...END);
    return b;
  };

  const body: Bytes = [];
  SCALARS.forEach((s, j) => {
    const splatLoad = k.f32 ? load32Splat(4 * j) : load64Splat(8 * j);
    body.push(...get(P.scalars), ...splatLoad, ...set(splat[s]!));
  });
  body.push(...get(P.g), ...get(P.n), ...i32const(k.f32 ? 2 : 3), ...I32_SHL, ...I32_ADD);
  body.push(...set(END_PTR));
  body.push(...get(P.rectify), ...IF, ...loop(true), ...ELSE, ...loop(false), ...END);
  void ZERO; // the zero vector is a fresh v128 local: all bits zero
  return [...locals, ...body];
}

/** The variants, exported as `radam_<f32|f64>[_nesterov][_decay]`. */
export function variants(): Variant[] {
  const out: Variant[] = [];
  for (const f32 of [true, false])
    for (const nesterov of [false, true])
      for (const decay of [false, true]) out.push({ f32, nesterov, decay });
  return out;
}

export function exportName(k: Variant): string {
  return `radam_${k.f32 ? 'f32' : 'f64'}${k.nesterov ? '_nesterov' : ''}${k.decay ? '_decay' : ''}`;
}

/**
 * The module. `shared`: it imports a shared memory (`(memory 1 65536 shared)`, for an arena
 * stepped by two threads), else an ordinary one (`(memory 1)`); the code is the same.
 */
export function buildModule(shared = false): Uint8Array {
  const ks = variants();
  const funcType = [0x60, ...vec(KERNEL_PARAMS.map(([, t]) => [t])), ...vec([])];
  const bytes: Bytes = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  bytes.push(...section(1, vec([funcType])));
  // Limits: flags 0x00 (min only) or 0x03 (min and max, shared).
  const limits = shared ? [0x03, ...uleb(1), ...uleb(65536)] : [0x00, ...uleb(1)];
  bytes.push(...section(2, vec([[...name('env'), ...name('memory'), 0x02, ...limits]])));
  bytes.push(...section(3, vec(ks.map(() => [0]))));
  bytes.push(...section(7, vec(ks.map((k, i) => [...name(exportName(k)), 0x00, ...uleb(i)]))));
  const bodies = ks.map((k) => {
    const b = [...kernelBody(k), ...END];
    return [...uleb(b.length), ...b];
  });
  bytes.push(...section(10, vec(bodies)));
  return Uint8Array.from(bytes);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const wasm = buildModule();
  const shared = buildModule(true);
  const out = join(
    dirname(fileURLToPath(import.meta.url)),
    '..',
    'src',
    'kernels',
    'radam-wasm.generated.ts',
  );
  const b64 = (m: Uint8Array) => Buffer.from(m).toString('base64');
  writeFileSync(
    out,
    `// Generated by scripts/build-wasm.ts (npm run build:wasm); do not edit.\n/** The fused RAdam WebAssembly SIMD kernels, ${wasm.length} bytes, base64. */\nexport const RADAM_WASM_BASE64 =\n  '${b64(wasm)}';\n/** The same kernels importing a shared memory (for two threads), ${shared.length} bytes, base64. */\nexport const RADAM_WASM_SHARED_BASE64 =\n  '${b64(shared)}';\n`,
  );
  console.log(`wrote ${out} (${wasm.length} bytes)`);
}
