/**
 * Checkpoints of deep and cyclic states: a state as deep as the deepest params an optimizer accepts
 * round-trips; a cyclic or far too deep state or template is refused with a CheckpointError that
 * says so, never a stack overflow.
 */
import { describe, expect, it } from 'vitest';
import { CheckpointError, deserializeState, MAX_TREE_DEPTH, serializeState } from '../src/index.js';

function deep(depth: number, leaf: () => unknown = () => Float32Array.of(1, 2)): unknown {
  let t = leaf();
  for (let i = 0; i < depth; i++) t = { a: t };
  return t;
}

describe('checkpoints of deep and cyclic states', () => {
  it(`a state ${MAX_TREE_DEPTH + 2} levels deep round-trips bit for bit`, () => {
    const state = deep(MAX_TREE_DEPTH + 2, () => Float32Array.of(1.5, -0));
    const back = deserializeState(serializeState(state), deep(MAX_TREE_DEPTH + 2));
    let leaf: unknown = back;
    for (let i = 0; i < MAX_TREE_DEPTH + 2; i++) leaf = (leaf as { a: unknown }).a;
    expect(Array.from(leaf as Float32Array)).toEqual([1.5, -0]);
  });

  for (const depth of [5_000, 100_000])
    it(`a state ${depth} levels deep is refused as deeper, as state and as template`, () => {
      expect(() => serializeState(deep(depth))).toThrow(CheckpointError);
      expect(() => serializeState(deep(depth))).toThrow(/deeper than/);
      const bytes = serializeState({ w: Float32Array.of(1) });
      expect(() => deserializeState(bytes, deep(depth))).toThrow(/deeper than/);
    });

  it('a cyclic state or template is refused as cyclic', () => {
    const cyclic: Record<string, unknown> = { w: Float32Array.of(1) };
    cyclic.self = cyclic;
    expect(() => serializeState(cyclic)).toThrow(CheckpointError);
    expect(() => serializeState(cyclic)).toThrow(/cyclic/);
    const bytes = serializeState({ w: Float32Array.of(1), self: { w: Float32Array.of(1) } });
    expect(() => deserializeState(bytes, cyclic)).toThrow(/cyclic/);
  });
});
