/**
 * Node-only helpers: save optimizer state to a file and load it back (`optax-ts/node`). The core
 * package stays free of Node imports so that it runs in browsers; this subpath uses `node:fs`.
 *
 * @packageDocumentation
 */
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import {
  CheckpointError,
  deserializeState,
  deserializeStateInto,
  type SerializeOptions,
  serializeState,
} from '../checkpoint.js';

export type { SerializeOptions } from '../checkpoint.js';
export { CheckpointError } from '../checkpoint.js';

/**
 * Writes `state` to `path` as a safetensors checkpoint ({@link serializeState}), atomically: the
 * bytes go to a temporary file in the same directory, which is flushed to disk and then renamed
 * over `path`. A crash or an error at any point leaves either the previous file or the new one,
 * never a partial file; on error the temporary file is removed and the error is rethrown.
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
    throw new TypeError(`saveState: path must be a non-empty string, got ${JSON.stringify(path)}`);
  const bytes = serializeState(state, options);
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
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
export async function loadState<S>(path: string, template: S): Promise<S> {
  return withPath(path, deserializeState, template);
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
export async function loadStateInto<S>(path: string, target: S): Promise<S> {
  return withPath(path, deserializeStateInto, target);
}

async function withPath<S>(
  path: string,
  read: (bytes: Uint8Array, target: S) => S,
  target: S,
): Promise<S> {
  const bytes = await readFile(path);
  try {
    return read(bytes, target);
  } catch (e) {
    if (e instanceof CheckpointError)
      throw new CheckpointError(`${path}: ${e.message}`, { cause: e });
    throw e;
  }
}
