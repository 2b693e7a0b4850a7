/**
 * The per-element math of the optimizer catalogue's elementwise transformations, one module per
 * family, collected here for `stages.ts`.
 */
import { ADAM_VARIANT_STAGES } from './adam-variants.js';
import { LION_STAGES } from './lion.js';
import { RMS_STAGES } from './rms.js';
import { SCHEDULE_FREE_STAGES } from './scheduleFree.js';
import { SIGN_STAGES } from './sign.js';

/** Every catalogue stage, by name. */
export const CATALOGUE_STAGES = {
  ...LION_STAGES,
  ...RMS_STAGES,
  ...SIGN_STAGES,
  ...ADAM_VARIANT_STAGES,
  ...SCHEDULE_FREE_STAGES,
};

/**
 * The catalogue stages that an alias runs between `load` and the learning rate: each gets a fused
 * kernel for `load, stage, scale, apply`, and with `decay` also for `load, stage, decay, scale,
 * apply` (the aliases with decoupled weight decay).
 */
export const ALIAS_STAGES: readonly { stage: keyof typeof CATALOGUE_STAGES; decay: boolean }[] = [
  { stage: 'lion', decay: true },
  { stage: 'rss', decay: false },
  { stage: 'rms', decay: false },
  { stage: 'stddev', decay: false },
  { stage: 'adadelta', decay: false },
  { stage: 'sign', decay: false },
  { stage: 'rprop', decay: false },
  { stage: 'optimistic', decay: false },
  // Adam's variants (adabelief, adamax/adamaxw, amsgrad, yogi, adan).
  { stage: 'belief', decay: true },
  { stage: 'beliefNesterov', decay: true },
  { stage: 'adamax', decay: true },
  { stage: 'amsgrad', decay: false },
  { stage: 'yogi', decay: false },
  { stage: 'adanFirst', decay: true },
  { stage: 'adan', decay: true },
];
