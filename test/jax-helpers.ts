/** Helpers for the jax-js adapter's tests: array conversion and live-buffer counting. */
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { numpy as np } from '@jax-js/jax';

/**
 * A float64 jax-js array holding exactly `data`. jax-js 0.1.25 builds float64 arrays from a
 * Float64Array only where `Float16Array` exists (Node >= 22), so the value is assembled from three
 * float32 parts instead, whose float64 sum is exact; the round trip is checked.
 */
export function f64(data: Float64Array | readonly number[], shape?: number[]): np.Array {
  const x = Float64Array.from(data);
  const hi = Float32Array.from(x);
  const r1 = x.map((v, i) => v - hi[i]!);
  const mid = Float32Array.from(r1);
  const lo = Float32Array.from(r1.map((v, i) => v - mid[i]!));
  const part = (p: Float32Array) => np.array(p).astype(np.float64);
  let out = part(hi).add(part(mid)).add(part(lo));
  if (shape) out = out.reshape(shape);
  const back = out.ref.dataSync();
  for (let i = 0; i < x.length; i++)
    if (!Object.is(back[i], x[i])) throw new Error(`f64: element ${i} is ${back[i]}, not ${x[i]}`);
  return out;
}

/** A float32 jax-js array of `data` (rounded to float32). */
export function f32(data: Float32Array | readonly number[], shape?: number[]): np.Array {
  const out = np.array(Float32Array.from(data));
  return shape ? out.reshape(shape) : out;
}

/** The values of a jax-js array, without consuming it. */
export function read(x: np.Array): Float64Array {
  return Float64Array.from(x.ref.dataSync() as ArrayLike<number>);
}

interface SlotBackend {
  malloc(size: number, initialData?: Uint8Array): number;
  incRef(slot: number): void;
  decRef(slot: number): void;
}

/**
 * Counts the live buffers of jax-js's WebAssembly backend from now on. jax-js exposes no count of
 * live buffers, so this wraps the backend's `malloc`/`incRef`/`decRef` (the backend object comes
 * from the package's internal chunk, found by the exported function's name `getBackend`) and keeps
 * its own reference count per buffer. Buffers allocated before the call are not counted.
 */
export async function countLiveBuffers(): Promise<{ live(): number; restore(): void }> {
  const dir = dirname(createRequire(import.meta.url).resolve('@jax-js/jax'));
  let getBackend: ((device: string) => SlotBackend) | undefined;
  for (const file of readdirSync(dir).filter((f) => /^backend-.*\.js$/.test(f))) {
    const mod = (await import(pathToFileURL(join(dir, file)).href)) as Record<string, unknown>;
    const fn = Object.values(mod).find(
      (v) => typeof v === 'function' && (v as { name: string }).name === 'getBackend',
    );
    if (fn) getBackend = fn as (device: string) => SlotBackend;
  }
  if (!getBackend) throw new Error('countLiveBuffers: getBackend not found in @jax-js/jax/dist');
  const backend = getBackend('wasm');
  const counts = new Map<number, number>();
  const { malloc, incRef, decRef } = backend;
  backend.malloc = (size, initialData) => {
    const slot = malloc.call(backend, size, initialData);
    counts.set(slot, 1);
    return slot;
  };
  backend.incRef = (slot) => {
    incRef.call(backend, slot);
    const n = counts.get(slot);
    if (n !== undefined) counts.set(slot, n + 1);
  };
  backend.decRef = (slot) => {
    decRef.call(backend, slot);
    const n = counts.get(slot);
    if (n === undefined) return;
    if (n > 1) counts.set(slot, n - 1);
    else counts.delete(slot);
  };
  return {
    live: () => counts.size,
    restore() {
      delete (backend as Partial<SlotBackend>).malloc;
      delete (backend as Partial<SlotBackend>).incRef;
      delete (backend as Partial<SlotBackend>).decRef;
    },
  };
}

/** A small deterministic generator of numbers in [-1, 1) (a 32-bit LCG). */
export function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  };
}
