/**
 * Checkpoints: the safetensors layout, bit-exact round trips, resuming equal to never stopping,
 * errors for truncated, corrupted and mismatched files, Python interoperability and the Node
 * file helpers.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runInNewContext } from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import { crc32 } from '../src/checkpoint/safetensors.js';
import {
  applyIfFinite,
  applyUpdates,
  CheckpointError,
  chain,
  checkpointMetadata,
  deserializeState,
  deserializeStateInto,
  type GradientTransformationExtraArgs,
  injectHyperparams,
  lookahead,
  lookaheadParams,
  multiSteps,
  Optimizer,
  radam,
  scale,
  scaleByLearningRate,
  scaleByRadam,
  scaleBySchedule,
  serializeState,
} from '../src/index.js';
import { loadState, loadStateInto, removeStaleTemporaries, saveState } from '../src/node/index.js';
import { VERSION } from '../src/version.js';

const PYTHON = '/usr/bin/python3';

/** The header of a checkpoint, parsed. */
function header(bytes: Uint8Array): Record<string, any> {
  const n = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true);
  return JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
}

/** Builds safetensors bytes from a header object and a data section, with no checks. */
function build(
  head: unknown,
  data: Uint8Array = new Uint8Array(0),
  headerText?: string,
): Uint8Array {
  const json = new TextEncoder().encode(headerText ?? JSON.stringify(head));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/** Deep equality that compares typed arrays by dtype and bits (NaN payloads, -0 included). */
function expectBitEqual(a: unknown, b: unknown, path = ''): void {
  if (ArrayBuffer.isView(a)) {
    expect(ArrayBuffer.isView(b), path).toBe(true);
    expect((b as object).constructor, path).toBe((a as object).constructor);
    const x = a as Float64Array;
    const y = b as Float64Array;
    expect(y.length, path).toBe(x.length);
    const bx = new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
    const by = new Uint8Array(y.buffer, y.byteOffset, y.byteLength);
    expect(Buffer.from(by).equals(Buffer.from(bx)), `${path}: ${x} vs ${y}`).toBe(true);
    return;
  }
  if (Array.isArray(a)) {
    expect(Array.isArray(b), path).toBe(true);
    expect((b as unknown[]).length, path).toBe(a.length);
    for (let i = 0; i < a.length; i++) expectBitEqual(a[i], (b as unknown[])[i], `${path}[${i}]`);
    return;
  }
  if (a !== null && typeof a === 'object') {
    expect(b !== null && typeof b === 'object' && !Array.isArray(b), path).toBe(true);
    expect(Object.keys(b as object).sort(), path).toEqual(Object.keys(a).sort());
    for (const k of Object.keys(a)) expectBitEqual((a as any)[k], (b as any)[k], `${path}.${k}`);
    return;
  }
  expect(Object.is(a, b), `${path}: ${String(a)} vs ${String(b)}`).toBe(true);
}

/** A deterministic pseudo-random gradient for step `t`, leaf `j`, element `i`. */
function g(t: number, j: number, i: number): number {
  return Math.sin(1.7 * t + 0.31 * j + 2.3 * i) * (1 + ((t * 7 + i) % 5)) * 0.3;
}

function makeParams(f32: boolean) {
  const A = f32 ? Float32Array : Float64Array;
  return {
    layers: [
      { w: A.from([0.5, -1.25, 2, 0.125]), b: A.from([0.1]) },
      { w: A.from([1, 2, 3]), b: null },
    ],
    'odd key': A.from([3, -3]),
    scalar: 0.75,
  };
}

function gradsFor(params: unknown, t: number): unknown {
  let j = 0;
  const visit = (x: unknown): unknown => {
    if (x === null) return null;
    if (typeof x === 'number') return g(t, j++, 0) + 0.1 * x;
    if (ArrayBuffer.isView(x)) {
      const leaf = x as Float64Array;
      const jj = j++;
      return leaf.map((v, i) => g(t, jj, i) + 0.1 * v);
    }
    if (Array.isArray(x)) return x.map(visit);
    return Object.fromEntries(
      Object.keys(x as object)
        .sort()
        .map((k) => [k, visit((x as any)[k])]),
    );
  };
  return visit(params);
}

interface ResumeCase {
  name: string;
  make: () => GradientTransformationExtraArgs;
  /** The params the transformation works on, from plain params (lookahead: `{ fast, slow }`). */
  wrap?: (p: unknown) => unknown;
  /** The gradients at step `t` (default: {@link gradsFor} the params). */
  grads?: (params: unknown, t: number) => unknown;
  /** What the state at the checkpoint (after 8 steps) must show. */
  atCheckpoint?: (state: any) => void;
}

/** Runs `steps` functional steps from (params, state), gradients depending on params. */
function run(
  c: ResumeCase | GradientTransformationExtraArgs,
  params: unknown,
  state: unknown,
  from: number,
  steps: number,
  tx: GradientTransformationExtraArgs = 'make' in c ? c.make() : c,
): [unknown, unknown] {
  const gradsOf = ('make' in c && c.grads) || gradsFor;
  for (let t = from; t < from + steps; t++) {
    const [u, s] = tx.update(gradsOf(params, t), state, params);
    params = applyUpdates(params, u);
    state = s;
  }
  return [params, state];
}

/** Gradients with a NaN at steps 3 and 11 (to exercise applyIfFinite's counters). */
function gradsWithNaN(params: unknown, t: number): unknown {
  const gr = gradsFor(params, t) as any;
  if (t === 3 || t === 11) gr.layers[0].w[1] = Number.NaN;
  return gr;
}

const resumeCases: ResumeCase[] = [
  { name: 'radam', make: () => radam(0.01) },
  {
    name: 'radam nesterov, b2 0.99',
    make: () => radam(0.02, { b1: 0.8, b2: 0.99, nesterov: true }),
  },
  { name: 'radam with a schedule', make: () => radam((c) => 0.05 / (1 + c)) },
  {
    name: 'chain(scaleByRadam, scaleBySchedule, scale)',
    make: () =>
      chain(
        scaleByRadam({ eps: 0, epsRoot: 1e-12 }),
        scaleBySchedule((c) => 0.9 ** c),
        scale(-0.01),
      ),
  },
  {
    name: 'nested chains',
    make: () => chain(chain(scaleByRadam()), chain(scaleByLearningRate(0.03))),
  },
  {
    name: 'injectHyperparams(radam) with a scheduled and a constant hyperparameter',
    make: () =>
      injectHyperparams((h: { lr: number; b1: number }) => radam(h.lr, { b1: h.b1 }))({
        lr: (c: number) => 0.05 * 0.95 ** c,
        b1: 0.85,
      }),
  },
  {
    name: 'lookahead(radam)',
    make: () => lookahead(radam(0.02), { syncPeriod: 3, slowStepSize: 0.5 }),
    wrap: (p) => lookaheadParams(p),
    grads: (params, t) => gradsFor((params as any).fast, t),
  },
  {
    name: 'multiSteps(radam), everyK 3 (the checkpoint falls mid-accumulation)',
    make: () => multiSteps(radam(0.02), { everyK: 3 }),
    atCheckpoint: (s) => expect([s.miniStep, s.gradientStep]).toEqual([2, 2]),
  },
  {
    name: 'applyIfFinite(radam) with NaN gradients before and after the checkpoint',
    make: () => applyIfFinite(radam(0.02), 2),
    grads: gradsWithNaN,
    atCheckpoint: (s) => expect([s.totalNotfinite, s.lastFinite]).toEqual([1, true]),
  },
];

describe('version', () => {
  it('VERSION equals package.json version, and checkpoints record it', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
    expect(VERSION).toBe(pkg.version);
    expect(checkpointMetadata(serializeState({ count: 0 }))['optax_ts.version']).toBe(VERSION);
  });
  it('the package exports ./node, and the core checkpoint modules import nothing from Node', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
    expect(pkg.exports['./node']).toEqual({
      types: './dist/node/index.d.ts',
      default: './dist/node/index.js',
    });
    for (const file of [
      'src/checkpoint/safetensors.ts',
      'src/checkpoint/state.ts',
      'src/version.ts',
    ])
      expect(readFileSync(file, 'utf8')).not.toMatch(/from ['"](node:|fs|path|crypto)/);
  });
});

describe('safetensors layout', () => {
  const tx = radam(1e-3);
  const params = makeParams(true);
  const [, state] = run(tx, params, tx.init(params), 0, 3);
  const bytes = serializeState(state, { metadata: { run: 'demo', step: '3' } });

  it('header: u64 LE length, 8-byte aligned data, tensors named by tree path', () => {
    const view = new DataView(bytes.buffer);
    const n = view.getUint32(0, true);
    expect(view.getUint32(4, true)).toBe(0);
    expect((8 + n) % 8).toBe(0);
    const h = header(bytes);
    expect(Object.keys(h).sort()).toEqual(
      [
        '__metadata__',
        'state[0].count',
        'state[0].mu.layers[0].b',
        'state[0].mu.layers[0].w',
        'state[0].mu.layers[1].w',
        'state[0].mu["odd key"]',
        'state[0].mu.scalar',
        'state[0].nu.layers[0].b',
        'state[0].nu.layers[0].w',
        'state[0].nu.layers[1].w',
        'state[0].nu["odd key"]',
        'state[0].nu.scalar',
      ].sort(),
    );
    expect(h['state[0].count']).toMatchObject({ dtype: 'I64', shape: [] });
    expect(h['state[0].mu.layers[0].w']).toMatchObject({ dtype: 'F32', shape: [4] });
    expect(h['state[0].mu.scalar']).toMatchObject({ dtype: 'F64', shape: [] });
    // Offsets tile the data section, each tensor aligned to its element size.
    const entries = Object.entries(h)
      .filter(([k]) => k !== '__metadata__')
      .map(([, e]) => e as { dtype: string; data_offsets: [number, number] })
      .sort((a, b) => a.data_offsets[0] - b.data_offsets[0]);
    let at = 0;
    for (const e of entries) {
      expect(e.data_offsets[0]).toBe(at);
      expect(e.data_offsets[0] % (e.dtype === 'F32' ? 4 : 8)).toBe(0);
      at = e.data_offsets[1];
    }
    expect(8 + n + at).toBe(bytes.length);
  });

  it('metadata: the caller keys plus version, format, treedef and CRC-32', () => {
    const m = checkpointMetadata(bytes);
    expect(m.run).toBe('demo');
    expect(m.step).toBe('3');
    expect(m['optax_ts.format']).toBe('2');
    expect(JSON.parse(m['optax_ts.treedef']!)).toEqual([
      {
        count: 0,
        mu: {
          layers: [
            { b: 0, w: 0 },
            { b: null, w: 0 },
          ],
          'odd key': 0,
          scalar: 0,
        },
        nu: {
          layers: [
            { b: 0, w: 0 },
            { b: null, w: 0 },
          ],
          'odd key': 0,
          scalar: 0,
        },
      },
      {},
    ]);
    expect(m['optax_ts.crc32']).toMatch(/^[0-9a-f]{8}$/);
  });

  it('scalars: safe integers as I64, other numbers as F64, booleans as BOOL, all exact', () => {
    const s = {
      count: 7,
      big: 2 ** 53 - 1,
      huge: 2 ** 60,
      neg: -3,
      lr: 0.1,
      negZero: -0,
      nan: Number.NaN,
      inf: -Infinity,
      flag: true,
      off: false,
      ints: Int32Array.of(-1, 2),
      bytes: Uint8Array.of(255),
    };
    const b = serializeState(s);
    const h = header(b);
    const dt = (k: string) => h[`state.${k}`].dtype;
    expect([dt('count'), dt('big'), dt('neg'), dt('huge'), dt('lr'), dt('negZero')]).toEqual([
      'I64',
      'I64',
      'I64',
      'F64',
      'F64',
      'F64',
    ]);
    expect([dt('flag'), dt('ints'), dt('bytes')]).toEqual(['BOOL', 'I32', 'U8']);
    const template = {
      ...s,
      count: 0,
      big: 0,
      huge: 0,
      neg: 0,
      lr: 0,
      negZero: 0,
      nan: 0,
      inf: 0,
      flag: false,
      off: true,
      ints: new Int32Array(2),
      bytes: new Uint8Array(1),
    };
    expectBitEqual(deserializeState(b, template), s);
  });

  it('a state that is a single leaf is the tensor "state"', () => {
    const b = serializeState(Float64Array.of(1, 2));
    expect(Object.keys(header(b))).toContain('state');
    expectBitEqual(deserializeState(b, new Float64Array(2)), Float64Array.of(1, 2));
  });

  it('refuses unsupported leaves, cycles and bad metadata, naming them', () => {
    expect(() => serializeState({ a: [1, 'x'] })).toThrow(
      new CheckpointError(
        'serializeState: state.a[1] is string "x"; a state leaf must be a number, a boolean, a Float32Array, a Float64Array or an integer typed array (or null)',
      ),
    );
    expect(() => serializeState({ a: undefined })).toThrow(/state\.a is undefined/);
    expect(() => serializeState({ m: new Map() })).toThrow(/state\.m is Map/);
    const cyclic: any = { a: {} };
    cyclic.a.self = cyclic;
    expect(() => serializeState(cyclic)).toThrow(/state\.a\.self: the tree is cyclic/);
    expect(() => serializeState({}, { metadata: { n: 3 as any } })).toThrow(
      'serializeState: metadata["n"] must be a string (safetensors metadata is a map of strings), got number 3',
    );
    expect(() => serializeState({}, { metadata: { 'optax_ts.version': 'x' } })).toThrow(
      /metadata key "optax_ts.version" is reserved/,
    );
    expect(() => serializeState({}, { meta: {} } as any)).toThrow(
      'serializeState: unknown option "meta"; expected metadata',
    );
  });
});

describe('round trips and resuming', () => {
  for (const f32 of [true, false]) {
    for (const c of resumeCases) {
      it(`${c.name}, ${f32 ? 'float32' : 'float64'}: resuming is bit-identical to never stopping`, () => {
        const wrap = c.wrap ?? ((p: unknown) => p);
        const tx = c.make();
        const p0 = wrap(makeParams(f32));
        const [pEnd, sEnd] = run(c, p0, tx.init(p0), 0, 20, tx);

        const [pMid, sMid] = run(c, p0, tx.init(p0), 0, 8, tx);
        c.atCheckpoint?.(sMid);
        const bytes = serializeState(sMid);
        // A fresh process rebuilds the template from fresh params and a fresh transformation.
        const tx2 = c.make();
        const restored = deserializeState(bytes, tx2.init(wrap(makeParams(f32))));
        expectBitEqual(restored, sMid);
        const [pResumed, sResumed] = run(c, pMid, restored, 8, 12, tx2);
        expectBitEqual(pResumed, pEnd);
        expectBitEqual(sResumed, sEnd);
      });
    }
  }

  const kernels = [
    {},
    { kernel: 'js' as const },
    { kernel: 'wasm' as const },
    { kernel: 'generic' as const },
    { arena: true },
  ];
  for (const c of resumeCases) {
    it(`${c.name}: an in-place Optimizer resumed with deserializeStateInto continues bit for bit (every kernel)`, () => {
      const wrap = c.wrap ?? ((p: unknown) => p);
      const gradsOf = c.grads ?? gradsFor;
      const stepOnce = (opt: Optimizer<any>, t: number) => {
        const g = gradsOf(opt.params, t) as any;
        opt.step(c.wrap ? { fast: g, slow: g } : g);
      };
      for (const f32 of [true, false]) {
        for (const options of kernels) {
          // Number leaves cannot live in an Optimizer: drop the scalar param.
          const fresh = () => {
            const { scalar: _, ...p } = makeParams(f32);
            return wrap(p);
          };
          const straight = new Optimizer(c.make(), fresh(), options);
          for (let t = 0; t < 20; t++) stepOnce(straight, t);
          const first = new Optimizer(c.make(), fresh(), options);
          for (let t = 0; t < 8; t++) stepOnce(first, t);
          const stateBytes = serializeState(first.state);
          const paramBytes = serializeState(first.params);
          const resumed = new Optimizer(c.make(), fresh(), options);
          const stateObject = resumed.state;
          expect(deserializeStateInto(stateBytes, resumed.state)).toBe(stateObject);
          deserializeStateInto(paramBytes, resumed.params);
          for (let t = 8; t < 20; t++) stepOnce(resumed, t);
          expectBitEqual(resumed.params, straight.params);
          expectBitEqual(resumed.state, straight.state);
        }
      }
    });
  }

  it('deserializeStateInto writes nothing when the checkpoint is bad, and refuses a scalar target', () => {
    const tx = radam(0.1);
    const params = makeParams(false);
    const [, state] = run(tx, params, tx.init(params), 0, 3);
    const bytes = serializeState(state);
    const target = tx.init(params);
    const before = Buffer.from(serializeState(target));
    const corrupt = bytes.slice();
    corrupt[corrupt.length - 1]! ^= 1;
    expect(() => deserializeStateInto(corrupt, target)).toThrow(/the checkpoint is corrupted/);
    expect(() => deserializeStateInto(bytes, tx.init(makeParams(true)))).toThrow(
      /expected F32 with 1 elements, the checkpoint has dtype F64/,
    );
    expect(Buffer.from(serializeState(target)).equals(before)).toBe(true);
    expect(() => deserializeStateInto(serializeState(3), 0)).toThrow(
      new CheckpointError(
        'deserializeStateInto: target must be a tree (an object, a list or a typed array) to write into, got number 0; use deserializeState for a single number',
      ),
    );
    const leaf = new Float64Array(2);
    expect(deserializeStateInto(serializeState(Float64Array.of(4, 5)), leaf)).toBe(leaf);
    expect(Array.from(leaf)).toEqual([4, 5]);
  });

  it('deserializeStateInto checks that the target can be written before writing anything', () => {
    const tx = radam(0.1);
    const params = makeParams(false);
    const [, state] = run(tx, params, tx.init(params), 0, 3);
    const bytes = serializeState(state);
    const frozen = tx.init(params) as any;
    Object.freeze(frozen[0]);
    const before = Buffer.from(serializeState(frozen));
    expect(() => deserializeStateInto(bytes, frozen)).toThrow(
      new CheckpointError(
        'deserializeStateInto: target[0].count cannot be assigned (its container is frozen); nothing was written',
      ),
    );
    expect(Buffer.from(serializeState(frozen)).equals(before)).toBe(true);
    const getter = tx.init(params) as any;
    Object.defineProperty(getter[0], 'count', { get: () => 0, enumerable: true });
    expect(() => deserializeStateInto(bytes, getter)).toThrow(
      'deserializeStateInto: target[0].count cannot be assigned (it is read-only or an accessor); nothing was written',
    );
    const shared = tx.init(params) as any;
    shared[0].nu['odd key'] = shared[0].mu['odd key'];
    const snapshot = Buffer.from(serializeState(shared));
    expect(() => deserializeStateInto(bytes, shared)).toThrow(
      /target\[0\]\.mu\["odd key"\] and target\[0\]\.nu\["odd key"\] share memory/,
    );
    expect(Buffer.from(serializeState(shared)).equals(snapshot)).toBe(true);
  });

  it('the result shares no memory with the bytes or the template, and neither is modified', () => {
    const tx = radam(0.1);
    const params = makeParams(false);
    const [, state] = run(tx, params, tx.init(params), 0, 2);
    const bytes = serializeState(state);
    const copy = bytes.slice();
    const template = tx.init(params);
    const before = serializeState(template);
    const restored = deserializeState(bytes, template) as any;
    expect(Buffer.from(bytes).equals(Buffer.from(copy))).toBe(true);
    expect(Buffer.from(serializeState(template)).equals(Buffer.from(before))).toBe(true);
    bytes.fill(0);
    expectBitEqual(restored, state);
    restored[0].mu['odd key'][0] = 123;
    expect((template as any)[0].mu['odd key'][0]).toBe(0);
  });

  it('reads from an unaligned view and from an ArrayBuffer', () => {
    const state = { x: Float64Array.of(1.5, -2), c: 3 };
    const bytes = serializeState(state);
    const shifted = new Uint8Array(bytes.length + 3);
    shifted.set(bytes, 3);
    const template = { x: new Float64Array(2), c: 0 };
    expectBitEqual(deserializeState(shifted.subarray(3), template), state);
    expectBitEqual(deserializeState(bytes.slice().buffer, template), state);
  });
});

describe('truncated, corrupted and mismatched checkpoints', () => {
  const tx = radam(0.01);
  const params = makeParams(true);
  const [, state] = run(tx, params, tx.init(params), 0, 4);
  const bytes = serializeState(state);
  const template = () => tx.init(makeParams(true));

  it('every truncation throws a CheckpointError', () => {
    for (let k = 0; k < bytes.length; k++)
      expect(() => deserializeState(bytes.subarray(0, k), template())).toThrow(CheckpointError);
  });

  it('names the problem: too short, bad header length, truncated data', () => {
    expect(() => deserializeState(bytes.subarray(0, 5), template())).toThrow(
      'deserializeState: the checkpoint is 5 bytes; a safetensors file starts with an 8-byte header length (truncated file?)',
    );
    expect(() => deserializeState(bytes.subarray(0, 100), template())).toThrow(
      /^deserializeState: bad header length \d+: only 92 bytes follow it \(truncated file, or not a safetensors checkpoint\)$/,
    );
    const huge = bytes.slice();
    new DataView(huge.buffer).setUint32(4, 1, true);
    expect(() => deserializeState(huge, template())).toThrow(
      /bad header length 42949\d{5}: only \d+ bytes follow it/,
    );
    expect(() => deserializeState(bytes.subarray(0, bytes.length - 4), template())).toThrow(
      /data_offsets \[\d+, \d+\] are out of range: the data section has \d+ bytes \(truncated file\?\)/,
    );
    expect(() => deserializeState(build({}, undefined, '{"a": [1, 2}'), template())).toThrow(
      /^deserializeState: bad header: not valid JSON/,
    );
    expect(() => deserializeState(build([1, 2]), template())).toThrow(
      'deserializeState: bad header: expected a JSON object of tensors, got an array',
    );
    const zero = new Uint8Array(8);
    expect(() => deserializeState(zero, template())).toThrow(
      'deserializeState: bad header length 0; expected at least 2 (the JSON header "{}")',
    );
  });

  it('every single-bit flip in the data section is caught by the CRC-32', () => {
    const start = 8 + new DataView(bytes.buffer).getUint32(0, true);
    for (let i = start; i < bytes.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const bad = bytes.slice();
        bad[i]! ^= 1 << bit;
        expect(() => deserializeState(bad, template())).toThrow(
          /the checkpoint is corrupted: the CRC-32 of its \d+ bytes is [0-9a-f]{8}, the header records [0-9a-f]{8}/,
        );
      }
    }
  });

  it('bad offsets: out of range, overlapping, holes, trailing bytes, wrong byte counts', () => {
    const d = new Uint8Array(16);
    const f =
      (entries: Record<string, unknown>, data = d) =>
      () =>
        deserializeState(build(entries, data), {});
    expect(f({ a: { dtype: 'F64', shape: [3], data_offsets: [0, 24] } })).toThrow(
      'deserializeState: bad header entry "a": data_offsets [0, 24] are out of range: the data section has 16 bytes (truncated file?)',
    );
    expect(
      f({
        a: { dtype: 'F64', shape: [2], data_offsets: [0, 16] },
        b: { dtype: 'F64', shape: [1], data_offsets: [8, 16] },
      }),
    ).toThrow('deserializeState: bad header: tensors "a" [0, 16] and "b" [8, 16] overlap');
    expect(f({ a: { dtype: 'F64', shape: [1], data_offsets: [8, 16] } })).toThrow(
      'deserializeState: bad header: bytes [0, 8) of the data section belong to no tensor (before "a")',
    );
    expect(f({ a: { dtype: 'F64', shape: [1], data_offsets: [0, 8] } })).toThrow(
      'deserializeState: the data section has 16 bytes but the tensors cover 8: 8 trailing bytes (corrupted or concatenated file?)',
    );
    expect(f({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 16] } })).toThrow(
      'deserializeState: bad header entry "a": data_offsets [0, 16] span 16 bytes; F32 of shape [3] needs 12',
    );
    expect(f({ a: { dtype: 'F32', shape: [4], data_offsets: [16, 0] } })).toThrow(
      'deserializeState: bad header entry "a": data_offsets must be [begin, end] with 0 <= begin <= end, got [16,0]',
    );
    expect(f({ a: { dtype: 'Q7', shape: [4], data_offsets: [0, 16] } })).toThrow(
      /bad header entry "a": unknown dtype "Q7"; expected one of BOOL, U8/,
    );
    expect(f({ a: { dtype: 'F32', shape: [-4], data_offsets: [0, 16] } })).toThrow(
      'deserializeState: bad header entry "a": shape must be a list of non-negative integers, got [-4]',
    );
    expect(f({ a: 3 })).toThrow(
      'deserializeState: bad header entry "a": expected { dtype, shape, data_offsets }, got number 3',
    );
    expect(f({ __metadata__: { k: 1 } }, new Uint8Array(0))).toThrow(
      'deserializeState: bad header: __metadata__["k"] must be a string, got number 1',
    );
  });

  it('a newer checkpoint format, a malformed or missing checksum are refused', () => {
    const state1 = { c: 1 };
    const h = header(serializeState(state1));
    const data = new Uint8Array(8);
    data[0] = 1;
    const { 'optax_ts.crc32': _, ...unchecked } = h.__metadata__;
    const withMeta = (meta: Record<string, string>) =>
      build({ ...h, __metadata__: { ...unchecked, ...meta } }, data);
    const lax = { requireChecksum: false };
    expect(() => deserializeState(withMeta({ 'optax_ts.format': '3' }), { c: 0 }, lax)).toThrow(
      `deserializeState: checkpoint format "3" (written by optax-ts ${VERSION}) is not supported; this is optax-ts ${VERSION}, which reads formats 1 and 2`,
    );
    expect(() => deserializeState(withMeta({ 'optax_ts.crc32': 'zz' }), { c: 0 })).toThrow(
      'deserializeState: bad header: optax_ts.crc32 must be 8 lowercase hex digits, got "zz"',
    );
    expect(() => deserializeState(withMeta({}), { c: 0 })).toThrow(
      new CheckpointError(
        'deserializeState: the checkpoint has no optax_ts.crc32 checksum (the key was removed: the file was edited); pass { requireChecksum: false } to read it anyway, checked structurally only',
      ),
    );
    expect(deserializeState(withMeta({}), { c: 0 }, lax)).toEqual({ c: 1 });
    expect(() => deserializeState(withMeta({ 'optax_ts.extra': 'x' }), { c: 0 }, lax)).toThrow(
      'deserializeState: bad header: unknown metadata key "optax_ts.extra"; optax-ts writes optax_ts.version, optax_ts.format, optax_ts.treedef, optax_ts.crc32',
    );
    expect(() => deserializeState(serializeState(state1), { c: 0 }, { strict: 1 } as any)).toThrow(
      'deserializeState: unknown option "strict"; expected requireChecksum',
    );
  });

  it('a format-1 file (older optax-ts: CRC-32 of the data only) loads with requireChecksum: false', () => {
    const h = header(bytes);
    const start = 8 + new DataView(bytes.buffer).getUint32(0, true);
    const data = bytes.subarray(start);
    const v1 = build(
      {
        ...h,
        __metadata__: {
          ...h.__metadata__,
          'optax_ts.format': '1',
          'optax_ts.crc32': crc32(data).toString(16).padStart(8, '0'),
        },
      },
      data,
    );
    expect(() => deserializeState(v1, template())).toThrow(
      'deserializeState: the checkpoint has no optax_ts.crc32 checksum of its header (format 1, written by an older optax-ts, checks the data only); pass { requireChecksum: false } to read it anyway, checked structurally only',
    );
    expectBitEqual(deserializeState(v1, template(), { requireChecksum: false }), state);
    const flipped = v1.slice();
    flipped[flipped.length - 2]! ^= 4;
    expect(() => deserializeState(flipped, template(), { requireChecksum: false })).toThrow(
      /the checkpoint is corrupted: the CRC-32 of its \d+ data bytes is [0-9a-f]{8}, the header records/,
    );
  });

  it('a checkpoint of float64 state read with a float32 template names the path and both dtypes', () => {
    const s64 = tx.init(makeParams(false));
    expect(() => deserializeState(serializeState(s64), template())).toThrow(
      new CheckpointError(
        'deserializeState: state[0].mu.layers[0].b: expected F32 with 1 elements, the checkpoint has dtype F64 (shape [1])',
      ),
    );
  });

  it('wrong lengths, structures, missing and extra tensors name the first mismatching path', () => {
    const other = makeParams(true);
    other.layers[1]!.w = new Float32Array(5);
    expect(() => deserializeState(bytes, tx.init(other))).toThrow(
      'deserializeState: state[0].mu.layers[1].w: expected F32 with 5 elements, the checkpoint has shape [3] (3 elements)',
    );
    const extraKey = { ...makeParams(true), extra: new Float32Array(1) };
    expect(() => deserializeState(bytes, tx.init(extraKey))).toThrow(
      'deserializeState: state[0].mu: the template has keys [extra, layers, odd key, scalar], the checkpoint has [layers, odd key, scalar]: no "extra"',
    );
    const nullB = makeParams(true) as any;
    nullB.layers[0].b = null;
    expect(() => deserializeState(bytes, tx.init(nullB))).toThrow(
      'deserializeState: state[0].mu.layers[0].b: the template has null, the checkpoint has a leaf',
    );
    expect(() => deserializeState(bytes, scaleByRadam().init(makeParams(true)))).toThrow(
      'deserializeState: state: the template has an object with keys [count, mu, nu], the checkpoint has a list of length 2',
    );
    // Without the treedef (a file written by another tool) the tensor names decide.
    const h = header(bytes);
    const start = 8 + new DataView(bytes.buffer).getUint32(0, true);
    const data = bytes.subarray(start);
    const noTreedef = build({ ...h, __metadata__: {} }, data);
    const lax = { requireChecksum: false };
    expectBitEqual(deserializeState(noTreedef, template(), lax), state);
    expect(() => deserializeState(noTreedef, tx.init(extraKey), lax)).toThrow(
      'deserializeState: state[0].mu.extra: missing from the checkpoint (expected F32 with 1 elements)',
    );
    expect(() => deserializeState(noTreedef, tx.init(nullB), lax)).toThrow(
      'deserializeState: the checkpoint has 2 tensors that the template does not: "state[0].mu.layers[0].b", "state[0].nu.layers[0].b"',
    );
    expect(() => deserializeState(serializeState({ c: 1.5 }), { c: false })).toThrow(
      'deserializeState: state.c: expected a boolean (a 0-d BOOL tensor), the checkpoint has dtype F64 (shape [])',
    );
    expect(() => deserializeState(bytes, { bad: 'template' })).toThrow(
      /state: the template has an object with keys \[bad\], the checkpoint has a list of length 2/,
    );
    expect(() => deserializeState(noTreedef, [{ count: 'x' }, {}], lax)).toThrow(
      `deserializeState: the template's leaf state[0].count is string "x"; expected a number, a boolean, a typed array or null (pass tx.init(params))`,
    );
    expect(() => deserializeState('bytes' as any, {})).toThrow(
      'deserializeState: bytes must be a Uint8Array (or an ArrayBuffer), got string "bytes"',
    );
  });

  it('I64 values beyond 2^53 and BOOL bytes other than 0/1 are refused', () => {
    const big = new Uint8Array(8);
    new DataView(big.buffer).setBigInt64(0, 2n ** 60n, true);
    expect(() =>
      deserializeState(
        build({ 'state.c': { dtype: 'I64', shape: [], data_offsets: [0, 8] } }, big),
        { c: 0 },
        { requireChecksum: false },
      ),
    ).toThrow(
      'deserializeState: state.c: the I64 value 1152921504606846976 is outside the range a number holds exactly (|x| <= 2^53 - 1)',
    );
    expect(() =>
      deserializeState(
        build({ 'state.f': { dtype: 'BOOL', shape: [], data_offsets: [0, 1] } }, Uint8Array.of(2)),
        { f: true },
        { requireChecksum: false },
      ),
    ).toThrow('deserializeState: state.f: a BOOL must be the byte 0 or 1, found 2');
  });
});

const tmp = mkdtempSync(join(tmpdir(), 'optax-ts-ckpt-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('Python reads the file', () => {
  const hasPython =
    existsSync(PYTHON) &&
    (() => {
      try {
        execFileSync(PYTHON, ['-c', 'import numpy'], { stdio: 'ignore' });
        return true;
      } catch {
        return false;
      }
    })();
  it.skipIf(!hasPython)(
    `scripts/read_checkpoint.py (NumPy, ${PYTHON}) reads every tensor exactly and checks the CRC-32${
      hasPython ? '' : ' [SKIPPED: /usr/bin/python3 with numpy not found]'
    }`,
    () => {
      const tx = radam(0.01, { nesterov: true });
      const params = makeParams(true);
      const [, state] = run(tx, params, tx.init(params), 0, 6);
      const s = state as any;
      s[0].mu['odd key'][1] = Number.NaN;
      const extra = { opt: state, flag: true, lr: 0.1, ints: Int32Array.of(-7, 9) };
      const file = join(tmp, 'py.safetensors');
      writeFileSync(file, serializeState(extra, { metadata: { note: 'from ts' } }));
      const out = JSON.parse(
        execFileSync(PYTHON, ['scripts/read_checkpoint.py', '--json', file], { encoding: 'utf8' }),
      );
      expect(out.crc32_ok).toBe(true);
      expect(out.metadata.note).toBe('from ts');
      expect(out.metadata['optax_ts.version']).toBe(VERSION);
      const t = out.tensors;
      expect(t['state.opt[0].count']).toEqual({ dtype: 'I64', shape: [], values: 6 });
      expect(t['state.flag']).toEqual({ dtype: 'BOOL', shape: [], values: true });
      expect(t['state.lr']).toEqual({ dtype: 'F64', shape: [], values: 0.1 });
      expect(t['state.ints']).toEqual({ dtype: 'I32', shape: [2], values: [-7, 9] });
      expect(t['state.opt[0].mu["odd key"]'].values).toEqual([s[0].mu['odd key'][0], 'NaN']);
      const w = s[0].nu.layers[0].w as Float32Array;
      expect(t['state.opt[0].nu.layers[0].w']).toEqual({
        dtype: 'F32',
        shape: [4],
        values: Array.from(w),
      });
      // A flipped data byte fails the Python-side CRC check too.
      const bad = readFileSync(file);
      bad[bad.length - 1]! ^= 0x10;
      writeFileSync(file, bad);
      expect(() =>
        execFileSync(PYTHON, ['scripts/read_checkpoint.py', file], { stdio: 'pipe' }),
      ).toThrow();
    },
  );
});

describe('optax-ts/node: saveState and loadState', () => {
  const tx = radam(0.01);
  const params = makeParams(false);
  const [, state] = run(tx, params, tx.init(params), 0, 5);

  it('saves atomically, overwrites, leaves no temporary files, and loads bit for bit', async () => {
    const file = join(tmp, 'opt.safetensors');
    await saveState(file, tx.init(params));
    await saveState(file, state, { metadata: { step: '5' } });
    expect(readdirSync(tmp).filter((f) => f.includes('opt.safetensors'))).toEqual([
      'opt.safetensors',
    ]);
    expectBitEqual(await loadState(file, tx.init(makeParams(false))), state);
    expect(checkpointMetadata(readFileSync(file)).step).toBe('5');
  });

  it('a failing save leaves the previous file intact and no temporary file', async () => {
    const file = join(tmp, 'keep.safetensors');
    await saveState(file, state);
    const before = readFileSync(file);
    await expect(saveState(file, { bad: 'leaf' })).rejects.toThrow(/state\.bad is string/);
    await expect(saveState(join(tmp, 'no-such-dir', 'x.safetensors'), state)).rejects.toThrow(
      /ENOENT/,
    );
    expect(readFileSync(file).equals(before)).toBe(true);
    expect(readdirSync(tmp).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    // A failure after the temporary file was written (the rename onto a directory fails).
    const target = join(tmp, 'a-directory');
    mkdirSync(join(target, 'inside'), { recursive: true });
    await expect(saveState(target, state)).rejects.toThrow(/EISDIR|ENOTEMPTY|EEXIST/);
    expect(readdirSync(tmp).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('removes the temporary files of killed writers (a dead pid), keeps those of live ones', async () => {
    const dir = mkdtempSync(join(tmp, 'stale-'));
    const file = join(dir, 'run.safetensors');
    // A pid that existed and is gone: a child process that has exited.
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    const stale = `.run.safetensors.${dead}.0123456789ab.tmp`;
    const live = `.run.safetensors.${process.ppid}.0123456789ab.tmp`;
    const other = `.other.safetensors.${dead}.0123456789ab.tmp`;
    for (const name of [stale, live, other]) writeFileSync(join(dir, name), 'partial');
    await saveState(file, state);
    expect(readdirSync(dir).sort()).toEqual([live, other, 'run.safetensors'].sort());
    writeFileSync(join(dir, stale), 'partial');
    expect(await removeStaleTemporaries(file)).toEqual([stale]);
    expect(await removeStaleTemporaries(file)).toEqual([]);
  });

  it('a writer killed mid-write leaves the old file; the next save removes its temporary file', async () => {
    const dir = mkdtempSync(join(tmp, 'killed-'));
    const file = join(dir, 'big.safetensors');
    await saveState(file, state);
    const before = readFileSync(file);
    /** Starts a child writing a 64 MiB checkpoint and kills it as soon as its temporary file appears. */
    const killMidWrite = async (): Promise<{ seen: boolean; left: string[] }> => {
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          '-e',
          `import('./src/node/index.ts').then((m) => m.saveState(${JSON.stringify(file)}, { x: new Float64Array(2 ** 23) }))`,
        ],
        { stdio: 'ignore' },
      );
      const prefix = `.big.safetensors.${child.pid}.`;
      let seen = false;
      for (let i = 0; i < 8000 && !seen; i++) {
        seen = readdirSync(dir).some((n) => n.startsWith(prefix));
        if (!seen) await new Promise((r) => setTimeout(r, 1));
      }
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));
      return { seen, left: readdirSync(dir).filter((n) => n.startsWith(prefix)) };
    };
    // The kill almost always lands before the rename (a 64 MiB write and fsync take longer than
    // one poll); when the child wins the race, the file is its complete checkpoint: restore, retry.
    let outcome = await killMidWrite();
    for (let attempt = 0; attempt < 4 && outcome.left.length === 0; attempt++) {
      writeFileSync(file, before);
      outcome = await killMidWrite();
    }
    expect(outcome.seen).toBe(true);
    expect(outcome.left.length).toBe(1);
    expect(readFileSync(file).equals(before)).toBe(true);
    await saveState(file, state);
    expect(readdirSync(dir)).toEqual(['big.safetensors']);
  }, 60_000);

  it('refuses paths that are not strings, naming the value', async () => {
    await expect(saveState(undefined as never, state)).rejects.toThrow(
      'saveState: path must be a non-empty string, got undefined',
    );
    await expect(loadState(3 as never, state)).rejects.toThrow(
      'loadState: path must be a non-empty string, got number 3',
    );
    await expect(removeStaleTemporaries(Object.create(null))).rejects.toThrow(
      'removeStaleTemporaries: path must be a non-empty string, got an object with keys []',
    );
  });

  it('a serializeState of cross-realm typed arrays (vm.runInNewContext) round-trips', () => {
    const foreign = runInNewContext('({ w: new Float32Array([1.5, -2]), n: new Int32Array([7]) })');
    const bytes = serializeState({ w: foreign.w, n: foreign.n });
    expectBitEqual(deserializeState(bytes, { w: new Float32Array(2), n: new Int32Array(1) }), {
      w: Float32Array.of(1.5, -2),
      n: Int32Array.of(7),
    });
  });

  it('loadStateInto restores an Optimizer in place', async () => {
    const file = join(tmp, 'into.safetensors');
    const opt = new Optimizer(radam(0.01), { w: Float64Array.of(1, 2) });
    opt.step({ w: Float64Array.of(0.5, -0.5) });
    await saveState(file, opt.state);
    const other = new Optimizer(radam(0.01), { w: Float64Array.of(1, 2) });
    await loadStateInto(file, other.state);
    expectBitEqual(other.state, opt.state);
    await expect(
      loadStateInto(file, new Optimizer(radam(0.01), { w: new Float32Array(2) }).state),
    ).rejects.toThrow(
      `${file}: deserializeState: state[0].mu.w: expected F32 with 2 elements, the checkpoint has dtype F64 (shape [2])`,
    );
  });

  it('loadState names the file in a CheckpointError', async () => {
    const file = join(tmp, 'short.safetensors');
    const full = serializeState(state);
    writeFileSync(file, full.subarray(0, full.length - 1));
    const err = await loadState(file, tx.init(params)).catch((e) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err.message).toMatch(
      new RegExp(`^${file.replace(/[.\\]/g, '\\$&')}: deserializeState: `),
    );
  });
});

describe('the header cannot lie: its meaning is checked against the template, checksum or not', () => {
  const tx = radam(0.01);
  const params = makeParams(false);
  const [, state] = run(tx, params, tx.init(params), 0, 4);
  const bytes = serializeState(state);
  const template = () => tx.init(makeParams(false));
  const headerLength = new DataView(bytes.buffer).getUint32(0, true);
  const text = new TextDecoder().decode(bytes.subarray(8, 8 + headerLength));
  const data = bytes.subarray(8 + headerLength);

  /** The file with its header text edited; the checksum is then recomputed (`seal`) or removed. */
  function edited(edit: (t: string) => string, how: 'seal' | 'strip'): Uint8Array {
    let t = edit(text.trimEnd());
    t =
      how === 'strip'
        ? t.replace(/"optax_ts\.crc32":"[0-9a-f]{8}",?/, '').replace(/,}/, '}')
        : t.replace(/("optax_ts\.crc32":")[0-9a-f]{8}/, '$100000000');
    const json = new TextEncoder().encode(t);
    const out = new Uint8Array(8 + json.length + data.length);
    new DataView(out.buffer).setUint32(0, json.length, true);
    out.set(json, 8);
    out.set(data, 8 + json.length);
    if (how === 'seal') {
      const at = 8 + t.indexOf('"optax_ts.crc32":"') + '"optax_ts.crc32":"'.length;
      out.set(new TextEncoder().encode(crc32(out).toString(16).padStart(8, '0')), at);
    }
    return out;
  }
  const lax = { requireChecksum: false };
  const load = (b: Uint8Array) => () => deserializeState(b, template(), lax);

  it('the checksum covers the header: editing it without resealing is detected', () => {
    const b = edited(
      (t) => t.replace('"state[0].count":{"dtype":"I64"', '"state[0].count":{"dtype":"F64"'),
      'seal',
    );
    // Take the edited header but the original checksum: the CRC no longer matches.
    const stale = b.slice();
    const at = 8 + new TextDecoder().decode(stale.subarray(8)).indexOf('"optax_ts.crc32":"') + 18;
    stale.set(new TextEncoder().encode(checkpointMetadata(bytes)['optax_ts.crc32']!), at);
    expect(() => deserializeState(stale, template())).toThrow(/the checkpoint is corrupted/);
  });

  for (const how of ['seal', 'strip'] as const) {
    const label = how === 'seal' ? 'with the checksum recomputed' : 'with the checksum removed';
    it(`I64 -> F64 in a step count is refused (${label})`, () => {
      const b = edited(
        (t) => t.replace('"state[0].count":{"dtype":"I64"', '"state[0].count":{"dtype":"F64"'),
        how,
      );
      expect(load(b)).toThrow(
        'deserializeState: state[0].count: expected a step count (a 0-d I64 tensor, an integer in [0, 2147483647]), the checkpoint has dtype F64 (shape [])',
      );
    });
    it(`swapped data_offsets of mu and nu are refused (${label})`, () => {
      const h = JSON.parse(text) as Record<string, any>;
      const a = JSON.stringify(h['state[0].mu.layers[0].w'].data_offsets);
      const c = JSON.stringify(h['state[0].nu.layers[0].w'].data_offsets);
      const b = edited((t) => t.replace(a, '@').replace(c, a).replace('@', c), how);
      expect(load(b)).toThrow(
        /bad header entry "state\[0\]\.mu\.layers\[0\]\.w": data_offsets \[\d+, \d+\], expected \[\d+, \d+\] \(tensors are stored by decreasing element size, then in tree order; were two entries swapped\?\)/,
      );
    });
    it(`a duplicated key is refused (${label})`, () => {
      const b = edited((t) => t.replace('{"__metadata__":', '{"x":1,"x":2,"__metadata__":'), how);
      expect(load(b)).toThrow(
        /bad header: not valid JSON \(duplicate key "x" at character 7 of the header\)/,
      );
    });
    it(`an unknown key in an entry is refused (${label})`, () => {
      const b = edited(
        (t) =>
          t.replace('"state[0].count":{"dtype":"I64"', '"state[0].count":{"big":1,"dtype":"I64"'),
        how,
      );
      expect(load(b)).toThrow(
        'deserializeState: bad header entry "state[0].count": expected exactly the keys [data_offsets, dtype, shape], got [big, data_offsets, dtype, shape]',
      );
    });
  }

  it('without the checksum only an explicit option loads the file, and a flipped data byte then goes unseen', () => {
    const b = edited((t) => t, 'strip');
    expect(() => deserializeState(b, template())).toThrow(/has no optax_ts\.crc32 checksum/);
    expectBitEqual(deserializeState(b, template(), lax), state);
    // What the option gives up: a changed data byte cannot be seen without the checksum.
    b[b.length - 1]! ^= 1;
    expect(() => deserializeState(b, template())).toThrow(/has no optax_ts\.crc32 checksum/);
    expect((deserializeState(b, template(), lax) as any)[0].nu.scalar).not.toBe(
      (state as any)[0].nu.scalar,
    );
  });
});
