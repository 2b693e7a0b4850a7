/**
 * optax-ts: optax's composable gradient transformations for TypeScript.
 *
 * @packageDocumentation
 */

export type { AdamOptions, AdamwOptions, RadamOptions, SgdOptions } from './alias.js';
export { adam, adamw, radam, sgd } from './alias.js';
export { decayedAlias } from './aliases/common.js';
export type { LionOptions } from './aliases/lion.js';
export { lion } from './aliases/lion.js';
export type {
  AdafactorOptions,
  FromageOptions,
  LambOptions,
  LarsOptions,
  NovogradOptions,
  Sm3Options,
} from './aliases/matrix.js';
export { adafactor, fromage, lamb, lars, novograd, sm3 } from './aliases/matrix.js';
export type { MuonOptions, MuonPartitionState } from './aliases/muon.js';
export { muon } from './aliases/muon.js';
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
export { CheckpointError } from './checkpoint/safetensors.js';
export type { DeserializeOptions, SerializeOptions } from './checkpoint/state.js';
export {
  checkpointMetadata,
  deserializeState,
  deserializeStateInto,
  serializeState,
} from './checkpoint/state.js';
export type { ChainState } from './combine.js';
export { chain } from './combine.js';
export { contrib } from './contrib.js';
export type { KernelKind } from './inplace/engines.js';
export type { OptimizerOptions } from './inplace/optimizer.js';
export { Optimizer, WASM_STAGING_THRESHOLD } from './inplace/optimizer.js';
export { KernelThreadError } from './kernels/threads.js';
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
export * from './schedules.js';
// --- Matrix part (#15): leaf shapes, and the optimizers that are not elementwise. ---
export type { Shape } from './shape.js';
export { checkShape, shapeOf, withShapeOf } from './shape.js';
export type { AdamHyperparams, ScaleByAdamOptions } from './transforms/adam.js';
export { scaleByAdam } from './transforms/adam.js';
export type { ApplyIfFiniteState } from './transforms/applyIfFinite.js';
export { applyIfFinite } from './transforms/applyIfFinite.js';
export { centralize } from './transforms/centralize.js';
export { clip, clipByGlobalNorm } from './transforms/clipping.js';
export type {
  ElementwiseArray,
  ElementwiseSpec,
  ElementwiseState,
  SetScalar,
} from './transforms/elementwise.js';
export { elementwise } from './transforms/elementwise.js';
export type { FactoredState, ScaleByFactoredRmsOptions } from './transforms/factoredRms.js';
export {
  clipByBlockRms,
  factoredDims,
  scaleByFactoredRms,
  scaleByParamBlockRms,
} from './transforms/factoredRms.js';
export type {
  InjectedArgs,
  InjectHyperparamsOptions,
  InjectHyperparamsState,
} from './transforms/injectHyperparams.js';
export { injectHyperparams } from './transforms/injectHyperparams.js';
export type { ScaleByLionOptions } from './transforms/lion.js';
export { scaleByLion } from './transforms/lion.js';
export type {
  LookaheadOptions,
  LookaheadParams,
  LookaheadState,
} from './transforms/lookahead.js';
export { lookahead, lookaheadParams } from './transforms/lookahead.js';
export type { Mask, MaskedState } from './transforms/masked.js';
export { masked } from './transforms/masked.js';
export type { MultiStepsOptions, MultiStepsState } from './transforms/multiSteps.js';
export { multiSteps } from './transforms/multiSteps.js';
export type {
  MuonPreconditioning,
  MuonState,
  NsCoeffs,
  ScaleByMuonOptions,
  ScaleByShapeOptions,
  WeightDimensionNumbers,
} from './transforms/muon.js';
export {
  MuonDimensionNumbers,
  NS_COEFFS_PRESETS,
  scaleByMuon,
  scaleByShape,
} from './transforms/muon.js';
export type { ScaleByNovogradOptions, ScaleByNovogradState } from './transforms/novograd.js';
export { scaleByNovograd } from './transforms/novograd.js';
export type {
  RadamHyperparams,
  RadamScalars,
  ScaleByAdamState,
  ScaleByRadamOptions,
} from './transforms/radam.js';
export {
  newRadamScalars,
  radamHyperparams,
  radamScalars,
  scaleByRadam,
} from './transforms/radam.js';
export type { ScaleByLearningRateOptions, ScaleByScheduleState } from './transforms/scale.js';
export { scale, scaleByLearningRate, scaleBySchedule } from './transforms/scale.js';
export type { SlowParamsState } from './transforms/slowParamsInState.js';
export { slowParamsInState } from './transforms/slowParamsInState.js';
export type { ScaleBySm3Options, ScaleBySm3State } from './transforms/sm3.js';
export { scaleBySm3 } from './transforms/sm3.js';
export type { TraceOptions, TraceState } from './transforms/trace.js';
export { trace } from './transforms/trace.js';
export type { ScaleByTrustRatioOptions } from './transforms/trustRatio.js';
export { scaleByTrustRatio } from './transforms/trustRatio.js';
export type {
  AddDecayedWeightsOptions,
  AddDecayedWeightsState,
} from './transforms/weightDecay.js';
export { addDecayedWeights } from './transforms/weightDecay.js';
export type { ArrayLeaf, Leaf, Tree, TreeDef } from './tree.js';
export {
  assertSameStructure,
  isContainer,
  MAX_TREE_DEPTH,
  TreeStructureError,
  treeAdd,
  treeAllFinite,
  treeFlatten,
  treeL2Norm,
  treeLeafPaths,
  treeLeaves,
  treeMap,
  treeScale,
  treeSub,
  treeSumOfSquares,
  treeZerosLike,
} from './tree.js';
export { VERSION } from './version.js';
