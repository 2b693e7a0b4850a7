/**
 * optax's `contrib` namespace: experimental optimizers, as `optax.contrib.*`. A plain object, so
 * that other parts of the catalogue can add theirs.
 */
import { muon } from './aliases/muon.js';
import { MuonDimensionNumbers, scaleByMuon, scaleByShape } from './transforms/muon.js';

/**
 * The `optax.contrib` optimizers and transformations ported so far.
 *
 * @example
 * ```ts
 * const solver = contrib.muon(0.02);
 * typeof contrib.scaleByMuon; // 'function'
 * ```
 */
export const contrib = { muon, scaleByMuon, scaleByShape, MuonDimensionNumbers };
