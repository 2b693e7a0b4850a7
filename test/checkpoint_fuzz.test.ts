/**
 * Fuzzing the checkpoint reader: thousands of seeded corruptions of real checkpoints (bit flips
 * and byte edits anywhere, every truncation, appended bytes, header-length edits, swapped keys and
 * offsets, dtype and shape edits, random header text edits). Each must be refused with a
 * `CheckpointError` or load bit-identical to the original state, and `deserializeStateInto` must
 * leave its target untouched when it throws.
 *
 * Three kinds of file are tried: as written (the checksum must catch everything); header edits
 * with the checksum recomputed ("resealed": the header's meaning must be refused by the checks
 * against the template alone); and header edits of a file without the checksum read with
 * `{ requireChecksum: false }` (the structural checks alone). Data-byte edits are not tried on
 * the last two: without a valid checksum over them they are legitimately different states.
 *
 * The counts are printed (`npx vitest run test/checkpoint_fuzz.test.ts`).
 */
import { describe, expect, it } from 'vitest';
import { crc32 } from '../src/checkpoint/safetensors.js';
import {
  applyIfFinite,
  applyUpdates,
  CheckpointError,
  deserializeState,
  deserializeStateInto,
  type GradientTransformationExtraArgs,
  injectHyperparams,
  multiSteps,
  radam,
  serializeState,
} from '../src/index.js';
import { rng } from './rng.js';

interface Base {
  name: string;
  bytes: Uint8Array;
  template: () => unknown;
}

function makeBase(
  name: string,
  make: () => GradientTransformationExtraArgs,
  f32: boolean,
  steps: number,
): Base {
  const A = f32 ? Float32Array : Float64Array;
  const params = () => ({
    layers: [{ w: A.from([0.5, -1, 2]), b: A.from([0.1]) }],
    s: A.from([3]),
  });
  const tx = make();
  let p: any = params();
  let state = tx.init(p);
  for (let t = 0; t < steps; t++) {
    const g = {
      layers: [{ w: A.from([Math.sin(t), 0.5, -t]), b: A.from([t % 3 === 0 ? Number.NaN : 1]) }],
      s: A.from([0.25 * t]),
    };
    const [u, s] = tx.update(g, state, p);
    p = applyUpdates(p, u);
    state = s;
  }
  return {
    name,
    bytes: serializeState(state, { metadata: { run: 'fuzz' } }),
    template: () => make().init(params()),
  };
}

const bases: Base[] = [
  makeBase('radam float32', () => radam(0.01), true, 7),
  makeBase(
    'applyIfFinite(radam) float64 (booleans, counters)',
    () => applyIfFinite(radam(0.01), 3),
    false,
    5,
  ),
  makeBase(
    'injectHyperparams(multiSteps(radam)) float32',
    () =>
      multiSteps(injectHyperparams((h: { lr: number }) => radam(h.lr))({ lr: 0.02 }), {
        everyK: 2,
      }),
    true,
    5,
  ),
];

function headerOf(bytes: Uint8Array): { length: number; text: string } {
  const length = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true);
  return { length, text: new TextDecoder().decode(bytes.subarray(8, 8 + length)) };
}

/** The file with a new header text (the length field updated); the data section kept. */
function withHeader(bytes: Uint8Array, text: string): Uint8Array {
  const { length } = headerOf(bytes);
  const data = bytes.subarray(8 + length);
  const json = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const CRC_FIELD = /("optax_ts\.crc32":")([0-9a-f]{8})"/;

/** Recomputes the whole-file checksum (as serializeState does), or undefined if it is gone. */
function reseal(bytes: Uint8Array): Uint8Array | undefined {
  const { text } = headerOf(bytes);
  const m = CRC_FIELD.exec(text);
  if (!m || text.indexOf('"optax_ts.crc32"') !== text.lastIndexOf('"optax_ts.crc32"'))
    return undefined;
  const at = 8 + new TextEncoder().encode(text.slice(0, m.index + m[1]!.length)).length;
  const out = bytes.slice();
  out.set(new TextEncoder().encode('00000000'), at);
  out.set(new TextEncoder().encode(crc32(out).toString(16).padStart(8, '0')), at);
  return out;
}

/** The file without its checksum key (header rewritten). */
function strip(bytes: Uint8Array): Uint8Array {
  const { text } = headerOf(bytes);
  return withHeader(
    bytes,
    text.replace(/"optax_ts\.crc32":"[0-9a-f]{8}",?/, '').replace(/,}/, '}'),
  );
}

/** Header-only edits: each returns a new header text (or undefined when it does not apply). */
function headerEdits(text: string, r: () => number): string | undefined {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const h = JSON.parse(text) as Record<string, any>;
  const names = Object.keys(h).filter((k) => k !== '__metadata__');
  const kind = Math.floor(r() * 7);
  switch (kind) {
    case 0: {
      // Swap two tensor names.
      const a = pick(names);
      const b = pick(names);
      if (a === b) return undefined;
      return text
        .replace(JSON.stringify(a), '\u0000')
        .replace(JSON.stringify(b), JSON.stringify(a))
        .replace('\u0000', JSON.stringify(b));
    }
    case 1: {
      // Swap two entries' data_offsets.
      const a = JSON.stringify(h[pick(names)].data_offsets);
      const b = JSON.stringify(h[pick(names)].data_offsets);
      if (a === b) return undefined;
      return text.replace(a, '\u0000').replace(b, a).replace('\u0000', b);
    }
    case 2: {
      // Change one dtype.
      const name = pick(names);
      const entry = JSON.stringify(h[name]);
      const dtype = pick(['F64', 'F32', 'I64', 'I32', 'U8', 'BOOL', 'F16', 'U64', 'BF16']);
      return text.replace(
        `${JSON.stringify(name)}:${entry}`,
        `${JSON.stringify(name)}:${entry.replace(/"dtype":"\w+"/, `"dtype":"${dtype}"`)}`,
      );
    }
    case 3: {
      // Change one shape.
      const name = pick(names);
      const entry = JSON.stringify(h[name]);
      const shape = pick(['[]', '[1]', '[2]', '[3]', '[1,3]', '[3,1]', '[0]', '[4]']);
      return text.replace(
        `${JSON.stringify(name)}:${entry}`,
        `${JSON.stringify(name)}:${entry.replace(/"shape":\[[^\]]*\]/, `"shape":${shape}`)}`,
      );
    }
    case 4: {
      // Duplicate an entry under its own name (JSON.parse would keep the last one).
      const name = pick(names);
      return text
        .replace(
          '{"__metadata__"',
          `{${JSON.stringify(name)}:${JSON.stringify(h[name])},"__metadata__"`,
        )
        .replace(
          `,${JSON.stringify(name)}:${JSON.stringify(h[name])}`,
          `,${JSON.stringify(name)}:${JSON.stringify({ ...h[name], data_offsets: [0, 0] })},${JSON.stringify(name)}:${JSON.stringify(h[name])}`,
        );
    }
    case 5: {
      // Replace one character of the header with a printable one.
      const i = Math.floor(r() * text.length);
      return text.slice(0, i) + String.fromCharCode(32 + Math.floor(r() * 95)) + text.slice(i + 1);
    }
    default: {
      // Edit one digit of the header (offsets, shapes, treedef, version).
      const digits = [...text.matchAll(/\d/g)].map((m) => m.index!);
      const i = pick(digits);
      return text.slice(0, i) + String(Math.floor(r() * 10)) + text.slice(i + 1);
    }
  }
}

/** Raw-byte corruptions of the whole file. */
function byteEdit(bytes: Uint8Array, r: () => number): Uint8Array {
  const out = bytes.slice();
  const { length } = headerOf(bytes);
  const kind = Math.floor(r() * 6);
  const anywhere = () => Math.floor(r() * out.length);
  switch (kind) {
    case 0:
      out[anywhere()]! ^= 1 << Math.floor(r() * 8);
      return out;
    case 1: {
      // A data byte.
      const start = 8 + length;
      if (start < out.length)
        out[start + Math.floor(r() * (out.length - start))] = Math.floor(r() * 256);
      return out;
    }
    case 2: {
      // Appended bytes.
      const extra = new Uint8Array(1 + Math.floor(r() * 16)).map(() => Math.floor(r() * 256));
      const bigger = new Uint8Array(out.length + extra.length);
      bigger.set(out);
      bigger.set(extra, out.length);
      return bigger;
    }
    case 3: {
      // The header length edited.
      const view = new DataView(out.buffer);
      const delta = Math.floor(r() * 33) - 16 || 1;
      view.setUint32(0, Math.max(0, length + delta), true);
      if (r() < 0.2) view.setUint32(4, 1 + Math.floor(r() * 4), true);
      return out;
    }
    case 4: {
      // Two bytes exchanged.
      const i = anywhere();
      const j = anywhere();
      [out[i], out[j]] = [out[j]!, out[i]!];
      return out;
    }
    default: {
      // A burst of random bytes.
      const i = anywhere();
      for (let k = 0; k < 1 + Math.floor(r() * 8) && i + k < out.length; k++)
        out[i + k] = Math.floor(r() * 256);
      return out;
    }
  }
}

interface Counts {
  inputs: number;
  refused: number;
  identical: number;
  wrong: number;
}

const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

/** Loads `bytes` both ways and classifies the outcome; records the first wrong ones. */
function tryOne(
  base: Base,
  bytes: Uint8Array,
  counts: Counts,
  wrong: string[],
  label: string,
  options?: { requireChecksum: boolean },
) {
  counts.inputs++;
  const canonical = base.bytes;
  let outcome: 'refused' | 'identical' | 'wrong' = 'wrong';
  let why = '';
  try {
    const got = deserializeState(bytes, base.template(), options);
    if (same(serializeState(got, { metadata: { run: 'fuzz' } }), canonical)) outcome = 'identical';
    else why = 'loaded a different state';
  } catch (e) {
    if (e instanceof CheckpointError) outcome = 'refused';
    else why = `threw ${(e as Error).name}: ${(e as Error).message}`;
  }
  // deserializeStateInto: the same verdict, and an untouched target when it throws.
  const target = base.template();
  const before = serializeState(target);
  try {
    deserializeStateInto(bytes, target, options);
    if (outcome !== 'identical') {
      outcome = 'wrong';
      why ||= 'Into accepted what deserializeState refused';
    }
  } catch (e) {
    if (!(e instanceof CheckpointError)) {
      outcome = 'wrong';
      why = `Into threw ${(e as Error).name}: ${(e as Error).message}`;
    } else if (!same(serializeState(target), before)) {
      outcome = 'wrong';
      why = 'Into threw after writing into its target';
    } else if (outcome === 'identical') {
      outcome = 'wrong';
      why = 'Into refused what deserializeState accepted';
    }
  }
  counts[outcome === 'identical' ? 'identical' : outcome]++;
  if (outcome === 'wrong' && wrong.length < 5) wrong.push(`${base.name}, ${label}: ${why}`);
}

describe('checkpoint fuzzing (seeded)', () => {
  it('every corruption is refused with a CheckpointError or loads bit-identical; Into targets stay untouched', () => {
    const r = rng(13);
    const all: Record<string, Counts> = {};
    const wrong: string[] = [];
    const counter = (kind: string) => {
      all[kind] ??= { inputs: 0, refused: 0, identical: 0, wrong: 0 };
      return all[kind]!;
    };
    const started = performance.now();
    for (const base of bases) {
      const { text } = headerOf(base.bytes);
      // Every truncation boundary.
      for (let k = 0; k < base.bytes.length; k++)
        tryOne(base, base.bytes.subarray(0, k), counter('truncations'), wrong, `truncated to ${k}`);
      // Random byte-level corruptions of the file as written.
      for (let i = 0; i < 2000; i++)
        tryOne(base, byteEdit(base.bytes, r), counter('byte edits'), wrong, `byte edit ${i}`);
      // Header edits, three ways.
      for (let i = 0; i < 1000; i++) {
        const edited = headerEdits(text.trimEnd(), r);
        if (edited === undefined) continue;
        const file = withHeader(base.bytes, edited);
        tryOne(base, file, counter('header edits, checksum kept'), wrong, `header edit ${i}`);
        const sealed = reseal(file);
        if (sealed)
          tryOne(
            base,
            sealed,
            counter('header edits, checksum recomputed'),
            wrong,
            `resealed edit ${i}: ${edited}`,
          );
        tryOne(
          base,
          strip(file),
          counter('header edits, no checksum, requireChecksum false'),
          wrong,
          `stripped edit ${i}: ${edited}`,
          {
            requireChecksum: false,
          },
        );
      }
    }
    const seconds = (performance.now() - started) / 1000;
    const total: Counts = { inputs: 0, refused: 0, identical: 0, wrong: 0 };
    for (const c of Object.values(all))
      for (const k of Object.keys(total) as (keyof Counts)[]) total[k] += c[k];
    const table = Object.entries({ ...all, total })
      .map(
        ([k, c]) =>
          `  ${k.padEnd(50)} inputs ${c.inputs}, refused ${c.refused}, loaded identical ${c.identical}, wrong ${c.wrong}`,
      )
      .join('\n');
    console.log(`checkpoint fuzz (seed 13, ${seconds.toFixed(1)} s):\n${table}`);
    expect(wrong).toEqual([]);
    expect(total.wrong).toBe(0);
    expect(total.inputs).toBeGreaterThan(15_000);
    // The fuzzing is not vacuous: most corruptions are refused, and some edits keep the meaning.
    expect(total.refused).toBeGreaterThan(total.inputs * 0.8);
    expect(all['header edits, checksum recomputed']!.refused).toBeGreaterThan(1000);
  }, 60_000);
});
