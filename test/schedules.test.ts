import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Schedule } from '../src/schedule-types.js';
import {
  constantSchedule,
  cosineDecaySchedule,
  cosineOnecycleSchedule,
  exponentialDecay,
  joinSchedules,
  linearOnecycleSchedule,
  linearSchedule,
  piecewiseConstantSchedule,
  piecewiseInterpolateSchedule,
  polynomialSchedule,
  schedules,
  sgdrSchedule,
  warmupConstantSchedule,
  warmupCosineDecaySchedule,
  warmupExponentialDecaySchedule,
} from '../src/schedules.js';

/** Asserts that `f` throws an instance of `type` with exactly `message`. */
function expectError(
  f: () => unknown,
  type: typeof RangeError | typeof TypeError,
  message: string,
) {
  let caught: unknown;
  try {
    f();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(type);
  expect((caught as Error).message).toBe(message);
}

/** Evaluates `schedule` at each count and compares with `expected` to 12 decimal places. */
function expectValues(schedule: Schedule, expected: Record<number, number>) {
  for (const [count, value] of Object.entries(expected)) {
    expect(schedule(Number(count)), `count ${count}`).toBeCloseTo(value, 12);
  }
}

describe('TSDoc examples', () => {
  it('constantSchedule', () => {
    const lr = constantSchedule(0.1);
    expect(lr(0)).toBe(0.1);
    expect(lr(1000)).toBe(0.1);
  });

  it('polynomialSchedule', () => {
    const lr = polynomialSchedule({
      initValue: 1,
      endValue: 0.01,
      power: 2,
      transitionSteps: 100,
      transitionBegin: 5,
    });
    expect(lr(5)).toBe(1);
    expect(lr(6)).toBeCloseTo(0.980299, 12);
    expect(lr(105)).toBe(0.01);
  });

  it('linearSchedule', () => {
    const lr = linearSchedule({ initValue: 1, endValue: 0, transitionSteps: 10 });
    expect(lr(0)).toBe(1);
    expect(lr(5)).toBe(0.5);
    expect(lr(50)).toBe(0);
  });

  it('piecewiseConstantSchedule', () => {
    const lr = piecewiseConstantSchedule(1, { 100: 0.1, 200: 0.1 });
    expect(lr(99)).toBe(1);
    expect(lr(100)).toBe(0.1);
    expect(lr(200)).toBeCloseTo(0.01, 15);
  });

  it('exponentialDecay', () => {
    const lr = exponentialDecay({
      initValue: 1,
      transitionSteps: 10,
      decayRate: 0.5,
      staircase: true,
    });
    expect(lr(9)).toBe(1);
    expect(lr(10)).toBe(0.5);
    expect(lr(25)).toBe(0.25);
  });

  it('cosineDecaySchedule', () => {
    const lr = cosineDecaySchedule({ initValue: 2, decaySteps: 10 });
    expect(lr(0)).toBe(2);
    expect(lr(5)).toBeCloseTo(1, 12);
    expect(lr(10)).toBe(0);
  });

  it('piecewiseInterpolateSchedule', () => {
    const lr = piecewiseInterpolateSchedule('linear', 1, { 4: 0.1, 8: 0.01 });
    expect(lr(2)).toBeCloseTo(0.55, 12);
    expect(lr(4)).toBe(0.1);
    expect(lr(6)).toBeCloseTo(0.0505, 12);
  });

  it('linearOnecycleSchedule', () => {
    const lr = linearOnecycleSchedule({ transitionSteps: 100, peakValue: 1 });
    expect(lr(0)).toBe(0.04);
    expect(lr(30)).toBe(1);
    expect(lr(85)).toBe(0.04);
    expect(lr(100)).toBeCloseTo(0.000004, 15);
  });

  it('cosineOnecycleSchedule', () => {
    const lr = cosineOnecycleSchedule({ transitionSteps: 100, peakValue: 1 });
    expect(lr(0)).toBeCloseTo(0.04, 15);
    expect(lr(15)).toBeCloseTo(0.52, 12);
    expect(lr(30)).toBe(1);
    expect(lr(100)).toBeCloseTo(0.000004, 15);
  });

  it('warmupConstantSchedule', () => {
    const lr = warmupConstantSchedule({ initValue: 0, peakValue: 1, warmupSteps: 4 });
    expect(lr(2)).toBe(0.5);
    expect(lr(4)).toBe(1);
    expect(lr(100)).toBe(1);
  });

  it('warmupCosineDecaySchedule', () => {
    const lr = warmupCosineDecaySchedule({
      initValue: 0,
      peakValue: 1,
      warmupSteps: 10,
      decaySteps: 110,
      endValue: 0.1,
    });
    expect(lr(5)).toBe(0.5);
    expect(lr(10)).toBe(1);
    expect(lr(60)).toBeCloseTo(0.55, 12);
    expect(lr(110)).toBeCloseTo(0.1, 12);
  });

  it('warmupExponentialDecaySchedule', () => {
    const lr = warmupExponentialDecaySchedule({
      initValue: 0,
      peakValue: 1,
      warmupSteps: 10,
      transitionSteps: 10,
      decayRate: 0.5,
    });
    expect(lr(5)).toBe(0.5);
    expect(lr(10)).toBe(1);
    expect(lr(20)).toBe(0.5);
  });

  it('sgdrSchedule', () => {
    const lr = sgdrSchedule([
      { initValue: 0, peakValue: 1, warmupSteps: 2, decaySteps: 10 },
      { initValue: 0, peakValue: 0.5, warmupSteps: 2, decaySteps: 20 },
    ]);
    expect(lr(2)).toBe(1);
    expect(lr(10)).toBe(0);
    expect(lr(12)).toBe(0.5);
  });

  it('joinSchedules', () => {
    const lr = joinSchedules(
      [constantSchedule(1), linearSchedule({ initValue: 0, endValue: 1, transitionSteps: 10 })],
      [5],
    );
    expect(lr(4)).toBe(1);
    expect(lr(5)).toBe(0);
    expect(lr(10)).toBe(0.5);
  });
});

describe('schedules object', () => {
  it('groups every factory under its own name', () => {
    expect(Object.keys(schedules).sort()).toEqual(
      [
        'constantSchedule',
        'cosineDecaySchedule',
        'cosineOnecycleSchedule',
        'exponentialDecay',
        'joinSchedules',
        'linearOnecycleSchedule',
        'linearSchedule',
        'piecewiseConstantSchedule',
        'piecewiseInterpolateSchedule',
        'polynomialSchedule',
        'sgdrSchedule',
        'warmupConstantSchedule',
        'warmupCosineDecaySchedule',
        'warmupExponentialDecaySchedule',
      ].sort(),
    );
    expect(schedules.linearSchedule).toBe(linearSchedule);
    expect(schedules.joinSchedules).toBe(joinSchedules);
  });
});

describe('counts', () => {
  const lr = linearSchedule({ initValue: 1, endValue: 0, transitionSteps: 10 });

  it('throws on a NaN count, naming the schedule', () => {
    expectError(
      () => lr(Number.NaN),
      RangeError,
      'linearSchedule: count must be a number that is not NaN, got NaN',
    );
    expectError(
      () => joinSchedules([constantSchedule(1)], [])(Number.NaN),
      RangeError,
      'joinSchedules: count must be a number that is not NaN, got NaN',
    );
  });

  it('throws on a non-number count', () => {
    expectError(
      () => lr('3' as unknown as number),
      TypeError,
      'linearSchedule: count must be a number, got "3"',
    );
  });

  it('treats negative counts as 0 and +Infinity as the limit', () => {
    expect(lr(-5)).toBe(1);
    expect(lr(Number.NEGATIVE_INFINITY)).toBe(1);
    expect(lr(Number.POSITIVE_INFINITY)).toBe(0);
    // optax would evaluate the cosine at a negative angle here.
    expect(cosineDecaySchedule({ initValue: 2, decaySteps: 10 })(-5)).toBe(2);
    // optax's interpolation returns 0 for negative counts.
    expect(piecewiseInterpolateSchedule('linear', 3, { 4: 0.5 })(-1)).toBe(3);
    expect(cosineDecaySchedule({ initValue: 2, decaySteps: 10 })(Number.POSITIVE_INFINITY)).toBe(0);
    expect(
      exponentialDecay({ initValue: 1, transitionSteps: 1, decayRate: 1 })(
        Number.POSITIVE_INFINITY,
      ),
    ).toBe(1);
  });

  it('accepts fractional counts', () => {
    expect(lr(2.5)).toBe(0.75);
  });
});

describe('constantSchedule', () => {
  it('rejects non-finite values', () => {
    expectError(
      () => constantSchedule(Number.POSITIVE_INFINITY),
      RangeError,
      'constantSchedule: value must be a finite number, got Infinity',
    );
    expectError(
      () => constantSchedule(null as unknown as number),
      TypeError,
      'constantSchedule: value must be a finite number, got null',
    );
  });
});

describe('polynomialSchedule / linearSchedule', () => {
  it('holds init before transitionBegin, reaches end at begin + steps', () => {
    // I=1, E=0, T=10, B=2: value = 1 - (count - 2) / 10 on [2, 12].
    const lr = linearSchedule({
      initValue: 1,
      endValue: 0,
      transitionSteps: 10,
      transitionBegin: 2,
    });
    expectValues(lr, { 0: 1, 1: 1, 2: 1, 3: 0.9, 7: 0.5, 11: 0.1, 12: 0, 13: 0, 100: 0 });
  });

  it('follows (I - E) * (1 - t/T)^P + E', () => {
    // I=3, E=1, P=3, T=4: t=1 -> 2 * 0.75^3 + 1 = 1.84375; t=2 -> 2 * 0.125 + 1 = 1.25.
    const lr = polynomialSchedule({ initValue: 3, endValue: 1, power: 3, transitionSteps: 4 });
    expectValues(lr, { 0: 3, 1: 1.84375, 2: 1.25, 3: 1.03125, 4: 1, 5: 1 });
  });

  it('matches the optax documented polynomial counts', () => {
    const lr = polynomialSchedule({
      initValue: 1,
      endValue: 0.01,
      power: 2,
      transitionSteps: 100,
      transitionBegin: 5,
    });
    // count 104: frac = 0.01 -> 0.99 * 1e-4 + 0.01 = 0.010099.
    expectValues(lr, { 0: 1, 5: 1, 6: 0.980299, 104: 0.010099, 105: 0.01, 110: 0.01 });
  });

  it('can increase', () => {
    const lr = linearSchedule({ initValue: 0, endValue: 2, transitionSteps: 4 });
    expectValues(lr, { 0: 0, 1: 0.5, 4: 2, 9: 2 });
  });

  it('rejects invalid arguments', () => {
    expectError(
      () => linearSchedule({ initValue: 1, endValue: 0, transitionSteps: -3 }),
      RangeError,
      'linearSchedule: transitionSteps must be a positive integer, got -3',
    );
    expectError(
      () => linearSchedule({ initValue: 1, endValue: 0, transitionSteps: 0 }),
      RangeError,
      'linearSchedule: transitionSteps must be a positive integer, got 0',
    );
    expectError(
      () => linearSchedule({ initValue: 1, endValue: 0, transitionSteps: 2.5 }),
      RangeError,
      'linearSchedule: transitionSteps must be a positive integer, got 2.5',
    );
    expectError(
      () => linearSchedule({ initValue: 1, endValue: 0, transitionSteps: 5, transitionBegin: -1 }),
      RangeError,
      'linearSchedule: transitionBegin must be a non-negative integer, got -1',
    );
    expectError(
      () => linearSchedule({ initValue: Number.NaN, endValue: 0, transitionSteps: 5 }),
      RangeError,
      'linearSchedule: initValue must be a finite number, got NaN',
    );
    expectError(
      () => polynomialSchedule({ initValue: 1, endValue: 0, power: -1, transitionSteps: 5 }),
      RangeError,
      'polynomialSchedule: power must be a finite number > 0, got -1',
    );
    expectError(
      () => polynomialSchedule({ initValue: 1, endValue: 0, power: 2 } as never),
      TypeError,
      'polynomialSchedule: transitionSteps must be a positive integer, got undefined',
    );
    expectError(
      () => linearSchedule(undefined as never),
      TypeError,
      'linearSchedule: options must be an options object, got undefined',
    );
  });
});

describe('piecewiseConstantSchedule', () => {
  it('applies each scale once count >= boundary', () => {
    const lr = piecewiseConstantSchedule(2, { 3: 0.5, 6: 0.25 });
    expectValues(lr, { 0: 2, 2: 2, 2.5: 2, 3: 1, 5: 1, 6: 0.25, 7: 0.25, 1000: 0.25 });
  });

  it('sorts boundaries numerically and handles a boundary at 0', () => {
    const lr = piecewiseConstantSchedule(1, { 20: 3, 0: 0.5, 5: 2 });
    expectValues(lr, { 0: 0.5, 4: 0.5, 5: 1, 19: 1, 20: 3 });
  });

  it('is constant without boundaries, and works with negative values', () => {
    expect(piecewiseConstantSchedule(4)(100)).toBe(4);
    expect(piecewiseConstantSchedule(4, {})(100)).toBe(4);
    expectValues(piecewiseConstantSchedule(-0.1, { 3: 2 }), { 2: -0.1, 3: -0.2 });
  });

  it('rejects invalid boundaries and scales', () => {
    expectError(
      () => piecewiseConstantSchedule(1, { 10: -0.5 }),
      RangeError,
      'piecewiseConstantSchedule: boundariesAndScales[10] must be a finite number >= 0, got -0.5',
    );
    expectError(
      () => piecewiseConstantSchedule(1, { [-5]: 0.5 }),
      RangeError,
      'piecewiseConstantSchedule: boundariesAndScales keys must be non-negative integer steps, got "-5"',
    );
    expectError(
      () => piecewiseConstantSchedule(1, { 1.5: 0.5 }),
      RangeError,
      'piecewiseConstantSchedule: boundariesAndScales keys must be non-negative integer steps, got "1.5"',
    );
    expectError(
      () => piecewiseConstantSchedule(1, [0.5] as never),
      TypeError,
      'piecewiseConstantSchedule: boundariesAndScales must be an object mapping steps to scales, got an array',
    );
  });
});

describe('exponentialDecay', () => {
  it('holds init through transitionBegin, then decays continuously', () => {
    const lr = exponentialDecay({
      initValue: 1,
      transitionSteps: 10,
      decayRate: 0.5,
      transitionBegin: 5,
    });
    // count 10: 0.5^(5/10) = sqrt(0.5); count 25: 0.5^2.
    expectValues(lr, { 0: 1, 4: 1, 5: 1, 10: Math.SQRT1_2, 15: 0.5, 25: 0.25 });
  });

  it('decays in stairs of transitionSteps when staircase is set', () => {
    const lr = exponentialDecay({
      initValue: 1,
      transitionSteps: 10,
      decayRate: 0.5,
      transitionBegin: 5,
      staircase: true,
    });
    expectValues(lr, { 5: 1, 14: 1, 15: 0.5, 24: 0.5, 25: 0.25, 34.9: 0.25 });
  });

  it('uses endValue as a lower bound when decayRate < 1', () => {
    const lr = exponentialDecay({
      initValue: 1,
      transitionSteps: 1,
      decayRate: 0.5,
      endValue: 0.3,
    });
    expectValues(lr, { 0: 1, 1: 0.5, 2: 0.3, 10: 0.3 });
  });

  it('uses endValue as an upper bound when decayRate > 1', () => {
    const lr = exponentialDecay({ initValue: 1, transitionSteps: 1, decayRate: 2, endValue: 3 });
    expectValues(lr, { 0: 1, 1: 2, 2: 3, 10: 3 });
    // The bound applies before the decay starts too.
    const capped = exponentialDecay({
      initValue: 5,
      transitionSteps: 1,
      decayRate: 2,
      transitionBegin: 3,
      endValue: 3,
    });
    expect(capped(0)).toBe(3);
  });

  it('rejects invalid arguments', () => {
    expectError(
      () => exponentialDecay({ initValue: 1, transitionSteps: 0, decayRate: 0.5 }),
      RangeError,
      'exponentialDecay: transitionSteps must be a positive integer, got 0',
    );
    expectError(
      () => exponentialDecay({ initValue: 1, transitionSteps: 10, decayRate: 0 }),
      RangeError,
      'exponentialDecay: decayRate must be a finite number > 0, got 0',
    );
    expectError(
      () =>
        exponentialDecay({
          initValue: 1,
          transitionSteps: 10,
          decayRate: 0.5,
          transitionBegin: -2,
        }),
      RangeError,
      'exponentialDecay: transitionBegin must be a non-negative integer, got -2',
    );
    expectError(
      () =>
        exponentialDecay({
          initValue: 1,
          transitionSteps: 10,
          decayRate: 0.5,
          staircase: 1 as never,
        }),
      TypeError,
      'exponentialDecay: staircase must be a boolean, got 1',
    );
    expectError(
      () =>
        exponentialDecay({
          initValue: 1,
          transitionSteps: 10,
          decayRate: 0.5,
          endValue: Number.NEGATIVE_INFINITY,
        }),
      RangeError,
      'exponentialDecay: endValue must be a finite number, got -Infinity',
    );
  });
});

describe('cosineDecaySchedule', () => {
  it('follows the cosine curve and holds alpha * init afterwards', () => {
    // alpha = 0.1: value = 2 * (0.9 * c + 0.1) with c = (1 + cos(pi t / 10)) / 2.
    const lr = cosineDecaySchedule({ initValue: 2, decaySteps: 10, alpha: 0.1 });
    const quarter = 2 * (0.9 * ((1 + Math.SQRT1_2) / 2) + 0.1);
    expectValues(lr, { 0: 2, 2.5: quarter, 5: 1.1, 10: 0.2, 11: 0.2, 1e9: 0.2 });
  });

  it('raises the cosine factor to exponent', () => {
    const lr = cosineDecaySchedule({ initValue: 2, decaySteps: 10, exponent: 2 });
    expectValues(lr, { 0: 2, 5: 0.5, 10: 0 });
  });

  it('rejects invalid arguments', () => {
    expectError(
      () => cosineDecaySchedule({ initValue: 1, decaySteps: 0 }),
      RangeError,
      'cosineDecaySchedule: decaySteps must be a positive integer, got 0',
    );
    expectError(
      () => cosineDecaySchedule({ initValue: 1, decaySteps: 10, alpha: Number.NaN }),
      RangeError,
      'cosineDecaySchedule: alpha must be a finite number, got NaN',
    );
    expectError(
      () => cosineDecaySchedule({ initValue: 1, decaySteps: 10, exponent: 0 }),
      RangeError,
      'cosineDecaySchedule: exponent must be a finite number > 0, got 0',
    );
  });
});

describe('piecewiseInterpolateSchedule', () => {
  it('interpolates linearly between accumulated values', () => {
    const lr = piecewiseInterpolateSchedule('linear', 1, { 4: 0.1, 8: 0.01 });
    // Accumulated values: 1 at 0, 0.1 at 4, 0.001 at 8.
    expectValues(lr, { 0: 1, 2: 0.55, 3: 0.325, 4: 0.1, 6: 0.0505, 8: 0.001, 10: 0.001 });
  });

  it('interpolates along a half cosine', () => {
    const lr = piecewiseInterpolateSchedule('cosine', 1, { 4: 0.1 });
    // end + (start - end) / 2 * (cos(pi * pct) + 1) with start 1, end 0.1.
    expectValues(lr, {
      0: 1,
      1: 0.1 + 0.45 * (1 + Math.SQRT1_2),
      2: 0.55,
      3: 0.1 + 0.45 * (1 - Math.SQRT1_2),
      4: 0.1,
      9: 0.1,
    });
  });

  it('starts at the accumulated value when a boundary is at 0', () => {
    const lr = piecewiseInterpolateSchedule('linear', 1, { 0: 2, 4: 0.5 });
    // Values 1 (at 0), 2 (at 0), 1 (at 4): the empty first segment is skipped.
    expectValues(lr, { 0: 2, 2: 1.5, 4: 1, 8: 1 });
  });

  it('is constant without boundaries', () => {
    expect(piecewiseInterpolateSchedule('cosine', 17)(5)).toBe(17);
    expect(piecewiseInterpolateSchedule('linear', 13, {})(0)).toBe(13);
  });

  it('rejects invalid arguments', () => {
    expectError(
      () => piecewiseInterpolateSchedule('linar' as never, 1),
      RangeError,
      "piecewiseInterpolateSchedule: interpolateType must be 'linear' or 'cosine', got \"linar\"",
    );
    expectError(
      () => piecewiseInterpolateSchedule(1 as never, 1),
      TypeError,
      "piecewiseInterpolateSchedule: interpolateType must be 'linear' or 'cosine', got 1",
    );
    expectError(
      () => piecewiseInterpolateSchedule('linear', 13, { 5: -3 }),
      RangeError,
      'piecewiseInterpolateSchedule: boundariesAndScales[5] must be a finite number >= 0, got -3',
    );
  });
});

describe('onecycle schedules', () => {
  it('linear: three phases at floor(0.3 T), floor(0.85 T), T', () => {
    const lr = linearOnecycleSchedule({ transitionSteps: 100, peakValue: 1 });
    // Values 0.04 -> 1 -> 0.04 -> 0.04 / 1e4.
    expectValues(lr, {
      0: 0.04,
      15: 0.52,
      30: 1,
      57.5: 0.52,
      85: 0.04,
      92.5: 0.020002,
      100: 0.000004,
      1000: 0.000004,
    });
  });

  it('linear: truncates pct * T and honours custom factors', () => {
    const lr = linearOnecycleSchedule({
      transitionSteps: 10,
      peakValue: 2,
      pctStart: 0.25,
      pctFinal: 0.75,
      divFactor: 4,
      finalDivFactor: 5,
    });
    // Phase ends floor(2.5) = 2, floor(7.5) = 7, 10; values 0.5 -> 2 -> 0.5 -> 0.1.
    expectValues(lr, { 0: 0.5, 1: 1.25, 2: 2, 7: 0.5, 8.5: 0.3, 10: 0.1 });
  });

  it('cosine: two half-cosine phases', () => {
    const lr = cosineOnecycleSchedule({ transitionSteps: 100, peakValue: 1 });
    expectValues(lr, { 0: 0.04, 15: 0.52, 30: 1, 65: 0.500002, 100: 0.000004, 200: 0.000004 });
  });

  it('rejects invalid arguments and coinciding phase ends', () => {
    expectError(
      () => linearOnecycleSchedule({ transitionSteps: 0, peakValue: 1 }),
      RangeError,
      'linearOnecycleSchedule: transitionSteps must be a positive integer, got 0',
    );
    expectError(
      () => linearOnecycleSchedule({ transitionSteps: 1, peakValue: 1 }),
      RangeError,
      'linearOnecycleSchedule: the phase ends floor(pctStart * transitionSteps) = 0, ' +
        'floor(pctFinal * transitionSteps) = 0 and transitionSteps = 1 must be strictly ' +
        'increasing (got pctStart 0.3, pctFinal 0.85, transitionSteps 1)',
    );
    expectError(
      () => linearOnecycleSchedule({ transitionSteps: 100, peakValue: 1, pctStart: 1.5 }),
      RangeError,
      'linearOnecycleSchedule: pctStart must be a number in [0, 1], got 1.5',
    );
    expectError(
      () => linearOnecycleSchedule({ transitionSteps: 100, peakValue: 1, divFactor: 0 }),
      RangeError,
      'linearOnecycleSchedule: divFactor must be a finite number > 0, got 0',
    );
    expectError(
      () => cosineOnecycleSchedule({ transitionSteps: 10, peakValue: 1, pctStart: 1 }),
      RangeError,
      'cosineOnecycleSchedule: floor(pctStart * transitionSteps) = 10 must be less than ' +
        'transitionSteps = 10 (got pctStart 1)',
    );
    expectError(
      () => cosineOnecycleSchedule({ transitionSteps: 10, peakValue: 1, finalDivFactor: -1 }),
      RangeError,
      'cosineOnecycleSchedule: finalDivFactor must be a finite number > 0, got -1',
    );
  });
});

describe('warmup schedules', () => {
  it('warmupConstantSchedule ramps then holds; 0 warmup steps means peak throughout', () => {
    expectValues(warmupConstantSchedule({ initValue: 1, peakValue: 3, warmupSteps: 4 }), {
      0: 1,
      1: 1.5,
      3: 2.5,
      4: 3,
      5: 3,
    });
    expect(warmupConstantSchedule({ initValue: 1, peakValue: 3, warmupSteps: 0 })(0)).toBe(3);
    expectError(
      () => warmupConstantSchedule({ initValue: 1, peakValue: 3, warmupSteps: -1 }),
      RangeError,
      'warmupConstantSchedule: warmupSteps must be a non-negative integer, got -1',
    );
  });

  it('warmupCosineDecaySchedule counts the warmup inside decaySteps', () => {
    const lr = warmupCosineDecaySchedule({
      initValue: 0,
      peakValue: 1,
      warmupSteps: 10,
      decaySteps: 110,
      endValue: 0.1,
    });
    // Cosine over 100 steps from 1 to 0.1: at 35 steps c = (1 + cos(pi/4)) / 2.
    const at35 = 0.9 * ((1 + Math.SQRT1_2) / 2) + 0.1;
    expectValues(lr, { 0: 0, 9: 0.9, 10: 1, 35: at35, 60: 0.55, 110: 0.1, 500: 0.1 });
  });

  it('warmupCosineDecaySchedule with exponent, zero peak and zero warmup', () => {
    const squared = warmupCosineDecaySchedule({
      initValue: 0,
      peakValue: 2,
      warmupSteps: 2,
      decaySteps: 12,
      exponent: 2,
    });
    // Halfway through the decay: 2 * 0.5^2.
    expectValues(squared, { 1: 1, 2: 2, 7: 0.5, 12: 0 });
    const zeroPeak = warmupCosineDecaySchedule({
      initValue: 1,
      peakValue: 0,
      warmupSteps: 2,
      decaySteps: 4,
      endValue: 5,
    });
    expectValues(zeroPeak, { 0: 1, 1: 0.5, 2: 0, 4: 0 });
    const noWarmup = warmupCosineDecaySchedule({
      initValue: 7,
      peakValue: 1,
      warmupSteps: 0,
      decaySteps: 10,
    });
    expectValues(noWarmup, { 0: 1, 5: 0.5, 10: 0 });
  });

  it('warmupCosineDecaySchedule rejects decaySteps <= warmupSteps', () => {
    expectError(
      () =>
        warmupCosineDecaySchedule({ initValue: 0, peakValue: 1, warmupSteps: 10, decaySteps: 10 }),
      RangeError,
      'warmupCosineDecaySchedule: decaySteps must be an integer greater than warmupSteps (10), got 10',
    );
    expectError(
      () =>
        warmupCosineDecaySchedule({ initValue: 0, peakValue: 1, warmupSteps: 1.5, decaySteps: 10 }),
      RangeError,
      'warmupCosineDecaySchedule: warmupSteps must be a non-negative integer, got 1.5',
    );
  });

  it('warmupExponentialDecaySchedule starts decaying after warmup + transitionBegin', () => {
    const lr = warmupExponentialDecaySchedule({
      initValue: 0,
      peakValue: 1,
      warmupSteps: 10,
      transitionSteps: 10,
      decayRate: 0.5,
      transitionBegin: 5,
      staircase: true,
      endValue: 0.2,
    });
    expectValues(lr, { 0: 0, 5: 0.5, 10: 1, 15: 1, 24: 1, 25: 0.5, 35: 0.25, 45: 0.2, 99: 0.2 });
    expectError(
      () =>
        warmupExponentialDecaySchedule({
          initValue: 0,
          peakValue: 1,
          warmupSteps: 10,
          transitionSteps: 10,
          decayRate: -0.5,
        }),
      RangeError,
      'warmupExponentialDecaySchedule: decayRate must be a finite number > 0, got -0.5',
    );
  });
});

describe('sgdrSchedule', () => {
  const lr = sgdrSchedule([
    { initValue: 0, peakValue: 1, warmupSteps: 2, decaySteps: 10 },
    { initValue: 0, peakValue: 0.5, warmupSteps: 2, decaySteps: 20, endValue: 0.1 },
  ]);

  it('restarts each cycle at the sum of the previous decaySteps', () => {
    // First cycle: warmup to 1 over 2 steps, cosine over 8 steps (midpoint at 6).
    // Second cycle from 10: warmup to 0.5 by 12, cosine to 0.1 over 18 steps (midpoint at 21).
    expectValues(lr, {
      0: 0,
      1: 0.5,
      2: 1,
      6: 0.5,
      10: 0,
      11: 0.25,
      12: 0.5,
      21: 0.3,
      30: 0.1,
      100: 0.1,
    });
    expect(lr(9.999)).toBeLessThan(1e-6);
  });

  it('rejects empty and invalid cycles, naming the cycle', () => {
    expectError(
      () => sgdrSchedule([]),
      RangeError,
      'sgdrSchedule: cosineKwargs must contain at least one cycle, got an empty array',
    );
    expectError(
      () =>
        sgdrSchedule([
          { initValue: 0, peakValue: 1, warmupSteps: 2, decaySteps: 10 },
          { initValue: 0, peakValue: 1, warmupSteps: 3, decaySteps: 2 },
        ]),
      RangeError,
      'sgdrSchedule: cosineKwargs[1].decaySteps must be an integer greater than ' +
        'cosineKwargs[1].warmupSteps (3), got 2',
    );
    expectError(
      () => sgdrSchedule([null as never]),
      TypeError,
      'sgdrSchedule: cosineKwargs[0] must be an options object, got null',
    );
  });
});

describe('joinSchedules', () => {
  it('switches at each boundary and passes count - boundary', () => {
    const lr = joinSchedules(
      [
        constantSchedule(1),
        constantSchedule(2),
        linearSchedule({ initValue: 0, endValue: 10, transitionSteps: 10 }),
      ],
      [5, 10],
    );
    expectValues(lr, { 0: 1, 4: 1, 4.5: 1, 5: 2, 9: 2, 10: 0, 13: 3, 20: 10, 30: 10 });
  });

  it('skips a schedule between equal boundaries; a single schedule is passed through', () => {
    const lr = joinSchedules(
      [constantSchedule(1), constantSchedule(2), constantSchedule(3)],
      [4, 4],
    );
    expectValues(lr, { 3: 1, 4: 3 });
    const seen: number[] = [];
    const single = joinSchedules(
      [
        (c) => {
          seen.push(c);
          return c;
        },
      ],
      [],
    );
    expect(single(7)).toBe(7);
    expect(single(-2)).toBe(0);
    expect(seen).toEqual([7, 0]);
  });

  it('rejects mismatched, unsorted or invalid boundaries', () => {
    const a = constantSchedule(1);
    expectError(
      () => joinSchedules([a, a], []),
      RangeError,
      'joinSchedules: boundaries must have schedules.length - 1 = 1 entries, got 0',
    );
    expectError(
      () => joinSchedules([a, a, a], [10, 5]),
      RangeError,
      'joinSchedules: boundaries must be non-decreasing, got boundaries[1] = 5 after boundaries[0] = 10',
    );
    expectError(
      () => joinSchedules([a, a], [2.5]),
      RangeError,
      'joinSchedules: boundaries[0] must be a non-negative integer, got 2.5',
    );
    expectError(
      () => joinSchedules([], []),
      RangeError,
      'joinSchedules: schedules must contain at least one schedule, got an empty array',
    );
    expectError(
      () => joinSchedules([a, 3 as never], [1]),
      TypeError,
      'joinSchedules: schedules[1] must be a function, got 3',
    );
  });
});

describe('properties', () => {
  const value = fc.double({ min: -100, max: 100, noNaN: true });
  const count = fc.double({ min: -10, max: 1000, noNaN: true });
  const steps = fc.integer({ min: 1, max: 200 });
  const begin = fc.integer({ min: 0, max: 200 });

  it('linearSchedule stays between initValue and endValue', () => {
    fc.assert(
      fc.property(value, value, steps, begin, count, (initValue, endValue, s, b, c) => {
        const v = linearSchedule({ initValue, endValue, transitionSteps: s, transitionBegin: b })(
          c,
        );
        const eps = 1e-9 * (1 + Math.abs(initValue) + Math.abs(endValue));
        expect(v).toBeGreaterThanOrEqual(Math.min(initValue, endValue) - eps);
        expect(v).toBeLessThanOrEqual(Math.max(initValue, endValue) + eps);
      }),
    );
  });

  it('polynomialSchedule is monotone from initValue towards endValue', () => {
    fc.assert(
      fc.property(
        value,
        value,
        fc.double({ min: 0.1, max: 5, noNaN: true }),
        steps,
        count,
        count,
        (initValue, endValue, power, s, c1, c2) => {
          const lr = polynomialSchedule({ initValue, endValue, power, transitionSteps: s });
          const [lo, hi] = c1 <= c2 ? [c1, c2] : [c2, c1];
          const eps = 1e-9 * (1 + Math.abs(initValue) + Math.abs(endValue));
          if (initValue >= endValue) expect(lr(hi)).toBeLessThanOrEqual(lr(lo) + eps);
          else expect(lr(hi)).toBeGreaterThanOrEqual(lr(lo) - eps);
        },
      ),
    );
  });

  it('exponentialDecay with decayRate < 1 is non-increasing and respects endValue', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 10, noNaN: true }),
        fc.double({ min: 0.01, max: 0.99, noNaN: true }),
        steps,
        begin,
        fc.boolean(),
        count,
        count,
        (initValue, decayRate, s, b, staircase, c1, c2) => {
          const endValue = initValue / 10;
          const lr = exponentialDecay({
            initValue,
            transitionSteps: s,
            decayRate,
            transitionBegin: b,
            staircase,
            endValue,
          });
          const [lo, hi] = c1 <= c2 ? [c1, c2] : [c2, c1];
          expect(lr(hi)).toBeLessThanOrEqual(lr(lo) * (1 + 1e-12));
          expect(lr(hi)).toBeGreaterThanOrEqual(endValue);
        },
      ),
    );
  });

  it('cosineDecaySchedule is non-increasing between alpha * initValue and initValue', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 10, noNaN: true }),
        steps,
        fc.double({ min: 0, max: 1, noNaN: true }),
        count,
        count,
        (initValue, s, alpha, c1, c2) => {
          const lr = cosineDecaySchedule({ initValue, decaySteps: s, alpha });
          const [lo, hi] = c1 <= c2 ? [c1, c2] : [c2, c1];
          const eps = 1e-12 * (1 + initValue);
          expect(lr(hi)).toBeLessThanOrEqual(lr(lo) + eps);
          expect(lr(hi)).toBeGreaterThanOrEqual(alpha * initValue - eps);
          expect(lr(lo)).toBeLessThanOrEqual(initValue + eps);
        },
      ),
    );
  });

  it('piecewiseConstantSchedule multiplies the scales of reached boundaries', () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.integer({ min: 0, max: 100 }).map(String),
          fc.double({ min: 0, max: 3, noNaN: true }),
        ),
        fc.integer({ min: 0, max: 120 }),
        (table, c) => {
          const lr = piecewiseConstantSchedule(2, table as Record<number, number>);
          let expected = 2;
          for (const b of Object.keys(table)
            .map(Number)
            .sort((x, y) => x - y)) {
            if (c >= b) expected *= table[String(b)]!;
          }
          expect(lr(c)).toBe(expected);
        },
      ),
    );
  });

  it('joinSchedules hands count - boundary to the later schedule', () => {
    fc.assert(
      fc.property(begin, count, (boundary, c) => {
        const later = linearSchedule({ initValue: 5, endValue: -5, transitionSteps: 50 });
        const lr = joinSchedules([constantSchedule(9), later], [boundary]);
        const clamped = Math.max(c, 0);
        expect(lr(c)).toBe(clamped < boundary ? 9 : later(clamped - boundary));
      }),
    );
  });
});
