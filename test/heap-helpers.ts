/** Measuring what a step allocates, for the tests that promise nothing is allocated per step. */
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Bytes the heap grows per call of `step`: the smallest growth over `windows` windows of `steps`
 * calls, each window after a full garbage collection (JIT work can land in one window). Warm the
 * step up first.
 */
export function heapGrowthPerStep(step: () => void, steps: number, windows: number): number {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  let growth = Number.POSITIVE_INFINITY;
  for (let w = 0; w < windows; w++) {
    gc();
    const before = getHeapStatistics().used_heap_size;
    for (let k = 0; k < steps; k++) step();
    growth = Math.min(growth, getHeapStatistics().used_heap_size - before);
  }
  return growth / steps;
}
