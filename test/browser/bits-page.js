import * as optax from 'optax-ts';
import { optimizerBits } from './bits.js';

try {
  window.__result = {
    crossOriginIsolated: globalThis.crossOriginIsolated === true,
    sharedArrayBuffer: typeof SharedArrayBuffer === 'function',
    default: await optimizerBits(optax),
    arena: await optimizerBits(optax, { arena: true }),
  };
} catch (e) {
  window.__error = String(e?.stack ?? e);
}
