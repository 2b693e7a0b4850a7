/**
 * Output of `npm run bench`: rows (measured cases with their size, dtype and section) as one
 * markdown table, and bench/results.json.
 */
import { writeFileSync } from 'node:fs';
import type { Measured } from './harness.js';

/** A measured case in the output. */
export interface Row extends Measured {
  section: string;
  /** Elements per step. */
  n: number;
  dtype: 'float32' | 'float64';
  nsPerElement: number;
  /** Leaves per step (small trees and multi-variable peers). */
  leaves?: number;
}

/** The row of `m`, measured on `n` elements of `dtype` in `section`. */
export function toRow(
  section: string,
  n: number,
  dtype: Row['dtype'],
  m: Measured,
  leaves?: number,
): Row {
  const row: Row = { section, n, dtype, ...m, nsPerElement: (m.ms * 1e6) / n };
  if (leaves !== undefined) row.leaves = leaves;
  return row;
}

/** Three significant digits, without exponent notation. */
export function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x >= 100) return x.toFixed(0);
  if (x >= 10) return x.toFixed(1);
  if (x >= 1) return x.toFixed(2);
  return x.toPrecision(3);
}

const sizeLabel = (n: number) =>
  n >= 1e3 && Number.isInteger(Math.log10(n)) ? `1e${Math.log10(n)}` : String(n);

function note(r: Row): string {
  const parts = r.note ? [r.note] : [];
  if (r.ratioTo) parts.push(`${fmt(r.ratioTo.ratio)}x the ${r.ratioTo.name}`);
  if (r.leaves !== undefined && r.section === 'small trees')
    parts.push(`${fmt(r.ms * 1e3)} us/call, ${fmt((r.ms * 1e3) / r.leaves)} us/leaf`);
  return parts.join('; ');
}

/** The rows of the table: every case, and the floors once per size and dtype (optax-ts's groups). */
export function tableRows(rows: readonly Row[]): Row[] {
  return rows.filter((r) => r.section === 'optax-ts' || !r.name.startsWith('floor'));
}

/**
 * The rows as a markdown table: ms per step, ns per element, ratios to the two floors, and the
 * share of the CPU that other processes used while the row's group ran.
 */
export function markdownTable(rows: readonly Row[]): string {
  const lines = [
    "| case | n | dtype | ms/step | ns/elem | x floor 1T | x floor 2T | others' CPU | note |",
    '|---|---:|---|---:|---:|---:|---:|---:|---|',
  ];
  for (const r of rows)
    lines.push(
      `| ${r.name} | ${sizeLabel(r.n)} | ${r.dtype === 'float32' ? 'f32' : 'f64'} | ${fmt(r.ms)} | ${fmt(r.nsPerElement)} | ${fmt(r.ratioFloor1)} | ${fmt(r.ratioFloor2)} | ${(r.othersCpu * 100).toFixed(0)}% | ${note(r)} |`,
    );
  return lines.join('\n');
}

/** Writes `data` as pretty JSON to `path`. */
export function writeJson(path: string, data: unknown): void {
  writeFileSync(path, `${JSON.stringify(data, null, 2)}\n`);
}
