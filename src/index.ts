/**
 * optax-ts: optax's composable gradient transformations for TypeScript.
 *
 * @packageDocumentation
 */

export type { RadamOptions } from './alias.js';
export { radam } from './alias.js';
export type {
  EmptyState,
  ExtraArgs,
  GradientTransformation,
  GradientTransformationExtraArgs,
  InPlaceStep,
  ScalarOrSchedule,
  Schedule,
} from './base.js';
export {
  applyUpdates,
  disposeTree,
  INT32_MAX,
  identity,
  safeIncrement,
} from './base.js';
export type { ChainState } from './combine.js';
export { chain } from './combine.js';
export type { LeafOps } from './leaf.js';
export {
  describeLeaf,
  disposeLeaf,
  findLeafOps,
  leafOps,
  numberOps,
  registerLeafOps,
  typedArrayOps,
} from './leaf.js';
export { Optimizer } from './optimizer.js';
export type {
  RadamHyperparams,
  RadamScalars,
  ScaleByAdamState,
  ScaleByRadamOptions,
} from './transforms/radam.js';
export { newRadamScalars, radamScalars, scaleByRadam } from './transforms/radam.js';
export type { ScaleByLearningRateOptions, ScaleByScheduleState } from './transforms/scale.js';
export { scale, scaleByLearningRate, scaleBySchedule } from './transforms/scale.js';
export type { ArrayLeaf, Leaf, Tree } from './tree.js';
export {
  assertSameStructure,
  isContainer,
  TreeStructureError,
  treeAdd,
  treeAllFinite,
  treeL2Norm,
  treeLeafPaths,
  treeLeaves,
  treeMap,
  treeScale,
  treeSub,
  treeSumOfSquares,
  treeZerosLike,
} from './tree.js';
