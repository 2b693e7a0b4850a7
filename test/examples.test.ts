import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const tsx = (file: string): string =>
  execFileSync(process.execPath, ['--import', 'tsx', file], { encoding: 'utf8' });

describe('examples', () => {
  it("quadratic.ts prints the seed's output exactly", () => {
    expect(tsx('examples/quadratic.ts')).toBe(
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
