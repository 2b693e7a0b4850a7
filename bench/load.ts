/**
 * How much of the machine other processes used while a group was measured: the machine's busy CPU
 * time (`os.cpus()`, all cores) minus this process's (all its threads, `process.cpuUsage()`) and
 * its peer processes' (torch, native: `/proc/PID/stat` where there is one), over the wall time
 * times the cores. The load average lags by a minute and counts this run itself; this does not.
 * `os.cpus()` counts in 10 ms ticks, so a share over a group of a second or less is rough.
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

const peers = new Set<number>();
/** Clock ticks per second of `/proc/PID/stat` (USER_HZ, 100 on Linux). */
const TICKS = 100;

/** Counts `pid`'s CPU time as this run's (until {@link untrackPeer}). */
export function trackPeer(pid: number): void {
  peers.add(pid);
}

/** Stops counting `pid`. */
export function untrackPeer(pid: number): void {
  peers.delete(pid);
}

function peerMs(pid: number): number {
  try {
    // Fields after the command name (which is in parentheses): utime and stime are the 12th and 13th.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS;
  } catch {
    return 0;
  }
}

/** CPU times at one moment, in ms. */
export interface CpuSnapshot {
  wall: number;
  /** Busy time of all cores. */
  busy: number;
  /** This process and the tracked peers. */
  ours: number;
  cores: number;
}

/** The CPU times now. */
export function snapshot(): CpuSnapshot {
  const all = cpus();
  let busy = 0;
  for (const { times } of all) busy += times.user + times.nice + times.sys + times.irq;
  const own = process.cpuUsage();
  let ours = (own.user + own.system) / 1000;
  for (const pid of peers) ours += peerMs(pid);
  return { wall: performance.now(), busy, ours, cores: all.length };
}

/**
 * The share (0 to 1) of the machine's CPU time that other processes used between `a` and `b`
 * (peers tracked at `b` but not at `a` count from 0: snapshot after starting them).
 */
export function othersShare(a: CpuSnapshot, b: CpuSnapshot): number {
  const span = (b.wall - a.wall) * b.cores;
  if (span <= 0) return 0;
  const share = (b.busy - a.busy - (b.ours - a.ours)) / span;
  return Math.min(1, Math.max(0, share));
}
