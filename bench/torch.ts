/**
 * PyTorch peer: `torch.optim.RAdam` (foreach on or off) in a `/usr/bin/python3 bench/torch_radam.py`
 * process that stays up for the whole run, so that its rounds interleave with the floor's like
 * everything else's (bench/harness.ts). torch runs on as many threads as it reports.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LineChild } from './child.js';
import type { Contender } from './harness.js';

const script = join(dirname(fileURLToPath(import.meta.url)), 'torch_radam.py');

/** A running torch process. */
export interface TorchPeer {
  version: string;
  threads: number;
  /** A `torch.optim.RAdam(lr=1e-3)` over float32 parameters of `sizes`, warmed up. */
  contender(sizes: readonly number[], foreach: boolean, warmup: number): Promise<Contender>;
  close(): Promise<void>;
}

/** Starts the torch process; returns why not (a note for the output) when torch does not import. */
export async function startTorch(python = '/usr/bin/python3'): Promise<TorchPeer | string> {
  const child = new LineChild(python, [script]);
  let hello: { torch: string; threads: number };
  try {
    hello = JSON.parse(await child.next());
  } catch (e) {
    await child.close();
    return `torch skipped: ${python} ${script}: ${(e as Error).message}`;
  }
  let ids = 0;
  return {
    version: hello.torch,
    threads: hello.threads,
    async contender(sizes, foreach, warmup) {
      const id = `c${ids++}`;
      await child.ask(JSON.stringify({ op: 'setup', id, sizes, foreach, warmup }));
      const layout = `${sizes.length} var${sizes.length > 1 ? 's' : ''}`;
      return {
        name: `torch.optim.RAdam foreach=${foreach ? 'True' : 'False'} (${layout})`,
        note: `torch ${hello.torch}, ${hello.threads} thread${hello.threads > 1 ? 's' : ''}`,
        async round(samples, budgetMs) {
          const answer = await child.ask(
            JSON.stringify({ op: 'round', id, samples, budget_ms: budgetMs }),
          );
          return (JSON.parse(answer) as { ms: number[] }).ms;
        },
        async dispose() {
          await child.ask(JSON.stringify({ op: 'drop', id }));
        },
      };
    },
    close: () => child.close(),
  };
}
