/*
 * A native reference for the float32 RAdam step, compiled by bench/native.ts at bench time (never
 * committed as a binary): one pass over g, m, v, p in the same float32 operation order as optax-ts
 * (src/kernels/radam-js.ts, radamStepF32), with the per-step scalars computed in double and rounded
 * to float once per step. Build with -O3 -ffp-contract=off (no -ffast-math, no FMA contraction) so
 * every operation is rounded as written; with -fopenmp the loop runs on OMP_NUM_THREADS threads.
 *
 * Usage: native_radam N. Prints "ready THREADS" after 8 warm-up steps (past the 5 unrectified
 * ones), then for every line "K" read from stdin runs one untimed step and K timed ones and prints
 * their times in ms, space separated, one line per request. Ends at EOF.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static float *g, *m, *v, *p;
static long n;
static long t = 0;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* radam(1e-3): b1 0.9, b2 0.999, eps 1e-8, eps_root 0, threshold 5. */
static void step(void) {
  const double b1 = 0.9, b2 = 0.999, eps = 1e-8, eps_root = 0.0, lr = 1e-3;
  t += 1;
  const double bc1 = 1.0 - pow(b1, (double)t), b2t = pow(b2, (double)t), bc2 = 1.0 - b2t;
  const double rho_inf = 2.0 / (1.0 - b2) - 1.0;
  const double rho_t = rho_inf - 2.0 * (double)t * b2t / bc2;
  const int rectify = rho_t >= 5.0;
  const double r = rectify ? sqrt((rho_t - 4.0) * (rho_t - 2.0) * rho_inf /
                                  ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
                           : 0.0;
  const float A1 = (float)(1.0 - b1), B1 = (float)b1, A2 = (float)(1.0 - b2), B2 = (float)b2;
  const float BC1 = (float)bc1, BC2 = (float)bc2, RT = (float)r, ER = (float)eps_root;
  const float E = (float)eps, S = (float)-lr;
  if (rectify) {
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++) {
      const float gi = g[i];
      const float mi = (A1 * gi) + (B1 * m[i]);
      const float vi = (A2 * (gi * gi)) + (B2 * v[i]);
      m[i] = mi;
      v[i] = vi;
      const float u = mi / BC1;
      /* u == 0 keeps u (as optax-ts does); the quotient is computed either way so the loop
         vectorizes with a blend. */
      const float q = (RT * u) / (sqrtf((vi / BC2) + ER) + E);
      p[i] = p[i] + (u == 0.0f ? u : q) * S;
    }
  } else {
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++) {
      const float gi = g[i];
      const float mi = (A1 * gi) + (B1 * m[i]);
      m[i] = mi;
      v[i] = (A2 * (gi * gi)) + (B2 * v[i]);
      p[i] = p[i] + (mi / BC1) * S;
    }
  }
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  n = atol(argv[1]);
  const size_t bytes = ((size_t)n * sizeof(float) + 63) / 64 * 64;
  g = aligned_alloc(64, bytes);
  m = aligned_alloc(64, bytes);
  v = aligned_alloc(64, bytes);
  p = aligned_alloc(64, bytes);
  if (!g || !m || !v || !p) return 3;
  for (long i = 0; i < n; i++) {
    g[i] = (float)(0.5 * sin(i * 0.37 + 3));
    m[i] = 0;
    v[i] = 0;
    p[i] = (float)(0.5 * sin(i * 0.37 + 4));
  }
  for (int i = 0; i < 8; i++) step();
  int threads = 1;
#ifdef _OPENMP
  threads = omp_get_max_threads();
#endif
  printf("ready %d\n", threads);
  fflush(stdout);
  char line[64];
  while (fgets(line, sizeof line, stdin)) {
    const int k = atoi(line);
    step();
    for (int i = 0; i < k; i++) {
      const double t0 = now_ms();
      step();
      printf(i ? " %.6f" : "%.6f", now_ms() - t0);
    }
    printf("\n");
    fflush(stdout);
  }
  return 0;
}
