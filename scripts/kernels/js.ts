/**
 * Emits a lowered chain (`lower.ts`) as a TypeScript loop over one dtype. Float32: every operation
 * is rounded to float32 (`Math.fround`) and every scalar is rounded before use, which gives the
 * float32 operation's result (float64 has more than 2 x 24 + 2 bits), i.e. what an `f32x4` lane
 * computes. Float64: plain JavaScript arithmetic.
 *
 * The function: `(u, p, a, sc, start, end)`: elements `[start, end)` of `p` and of the arrays `a`,
 * and elements `[0, end - start)` of the block buffer `u`; the scalars `sc` as float64s.
 */
import type { Expr } from '../../src/kernels/expr.js';
import type { Lowered } from './lower.js';

const OPS: Record<string, string> = { add: '+', sub: '-', mul: '*', div: '/', lt: '<', gt: '>' };

/** The source of one kernel function named `name` for `f32` or float64 leaves. */
export function jsKernel(name: string, low: Lowered, f32: boolean): string {
  const T = f32 ? 'Float32Array' : 'Float64Array';
  const R = (x: string) => (f32 ? `R(${x})` : x);
  const names = new Map<Expr, string>();
  const lines: string[] = [];
  const arrays = new Set<string>();
  const pre: string[] = [];
  let t = 0;
  for (const e of low.nodes) {
    const v = (x: Expr) => names.get(x)!;
    let name: string;
    switch (e.op) {
      case 'elem':
        name = `e_${e.name}`;
        arrays.add(e.name);
        lines.push(`const ${name} = ${e.name}[${e.name === 'u' ? 'j' : 'i'}]!;`);
        break;
      case 'scalar': {
        name = e.name;
        const k = Number(e.name.slice(1));
        pre.push(`const ${name} = ${R(`sc[${k}]!`)};`);
        break;
      }
      case 'zero':
        name = '0';
        break;
      case 'const':
        // Exactly representable in float32 (checked by `constant`), so no rounding is needed.
        name = `(${String(e.value)})`;
        break;
      case 'sqrt':
        name = `t${t++}`;
        lines.push(`const ${name} = ${R(`Math.sqrt(${v(e.a)})`)};`);
        break;
      // |x|, -x, max and min of float32 values are float32 values: no rounding.
      case 'abs':
        name = `t${t++}`;
        lines.push(`const ${name} = Math.abs(${v(e.a)});`);
        break;
      case 'neg':
        name = `t${t++}`;
        lines.push(`const ${name} = -${v(e.a)};`);
        break;
      case 'max':
      case 'min':
        name = `t${t++}`;
        lines.push(`const ${name} = Math.${e.op}(${v(e.a)}, ${v(e.b)});`);
        break;
      case 'select':
        name = `t${t++}`;
        lines.push(`const ${name} = ${v(e.cond)} ? ${v(e.then)} : ${v(e.otherwise)};`);
        break;
      case 'eq':
        name = `t${t++}`;
        lines.push(`const ${name} = ${v(e.a)} === ${v(e.b)};`);
        break;
      case 'lt':
      case 'gt':
        name = `t${t++}`;
        lines.push(`const ${name} = ${v(e.a)} ${OPS[e.op]} ${v(e.b)};`);
        break;
      default:
        name = `t${t++}`;
        lines.push(`const ${name} = ${R(`${v(e.a)} ${OPS[e.op]} ${v(e.b)}`)};`);
    }
    names.set(e, name);
  }
  for (const [target, value] of low.stores) {
    arrays.add(target);
    lines.push(`${target}[${target === 'u' ? 'j' : 'i'}] = ${names.get(value)!};`);
  }
  const unpack = [...arrays]
    .filter((a) => a.startsWith('a'))
    .sort()
    .map((a) => `const ${a} = a[${a.slice(1)}] as ${T};`);
  const used = (x: string) => (arrays.has(x) ? x : `_${x}`);
  return [
    `export function ${name}(${used('u')}: ${T}, ${used('p')}: ${T}, a: readonly Float[], sc: Float64Array, start: number, end: number): void {`,
    ...unpack.map((l) => `  ${l}`),
    ...pre.map((l) => `  ${l}`),
    '  for (let i = start, j = 0; i < end; i++, j++) {',
    ...lines.map((l) => `    ${l}`),
    '  }',
    '}',
  ].join('\n');
}
