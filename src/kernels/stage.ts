/**
 * The shape of a *stage*: one fusable transformation's per-element math, in the expression form of
 * `expr.ts` (see `stages.ts`, which collects them, and `defs/`, where the catalogue's live).
 */
import type { Expr } from './expr.js';

/** What a stage's math reads: the incoming update, the parameter, its arrays and scalars. */
export interface StageInputs {
  /** The incoming update (`undefined` for `load`, which starts the chain). */
  readonly u: Expr;
  /** The parameter's current value. */
  readonly p: Expr;
  /** The current element of one of the stage's own arrays. */
  elem(name: string): Expr;
  /** A per-step scalar of the stage. */
  scalar(name: string): Expr;
}

/** What a stage's math produces. */
export interface StageOutputs {
  /** The outgoing update (default: the incoming one). */
  readonly u?: Expr;
  /** New values of the stage's arrays (written in place; an array not named here is only read). */
  readonly set?: Readonly<Record<string, Expr>>;
  /** The parameter's new value (only `apply`). */
  readonly p?: Expr;
}

/** One stage: its arrays (state, in kernel argument order), scalars and per-element math. */
export interface StageDef {
  readonly arrays: readonly string[];
  readonly scalars: readonly string[];
  /** Whether its math reads the parameter. */
  readonly readsParams?: boolean;
  readonly math: (x: StageInputs) => StageOutputs;
}
