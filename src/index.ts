/**
 * optax-ts: optax's composable gradient transformations for TypeScript.
 *
 * @packageDocumentation
 */

export type { AdamOptions, AdamwOptions, RadamOptions, SgdOptions } from './alias.js';
export { adam, adamw, radam, sgd } from './alias.js';
// Adam's variants (adabelief, adamax, adamaxw, amsgrad, nadam, nadamw, yogi, adan,
// optimisticAdamV2) and their transformations.
export type {
  AdabeliefOptions,
  AdamaxOptions,
  AdamaxwOptions,
  AdanOptions,
  AmsgradOptions,
  NadamOptions,
  NadamwOptions,
  OptimisticAdamV2Options,
  YogiOptions,
} from './aliases/adam-variants.js';
export {
  adabelief,
  adamax,
  adamaxw,
  adan,
  amsgrad,
  nadam,
  nadamw,
  optimisticAdamV2,
  yogi,
} from './aliases/adam-variants.js';
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
// The RMS / sign family (adagrad, rmsprop, adadelta, signSgd, signum, rprop, optimistic
// gradient descent, noisySgd, polyakSgd) and their transformations.
export type {
  AdadeltaOptions,
  AdagradOptions,
  NoisySgdOptions,
  OptimisticGradientDescentOptions,
  PolyakSgdOptions,
  RmspropOptions,
  RpropOptions,
  SignumOptions,
} from './aliases/rms.js';
export {
  adadelta,
  adagrad,
  noisySgd,
  optimisticGradientDescent,
  polyakSgd,
  rmsprop,
  rprop,
  signSgd,
  signum,
} from './aliases/rms.js';
// Combinators and wrappers (partition, namedChain, conditionally*, freeze) and schedule-free.
export type { ScheduleFreeAdamwOptions, ScheduleFreeSgdOptions } from './aliases/scheduleFree.js';
export { scheduleFreeAdamw, scheduleFreeSgd } from './aliases/scheduleFree.js';
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
export type { Primitive, PrimitiveOp } from './kernels/evaluate.js';
export type { BinaryOp, UnaryOp } from './kernels/expr.js';
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
export type { Shape } from './shape.js';
export { checkShape, shapeOf, withShapeOf } from './shape.js';
export type { ScaleByAdadeltaOptions } from './transforms/adadelta.js';
export { scaleByAdadelta } from './transforms/adadelta.js';
export type { AdamHyperparams, ScaleByAdamOptions } from './transforms/adam.js';
export { scaleByAdam } from './transforms/adam.js';
export type { ScaleByAdamaxOptions } from './transforms/adamax.js';
export { scaleByAdamax } from './transforms/adamax.js';
export type { ScaleByAdanOptions, ScaleByAdanState } from './transforms/adan.js';
export { scaleByAdan } from './transforms/adan.js';
export type { AddNoiseOptions, AddNoiseState } from './transforms/addNoise.js';
export { addNoise } from './transforms/addNoise.js';
export type { ScaleByAmsgradOptions, ScaleByAmsgradState } from './transforms/amsgrad.js';
export { scaleByAmsgrad } from './transforms/amsgrad.js';
export type { ApplyIfFiniteState } from './transforms/applyIfFinite.js';
export { applyIfFinite } from './transforms/applyIfFinite.js';
export type { ScaleByBeliefOptions, ScaleByBeliefState } from './transforms/belief.js';
export { scaleByBelief } from './transforms/belief.js';
export { centralize } from './transforms/centralize.js';
export { clip, clipByGlobalNorm } from './transforms/clipping.js';
export type { ElementwiseState } from './transforms/elementwise.js';
export type { EmaOptions } from './transforms/ema.js';
export { ema } from './transforms/ema.js';
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
export type {
  MultiStepsOptions,
  MultiStepsState,
  ShouldSkipUpdateFunction,
  SkipLargeUpdatesState,
  SkipNotFiniteState,
} from './transforms/multiSteps.js';
export { multiSteps, skipLargeUpdates, skipNotFinite } from './transforms/multiSteps.js';
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
  ScaleByOptimisticGradientOptions,
  ScaleByOptimisticGradientState,
} from './transforms/optimisticGradient.js';
export { scaleByOptimisticGradient } from './transforms/optimisticGradient.js';
export type { ScaleByPolyakOptions } from './transforms/polyak.js';
export { scaleByPolyak } from './transforms/polyak.js';
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
export type { ScaleByRmsOptions } from './transforms/rms.js';
export { scaleByRms, scaleByStddev } from './transforms/rms.js';
export type { ScaleByRpropOptions } from './transforms/rprop.js';
export { scaleByRprop } from './transforms/rprop.js';
export type { ScaleByRssOptions } from './transforms/rss.js';
export { scaleByRss } from './transforms/rss.js';
export type { ScaleByLearningRateOptions, ScaleByScheduleState } from './transforms/scale.js';
export { scale, scaleByLearningRate, scaleBySchedule } from './transforms/scale.js';
export type { ScheduleFreeOptions, ScheduleFreeState } from './transforms/scheduleFree.js';
export { scheduleFree, scheduleFreeEvalParams } from './transforms/scheduleFree.js';
export { scaleBySign } from './transforms/sign.js';
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
export type { ScaleByYogiOptions } from './transforms/yogi.js';
export { scaleByYogi } from './transforms/yogi.js';
export type { ZeroNansState } from './transforms/zeroNans.js';
export { zeroNans } from './transforms/zeroNans.js';
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
export type {
  ConditionallyMaskState,
  ConditionallyOptions,
  ConditionallyTransformState,
  ConditionFn,
} from './wrappers/conditionally.js';
export { conditionallyMask, conditionallyTransform } from './wrappers/conditionally.js';
export type { SelectiveTransformOptions } from './wrappers/freeze.js';
export { freeze, selectiveTransform, setToZero } from './wrappers/freeze.js';
export type { NamedChainState } from './wrappers/namedChain.js';
export { namedChain } from './wrappers/namedChain.js';
export type { ParamLabels, PartitionState } from './wrappers/partition.js';
export { multiTransform, partition } from './wrappers/partition.js';
