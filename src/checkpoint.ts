/**
 * Checkpoints of optimizer state in the safetensors format, which PyTorch, JAX, NumPy and the
 * Hugging Face tools already read.
 *
 * Layout (https://huggingface.co/docs/safetensors): an unsigned 64-bit little-endian header
 * length `N`; `N` bytes of UTF-8 JSON (padded with spaces so the data starts on an 8-byte
 * boundary) mapping each tensor name to `{ dtype, shape, data_offsets: [begin, end] }`, plus a
 * `__metadata__` map of strings; then the raw little-endian data, offsets relative to its start,
 * with no holes.
 *
 * How a state tree is stored:
 * - each leaf is one tensor named by its tree path, prefixed with `state`: `state[0].count`,
 *   `state[0].mu.w`, `state[0].mu["odd key"][2]` (the paths of error messages);
 * - `Float32Array` → `F32`, `Float64Array` → `F64` (and the integer typed arrays → `I32`, `U8`, ...),
 *   each with shape `[length]`;
 * - a number (a step count, a hyperparameter) → a 0-d tensor (shape `[]`): `I64` when it is a safe
 *   integer (so Python sees `count` as an integer), else `F64`; both hold every JavaScript number
 *   exactly (`-0`, NaN and ±Infinity are `F64`);
 * - a boolean → a 0-d `BOOL` tensor (one byte, 0 or 1);
 * - `null`, `[]` and `{}` have no tensor; the tree's shape is recorded in the metadata.
 *
 * Metadata keys written by the library (user keys may not start with `optax_ts.`):
 * `optax_ts.version` (the library version), `optax_ts.format` (`1`), `optax_ts.treedef` (the tree
 * with every leaf written as `0`, as JSON) and `optax_ts.crc32` (the CRC-32 of the data section,
 * 8 hex digits, the checksum of zlib and PNG), so that a flipped bit in the data is detected.
 *
 * Tensors are laid out by decreasing element size (8-byte types first), so each tensor is aligned
 * to its element size and readers can map it without copying.
 */
import { isContainer, joinPath } from './tree.js';
import { VERSION } from './version.js';

/**
 * Thrown when a checkpoint cannot be written or read; the message says what is wrong and where.
 *
 * @example
 * ```ts
 * deserializeState(new Uint8Array(3), {}); // CheckpointError: the checkpoint is 3 bytes
 * ```
 */
export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

/** Options of {@link serializeState}. */
export interface SerializeOptions {
  /** Extra string metadata stored in the header's `__metadata__` (keys must not start with `optax_ts.`). */
  metadata?: Readonly<Record<string, string>>;
}

/** The checkpoint format version this module writes and reads. */
const FORMAT = '1';
const ROOT = 'state';
const RESERVED = 'optax_ts.';
const KEY_VERSION = 'optax_ts.version';
const KEY_FORMAT = 'optax_ts.format';
const KEY_TREEDEF = 'optax_ts.treedef';
const KEY_CRC = 'optax_ts.crc32';

/** Element sizes of the safetensors dtypes. */
const DTYPE_SIZE: Readonly<Record<string, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  I64: 8,
  U64: 8,
  F64: 8,
};

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

type AnyTypedArray = InstanceType<TypedArrayCtor>;

/** The dtypes a `number` leaf of the template accepts: every one converts to a number exactly. */
const NUMBER_DTYPES = ['F64', 'I64', 'I32'];

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function arrayDtype(x: unknown): readonly [TypedArrayCtor, string] | undefined {
  if (!ArrayBuffer.isView(x) || x instanceof DataView) return undefined;
  // The exact constructor: a Uint8ClampedArray or a subclass is not one of these dtypes.
  return ARRAY_DTYPES.find(([ctor]) => Object.getPrototypeOf(x) === ctor.prototype);
}

/** `obj[key] = value` as an own data property, even for the key `__proto__`. */
function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

function describe(x: unknown): string {
  if (x === undefined) return 'undefined';
  if (typeof x === 'string') return `string ${JSON.stringify(x)}`;
  if (typeof x === 'bigint') return `bigint ${x}`;
  if (typeof x === 'function') return 'a function';
  if (ArrayBuffer.isView(x)) return (x as object).constructor.name;
  if (typeof x === 'object' && x !== null) return (x as object).constructor?.name ?? 'object';
  return `${typeof x} ${String(x)}`;
}

// ---------------------------------------------------------------------------------------------
// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), as zlib.crc32.

let crcTable: Uint32Array | undefined;

function crc32Table(): Uint32Array {
  if (crcTable) return crcTable;
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  crcTable = table;
  return table;
}

/** Continues a CRC-32 (start with `crc = 0`). */
function crc32(bytes: Uint8Array, crc = 0): number {
  const table = crc32Table();
  let c = ~crc;
  for (let i = 0; i < bytes.length; i++) c = table[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

function hex8(x: number): string {
  return x.toString(16).padStart(8, '0');
}

// ---------------------------------------------------------------------------------------------
// Writing.

interface OutTensor {
  name: string;
  dtype: string;
  shape: number[];
  bytes: Uint8Array;
}

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
    out.push({ name, dtype: kind[1], shape: [x.length], bytes: leBytes(x) });
  }
  return 0;
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
  if (options === null || typeof options !== 'object')
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
    metadata[k] = v;
  }

  const tensors: OutTensor[] = [];
  const treedef = collect(state, '', tensors, new Set());
  // Largest elements first (a stable sort keeps tree order within a size): every tensor is then
  // aligned to its element size, as the data section starts on an 8-byte boundary.
  tensors.sort((a, b) => DTYPE_SIZE[b.dtype]! - DTYPE_SIZE[a.dtype]!);

  const header: Record<string, unknown> = {};
  let offset = 0;
  let crc = 0;
  for (const t of tensors) {
    header[t.name] = {
      dtype: t.dtype,
      shape: t.shape,
      data_offsets: [offset, offset + t.bytes.length],
    };
    offset += t.bytes.length;
    crc = crc32(t.bytes, crc);
  }
  metadata[KEY_VERSION] = VERSION;
  metadata[KEY_FORMAT] = FORMAT;
  metadata[KEY_TREEDEF] = JSON.stringify(treedef);
  metadata[KEY_CRC] = hex8(crc);
  const json = new TextEncoder().encode(JSON.stringify({ __metadata__: metadata, ...header }));
  const headerLength = Math.ceil((8 + json.length) / 8) * 8 - 8;

  const out = new Uint8Array(8 + headerLength + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerLength % 2 ** 32, true);
  view.setUint32(4, Math.floor(headerLength / 2 ** 32), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let at = 8 + headerLength;
  for (const t of tensors) {
    out.set(t.bytes, at);
    at += t.bytes.length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reading.

interface InTensor {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

interface ParsedCheckpoint {
  metadata: Record<string, string>;
  tensors: Map<string, InTensor>;
  /** Where the data section starts in the bytes. */
  dataStart: number;
  dataLength: number;
}

function isNonNegativeInteger(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
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

/** Parses and checks the header: lengths, JSON, dtypes, shapes and offsets (in range, no overlap). */
function parse(fn: string, bytes: Uint8Array): ParsedCheckpoint {
  if (bytes.length < 8)
    throw new CheckpointError(
      `${fn}: the checkpoint is ${bytes.length} bytes; a safetensors file starts with an 8-byte header length (truncated file?)`,
    );
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const low = view.getUint32(0, true);
  const high = view.getUint32(4, true);
  const headerLength = high * 2 ** 32 + low;
  if (headerLength > bytes.length - 8)
    throw new CheckpointError(
      `${fn}: bad header length ${headerLength}: only ${bytes.length - 8} bytes follow it (truncated file, or not a safetensors checkpoint)`,
    );
  if (headerLength < 2)
    throw new CheckpointError(
      `${fn}: bad header length ${headerLength}; expected at least 2 (the JSON header "{}")`,
    );
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength));
  } catch {
    throw new CheckpointError(`${fn}: bad header: the ${headerLength} header bytes are not UTF-8`);
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (e) {
    throw new CheckpointError(
      `${fn}: bad header: not valid JSON (${(e as Error).message}); header starts ${JSON.stringify(text.slice(0, 40))}`,
    );
  }
  if (!isContainer(header) || Array.isArray(header))
    throw new CheckpointError(
      `${fn}: bad header: expected a JSON object of tensors, got ${Array.isArray(header) ? 'an array' : describe(header)}`,
    );

  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  const metadata: Record<string, string> = Object.create(null);
  const tensors = new Map<string, InTensor>();
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (!isContainer(entry) || Array.isArray(entry))
        throw new CheckpointError(
          `${fn}: bad header: __metadata__ must be an object of strings, got ${describe(entry)}`,
        );
      for (const [k, v] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof v !== 'string')
          throw new CheckpointError(
            `${fn}: bad header: __metadata__[${JSON.stringify(k)}] must be a string, got ${describe(v)}`,
          );
        metadata[k] = v;
      }
      continue;
    }
    const where = `${fn}: bad header entry ${JSON.stringify(name)}`;
    if (!isContainer(entry) || Array.isArray(entry))
      throw new CheckpointError(
        `${where}: expected { dtype, shape, data_offsets }, got ${describe(entry)}`,
      );
    const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
    if (typeof dtype !== 'string' || DTYPE_SIZE[dtype] === undefined)
      throw new CheckpointError(
        `${where}: unknown dtype ${JSON.stringify(dtype)}; expected one of ${Object.keys(DTYPE_SIZE).join(', ')}`,
      );
    if (!Array.isArray(shape) || !shape.every(isNonNegativeInteger))
      throw new CheckpointError(
        `${where}: shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`,
      );
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every(isNonNegativeInteger) ||
      offsets[0]! > offsets[1]!
    )
      throw new CheckpointError(
        `${where}: data_offsets must be [begin, end] with 0 <= begin <= end, got ${JSON.stringify(offsets)}`,
      );
    const [begin, end] = offsets as [number, number];
    if (end > dataLength)
      throw new CheckpointError(
        `${where}: data_offsets [${begin}, ${end}] are out of range: the data section has ${dataLength} bytes (truncated file?)`,
      );
    const elements = (shape as number[]).reduce((a, b) => a * b, 1);
    const expected = elements * DTYPE_SIZE[dtype]!;
    if (end - begin !== expected)
      throw new CheckpointError(
        `${where}: data_offsets [${begin}, ${end}] span ${end - begin} bytes; ${dtype} of shape [${(shape as number[]).join(', ')}] needs ${expected}`,
      );
    tensors.set(name, { name, dtype, shape: shape as number[], begin, end });
  }

  // The data section must be covered exactly: no overlap, no hole, nothing after the last tensor.
  const sorted = [...tensors.values()].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let previous: InTensor | undefined;
  for (const t of sorted) {
    if (t.begin < covered)
      throw new CheckpointError(
        `${fn}: bad header: tensors ${JSON.stringify(previous!.name)} [${previous!.begin}, ${previous!.end}] and ${JSON.stringify(t.name)} [${t.begin}, ${t.end}] overlap`,
      );
    if (t.begin > covered)
      throw new CheckpointError(
        `${fn}: bad header: bytes [${covered}, ${t.begin}) of the data section belong to no tensor (before ${JSON.stringify(t.name)})`,
      );
    covered = t.end;
    previous = t;
  }
  if (covered !== dataLength)
    throw new CheckpointError(
      `${fn}: the data section has ${dataLength} bytes but the tensors cover ${covered}: ${dataLength - covered} trailing bytes (corrupted or concatenated file?)`,
    );
  return { metadata, tensors, dataStart, dataLength };
}

function checkIntegrity(fn: string, bytes: Uint8Array, parsed: ParsedCheckpoint): void {
  const { metadata } = parsed;
  const format = metadata[KEY_FORMAT];
  if (format !== undefined && format !== FORMAT)
    throw new CheckpointError(
      `${fn}: checkpoint format ${JSON.stringify(format)} (written by optax-ts ${metadata[KEY_VERSION] ?? '?'}) is not supported; this is optax-ts ${VERSION}, which reads format ${FORMAT}`,
    );
  const recorded = metadata[KEY_CRC];
  if (recorded === undefined) return;
  if (!/^[0-9a-f]{8}$/.test(recorded))
    throw new CheckpointError(
      `${fn}: bad header: ${KEY_CRC} must be 8 lowercase hex digits, got ${JSON.stringify(recorded)}`,
    );
  const actual = hex8(crc32(bytes.subarray(parsed.dataStart)));
  if (actual !== recorded)
    throw new CheckpointError(
      `${fn}: the checkpoint is corrupted: the CRC-32 of its ${parsed.dataLength} data bytes is ${actual}, the header records ${recorded}`,
    );
}

function nodeKind(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return `a list of length ${x.length}`;
  if (isContainer(x)) return `an object with keys [${Object.keys(x).sort().join(', ')}]`;
  if (x === 0) return 'a leaf';
  return JSON.stringify(x);
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

/** Rebuilds the template's tree from the tensors; every leaf is checked before it is read. */
function rebuild(
  fn: string,
  template: unknown,
  path: string,
  ckpt: ParsedCheckpoint,
  bytes: Uint8Array,
  used: Set<string>,
): unknown {
  const name = `${ROOT}${path}`;
  if (template === null) return null;
  if (Array.isArray(template))
    return template.map((child, i) => rebuild(fn, child, joinPath(path, i), ckpt, bytes, used));
  if (isContainer(template)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(template).sort())
      setOwn(
        out,
        k,
        rebuild(fn, (template as Record<string, unknown>)[k], joinPath(path, k), ckpt, bytes, used),
      );
    return out;
  }

  let expected: string;
  let accepts: readonly string[];
  let ctor: TypedArrayCtor | undefined;
  let length = 0;
  if (typeof template === 'number') {
    expected = 'a number (a 0-d F64, I64 or I32 tensor)';
    accepts = NUMBER_DTYPES;
  } else if (typeof template === 'boolean') {
    expected = 'a boolean (a 0-d BOOL tensor)';
    accepts = ['BOOL'];
  } else {
    const kind = arrayDtype(template);
    if (!kind)
      throw new CheckpointError(
        `${fn}: the template's leaf ${name} is ${describe(template)}; expected a number, a boolean, a typed array or null (pass tx.init(params))`,
      );
    ctor = kind[0];
    length = (template as AnyTypedArray).length;
    expected = `${kind[1]} with ${length} elements`;
    accepts = [kind[1]];
  }
  const t = ckpt.tensors.get(name);
  if (!t)
    throw new CheckpointError(
      `${fn}: ${name}: missing from the checkpoint (expected ${expected})${
        ckpt.tensors.size === 0 ? '; the checkpoint has no tensors' : ''
      }`,
    );
  used.add(name);
  if (!accepts.includes(t.dtype))
    throw new CheckpointError(
      `${fn}: ${name}: expected ${expected}, the checkpoint has dtype ${t.dtype} (shape ${shapeText(t.shape)})`,
    );
  const at = ckpt.dataStart;
  if (ctor) {
    const found = t.shape.reduce((a, b) => a * b, 1);
    if (t.shape.length === 0 || found !== length)
      throw new CheckpointError(
        `${fn}: ${name}: expected ${expected}, the checkpoint has shape ${shapeText(t.shape)} (${found} element${found === 1 ? '' : 's'}${t.shape.length === 0 ? ', 0-d' : ''})`,
      );
    return readArray(bytes, at, t, ctor);
  }
  if (t.shape.length !== 0)
    throw new CheckpointError(
      `${fn}: ${name}: expected ${expected}, the checkpoint has shape ${shapeText(t.shape)}`,
    );
  const view = new DataView(bytes.buffer, bytes.byteOffset + at + t.begin, t.end - t.begin);
  switch (t.dtype) {
    case 'BOOL': {
      const b = view.getUint8(0);
      if (b > 1)
        throw new CheckpointError(`${fn}: ${name}: a BOOL must be the byte 0 or 1, found ${b}`);
      return b === 1;
    }
    case 'F64':
      return view.getFloat64(0, true);
    case 'I32':
      return view.getInt32(0, true);
    default: {
      const v = view.getBigInt64(0, true);
      if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER))
        throw new CheckpointError(
          `${fn}: ${name}: the I64 value ${v} is outside the range a number holds exactly (|x| <= 2^53 - 1)`,
        );
      return Number(v);
    }
  }
}

/**
 * Reads a state written by {@link serializeState} (or any safetensors file with the same tensor
 * names). `template` is `tx.init(params)` for the same transformation and params: it fixes the
 * structure and every leaf's type and length, and is not modified. Returns a fresh state that
 * shares no memory with `bytes` or `template`.
 *
 * Throws a {@link CheckpointError}, without returning any partial state, when the bytes are
 * truncated or corrupted (bad header length, header that is not JSON, offsets out of range,
 * overlapping or leaving holes, data whose CRC-32 differs from the recorded one) or do not match the
 * template; the message names the first mismatching path with what was expected and found.
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
export function deserializeState<S>(bytes: Uint8Array | ArrayBuffer, template: S): S {
  const fn = 'deserializeState';
  const data = toBytes(fn, bytes);
  const parsed = parse(fn, data);
  checkIntegrity(fn, data, parsed);
  const treedef = parsed.metadata[KEY_TREEDEF];
  if (treedef !== undefined) {
    let def: unknown;
    try {
      def = JSON.parse(treedef);
    } catch (e) {
      throw new CheckpointError(
        `${fn}: bad header: ${KEY_TREEDEF} is not valid JSON (${(e as Error).message})`,
      );
    }
    checkTreedef(fn, template, def, '');
  }
  const used = new Set<string>();
  const state = rebuild(fn, template, '', parsed, data, used);
  if (used.size !== parsed.tensors.size) {
    const extra = [...parsed.tensors.keys()].filter((k) => !used.has(k));
    throw new CheckpointError(
      `${fn}: the checkpoint has ${extra.length} tensor${extra.length === 1 ? '' : 's'} that the template does not: ${extra
        .slice(0, 5)
        .map((k) => JSON.stringify(k))
        .join(', ')}${extra.length > 5 ? ', ...' : ''}`,
    );
  }
  return state as S;
}

/**
 * The `__metadata__` of a checkpoint: the caller's metadata plus the library's `optax_ts.*` keys
 * (`optax_ts.version`, ...). Checks the header as {@link deserializeState} does.
 *
 * @example
 * ```ts
 * const bytes = serializeState(state, { metadata: { epoch: '3' } });
 * checkpointMetadata(bytes).epoch; // '3'
 * checkpointMetadata(bytes)['optax_ts.version'] === VERSION; // true
 * ```
 */
export function checkpointMetadata(bytes: Uint8Array | ArrayBuffer): Record<string, string> {
  return parse('checkpointMetadata', toBytes('checkpointMetadata', bytes)).metadata;
}

/** Copies `source` (same structure, checked) into `target`: typed arrays by `set`, scalars by key. */
function copyInto(target: unknown, source: unknown): void {
  const keys: (string | number)[] = Array.isArray(target)
    ? target.map((_, i) => i)
    : Object.keys(target as object);
  const t = target as Record<string | number, unknown>;
  const s = source as Record<string | number, unknown>;
  for (const k of keys) {
    const leaf = t[k];
    if (leaf === null) continue;
    if (ArrayBuffer.isView(leaf)) (leaf as Float64Array).set(s[k] as Float64Array);
    else if (isContainer(leaf)) copyInto(leaf, s[k]);
    else t[k] = s[k];
  }
}

/**
 * Reads a checkpoint into an existing state (or params) tree in place: typed arrays are
 * overwritten with `set`, numbers and booleans are assigned to their parent object or list. Use it
 * to resume an in-place `Optimizer`, whose steps are bound to its own buffers:
 * `deserializeStateInto(bytes, optimizer.state)` (and the same for `optimizer.params` from a
 * checkpoint of the params). `target` is also the template: the whole checkpoint is read and
 * checked as by {@link deserializeState} before anything is written, so an error leaves `target`
 * untouched. Returns `target`.
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
export function deserializeStateInto<S>(bytes: Uint8Array | ArrayBuffer, target: S): S {
  if (!isContainer(target) && !ArrayBuffer.isView(target))
    throw new CheckpointError(
      `deserializeStateInto: target must be a tree (an object, a list or a typed array) to write into, got ${describe(target)}; use deserializeState for a single number`,
    );
  const source = deserializeState(bytes, target);
  if (ArrayBuffer.isView(target))
    (target as unknown as Float64Array).set(source as unknown as Float64Array);
  else copyInto(target, source);
  return target;
}
