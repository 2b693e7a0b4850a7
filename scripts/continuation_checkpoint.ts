/**
 * Writes the checkpoint that scripts/torch_continuation.py continues in torch: `k` radam steps of
 * the problem in `problem.json` (see test/continuation/problem.ts), as
 * `{ "checkpoint": base64, "params": { path: values } }` on stdout.
 *
 *   npx tsx scripts/continuation_checkpoint.ts problem.json 10
 */
import { readFileSync } from 'node:fs';
import { type Problem, start } from '../test/continuation/problem.js';

const [file, k] = process.argv.slice(2);
const problem = JSON.parse(readFileSync(file!, 'utf8')) as Problem;
const { params, bytes } = start(problem, Number(k));
const flat = {
  '.layer.b': Array.from(params.layer.b),
  '.layer.w': Array.from(params.layer.w),
  '["odd key"]': Array.from(params['odd key']),
};
process.stdout.write(
  JSON.stringify({ checkpoint: Buffer.from(bytes).toString('base64'), params: flat }),
);
