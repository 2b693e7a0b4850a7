/**
 * `npx tsx bench/merge.ts A.json B.json C.json`: the median, row by row, of several
 * bench/results.json files (ms, ns per element and every ratio), printed as the same markdown table
 * as `npm run bench`, with each run's load averages.
 */
import { readFileSync } from 'node:fs';
import { median } from './harness.js';
import { markdownTable, type Row, tableRows } from './report.js';

interface Results {
  date: string;
  quick: boolean;
  loadavg: { start: number[]; end: number[] };
  rows: Row[];
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: npx tsx bench/merge.ts RESULTS.json...');
  process.exit(2);
}
const runs = files.map((f) => JSON.parse(readFileSync(f, 'utf8')) as Results);
const key = (r: Row) => `${r.section}|${r.name}|${r.n}|${r.dtype}`;
const byKey = runs.map((run) => new Map(run.rows.map((r) => [key(r), r])));

const merged: Row[] = [];
for (const first of runs[0]!.rows) {
  const same = byKey.map((m) => m.get(key(first))).filter((r): r is Row => r !== undefined);
  const med = (f: (r: Row) => number) => median(same.map(f));
  const row: Row = {
    ...first,
    ms: med((r) => r.ms),
    nsPerElement: med((r) => r.nsPerElement),
    ratioFloor1: med((r) => r.ratioFloor1),
    ratioFloor2: med((r) => r.ratioFloor2),
    floor1Ms: med((r) => r.floor1Ms),
    floor2Ms: med((r) => r.floor2Ms),
    roundMs: same.map((r) => r.ms),
    othersCpu: med((r) => r.othersCpu ?? 0),
  };
  if (first.ratioTo) row.ratioTo = { ...first.ratioTo, ratio: med((r) => r.ratioTo?.ratio ?? NaN) };
  merged.push(row);
}

const fixed = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(' ');
console.log(`Median of ${runs.length} runs:`);
for (const [i, run] of runs.entries())
  console.log(
    `- ${files[i]}: ${run.date}${run.quick ? ' (--quick)' : ''}, load average ${fixed(run.loadavg.start)} at start, ${fixed(run.loadavg.end)} at end`,
  );
console.log();
console.log(markdownTable(tableRows(merged)));
