/**
 * Native peer: bench/native_radam.c (RAdam's float32 step in optax-ts's operation order) compiled
 * here, into a temporary directory, with the C compiler on PATH (`cc`, else `gcc`), at `-O3` on one
 * thread and, when `-fopenmp` compiles, on two. It runs as a line-protocol child process so that
 * its rounds interleave with the floor's (bench/harness.ts).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LineChild } from './child.js';
import type { Contender } from './harness.js';

const source = join(dirname(fileURLToPath(import.meta.url)), 'native_radam.c');

/**
 * The flags: no -ffast-math; `-ffp-contract=off` keeps `a * b + c` two rounded operations (no
 * FMA), and `-fno-math-errno` only drops `errno` handling around `sqrtf` (which otherwise stops
 * GCC from vectorizing the loop); neither changes a result.
 */
export const NATIVE_FLAGS = ['-O3', '-march=native', '-ffp-contract=off', '-fno-math-errno'];

/** Compiled binaries, or why there are none. */
export interface NativeBuild {
  compiler: string;
  /** Single-threaded. */
  serial: string;
  /** OpenMP, or `undefined` with the reason in `note`. */
  openmp?: string;
  note?: string;
  /** Removes the temporary directory. */
  cleanup(): void;
}

function onPath(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Compiles the kernel, or returns why not (a note for the output). */
export function buildNative(): NativeBuild | string {
  const compiler = ['cc', 'gcc'].find(onPath);
  if (!compiler) return 'native RAdam skipped: no cc or gcc on PATH';
  const dir = mkdtempSync(join(tmpdir(), 'optax-ts-bench-'));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  const compile = (out: string, extra: string[]) =>
    execFileSync(compiler, [...NATIVE_FLAGS, ...extra, '-o', out, source, '-lm'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  const serial = join(dir, 'radam');
  try {
    compile(serial, []);
  } catch (e) {
    cleanup();
    return `native RAdam skipped: ${compiler} failed: ${String((e as { stderr?: Buffer }).stderr ?? e).split('\n')[0]}`;
  }
  const build: NativeBuild = { compiler, serial, cleanup };
  const openmp = join(dir, 'radam-omp');
  try {
    compile(openmp, ['-fopenmp']);
    build.openmp = openmp;
  } catch {
    build.note = `${compiler} -fopenmp failed: native RAdam on 2 threads skipped`;
  }
  return build;
}

/** The compiled kernel on float32 arrays of `n`, on `threads` threads (2 needs `openmp`). */
export async function nativeContender(
  build: NativeBuild,
  n: number,
  threads: 1 | 2,
): Promise<Contender> {
  const bin = threads === 2 ? build.openmp : build.serial;
  if (!bin) throw new Error('native: no OpenMP build');
  const child = new LineChild(bin, [String(n)], { OMP_NUM_THREADS: String(threads) });
  const ready = await child.next(); // "ready THREADS"
  const actual = Number(ready.split(' ')[1]);
  const mismatch = actual === threads ? '' : ` (ran on ${actual} threads)`;
  return {
    name: `native RAdam (same op order), ${threads} thread${threads === 2 ? 's' : ''}`,
    note: `${build.compiler} ${NATIVE_FLAGS.join(' ')}${threads === 2 ? ' -fopenmp' : ''}${mismatch}`,
    async round(samples) {
      return (await child.ask(String(samples))).trim().split(' ').map(Number);
    },
    dispose: () => child.close(),
  };
}
