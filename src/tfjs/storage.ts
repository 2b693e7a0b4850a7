/**
 * Where a TF.js backend keeps a tensor's float32 data, for the adapter's in-place steps: on
 * tfjs-backend-cpu the `Float32Array` of its data store; on tfjs-backend-wasm a `Float32Array`
 * view of the backend's WebAssembly heap at the tensor's offset. Both are the tensor's storage
 * itself: a step reads the gradients there, and writes the variables there where the backend
 * allows it ({@link InPlaceBackend.writable}). Any other backend (or a data store of
 * another shape than TF.js 4's) has none, and the adapter then uses tensor ops.
 */
import * as tf from '@tensorflow/tfjs-core';

/** A backend whose float32 tensors the adapter can step in place. */
export interface InPlaceBackend {
  /** The backend's name (`'cpu'`, `'wasm'`). */
  readonly name: string;
  /** `t`'s float32 storage, or `undefined` when it has none here. */
  values(t: tf.Tensor): Float32Array | undefined;
  /** How many tensors share `dataId`'s storage. */
  refCount(dataId: object): number;
  /**
   * Whether a variable's storage may be written in place. Not on the wasm backend: its XNNPACK
   * kernels keep packed copies of weights keyed by tensor, which a write in place would leave
   * stale (the variable gets a new tensor instead).
   */
  readonly writable: boolean;
}

interface CpuLike {
  data: { has(id: object): boolean; get(id: object): { values?: unknown } | undefined };
  refCount(id: object): number;
}

interface WasmLike {
  dataIdMap: { get(id: object): { memoryOffset?: number | null } | undefined };
  wasm: { HEAPU8: Uint8Array };
  refCount(id: object): number;
}

function cpu(b: CpuLike): InPlaceBackend {
  return {
    name: 'cpu',
    writable: true,
    values(t) {
      if (t.dtype !== 'float32' || !b.data.has(t.dataId)) return undefined;
      const values = b.data.get(t.dataId)?.values;
      return values instanceof Float32Array && values.length === t.size ? values : undefined;
    },
    refCount: (id) => b.refCount(id),
  };
}

function wasm(b: WasmLike): InPlaceBackend {
  return {
    name: 'wasm',
    writable: false,
    values(t) {
      if (t.dtype !== 'float32') return undefined;
      const offset = b.dataIdMap.get(t.dataId)?.memoryOffset;
      if (typeof offset !== 'number' || offset % 4 !== 0) return undefined;
      // A fresh view each time: the heap's buffer changes when the heap grows.
      const heap = b.wasm.HEAPU8.buffer;
      if (offset + 4 * t.size > heap.byteLength) return undefined;
      return new Float32Array(heap, offset, t.size);
    },
    refCount: (id) => b.refCount(id),
  };
}

/** The current backend, when it is tfjs-backend-cpu or tfjs-backend-wasm as TF.js 4 builds them. */
export function inPlaceBackend(): InPlaceBackend | undefined {
  const name = tf.getBackend();
  const b = tf.backend() as unknown as Partial<CpuLike & WasmLike>;
  if (typeof b.refCount !== 'function') return undefined;
  if (name === 'cpu' && typeof b.data?.has === 'function' && typeof b.data.get === 'function')
    return cpu(b as CpuLike);
  if (
    name === 'wasm' &&
    typeof b.dataIdMap?.get === 'function' &&
    b.wasm?.HEAPU8 instanceof Uint8Array
  )
    return wasm(b as WasmLike);
  return undefined;
}
