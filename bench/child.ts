/**
 * A child process spoken to one line at a time (the torch and the native peers): every request is
 * a line on its stdin, every answer a line on its stdout, in order.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { trackPeer, untrackPeer } from './load.js';

/** A line-protocol child process; see the module comment. */
export class LineChild {
  private readonly proc: ChildProcessWithoutNullStreams;
  private readonly lines: string[] = [];
  private waiting: ((line: string | undefined) => void) | undefined;
  private ended = false;
  private stderr = '';

  /** Starts `command args` with `env` added to this process's environment. */
  constructor(command: string, args: string[], env: Record<string, string> = {}) {
    this.proc = spawn(command, args, { env: { ...process.env, ...env } });
    const pid = this.proc.pid;
    if (pid !== undefined) trackPeer(pid); // its CPU time is this run's, not other processes'
    this.proc.stderr.on('data', (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-2000);
    });
    createInterface({ input: this.proc.stdout }).on('line', (line) => {
      if (this.waiting) {
        const w = this.waiting;
        this.waiting = undefined;
        w(line);
      } else this.lines.push(line);
    });
    const end = () => {
      if (pid !== undefined) untrackPeer(pid);
      this.ended = true;
      this.waiting?.(undefined);
      this.waiting = undefined;
    };
    this.proc.on('close', end);
    this.proc.on('error', end);
  }

  /** The next line of output; throws (with the end of stderr) when the process has ended. */
  async next(): Promise<string> {
    const line =
      this.lines.shift() ??
      (this.ended
        ? undefined
        : await new Promise<string | undefined>((resolve) => {
            this.waiting = resolve;
          }));
    if (line === undefined)
      throw new Error(`child process ended: ${this.stderr.trim().split('\n').at(-1) ?? ''}`);
    return line;
  }

  /** Sends `line` and returns the answer line. */
  async ask(line: string): Promise<string> {
    this.proc.stdin.write(`${line}\n`);
    return this.next();
  }

  /** Closes stdin (the child ends at EOF) and waits for it to exit. */
  async close(): Promise<void> {
    if (this.ended) return;
    const closed = new Promise((resolve) => this.proc.once('close', resolve));
    this.proc.stdin.end();
    await closed;
  }
}
