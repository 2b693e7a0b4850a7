/**
 * The state of a {@link TransformationOptimizer} as TF.js optimizer weights (`getWeights`,
 * `setWeights`, `model.save(..., { includeOptimizer: true })`), exactly: every leaf of every
 * transformation's state has an encoding that reads back to the same bits.
 *
 * Weights: `iter` (TF.js's step count), `optax/variables` (a string tensor of the variable names
 * the state covers, in order) and one `optax/state<path>` tensor per state leaf:
 * - a tensor leaf (moments, accumulated gradients, lookahead's slow params) → a copy, same dtype;
 * - a `Float32Array` leaf (the cpu in-place mode's state) → a float32 tensor;
 * - a number that is an int32 (step counts) → an int32 scalar;
 * - any other number (a hyperparameter of `injectHyperparams`) → a string scalar holding its exact
 *   decimal form (`'0.1'`, `'-0'`, `'NaN'`), since a float32 tensor would round it;
 * - a boolean (`applyIfFinite`'s `lastFinite`) → a bool scalar.
 *
 * Reading checks each weight against the state's template (dtype and size) and builds nothing
 * until the whole list has been read, so a bad list leaks no tensor.
 */
import * as tf from '@tensorflow/tfjs-core';
import { treeLeafPaths, treeLeaves } from '../tree.js';
import { describeValue } from '../validate.js';

/** A named tensor, as TF.js optimizers' weights (`tf.NamedTensor`, not re-exported by tfjs-core). */
export interface NamedTensor {
  /** The variable's or weight's name. */
  name: string;
  /** Its value. */
  tensor: tf.Tensor;
}

/** Name of the weight that lists the variables the state covers, in order. */
export const VARIABLES_WEIGHT = 'optax/variables';
/** Prefix of the weights holding the state's leaves; the rest of the name is the leaf's path. */
export const STATE_PREFIX = 'optax/state';

const INT32_MIN = -2_147_483_648;
const INT32_MAX = 2_147_483_647;

/** One state weight read back: its dtype, shape and values (copied out of the tensor). */
export interface SavedLeaf {
  dtype: tf.DataType;
  shape: number[];
  values: Float32Array | Int32Array | Uint8Array | string[];
}

/** What `setWeights` read: the iteration count, the variable names and the state leaves by name. */
export interface SavedWeights {
  iterations: number;
  keys: string[];
  leaves: Map<string, SavedLeaf>;
}

/** The exact decimal text of a number (`String` loses the sign of -0). */
function exactText(x: number): string {
  return Object.is(x, -0) ? '-0' : String(x);
}

/**
 * The tensor for one state leaf; throws a `TypeError` naming the path for a leaf that has no
 * encoding.
 *
 * @example
 * ```ts
 * encodeLeaf('getWeights', '.count', 3).dtype; // 'int32'
 * encodeLeaf('getWeights', '.hyperparams.lr', 0.1).dataSync()[0]; // '0.1'
 * ```
 */
export function encodeLeaf(fn: string, path: string, x: unknown): tf.Tensor {
  if (x instanceof tf.Tensor) return tf.clone(x);
  if (typeof x === 'boolean') return tf.scalar(x, 'bool');
  if (typeof x === 'number')
    return Number.isInteger(x) && x >= INT32_MIN && x <= INT32_MAX && !Object.is(x, -0)
      ? tf.scalar(x, 'int32')
      : tf.scalar(exactText(x), 'string');
  if (x instanceof Float32Array) return tf.tensor1d(x, 'float32');
  throw new TypeError(
    `${fn}: state leaf ${path || '(the root)'} is ${describeValue(x)}; a TF.js optimizer's state leaf must be a tensor, a Float32Array, a number or a boolean`,
  );
}

/**
 * The weights of a state: one tensor per leaf, named `optax/state` + its path, after `iter` and
 * `optax/variables`. All or nothing: if a leaf cannot be encoded, the tensors made so far are
 * disposed before the error is thrown.
 *
 * @example
 * ```ts
 * const weights = stateWeights('getWeights', 2, ['w'], [{ count: 2 }, {}]);
 * weights.map((w) => w.name); // ['iter', 'optax/variables', 'optax/state[0].count']
 * ```
 */
export function stateWeights(
  fn: string,
  iterations: number,
  keys: readonly string[],
  state: unknown,
): NamedTensor[] {
  const out: NamedTensor[] = [];
  try {
    out.push({ name: 'iter', tensor: tf.scalar(iterations, 'int32') });
    out.push({
      name: VARIABLES_WEIGHT,
      tensor: tf.tensor(keys as string[], [keys.length], 'string'),
    });
    if (state !== undefined) {
      const paths = treeLeafPaths(state);
      treeLeaves<unknown>(state).forEach((x, i) => {
        out.push({ name: STATE_PREFIX + paths[i], tensor: encodeLeaf(fn, paths[i]!, x) });
      });
    }
  } catch (err) {
    for (const w of out) w.tensor.dispose();
    throw err;
  }
  return out;
}

/**
 * The weights of pending (read but not yet applied) saved weights, as `getWeights` returns them.
 *
 * @example
 * ```ts
 * const saved = { iterations: 1, keys: ['w'], leaves: new Map() };
 * pendingWeights(saved).length; // 2
 * ```
 */
export function pendingWeights(saved: SavedWeights): NamedTensor[] {
  const out: NamedTensor[] = [];
  try {
    out.push({ name: 'iter', tensor: tf.scalar(saved.iterations, 'int32') });
    out.push({
      name: VARIABLES_WEIGHT,
      tensor: tf.tensor(saved.keys, [saved.keys.length], 'string'),
    });
    for (const [name, leaf] of saved.leaves)
      out.push({ name, tensor: tf.tensor(leaf.values as never, leaf.shape, leaf.dtype) });
  } catch (err) {
    for (const w of out) w.tensor.dispose();
    throw err;
  }
  return out;
}

/**
 * Reads and checks the list given to `setWeights` (the tensors stay the caller's: their values are
 * copied). Throws a `TypeError` naming the weight for anything `getWeights` would not make.
 *
 * @example
 * ```ts
 * const saved = await readWeights('setWeights', stateWeights('getWeights', 1, ['w'], { count: 1 }));
 * saved.leaves.get('optax/state.count').values[0]; // 1
 * ```
 */
export async function readWeights(fn: string, weightValues: unknown): Promise<SavedWeights> {
  if (!Array.isArray(weightValues))
    throw new TypeError(
      `${fn}: expected the list of { name, tensor } made by getWeights, got ${describeValue(weightValues)}`,
    );
  let iterations: number | undefined;
  let keys: string[] | undefined;
  const leaves = new Map<string, SavedLeaf>();
  for (let i = 0; i < weightValues.length; i++) {
    const w = weightValues[i] as Partial<NamedTensor> | null;
    if (
      w === null ||
      typeof w !== 'object' ||
      typeof w.name !== 'string' ||
      !(w.tensor instanceof tf.Tensor) ||
      w.tensor.isDisposed
    )
      throw new TypeError(
        `${fn}: weight ${i} must be { name, tensor } with a live tf.Tensor, got ${describeValue(w)}`,
      );
    const { name, tensor } = w;
    if (name === 'iter') {
      const v = Number((await tensor.data())[0]);
      if (tensor.size !== 1 || !Number.isInteger(v) || v < 0)
        throw new TypeError(`${fn}: iter must be a non-negative integer scalar, got ${v}`);
      iterations = v;
    } else if (name === VARIABLES_WEIGHT) {
      if (tensor.dtype !== 'string' || tensor.rank !== 1)
        throw new TypeError(
          `${fn}: ${VARIABLES_WEIGHT} must be a 1-d string tensor of variable names, got ${tensor.dtype} of shape [${tensor.shape}]`,
        );
      keys = [...((await tensor.data()) as unknown as string[])];
      if (new Set(keys).size !== keys.length)
        throw new TypeError(
          `${fn}: ${VARIABLES_WEIGHT} names a variable twice: [${keys.join(', ')}]`,
        );
    } else if (name.startsWith(STATE_PREFIX)) {
      if (leaves.has(name)) throw new TypeError(`${fn}: two weights named ${JSON.stringify(name)}`);
      const data = await tensor.data();
      const values =
        tensor.dtype === 'string'
          ? [...(data as unknown as string[])]
          : tensor.dtype === 'int32'
            ? Int32Array.from(data as Int32Array)
            : tensor.dtype === 'bool'
              ? Uint8Array.from(data as Uint8Array)
              : Float32Array.from(data as Float32Array);
      leaves.set(name, { dtype: tensor.dtype, shape: [...tensor.shape], values });
    } else
      throw new TypeError(
        `${fn}: unexpected weight ${JSON.stringify(name)}; expected iter, ${VARIABLES_WEIGHT} and ${STATE_PREFIX}… weights made by getWeights`,
      );
  }
  if (keys === undefined)
    throw new TypeError(
      `${fn}: no ${JSON.stringify(VARIABLES_WEIGHT)} weight; expected the list made by TransformationOptimizer.getWeights`,
    );
  return { iterations: iterations ?? 0, keys, leaves };
}

/**
 * The state leaf for a saved weight, shaped like `template` (the leaf `init` makes for the current
 * variables): a tensor of the template's shape and dtype, or a number or boolean. Throws a
 * `TypeError` naming the weight when the dtype or size does not fit; creates a tensor only on
 * success.
 *
 * @example
 * ```ts
 * decodeLeaf('setWeights', 'optax/state.count', { dtype: 'int32', shape: [], values: Int32Array.of(4) }, 0); // 4
 * ```
 */
export function decodeLeaf(fn: string, name: string, saved: SavedLeaf, template: unknown): unknown {
  const size = saved.values.length;
  const fail = (expected: string) =>
    new TypeError(
      `${fn}: weight ${JSON.stringify(name)} is ${saved.dtype} with ${size} element${size === 1 ? '' : 's'}; the state leaf for the current variables is ${expected}`,
    );
  if (template instanceof tf.Tensor) {
    if (size !== template.size || saved.dtype !== template.dtype)
      throw fail(`${template.dtype} with ${template.size} elements (shape [${template.shape}])`);
    return tf.tensor(saved.values as never, template.shape, template.dtype);
  }
  if (typeof template === 'boolean') {
    if (size !== 1 || saved.dtype !== 'bool') throw fail('a boolean (a bool scalar)');
    return saved.values[0] === 1;
  }
  if (typeof template === 'number') {
    if (size !== 1 || !['int32', 'float32', 'string'].includes(saved.dtype))
      throw fail('a number (an int32 or string scalar)');
    const text = saved.values[0];
    const v = text === '-0' ? -0 : Number(text);
    if (saved.dtype === 'string' && exactText(v) !== text)
      throw fail('a number (an int32 scalar, or a string scalar holding a number exactly)');
    return v;
  }
  throw new TypeError(
    `${fn}: the state leaf for weight ${JSON.stringify(name)} is ${describeValue(template)}; expected a tensor, a number or a boolean`,
  );
}
