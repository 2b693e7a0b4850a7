import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('examples/jax-quadratic.ts', () => {
  it("prints the seed's output exactly, with jax-js arrays and jax-js's grad", () => {
    const out = execFileSync(process.execPath, ['--import', 'tsx', 'examples/jax-quadratic.ts'], {
      encoding: 'utf8',
    });
    expect(out).toBe(
      [
        'Objective function:  14.0',
        'Objective function: 1.38E+01',
        'Objective function: 1.37E+01',
        'Objective function: 1.35E+01',
        'Objective function: 1.33E+01',
        'Objective function: 1.32E+01',
        '',
      ].join('\n'),
    );
  });
});
