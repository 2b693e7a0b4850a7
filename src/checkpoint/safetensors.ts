/**
 * The safetensors file format (https://huggingface.co/docs/safetensors), strictly: writing a file
 * from named tensors, and reading one back with every byte accounted for.
 *
 * Layout: an unsigned 64-bit little-endian header length `N`; `N` bytes of UTF-8 JSON (padded
 * with spaces so the data starts on an 8-byte boundary) mapping each tensor name to
 * `{ dtype, shape, data_offsets: [begin, end] }`, plus a `__metadata__` map of strings; then the
 * raw little-endian data, offsets relative to its start, with no holes.
 *
 * The integrity check: the metadata key `optax_ts.crc32` holds the CRC-32 (zlib's, 8 lowercase
 * hex digits) of the whole file, the 8-byte length, the header and the data, computed with those
 * 8 digits written as `00000000`. Any change to any byte is then detected (all bursts up to 32
 * bits, anything else with probability 1 - 2^-32), including edits of the header that a data-only
 * checksum cannot see (a dtype, an offset, a removed key). Other safetensors readers see an
 * ordinary metadata string.
 *
 * Reading is strict: the header is parsed by a JSON parser that refuses duplicate keys (which
 * `JSON.parse` silently resolves to the last one), every entry must have exactly the keys `dtype`,
 * `shape` and `data_offsets`, and the tensors must cover the data section exactly.
 */
import { MAX_STATE_DEPTH } from '../tree.js';

/**
 * Thrown when a checkpoint cannot be written or read; the message says what is wrong and where.
 *
 * @example
 * ```ts
 * deserializeState(new Uint8Array(3), {}); // CheckpointError: the checkpoint is 3 bytes
 * ```
 */
export class CheckpointError extends Error {
  /** `'CheckpointError'`. */
  override name = 'CheckpointError';
}

/** The metadata key of the whole-file CRC-32. */
export const CHECKSUM_KEY = 'optax_ts.crc32';
const CHECKSUM_PLACEHOLDER = '00000000';
const ENCODER = new TextEncoder();
const PLACEHOLDER_BYTES = ENCODER.encode(CHECKSUM_PLACEHOLDER);

/** Element sizes of the safetensors dtypes. */
export const DTYPE_SIZE: Readonly<Record<string, number>> = {
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

/** A tensor to write: its name, dtype, shape and little-endian bytes. */
export interface OutTensor {
  name: string;
  dtype: string;
  shape: number[];
  bytes: Uint8Array;
}

/** A tensor of a parsed file: where its bytes are in the data section. */
export interface InTensor {
  name: string;
  dtype: string;
  shape: number[];
  begin: number;
  end: number;
}

/** A parsed, checked safetensors file. */
export interface ParsedSafetensors {
  metadata: Record<string, string>;
  /** The tensors in the order the header lists them. */
  tensors: Map<string, InTensor>;
  /** Where the data section starts in the bytes. */
  dataStart: number;
  dataLength: number;
  /**
   * `'verified'`: the whole-file CRC-32 was present and matched; `'data only'`: a format-1 file
   * (older optax-ts), whose CRC-32 covers the data section only, matched; `'absent'`: no checksum.
   */
  checksum: 'verified' | 'data only' | 'absent';
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

/**
 * Continues a CRC-32 (start with `crc = 0`); the result equals Python's `zlib.crc32`.
 *
 * @example
 * ```ts
 * crc32(new TextEncoder().encode('123456789')); // 0xcbf43926
 * ```
 */
export function crc32(bytes: Uint8Array, crc = 0): number {
  const table = crc32Table();
  let c = ~crc;
  for (let i = 0; i < bytes.length; i++) c = table[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

function hex8(x: number): string {
  return x.toString(16).padStart(8, '0');
}

// ---------------------------------------------------------------------------------------------
// A strict JSON parser: refuses duplicate keys and reports where the checksum's value is.

/**
 * Nesting deeper than this is refused: a header is two levels deep, a treedef as deep as the
 * state ({@link MAX_STATE_DEPTH}), plus slack.
 */
const MAX_JSON_DEPTH = MAX_STATE_DEPTH + 64;

/** `obj[key] = value` as an own data property, even for the key `__proto__`. */
export function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key !== '__proto__') obj[key] = value;
  else
    Object.defineProperty(obj, key, {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
}

/** A JSON number, matched where the reader is (sticky). */
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/** Where a value sits, for finding the checksum: the top level, inside `__metadata__`, elsewhere. */
const TOP = 0;
const METADATA = 1;
const ELSEWHERE = 2;

const ESCAPES: Readonly<Record<string, string>> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};

class JsonReader {
  at = 0;
  /** Text index of the checksum's value (the opening quote), when found in `__metadata__`. */
  checksumAt = -1;
  constructor(
    private readonly text: string,
    private readonly what: string,
  ) {}

  fail(message: string): never {
    throw new SyntaxError(`${message} at character ${this.at} of ${this.what}`);
  }

  space(): void {
    const t = this.text;
    while (this.at < t.length) {
      const c = t.charCodeAt(this.at);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) this.at++;
      else break;
    }
  }

  /** A value; an object it starts is read in context `ctx` (TOP, METADATA or ELSEWHERE). */
  value(depth: number, ctx: number): unknown {
    if (depth > MAX_JSON_DEPTH) this.fail(`nesting deeper than ${MAX_JSON_DEPTH}`);
    this.space();
    const t = this.text;
    const c = t.charCodeAt(this.at);
    if (c === 0x7b /* { */) return this.object(depth, ctx);
    if (c === 0x5b /* [ */) return this.array(depth);
    if (c === 0x22 /* " */) return this.string();
    if (t.startsWith('true', this.at)) {
      this.at += 4;
      return true;
    }
    if (t.startsWith('false', this.at)) {
      this.at += 5;
      return false;
    }
    if (t.startsWith('null', this.at)) {
      this.at += 4;
      return null;
    }
    NUMBER.lastIndex = this.at;
    const m = NUMBER.exec(t);
    if (!m)
      this.fail(
        this.at >= t.length ? 'unexpected end' : `unexpected ${JSON.stringify(t[this.at])}`,
      );
    this.at += m[0].length;
    return Number(m[0]);
  }

  /** An object; `ctx` is TOP for the root, METADATA for `__metadata__`'s value. */
  object(depth: number, ctx: number): Record<string, unknown> {
    this.at++;
    const out: Record<string, unknown> = {};
    const seen = new Set<string>();
    this.space();
    if (this.text[this.at] === '}') {
      this.at++;
      return out;
    }
    for (;;) {
      this.space();
      if (this.text[this.at] !== '"') this.fail('expected a string key');
      const keyAt = this.at;
      const key = this.string();
      if (seen.has(key)) {
        this.at = keyAt;
        this.fail(`duplicate key ${JSON.stringify(key)}`);
      }
      seen.add(key);
      this.space();
      if (this.text[this.at] !== ':') this.fail('expected ":"');
      this.at++;
      this.space();
      if (ctx === METADATA && key === CHECKSUM_KEY && this.text[this.at] === '"')
        this.checksumAt = this.at;
      const child = ctx === TOP && key === '__metadata__' ? METADATA : ELSEWHERE;
      setOwn(out, key, this.value(depth + 1, child));
      this.space();
      const c = this.text[this.at++];
      if (c === '}') return out;
      if (c !== ',') {
        this.at--;
        this.fail('expected "," or "}"');
      }
    }
  }

  array(depth: number): unknown[] {
    this.at++;
    const out: unknown[] = [];
    this.space();
    if (this.text[this.at] === ']') {
      this.at++;
      return out;
    }
    for (;;) {
      out.push(this.value(depth + 1, ELSEWHERE));
      this.space();
      const c = this.text[this.at++];
      if (c === ']') return out;
      if (c !== ',') {
        this.at--;
        this.fail('expected "," or "]"');
      }
    }
  }

  string(): string {
    const t = this.text;
    const start = ++this.at;
    // Fast path: no escape and no control character before the closing quote.
    const close = t.indexOf('"', start);
    if (close >= 0) {
      let plain = true;
      for (let i = start; i < close; i++) {
        const c = t.charCodeAt(i);
        if (c === 0x5c || c < 0x20) {
          plain = false;
          break;
        }
      }
      if (plain) {
        this.at = close + 1;
        return t.slice(start, close);
      }
    }
    let out = '';
    let chunk = start;
    while (this.at < t.length) {
      const c = t.charCodeAt(this.at);
      if (c === 0x22) {
        out += t.slice(chunk, this.at);
        this.at++;
        return out;
      }
      if (c < 0x20) this.fail('a control character in a string');
      if (c === 0x5c) {
        out += t.slice(chunk, this.at);
        const e = t[this.at + 1];
        if (e !== undefined && ESCAPES[e] !== undefined) {
          out += ESCAPES[e];
          this.at += 2;
        } else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(t.slice(this.at + 2, this.at + 6))) {
          out += String.fromCharCode(Number.parseInt(t.slice(this.at + 2, this.at + 6), 16));
          this.at += 6;
        } else this.fail('a bad escape in a string');
        chunk = this.at;
        continue;
      }
      this.at++;
    }
    return this.fail('an unterminated string');
  }
}

/**
 * Parses JSON strictly: like `JSON.parse`, but a duplicate key in an object is an error, nesting
 * is limited, and objects get every key (`__proto__` too) as an own property. Throws a
 * `SyntaxError` naming the position.
 *
 * @example
 * ```ts
 * parseStrictJson('{"a": 1}', 'the header'); // { a: 1 }
 * parseStrictJson('{"a": 1, "a": 2}', 'the header'); // SyntaxError: duplicate key "a" at character 9 of the header
 * ```
 */
export function parseStrictJson(text: string, what: string): unknown {
  return parseWithChecksum(text, what).value;
}

function parseWithChecksum(text: string, what: string): { value: unknown; checksumAt: number } {
  const r = new JsonReader(text, what);
  const value = r.value(0, TOP);
  r.space();
  if (r.at !== text.length) r.fail('unexpected text after the JSON value');
  return { value, checksumAt: r.checksumAt };
}

// ---------------------------------------------------------------------------------------------
// Writing.

/**
 * The bytes of a safetensors file holding `tensors` (in this order in the data section, which
 * must keep each tensor aligned to its element size: put larger elements first) and `metadata`,
 * with the whole-file CRC-32 under {@link CHECKSUM_KEY}.
 *
 * @example
 * ```ts
 * const bytes = encodeSafetensors([{ name: 'x', dtype: 'F64', shape: [1], bytes: new Uint8Array(8) }], { note: 'hi' });
 * decodeSafetensors('read', bytes).checksum; // 'verified'
 * ```
 */
export function encodeSafetensors(
  tensors: readonly OutTensor[],
  metadata: Readonly<Record<string, string>>,
): Uint8Array {
  const header: Record<string, unknown> = {};
  // The checksum first, so that a reader finds its position after a few bytes.
  const meta: Record<string, string> = {};
  setOwn(meta, CHECKSUM_KEY, CHECKSUM_PLACEHOLDER);
  for (const [k, v] of Object.entries(metadata)) if (k !== CHECKSUM_KEY) setOwn(meta, k, v);
  setOwn(header, '__metadata__', meta);
  let offset = 0;
  for (const t of tensors) {
    if (Object.hasOwn(header, t.name))
      throw new CheckpointError(`safetensors: two tensors named ${JSON.stringify(t.name)}`);
    setOwn(header, t.name, {
      dtype: t.dtype,
      shape: t.shape,
      data_offsets: [offset, offset + t.bytes.length],
    });
    offset += t.bytes.length;
  }
  const text = JSON.stringify(header);
  const json = ENCODER.encode(text);
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
  const where = checksumByteOffset(text, parseWithChecksum(text, 'the header').checksumAt);
  out.set(ENCODER.encode(hex8(crc32(out))), where);
  return out;
}

/** The byte offset in the file of the checksum's 8 digits, from the text index of its quote. */
function checksumByteOffset(text: string, quoteAt: number): number {
  let n = 0;
  for (let i = 0; i <= quoteAt; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4; // a surrogate pair: one 4-byte character
      i++;
    } else n += 3;
  }
  return 8 + n;
}

// ---------------------------------------------------------------------------------------------
// Reading.

function isNonNegativeInteger(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

function isObject(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === 'object' && !Array.isArray(x);
}

function kind(x: unknown): string {
  if (Array.isArray(x)) return 'an array';
  if (x === null) return 'null';
  if (typeof x === 'string') return `string ${JSON.stringify(x)}`;
  return `${typeof x} ${JSON.stringify(x)}`;
}

const ENTRY_KEYS = ['data_offsets', 'dtype', 'shape'];

/**
 * Parses and checks a safetensors file: the header length, the header (strict JSON, no duplicate
 * or unknown keys, known dtypes, shapes, offsets in range, matching the dtype and shape, tiling
 * the data section with no overlap, hole or trailing byte) and, when {@link CHECKSUM_KEY} is
 * present, the whole-file CRC-32. `fn` starts every message. Throws a {@link CheckpointError}.
 *
 * @example
 * ```ts
 * const parsed = decodeSafetensors('read', serializeState({ count: 3 }));
 * parsed.tensors.get('state.count'); // { name: 'state.count', dtype: 'I64', shape: [], begin: 0, end: 8 }
 * ```
 */
export function decodeSafetensors(fn: string, bytes: Uint8Array): ParsedSafetensors {
  if (bytes.length < 8)
    throw new CheckpointError(
      `${fn}: the checkpoint is ${bytes.length} bytes; a safetensors file starts with an 8-byte header length (truncated file?)`,
    );
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getUint32(4, true) * 2 ** 32 + view.getUint32(0, true);
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
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(
      bytes.subarray(8, 8 + headerLength),
    );
  } catch {
    throw new CheckpointError(`${fn}: bad header: the ${headerLength} header bytes are not UTF-8`);
  }
  let parsed: { value: unknown; checksumAt: number };
  try {
    parsed = parseWithChecksum(text, 'the header');
  } catch (e) {
    throw new CheckpointError(
      `${fn}: bad header: not valid JSON (${(e as Error).message}); header starts ${JSON.stringify(text.slice(0, 40))}`,
    );
  }
  const header = parsed.value;
  if (!isObject(header))
    throw new CheckpointError(
      `${fn}: bad header: expected a JSON object of tensors, got ${kind(header)}`,
    );

  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, InTensor>();
  for (const name of Object.keys(header)) {
    const entry = header[name];
    if (name === '__metadata__') {
      if (!isObject(entry))
        throw new CheckpointError(
          `${fn}: bad header: __metadata__ must be an object of strings, got ${kind(entry)}`,
        );
      for (const k of Object.keys(entry)) {
        const v = entry[k];
        if (typeof v !== 'string')
          throw new CheckpointError(
            `${fn}: bad header: __metadata__[${JSON.stringify(k)}] must be a string, got ${kind(v)}`,
          );
        setOwn(metadata, k, v);
      }
      continue;
    }
    tensors.set(name, checkEntry(fn, name, entry, dataLength));
  }
  checkTiling(fn, tensors, dataLength);

  const recorded = metadata[CHECKSUM_KEY];
  if (recorded === undefined)
    return { metadata, tensors, dataStart, dataLength, checksum: 'absent' };
  const at = parsed.checksumAt;
  if (!/^[0-9a-f]{8}$/.test(recorded) || text.slice(at + 1, at + 9) !== recorded)
    throw new CheckpointError(
      `${fn}: bad header: ${CHECKSUM_KEY} must be 8 lowercase hex digits, got ${JSON.stringify(recorded)}`,
    );
  if (metadata['optax_ts.format'] === '1') {
    // Format 1 (older optax-ts): the CRC-32 of the data section only.
    const data = hex8(crc32(bytes.subarray(dataStart)));
    if (data !== recorded)
      throw new CheckpointError(
        `${fn}: the checkpoint is corrupted: the CRC-32 of its ${dataLength} data bytes is ${data}, the header records ${recorded}`,
      );
    return { metadata, tensors, dataStart, dataLength, checksum: 'data only' };
  }
  const where = checksumByteOffset(text, at);
  let crc = crc32(bytes.subarray(0, where));
  crc = crc32(PLACEHOLDER_BYTES, crc);
  crc = crc32(bytes.subarray(where + 8), crc);
  if (hex8(crc) !== recorded)
    throw new CheckpointError(
      `${fn}: the checkpoint is corrupted: the CRC-32 of its ${bytes.length} bytes is ${hex8(crc)}, the header records ${recorded}`,
    );
  return { metadata, tensors, dataStart, dataLength, checksum: 'verified' };
}

function checkEntry(fn: string, name: string, entry: unknown, dataLength: number): InTensor {
  const where = `${fn}: bad header entry ${JSON.stringify(name)}`;
  if (!isObject(entry))
    throw new CheckpointError(
      `${where}: expected { dtype, shape, data_offsets }, got ${kind(entry)}`,
    );
  const keys = Object.keys(entry).sort();
  if (keys.join() !== ENTRY_KEYS.join())
    throw new CheckpointError(
      `${where}: expected exactly the keys [data_offsets, dtype, shape], got [${keys.join(', ')}]`,
    );
  const { dtype, shape, data_offsets: offsets } = entry;
  if (typeof dtype !== 'string' || !Object.hasOwn(DTYPE_SIZE, dtype))
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
  return { name, dtype, shape: shape as number[], begin, end };
}

/** The data section must be covered exactly: no overlap, no hole, nothing after the last tensor. */
function checkTiling(fn: string, tensors: Map<string, InTensor>, dataLength: number): void {
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
}
