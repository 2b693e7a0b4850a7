/**
 * Emits lowered chains (`lower.ts`) as one WebAssembly module, built with binaryen's module
 * builder. Each kernel is a function `(u, p, a0, a1, a2, a3, a4, a5, sc, n)` of byte offsets and an
 * element count: a SIMD loop (`f32x4` lanes for float32, `f64x2` for float64) over the whole
 * vectors, then a scalar loop (`f32`/`f64`) over the rest, each making the lowered nodes' operations
 * in order. WebAssembly's float operations are IEEE 754 round-to-nearest in their own type, lane by
 * lane, as the JavaScript kernels' rounded operations are, so both give the same bits.
 *
 * `run(prog, start, end, scratch)` steps elements `[start, end)` of a *program* (a list of kernel
 * calls, see {@link PROGRAM}) block by block: for each block of {@link BLOCK} elements it calls
 * every kernel of the program in turn, with the block's offsets and the `scratch` block buffer as
 * `u`, so that a chain split over several kernels keeps its running update in cache.
 */
import binaryen from 'binaryen';
import type { Expr } from '../../src/kernels/expr.js';
import { BLOCK, PROGRAM } from '../../src/kernels/program-layout.js';
import type { Lowered } from './lower.js';

const { i32, v128, f32, f64, none } = binaryen;

/** The kernel signature's parameters: u, p, a0..a5, sc, n. */
const PARAMS = ['u', 'p', 'a0', 'a1', 'a2', 'a3', 'a4', 'a5', 'sc', 'n'] as const;
const param = (name: string) => PARAMS.indexOf(name as (typeof PARAMS)[number]);

function kernelBody(m: binaryen.Module, low: Lowered, isF32: boolean): [number[], number] {
  const size = isF32 ? 4 : 8;
  const S = isF32 ? m.f32 : m.f64;
  const X = isF32 ? m.f32x4 : m.f64x2;
  const scalarType = isF32 ? f32 : f64;
  const locals: number[] = [];
  const newLocal = (type: number) => {
    locals.push(type);
    return PARAMS.length + locals.length - 1;
  };
  const I = newLocal(i32); // byte offset of the current element
  const VEND = newLocal(i32); // byte offset where the whole vectors end
  const END = newLocal(i32); // byte offset of the end
  const get = (k: number, t = i32) => m.local.get(k, t);
  const addr = (name: string) => m.i32.add(get(param(name)), get(I));

  // Scalars: a splat (v128) and a scalar local each, loaded once.
  const scalarLocals = new Map<string, [number, number]>();
  const setup: number[] = [];
  for (let k = 0; k < low.scalarCount; k++) {
    const vec = newLocal(v128);
    const sca = newLocal(scalarType);
    const at = get(param('sc'));
    setup.push(
      m.local.set(
        vec,
        isF32 ? m.v128.load32_splat(4 * k, 4, at) : m.v128.load64_splat(8 * k, 8, at),
      ),
      m.local.set(sca, S.load(size * k, size, get(param('sc')))),
    );
    scalarLocals.set(`s${k}`, [vec, sca]);
  }

  const body = (simd: boolean): number[] => {
    const out: number[] = [];
    const vals = new Map<Expr, number>();
    const type = (e: Expr) =>
      e.op === 'lt' || e.op === 'gt' || e.op === 'eq'
        ? simd
          ? v128
          : i32
        : simd
          ? v128
          : scalarType;
    const val = (e: Expr) => get(vals.get(e)!, type(e));
    for (const e of low.nodes) {
      let x: number;
      switch (e.op) {
        case 'elem':
          x = simd ? m.v128.load(0, 16, addr(e.name)) : S.load(0, size, addr(e.name));
          break;
        case 'scalar': {
          const [vec, sca] = scalarLocals.get(e.name)!;
          vals.set(e, simd ? vec : sca);
          continue;
        }
        case 'zero':
          x = simd ? m.v128.const([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]) : S.const(0);
          break;
        case 'const':
          x = simd ? (isF32 ? m.f32x4 : m.f64x2).splat(S.const(e.value)) : S.const(e.value);
          break;
        case 'sqrt':
        case 'abs':
        case 'neg':
          x = (simd ? X : S)[e.op](val(e.a));
          break;
        case 'select':
          x = simd
            ? m.v128.bitselect(val(e.then), val(e.otherwise), val(e.cond))
            : m.select(val(e.cond), val(e.then), val(e.otherwise));
          break;
        default:
          x = (simd ? X : S)[e.op](val(e.a), val(e.b));
      }
      const k = newLocal(type(e));
      out.push(m.local.set(k, x));
      vals.set(e, k);
    }
    for (const [target, value] of low.stores)
      out.push(
        simd
          ? m.v128.store(0, 16, addr(target), val(value))
          : S.store(0, size, addr(target), val(value)),
      );
    return out;
  };

  const loop = (label: string, limit: number, step: number, stmts: number[]) =>
    m.block(`${label}_done`, [
      m.loop(
        label,
        m.block(null, [
          m.br(`${label}_done`, m.i32.ge_u(get(I), get(limit))),
          ...stmts,
          m.local.set(I, m.i32.add(get(I), m.i32.const(step))),
          m.br(label),
        ]),
      ),
    ]);

  const shift = isF32 ? 2 : 3;
  const stmts = [
    ...setup,
    m.local.set(END, m.i32.shl(get(param('n')), m.i32.const(shift))),
    m.local.set(VEND, m.i32.and(get(END), m.i32.const(~15))),
    m.local.set(I, m.i32.const(0)),
    loop('vec', VEND, 16, body(true)),
    loop('tail', END, size, body(false)),
  ];
  return [locals, m.block(null, stmts)];
}

/** The driver `run(prog, start, end, scratch)` (see the module comment and {@link PROGRAM}). */
function driver(m: binaryen.Module, kernelType: number): number {
  const P = { prog: 0, start: 1, end: 2, scratch: 3 };
  const BLK = 4;
  const N = 5;
  const OFF = 6;
  const K = 7;
  const OP = 8;
  /** Elements per block: {@link BLOCK}, or the whole range for a program of one call. */
  const STEP = 9;
  const get = (k: number) => m.local.get(k, i32);
  const word = (w: number) => m.i32.load(4 * w, 4, get(OP));
  const shifted = (w: number) => m.i32.add(word(w), get(OFF));
  const call = m.call_indirect(
    'kernels',
    word(PROGRAM.FN),
    [
      get(P.scratch),
      shifted(PROGRAM.P),
      ...[0, 1, 2, 3, 4, 5].map((j) => shifted(PROGRAM.A0 + j)),
      word(PROGRAM.SC),
      get(N),
    ],
    kernelType,
    none,
  );
  // (A binaryen expression may appear once in a tree: these make a fresh one per use.)
  const nOps = () => m.i32.load(4 * PROGRAM.N_OPS, 4, get(P.prog));
  const shift = () => m.i32.load(4 * PROGRAM.SHIFT, 4, get(P.prog));
  const body = m.block(null, [
    m.local.set(BLK, get(P.start)),
    // One call (a generated fused chain) needs no block buffer: one call over the whole range.
    m.local.set(
      STEP,
      m.select(
        m.i32.eq(nOps(), m.i32.const(1)),
        m.i32.sub(get(P.end), get(P.start)),
        m.i32.const(BLOCK),
      ),
    ),
    m.block('blocks_done', [
      m.loop(
        'blocks',
        m.block(null, [
          m.br('blocks_done', m.i32.ge_u(get(BLK), get(P.end))),
          // n = min(step, end - blk)
          m.local.set(N, m.i32.sub(get(P.end), get(BLK))),
          m.if(m.i32.gt_u(get(N), get(STEP)), m.local.set(N, get(STEP))),
          m.local.set(OFF, m.i32.shl(get(BLK), shift())),
          m.local.set(K, m.i32.const(0)),
          m.local.set(OP, m.i32.add(get(P.prog), m.i32.const(4 * PROGRAM.HEADER))),
          m.block('ops_done', [
            m.loop(
              'ops',
              m.block(null, [
                m.br('ops_done', m.i32.ge_u(get(K), nOps())),
                call,
                m.local.set(K, m.i32.add(get(K), m.i32.const(1))),
                m.local.set(OP, m.i32.add(get(OP), m.i32.const(4 * PROGRAM.OP_WORDS))),
                m.br('ops'),
              ]),
            ),
          ]),
          m.local.set(BLK, m.i32.add(get(BLK), get(STEP))),
          m.br('blocks'),
        ]),
      ),
    ]),
  ]);
  m.addFunction(
    'run',
    binaryen.createType([i32, i32, i32, i32]),
    none,
    [i32, i32, i32, i32, i32, i32],
    body,
  );
  return 0;
}

/**
 * The module with a kernel per `[name, lowered chain, f32]` (in that order in its function table,
 * and exported under its name) and `run`. `shared`: it imports a shared memory (for two threads).
 */
export function wasmModule(
  kernels: readonly (readonly [string, Lowered, boolean])[],
  shared: boolean,
): Uint8Array {
  const m = new binaryen.Module();
  m.setFeatures(
    binaryen.Features.MVP |
      binaryen.Features.SIMD128 |
      (shared ? binaryen.Features.Atomics : 0) |
      binaryen.Features.BulkMemory,
  );
  m.setMemory(1, shared ? 65536 : -1, null, [], shared, false, '0');
  m.addMemoryImport('0', 'env', 'memory', shared);
  const kernelType = binaryen.createType(PARAMS.map(() => i32));
  for (const [name, low, isF32] of kernels) {
    const [locals, body] = kernelBody(m, low, isF32);
    m.addFunction(name, kernelType, none, locals, body);
    m.addFunctionExport(name, name);
  }
  m.addTable('kernels', kernels.length, kernels.length);
  m.addActiveElementSegment(
    'kernels',
    'kernels_init',
    kernels.map(([name]) => name),
    m.i32.const(0),
  );
  driver(m, kernelType);
  m.addFunctionExport('run', 'run');
  if (!m.validate()) throw new Error('the generated WebAssembly module does not validate');
  const bytes = m.emitBinary();
  m.dispose();
  return bytes;
}
