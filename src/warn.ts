/** Warnings the library prints at most once per process. */

const said = new Set<string>();

/**
 * Prints `message` with `console.warn` the first time it is given in this process, and never again.
 *
 * @example
 * ```ts
 * warnOnce('optax-ts: example'); // printed
 * warnOnce('optax-ts: example'); // not printed again
 * ```
 */
export function warnOnce(message: string): void {
  if (said.has(message)) return;
  said.add(message);
  console.warn(message);
}
