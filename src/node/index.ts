/**
 * Node-only helpers: save optimizer state to a file and load it back (`optax-ts/node`). The core
 * package stays free of Node imports so that it runs in browsers; this subpath uses `node:fs`.
 *
 * @packageDocumentation
 */
import { randomBytes } from 'node:crypto';
import { open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CheckpointError } from '../checkpoint/safetensors.js';
import {
  type DeserializeOptions,
  deserializeState,
  deserializeStateInto,
  type SerializeOptions,
  serializeState,
} from '../checkpoint/state.js';
import { describeValue } from '../validate.js';

export { CheckpointError } from '../checkpoint/safetensors.js';
export type { DeserializeOptions, SerializeOptions } from '../checkpoint/state.js';

/** The temporary file name of a write of `path` by process `pid`: `.name.<pid>.<12 hex>.tmp`. */
function temporaryName(path: string, pid: number): string {
  return join(dirname(path), `.${basename(path)}.${pid}.${randomBytes(6).toString('hex')}.tmp`);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the temporary files that writers of `path` killed mid-write left behind: the files
 * `.name.<pid>.<12 hex>.tmp` beside it whose process `pid` no longer exists on this machine.
 * Returns the names removed. {@link saveState} calls it before each write.
 *
 * @example
 * ```ts
 * import { removeStaleTemporaries } from 'optax-ts/node';
 * const removed = await removeStaleTemporaries('run/opt.safetensors'); // [] when none were left
 * ```
 */
export async function removeStaleTemporaries(path: string): Promise<string[]> {
  if (typeof path !== 'string' || path === '')
    throw new TypeError(
      `removeStaleTemporaries: path must be a non-empty string, got ${describeValue(path)}`,
    );
  const dir = dirname(path);
  const pattern = new RegExp(`^\\.${escapeRegExp(basename(path))}\\.(\\d+)\\.[0-9a-f]{12}\\.tmp$`);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = pattern.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || processIsAlive(pid)) continue;
    try {
      await unlink(join(dir, name));
      removed.push(name);
    } catch {
      // Another process removed it first.
    }
  }
  return removed;
}

/**
 * Writes `state` to `path` as a safetensors checkpoint ({@link serializeState}), atomically: the
 * bytes go to a temporary file in the same directory (`.name.<pid>.<random>.tmp`), which is
 * flushed to disk and then renamed over `path`. A crash or an error at any point leaves either
 * the previous file or the new one, never a partial file; on error the temporary file is removed
 * and the error is rethrown. Temporary files of writers that were killed (their process no longer
 * exists) are removed first ({@link removeStaleTemporaries}).
 *
 * @example
 * ```ts
 * import { saveState, loadState } from 'optax-ts/node';
 * await saveState('run/opt.safetensors', state, { metadata: { step: String(step) } });
 * const resumed = await loadState('run/opt.safetensors', tx.init(params));
 * ```
 */
export async function saveState(
  path: string,
  state: unknown,
  options: SerializeOptions = {},
): Promise<void> {
  if (typeof path !== 'string' || path === '')
    throw new TypeError(`saveState: path must be a non-empty string, got ${describeValue(path)}`);
  const bytes = serializeState(state, options);
  await removeStaleTemporaries(path);
  const dir = dirname(path);
  const tmp = temporaryName(path, process.pid);
  let written = false;
  try {
    const file = await open(tmp, 'wx');
    try {
      await file.writeFile(bytes);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, path);
    written = true;
  } finally {
    if (!written) await unlink(tmp).catch(() => undefined);
  }
  // Make the rename itself durable; not every platform can open a directory for this.
  try {
    const d = await open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    // Best effort only.
  }
}

/**
 * Reads a checkpoint written by {@link saveState}; `template` (`tx.init(params)`) fixes the
 * structure and dtypes, as for {@link deserializeState}. A file that is truncated, corrupted or
 * does not match throws a `CheckpointError` whose message starts with the path.
 *
 * @example
 * ```ts
 * const state = await loadState('run/opt.safetensors', tx.init(params));
 * ```
 */
export async function loadState<S>(
  path: string,
  template: S,
  options?: DeserializeOptions,
): Promise<S> {
  return withPath(path, (b, t) => deserializeState(b, t, options), template);
}

/**
 * Reads a checkpoint written by {@link saveState} into an existing state (or params) tree in place,
 * as `deserializeStateInto`: the way to resume an in-place `Optimizer`. Nothing is written unless
 * the whole file is valid for `target`.
 *
 * @example
 * ```ts
 * const opt = new Optimizer(radam(1e-3), params);
 * await loadStateInto('run/opt.safetensors', opt.state);
 * await loadStateInto('run/params.safetensors', opt.params);
 * ```
 */
export async function loadStateInto<S>(
  path: string,
  target: S,
  options?: DeserializeOptions,
): Promise<S> {
  return withPath(path, (b, t) => deserializeStateInto(b, t, options), target);
}

async function withPath<S>(
  path: string,
  read: (bytes: Uint8Array, target: S) => S,
  target: S,
): Promise<S> {
  if (typeof path !== 'string' || path === '')
    throw new TypeError(`loadState: path must be a non-empty string, got ${describeValue(path)}`);
  const bytes = await readFile(path);
  try {
    return read(bytes, target);
  } catch (e) {
    if (e instanceof CheckpointError)
      throw new CheckpointError(`${path}: ${e.message}`, { cause: e });
    throw e;
  }
}
