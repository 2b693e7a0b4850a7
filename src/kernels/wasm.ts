/**
 * Loads the WebAssembly SIMD kernels (built by `scripts/build-wasm.ts`, shipped base64 in
 * `radam-wasm.generated.ts`). Compiled once, on first use; `undefined` where WebAssembly or its
 * SIMD extension is unavailable, and callers then use the JavaScript kernels.
 */
import { RADAM_WASM_BASE64, RADAM_WASM_SHARED_BASE64 } from './radam-wasm.generated.js';

/**
 * One exported kernel: `(g, m, v, p, n, rectify, scalars)`, byte offsets and an element count
 * (a multiple of 4); `scalars` is the byte offset of 12 float64s (for the float32 kernels, the
 * same values rounded to float32) in the order of {@link KERNEL_SCALARS}.
 */
export type WasmKernel = (
  g: number,
  m: number,
  v: number,
  p: number,
  n: number,
  rectify: number,
  scalars: number,
) => void;

/** The order of the scalars a kernel reads (as in `scripts/build-wasm.ts`). */
export const KERNEL_SCALARS = [
  'a1',
  'b1',
  'a2',
  'b2',
  'bc1',
  'bc1Next',
  'bc2',
  'r',
  'epsRoot',
  'eps',
  'wd',
  's',
] as const;

/** The kernels of one instance, by name (`radam_f32`, `radam_f64_nesterov_decay`, ...). */
export type WasmKernels = Record<string, WasmKernel>;

/** The few WebAssembly APIs used here (the project's `lib` has no DOM/WebAssembly typings). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Memory: new (d: { initial: number; maximum: number; shared?: boolean }) => WasmMemory;
  Instance: new (m: object, imports: object) => { exports: Record<string, unknown> };
}
const wasmApi = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;

let compiled: object | null | undefined;
let compiledShared: object | null | undefined;

function decodeBase64(b64: string): Uint8Array {
  const g = globalThis as {
    Buffer?: { from(s: string, e: string): Uint8Array };
    atob?: (s: string) => string;
  };
  if (g.Buffer) return new Uint8Array(g.Buffer.from(b64, 'base64'));
  const bin = g.atob!(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function compile(b64: string): object | null {
  try {
    return wasmApi ? new wasmApi.Module(decodeBase64(b64)) : null;
  } catch {
    return null;
  }
}

/** The compiled module, or `null` when this runtime cannot compile it. */
export function wasmModule(): object | null {
  if (compiled === undefined) compiled = compile(RADAM_WASM_BASE64);
  return compiled;
}

/** The compiled module that imports a shared memory (threads), or `null`. */
export function sharedWasmModule(): object | null {
  if (compiledShared === undefined) compiledShared = compile(RADAM_WASM_SHARED_BASE64);
  return compiledShared;
}

/** The kernel name for a dtype and variant. */
export function kernelName(f32: boolean, nesterov: boolean, decay: boolean): string {
  return `radam_${f32 ? 'f32' : 'f64'}${nesterov ? '_nesterov' : ''}${decay ? '_decay' : ''}`;
}

/** The largest WebAssembly memory, in 64 KiB pages, that an arena asks for (4 GiB). */
export const MAX_WASM_PAGES = 65536;

/**
 * A fresh memory of exactly `bytes` bytes (rounded up to whole pages) with the kernels bound to
 * it, or `undefined` when WebAssembly SIMD is unavailable or the memory cannot be allocated.
 * `shared`: a shared memory (its buffer a `SharedArrayBuffer`) and the module that imports one,
 * so that a worker can run the same kernels on the same memory; `undefined` where the runtime has
 * no shared WebAssembly memory.
 */
export function instantiateKernels(
  bytes: number,
  shared = false,
): { memory: WasmMemory; kernels: WasmKernels; module: object } | undefined {
  const mod = shared ? sharedWasmModule() : wasmModule();
  if (mod === null || !wasmApi) return undefined;
  const pages = Math.max(1, Math.ceil(bytes / 65536));
  if (pages > MAX_WASM_PAGES) return undefined;
  try {
    const memory = new wasmApi.Memory({ initial: pages, maximum: pages, shared });
    const instance = new wasmApi.Instance(mod, { env: { memory } });
    return { memory, kernels: instance.exports as unknown as WasmKernels, module: mod };
  } catch {
    return undefined;
  }
}
