/** Leaf shapes: every path that makes arrays from shaped arrays keeps the shape. */
import { describe, expect, it } from 'vitest';
import {
  adafactor,
  adam,
  adamw,
  applyIfFinite,
  applyUpdates,
  centralize,
  chain,
  clip,
  clipByGlobalNorm,
  deserializeState,
  deserializeStateInto,
  fromage,
  injectHyperparams,
  lamb,
  lars,
  lion,
  lookahead,
  lookaheadParams,
  masked,
  multiSteps,
  muon,
  novograd,
  Optimizer,
  radam,
  serializeState,
  sgd,
  shapeOf,
  sm3,
  treeMap,
  treeZerosLike,
} from '../src/index.js';
import { treeLeaves } from '../src/tree.js';

function shaped<T extends Float32Array | Float64Array>(x: T, shape: number[]): T {
  return Object.assign(x, { shape });
}
const f32 = (r: number, c: number, v = 0.5) =>
  shaped(
    new Float32Array(r * c).map((_, i) => v * (i + 1)),
    [r, c],
  );
const f64 = (r: number, c: number, v = 0.5) =>
  shaped(
    new Float64Array(r * c).map((_, i) => v * (i + 1)),
    [r, c],
  );

/** Every float array leaf of `tree` with `length` elements has `shape`. */
function expectShapes(tree: unknown, want: Record<number, number[]>) {
  for (const leaf of treeLeaves<unknown>(tree)) {
    if (!(leaf instanceof Float32Array || leaf instanceof Float64Array)) continue;
    const s = want[leaf.length];
    if (s !== undefined) expect(shapeOf(leaf), `leaf of length ${leaf.length}`).toEqual(s);
  }
}

describe('tree functions keep shapes', () => {
  it('treeZerosLike, treeMap, applyUpdates', () => {
    const p = { w: f32(2, 3), b: f64(1, 4) };
    expectShapes(treeZerosLike(p), { 6: [2, 3], 4: [1, 4] });
    expectShapes(
      treeMap((x: Float32Array) => x.map((v) => v * 2), p),
      { 6: [2, 3], 4: [1, 4] },
    );
    const u = { w: new Float32Array(6).fill(1), b: new Float64Array(4).fill(1) };
    expectShapes(applyUpdates(p, u), { 6: [2, 3], 4: [1, 4] });
    // Unshaped params, shaped updates: the result takes the update's shape.
    expectShapes(applyUpdates(u, p), { 6: [2, 3], 4: [1, 4] });
    // treeMap never adds a shape to an input leaf it returns.
    const plain = { w: new Float32Array(6) };
    const back = treeMap((_a: unknown, b: unknown) => b, p, { w: plain.w, b: p.b });
    expect(back.w).toBe(plain.w);
    expect(shapeOf(plain.w)).toBeUndefined();
  });

  it('a shape whose product is not the length is an error naming the path', () => {
    const bad = { w: shaped(new Float32Array(5), [2, 3]) };
    expect(() => radam(0.1).init(bad)).toThrow(
      '.w: shape [2, 3] has 6 elements, the array has length 5',
    );
    expect(() => new Optimizer(radam(0.1), bad)).toThrow(
      'Optimizer: params.w: shape [2, 3] has 6 elements, the array has length 5',
    );
    const notList = { w: Object.assign(new Float32Array(2), { shape: 'x' }) };
    expect(() => new Optimizer(radam(0.1), notList)).toThrow(
      'Optimizer: params.w: shape must be a list of non-negative integers',
    );
    expect(() => applyUpdates({ w: f32(2, 3) }, { w: f32(3, 2) })).toThrow(
      'params.w: shape [2, 3], updates has shape [3, 2]',
    );
  });
});

describe('transformations keep shapes', () => {
  for (const [name, make] of [
    ['radam (hand-written)', () => radam(0.1)],
    ['adam (fused Adam family)', () => adam(0.1, { nesterov: true })],
    ['lion (elementwise)', () => lion(0.1)],
  ] as const) {
    it(`${name}: functional updates and state`, () => {
      const tx = make();
      const p = { w: f32(2, 3), b: f64(4, 1) };
      const state = tx.init(p);
      expectShapes(state, { 6: [2, 3], 4: [4, 1] });
      // Grads without shapes: the updates and new state still carry the params' shapes.
      const g = { w: new Float32Array(6).fill(1), b: new Float64Array(4).fill(-1) };
      const [u, s2] = tx.update(g, state, p);
      expectShapes(u, { 6: [2, 3], 4: [4, 1] });
      expectShapes(s2, { 6: [2, 3], 4: [4, 1] });
      expectShapes(applyUpdates(p, u), { 6: [2, 3], 4: [4, 1] });
    });
  }

  for (const arena of [false, true])
    for (const kernel of ['auto', 'generic'] as const)
      it(`Optimizer (arena ${arena}, kernel ${kernel}): params and state keep shapes`, () => {
        const p = { w: f32(20, 30), b: f64(4, 1) };
        const opt = new Optimizer(radam(0.1), p, { arena, kernel });
        opt.step({ w: new Float32Array(600).fill(1), b: new Float64Array(4).fill(1) });
        expectShapes(opt.params, { 600: [20, 30], 4: [4, 1] });
        expectShapes(opt.state, { 600: [20, 30], 4: [4, 1] });
        if (arena) expectShapes(opt.grads, { 600: [20, 30], 4: [4, 1] });
      });
});

describe('checkpoints keep shapes', () => {
  it('serializeState writes the shape, deserializeState restores it', () => {
    const tx = radam(0.1);
    const p = { w: f32(2, 3), b: f64(4, 1) };
    let state = tx.init(p);
    [, state] = tx.update(p, state, p);
    const bytes = serializeState(state);
    const header = new TextDecoder().decode(
      bytes.subarray(8, 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true))),
    );
    expect(header).toContain('"shape":[2,3]');
    // With a shaped template the restored arrays have the shapes; the template decides, so an
    // unshaped one gives unshaped arrays (of the same values).
    expectShapes(deserializeState(bytes, tx.init(p)), { 6: [2, 3], 4: [4, 1] });
    const plain = { w: new Float32Array(6), b: new Float64Array(4) };
    const restored = deserializeState(bytes, tx.init(plain)) as any;
    for (const leaf of treeLeaves<Float32Array>(restored)) expect(shapeOf(leaf)).toBeUndefined();
    expect(Array.from(treeLeaves<Float64Array>(restored[0].mu)[1]!)).toEqual(
      Array.from(treeLeaves<Float64Array>((state as any)[0].mu)[1]!),
    );
    // Into an Optimizer's state.
    const opt = new Optimizer(radam(0.1), { w: f32(2, 3), b: f64(4, 1) });
    deserializeStateInto(bytes, opt.state);
    expectShapes(opt.state, { 6: [2, 3], 4: [4, 1] });
  });

  it('a template shape that differs from the file is refused; unshaped files load into shaped templates', () => {
    const tx = radam(0.1);
    const bytes = serializeState(tx.init({ w: f32(2, 3) }));
    expect(() => deserializeState(bytes, tx.init({ w: f32(3, 2) }))).toThrow(
      'state[0].mu.w: expected F32 with 6 elements (shape [3, 2]), the checkpoint has shape [2, 3]',
    );
    const flat = serializeState(tx.init({ w: new Float32Array(6) }));
    expectShapes(deserializeState(flat, tx.init({ w: f32(3, 2) })), { 6: [3, 2] });
  });
});

describe("every transformation keeps the params' shapes on its updates and state", () => {
  const cases: [string, () => any][] = [
    ['sgd momentum', () => sgd(0.1, { momentum: 0.9, nesterov: true })],
    ['adamw', () => adamw(0.1)],
    ['clip chain', () => chain(clip(1), clipByGlobalNorm(1), adam(0.1))],
    ['masked', () => masked(adam(0.1), { w: true, b: false })],
    ['applyIfFinite', () => applyIfFinite(adam(0.1), 3)],
    ['multiSteps', () => multiSteps(adam(0.1), { everyK: 2 })],
    ['injectHyperparams', () => injectHyperparams((h: { lr: number }) => adam(h.lr))({ lr: 0.1 })],
    ['lamb', () => lamb(0.1)],
    ['lars', () => lars(0.1)],
    ['fromage', () => fromage(0.1)],
    ['adafactor', () => adafactor(0.1, { minDimSizeToFactor: 2, momentum: 0.9 })],
    ['sm3', () => sm3(0.1)],
    ['novograd', () => novograd(0.1)],
    ['centralize', () => chain(centralize(), sgd(0.1))],
    ['muon', () => muon(0.1)],
  ];
  for (const [name, make] of cases)
    it(name, () => {
      const tx = make();
      const p = { w: f32(3, 4), b: f32(2, 5) };
      let state = tx.init(p);
      // Gradients without shapes: what is made from them takes the params' (or the state's).
      const g = { w: new Float32Array(12).fill(0.5), b: new Float32Array(10).fill(-0.5) };
      let u: any;
      for (let k = 0; k < 2; k++) [u, state] = tx.update(g, state, p);
      // (masked passes a masked-out gradient through as it is, the caller's own array.)
      expectShapes(name === 'masked' ? { w: u.w } : u, { 12: [3, 4], 10: [2, 5] });
      expectShapes(state, { 12: [3, 4], 10: [2, 5] });
      const opt = new Optimizer(make(), { w: f32(3, 4), b: f32(2, 5) });
      opt.step(g);
      expectShapes(opt.state, { 12: [3, 4], 10: [2, 5] });
    });

  it('lookahead (its fast and slow params)', () => {
    const tx = lookahead(adam(0.1), { syncPeriod: 2, slowStepSize: 0.5 });
    const p = lookaheadParams({ w: f32(3, 4) });
    expectShapes(p, { 12: [3, 4] });
    let state = tx.init(p);
    let u: unknown;
    const g = lookaheadParams({ w: new Float32Array(12).fill(1) });
    for (let k = 0; k < 3; k++) [u, state] = tx.update(g, state, p);
    expectShapes(u, { 12: [3, 4] });
    expectShapes(state, { 12: [3, 4] });
  });
});
