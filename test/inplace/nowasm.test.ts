/**
 * Where WebAssembly is unavailable (`node --no-expose-wasm`), the Optimizer falls back to the
 * JavaScript kernel with the same results and says so once per process.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

describe('no WebAssembly', () => {
  it('runs the JavaScript kernel with the functional bits, and warns exactly once', () => {
    const child = fileURLToPath(new URL('./nowasm-child.mts', import.meta.url));
    const res = spawnSync(process.execPath, ['--no-expose-wasm', '--import', 'tsx', child], {
      encoding: 'utf8',
    });
    expect(res.status).toBe(0);
    const rows = JSON.parse(res.stdout.trim().split('\n').at(-1)!);
    expect(rows.webAssembly).toBe('undefined');
    for (const name of ['default', 'arena', 'wasm']) {
      expect(rows[name].kernel).toBe('js');
      expect(rows[name].w).toEqual(rows.functional);
    }
    const warnings = res.stderr
      .split('\n')
      .filter((l) => l.includes('WebAssembly SIMD is not available'));
    expect(warnings).toHaveLength(1);
  });
});
