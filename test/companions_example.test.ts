import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

describe('examples/ranger.ts', () => {
  it('runs RAdam and Ranger in place; Ranger slow params settle at a lower noisy loss', () => {
    const out = execFileSync(process.execPath, ['--import', 'tsx', 'examples/ranger.ts'], {
      encoding: 'utf8',
    });
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
