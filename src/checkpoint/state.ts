/**
 * Optimizer state trees as named tensors of a safetensors file (`./safetensors.ts`), and back.
 *
 * How a state tree is stored:
 * - each leaf is one tensor named by its tree path, prefixed with `state`: `state[0].count`,
 *   `state[0].mu.w`, `state[0].mu["odd key"][2]` (the paths of error messages);
 * - `Float32Array` → `F32`, `Float64Array` → `F64` (and the integer typed arrays → `I32`, `U8`, ...),
 *   each with shape `[length]`, or the leaf's own `shape` when a float array carries one (the
 *   restored array gets the template leaf's shape: the template decides; see `src/shape.ts`);
 * - a number (a step count, a hyperparameter) → a 0-d tensor (shape `[]`): `I64` when it is a safe
 *   integer (so Python sees `count` as an integer), else `F64`; both hold every JavaScript number
 *   exactly (`-0`, NaN and ±Infinity are `F64`);
 * - a boolean → a 0-d `BOOL` tensor (one byte, 0 or 1);
 * - `null`, `[]` and `{}` have no tensor; the tree's shape is recorded in the metadata.
 *
 * Metadata keys written by the library (user keys may not start with `optax_ts.`):
 * `optax_ts.version` (the library version), `optax_ts.format` (`2`), `optax_ts.treedef` (the tree
 * with every leaf written as `0`, as JSON) and `optax_ts.crc32` (the whole-file CRC-32, see
 * `./safetensors.ts`).
 *
 * Tensors are laid out in a canonical order: by decreasing element size (8-byte types first), then
 * in tree order, so each tensor is aligned to its element size and readers can map it without
 * copying. The reader derives that layout from the template and requires the file's offsets to
 * equal it, so the header's meaning is checked independently of the checksum: a file whose
 * offsets, dtypes, shapes or names were edited is refused even when its checksum was recomputed
 * or removed.
 */
import { checkShape, shapeOf } from '../shape.js';
import { isContainer, joinPath, MAX_STATE_DEPTH, TreeStructureError, treeSlots } from '../tree.js';
import { VERSION } from '../version.js';
import {
  CHECKSUM_KEY,
  CheckpointError,
  DTYPE_SIZE,
  decodeSafetensors,
  encodeSafetensors,
  type InTensor,
  type OutTensor,
  type ParsedSafetensors,
  parseStrictJson,
  setOwn,
} from './safetensors.js';

/** Options of {@link serializeState}. */
export interface SerializeOptions {
  /** Extra string metadata stored in the header's `__metadata__` (keys must not start with `optax_ts.`). */
  metadata?: Readonly<Record<string, string>>;
}

/** Options of {@link deserializeState} and {@link deserializeStateInto}. */
export interface DeserializeOptions {
  /**
   * `true` (the default): refuse a file without the whole-file CRC-32 (`optax_ts.crc32`), which
   * every file `serializeState` writes has. `false`: also read files written by other tools (or
   * by optax-ts before format 2); they are still validated structurally (names, dtypes, shapes,
   * offsets, integer counts), but a changed data byte cannot be detected.
   */
  requireChecksum?: boolean;
}

/** The checkpoint format version this module writes; 1 had a checksum of the data only. */
const FORMAT = '2';
const ROOT = 'state';
const RESERVED = 'optax_ts.';
const KEY_VERSION = 'optax_ts.version';
const KEY_FORMAT = 'optax_ts.format';
const KEY_TREEDEF = 'optax_ts.treedef';
const LIBRARY_KEYS = [KEY_VERSION, KEY_FORMAT, KEY_TREEDEF, CHECKSUM_KEY];
const INT32_MAX = 2_147_483_647;

/**
 * Keys of the step counters in the library's states (`count` of `scaleByRadam`, `scaleBySchedule`
 * and `injectHyperparams`, `multiSteps`' `miniStep` and `gradientStep`, `applyIfFinite`'s
 * counters, `lookahead`'s `stepsSinceSync`). A number leaf under one of these keys (outside
 * `hyperparams`) must be stored as an integer in [0, 2^31 - 1].
 */
const COUNTER_KEYS = new Set([
  'count',
  'miniStep',
  'gradientStep',
  'notfiniteCount',
  'totalNotfinite',
  'stepsSinceSync',
]);

type TypedArrayCtor =
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | Int8ArrayConstructor
  | Uint8ArrayConstructor
  | Int16ArrayConstructor
  | Uint16ArrayConstructor
  | Int32ArrayConstructor
  | Uint32ArrayConstructor
  | BigInt64ArrayConstructor
  | BigUint64ArrayConstructor;

type AnyTypedArray = InstanceType<TypedArrayCtor>;

/** The typed arrays a state leaf may be, with their safetensors dtype. */
const ARRAY_DTYPES: readonly (readonly [TypedArrayCtor, string])[] = [
  [Float32Array, 'F32'],
  [Float64Array, 'F64'],
  [Int8Array, 'I8'],
  [Uint8Array, 'U8'],
  [Int16Array, 'I16'],
  [Uint16Array, 'U16'],
  [Int32Array, 'I32'],
  [Uint32Array, 'U32'],
  [BigInt64Array, 'I64'],
  [BigUint64Array, 'U64'],
];

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * The constructor and dtype of a typed array leaf, also for arrays made in another realm (a `vm`
 * context, an iframe), whose constructors are not this realm's.
 */
function arrayDtype(x: unknown): readonly [TypedArrayCtor, string] | undefined {
  if (!ArrayBuffer.isView(x) || x instanceof DataView) return undefined;
  const tag = Object.prototype.toString.call(x).slice(8, -1);
  const proto = Object.getPrototypeOf(x);
  // The exact class: a Uint8ClampedArray or a subclass is not one of these dtypes.
  if (proto?.constructor?.name !== tag) return undefined;
  return ARRAY_DTYPES.find(([ctor]) => ctor.name === tag);
}

function describe(x: unknown): string {
  if (x === undefined) return 'undefined';
  if (typeof x === 'string') return `string ${JSON.stringify(x)}`;
  if (typeof x === 'bigint') return `bigint ${x}`;
  if (typeof x === 'function') return 'a function';
  if (typeof x === 'symbol') return String(x);
  if (ArrayBuffer.isView(x)) return Object.prototype.toString.call(x).slice(8, -1);
  if (typeof x === 'object' && x !== null) return (x as object).constructor?.name ?? 'object';
  return `${typeof x} ${String(x)}`;
}

// ---------------------------------------------------------------------------------------------
// Writing.

/** The little-endian bytes of a typed array (a view when the platform is little-endian). */
function leBytes(x: AnyTypedArray): Uint8Array {
  const view = new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  if (LITTLE_ENDIAN || x.BYTES_PER_ELEMENT === 1) return view;
  const out = new Uint8Array(x.byteLength);
  const k = x.BYTES_PER_ELEMENT;
  for (let i = 0; i < x.byteLength; i += k)
    for (let j = 0; j < k; j++) out[i + j] = view[i + k - 1 - j]!;
  return out;
}

function numberTensor(name: string, x: number): OutTensor {
  const bytes = new Uint8Array(8);
  const view = new DataView(bytes.buffer);
  if (Number.isSafeInteger(x) && !Object.is(x, -0)) {
    view.setBigInt64(0, BigInt(x), true);
    return { name, dtype: 'I64', shape: [], bytes };
  }
  view.setFloat64(0, x, true);
  return { name, dtype: 'F64', shape: [], bytes };
}

/** Collects the tensors of `node` and returns its treedef (leaves as 0). */
function collect(node: unknown, path: string, out: OutTensor[], seen: Set<unknown>): unknown {
  const name = `${ROOT}${path}`;
  if (node === null) return null;
  if (isContainer(node)) {
    if (seen.has(node))
      throw new CheckpointError(
        `serializeState: ${name} is a container that contains itself; a state must be a tree`,
      );
    seen.add(node);
    let def: unknown;
    if (Array.isArray(node)) {
      def = node.map((child, i) => collect(child, joinPath(path, i), out, seen));
    } else {
      const obj = node as Record<string, unknown>;
      const d: Record<string, unknown> = {};
      for (const k of Object.keys(obj).sort())
        setOwn(d, k, collect(obj[k], joinPath(path, k), out, seen));
      def = d;
    }
    seen.delete(node);
    return def;
  }
  if (typeof node === 'number') out.push(numberTensor(name, node));
  else if (typeof node === 'boolean')
    out.push({ name, dtype: 'BOOL', shape: [], bytes: Uint8Array.of(node ? 1 : 0) });
  else {
    const kind = arrayDtype(node);
    if (!kind)
      throw new CheckpointError(
        `serializeState: ${name} is ${describe(node)}; a state leaf must be a number, a boolean, a Float32Array, a Float64Array or an integer typed array (or null)`,
      );
    const x = node as AnyTypedArray;
    checkShape(x, `serializeState: ${name}`);
    const shape = shapeOf(x);
    out.push({ name, dtype: kind[1], shape: shape ? [...shape] : [x.length], bytes: leBytes(x) });
  }
  return 0;
}

/** Largest elements first, tree order within a size (a stable sort): the canonical layout. */
function canonicalOrder<T extends { dtype: string }>(tensors: T[]): T[] {
  return tensors.sort((a, b) => DTYPE_SIZE[b.dtype]! - DTYPE_SIZE[a.dtype]!);
}

/**
 * Refuses a cyclic state or one deeper than a state can be ({@link MAX_STATE_DEPTH}) with a
 * `CheckpointError`, before any walk.
 */
function refuseUnwalkable(fn: string, state: unknown): void {
  try {
    treeSlots(state, 'state', MAX_STATE_DEPTH);
  } catch (err) {
    if (err instanceof TreeStructureError) throw new CheckpointError(`${fn}: ${err.message}`);
    throw err;
  }
}

/**
 * Serializes an optimizer state (any tree of numbers, booleans, typed arrays and `null`, as made
 * by `tx.init` and `tx.update`) to safetensors bytes. The state is not modified. See the module
 * documentation for how each leaf is stored.
 *
 * @example
 * ```ts
 * const tx = radam(1e-3);
 * const state = tx.init({ w: new Float32Array(3) });
 * const bytes = serializeState(state, { metadata: { step: '0' } });
 * const again = deserializeState(bytes, tx.init({ w: new Float32Array(3) }));
 * again; // [{ count: 0, mu: { w: Float32Array [0, 0, 0] }, nu: { w: Float32Array [0, 0, 0] } }, {}]
 * ```
 */
export function serializeState(state: unknown, options: SerializeOptions = {}): Uint8Array {
  const fn = 'serializeState';
  refuseUnwalkable(fn, state);
  if (options === null || typeof options !== 'object' || Array.isArray(options))
    throw new TypeError(`${fn}: options must be an object, got ${describe(options)}`);
  for (const key of Object.keys(options))
    if (key !== 'metadata')
      throw new TypeError(`${fn}: unknown option ${JSON.stringify(key)}; expected metadata`);
  const userMetadata = options.metadata ?? {};
  if (userMetadata === null || typeof userMetadata !== 'object' || Array.isArray(userMetadata))
    throw new TypeError(
      `${fn}: metadata must be an object of strings, got ${describe(userMetadata)}`,
    );
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(userMetadata)) {
    if (typeof v !== 'string')
      throw new TypeError(
        `${fn}: metadata[${JSON.stringify(k)}] must be a string (safetensors metadata is a map of strings), got ${describe(v)}`,
      );
    if (k.startsWith(RESERVED))
      throw new RangeError(
        `${fn}: metadata key ${JSON.stringify(k)} is reserved (keys starting with "${RESERVED}" are written by the library)`,
      );
    setOwn(metadata, k, v);
  }
  const tensors: OutTensor[] = [];
  const treedef = collect(state, '', tensors, new Set());
  metadata[KEY_VERSION] = VERSION;
  metadata[KEY_FORMAT] = FORMAT;
  metadata[KEY_TREEDEF] = JSON.stringify(treedef);
  return encodeWith(fn, canonicalOrder(tensors), metadata);
}

function encodeWith(fn: string, tensors: OutTensor[], metadata: Record<string, string>) {
  try {
    return encodeSafetensors(tensors, metadata);
  } catch (e) {
    if (e instanceof CheckpointError) throw new CheckpointError(`${fn}: ${e.message}`);
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// Reading: what the template expects.

/** One leaf the template expects, with what the checkpoint must hold for it. */
interface Expected {
  name: string;
  kind: 'number' | 'counter' | 'boolean' | 'array';
  /** The dtypes accepted (the file's decides the canonical layout among them). */
  accepts: readonly string[];
  ctor?: TypedArrayCtor;
  length: number;
  /** The template array's own shape, when it has one. */
  shape?: readonly number[];
  /** For messages: `F32 with 3 elements`, `a number (...)`. */
  text: string;
}

/** The template's leaves in tree order, each checked to be a leaf a state can hold. */
function expectedLeaves(
  fn: string,
  template: unknown,
  numberDtypes: readonly string[],
): Expected[] {
  const out: Expected[] = [];
  const visit = (node: unknown, path: string, key: string | undefined, inHyper: boolean) => {
    const name = `${ROOT}${path}`;
    if (node === null) return;
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) visit(node[i], joinPath(path, i), undefined, inHyper);
      return;
    }
    if (isContainer(node)) {
      const obj = node as Record<string, unknown>;
      for (const k of Object.keys(obj).sort())
        visit(obj[k], joinPath(path, k), k, inHyper || k === 'hyperparams');
      return;
    }
    if (typeof node === 'number') {
      const counter = key !== undefined && COUNTER_KEYS.has(key) && !inHyper;
      out.push(
        counter
          ? {
              name,
              kind: 'counter',
              accepts: numberDtypes.filter((d) => d !== 'F64'),
              length: 1,
              text: 'a step count (a 0-d I64 tensor, an integer in [0, 2147483647])',
            }
          : {
              name,
              kind: 'number',
              accepts: numberDtypes,
              length: 1,
              text: `a number (a 0-d ${numberDtypes.join(' or ')} tensor)`,
            },
      );
      return;
    }
    if (typeof node === 'boolean') {
      out.push({
        name,
        kind: 'boolean',
        accepts: ['BOOL'],
        length: 1,
        text: 'a boolean (a 0-d BOOL tensor)',
      });
      return;
    }
    const kind = arrayDtype(node);
    if (!kind)
      throw new CheckpointError(
        `${fn}: the template's leaf ${name} is ${describe(node)}; expected a number, a boolean, a typed array or null (pass tx.init(params))`,
      );
    const length = (node as AnyTypedArray).length;
    checkShape(node, `${fn}: the template's leaf ${name}`);
    const shape = shapeOf(node);
    out.push({
      name,
      kind: 'array',
      accepts: [kind[1]],
      ctor: kind[0],
      length,
      ...(shape ? { shape } : {}),
      text: `${kind[1]} with ${length} elements${shape ? ` (shape ${shapeText(shape)})` : ''}`,
    });
  };
  visit(template, '', undefined, false);
  return out;
}

function nodeKind(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return `a list of length ${x.length}`;
  if (isContainer(x)) return `an object with keys [${Object.keys(x).sort().join(', ')}]`;
  if (x === 0) return 'a leaf';
  return JSON.stringify(x) ?? String(x);
}

/** Compares the template's structure with the recorded treedef; throws at the first difference. */
function checkTreedef(fn: string, template: unknown, def: unknown, path: string): void {
  const name = `${ROOT}${path}`;
  const fail = (expected: string) =>
    new CheckpointError(
      `${fn}: ${name}: the template has ${expected}, the checkpoint has ${nodeKind(def)}`,
    );
  if (template === null) {
    if (def !== null) throw fail('null');
    return;
  }
  if (Array.isArray(template)) {
    if (!Array.isArray(def) || def.length !== template.length)
      throw fail(`a list of length ${template.length}`);
    for (let i = 0; i < template.length; i++)
      checkTreedef(fn, template[i], def[i], joinPath(path, i));
    return;
  }
  if (isContainer(template)) {
    const keys = Object.keys(template).sort();
    if (!isContainer(def) || Array.isArray(def)) throw fail(nodeKind(template));
    const defKeys = Object.keys(def).sort();
    const missing = keys.filter((k) => !Object.hasOwn(def, k));
    const extra = defKeys.filter((k) => !Object.hasOwn(template, k));
    if (missing.length > 0 || extra.length > 0)
      throw new CheckpointError(
        `${fn}: ${name}: the template has keys [${keys.join(', ')}], the checkpoint has [${defKeys.join(', ')}]${
          missing.length > 0 ? `: no ${missing.map((k) => JSON.stringify(k)).join(', ')}` : ''
        }${extra.length > 0 ? `${missing.length > 0 ? ' and' : ':'} extra ${extra.map((k) => JSON.stringify(k)).join(', ')}` : ''}`,
      );
    for (const k of keys)
      checkTreedef(
        fn,
        (template as Record<string, unknown>)[k],
        (def as Record<string, unknown>)[k],
        joinPath(path, k),
      );
    return;
  }
  if (def !== 0) throw fail('a leaf');
}

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** Checks one tensor against what the template expects (dtype and shape). */
function checkTensor(fn: string, e: Expected, t: InTensor): void {
  if (!e.accepts.includes(t.dtype))
    throw new CheckpointError(
      `${fn}: ${e.name}: expected ${e.text}, the checkpoint has dtype ${t.dtype} (shape ${shapeText(t.shape)})`,
    );
  if (e.kind === 'array') {
    const found = t.shape.reduce((a, b) => a * b, 1);
    // A template with a shape takes that shape or the plain [length]; one without takes any
    // shape of its length but 0-d.
    const same = e.shape !== undefined && shapeText(e.shape) === shapeText(t.shape);
    if (e.shape !== undefined && !same && !(t.shape.length === 1 && found === e.length))
      throw new CheckpointError(
        `${fn}: ${e.name}: expected ${e.text}, the checkpoint has shape ${shapeText(t.shape)}`,
      );
    if ((t.shape.length === 0 && !same) || found !== e.length)
      throw new CheckpointError(
        `${fn}: ${e.name}: expected ${e.text}, the checkpoint has shape ${shapeText(t.shape)} (${found} element${found === 1 ? '' : 's'}${t.shape.length === 0 ? ', 0-d' : ''})`,
      );
  } else if (t.shape.length !== 0)
    throw new CheckpointError(
      `${fn}: ${e.name}: expected ${e.text}, the checkpoint has shape ${shapeText(t.shape)}`,
    );
}

/** A copy of the tensor's data in a fresh typed array of `ctor` (read as little-endian). */
function readArray(
  bytes: Uint8Array,
  at: number,
  t: InTensor,
  ctor: TypedArrayCtor,
): AnyTypedArray {
  const n = (t.end - t.begin) / ctor.BYTES_PER_ELEMENT;
  const out = new ctor(n);
  const dst = new Uint8Array(out.buffer);
  const src = bytes.subarray(at + t.begin, at + t.end);
  if (LITTLE_ENDIAN || ctor.BYTES_PER_ELEMENT === 1) dst.set(src);
  else {
    const k = ctor.BYTES_PER_ELEMENT;
    for (let i = 0; i < src.length; i += k)
      for (let j = 0; j < k; j++) dst[i + j] = src[i + k - 1 - j]!;
  }
  return out;
}

/** The value of a 0-d tensor, checked (BOOL is 0 or 1, I64 is exact, counters are int32 counts). */
function readScalar(fn: string, e: Expected, t: InTensor, bytes: Uint8Array, at: number): unknown {
  const view = new DataView(bytes.buffer, bytes.byteOffset + at + t.begin, t.end - t.begin);
  let value: number;
  switch (t.dtype) {
    case 'BOOL': {
      const b = view.getUint8(0);
      if (b > 1)
        throw new CheckpointError(`${fn}: ${e.name}: a BOOL must be the byte 0 or 1, found ${b}`);
      return b === 1;
    }
    case 'F64':
      value = view.getFloat64(0, true);
      break;
    case 'I32':
      value = view.getInt32(0, true);
      break;
    default: {
      const v = view.getBigInt64(0, true);
      if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER))
        throw new CheckpointError(
          `${fn}: ${e.name}: the I64 value ${v} is outside the range a number holds exactly (|x| <= 2^53 - 1)`,
        );
      value = Number(v);
    }
  }
  if (e.kind === 'counter' && !(Number.isInteger(value) && value >= 0 && value <= INT32_MAX))
    throw new CheckpointError(
      `${fn}: ${e.name}: a step count must be an integer in [0, ${INT32_MAX}], the checkpoint has ${value}`,
    );
  return value;
}

function toBytes(fn: string, bytes: unknown): Uint8Array {
  if (bytes instanceof Uint8Array) return bytes;
  if (bytes instanceof ArrayBuffer) return new Uint8Array(bytes);
  if (ArrayBuffer.isView(bytes))
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  throw new TypeError(
    `${fn}: bytes must be a Uint8Array (or an ArrayBuffer), got ${describe(bytes)}`,
  );
}

function checkOptions(fn: string, options: unknown): boolean {
  if (options === undefined) return true;
  if (options === null || typeof options !== 'object' || Array.isArray(options))
    throw new TypeError(`${fn}: options must be an object, got ${describe(options)}`);
  for (const key of Object.keys(options))
    if (key !== 'requireChecksum')
      throw new TypeError(`${fn}: unknown option ${JSON.stringify(key)}; expected requireChecksum`);
  const r = (options as DeserializeOptions).requireChecksum;
  if (r !== undefined && typeof r !== 'boolean')
    throw new TypeError(`${fn}: requireChecksum must be a boolean, got ${describe(r)}`);
  return r ?? true;
}

/** Checks the library's metadata: format, known keys, checksum presence. */
function checkMetadata(fn: string, parsed: ParsedSafetensors, requireChecksum: boolean): boolean {
  const { metadata } = parsed;
  for (const k of Object.keys(metadata))
    if (k.startsWith(RESERVED) && !LIBRARY_KEYS.includes(k))
      throw new CheckpointError(
        `${fn}: bad header: unknown metadata key ${JSON.stringify(k)}; optax-ts writes ${LIBRARY_KEYS.join(', ')}`,
      );
  const format = metadata[KEY_FORMAT];
  if (format !== undefined && format !== FORMAT && format !== '1')
    throw new CheckpointError(
      `${fn}: checkpoint format ${JSON.stringify(format)} (written by optax-ts ${metadata[KEY_VERSION] ?? '?'}) is not supported; this is optax-ts ${VERSION}, which reads formats 1 and ${FORMAT}`,
    );
  if (parsed.checksum === 'verified' && format !== FORMAT)
    throw new CheckpointError(
      `${fn}: bad header: a whole-file ${CHECKSUM_KEY} belongs to format ${FORMAT}, the header says format ${JSON.stringify(format ?? null)}`,
    );
  if (parsed.checksum !== 'verified' && requireChecksum)
    throw new CheckpointError(
      `${fn}: the checkpoint has no ${CHECKSUM_KEY} checksum${
        format === '1'
          ? ' of its header (format 1, written by an older optax-ts, checks the data only)'
          : format === FORMAT
            ? ' (the key was removed: the file was edited)'
            : ' (not written by serializeState)'
      }; pass { requireChecksum: false } to read it anyway, checked structurally only`,
    );
  if (format === FORMAT && metadata[KEY_TREEDEF] === undefined)
    throw new CheckpointError(
      `${fn}: bad header: format ${FORMAT} records ${KEY_TREEDEF}, it is missing`,
    );
  return format !== undefined;
}

/**
 * Everything about a checkpoint that can be checked before a value is read: the format, the
 * checksum, the treedef, the tensor names, dtypes and shapes, and (for optax-ts files) the
 * canonical layout. Returns each expected leaf with its tensor.
 */
function validate(
  fn: string,
  data: Uint8Array,
  template: unknown,
  requireChecksum: boolean,
): { parsed: ParsedSafetensors; leaves: [Expected, InTensor][] } {
  const parsed = decodeSafetensors(fn, data);
  const ours = checkMetadata(fn, parsed, requireChecksum);
  const treedef = parsed.metadata[KEY_TREEDEF];
  if (treedef !== undefined) {
    let def: unknown;
    try {
      def = parseStrictJson(treedef, KEY_TREEDEF);
    } catch (e) {
      throw new CheckpointError(
        `${fn}: bad header: ${KEY_TREEDEF} is not valid JSON (${(e as Error).message})`,
      );
    }
    checkTreedef(fn, template, def, '');
  }
  // optax-ts writes numbers as I64 or F64; other tools may write I32.
  const expected = expectedLeaves(fn, template, ours ? ['F64', 'I64'] : ['F64', 'I64', 'I32']);
  const leaves: [Expected, InTensor][] = [];
  for (const e of expected) {
    const t = parsed.tensors.get(e.name);
    if (!t)
      throw new CheckpointError(
        `${fn}: ${e.name}: missing from the checkpoint (expected ${e.text})${
          parsed.tensors.size === 0 ? '; the checkpoint has no tensors' : ''
        }`,
      );
    checkTensor(fn, e, t);
    leaves.push([e, t]);
  }
  if (leaves.length !== parsed.tensors.size) {
    const names = new Set(expected.map((e) => e.name));
    const extra = [...parsed.tensors.keys()].filter((k) => !names.has(k));
    throw new CheckpointError(
      `${fn}: the checkpoint has ${extra.length} tensor${extra.length === 1 ? '' : 's'} that the template does not: ${extra
        .slice(0, 5)
        .map((k) => JSON.stringify(k))
        .join(', ')}${extra.length > 5 ? ', ...' : ''}`,
    );
  }
  if (ours) {
    // The layout serializeState writes, derived from the template and the dtypes just checked.
    let at = 0;
    for (const t of canonicalOrder(leaves.map(([, t]) => t))) {
      if (t.begin !== at)
        throw new CheckpointError(
          `${fn}: bad header entry ${JSON.stringify(t.name)}: data_offsets [${t.begin}, ${t.end}], expected [${at}, ${at + t.end - t.begin}] (tensors are stored by decreasing element size, then in tree order; were two entries swapped?)`,
        );
      at = t.end;
    }
  }
  return { parsed, leaves };
}

/** Rebuilds the template's tree from the checked tensors. */
function rebuild(
  fn: string,
  template: unknown,
  data: Uint8Array,
  parsed: ParsedSafetensors,
  leaves: [Expected, InTensor][],
): unknown {
  let i = 0;
  const visit = (node: unknown): unknown => {
    if (node === null) return null;
    if (Array.isArray(node)) return node.map(visit);
    if (isContainer(node)) {
      const obj = node as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(obj).sort()) setOwn(out, k, visit(obj[k]));
      return out;
    }
    const [e, t] = leaves[i++]!;
    if (e.ctor) {
      const x = readArray(data, parsed.dataStart, t, e.ctor);
      // The template's shape: the template decides the restored tree, as it does for every other
      // property (a file's shape of the right length is accepted on a leaf without one).
      const shape = e.shape;
      if (shape !== undefined && (x instanceof Float32Array || x instanceof Float64Array))
        Object.assign(x, { shape: [...shape] });
      return x;
    }
    return readScalar(fn, e, t, data, parsed.dataStart);
  };
  return visit(template);
}

/**
 * Reads a state written by {@link serializeState}. `template` is `tx.init(params)` for the same
 * transformation and params: it fixes the structure and every leaf's type and length, and is not
 * modified. Returns a fresh state that shares no memory with `bytes` or `template`.
 *
 * Before any value is read, the whole file is checked: its CRC-32 (covering the header and the
 * data), and, independently of it, the header's meaning against the template (tensor names,
 * dtypes, shapes, step counts stored as integers, the canonical data offsets, no unknown or
 * duplicate keys). Throws a {@link CheckpointError} naming the first problem, never returning a
 * partial state. A file without the checksum (from another tool) needs `{ requireChecksum: false }`.
 *
 * @example
 * ```ts
 * const tx = radam(1e-3);
 * const params = { w: new Float64Array([1, 2]) };
 * let state = tx.init(params);
 * [, state] = tx.update({ w: new Float64Array([0.1, 0.2]) }, state, params);
 * const restored = deserializeState(serializeState(state), tx.init(params));
 * restored[0].count; // 1
 * restored[0].mu.w; // Float64Array [0.01, 0.02]
 * const f32 = tx.init({ w: new Float32Array(2) });
 * deserializeState(serializeState(state), f32); // CheckpointError: state[0].mu.w: expected F32
 * ```
 */
export function deserializeState<S>(
  bytes: Uint8Array | ArrayBuffer,
  template: S,
  options?: DeserializeOptions,
): S {
  const fn = 'deserializeState';
  refuseUnwalkable(fn, template);
  const requireChecksum = checkOptions(fn, options);
  const data = toBytes(fn, bytes);
  const { parsed, leaves } = validate(fn, data, template, requireChecksum);
  return rebuild(fn, template, data, parsed, leaves) as S;
}

/**
 * The `__metadata__` of a checkpoint: the caller's metadata plus the library's `optax_ts.*` keys
 * (`optax_ts.version`, ...). Checks the file as a safetensors file (header, offsets and, when
 * present, the checksum).
 *
 * @example
 * ```ts
 * const bytes = serializeState(state, { metadata: { epoch: '3' } });
 * checkpointMetadata(bytes).epoch; // '3'
 * checkpointMetadata(bytes)['optax_ts.version'] === VERSION; // true
 * ```
 */
export function checkpointMetadata(bytes: Uint8Array | ArrayBuffer): Record<string, string> {
  const fn = 'checkpointMetadata';
  return decodeSafetensors(fn, toBytes(fn, bytes)).metadata;
}

// ---------------------------------------------------------------------------------------------
// Reading into an existing tree.

/** A place a scalar of the checkpoint will be assigned to. */
interface Slot {
  parent: Record<string | number, unknown>;
  key: string | number;
  path: string;
}

/**
 * Checks that every scalar of `target` can be assigned and that no two typed-array leaves share
 * memory (writing one would change the other); returns the scalar slots and array leaves.
 */
function writablePlaces(fn: string, target: unknown): { slots: Slot[]; arrays: AnyTypedArray[] } {
  const slots: Slot[] = [];
  const arrays: { x: AnyTypedArray; path: string }[] = [];
  const visit = (node: unknown, path: string): void => {
    const obj = node as Record<string | number, unknown>;
    const keys: (string | number)[] = Array.isArray(node)
      ? node.map((_, i) => i)
      : Object.keys(node as object).sort();
    for (const k of keys) {
      const child = obj[k];
      const p = joinPath(path, k);
      if (child === null) continue;
      if (isContainer(child)) visit(child, p);
      else if (ArrayBuffer.isView(child)) arrays.push({ x: child as AnyTypedArray, path: p });
      else {
        const d = Object.getOwnPropertyDescriptor(obj, k);
        if (!d || !('value' in d) || !d.writable || Object.isFrozen(obj))
          throw new CheckpointError(
            `${fn}: target${p} cannot be assigned (${Object.isFrozen(obj) ? 'its container is frozen' : 'it is read-only or an accessor'}); nothing was written`,
          );
        slots.push({ parent: obj, key: k, path: p });
      }
    }
  };
  visit(target, '');
  const byBuffer = new Map<ArrayBufferLike, { x: AnyTypedArray; path: string }[]>();
  for (const a of arrays) {
    if (a.x.byteLength === 0) continue;
    const list = byBuffer.get(a.x.buffer) ?? [];
    list.push(a);
    byBuffer.set(a.x.buffer, list);
  }
  for (const list of byBuffer.values()) {
    list.sort((a, b) => a.x.byteOffset - b.x.byteOffset);
    for (let i = 1; i < list.length; i++) {
      const a = list[i - 1]!;
      const b = list[i]!;
      if (b.x.byteOffset < a.x.byteOffset + a.x.byteLength)
        throw new CheckpointError(
          `${fn}: target${a.path} and target${b.path} share memory, so both cannot hold their checkpoint values; nothing was written`,
        );
    }
  }
  return { slots, arrays: arrays.map((a) => a.x) };
}

/**
 * Reads a checkpoint into an existing state (or params) tree in place: typed arrays are
 * overwritten with `set`, numbers and booleans are assigned to their parent object or list. Use it
 * to resume an in-place `Optimizer`, whose steps are bound to its own buffers:
 * `deserializeStateInto(bytes, optimizer.state)` (and the same for `optimizer.params` from a
 * checkpoint of the params). `target` is also the template. Everything is checked before anything
 * is written (the file as by {@link deserializeState}, and that every scalar of `target` can be
 * assigned and no two of its arrays share memory), so an error leaves `target` untouched. Returns
 * `target`.
 *
 * @example
 * ```ts
 * const opt = new Optimizer(radam(0.1), { w: new Float64Array([1, 2]) });
 * opt.step({ w: new Float64Array([1, 1]) });
 * const bytes = serializeState(opt.state);
 * const resumed = new Optimizer(radam(0.1), { w: new Float64Array([1, 2]) });
 * deserializeStateInto(bytes, resumed.state);
 * resumed.state[0].count; // 1
 * ```
 */
export function deserializeStateInto<S>(
  bytes: Uint8Array | ArrayBuffer,
  target: S,
  options?: DeserializeOptions,
): S {
  const fn = 'deserializeStateInto';
  if (!isContainer(target) && !ArrayBuffer.isView(target))
    throw new CheckpointError(
      `${fn}: target must be a tree (an object, a list or a typed array) to write into, got ${describe(target)}; use deserializeState for a single number`,
    );
  const source = deserializeState(bytes, target, options);
  if (ArrayBuffer.isView(target)) {
    (target as unknown as Float64Array).set(source as unknown as Float64Array);
    return target;
  }
  const { slots, arrays } = writablePlaces(fn, target);
  // The leaves of `source` come in the order writablePlaces visited `target`'s (sorted keys).
  const values = rebuildLeaves(source);
  let s = 0;
  let a = 0;
  for (const v of values) {
    if (ArrayBuffer.isView(v)) (arrays[a++] as Float64Array).set(v as Float64Array);
    else {
      const slot = slots[s++]!;
      slot.parent[slot.key] = v;
    }
  }
  return target;
}

/** The non-null leaves of a rebuilt state in sorted-key order. */
function rebuildLeaves(tree: unknown): unknown[] {
  const out: unknown[] = [];
  const visit = (node: unknown): void => {
    if (node === null) return;
    if (Array.isArray(node)) node.forEach(visit);
    else if (isContainer(node)) {
      const obj = node as Record<string, unknown>;
      for (const k of Object.keys(obj).sort()) visit(obj[k]);
    } else out.push(node);
  };
  visit(tree);
  return out;
}
