/**
 * Long runs: a million RAdam steps on a small float64 tree stay on an independent reference written
 * from the formulas in NOTES.md, the in-place Optimizer allocates nothing in steady state, and the
 * functional path retains no memory as it runs.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import v8 from 'node:v8';
import vm from 'node:vm';
import { describe, expect, it } from 'vitest';
import { applyUpdates, Optimizer, radam } from '../src/index.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const STEPS = 1_000_000;
const LR = 1e-3;
const B1 = 0.9;
const B2 = 0.999;
const EPS = 1e-8;
const THRESHOLD = 5;

/**
 * The gradients are a fixed sequence (oscillating, with a bias so that the params drift), not a
 * function of the params. With gradients of a quadratic loss the run is chaotic once it reaches
 * the optimum, where RAdam's steps are about lr in size whatever the gradient: the library and
 * this reference then agree bit for bit for 2,958 steps, until `(1 - b2) * g * g` (here) and
 * `(1 - b2) * (g * g)` (the library) round differently by one ulp, and that difference grows to
 * 1e-4 by step 1,000,000. With a fixed sequence the moment recursions are contractions, so the
 * comparison measures accumulated rounding only.
 */
const A = [2, 1, 0.5, 3];
const BIAS = [0.3, -0.1, 0.05, 0];
const X0 = [3, 1, -2, 0.5];

/** Gradient of element `j` at step `t` (0-based). */
function grad(j: number, _x: number, t: number): number {
  return A[j]! * Math.sin(0.0007 * t * (j + 1) + j) + BIAS[j]!;
}

/** The params tree; its leaves in tree order are b (element 0) then w (elements 1 to 3). */
function makeParams() {
  return { w: Float64Array.of(X0[1]!, X0[2]!, X0[3]!), b: Float64Array.of(X0[0]!) };
}
type Params = ReturnType<typeof makeParams>;

function fillGrads(p: Params, g: Params, t: number): void {
  g.b[0] = grad(0, p.b[0]!, t);
  for (let i = 0; i < 3; i++) g.w[i] = grad(i + 1, p.w[i]!, t);
}

/**
 * RAdam written directly from NOTES.md, in plain float64 on a flat list, independent of the
 * library: t = count + 1; m, v the moment averages; rectify when rho_t >= threshold.
 */
class ReferenceRadam {
  readonly x = Float64Array.from(X0);
  private readonly m = new Float64Array(4);
  private readonly v = new Float64Array(4);
  private readonly rhoInf = 2 / (1 - B2) - 1;
  private t = 0;

  step(): void {
    const stepIndex = this.t;
    this.t += 1;
    const t = this.t;
    const b1t = B1 ** t;
    const b2t = B2 ** t;
    const rho = this.rhoInf - (2 * t * b2t) / (1 - b2t);
    const rectify = rho >= THRESHOLD;
    const r = rectify
      ? Math.sqrt(
          ((rho - 4) * (rho - 2) * this.rhoInf) / ((this.rhoInf - 4) * (this.rhoInf - 2) * rho),
        )
      : 1;
    for (let j = 0; j < 4; j++) {
      const g = grad(j, this.x[j]!, stepIndex);
      this.m[j] = B1 * this.m[j]! + (1 - B1) * g;
      this.v[j] = B2 * this.v[j]! + (1 - B2) * g * g;
      const mHat = this.m[j]! / (1 - b1t);
      const u = rectify ? (r * mHat) / (Math.sqrt(this.v[j]! / (1 - b2t)) + EPS) : mHat;
      this.x[j] = this.x[j]! - LR * u;
    }
  }
}

function flat(p: Params): number[] {
  return [p.b[0]!, p.w[0]!, p.w[1]!, p.w[2]!];
}

/** Counts garbage collections; entries arrive asynchronously, so read `count` after a tick. */
function gcCounter(): { count: number; stop(): void } {
  const counter = {
    count: 0,
    stop: () => observer.disconnect(),
  };
  const observer = new PerformanceObserver((list) => {
    counter.count += list.getEntries().length;
  });
  observer.observe({ entryTypes: ['gc'] });
  return counter;
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 20));

function newSpaceUsed(): number {
  return v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')!.space_used_size;
}

describe('long runs', () => {
  it(`${STEPS.toLocaleString('en')} radam steps (in-place Optimizer, float64) stay on an independent reference`, () => {
    const params = makeParams();
    const grads = makeParams();
    const opt = new Optimizer(
      radam(LR, { b1: B1, b2: B2, eps: EPS, threshold: THRESHOLD }),
      params,
    );
    const ref = new ReferenceRadam();
    let maxDiff = 0;
    let maxRel = 0;
    const start = performance.now();
    for (let t = 0; t < STEPS; t++) {
      fillGrads(params, grads, t);
      opt.step(grads);
      ref.step();
      if (t % 1000 === 999 || t < 20) {
        const got = flat(params);
        for (let j = 0; j < 4; j++) {
          const d = Math.abs(got[j]! - ref.x[j]!);
          maxDiff = Math.max(maxDiff, d);
          maxRel = Math.max(maxRel, d / Math.max(Math.abs(ref.x[j]!), 1e-300));
        }
      }
    }
    const ms = performance.now() - start;
    console.info(
      `long run: ${STEPS} steps (library + reference) in ${ms.toFixed(0)} ms; max |diff| ${maxDiff.toExponential(2)}, max rel ${maxRel.toExponential(2)}; final ${flat(params).map((x) => x.toPrecision(8))}`,
    );
    // float64 tolerance: a few hundred ulps of the params' magnitude after a million steps.
    expect(maxRel).toBeLessThanOrEqual(1e-13);
    expect((opt.state as any)[0].count).toBe(STEPS);
    // The run went somewhere: the biased elements drifted by hundreds, against their bias.
    expect(flat(params)[0]).toBeLessThan(-100);
    expect(flat(params)[1]).toBeGreaterThan(100);
  });

  it('the in-place Optimizer allocates nothing in steady state (1,000,000 steps, no GC, no new-space growth)', async () => {
    const params = makeParams();
    const grads = makeParams();
    const opt = new Optimizer(radam(LR), params);
    for (let t = 0; t < 20_000; t++) {
      fillGrads(params, grads, t);
      opt.step(grads);
    }
    gc();
    await tick();
    const gcs = gcCounter();
    const before = newSpaceUsed();
    const heapBefore = process.memoryUsage().heapUsed;
    const start = performance.now();
    for (let t = 20_000; t < 20_000 + STEPS; t++) {
      fillGrads(params, grads, t);
      opt.step(grads);
    }
    const ms = performance.now() - start;
    const grown = newSpaceUsed() - before;
    const heapGrown = process.memoryUsage().heapUsed - heapBefore;
    await tick();
    gcs.stop();
    console.info(
      `in-place: ${STEPS} steps in ${ms.toFixed(0)} ms (${((ms * 1e3) / STEPS).toFixed(2)} µs/step); new-space growth ${grown} B, heapUsed growth ${heapGrown} B, ${gcs.count} GCs`,
    );
    // One 16-byte object per step would be 16 MB: several scavenges and far more growth.
    expect(gcs.count).toBe(0);
    expect(grown).toBeLessThan(64 * 1024);
    expect(heapGrown).toBeLessThan(1024 * 1024);
  });

  it('the functional path retains nothing as it runs, and matches the in-place path bit for bit', () => {
    const steps = 100_000;
    const tx = radam(LR);
    let p: Params = makeParams();
    let state = tx.init(p);
    const opt = new Optimizer(radam(LR), makeParams());
    const g2 = makeParams();
    const retained: number[] = [];
    for (let t = 0; t < steps; t++) {
      const g = makeParams();
      fillGrads(p, g, t);
      const [u, next] = tx.update(g, state, p);
      p = applyUpdates(p, u);
      state = next;
      fillGrads(opt.params, g2, t);
      opt.step(g2);
      if (t % 20_000 === 19_999) {
        gc();
        retained.push(process.memoryUsage().heapUsed);
      }
    }
    const growth = retained[retained.length - 1]! - retained[0]!;
    console.info(
      `functional: retained heap after GC at steps 20k..100k: ${retained.map((b) => (b / 1e6).toFixed(2)).join(', ')} MB`,
    );
    expect(growth).toBeLessThan(512 * 1024);
    expect(flat(p)).toEqual(flat(opt.params));
    expect(Object.is(flat(p)[0], flat(opt.params)[0])).toBe(true);
  });
});
