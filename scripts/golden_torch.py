"""Golden RAdam trajectories from torch.optim.RAdam (float64); writes
``test/fixtures/radam_torch.json``.

Run from the repository root (Debian: ``apt-get install -y python3-torch python3-numpy``):

    /usr/bin/python3 scripts/golden_torch.py [--verify-arithmetic]

What torch 1.13 computes
------------------------
Read from the installed ``torch/optim/radam.py`` (``_single_tensor_radam``, used
with ``foreach=False``). Per parameter tensor, per step:

    step += 1   (a float32 tensor; exact up to 2^24, read back with .item())
    bc1 = 1 - b1**step ;  bc2 = 1 - b2**step
    g   = g + weight_decay * p                      (L2: only if weight_decay != 0)
    m   = b1*m + (1-b1)*g ;  v = b2*v + (1-b2)*g*g
    rho_inf = 2/(1-b2) - 1 ;  rho_t = rho_inf - 2*step*b2**step / bc2
    if rho_t > 5:
        rect = sqrt((rho_t-4)(rho_t-2) rho_inf / ((rho_inf-4)(rho_inf-2) rho_t))
        adaptive_lr = sqrt(bc2) / (sqrt(v) + eps)
        p -= (m/bc1) * lr * adaptive_lr * rect
    else:
        p -= (m/bc1) * lr

Why eps = 0 makes torch follow optax's rule
-------------------------------------------
optax (``scale_by_radam``) rectifies when ``rho_t >= threshold`` (5) with
``r_t * mu_hat / (sqrt(nu_hat + eps_root) + eps)``, where ``nu_hat = v/bc2``:
eps is added *after* the bias correction. torch's denominator is
``(sqrt(v) + eps) / sqrt(bc2) = sqrt(nu_hat) + eps/sqrt(bc2)``: its eps sits
*before* the bias correction, i.e. it acts like a step-dependent optax eps of
``eps / sqrt(1 - b2^t)`` (about 13x larger at t = 6 with b2 = 0.999). With
eps = 0 (and optax eps_root = 0) both reduce to ``r_t * mu_hat / sqrt(nu_hat)``.
The momentum branch (plain bias-corrected momentum, no eps, no second moment)
is the same in both; rho_inf, rho_t and r_t are the same formulas.

The remaining difference is the threshold test: torch ``rho_t > 5``, optax
``rho_t >= 5``. They disagree only on a step where rho_t is *exactly* 5.0 in
float64. For the betas used here the closest approaches are: b2 = 0.999:
rho_5 = 4.996, rho_6 = 5.994; b2 = 0.99: 4.960 / 5.941; b2 = 0.9: 4.581 / 5.390
(first rectified step 6 for all three); b2 = 0: rho_t = 1 for every t (never
rectified). Exact hits do exist: searching float64 b2 values shows rho_6 == 5.0
exactly at b2 = 0.8397685748659791, rho_7 == 5.0 at b2 = 0.7678067796924253 and
0.7678067796924252, rho_10 == 5.0 at b2 = 0.6937178744260639 (each is a crossing
of rho_t through 5 as b2 varies; other t have their own crossings, and for
b2 <= 2/3, rho_inf <= 5 so no step is ever rectified). Such betas are avoided;
the script asserts |rho_t - 5| > 1e-9 for every step of every case.

Exact-zero gradients and eps
----------------------------
With eps = 0 an element whose gradient has always been exactly zero has v = 0;
on the first rectified step torch computes ``0 * (sqrt(bc2) / 0) = 0 * inf =
NaN`` (optax with eps = 0 gives 0/0 = NaN as well). Cases with ``a = 0``
elements therefore use eps = 1e-300: for every other element sqrt(v) is
vastly larger than 1e-300, so ``sqrt(v) + 1e-300 == sqrt(v)`` exactly and the
trajectory is bit-identical to the eps = 0 one (the script checks this against
an eps = 0 run), while the zero-gradient elements stay exactly at p0. optax-ts
run with the same tiny eps has the same property.

torch's float64 arithmetic is not the plain IEEE sequence
--------------------------------------------------------
The formulas above are what torch computes mathematically, but this build
(Debian torch 1.13.1, AVX2 kernels compiled with FMA contraction) evaluates:
``m = fma(g, 1-b1, b1*m)``, ``v = fma((1-b2)*g, g, b2*v)``, the L2 term as
``fma(p, weight_decay, g)``, and ``sqrt(bc2) / sqrt(v)`` as
``(1 / sqrt(v)) * sqrt(bc2)`` (scalar / tensor is reciprocal-then-multiply).
With ``--verify-arithmetic`` the script replays every case with that model
(FMA emulated exactly with rationals) and checks it matches torch bit for bit.
JavaScript has no FMA, so TS results differ from these fixtures by rounding
noise. Each case records how far torch is from the optax rule evaluated in
plain float64 (``reference_companions.radam_trajectory``):
``max_abs_diff_vs_optax_rule`` / ``max_rel_diff_vs_optax_rule`` over all steps
and ``abs_diff_vs_optax_rule`` at each stored step, as a guide for test
tolerances. Most cases stay within a few ulps (<= 5e-12 absolute), but with
b2 = 0.9 and a large learning rate the dynamics near the optimum are chaotic:
in the (0.5, 0.9), lr = 0.1 case a one-ulp difference grows roughly tenfold
every 20-25 steps (3e-14 at step 150, 3e-8 at 300, up to 2e-4 by step 400;
the lr = 0.01 case reaches 4e-13 at step 300). That is sensitivity of the
trajectory, not a disagreement between the rules; compare such cases with a
per-step tolerance (or only over the early steps).

Gradients: loss ``0.5 * sum(a * (p - c)^2)`` with fixed ``a >= 0``, ``c``, so
``g = a * (p - c)`` (one subtraction, one multiplication per element; JS
reproduces it exactly). Fixture layout: see ``scripts/README.md``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from fractions import Fraction

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_companions import (  # noqa: E402
    DENSE_STEPS,
    ROOT,
    STRIDE,
    dump_fixture,
    flat,
    make_problem,
    radam_trajectory,
    stored_steps,
)

OUT = os.path.join(ROOT, "test", "fixtures", "radam_torch.json")
COMMAND = "/usr/bin/python3 scripts/golden_torch.py"
ZERO_GRAD_EPS = 1e-300


def torch_rho(b2: float, step: float) -> float:
    """rho_t exactly as torch 1.13 computes it (Python floats, float step)."""
    rho_inf = 2 / (1 - b2) - 1
    return rho_inf - 2 * step * (b2**step) / (1 - b2**step)


def run_torch(p0, a, c, lr, b1, b2, eps, wd, steps):
    """All params after steps 1..steps from torch.optim.RAdam(foreach=False)."""
    p = torch.nn.Parameter(torch.tensor(p0, dtype=torch.float64))
    at = torch.tensor(a, dtype=torch.float64)
    ct = torch.tensor(c, dtype=torch.float64)
    opt = torch.optim.RAdam([p], lr=lr, betas=(b1, b2), eps=eps, weight_decay=wd, foreach=False)
    out = []
    for _ in range(steps):
        with torch.no_grad():
            p.grad = at * (p.detach() - ct)
        opt.step()
        out.append(p.detach().numpy().copy())
    return out


# --- optional bit-exact model of this torch build's arithmetic ---------------


def _fma(x: np.ndarray, y, z: np.ndarray) -> np.ndarray:
    """Correctly rounded x*y+z, elementwise (exact rationals, then one rounding)."""
    return np.array(
        [float(Fraction(float(u)) * Fraction(float(v)) + Fraction(float(w))) for u, v, w in np.broadcast(x, y, z)]
    )


def torch_arithmetic_model(p0, a, c, lr, b1, b2, eps, wd, steps):
    p = np.array(p0, dtype=np.float64)
    m = np.zeros_like(p)
    v = np.zeros_like(p)
    out = []
    for k in range(1, steps + 1):
        step = float(k)
        bc1 = 1 - b1**step
        bc2 = 1 - b2**step
        g = a * (p - c)
        if wd != 0:
            g = _fma(p, wd, g)
        m = _fma(g, 1 - b1, m * b1)
        v = _fma((1 - b2) * g, g, v * b2)
        mh = m / bc1
        rho_inf = 2 / (1 - b2) - 1
        rho_t = rho_inf - 2 * step * (b2**step) / bc2
        if rho_t > 5.0:
            rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            with np.errstate(divide="ignore"):
                adaptive = (1.0 / (np.sqrt(v) + eps)) * math.sqrt(bc2)
            p = p - mh * lr * adaptive * rect
        else:
            p = p - mh * lr
        out.append(p.copy())
    return out


# --- cases --------------------------------------------------------------------

BETAS = [(0.9, 0.999), (0.8, 0.99), (0.5, 0.9), (0.0, 0.999)]
LRS = [1e-3, 3e-3, 1e-2, 0.1]
SHAPES = [[7], [3, 4], [64], [1]]


def case_specs():
    """(name, seed, shape, steps, lr, b1, b2, weight_decay, n_zero_grad)."""
    specs = []
    for i, (b1, b2) in enumerate(BETAS):
        for j, lr in enumerate(LRS):
            shape = SHAPES[(i + j) % len(SHAPES)]
            steps = (300, 350, 400)[(i + 2 * j) % 3]
            seed = 100 + 4 * i + j
            specs.append((f"b{b1}_{b2}_lr{lr}_shape{'x'.join(map(str, shape))}", seed, shape, steps, lr, b1, b2, 0.0, 0))
    # larger tensor, default betas
    specs.append(("b0.9_0.999_lr0.01_shape8x16", 130, [8, 16], 300, 1e-2, 0.9, 0.999, 0.0, 0))
    # b2 = 0: rho_t = 1 forever, never rectified (bias-corrected momentum only)
    specs.append(("b0.9_0.0_lr0.01_shape7_never_rectified", 131, [7], 300, 1e-2, 0.9, 0.0, 0.0, 0))
    # L2 weight decay (torch adds wd * p to the gradient)
    specs.append(("l2_wd0.01_b0.9_0.999_lr0.01_shape7", 140, [7], 300, 1e-2, 0.9, 0.999, 1e-2, 0))
    specs.append(("l2_wd0.1_b0.9_0.999_lr0.003_shape3x4", 141, [3, 4], 350, 3e-3, 0.9, 0.999, 0.1, 0))
    specs.append(("l2_wd0.1_b0.8_0.99_lr0.1_shape64", 142, [64], 300, 0.1, 0.8, 0.99, 0.1, 0))
    specs.append(("l2_wd0.01_b0.5_0.9_lr0.003_shape1", 143, [1], 400, 3e-3, 0.5, 0.9, 1e-2, 0))
    # elements with a = 0: gradient exactly zero at every step
    specs.append(("zero_grad_b0.9_0.999_lr0.01_shape3x4", 150, [3, 4], 300, 1e-2, 0.9, 0.999, 0.0, 3))
    specs.append(("zero_grad_b0.8_0.99_lr0.1_shape64", 151, [64], 300, 0.1, 0.8, 0.99, 0.0, 8))
    specs.append(("zero_grad_b0.0_0.999_lr0.003_shape7", 152, [7], 350, 3e-3, 0.0, 0.999, 0.0, 2))
    # a = 0 elements with L2 decay: gradient wd * p, not zero, so eps = 0 is fine
    specs.append(("zero_a_l2_wd0.1_b0.9_0.999_lr0.01_shape7", 153, [7], 300, 1e-2, 0.9, 0.999, 0.1, 2))
    return specs


def build_case(spec, verify: bool):
    name, seed, shape, steps, lr, b1, b2, wd, n_zero = spec
    size = int(np.prod(shape))
    a, c, p0 = make_problem(seed, size, n_zero)
    zero_grad = [int(i) for i in np.flatnonzero(a == 0.0)] if wd == 0.0 else []
    eps = ZERO_GRAD_EPS if zero_grad else 0.0

    rhos = [torch_rho(b2, float(t)) for t in range(1, steps + 1)]
    margin = min(abs(r - 5.0) for r in rhos)
    assert margin > 1e-9, f"{name}: rho_t within {margin} of 5"
    first_rect = next((t for t, r in enumerate(rhos, 1) if r > 5.0), None)

    traj = run_torch(p0, a, c, lr, b1, b2, eps, wd, steps)
    assert all(np.all(np.isfinite(x)) for x in traj), f"{name}: non-finite params"
    if zero_grad:
        ref0 = run_torch(p0, a, c, lr, b1, b2, 0.0, wd, steps)
        live = np.flatnonzero(a != 0.0)
        for x, y in zip(traj, ref0):
            assert np.array_equal(x[live], y[live]), f"{name}: eps={eps} changed a nonzero-gradient element"
            assert np.array_equal(x[zero_grad], p0[zero_grad]), f"{name}: zero-gradient element moved"

    rule = radam_trajectory(p0, a, c, lr, steps, l2=wd, b1=b1, b2=b2, eps=eps, eps_root=0.0, threshold=5.0)
    diff = np.array([np.abs(x - y) for x, y in zip(traj, rule)])
    mag = np.abs(np.array(traj))
    rel = np.where(mag > 0, diff / np.where(mag > 0, mag, 1.0), diff)

    if verify:
        model = torch_arithmetic_model(p0, a, c, lr, b1, b2, eps, wd, steps)
        ok = all(np.array_equal(x, y) for x, y in zip(traj, model))
        print(f"  {name}: torch arithmetic model {'matches bit for bit' if ok else 'DIFFERS'}")

    if wd:
        optax = (
            f"chain(add_decayed_weights({wd}), scale_by_radam(b1={b1}, b2={b2}, eps={eps}, eps_root=0.0), "
            f"scale_by_learning_rate({lr}))"
        )
    else:
        optax = f"radam({lr}, b1={b1}, b2={b2}, eps={eps}, eps_root=0.0)"
    idx = stored_steps(steps)
    return {
        "name": name,
        "seed": seed,
        "lr": lr,
        "b1": b1,
        "b2": b2,
        "eps": eps,
        "weight_decay": wd,
        "steps": steps,
        "shape": list(shape),
        "size": size,
        "zero_grad_indices": zero_grad,
        "first_rectified_step": first_rect,
        "min_abs_rho_minus_5": margin,
        "torch": f"torch.optim.RAdam(lr={lr}, betas=({b1}, {b2}), eps={eps}, weight_decay={wd}, foreach=False)",
        "optax": optax,
        "max_abs_diff_vs_optax_rule": float(diff.max()),
        "max_rel_diff_vs_optax_rule": float(rel.max()),
        "abs_diff_vs_optax_rule": [float(diff[s - 1].max()) for s in idx],
        "a": flat(a),
        "c": flat(c),
        "p0": flat(p0),
        "step_indices": idx,
        "params": [flat(traj[s - 1]) for s in idx],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--verify-arithmetic",
        action="store_true",
        help="also check that the FMA/reciprocal model reproduces torch bit for bit (slow)",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    cases = [build_case(spec, args.verify_arithmetic) for spec in case_specs()]
    header = {
        "generator": "scripts/golden_torch.py",
        "command": COMMAND,
        "torch_version": torch.__version__,
        "numpy_version": np.__version__,
        "python_version": sys.version.split()[0],
        "dtype": "float64",
        "optimizer": "torch.optim.RAdam(foreach=False), float64 tensors, one parameter tensor per case",
        "gradient": "g = a * (p - c) elementwise (p - c first, then times a), p = current params; torch adds weight_decay * p to it (L2)",
        "step_convention": "params[i] are the params after step step_indices[i] (1-based: after that many updates); p0 is before the first update",
        "storage": f"every step 1..{DENSE_STEPS}, then every {STRIDE}th step, plus the last step",
    }
    dump_fixture(OUT, header, cases)
    print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes, {len(cases)} cases)")
    for cs in cases:
        print(f"  {cs['name']}: max rel diff vs optax rule {cs['max_rel_diff_vs_optax_rule']:.3g}")


if __name__ == "__main__":
    main()
