/** Runs the programs in examples/ and checks what they print. */
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const run = (file: string): string =>
  execFileSync(process.execPath, ['--import', 'tsx', file], { encoding: 'utf8' });

/** What optax.radam's documentation prints for its example. */
const SEED_OUTPUT = [
  'Objective function:  14.0',
  'Objective function: 1.38E+01',
  'Objective function: 1.37E+01',
  'Objective function: 1.35E+01',
  'Objective function: 1.33E+01',
  'Objective function: 1.32E+01',
  '',
].join('\n');

describe('examples', () => {
  it("quadratic.ts (Float32Array) prints the seed's output exactly", () => {
    expect(run('examples/quadratic.ts')).toBe(SEED_OUTPUT);
  });

  it("jax-quadratic.ts (jax-js arrays and jax-js's grad) prints the seed's output exactly", () => {
    expect(run('examples/jax-quadratic.ts')).toBe(SEED_OUTPUT);
  });

  it('ranger.ts runs RAdam and Ranger in place; Ranger slow params settle at a lower noisy loss', () => {
    const out = run('examples/ranger.ts');
    expect(out).toMatch(/^noisy quadratic, n = 10, lr = 0.05, 3000 steps, f\(start\) = 83.9\n/);
    expect(out).toContain('in place: radam true, ranger true');
    const rows = [...out.matchAll(/^\s+(\d+)\s+([\d.]+)\s+([\d.]+)$/gm)].map((m) =>
      m.slice(1).map(Number),
    );
    expect(rows.map((r) => r[0])).toEqual([500, 1000, 1500, 2000, 2500, 3000]);
    for (const [, radamLoss, rangerLoss] of rows) {
      expect(radamLoss).toBeLessThan(1);
      expect(rangerLoss).toBeLessThan(1);
    }
    const ratio = Number(/ranger \/ radam: ([\d.]+)/.exec(out)?.[1]);
    expect(ratio).toBeGreaterThan(0);
    expect(ratio).toBeLessThan(1);
  });
});
