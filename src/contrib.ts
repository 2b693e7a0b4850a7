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
  /** `optax.contrib.schedule_free_adamw`: see {@link scheduleFreeAdamw}. */
  scheduleFreeAdamw,
  /** `optax.contrib.schedule_free_sgd`: see {@link scheduleFreeSgd}. */
  scheduleFreeSgd,
  /** `optax.contrib.schedule_free`: see {@link scheduleFree}. */
  scheduleFree,
  /** `optax.contrib.schedule_free_eval_params`: see {@link scheduleFreeEvalParams}. */
  scheduleFreeEvalParams,
  /** `optax.contrib.muon`: see {@link muon}. */
  muon,
  /** `optax.contrib.scale_by_muon`: see {@link scaleByMuon}. */
  scaleByMuon,
  /** `optax.contrib.scale_by_shape`: see {@link scaleByShape}. */
  scaleByShape,
  /** `optax.contrib.MuonDimensionNumbers`: see {@link MuonDimensionNumbers}. */
  MuonDimensionNumbers,
};
