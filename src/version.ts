/**
 * The package version, kept here as a constant so that browser builds need no `package.json`
 * import; a test checks that it equals `package.json`'s `version`.
 *
 * @example
 * ```ts
 * VERSION; // '0.1.0'
 * ```
 */
export const VERSION = '0.1.0';
