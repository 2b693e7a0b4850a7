/**
 * A schedule maps a step count (0 on the first update) to a value, usually a learning rate.
 *
 * @example
 * ```ts
 * const halve: Schedule = (count) => 0.1 * 0.5 ** count;
 * halve(2); // 0.025
 * ```
 */
export type Schedule = (count: number) => number;

/** A fixed number or a {@link Schedule}, as optax's `ScalarOrSchedule`. */
export type ScalarOrSchedule = number | Schedule;
