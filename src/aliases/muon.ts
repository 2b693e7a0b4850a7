/** Muon, as `optax.contrib.muon`: orthogonalized momentum for matrices, AdamW for the rest. */

import { adamw } from '../alias.js';
import type {
  GradientTransformation,
  GradientTransformationExtraArgs,
  InPlaceStep,
  ScalarOrSchedule,
} from '../base.js';
import { chain } from '../combine.js';
import { shapeOf } from '../shape.js';
import { onHost } from '../transforms/host.js';
import { type Mask, masked } from '../transforms/masked.js';
import {
  MuonDimensionNumbers,
  type MuonPreconditioning,
  NS_COEFFS_PRESETS,
  type NsCoeffs,
  scaleByMuonFor,
  scaleByShape,
  type WeightDimensionNumbers,
} from '../transforms/muon.js';
import { scaleByLearningRate } from '../transforms/scale.js';
import { addDecayedWeights } from '../transforms/weightDecay.js';
import { isContainer, treeMap } from '../tree.js';
import { checkFinite, checkOptionKeys, checkScalarOrSchedule } from '../validate.js';

/** Options of {@link muon}, with optax's defaults. */
export interface MuonOptions {
  /** A preset name (`'standard'`, `'dion'`), one triple, or one triple per step. Default `'standard'`. */
  nsCoeffs?: 'standard' | 'dion' | NsCoeffs | readonly NsCoeffs[];
  /** Newton–Schulz steps with a single triple. Default 5. */
  nsSteps?: number;
  /** Momentum decay of the matrices. Default 0.95. */
  beta?: number;
  /** Muon's and AdamW's `eps`. Default 1e-8. */
  eps?: number;
  /** Decoupled weight decay of the matrices (multiplied by the learning rate). Default 0. */
  weightDecay?: ScalarOrSchedule;
  /** Which matrices are decayed; `null` (default): all. */
  weightDecayMask?: Mask | null;
  /** Nesterov momentum, for Muon and AdamW. Default true. */
  nesterov?: boolean;
  /** Scale the matrices' updates by their dual norm. Default false. */
  adaptive?: boolean;
  /** `frobenius` (default), `spectral`, `aol` or `schatten`. */
  preconditioning?: MuonPreconditioning;
  /** AdamW's `b1` for the other leaves. Default 0.9. */
  adamB1?: number;
  /** AdamW's `b2`. Default 0.999. */
  adamB2?: number;
  /** AdamW's `epsRoot`. Default 0. */
  adamEpsRoot?: number;
  /** AdamW's weight decay. Default 0. */
  adamWeightDecay?: ScalarOrSchedule;
  /** AdamW's learning rate; `null` (default): Muon's. */
  adamLearningRate?: ScalarOrSchedule | null;
  /** `null` (default): width scaling of the matrices; a number: consistent-RMS scaling (0.2 matches AdamW). */
  consistentRms?: number | null;
  /**
   * Which leaves are Muon's and how each is seen as matrices: a {@link MuonDimensionNumbers} for
   * all, a tree of them with `null` for the AdamW leaves, or a function of the params returning
   * one. `null` (default): the 2-D leaves, as `[fanIn, fanOut]`.
   */
  muonWeightDimensionNumbers?: WeightDimensionNumbers | null;
}

/** The state of {@link muon}: optax's `PartitionState`, one `MaskedState` per group. */
export interface MuonPartitionState {
  /** The two groups' states, as optax's `MaskedState`s. */
  innerStates: {
    /** The AdamW group's (the leaves Muon does not take). */
    adam: {
      /** AdamW's state. */
      innerState: unknown;
    };
    /** The Muon group's. */
    muon: {
      /** Muon's chain's state. */
      innerState: unknown;
    };
  };
}

/**
 * True for a leaf Muon takes by default: 2-D, by a typed array's `shape` or a tensor's own (a
 * TF.js tensor or jax-js array of rank 2 goes to Muon, which refuses it with a clear error rather
 * than letting it fall silently to AdamW).
 */
function isMatrix(x: unknown): boolean {
  const own = shapeOf(x) ?? (x as { shape?: unknown } | null)?.shape;
  return Array.isArray(own) && own.length === 2;
}

class Label {
  constructor(readonly muon: boolean) {}
}

/**
 * `optax.partition` with two groups decided by the params (`muon`: the 2-D leaves, or with
 * dimension numbers the leaves that have them; `adam`: the others). The labels and the dimension
 * numbers come from the params at every update, so the gradients need no shapes. `makeMuon`
 * builds the Muon chain for a resolved tree of dimension numbers (`null`: 2-D leaves).
 */
function partitionMatrices(
  makeMuon: (dims: unknown) => GradientTransformation,
  adamTx: GradientTransformation,
  dimsOption: WeightDimensionNumbers | null,
): GradientTransformationExtraArgs<MuonPartitionState> {
  const groups = (params: unknown) => {
    let dims: unknown = null;
    let m: unknown;
    if (dimsOption === null) m = treeMap(isMatrix, params);
    else {
      dims =
        typeof dimsOption === 'function'
          ? (dimsOption as (p: unknown) => unknown)(params)
          : dimsOption;
      if (dims instanceof MuonDimensionNumbers) {
        const all = dims;
        dims = treeMap(() => all, params);
      }
      const labels = treeMap(
        (_p: unknown, d: unknown) => new Label(d !== null && d !== undefined),
        params,
        dims,
      );
      m = treeMap((l: Label) => l.muon, labels);
    }
    return {
      muon: masked(makeMuon(dims), m),
      adam: masked(
        adamTx,
        treeMap((b: boolean) => !b, m),
      ),
    };
  };
  const order = ['muon', 'adam'] as const;
  return {
    init(params) {
      const g = groups(params);
      return { innerStates: { adam: g.adam.init(params), muon: g.muon.init(params) } };
    },
    update(updates, state, params, extraArgs) {
      if (params === undefined || params === null)
        throw new TypeError(
          'muon.update: params are required (call update(updates, state, params)); their shapes say which leaves are matrices',
        );
      if (!isContainer(state) || !isContainer((state as MuonPartitionState).innerStates))
        throw new TypeError('muon.update: state must be { innerStates } as made by muon.init');
      const g = groups(params);
      const inner = { ...(state as MuonPartitionState).innerStates };
      let u = updates;
      for (const k of order) {
        let s: unknown;
        [u, s] = g[k].update(u, inner[k], params, extraArgs);
        inner[k] = s as { innerState: unknown };
      }
      return [u, { innerStates: inner }];
    },
    bindInPlace(state, params) {
      const g = groups(params);
      const steps: InPlaceStep[] = order.map((k) => {
        const tx = g[k];
        if (tx.bindInPlace === undefined) throw new TypeError('muon: a group cannot run in place');
        return tx.bindInPlace(state.innerStates[k], params);
      });
      return {
        cannotThrow: steps.every((s) => s.cannotThrow === true),
        prepare(extraArgs) {
          for (const s of steps) s.prepare(extraArgs);
        },
        run(input, output, params) {
          steps[0]!.run(input, output, params);
          steps[1]!.run(output, output, params);
        },
      };
    },
  };
}

/**
 * Muon (MomentUm Orthogonalized by Newton–Schulz), as `optax.contrib.muon`: the 2-D leaves
 * (those whose param has a 2-D `shape`, `[fanIn, fanOut]`) get `chain(scaleByMuon(...),
 * scaleByShape({ consistentRms }), addDecayedWeights(weightDecay, { mask }),
 * scaleByLearningRate(learningRate))`; every other leaf gets `adamw(adamLearningRate ??
 * learningRate, { b1: adamB1, b2: adamB2, eps, epsRoot: adamEpsRoot, weightDecay:
 * adamWeightDecay, nesterov })`. The state is optax's `PartitionState` layout, `{ innerStates: {
 * adam, muon } }`, each a `MaskedState`. `muonWeightDimensionNumbers` picks other leaves (a
 * convolution kernel, a batch of matrices); not supported: `muDtype`.
 *
 * @example
 * ```ts
 * const solver = muon(0.02);
 * const params = { w: Object.assign(new Float32Array(6), { shape: [2, 3] }), b: new Float32Array(3) };
 * const state = solver.init(params); // w: Muon, b: AdamW
 * muon(0.02, { nsCoeffs: 'dion' }); // five tuned steps
 * muon(0.02, { beta: 1 }); // RangeError: muon: beta must be in [0, 1), got 1
 * ```
 */
export function muon(
  learningRate: ScalarOrSchedule,
  options: MuonOptions = {},
): GradientTransformationExtraArgs<MuonPartitionState> {
  const fn = 'muon';
  checkOptionKeys(fn, options, [
    'nsCoeffs',
    'nsSteps',
    'beta',
    'eps',
    'weightDecay',
    'weightDecayMask',
    'nesterov',
    'adaptive',
    'preconditioning',
    'adamB1',
    'adamB2',
    'adamEpsRoot',
    'adamWeightDecay',
    'adamLearningRate',
    'consistentRms',
    'muonWeightDimensionNumbers',
  ]);
  checkScalarOrSchedule(fn, 'learningRate', learningRate);
  const adamLr = options.adamLearningRate ?? learningRate;
  checkScalarOrSchedule(fn, 'adamLearningRate', adamLr);
  let coeffs = options.nsCoeffs ?? 'standard';
  if (typeof coeffs === 'string') {
    if (coeffs !== 'standard' && coeffs !== 'dion')
      throw new TypeError(
        `${fn}: nsCoeffs must be 'standard', 'dion', a triple or a list of triples, got ${JSON.stringify(coeffs)}`,
      );
    coeffs = NS_COEFFS_PRESETS[coeffs] as NsCoeffs | NsCoeffs[];
  }
  const eps = options.eps ?? 1e-8;
  checkFinite(fn, 'eps', eps);
  const nesterov = options.nesterov ?? true;
  const weightDecayMask = options.weightDecayMask ?? null;
  const dimsOption =
    options.muonWeightDimensionNumbers === undefined ? null : options.muonWeightDimensionNumbers;
  const muonOptions = {
    nsCoeffs: coeffs,
    nsSteps: options.nsSteps ?? 5,
    beta: options.beta ?? 0.95,
    eps,
    nesterov,
    adaptive: options.adaptive ?? false,
    preconditioning: options.preconditioning ?? 'frobenius',
  };
  const makeMuon = (dims: unknown) =>
    chain(
      scaleByMuonFor(fn, { ...muonOptions, weightDimensionNumbers: dims }),
      scaleByShape({ consistentRms: options.consistentRms ?? null, weightDimensionNumbers: dims }),
      addDecayedWeights(
        options.weightDecay ?? 0,
        weightDecayMask === null ? {} : { mask: weightDecayMask },
      ),
      scaleByLearningRate(learningRate),
    );
  // Checks the options now (the chain is rebuilt per params with their dimension numbers).
  makeMuon(null);
  const adamTx = adamw(adamLr, {
    b1: options.adamB1 ?? 0.9,
    b2: options.adamB2 ?? 0.999,
    eps,
    epsRoot: options.adamEpsRoot ?? 0,
    weightDecay: options.adamWeightDecay ?? 0,
    nesterov,
  });
  return onHost(fn, partitionMatrices(makeMuon, adamTx, dimsOption));
}
