/** optax's `contrib` namespace: the contributed optimizers, also exported at the top level. */
import { muon } from './aliases/muon.js';
import { scheduleFreeAdamw, scheduleFreeSgd } from './aliases/scheduleFree.js';
import { MuonDimensionNumbers, scaleByMuon, scaleByShape } from './transforms/muon.js';
import { scheduleFree, scheduleFreeEvalParams } from './transforms/scheduleFree.js';

/**
 * The optimizers of `optax.contrib`, by their camelCase names (each is also exported by itself).
 *
 * @example
 * ```ts
 * const tx = contrib.scheduleFreeAdamw(1e-3);
 * typeof contrib.scheduleFreeEvalParams; // 'function'
 * const solver = contrib.muon(0.02);
 * typeof contrib.scaleByMuon; // 'function'
 * ```
 */
export const contrib = {
  scheduleFreeAdamw,
  scheduleFreeSgd,
  scheduleFree,
  scheduleFreeEvalParams,
  muon,
  scaleByMuon,
  scaleByShape,
  MuonDimensionNumbers,
};
