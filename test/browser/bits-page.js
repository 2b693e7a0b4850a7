import * as optax from 'optax-ts';
import { optimizerBits } from './bits.js';

try {
  window.__result = {
    crossOriginIsolated: globalThis.crossOriginIsolated === true,
    sharedArrayBuffer: typeof SharedArrayBuffer === 'function',
    default: await optimizerBits(optax),
    arena: await optimizerBits(optax, { arena: true }),
    // Two threads where the page allows them (a worker over shared memory), pausing between
    // steps so that the worker can start; the bits must not change.
    arenaThreads: await optimizerBits(optax, { arena: true, threads: 2 }, 1_000_000, 8, 100),
    stagedThreads: await optimizerBits(optax, { threads: 2 }, 1_000_000, 8, 100),
  };
} catch (e) {
  window.__error = String(e?.stack ?? e);
}
